package lighting

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestRedisBus: messages reach every subscriber, and a subscriber whose connection Redis closes
// subscribes again by itself.
func TestRedisBus(t *testing.T) {
	rdb := newTestRedis(t)
	prefix := testPrefix(t)
	name := "bus-test-" + strings.Trim(prefix, ":")
	subRdb := redis.NewClient(&redis.Options{Addr: rdb.Options().Addr, DB: rdb.Options().DB, ClientName: name})
	defer subRdb.Close()
	bus := NewRedisBus(subRdb, prefix)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	got := make(chan string, 16)
	go bus.Subscribe(ctx, func(m []byte) { got <- string(m) })

	// publishUntil publishes msg until it comes back: the subscription starts asynchronously.
	publishUntil := func(msg string) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for time.Now().Before(deadline) {
			if err := bus.Publish(ctx, []byte(msg)); err != nil {
				t.Logf("publish: %v", err)
			}
			select {
			case m := <-got:
				if m == msg {
					return
				}
			case <-time.After(200 * time.Millisecond):
			}
		}
		t.Fatalf("%q never came back", msg)
	}
	publishUntil("one")
	killed := 0
	list, err := rdb.ClientList(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(list) {
		if strings.Contains(line, " name="+name+" ") && strings.Contains(line, " cmd=subscribe") {
			id := strings.TrimPrefix(strings.Fields(line)[0], "id=")
			if err := rdb.Do(ctx, "CLIENT", "KILL", "ID", id).Err(); err != nil {
				t.Fatalf("CLIENT KILL: %v", err)
			}
			killed++
		}
	}
	if killed == 0 {
		t.Fatalf("no subscriber named %s in CLIENT LIST:\n%s", name, list)
	}
	publishUntil("two")
}

// TestRedisCluster: two hubs on one Redis, the bridge on one, the command through the other.
func TestRedisCluster(t *testing.T) {
	rdb := newTestRedis(t)
	prefix := testPrefix(t)
	store, bus := NewRedisStore(rdb, prefix), NewRedisBus(rdb, prefix)
	cfg := roomyConfig()
	cfg.Heartbeat = 100 * time.Millisecond
	hubs := make([]*Service, 2)
	for i := range hubs {
		hubs[i] = NewService(cfg, store, NewRedisLimiter(rdb, prefix), discardLog())
		hubs[i].Join(bus, []string{"a", "b"}[i])
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { hubs[i].Run(ctx, &fakeBroadcaster{}); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
	}
	link := &fakeLink{}
	if err := hubs[0].AttachBridge(t.Context(), link, "studio", testSpecs); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "hub b sees desk online", func() bool {
		for _, z := range hubs[1].Zones() {
			if z.ID == "desk" && z.Online {
				return true
			}
		}
		return false
	})
	link.take()
	e := set(t, hubs[1], ann, Command{Zone: "desk", On: new(false)})
	waitUntil(t, "the bridge on hub a gets the command", func() bool {
		for _, c := range link.take() {
			if c.Zone == "desk" && c.Version == e.Version {
				return true
			}
		}
		return false
	})
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out: %s", what)
}
