package web

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/stagelink/stagelink/lighting"
	"github.com/stagelink/stagelink/web/store"
)

// newAdapterHub is a hub whose Socket.IO server shares broadcasts through the test Redis under prefix.
func newAdapterHub(t *testing.T, prefix string) *hubFixture {
	t.Helper()
	url := os.Getenv("STAGELINK_TEST_REDIS")
	if url == "" {
		t.Skip("STAGELINK_TEST_REDIS not set: set it to redis://127.0.0.1:6379/0 to test the Socket.IO Redis adapter")
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(context.Background())
	adapter, closeAdapter, err := RedisAdapter(ctx, url, prefix, log)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	lights := lighting.NewService(lighting.DefaultConfig(), lighting.NewMemoryStore(), lighting.NewMemoryLimiter(), log)
	srv := New(Config{BridgeTokens: []string{testBridgeToken}, Adapter: adapter}, lights, log)
	ts := httptest.NewServer(srv.Handler())
	done := make(chan struct{})
	go func() { srv.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		srv.Close()
		ts.Close()
		closeAdapter()
	})
	return &hubFixture{url: ts.URL, lights: lights, srv: srv}
}

// TestRedisAdapter: with the Redis adapter, a page edit and a disconnect made on one hub reach the
// sockets of another, while each hub's light broadcasts stay with its own viewers.
func TestRedisAdapter(t *testing.T) {
	prefix := "stagelink-test-" + rand.Text()[:8] + ":"
	a, b := newAdapterHub(t, prefix), newAdapterHub(t, prefix)
	onB := dialViewer(t, b.url)
	onB.waitFor("hello", func(c *client) bool { return len(c.events["hello"]) > 0 })

	// The adapter subscribes asynchronously: edit until the page arrives.
	deadline := time.Now().Add(10 * time.Second)
	for {
		a.srv.showPage(store.Page{Title: "From hub A", UpdatedAt: time.Now(), UpdatedBy: "test"}, true)
		onB.mu.Lock()
		got := len(onB.events["page"])
		onB.mu.Unlock()
		if got > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a page edit on hub A never reached hub B's viewer")
		}
		time.Sleep(200 * time.Millisecond)
	}

	broadcaster{a.srv}.Lights([]lighting.Update{{ID: "desk", Version: 99}})
	a.srv.showPage(store.Page{Title: "local", UpdatedAt: time.Now().Add(time.Hour), UpdatedBy: "sync"}, false)
	time.Sleep(500 * time.Millisecond)
	onB.mu.Lock()
	lights, pages := len(onB.events["lights"]), len(onB.events["page"])
	onB.mu.Unlock()
	if lights != 0 {
		t.Errorf("hub B's viewer got %d of hub A's lights broadcasts, want none", lights)
	}

	a.srv.io.Of("/", nil).DisconnectSockets(true)
	onB.waitFor("a disconnect ordered by hub A", func(c *client) bool { return len(c.events["disconnect"]) > 0 })
	onB.mu.Lock()
	defer onB.mu.Unlock()
	if got := len(onB.events["page"]); got != pages {
		t.Errorf("hub B's viewer got hub A's local page broadcast")
	}
}
