package printer

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/stagelink/stagelink/printer/printertest"
)

// queueTestAMQPURL returns the test broker or skips.
func queueTestAMQPURL(t testing.TB) string { return printertest.AMQPURL(t) }

// queueTestRabbitPrefix makes unique broker names for a test and deletes them when it ends.
func queueTestRabbitPrefix(t testing.TB, brokerURL string) string {
	return printertest.RabbitPrefix(t, brokerURL)
}

// queueTestRabbitOpen starts a RabbitQueue; the returned func stops it and waits for Run to return.
func queueTestRabbitOpen(t testing.TB, cfg RabbitQueueConfig) (*RabbitQueue, func()) {
	q, err := NewRabbitQueue(cfg, queueTestLogger(t))
	if err != nil {
		t.Fatalf("NewRabbitQueue: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- q.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return q, stop
}

func TestQueueRabbitMQ(t *testing.T) {
	brokerURL := queueTestAMQPURL(t)
	testQueue(t, func(t *testing.T) queueTestStore {
		prefix := queueTestRabbitPrefix(t, brokerURL)
		return func(t *testing.T) (Queue, func()) {
			return queueTestRabbitOpen(t, RabbitQueueConfig{URL: brokerURL, Prefix: prefix, MaxDeliveries: queueTestMaxDeliveries})
		}
	})
}

func TestQueueRabbitConfigRedactsPassword(t *testing.T) {
	cfg := RabbitQueueConfig{URL: "amqp://printer:s3cret@broker:5672/"}
	if got := cfg.LogValue().String(); strings.Contains(got, "s3cret") {
		t.Errorf("got %q, want the password redacted", got)
	}
	if err := (RabbitQueueConfig{URL: "http://x:s3cret@broker/"}).Validate(); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("got %v, want an error without the password", err)
	}
}

// TestQueueRabbitReconnect publishes and consumes 500 jobs through a proxy that cuts the broker
// connection several times mid-stream: every job is consumed at least once and consumption continues.
func TestQueueRabbitReconnect(t *testing.T) {
	brokerURL := queueTestAMQPURL(t)
	u, err := url.Parse(brokerURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := printertest.NewProxy(t, u.Host)
	u.Host = proxy.Addr()
	prefix := queueTestRabbitPrefix(t, brokerURL)
	cfg := RabbitQueueConfig{URL: u.String(), Prefix: prefix, MaxDeliveries: 100}
	pubQ, _ := queueTestRabbitOpen(t, cfg)
	conQ, _ := queueTestRabbitOpen(t, cfg)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()

	const total = 500
	var published, consumed atomic.Int64
	pubErr := make(chan error, 1)
	go func() {
		var wg sync.WaitGroup
		errs := make(chan error, total)
		sem := make(chan struct{}, 4)
		for i := range total {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				if err := pubQ.Publish(ctx, queueTestJob(fmt.Sprintf("reconnect-%04d", i))); err != nil {
					t.Errorf("Publish reconnect-%04d: %v", i, err)
					errs <- err
					return
				}
				published.Add(1)
				time.Sleep(10 * time.Millisecond) // spread the publishes over the cuts
			})
		}
		wg.Wait()
		close(errs)
		pubErr <- <-errs // nil when the channel is empty
	}()

	var firstCutPublished atomic.Int64
	firstCutPublished.Store(-1)
	cutDone := make(chan struct{})
	go func() {
		defer close(cutDone)
		for range 6 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(200 * time.Millisecond):
			}
			firstCutPublished.CompareAndSwap(-1, published.Load())
			t.Logf("cut %d connections after %d published, %d consumed", proxy.Cut(), published.Load(), consumed.Load())
		}
	}()

	seen := map[string]int{}
	deliveries := 0
	for len(seen) < total {
		d, err := conQ.Next(ctx)
		if err != nil {
			var missing []string
			for i := range total {
				if id := fmt.Sprintf("reconnect-%04d", i); seen[id] == 0 {
					missing = append(missing, id)
				}
			}
			t.Fatalf("Next after %d distinct jobs: %v; missing %v", len(seen), err, missing)
		}
		deliveries++
		if err := d.Ack(ctx); err != nil {
			t.Logf("ack of %s lost (it comes again): %v", d.Job.ID, err)
			continue
		}
		seen[d.Job.ID]++
		consumed.Store(int64(len(seen)))
	}
	<-cutDone
	if err := <-pubErr; err != nil {
		t.Fatalf("Publish: %v", err)
	}
	for i := range total {
		if id := fmt.Sprintf("reconnect-%04d", i); seen[id] == 0 {
			t.Errorf("job %s never consumed", id)
		}
	}
	t.Logf("%d jobs, %d deliveries, publisher sessions %d, consumer sessions %d",
		total, deliveries, pubQ.connected.Load(), conQ.connected.Load())
	if firstCut := firstCutPublished.Load(); firstCut >= total {
		t.Errorf("first cut after all %d jobs were published: want cuts mid-stream", firstCut)
	}
	if pubQ.connected.Load() < 2 || conQ.connected.Load() < 2 {
		t.Errorf("the proxy cut nothing: want reconnects on both sides")
	}
}

// BenchmarkPublishRabbitMQ measures enqueue rate with publisher confirms: many callers publish at once,
// their confirms are pipelined on one channel, and each Publish returns only after its own confirm.
func BenchmarkPublishRabbitMQ(b *testing.B) {
	brokerURL := queueTestAMQPURL(b)
	prefix := queueTestRabbitPrefix(b, brokerURL)
	q, _ := queueTestRabbitOpen(b, RabbitQueueConfig{URL: brokerURL, Prefix: prefix, MaxPending: 10_000_000})
	ctx := b.Context()
	if _, err := q.session(ctx); err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := q.Publish(ctx, queueTestJob(fmt.Sprintf("bench-%d", n.Add(1)))); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
}

// TestQueueRabbitStopsGoroutines checks that a stopped RabbitQueue leaves no goroutine behind.
func TestQueueRabbitStopsGoroutines(t *testing.T) {
	brokerURL := queueTestAMQPURL(t)
	prefix := queueTestRabbitPrefix(t, brokerURL)
	before := runtime.NumGoroutine()
	q, stop := queueTestRabbitOpen(t, RabbitQueueConfig{URL: brokerURL, Prefix: prefix})
	ctx := queueTestContext(t)
	if _, err := q.Events(ctx); err != nil {
		t.Fatalf("Events: %v", err)
	}
	if err := q.Publish(ctx, queueTestJob("leak-1")); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	d := queueTestNext(t, q)
	if err := d.Ack(ctx); err != nil {
		t.Fatalf("Ack: %v", err)
	}
	if _, err := q.Depth(ctx); err != nil {
		t.Fatalf("Depth: %v", err)
	}
	stop()
	if _, err := q.Next(ctx); !errors.Is(err, ErrQueueClosed) {
		t.Errorf("Next after stop: got %v, want ErrQueueClosed", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := runtime.NumGoroutine(); got > before {
		t.Errorf("got %d goroutines after stop, want at most %d", got, before)
	}
}

// TestQueueRabbitSkipsUnknownEvents: events from the broker that this version does not know (a newer
// agent's kinds) or that are not valid never reach subscribers; the valid ones after them do.
func TestQueueRabbitSkipsUnknownEvents(t *testing.T) {
	brokerURL := queueTestAMQPURL(t)
	prefix := queueTestRabbitPrefix(t, brokerURL)
	q, _ := queueTestRabbitOpen(t, RabbitQueueConfig{URL: brokerURL, Prefix: prefix})
	ctx := queueTestContext(t)
	events, err := q.Events(ctx)
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	conn, err := amqp.Dial(brokerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{
		`{"jobId":"web:1","kind":"teleported","at":"2026-05-01T20:00:00Z"}`,
		`{"jobId":"web:1","kind":"printed"`,
		`{"jobId":"../etc","kind":"printed"}`,
		`{"kind":"status"}`,
		`{"kind":"status","printer":{"agent":"` + strings.Repeat("a", 100) + `"}}`,
		`{"jobId":"web:1","kind":"printed","reason":"` + strings.Repeat("x", maxEventBytes) + `"}`,
		`{"jobId":"web:2","kind":"printed","at":"2026-05-01T20:00:00Z"}`,
	} {
		if err := ch.PublishWithContext(ctx, prefix+".events", "", false, false, amqp.Publishing{Body: []byte(body)}); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case ev := <-events:
		if ev.JobID != "web:2" || ev.Kind != EventPrinted {
			t.Errorf("got event %+v, want only printed web:2", ev)
		}
	case <-ctx.Done():
		t.Fatal("no event")
	}
}
