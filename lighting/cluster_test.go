package lighting

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// filterBus is a MemoryBus that drops what drop says to, as a Redis subscriber that reconnects loses
// what was published meanwhile.
type filterBus struct {
	*MemoryBus
	drop atomic.Pointer[func(clusterMsg) bool]
}

func (b *filterBus) Publish(ctx context.Context, msg []byte) error {
	var m clusterMsg
	json.Unmarshal(msg, &m)
	if f := b.drop.Load(); f != nil && (*f)(m) {
		return nil
	}
	return b.MemoryBus.Publish(ctx, msg)
}

func (b *filterBus) dropWhen(f func(clusterMsg) bool) { b.drop.Store(&f) }

// testHub is one Service of a test cluster, running until stop or the end of the test.
type testHub struct {
	*Service
	out  *fakeBroadcaster
	stop func()
}

// startHub runs a Service named id on store and bus. Call it inside a synctest bubble.
func startHub(t *testing.T, id string, cfg Config, store Store, bus Bus) *testHub {
	t.Helper()
	s := NewService(cfg, store, NewMemoryLimiter(), discardLog())
	s.Join(bus, id)
	out := &fakeBroadcaster{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, out) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run %s: %v", id, err)
			}
		}
	}
	t.Cleanup(stop)
	synctest.Wait()
	return &testHub{Service: s, out: out, stop: stop}
}

// zone returns what viewers of h see of zone id.
func (h *testHub) zone(id string) (Zone, bool) {
	for _, z := range h.Zones() {
		if z.ID == id {
			return z, true
		}
	}
	return Zone{}, false
}

// newTestCluster starts two hubs on one store and bus, with a bridge "studio" (returned) attached to the
// first, and lets the second hear of it.
func newTestCluster(t *testing.T, bus Bus) (a, b *testHub, link *fakeLink) {
	t.Helper()
	store := NewMemoryStore()
	a = startHub(t, "hub-a", roomyConfig(), store, bus)
	b = startHub(t, "hub-b", roomyConfig(), store, bus)
	link = &fakeLink{name: "studio"}
	if err := a.AttachBridge(t.Context(), link, "studio", testSpecs); err != nil {
		t.Fatal(err)
	}
	synctest.Wait()
	link.take()
	return a, b, link
}

func TestClusterCommandThroughAnotherHub(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b, link := newTestCluster(t, NewMemoryBus())
		if z, ok := b.zone("desk"); !ok || !z.Online {
			t.Fatalf("hub-b sees desk = %+v, %v; want it online", z, ok)
		}

		c := Command{Zone: "desk", Color: &Color{R: 255}}
		e := set(t, b.Service, ann, c)
		synctest.Wait()
		if got := link.take(); len(got) != 1 || got[0].Version != e.Version || got[0].State.Color != (Color{R: 255}) {
			t.Fatalf("the bridge on hub-a got %+v, want version %d red", got, e.Version)
		}
		settle(a.Service)
		if z, _ := a.zone("desk"); z.Version != e.Version || z.Confirmed {
			t.Errorf("hub-a's viewers see desk %+v, want version %d unconfirmed", z, e.Version)
		}

		a.ZoneStatus(t.Context(), link, "desk", true, e.Version, "")
		synctest.Wait()
		if z, _ := b.zone("desk"); z.Version != e.Version || !z.Confirmed {
			t.Errorf("hub-b's viewers see desk %+v, want version %d confirmed", z, e.Version)
		}
		if lights, _ := b.out.take(); len(lights) == 0 {
			t.Error("hub-b broadcast nothing to its viewers")
		}

		// A status about the zone sent to the hub that does not own it changes nothing.
		b.ZoneStatus(t.Context(), link, "desk", false, e.Version, "")
		if z, _ := b.zone("desk"); !z.Online {
			t.Error("a status on the wrong hub took desk offline")
		}
	})
}

func TestClusterHealsLostMessages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := &filterBus{MemoryBus: NewMemoryBus()}
		a, b, link := newTestCluster(t, bus)
		bus.dropWhen(func(m clusterMsg) bool { return m.Kind == msgEntry })

		e := set(t, b.Service, ann, Command{Zone: "lamp", On: new(false)})
		synctest.Wait()
		if got := link.take(); len(got) != 0 {
			t.Fatalf("the bridge got %+v before the owner read the store", got)
		}
		time.Sleep(roomyConfig().Resend)
		synctest.Wait()
		if got := link.take(); len(got) != 1 || got[0].Version != e.Version {
			t.Fatalf("after Resend the bridge got %+v, want version %d from the store", got, e.Version)
		}

		a.ZoneStatus(t.Context(), link, "lamp", true, e.Version, "")
		time.Sleep(roomyConfig().Heartbeat)
		synctest.Wait()
		if z, _ := b.zone("lamp"); z.Version != e.Version || !z.Confirmed {
			t.Errorf("after a heartbeat hub-b sees lamp %+v, want version %d confirmed", z, e.Version)
		}
	})
}

func TestClusterHubLeaves(t *testing.T) {
	t.Run("goodbye", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			a, b, _ := newTestCluster(t, NewMemoryBus())
			a.stop()
			synctest.Wait()
			if z, _ := b.zone("desk"); z.Online {
				t.Error("desk online on hub-b after hub-a said goodbye")
			}
		})
	})
	t.Run("silent", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			bus := &filterBus{MemoryBus: NewMemoryBus()}
			_, b, _ := newTestCluster(t, bus)
			bus.dropWhen(func(m clusterMsg) bool { return m.Hub == "hub-a" })
			time.Sleep(2 * roomyConfig().Heartbeat)
			synctest.Wait()
			if z, _ := b.zone("desk"); !z.Online {
				t.Fatal("desk offline on hub-b after two silent heartbeats")
			}
			time.Sleep(2 * roomyConfig().Heartbeat)
			synctest.Wait()
			if z, _ := b.zone("desk"); z.Online {
				t.Error("desk still online on hub-b after four silent heartbeats")
			}
		})
	})
	t.Run("bridge detached", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			a, b, link := newTestCluster(t, NewMemoryBus())
			a.DetachBridge(link)
			synctest.Wait()
			if z, ok := b.zone("desk"); !ok || z.Online {
				t.Errorf("hub-b sees desk %+v, %v after its bridge left; want it listed, offline", z, ok)
			}
		})
	})
}

func TestClusterBridgeMoves(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b, old := newTestCluster(t, NewMemoryBus())
		e := set(t, a.Service, ann, Command{Zone: "desk", Brightness: new(9)})
		synctest.Wait()
		old.take()

		if err := b.AttachBridge(t.Context(), &fakeLink{}, "intruder", testSpecs[:1]); err == nil {
			t.Error("another bridge took a zone owned through hub-a")
		}
		time.Sleep(1500 * time.Millisecond) // a later attachment, between two resends
		old.take()                          // hub-a resent the unconfirmed version meanwhile
		moved := &fakeLink{name: "studio"}
		if err := b.AttachBridge(t.Context(), moved, "studio", testSpecs); err != nil {
			t.Fatalf("the same bridge reconnecting through hub-b: %v", err)
		}
		synctest.Wait()
		if got := moved.take(); len(got) != len(testSpecs) || got[0].Version != e.Version {
			t.Errorf("the moved bridge got %+v, want the current state of each zone (desk at %d)", got, e.Version)
		}

		e2 := set(t, a.Service, ann, Command{Zone: "desk", Brightness: new(10)})
		synctest.Wait()
		if got := moved.take(); len(got) != 1 || got[0].Version != e2.Version {
			t.Errorf("a command through hub-a reached the moved bridge as %+v, want version %d", got, e2.Version)
		}
		if got := old.take(); len(got) != 0 {
			t.Errorf("the old connection on hub-a still got %+v", got)
		}
	})
}

func TestClusterPause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := NewMemoryBus()
		a, b, _ := newTestCluster(t, bus)
		b.SetPaused(true)
		synctest.Wait()
		if _, err := a.Set(t.Context(), ann, Command{Zone: "desk", On: new(true)}); !isCode(err, CodePaused) {
			t.Errorf("Set on hub-a after a pause through hub-b: %v, want paused", err)
		}
		late := startHub(t, "hub-c", roomyConfig(), NewMemoryStore(), bus)
		time.Sleep(roomyConfig().Heartbeat)
		synctest.Wait()
		if !late.Paused() {
			t.Error("a hub started later did not take the cluster's pause")
		}
		a.SetPaused(false)
		synctest.Wait()
		if b.Paused() || late.Paused() {
			t.Error("resumed on hub-a, still paused elsewhere")
		}
	})
}

func isCode(err error, c Code) bool {
	e, ok := err.(*Error)
	return ok && e.Code == c
}

func TestClusterRefusesBadMessages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := NewMemoryBus()
		_, b, _ := newTestCluster(t, bus)
		before := b.Zones()
		entry := func(zone string, v, applied int64) string {
			raw, _ := json.Marshal(clusterMsg{Hub: "x", Kind: msgEntry, Zone: zone, Entry: &wireEntry{State: DefaultState(), Version: v, Applied: applied}})
			return string(raw)
		}
		for _, msg := range []string{
			`not json`,
			`{"hub":"x","kind":"takeover"}`,
			`{"kind":"bye"}`,
			`{"hub":"` + strings.Repeat("h", 100) + `","kind":"bye"}`,
			`{"hub":"x","kind":"pause"}`,
			entry("../desk", 99, 0),
			entry("desk", 99, 100),
			entry("desk", -1, 0),
			`{"hub":"x","kind":"entry","zone":"desk"}`,
			`{"hub":"x","kind":"hub","zones":[{"spec":{"id":"desk","name":"","kind":"pixels"}}]}`,
			`{"hub":"x","kind":"hub","zones":[{"spec":{"id":"new","name":"N","kind":"laser"}}]}`,
			`{"hub":"x","kind":"hub","viewers":-1}`,
			`{"hub":"x","kind":"hub","viewers":99999999999}`,
			`{"hub":"x","kind":"hub","zones":[{"spec":{"id":"new","name":"N","kind":"rgb"},"bridge":"` + strings.Repeat("b", 100) + `"}]}`,
			`{"hub":"x","kind":"hub","zones":[` + strings.Repeat(`{"spec":{"id":"a","name":"A","kind":"rgb"}},`, maxHubZones) + `{}]}`,
			`{"hub":"x","kind":"entry","zone":"desk","entry":{"version":5},"pad":"` + strings.Repeat("x", maxBusMessage) + `"}`,
		} {
			bus.Publish(t.Context(), []byte(msg))
		}
		synctest.Wait()
		if got := b.Zones(); len(got) != len(before) || got[0].Version != before[0].Version || !got[0].Online {
			t.Errorf("zones after bad messages = %+v, want %+v", got, before)
		}
		if b.Paused() {
			t.Error("paused by a bad message")
		}
	})
}

// TestClusterCheck: a hub joining a cluster is not ready until it has heard itself on the Bus and then
// waited a heartbeat (two heartbeats at most), by which time it knows the other hubs' bridges' zones.
func TestClusterCheck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := NewMemoryBus()
		store := NewMemoryStore()
		cfg := roomyConfig()
		a := startHub(t, "hub-a", cfg, store, bus)
		link := &fakeLink{name: "studio"}
		if err := a.AttachBridge(t.Context(), link, "studio", testSpecs); err != nil {
			t.Fatal(err)
		}
		b := startHub(t, "hub-b", cfg, store, bus)
		if err := b.ClusterCheck(t.Context()); !errors.Is(err, ErrJoining) {
			t.Fatalf("ClusterCheck at once = %v, want ErrJoining", err)
		}
		// Its first heartbeat may go out before its subscription is up: it hears the second.
		time.Sleep(2*cfg.Heartbeat + time.Millisecond)
		synctest.Wait()
		if err := b.ClusterCheck(t.Context()); err != nil {
			t.Fatalf("ClusterCheck after two heartbeats = %v, want nil", err)
		}
		if _, ok := b.zone(testSpecs[0].ID); !ok {
			t.Errorf("hub-b is ready but does not know zone %s of hub-a's bridge", testSpecs[0].ID)
		}
		alone := NewService(cfg, store, NewMemoryLimiter(), discardLog())
		if err := alone.ClusterCheck(t.Context()); err != nil {
			t.Errorf("ClusterCheck of a hub not in a cluster = %v, want nil", err)
		}
	})
}

// TestClusterViewers: every hub counts the viewers of the whole cluster, from the heartbeats, and stops
// counting those of a hub that leaves.
func TestClusterViewers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b, _ := newTestCluster(t, NewMemoryBus())
		a.SetViewers(3)
		b.SetViewers(4)
		time.Sleep(roomyConfig().Heartbeat + time.Millisecond)
		synctest.Wait()
		if got, got2 := a.Viewers(), b.Viewers(); got != 7 || got2 != 7 {
			t.Fatalf("viewers on a, b = %d, %d, want 7 on both", got, got2)
		}
		b.stop()
		synctest.Wait()
		if got := a.Viewers(); got != 3 {
			t.Errorf("viewers on a after b left = %d, want 3", got)
		}
		alone := NewService(roomyConfig(), NewMemoryStore(), NewMemoryLimiter(), discardLog())
		alone.SetViewers(5)
		if got := alone.Viewers(); got != 5 {
			t.Errorf("viewers of a hub alone = %d, want 5", got)
		}
	})
}
