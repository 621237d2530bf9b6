package lighting

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMemoryStore(t *testing.T) {
	testStore(t, func(t *testing.T) Store { return NewMemoryStore() })
}

func TestRedisStore(t *testing.T) {
	testRedisURL(t)
	testStore(t, func(t *testing.T) Store { return NewRedisStore(newTestRedis(t), testPrefix(t)) })
}

// setBy returns an Update function that sets the state's By and UpdatedAt.
func setBy(by string, at int64) func(State) (State, error) {
	return func(st State) (State, error) {
		st.By, st.UpdatedAt = by, at
		return st, nil
	}
}

// testStore is the behaviour every Store shares.
func testStore(t *testing.T, newStore func(t *testing.T) Store) {
	t.Run("missing zone", func(t *testing.T) {
		s := newStore(t)
		got, err := s.Get(t.Context(), "desk")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(Entry{State: DefaultState()}, got); diff != "" {
			t.Errorf("Get of a zone never set (-want +got):\n%s", diff)
		}
	})

	t.Run("update", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		c := Command{Color: &Color{1, 2, 3}, Effect: new("Rainbow")}
		var seen State
		got, err := s.Update(ctx, "desk", func(st State) (State, error) {
			seen = st
			st = c.Apply(st)
			st.By, st.UpdatedAt = "ann", 1700000000123
			return st, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(DefaultState(), seen); diff != "" {
			t.Errorf("first Update saw (-want +got):\n%s", diff)
		}
		want := c.Apply(DefaultState())
		want.By, want.UpdatedAt = "ann", 1700000000123
		if diff := cmp.Diff(Entry{State: want, Version: 1}, got); diff != "" {
			t.Errorf("first Update (-want +got):\n%s", diff)
		}
		got, err = s.Update(ctx, "desk", func(st State) (State, error) {
			seen = st
			st.Brightness = 7
			return st, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, seen); diff != "" {
			t.Errorf("second Update saw (-want +got):\n%s", diff)
		}
		want.Brightness = 7
		if diff := cmp.Diff(Entry{State: want, Version: 2}, got); diff != "" {
			t.Errorf("second Update (-want +got):\n%s", diff)
		}
		if got, err := s.Get(ctx, "desk"); err != nil || !cmp.Equal(Entry{State: want, Version: 2}, got) {
			t.Errorf("Get after Update = %+v, %v; want version 2 and %+v", got, err, want)
		}
		if got, err := s.Get(ctx, "lamp"); err != nil || got.Version != 0 {
			t.Errorf("Get of another zone = %+v, %v; want version 0", got, err)
		}
	})

	t.Run("update error", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		if _, err := s.Update(ctx, "desk", setBy("ann", 1)); err != nil {
			t.Fatal(err)
		}
		refused := errors.New("no")
		got, err := s.Update(ctx, "desk", func(st State) (State, error) {
			st.By = "bob"
			return st, refused
		})
		if err != refused {
			t.Errorf("Update error = %v, want fn's error unchanged", err)
		}
		if diff := cmp.Diff(Entry{}, got); diff != "" {
			t.Errorf("Update with an error returned an entry:\n%s", diff)
		}
		got, err = s.Get(ctx, "desk")
		if err != nil || got.Version != 1 || got.State.By != "ann" {
			t.Errorf("after a refused Update Get = %+v, %v; want version 1 by ann", got, err)
		}
		// A refused first Update leaves the zone unset.
		if _, err := s.Update(ctx, "lamp", func(State) (State, error) { return State{}, refused }); err != refused {
			t.Errorf("Update error = %v, want fn's error", err)
		}
		if got, err := s.Get(ctx, "lamp"); err != nil || !cmp.Equal(Entry{State: DefaultState()}, got) {
			t.Errorf("zone after a refused first Update = %+v, %v; want never set", got, err)
		}
	})

	t.Run("confirm", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		got, err := s.Confirm(ctx, "desk", 5)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(Entry{State: DefaultState()}, got); diff != "" {
			t.Errorf("Confirm of a zone never set (-want +got):\n%s", diff)
		}
		for i := range 3 {
			if _, err := s.Update(ctx, "desk", setBy("ann", int64(i))); err != nil {
				t.Fatal(err)
			}
		}
		for _, step := range []struct {
			v, wantApplied int64
		}{{1, 1}, {0, 1}, {-4, 1}, {2, 2}, {1, 2}, {9, 3}, {3, 3}} {
			got, err := s.Confirm(ctx, "desk", step.v)
			if err != nil {
				t.Fatal(err)
			}
			if got.Applied != step.wantApplied || got.Version != 3 || got.State.UpdatedAt != 2 {
				t.Errorf("Confirm(%d) = %+v; want applied %d, version 3, the stored state", step.v, got, step.wantApplied)
			}
			if g, _ := s.Get(ctx, "desk"); g != got {
				t.Errorf("Get after Confirm(%d) = %+v, want %+v", step.v, g, got)
			}
		}
		got, err = s.Get(ctx, "desk")
		if err != nil || !got.Confirmed() {
			t.Errorf("Get = %+v, %v; want confirmed", got, err)
		}
		got, err = s.Update(ctx, "desk", setBy("bob", 4))
		if err != nil || got.Version != 4 || got.Applied != 3 || got.Confirmed() {
			t.Errorf("Update after Confirm = %+v, %v; want version 4, applied 3, unconfirmed", got, err)
		}
		if diff := cmp.Diff(Update{ID: "desk", State: got.State, Version: 4}, got.Update("desk")); diff != "" {
			t.Errorf("Entry.Update (-want +got):\n%s", diff)
		}
		if got, err := s.Get(ctx, "lamp"); err != nil || !cmp.Equal(Entry{State: DefaultState()}, got) {
			t.Errorf("Confirm of a zone never set changed it: %+v, %v", got, err)
		}
	})

	t.Run("get many", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		got, err := s.GetMany(ctx, nil)
		if err != nil || len(got) != 0 {
			t.Errorf("GetMany(nil) = %v, %v; want an empty map", got, err)
		}
		a, err := s.Update(ctx, "a", setBy("ann", 1))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Update(ctx, "b", setBy("bob", 2)); err != nil {
			t.Fatal(err)
		}
		b, err := s.Update(ctx, "b", setBy("bob", 3))
		if err != nil {
			t.Fatal(err)
		}
		if b, err = s.Confirm(ctx, "b", 1); err != nil {
			t.Fatal(err)
		}
		got, err = s.GetMany(ctx, []string{"a", "b", "c", "a"})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]Entry{"a": a, "b": b, "c": {State: DefaultState()}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("GetMany (-want +got):\n%s", diff)
		}
		if b.Version != 2 || b.Applied != 1 {
			t.Errorf("zone b = %+v, want version 2 applied 1", b)
		}
	})

	t.Run("concurrent updates", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		const workers, each = 16, 10
		versions := make(chan int64, workers*each)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for range each {
					e, err := s.Update(ctx, "desk", func(st State) (State, error) {
						st.UpdatedAt++ // a counter: a lost update would show as a smaller count
						st.By = fmt.Sprint("worker ", w)
						return st, nil
					})
					if err != nil {
						t.Error(err)
						return
					}
					versions <- e.Version
					// Readers and confirms race with the writers too.
					if _, err := s.Confirm(ctx, "desk", e.Version); err != nil {
						t.Error(err)
					}
				}
			})
		}
		wg.Wait()
		close(versions)
		got := slices.Sorted(func(yield func(int64) bool) {
			for v := range versions {
				if !yield(v) {
					return
				}
			}
		})
		want := make([]int64, workers*each)
		for i := range want {
			want[i] = int64(i + 1)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("versions returned by concurrent Updates are not 1..%d each once (-want +got):\n%s", len(want), diff)
		}
		e, err := s.Get(ctx, "desk")
		if err != nil {
			t.Fatal(err)
		}
		if e.Version != workers*each || e.State.UpdatedAt != workers*each || e.Applied != workers*each {
			t.Errorf("after %d concurrent Updates Get = %+v; want version, counter and applied %d", workers*each, e, workers*each)
		}
	})

	t.Run("concurrent zones", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		zones := []string{"a", "b", "c", "d"}
		var wg sync.WaitGroup
		for _, z := range zones {
			for range 3 {
				wg.Go(func() {
					for range 5 {
						if _, err := s.Update(ctx, z, setBy(z, 0)); err != nil {
							t.Error(err)
						}
					}
				})
			}
		}
		wg.Wait()
		got, err := s.GetMany(ctx, zones)
		if err != nil {
			t.Fatal(err)
		}
		for _, z := range zones {
			if got[z].Version != 15 || got[z].State.By != z {
				t.Errorf("zone %s = %+v, want version 15 by %s", z, got[z], z)
			}
		}
	})

	t.Run("canceled context", func(t *testing.T) {
		s := newStore(t)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		// A store may or may not look at a canceled context, but it must not store half an update.
		if e, err := s.Update(ctx, "desk", setBy("ann", 1)); err == nil && e.Version != 1 {
			t.Errorf("Update = %+v, want version 1 or an error", e)
		}
	})
}

func TestRedisStoreRestart(t *testing.T) {
	prefix := testPrefix(t)
	ctx := t.Context()
	first := NewRedisStore(newTestRedis(t), prefix)
	for i := range 3 {
		if _, err := first.Update(ctx, "desk", setBy("ann", int64(i))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := first.Confirm(ctx, "desk", 2); err != nil {
		t.Fatal(err)
	}
	// A new process: a new client and store on the same prefix continue the versions.
	second := NewRedisStore(newTestRedis(t), prefix)
	got, err := second.Get(ctx, "desk")
	if err != nil || got.Version != 3 || got.Applied != 2 || got.State.UpdatedAt != 2 {
		t.Errorf("Get after restart = %+v, %v; want version 3, applied 2", got, err)
	}
	got, err = second.Update(ctx, "desk", setBy("bob", 9))
	if err != nil || got.Version != 4 || got.State.By != "bob" {
		t.Errorf("Update after restart = %+v, %v; want version 4", got, err)
	}
	// Another prefix is another hub: nothing shared.
	other := NewRedisStore(newTestRedis(t), testPrefix(t))
	if got, err := other.Get(ctx, "desk"); err != nil || got.Version != 0 {
		t.Errorf("Get under another prefix = %+v, %v; want version 0", got, err)
	}
}

func TestRedisStoreSharedByHubs(t *testing.T) {
	// Several hubs, each with its own client, update one zone: no lost update.
	prefix := testPrefix(t)
	ctx := t.Context()
	const hubs, each = 4, 15
	var wg sync.WaitGroup
	seen := make(chan int64, hubs*each)
	for range hubs {
		s := NewRedisStore(newTestRedis(t), prefix)
		wg.Go(func() {
			for range each {
				e, err := s.Update(ctx, "desk", func(st State) (State, error) {
					st.UpdatedAt++
					return st, nil
				})
				if err != nil {
					t.Error(err)
					return
				}
				seen <- e.Version
			}
		})
	}
	wg.Wait()
	close(seen)
	distinct := map[int64]bool{}
	for v := range seen {
		if distinct[v] {
			t.Errorf("version %d returned twice", v)
		}
		distinct[v] = true
	}
	e, err := NewRedisStore(newTestRedis(t), prefix).Get(ctx, "desk")
	if err != nil || e.Version != hubs*each || e.State.UpdatedAt != hubs*each || len(distinct) != hubs*each {
		t.Errorf("after %d updates from %d hubs: %+v, %v, %d distinct versions", hubs*each, hubs, e, err, len(distinct))
	}
}

func TestRedisStoreCorrupt(t *testing.T) {
	prefix := testPrefix(t)
	rdb := newTestRedis(t)
	ctx := t.Context()
	if err := rdb.HSet(ctx, prefix+"zone:desk", "state", "{", "version", "1").Err(); err != nil {
		t.Fatal(err)
	}
	s := NewRedisStore(rdb, prefix)
	if _, err := s.Get(ctx, "desk"); err == nil || ErrorCode(err) != CodeInternal {
		t.Errorf("Get of a corrupt entry = %v, want an internal error", err)
	}
	if _, err := s.Update(ctx, "desk", setBy("ann", 1)); err == nil {
		t.Error("Update of a corrupt entry succeeded, want an error")
	}
}
