package lighting

import (
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

// obsCall is one call of an Observer method: a command (Viewer set) or a confirmation (Zone set).
type obsCall struct {
	Viewer  Viewer
	Command Command
	Entry   Entry
	Code    Code // of the error; "" when accepted
	Zone    string
	Version int64
	Latency time.Duration
}

// fakeObserver records what it hears.
type fakeObserver struct {
	mu    sync.Mutex
	calls []obsCall
}

var _ Observer = (*fakeObserver)(nil)

func (o *fakeObserver) Command(v Viewer, c Command, e Entry, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	call := obsCall{Viewer: v, Command: c, Entry: e}
	if err != nil {
		call.Code = ErrorCode(err)
	}
	o.calls = append(o.calls, call)
}

func (o *fakeObserver) Confirmed(zone string, version int64, latency time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls = append(o.calls, obsCall{Zone: zone, Version: version, Latency: latency})
}

func (o *fakeObserver) take() []obsCall {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := o.calls
	o.calls = nil
	return out
}

func TestServiceObserverCommands(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := roomyConfig()
		cfg.ViewerRate = Rate{PerSecond: 1, Burst: 1}
		store := &failingStore{MemoryStore: NewMemoryStore()}
		s, link := newTestService(t, cfg, store)
		obs := &fakeObserver{}
		s.Observe(obs)
		if err := s.SetZoneSettings(map[string]ZoneSettings{"lamp": {Hidden: true}, "disco": {Disabled: true}}); err != nil {
			t.Fatal(err)
		}
		if err := s.SetBlocks([]string{"troll"}, nil); err != nil {
			t.Fatal(err)
		}
		bob := Viewer{Conn: "c2", IP: "192.0.2.2", Name: "bob"}
		on := Command{Zone: "desk", On: new(true)}
		accepted := set(t, s, ann, on)
		type step struct {
			v    Viewer
			c    Command
			code Code
		}
		steps := []step{
			{ann, on, CodeRateLimited},
			{Viewer{Name: "Troll"}, on, CodeBlocked},
			{bob, Command{Zone: "lamp", On: new(true)}, CodeUnknownZone},
			{bob, Command{Zone: "disco", On: new(true)}, CodePaused},
			{bob, Command{Zone: "desk", Brightness: new(999)}, CodeBadRequest},
		}
		for _, st := range steps {
			if _, err := s.Set(t.Context(), st.v, st.c); ErrorCode(err) != st.code {
				t.Fatalf("Set(%+v, %+v) = %v, want %s", st.v, st.c, err, st.code)
			}
		}
		s.SetPaused(true)
		steps = append(steps, step{bob, on, CodePaused})
		s.Set(t.Context(), bob, on)
		s.SetPaused(false)
		s.ZoneStatus(t.Context(), link, "desk", false, 0, "")
		steps = append(steps, step{bob, on, CodeZoneOffline})
		s.Set(t.Context(), bob, on)
		s.ZoneStatus(t.Context(), link, "desk", true, 0, "")
		store.update = func() error { return errors.New("redis down") }
		steps = append(steps, step{bob, on, CodeInternal})
		s.Set(t.Context(), bob, on)

		want := []obsCall{{Viewer: ann, Command: on, Entry: accepted}}
		for _, st := range steps {
			want = append(want, obsCall{Viewer: st.v, Command: st.c, Code: st.code})
		}
		if diff := cmp.Diff(want, obs.take()); diff != "" {
			t.Errorf("observed (-want +got):\n%s", diff)
		}

		// Without an observer nothing is reported.
		s.Observe(nil)
		store.update = nil
		time.Sleep(time.Second) // the failed Set spent bob's token
		set(t, s, bob, on)
		if got := obs.take(); len(got) != 0 {
			t.Errorf("observed %+v after Observe(nil), want nothing", got)
		}
	})
}

func TestServiceObserverConfirmed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		s, link := newTestService(t, roomyConfig(), NewMemoryStore())
		obs := &fakeObserver{}
		s.Observe(obs)
		confirmed := func() []obsCall {
			var out []obsCall
			for _, c := range obs.take() {
				if c.Zone != "" {
					out = append(out, c)
				}
			}
			return out
		}

		e1 := set(t, s, ann, Command{Zone: "desk", On: new(false)})
		time.Sleep(300 * time.Millisecond)
		s.ZoneStatus(ctx, link, "desk", true, e1.Version, "")
		want := []obsCall{{Zone: "desk", Version: e1.Version, Latency: 300 * time.Millisecond}}
		if diff := cmp.Diff(want, confirmed()); diff != "" {
			t.Errorf("first confirmation (-want +got):\n%s", diff)
		}

		// The same version again, or an older one: not reported again.
		time.Sleep(time.Second)
		s.ZoneStatus(ctx, link, "desk", true, e1.Version, "")
		s.ZoneStatus(ctx, link, "desk", true, 0, "")
		if got := confirmed(); len(got) != 0 {
			t.Errorf("repeated confirmations reported %+v, want nothing", got)
		}

		// Version 2 is superseded by 3 before the bridge confirms 2: 2's latency is unknown (0), 3's known.
		e2 := set(t, s, ann, Command{Zone: "desk", On: new(true)})
		time.Sleep(100 * time.Millisecond)
		e3 := set(t, s, ann, Command{Zone: "desk", On: new(false)})
		time.Sleep(50 * time.Millisecond)
		s.ZoneStatus(ctx, link, "desk", true, e2.Version, "")
		time.Sleep(50 * time.Millisecond)
		s.ZoneStatus(ctx, link, "desk", true, e3.Version, "")
		want = []obsCall{{Zone: "desk", Version: e2.Version}, {Zone: "desk", Version: e3.Version, Latency: 100 * time.Millisecond}}
		if diff := cmp.Diff(want, confirmed()); diff != "" {
			t.Errorf("superseded and current (-want +got):\n%s", diff)
		}

		// A version this process did not accept (another hub replica's, or before a restart): latency 0.
		stored, err := s.store.Update(ctx, "lamp", func(st State) (State, error) { return st, nil })
		if err != nil {
			t.Fatal(err)
		}
		if err := s.AttachBridge(ctx, link, "studio", testSpecs); err != nil { // reads the store
			t.Fatal(err)
		}
		s.ZoneStatus(ctx, link, "lamp", true, stored.Version, "")
		want = []obsCall{{Zone: "lamp", Version: stored.Version}}
		if diff := cmp.Diff(want, confirmed()); diff != "" {
			t.Errorf("unknown version (-want +got):\n%s", diff)
		}

		// Apply's versions are timed too.
		got, err := s.Apply(ctx, "streamer", []Command{{Zone: "disco", On: new(false)}})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
		s.ZoneStatus(ctx, link, "disco", true, got[0].Version, "")
		want = []obsCall{{Zone: "disco", Version: got[0].Version, Latency: 20 * time.Millisecond}}
		if diff := cmp.Diff(want, confirmed()); diff != "" {
			t.Errorf("Apply's version (-want +got):\n%s", diff)
		}
	})
}

// noopObserver hears everything and keeps nothing.
type noopObserver struct{}

func (noopObserver) Command(Viewer, Command, Entry, error)  {}
func (noopObserver) Confirmed(string, int64, time.Duration) {}

// TestSetAllocs checks that the observer, settings and blocks cost Set no allocation.
func TestSetAllocs(t *testing.T) {
	s := NewService(roomyConfig(), NewMemoryStore(), NewMemoryLimiter(), discardLog())
	if err := s.AttachBridge(t.Context(), &fakeLink{}, "studio", testSpecs); err != nil {
		t.Fatal(err)
	}
	v := Viewer{Conn: "c1", IP: "192.0.2.1", Name: "Ann Example"}
	c := Command{Zone: "desk", Brightness: new(1)}
	measure := func() float64 {
		return testing.AllocsPerRun(200, func() {
			if _, err := s.Set(t.Context(), v, c); err != nil {
				t.Fatal(err)
			}
		})
	}
	plain := measure()
	s.Observe(noopObserver{})
	if err := s.SetZoneSettings(map[string]ZoneSettings{"desk": {Name: "Desk", Effects: []string{"Solid"}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetBlocks([]string{"troll", "spammer"}, []string{"198.51.100.1"}); err != nil {
		t.Fatal(err)
	}
	if got := measure(); got > plain {
		t.Errorf("Set allocates %v times with an observer, settings and blocks, want at most %v as without", got, plain)
	}
}
