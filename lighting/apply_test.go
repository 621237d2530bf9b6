package lighting

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestServiceApply(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := roomyConfig()
		cfg.ViewerRate, cfg.IPRate, cfg.ZoneRate = Rate{PerSecond: 1, Burst: 1}, Rate{PerSecond: 1, Burst: 1}, Rate{PerSecond: 1, Burst: 1}
		store := NewMemoryStore()
		s, link := newTestService(t, cfg, store)
		out := runService(t, s)
		obs := &fakeObserver{}
		s.Observe(obs)
		// Everything that stops viewers: paused, the streamer's settings, spent rate limits, an offline
		// device, even a block of the streamer's own name.
		s.SetPaused(true)
		if err := s.SetZoneSettings(map[string]ZoneSettings{
			"desk": {Effects: []string{"Solid"}}, "lamp": {Hidden: true}, "disco": {Disabled: true},
		}); err != nil {
			t.Fatal(err)
		}
		if err := s.SetBlocks([]string{"streamer"}, nil); err != nil {
			t.Fatal(err)
		}
		s.ZoneStatus(t.Context(), link, "disco", false, 0, "timeout")
		settle(s)
		out.take()
		obs.take()

		cmds := []Command{
			{Zone: "desk", Effect: new("Rainbow"), Brightness: new(200)},
			{Zone: "lamp", Color: &Color{0, 0, 255}},
			{Zone: "disco", On: new(false)},
		}
		for round := 1; round <= 2; round++ { // twice in a row: no rate limit
			got, err := s.Apply(t.Context(), "streamer", cmds)
			if err != nil {
				t.Fatalf("Apply round %d: %v", round, err)
			}
			var want []Entry
			var wantApplies []applyCall
			for _, c := range cmds {
				st := c.Apply(DefaultState())
				st.UpdatedAt, st.By = time.Now().UnixMilli(), "streamer"
				want = append(want, Entry{State: st, Version: int64(round)})
				wantApplies = append(wantApplies, applyCall{c.Zone, st, int64(round)})
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Apply round %d (-want +got):\n%s", round, diff)
			}
			if diff := cmp.Diff(wantApplies, link.take()); diff != "" {
				t.Errorf("Apply calls round %d (-want +got):\n%s", round, diff)
			}
			var wantObs []obsCall
			for i, c := range cmds {
				wantObs = append(wantObs, obsCall{Viewer: Viewer{Name: "streamer"}, Command: c, Entry: want[i]})
			}
			if diff := cmp.Diff(wantObs, obs.take()); diff != "" {
				t.Errorf("observed round %d (-want +got):\n%s", round, diff)
			}
		}
		settle(s)
		lights, _ := out.take()
		if len(lights) != 1 || len(lights[0].Updates) != 2 { // the lamp is hidden
			t.Errorf("got lights %+v, want one broadcast of desk and disco", lights)
		}
	})
}

func TestServiceApplyRefused(t *testing.T) {
	tests := []struct {
		name     string
		cmds     []Command
		wantCode Code
		wantMsg  string
	}{
		{"nothing", nil, CodeBadRequest, "nothing to apply"},
		{"too many", make([]Command, maxApply+1), CodeBadRequest, "at most 256 commands"},
		{"unknown zone last", []Command{{Zone: "desk", On: new(true)}, {Zone: "porch", On: new(true)}}, CodeUnknownZone, `there is no zone "porch"`},
		{"a zone twice", []Command{{Zone: "desk", On: new(true)}, {Zone: "desk", On: new(false)}}, CodeBadRequest, `zone "desk" is named twice`},
		{"bad kind last", []Command{{Zone: "desk", On: new(true)}, {Zone: "disco", Color: &Color{}}}, CodeBadRequest, `zone "disco": this zone is a switch`},
		{"unannounced effect", []Command{{Zone: "lamp", On: new(true)}, {Zone: "desk", Effect: new("Strobe")}}, CodeBadRequest, `zone "desk": this zone has no effect "Strobe"`},
		{"out of range", []Command{{Zone: "lamp", Brightness: new(256)}}, CodeBadRequest, `zone "lamp": "brightness" must be`},
		{"nothing to change", []Command{{Zone: "lamp"}}, CodeBadRequest, `zone "lamp": nothing to change`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				store := NewMemoryStore()
				s, link := newTestService(t, roomyConfig(), store)
				out := runService(t, s)
				obs := &fakeObserver{}
				s.Observe(obs)
				before := takeSnapshot(t, s, store)
				got, err := s.Apply(t.Context(), "streamer", tt.cmds)
				e, ok := errors.AsType[*Error](err)
				if !ok || e.Code != tt.wantCode || !strings.Contains(e.Message, tt.wantMsg) {
					t.Fatalf("Apply = %v, want %s with %q", err, tt.wantCode, tt.wantMsg)
				}
				if got != nil {
					t.Errorf("Apply returned %+v with the refusal, want nil", got)
				}
				if diff := cmp.Diff(before, takeSnapshot(t, s, store)); diff != "" {
					t.Errorf("a refused Apply changed the state (-before +after):\n%s", diff)
				}
				settle(s)
				if got := link.take(); len(got) != 0 {
					t.Errorf("got Apply calls %+v after a refusal", got)
				}
				if lights, zones := out.take(); len(lights)+len(zones) != 0 {
					t.Errorf("got broadcasts %+v %+v after a refusal", lights, zones)
				}
				calls := obs.take()
				if len(calls) != len(tt.cmds) {
					t.Fatalf("observed %d calls, want one per command (%d)", len(calls), len(tt.cmds))
				}
				for _, c := range calls {
					if c.Code != tt.wantCode || c.Entry != (Entry{}) || c.Viewer.Name != "streamer" {
						t.Errorf("observed %+v, want a refusal %s by streamer", c, tt.wantCode)
					}
				}
			})
		})
	}
}

func TestServiceApplyOfflineZone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, link := newTestService(t, roomyConfig(), NewMemoryStore())
		s.DetachBridge(link)
		got, err := s.Apply(t.Context(), "streamer", []Command{{Zone: "lamp", Color: &Color{9, 9, 9}}})
		if err != nil {
			t.Fatalf("Apply to a zone whose bridge is gone: %v", err)
		}
		if calls := link.take(); len(calls) != 0 {
			t.Errorf("a detached bridge got %+v", calls)
		}
		if z := s.Zones()[1]; z.Online || z.Version != 1 || z.State.Color != (Color{9, 9, 9}) {
			t.Errorf("lamp %+v, want offline at version 1 with the new colour", z)
		}
		// The bridge comes back and gets the state.
		back := &fakeLink{}
		if err := s.AttachBridge(t.Context(), back, "studio", testSpecs); err != nil {
			t.Fatal(err)
		}
		var lamp []applyCall
		for _, a := range back.take() {
			if a.Zone == "lamp" {
				lamp = append(lamp, a)
			}
		}
		if diff := cmp.Diff([]applyCall{{"lamp", got[0].State, 1}}, lamp); diff != "" {
			t.Errorf("lamp sent on attach (-want +got):\n%s", diff)
		}
	})
}

func TestServiceApplyStoreError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		calls := 0
		store := &failingStore{MemoryStore: NewMemoryStore(), update: func() error {
			calls++
			if calls == 2 {
				return errors.New("redis: connection reset")
			}
			return nil
		}}
		s, _ := newTestService(t, roomyConfig(), store)
		got, err := s.Apply(context.Background(), "streamer", []Command{
			{Zone: "desk", On: new(false)}, {Zone: "lamp", On: new(false)}, {Zone: "disco", On: new(false)},
		})
		if ErrorCode(err) != CodeInternal || strings.Contains(err.Error(), "redis") {
			t.Errorf("Apply with a failing store = %v, want internal without the cause", err)
		}
		if len(got) != 1 || got[0].Version != 1 {
			t.Errorf("Apply returned %+v, want the first zone's entry", got)
		}
		if zs := s.Zones(); zs[0].Version != 1 || zs[1].Version != 0 || zs[2].Version != 0 {
			t.Errorf("zones %+v, want only the desk changed", zs)
		}
	})
}
