package lighting

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

// pixelSpecs are zones whose effects the settings can filter.
var pixelSpecs = []ZoneSpec{
	{ID: "desk", Name: "Desk strip", Kind: KindPixels, Effects: []string{"Solid", "Blink", "Rainbow", "Fire"}},
	{ID: "shelf", Name: "Shelf", Kind: KindPixels, Effects: []string{"Solid", "Rainbow"}},
	{ID: "lamp", Name: "Lamp", Kind: KindRGB},
	{ID: "disco", Name: "Disco ball", Kind: KindRelay},
}

// listed is what a test compares of a zone list: id, name and effects, in order.
type listed struct {
	ID      string
	Name    string
	Effects []string
}

func listOf(zs []Zone) []listed {
	out := make([]listed, 0, len(zs))
	for _, z := range zs {
		out = append(out, listed{z.ID, z.Name, z.Effects})
	}
	return out
}

func TestServiceZonesUnderSettings(t *testing.T) {
	tests := []struct {
		name string
		set  map[string]ZoneSettings
		want []listed
	}{
		{"none", nil, []listed{
			{"desk", "Desk strip", []string{"Solid", "Blink", "Rainbow", "Fire"}},
			{"shelf", "Shelf", []string{"Solid", "Rainbow"}},
			{"lamp", "Lamp", nil},
			{"disco", "Disco ball", nil},
		}},
		{"zero values change nothing", map[string]ZoneSettings{"desk": {}, "lamp": {}}, []listed{
			{"desk", "Desk strip", []string{"Solid", "Blink", "Rainbow", "Fire"}},
			{"shelf", "Shelf", []string{"Solid", "Rainbow"}},
			{"lamp", "Lamp", nil},
			{"disco", "Disco ball", nil},
		}},
		{"hidden and renamed", map[string]ZoneSettings{"shelf": {Hidden: true}, "disco": {Name: "Mirror ball"}}, []listed{
			{"desk", "Desk strip", []string{"Solid", "Blink", "Rainbow", "Fire"}},
			{"lamp", "Lamp", nil},
			{"disco", "Mirror ball", nil},
		}},
		{"order, ties in announcement order", map[string]ZoneSettings{"disco": {Order: -1}, "desk": {Order: 2}, "shelf": {Order: 1}}, []listed{
			{"disco", "Disco ball", nil},
			{"lamp", "Lamp", nil},
			{"shelf", "Shelf", []string{"Solid", "Rainbow"}},
			{"desk", "Desk strip", []string{"Solid", "Blink", "Rainbow", "Fire"}},
		}},
		{"effects filtered in announced order", map[string]ZoneSettings{
			"desk":  {Effects: []string{"Fire", "Strobe", "Solid"}},
			"shelf": {Effects: []string{}},
		}, []listed{
			{"desk", "Desk strip", []string{"Solid", "Fire"}},
			{"shelf", "Shelf", []string{}},
			{"lamp", "Lamp", nil},
			{"disco", "Disco ball", nil},
		}},
		{"disabled is still listed", map[string]ZoneSettings{"lamp": {Disabled: true}}, []listed{
			{"desk", "Desk strip", []string{"Solid", "Blink", "Rainbow", "Fire"}},
			{"shelf", "Shelf", []string{"Solid", "Rainbow"}},
			{"lamp", "Lamp", nil},
			{"disco", "Disco ball", nil},
		}},
		{"settings of unknown zones", map[string]ZoneSettings{"porch": {Order: -5, Name: "Porch"}}, []listed{
			{"desk", "Desk strip", []string{"Solid", "Blink", "Rainbow", "Fire"}},
			{"shelf", "Shelf", []string{"Solid", "Rainbow"}},
			{"lamp", "Lamp", nil},
			{"disco", "Disco ball", nil},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewService(roomyConfig(), NewMemoryStore(), NewMemoryLimiter(), discardLog())
			if err := s.AttachBridge(t.Context(), &fakeLink{}, "studio", pixelSpecs); err != nil {
				t.Fatal(err)
			}
			if err := s.SetZoneSettings(tt.set); err != nil {
				t.Fatalf("SetZoneSettings: %v", err)
			}
			if diff := cmp.Diff(tt.want, listOf(s.Zones())); diff != "" {
				t.Errorf("Zones() (-want +got):\n%s", diff)
			}
			// The dashboard lists hidden zones too, in the same order.
			var ids []string
			for _, d := range s.AdminZones() {
				if !tt.set[d.ID].Hidden {
					ids = append(ids, d.ID)
				}
			}
			var want []string
			for _, l := range tt.want {
				want = append(want, l.ID)
			}
			if diff := cmp.Diff(want, ids); diff != "" {
				t.Errorf("AdminZones() order (-want +got):\n%s", diff)
			}
			if got, want := len(s.AdminZones()), len(pixelSpecs); got != want {
				t.Errorf("AdminZones() has %d zones, want all %d", got, want)
			}
		})
	}
}

func TestServiceSetZoneSettingsBroadcasts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, _ := newTestService(t, roomyConfig(), NewMemoryStore())
		out := runService(t, s)

		if err := s.SetZoneSettings(map[string]ZoneSettings{"lamp": {Hidden: true}, "disco": {Name: "Mirror"}}); err != nil {
			t.Fatal(err)
		}
		settle(s)
		lights, zones := out.take()
		if len(lights) != 0 {
			t.Errorf("got lights %+v, want none", lights)
		}
		if len(zones) != 1 {
			t.Fatalf("got %d zones broadcasts, want 1", len(zones))
		}
		if diff := cmp.Diff(s.Zones(), zones[0]); diff != "" {
			t.Errorf("zones broadcast differs from Zones() (-Zones +broadcast):\n%s", diff)
		}
		if got := listOf(zones[0]); len(got) != 2 || got[1].Name != "Mirror" {
			t.Errorf("broadcast %+v, want desk and Mirror without the lamp", got)
		}

		// A hidden zone's changes (the streamer's own) do not reach viewers.
		if _, err := s.Apply(t.Context(), "streamer", []Command{{Zone: "lamp", On: new(false)}, {Zone: "desk", On: new(false)}}); err != nil {
			t.Fatal(err)
		}
		settle(s)
		time.Sleep(2 * s.cfg.Resend) // the quiet resend too
		synctest.Wait()
		lights, _ = out.take()
		for _, l := range lights {
			for _, u := range l.Updates {
				if u.ID == "lamp" {
					t.Errorf("the hidden lamp was broadcast: %+v", u)
				}
			}
		}
		if len(lights) == 0 {
			t.Errorf("the desk change was not broadcast")
		}

		// Unhiding lists it again with its current state.
		if err := s.SetZoneSettings(nil); err != nil {
			t.Fatal(err)
		}
		settle(s)
		_, zones = out.take()
		if len(zones) != 1 || len(zones[0]) != 3 || zones[0][1].ID != "lamp" || zones[0][1].State.On {
			t.Errorf("got zones broadcasts %+v, want the lamp listed again, off", zones)
		}
	})
}

func TestServiceSetUnderSettings(t *testing.T) {
	tests := []struct {
		name     string
		set      map[string]ZoneSettings
		c        Command
		wantCode Code   // "" for accepted
		wantMsg  string // part of the message
	}{
		{"hidden is unknown", map[string]ZoneSettings{"desk": {Hidden: true}}, Command{Zone: "desk", On: new(false)}, CodeUnknownZone, `there is no zone "desk"`},
		{"disabled is paused", map[string]ZoneSettings{"desk": {Disabled: true}}, Command{Zone: "desk", On: new(false)}, CodePaused, "the streamer has paused this zone"},
		{"effect not allowed", map[string]ZoneSettings{"desk": {Effects: []string{"Solid"}}}, Command{Zone: "desk", Effect: new("Rainbow")}, CodeBadRequest, `no effect "Rainbow"`},
		{"no effect allowed", map[string]ZoneSettings{"desk": {Effects: []string{}}}, Command{Zone: "desk", Effect: new("Solid")}, CodeBadRequest, `no effect "Solid"`},
		{"allowed effect", map[string]ZoneSettings{"desk": {Effects: []string{"Rainbow"}}}, Command{Zone: "desk", Effect: new("Rainbow")}, "", ""},
		{"solid colour always allowed", map[string]ZoneSettings{"desk": {Effects: []string{}}}, Command{Zone: "desk", Effect: new("")}, "", ""},
		{"unannounced effect stays unknown", map[string]ZoneSettings{"desk": {Effects: []string{"Strobe"}}}, Command{Zone: "desk", Effect: new("Strobe")}, CodeBadRequest, `no effect "Strobe"`},
		{"colour under an effect list", map[string]ZoneSettings{"desk": {Effects: []string{}}}, Command{Zone: "desk", Color: &Color{1, 2, 3}}, "", ""},
		{"another zone disabled", map[string]ZoneSettings{"lamp": {Disabled: true, Hidden: false}}, Command{Zone: "desk", On: new(false)}, "", ""},
		{"renamed zone keeps its id", map[string]ZoneSettings{"desk": {Name: "Bar"}}, Command{Zone: "desk", On: new(false)}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				store := NewMemoryStore()
				s, link := newTestService(t, roomyConfig(), store)
				if err := s.SetZoneSettings(tt.set); err != nil {
					t.Fatal(err)
				}
				before := takeSnapshot(t, s, store)
				e, err := s.Set(t.Context(), ann, tt.c)
				if tt.wantCode == "" {
					if err != nil || e.Version != 1 {
						t.Errorf("Set = %+v, %v; want version 1", e, err)
					}
					return
				}
				got, ok := errors.AsType[*Error](err)
				if !ok || got.Code != tt.wantCode || !strings.Contains(got.Message, tt.wantMsg) {
					t.Fatalf("Set = %v, want %s with %q", err, tt.wantCode, tt.wantMsg)
				}
				if diff := cmp.Diff(before, takeSnapshot(t, s, store)); diff != "" {
					t.Errorf("a refused Set changed the state (-before +after):\n%s", diff)
				}
				if got := link.take(); len(got) != 0 {
					t.Errorf("got Apply calls %+v after a refusal, want none", got)
				}
			})
		})
	}
}

func TestSetZoneSettingsRefused(t *testing.T) {
	long := strings.Repeat("n", 65)
	many := map[string]ZoneSettings{}
	for i := range maxSettings + 1 {
		many[fmt.Sprintf("z%d", i)] = ZoneSettings{}
	}
	tests := []struct {
		name string
		m    map[string]ZoneSettings
		want string
	}{
		{"bad id", map[string]ZoneSettings{"Desk": {}}, `zone id "Desk"`},
		{"long name", map[string]ZoneSettings{"desk": {Name: long}}, `zone "desk": name must be at most 64 bytes`},
		{"control in name", map[string]ZoneSettings{"desk": {Name: "a\nb"}}, "printable"},
		{"bidi override in name", map[string]ZoneSettings{"desk": {Name: "a\u202eb"}}, "printable"},
		{"invalid UTF-8 name", map[string]ZoneSettings{"desk": {Name: "\xff"}}, "printable"},
		{"empty effect", map[string]ZoneSettings{"desk": {Effects: []string{""}}}, "effect names must be 1–64 bytes"},
		{"long effect", map[string]ZoneSettings{"desk": {Effects: []string{long}}}, "effect names"},
		{"too many effects", map[string]ZoneSettings{"desk": {Effects: make([]string, maxEffects+1)}}, "at most 512 effects"},
		{"too many zones", many, "at most 1024 zones"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewService(roomyConfig(), NewMemoryStore(), NewMemoryLimiter(), discardLog())
			if err := s.AttachBridge(t.Context(), &fakeLink{}, "studio", pixelSpecs); err != nil {
				t.Fatal(err)
			}
			keep := map[string]ZoneSettings{"desk": {Name: "Kept", Effects: []string{"Solid"}}}
			if err := s.SetZoneSettings(keep); err != nil {
				t.Fatal(err)
			}
			err := s.SetZoneSettings(tt.m)
			e, ok := errors.AsType[*Error](err)
			if !ok || e.Code != CodeBadRequest || !strings.Contains(e.Message, tt.want) {
				t.Errorf("SetZoneSettings = %v, want bad_request with %q", err, tt.want)
			}
			if diff := cmp.Diff(keep, s.ZoneSettings()); diff != "" {
				t.Errorf("a refused SetZoneSettings changed them (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSetZoneSettingsCopies(t *testing.T) {
	s := NewService(roomyConfig(), NewMemoryStore(), NewMemoryLimiter(), discardLog())
	if err := s.AttachBridge(t.Context(), &fakeLink{}, "studio", pixelSpecs); err != nil {
		t.Fatal(err)
	}
	fx := []string{"Solid", "Fire"}
	if err := s.SetZoneSettings(map[string]ZoneSettings{"desk": {Effects: fx}}); err != nil {
		t.Fatal(err)
	}
	fx[1] = "Blink" // the caller reuses its slice
	if got := s.Zones()[0].Effects; !cmp.Equal(got, []string{"Solid", "Fire"}) {
		t.Errorf("effects %q after the caller changed its slice, want Solid and Fire", got)
	}
	s.ZoneSettings()["desk"].Effects[0] = "Rainbow"
	s.AdminZones()[0].Settings.Effects[0] = "Rainbow"
	if got := s.Zones()[0].Effects; !cmp.Equal(got, []string{"Solid", "Fire"}) {
		t.Errorf("effects %q after a reader changed a returned slice, want Solid and Fire", got)
	}
}
