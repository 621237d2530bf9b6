package lighting

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeLink is a Link that records every Apply.
type fakeLink struct {
	name    string
	mu      sync.Mutex
	applies []applyCall
}

type applyCall struct {
	Zone    string
	State   State
	Version int64
}

var _ Link = (*fakeLink)(nil)

func (l *fakeLink) Apply(zone string, st State, version int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.applies = append(l.applies, applyCall{zone, st, version})
}

// calls returns the Apply calls recorded since the last take.
func (l *fakeLink) take() []applyCall {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.applies
	l.applies = nil
	return out
}

// fakeBroadcaster is a Broadcaster that records every broadcast with the (bubble's) time it happened.
type fakeBroadcaster struct {
	mu     sync.Mutex
	lights []lightsCall
	zones  [][]Zone
}

type lightsCall struct {
	At      time.Time
	Updates []Update
}

var _ Broadcaster = (*fakeBroadcaster)(nil)

func (b *fakeBroadcaster) Lights(u []Update) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lights = append(b.lights, lightsCall{time.Now(), slices.Clone(u)})
}

func (b *fakeBroadcaster) Zones(z []Zone) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.zones = append(b.zones, slices.Clone(z))
}

// take returns the broadcasts recorded since the last take.
func (b *fakeBroadcaster) take() ([]lightsCall, [][]Zone) {
	b.mu.Lock()
	defer b.mu.Unlock()
	l, z := b.lights, b.zones
	b.lights, b.zones = nil, nil
	return l, z
}

// failingStore is a MemoryStore whose methods fail when their function field says so.
type failingStore struct {
	*MemoryStore
	update  func() error
	getMany func() error
}

func (s *failingStore) Update(ctx context.Context, zone string, fn func(State) (State, error)) (Entry, error) {
	if s.update != nil {
		if err := s.update(); err != nil {
			return Entry{}, err
		}
	}
	return s.MemoryStore.Update(ctx, zone, fn)
}

func (s *failingStore) GetMany(ctx context.Context, zones []string) (map[string]Entry, error) {
	if s.getMany != nil {
		if err := s.getMany(); err != nil {
			return nil, err
		}
	}
	return s.MemoryStore.GetMany(ctx, zones)
}

// limiterFunc is a Limiter made of a function.
type limiterFunc func(ctx context.Context, key string, r Rate) (bool, time.Duration, error)

func (f limiterFunc) Allow(ctx context.Context, key string, r Rate) (bool, time.Duration, error) {
	return f(ctx, key, r)
}

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// roomyConfig is DefaultConfig with rate limits no test of timing reaches.
func roomyConfig() Config {
	cfg := DefaultConfig()
	cfg.ViewerRate = Rate{PerSecond: 1e6, Burst: 1e6}
	cfg.IPRate = cfg.ViewerRate
	cfg.ZoneRate = cfg.ViewerRate
	return cfg
}

// testSpecs are the zones a test bridge announces.
var testSpecs = []ZoneSpec{
	{ID: "desk", Name: "Desk strip", Kind: KindPixels, Effects: []string{"Solid", "Rainbow"}},
	{ID: "lamp", Name: "Lamp", Kind: KindRGB},
	{ID: "disco", Name: "Disco ball", Kind: KindRelay},
}

// newTestService returns a Service over store with one bridge, link, attached with testSpecs.
// Call it inside a synctest bubble.
func newTestService(t *testing.T, cfg Config, store Store) (*Service, *fakeLink) {
	t.Helper()
	s := NewService(cfg, store, NewMemoryLimiter(), discardLog())
	link := &fakeLink{name: "studio"}
	if err := s.AttachBridge(t.Context(), link, "studio", testSpecs); err != nil {
		t.Fatalf("AttachBridge: %v", err)
	}
	link.take()
	return s, link
}

// runService runs s.Run until the test ends and waits for the first broadcasts (the attached
// zones) to go out, which it discards, and for their coalescing window to end, so that the next
// change goes out at once. Call it inside a synctest bubble.
func runService(t *testing.T, s *Service) *fakeBroadcaster {
	t.Helper()
	out := &fakeBroadcaster{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, out) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	synctest.Wait()
	time.Sleep(s.cfg.Interval)
	synctest.Wait()
	out.take()
	return out
}

// settle lets Run send what is due and end its coalescing window, so that a later change goes out
// at once. Call it inside a synctest bubble.
func settle(s *Service) {
	synctest.Wait()
	time.Sleep(s.cfg.Interval)
	synctest.Wait()
}

// set calls s.Set and fails the test on an error.
func set(t *testing.T, s *Service, v Viewer, c Command) Entry {
	t.Helper()
	e, err := s.Set(t.Context(), v, c)
	if err != nil {
		t.Fatalf("Set(%+v): %v", c, err)
	}
	return e
}

var ann = Viewer{Conn: "c1", IP: "192.0.2.1", Name: "ann"}

// wantState is DefaultState changed by c, at the bubble's current time, by ann.
func wantState(c Command) State {
	st := c.Apply(DefaultState())
	st.UpdatedAt, st.By = time.Now().UnixMilli(), ann.Name
	return st
}

func TestServiceSet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, link := newTestService(t, roomyConfig(), NewMemoryStore())
		out := runService(t, s)

		c := Command{Zone: "desk", Color: &Color{255, 0, 0}, Effect: new("Rainbow")}
		got := set(t, s, ann, c)
		want := Entry{State: wantState(c), Version: 1}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Set (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]applyCall{{"desk", want.State, 1}}, link.take()); diff != "" {
			t.Errorf("Apply calls (-want +got):\n%s", diff)
		}
		synctest.Wait()
		lights, zones := out.take()
		wantLights := []lightsCall{{time.Now(), []Update{{ID: "desk", State: want.State, Version: 1}}}}
		if diff := cmp.Diff(wantLights, lights); diff != "" {
			t.Errorf("lights (-want +got):\n%s", diff)
		}
		if len(zones) != 0 {
			t.Errorf("got zones broadcasts %v, want none", zones)
		}
		if got := s.Zones()[0]; got.Version != 1 || got.Confirmed || !cmp.Equal(got.State, want.State) {
			t.Errorf("Zones()[0] = %+v, want version 1 unconfirmed with the new state", got)
		}
	})
}

func TestServiceLightsCoalesced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := roomyConfig()
		s, _ := newTestService(t, cfg, NewMemoryStore())
		out := runService(t, s)

		set(t, s, ann, Command{Zone: "desk", Brightness: new(1)})
		synctest.Wait()
		first := time.Now()
		if lights, _ := out.take(); len(lights) != 1 {
			t.Fatalf("got %d lights broadcasts after the first Set, want 1: %+v", len(lights), lights)
		}

		// Within the window: many Sets, to two of the three zones.
		set(t, s, ann, Command{Zone: "desk", Brightness: new(2)})
		lamp := set(t, s, ann, Command{Zone: "lamp", On: new(false)})
		time.Sleep(cfg.Interval / 2)
		set(t, s, ann, Command{Zone: "desk", Brightness: new(3)})
		desk := set(t, s, ann, Command{Zone: "desk", Brightness: new(4)})
		time.Sleep(cfg.Interval/2 - time.Nanosecond)
		synctest.Wait()
		if lights, _ := out.take(); len(lights) != 0 {
			t.Fatalf("got lights broadcasts %+v within the window, want none", lights)
		}

		time.Sleep(time.Nanosecond)
		synctest.Wait()
		lights, _ := out.take()
		want := []lightsCall{{first.Add(cfg.Interval), []Update{desk.Update("desk"), lamp.Update("lamp")}}}
		if diff := cmp.Diff(want, lights); diff != "" {
			t.Errorf("coalesced lights (-want +got):\n%s", diff)
		}
		if desk.Version != 4 {
			t.Errorf("got desk version %d, want 4", desk.Version)
		}
	})
}

func TestServiceLightsAtMostOnePerInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := roomyConfig()
		s, _ := newTestService(t, cfg, NewMemoryStore())
		out := runService(t, s)

		last := map[string]int64{}
		for i := range 100 {
			id := testSpecs[i%2].ID
			last[id] = set(t, s, ann, Command{Zone: id, On: new(i%3 == 0)}).Version
			time.Sleep(7 * time.Millisecond)
		}
		time.Sleep(cfg.Interval)
		synctest.Wait()
		lights, _ := out.take()
		if len(lights) < 2 {
			t.Fatalf("got %d lights broadcasts, want several", len(lights))
		}
		seen := map[string]int64{}
		for i, l := range lights {
			if i > 0 {
				if gap := l.At.Sub(lights[i-1].At); gap < cfg.Interval {
					t.Errorf("broadcast %d came %v after the previous one, want at least %v", i, gap, cfg.Interval)
				}
			}
			ids := map[string]bool{}
			for _, u := range l.Updates {
				if ids[u.ID] {
					t.Errorf("broadcast %d holds zone %q twice", i, u.ID)
				}
				ids[u.ID] = true
				if u.Version <= seen[u.ID] {
					t.Errorf("broadcast %d: zone %q version %d, want above %d", i, u.ID, u.Version, seen[u.ID])
				}
				seen[u.ID] = u.Version
			}
		}
		if diff := cmp.Diff(last, seen); diff != "" {
			t.Errorf("last broadcast versions (-want +got):\n%s", diff)
		}
	})
}

func TestServiceQuietResend(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := roomyConfig()
		s, _ := newTestService(t, cfg, NewMemoryStore())
		out := runService(t, s)

		desk := set(t, s, ann, Command{Zone: "desk", Brightness: new(9)})
		synctest.Wait()
		start := time.Now()
		out.take()

		// Another change before the quiet period ends postpones the resend.
		time.Sleep(cfg.Resend / 2)
		lamp := set(t, s, ann, Command{Zone: "lamp", Brightness: new(10)})
		synctest.Wait()
		if lights, _ := out.take(); len(lights) != 1 || len(lights[0].Updates) != 1 {
			t.Fatalf("got lights %+v after the lamp Set, want one broadcast of the lamp", lights)
		}
		time.Sleep(cfg.Resend - time.Nanosecond)
		synctest.Wait()
		if lights, _ := out.take(); len(lights) != 0 {
			t.Fatalf("got lights %+v before the quiet period ended, want none", lights)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		lights, _ := out.take()
		want := []lightsCall{{start.Add(cfg.Resend / 2).Add(cfg.Resend), []Update{desk.Update("desk"), lamp.Update("lamp")}}}
		if diff := cmp.Diff(want, lights); diff != "" {
			t.Errorf("resend after quiet (-want +got):\n%s", diff)
		}

		time.Sleep(10 * cfg.Resend)
		synctest.Wait()
		if lights, _ := out.take(); len(lights) != 0 {
			t.Errorf("got lights %+v after the resend, want none: resend only once", lights)
		}
	})
}

func TestServiceResendUnconfirmed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := roomyConfig()
		s, link := newTestService(t, cfg, NewMemoryStore())
		out := runService(t, s)
		ctx := t.Context()
		// Run checks for unconfirmed versions every Resend from its start.
		tick := time.Now().Add(-cfg.Interval).Add(2 * cfg.Resend)

		desk := set(t, s, ann, Command{Zone: "desk", Brightness: new(1)})
		lamp := set(t, s, ann, Command{Zone: "lamp", Brightness: new(2)})
		disco := set(t, s, ann, Command{Zone: "disco", On: new(false)})
		s.ZoneStatus(ctx, link, "lamp", true, lamp.Version, "")
		s.ZoneStatus(ctx, link, "disco", false, 0, "unreachable")
		link.take()

		// The first tick comes less than Resend after the Sets: nothing is due yet.
		time.Sleep(time.Until(tick) - time.Nanosecond)
		synctest.Wait()
		if got := link.take(); len(got) != 0 {
			t.Fatalf("got Apply calls %+v before Resend, want none", got)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		want := []applyCall{{"desk", desk.State, desk.Version}}
		if diff := cmp.Diff(want, link.take()); diff != "" {
			t.Errorf("resent after Resend (-want +got):\n%s", diff)
		}

		// Still unconfirmed: sent every Resend.
		time.Sleep(cfg.Resend)
		synctest.Wait()
		if diff := cmp.Diff(want, link.take()); diff != "" {
			t.Errorf("resent after 2×Resend (-want +got):\n%s", diff)
		}

		// Confirming an older version does not stop it; confirming the current one does.
		desk2 := set(t, s, ann, Command{Zone: "desk", Brightness: new(3)})
		s.ZoneStatus(ctx, link, "desk", true, desk.Version, "")
		link.take()
		time.Sleep(2 * cfg.Resend)
		synctest.Wait()
		if got := link.take(); len(got) == 0 || !slices.ContainsFunc(got, func(a applyCall) bool { return a.Version == desk2.Version }) {
			t.Errorf("got Apply calls %+v, want desk version %d resent", got, desk2.Version)
		}
		s.ZoneStatus(ctx, link, "desk", true, desk2.Version, "")
		time.Sleep(5 * cfg.Resend)
		synctest.Wait()
		if got := link.take(); len(got) != 0 {
			t.Errorf("got Apply calls %+v after every zone was confirmed or offline, want none", got)
		}
		if disco.Version != 1 {
			t.Errorf("got disco version %d, want 1", disco.Version)
		}
		out.take()
	})
}

func TestServiceAttachBridge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		store := NewMemoryStore()
		stored, err := store.Update(ctx, "lamp", func(st State) (State, error) {
			st.Color = Color{1, 2, 3}
			return st, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		s := NewService(roomyConfig(), store, NewMemoryLimiter(), discardLog())
		out := runService(t, s)

		a := &fakeLink{name: "a"}
		if err := s.AttachBridge(ctx, a, "a", testSpecs); err != nil {
			t.Fatalf("AttachBridge: %v", err)
		}
		wantApplies := []applyCall{
			{"desk", DefaultState(), 0},
			{"lamp", stored.State, 1},
			{"disco", DefaultState(), 0},
		}
		if diff := cmp.Diff(wantApplies, a.take()); diff != "" {
			t.Errorf("Apply calls on attach (-want +got):\n%s", diff)
		}
		settle(s)
		wantZones := []Zone{
			{ID: "desk", Name: "Desk strip", Kind: KindPixels, Online: true, Effects: []string{"Solid", "Rainbow"}, State: DefaultState(), Confirmed: true},
			{ID: "lamp", Name: "Lamp", Kind: KindRGB, Online: true, State: stored.State, Version: 1},
			{ID: "disco", Name: "Disco ball", Kind: KindRelay, Online: true, State: DefaultState(), Confirmed: true},
		}
		lights, zones := out.take()
		if diff := cmp.Diff([][]Zone{wantZones}, zones); diff != "" {
			t.Errorf("zones broadcasts (-want +got):\n%s", diff)
		}
		if len(lights) != 0 {
			t.Errorf("got lights %+v on attach, want none", lights)
		}
		if diff := cmp.Diff(wantZones, s.Zones()); diff != "" {
			t.Errorf("Zones() (-want +got):\n%s", diff)
		}

		// Another bridge announcing a zone a owns is refused, as a whole.
		b := &fakeLink{name: "b"}
		err = s.AttachBridge(ctx, b, "b", []ZoneSpec{{ID: "porch", Name: "Porch", Kind: KindRelay}, {ID: "lamp", Name: "Lamp", Kind: KindRGB}})
		if code := ErrorCode(err); code != CodeBadRequest || !strings.Contains(err.Error(), `"lamp" belongs to another connected bridge`) {
			t.Errorf("AttachBridge of an owned zone = %v, want bad_request naming the zone", err)
		}
		settle(s)
		if got := b.take(); len(got) != 0 {
			t.Errorf("got Apply calls %+v on the refused bridge, want none", got)
		}
		if diff := cmp.Diff(wantZones, s.Zones()); diff != "" {
			t.Errorf("Zones() after a refused attach (-want +got):\n%s", diff)
		}
		if lights, zones := out.take(); len(lights)+len(zones) != 0 {
			t.Errorf("got broadcasts %+v %+v after a refused attach, want none", lights, zones)
		}

		// The owner announcing again is fine.
		if err := s.AttachBridge(ctx, a, "a", testSpecs); err != nil {
			t.Errorf("AttachBridge by the owner again: %v", err)
		}
		a.take()

		// After a leaves, b takes over and gets the current state.
		e := set(t, s, ann, Command{Zone: "lamp", On: new(false)})
		a.take()
		s.DetachBridge(a)
		if err := s.AttachBridge(ctx, b, "b", []ZoneSpec{{ID: "lamp", Name: "Lamp 2", Kind: KindRGB}}); err != nil {
			t.Fatalf("AttachBridge after DetachBridge: %v", err)
		}
		if diff := cmp.Diff([]applyCall{{"lamp", e.State, e.Version}}, b.take()); diff != "" {
			t.Errorf("Apply calls on take-over (-want +got):\n%s", diff)
		}
		e = set(t, s, ann, Command{Zone: "lamp", On: new(true)})
		if got := a.take(); len(got) != 0 {
			t.Errorf("the old bridge got %+v, want nothing", got)
		}
		if diff := cmp.Diff([]applyCall{{"lamp", e.State, e.Version}}, b.take()); diff != "" {
			t.Errorf("Apply calls after take-over (-want +got):\n%s", diff)
		}
		settle(s)
		_, zones = out.take()
		if len(zones) == 0 {
			t.Fatal("no zones broadcast after the take-over")
		}
		online := map[string]bool{}
		for _, z := range zones[len(zones)-1] {
			online[z.ID] = z.Online
		}
		if diff := cmp.Diff(map[string]bool{"desk": false, "lamp": true, "disco": false}, online); diff != "" {
			t.Errorf("online zones after the take-over (-want +got):\n%s", diff)
		}
		if got := s.Zones()[1].Name; got != "Lamp 2" {
			t.Errorf("got lamp name %q, want the new bridge's %q", got, "Lamp 2")
		}
		// The old bridge's reports are ignored now.
		s.ZoneStatus(ctx, a, "lamp", false, e.Version, "")
		if z := s.Zones()[1]; !z.Online || z.Confirmed {
			t.Errorf("after a report from the old bridge the lamp is %+v, want online and unconfirmed", z)
		}
	})
}

func TestServiceAttachBridgeStoreError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &failingStore{MemoryStore: NewMemoryStore(), getMany: func() error { return errors.New("redis down") }}
		s := NewService(roomyConfig(), store, NewMemoryLimiter(), discardLog())
		link := &fakeLink{}
		err := s.AttachBridge(t.Context(), link, "a", testSpecs)
		if code := ErrorCode(err); code != CodeInternal || strings.Contains(err.Error(), "redis down") {
			t.Errorf("AttachBridge with a failing store = %v, want internal without the cause", err)
		}
		if got := s.Zones(); len(got) != 0 {
			t.Errorf("got zones %+v, want none", got)
		}
		if got := link.take(); len(got) != 0 {
			t.Errorf("got Apply calls %+v, want none", got)
		}
		// Bad specs are refused before the store is read.
		if err := s.AttachBridge(t.Context(), link, "a", nil); ErrorCode(err) != CodeBadRequest {
			t.Errorf("AttachBridge with no zones = %v, want bad_request", err)
		}
	})
}

func TestServiceDetachBridge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, link := newTestService(t, roomyConfig(), NewMemoryStore())
		out := runService(t, s)
		e := set(t, s, ann, Command{Zone: "desk", On: new(false)})
		settle(s)
		out.take()
		link.take()

		s.DetachBridge(link)
		settle(s)
		_, zones := out.take()
		if len(zones) != 1 {
			t.Fatalf("got %d zones broadcasts, want 1", len(zones))
		}
		for _, z := range zones[0] {
			if z.Online {
				t.Errorf("zone %q online after DetachBridge", z.ID)
			}
		}
		if z := s.Zones()[0]; z.Online || z.Version != e.Version || !cmp.Equal(z.State, e.State) {
			t.Errorf("Zones()[0] = %+v, want offline keeping version %d", z, e.Version)
		}
		_, err := s.Set(t.Context(), ann, Command{Zone: "desk", On: new(true)})
		if code := ErrorCode(err); code != CodeZoneOffline {
			t.Errorf("Set after DetachBridge = %v, want zone_offline", err)
		}
		if got := link.take(); len(got) != 0 {
			t.Errorf("got Apply calls %+v after DetachBridge, want none", got)
		}
		s.ZoneStatus(t.Context(), link, "desk", true, e.Version, "")
		if z := s.Zones()[0]; z.Online || z.Confirmed {
			t.Errorf("a detached bridge's report changed the zone: %+v", z)
		}
	})
}

func TestServiceZoneStatus(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		s, link := newTestService(t, roomyConfig(), NewMemoryStore())
		out := runService(t, s)
		other := &fakeLink{name: "other"}
		e := set(t, s, ann, Command{Zone: "desk", On: new(false)})
		settle(s)
		out.take()

		confirmed := func() bool { return s.Zones()[0].Confirmed }
		s.ZoneStatus(ctx, other, "desk", true, e.Version, "")
		if confirmed() {
			t.Errorf("confirmed by a bridge that does not own the zone")
		}
		s.ZoneStatus(ctx, link, "desk", true, e.Version+1, "")
		if confirmed() {
			t.Errorf("confirmed by a version above the current one")
		}
		s.ZoneStatus(ctx, link, "nosuch", true, 1, "")
		settle(s)
		if lights, zones := out.take(); len(lights)+len(zones) != 0 {
			t.Errorf("got broadcasts %+v %+v after ignored reports, want none", lights, zones)
		}

		s.ZoneStatus(ctx, link, "desk", true, e.Version, "")
		if !confirmed() {
			t.Errorf("not confirmed by the owner reporting the current version")
		}
		settle(s)
		lights, _ := out.take()
		want := []Update{{ID: "desk", State: e.State, Version: e.Version, Confirmed: true}}
		if len(lights) != 1 || !cmp.Equal(want, lights[0].Updates) {
			t.Errorf("got lights %+v after the confirmation, want one broadcast of %+v", lights, want)
		}

		// The device goes offline: the zone goes offline and refuses commands.
		s.ZoneStatus(ctx, link, "desk", false, e.Version, "timeout")
		settle(s)
		_, zones := out.take()
		if len(zones) != 1 || zones[0][0].ID != "desk" || zones[0][0].Online {
			t.Errorf("got zones broadcasts %+v, want one with desk offline", zones)
		}
		link.take()
		if _, err := s.Set(ctx, ann, Command{Zone: "desk", On: new(true)}); ErrorCode(err) != CodeZoneOffline {
			t.Errorf("Set on an offline device = %v, want zone_offline", err)
		}
		if got := link.take(); len(got) != 0 {
			t.Errorf("got Apply calls %+v, want none", got)
		}
		// Reporting offline again changes nothing.
		s.ZoneStatus(ctx, link, "desk", false, e.Version, "timeout")
		settle(s)
		if _, zones := out.take(); len(zones) != 0 {
			t.Errorf("got zones broadcasts %+v for no change, want none", zones)
		}

		// Back online.
		s.ZoneStatus(ctx, link, "desk", true, e.Version, "")
		settle(s)
		if _, zones := out.take(); len(zones) != 1 || !zones[0][0].Online {
			t.Errorf("got zones broadcasts %+v, want one with desk online", zones)
		}
		if got := set(t, s, ann, Command{Zone: "desk", On: new(true)}); got.Version != e.Version+1 {
			t.Errorf("Set back online: version %d, want %d", got.Version, e.Version+1)
		}
	})
}

// snapshot is everything a refused Set must leave as it was.
type snapshot struct {
	Zones   []Zone
	Entries map[string]Entry
}

func takeSnapshot(t *testing.T, s *Service, store Store) snapshot {
	t.Helper()
	ids := make([]string, len(testSpecs))
	for i, z := range testSpecs {
		ids[i] = z.ID
	}
	m, err := store.GetMany(t.Context(), ids)
	if err != nil {
		t.Fatal(err)
	}
	return snapshot{s.Zones(), m}
}

func TestServiceSetRefused(t *testing.T) {
	tight := Rate{PerSecond: 1, Burst: 2}
	tests := []struct {
		name  string
		cfg   func(*Config)
		setup func(t *testing.T, s *Service, link *fakeLink, store *failingStore)
		// before are Sets that must succeed first; each uses its own viewer unless it names one.
		before []struct {
			v Viewer
			c Command
		}
		v         Viewer
		c         Command
		wantCode  Code
		wantMsg   string
		wantRetry time.Duration
	}{
		{
			name:     "paused by config",
			cfg:      func(c *Config) { c.Paused = true },
			v:        ann,
			c:        Command{Zone: "desk", On: new(false)},
			wantCode: CodePaused,
		},
		{
			name:     "paused",
			setup:    func(t *testing.T, s *Service, _ *fakeLink, _ *failingStore) { s.SetPaused(true) },
			v:        ann,
			c:        Command{Zone: "desk", On: new(false)},
			wantCode: CodePaused,
		},
		{
			name:     "unknown zone",
			v:        ann,
			c:        Command{Zone: "porch", On: new(false)},
			wantCode: CodeUnknownZone,
			wantMsg:  `there is no zone "porch"`,
		},
		{
			name: "device offline",
			setup: func(t *testing.T, s *Service, link *fakeLink, _ *failingStore) {
				s.ZoneStatus(t.Context(), link, "lamp", false, 0, "")
			},
			v:        ann,
			c:        Command{Zone: "lamp", On: new(false)},
			wantCode: CodeZoneOffline,
		},
		{
			name:     "relay colour",
			v:        ann,
			c:        Command{Zone: "disco", Color: &Color{}},
			wantCode: CodeBadRequest,
			wantMsg:  `takes only "on"`,
		},
		{
			name:     "unknown effect",
			v:        ann,
			c:        Command{Zone: "desk", Effect: new("Strobe")},
			wantCode: CodeBadRequest,
			wantMsg:  `no effect "Strobe"`,
		},
		{
			name:     "nothing to change",
			v:        ann,
			c:        Command{Zone: "desk"},
			wantCode: CodeBadRequest,
		},
		{
			name: "per viewer",
			cfg:  func(c *Config) { c.ViewerRate = tight },
			before: []struct {
				v Viewer
				c Command
			}{
				{Viewer{Conn: "c1", IP: "a"}, Command{Zone: "desk", On: new(false)}},
				{Viewer{Conn: "c1", IP: "b"}, Command{Zone: "lamp", On: new(false)}},
				{Viewer{Conn: "c2", IP: "c"}, Command{Zone: "lamp", On: new(true)}}, // another viewer is not limited
			},
			v:         Viewer{Conn: "c1", IP: "d"},
			c:         Command{Zone: "disco", On: new(false)},
			wantCode:  CodeRateLimited,
			wantMsg:   "you are changing lights too fast",
			wantRetry: time.Second - DefaultConfig().Interval, // the setup took one Interval
		},
		{
			name: "per ip",
			cfg:  func(c *Config) { c.IPRate = tight },
			before: []struct {
				v Viewer
				c Command
			}{
				{Viewer{Conn: "c1", IP: "a"}, Command{Zone: "desk", On: new(false)}},
				{Viewer{Conn: "c2", IP: "a"}, Command{Zone: "lamp", On: new(false)}},
				{Viewer{Conn: "c3", IP: "b"}, Command{Zone: "lamp", On: new(true)}},
			},
			v:         Viewer{Conn: "c4", IP: "a"},
			c:         Command{Zone: "disco", On: new(false)},
			wantCode:  CodeRateLimited,
			wantMsg:   "too many changes from your network",
			wantRetry: time.Second - DefaultConfig().Interval, // the setup took one Interval
		},
		{
			name: "per zone",
			cfg:  func(c *Config) { c.ZoneRate = tight },
			before: []struct {
				v Viewer
				c Command
			}{
				{Viewer{Conn: "c1", IP: "a"}, Command{Zone: "desk", On: new(false)}},
				{Viewer{Conn: "c2", IP: "b"}, Command{Zone: "desk", On: new(true)}},
				{Viewer{Conn: "c3", IP: "c"}, Command{Zone: "lamp", On: new(true)}},
			},
			v:         Viewer{Conn: "c4", IP: "d"},
			c:         Command{Zone: "desk", On: new(false)},
			wantCode:  CodeRateLimited,
			wantMsg:   "this zone is busy",
			wantRetry: time.Second - DefaultConfig().Interval, // the setup took one Interval
		},
		{
			name: "store error",
			setup: func(t *testing.T, s *Service, _ *fakeLink, store *failingStore) {
				store.update = func() error { return errors.New("redis: connection refused") }
			},
			v:        ann,
			c:        Command{Zone: "desk", On: new(false)},
			wantCode: CodeInternal,
			wantMsg:  "could not be saved",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := roomyConfig()
				if tt.cfg != nil {
					tt.cfg(&cfg)
				}
				store := &failingStore{MemoryStore: NewMemoryStore()}
				s, link := newTestService(t, cfg, store)
				out := runService(t, s)
				for _, b := range tt.before {
					set(t, s, b.v, b.c)
				}
				if tt.setup != nil {
					tt.setup(t, s, link, store)
				}
				time.Sleep(cfg.Interval) // let the broadcasts of the setup go out
				synctest.Wait()
				link.take()
				out.take()
				before := takeSnapshot(t, s, store.MemoryStore)

				got, err := s.Set(t.Context(), tt.v, tt.c)
				e, ok := errors.AsType[*Error](err)
				if !ok {
					t.Fatalf("Set = %v, %v; want an *Error %s", got, err, tt.wantCode)
				}
				if e.Code != tt.wantCode || !strings.Contains(e.Message, tt.wantMsg) || e.RetryAfter != tt.wantRetry {
					t.Errorf("Set = %+v, want code %s, message with %q, retryAfter %v", e, tt.wantCode, tt.wantMsg, tt.wantRetry)
				}
				if strings.Contains(e.Message, "redis") {
					t.Errorf("message %q leaks the cause", e.Message)
				}
				if got != (Entry{}) {
					t.Errorf("Set returned entry %+v with the refusal, want zero", got)
				}
				if diff := cmp.Diff(before, takeSnapshot(t, s, store.MemoryStore)); diff != "" {
					t.Errorf("a refused Set changed the state (-before +after):\n%s", diff)
				}
				time.Sleep(cfg.Interval)
				synctest.Wait()
				if got := link.take(); len(got) != 0 {
					t.Errorf("got Apply calls %+v after a refusal, want none", got)
				}
				if lights, zones := out.take(); len(lights)+len(zones) != 0 {
					t.Errorf("got broadcasts %+v %+v after a refusal, want none", lights, zones)
				}
			})
		})
	}
}

func TestServiceRateLimitRefills(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := roomyConfig()
		cfg.ViewerRate = Rate{PerSecond: 2, Burst: 1}
		s, _ := newTestService(t, cfg, NewMemoryStore())
		c := Command{Zone: "desk", On: new(false)}
		set(t, s, ann, c)
		_, err := s.Set(t.Context(), ann, c)
		e, ok := errors.AsType[*Error](err)
		if !ok || e.Code != CodeRateLimited || e.RetryAfter != 500*time.Millisecond {
			t.Fatalf("second Set = %v, want rate_limited with retryAfter 500ms", err)
		}
		time.Sleep(e.RetryAfter)
		set(t, s, ann, c)
		// A viewer without a connection id skips the per-viewer limit.
		set(t, s, Viewer{IP: "192.0.2.9"}, c)
	})
}

func TestServiceLimiterError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := roomyConfig()
		s := NewService(cfg, NewMemoryStore(), limiterFunc(func(context.Context, string, Rate) (bool, time.Duration, error) {
			return false, 0, errors.New("redis down")
		}), discardLog())
		link := &fakeLink{}
		if err := s.AttachBridge(t.Context(), link, "a", testSpecs); err != nil {
			t.Fatal(err)
		}
		link.take()
		_, err := s.Set(t.Context(), ann, Command{Zone: "desk", On: new(false)})
		if ErrorCode(err) != CodeInternal {
			t.Errorf("Set with a failing limiter = %v, want internal", err)
		}
		if got := link.take(); len(got) != 0 {
			t.Errorf("got Apply calls %+v, want none", got)
		}
		if v := s.Zones()[0].Version; v != 0 {
			t.Errorf("got version %d, want 0", v)
		}
	})
}

func TestServicePaused(t *testing.T) {
	s := NewService(DefaultConfig(), NewMemoryStore(), NewMemoryLimiter(), discardLog())
	if s.Paused() {
		t.Errorf("Paused() = true with the default config")
	}
	s.SetPaused(true)
	if !s.Paused() {
		t.Errorf("Paused() = false after SetPaused(true)")
	}
	s.SetPaused(false)
	if s.Paused() {
		t.Errorf("Paused() = true after SetPaused(false)")
	}
	if got, want := s.Limits(), DefaultConfig().ViewerRate; got != want {
		t.Errorf("Limits() = %+v, want %+v", got, want)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		change  func(*Config)
		wantErr string
	}{
		{"default", func(*Config) {}, ""},
		{"viewer rate", func(c *Config) { c.ViewerRate.PerSecond = 0 }, "-viewer-rate"},
		{"ip burst", func(c *Config) { c.IPRate.Burst = 0 }, "-ip-rate and -ip-burst"},
		{"zone rate", func(c *Config) { c.ZoneRate.PerSecond = -1 }, "-zone-rate"},
		{"interval", func(c *Config) { c.Interval = 0 }, "interval"},
		{"resend", func(c *Config) { c.Resend = -time.Second }, "resend"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tt.change(&cfg)
			err := cfg.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Validate() = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestCheckSpecs(t *testing.T) {
	many := func(n int) []ZoneSpec {
		out := make([]ZoneSpec, n)
		for i := range out {
			out[i] = ZoneSpec{ID: fmt.Sprintf("z%d", i), Name: "Z", Kind: KindRelay}
		}
		return out
	}
	effects := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("fx %d", i)
		}
		return out
	}
	tests := []struct {
		name    string
		specs   []ZoneSpec
		wantErr string // "" for valid; else the *Error message contains it
	}{
		{"three kinds", testSpecs, ""},
		{"most zones", many(256), ""},
		{"longest name", []ZoneSpec{{ID: "a", Name: strings.Repeat("n", 64), Kind: KindRGB}}, ""},
		{"most effects", []ZoneSpec{{ID: "a", Name: "A", Kind: KindPixels, Effects: effects(512)}}, ""},
		{"longest effect", []ZoneSpec{{ID: "a", Name: "A", Kind: KindPixels, Effects: []string{strings.Repeat("e", 64)}}}, ""},
		{"none", nil, "at least one zone"},
		{"too many zones", many(257), "at most 256 zones"},
		{"empty id", []ZoneSpec{{ID: "", Name: "A", Kind: KindRGB}}, `zone id ""`},
		{"upper-case id", []ZoneSpec{{ID: "Desk", Name: "A", Kind: KindRGB}}, `zone id "Desk" must be`},
		{"long id", []ZoneSpec{{ID: strings.Repeat("a", 41), Name: "A", Kind: KindRGB}}, "must be 1–40"},
		{"twice", []ZoneSpec{{ID: "a", Name: "A", Kind: KindRGB}, {ID: "a", Name: "B", Kind: KindRelay}}, `zone "a" is announced twice`},
		{"bad kind", []ZoneSpec{{ID: "a", Name: "A", Kind: "strobe"}}, `kind "strobe"`},
		{"no kind", []ZoneSpec{{ID: "a", Name: "A"}}, `kind ""`},
		{"no name", []ZoneSpec{{ID: "a", Kind: KindRGB}}, "name must be"},
		{"long name", []ZoneSpec{{ID: "a", Name: strings.Repeat("n", 65), Kind: KindRGB}}, "name must be 1–64 bytes"},
		{"too many effects", []ZoneSpec{{ID: "a", Name: "A", Kind: KindPixels, Effects: effects(513)}}, "at most 512 effects"},
		{"rgb effects", []ZoneSpec{{ID: "a", Name: "A", Kind: KindRGB, Effects: []string{"Fire"}}}, "only pixel zones have effects"},
		{"relay effects", []ZoneSpec{{ID: "a", Name: "A", Kind: KindRelay, Effects: []string{"Fire"}}}, "only pixel zones have effects"},
		{"empty effect", []ZoneSpec{{ID: "a", Name: "A", Kind: KindPixels, Effects: []string{"Solid", ""}}}, "effect names must be"},
		{"long effect", []ZoneSpec{{ID: "a", Name: "A", Kind: KindPixels, Effects: []string{strings.Repeat("e", 65)}}}, "effect names must be 1–64 bytes"},
		{"second bad", []ZoneSpec{{ID: "a", Name: "A", Kind: KindRGB}, {ID: "b_", Name: "B", Kind: KindRGB}}, `zone id "b_"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckSpecs(tt.specs)
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("CheckSpecs = %v, want nil", err)
				}
				return
			}
			e, ok := errors.AsType[*Error](err)
			if !ok || e.Code != CodeBadRequest || !strings.Contains(e.Message, tt.wantErr) {
				t.Errorf("CheckSpecs = %v, want bad_request containing %q", err, tt.wantErr)
			}
		})
	}
}
