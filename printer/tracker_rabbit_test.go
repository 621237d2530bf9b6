package printer

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestTrackerAndAgentOverRabbitMQ runs a hub's tracker and a printer agent on connections of their own to
// one broker, as cmd/hub and cmd/printer do: the printer's state, printing and printed, a cancel, a cancel
// refused as too late, and a retry of the cancelled job all cross the broker.
func TestTrackerAndAgentOverRabbitMQ(t *testing.T) {
	brokerURL := queueTestAMQPURL(t)
	prefix := queueTestRabbitPrefix(t, brokerURL)
	cfg := RabbitQueueConfig{URL: brokerURL, Prefix: prefix, MaxDeliveries: 3}
	hubQ, _ := queueTestRabbitOpen(t, cfg)
	agentQ, _ := queueTestRabbitOpen(t, cfg)
	ctx := queueTestContext(t)
	log := slog.New(slog.DiscardHandler)

	tr := NewTracker(hubQ, 0, log)
	runCtx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stop()
	wg.Go(func() { tr.Run(runCtx) })
	// The hub's view of the events, to check what the agent said.
	events, err := hubQ.Events(runCtx)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	kinds := map[string][]EventKind{}
	wg.Go(func() {
		for ev := range events {
			mu.Lock()
			kinds[ev.JobID] = append(kinds[ev.JobID], ev.Kind)
			mu.Unlock()
		}
	})
	// Wait until the tracker follows the events: it hears a report of our own.
	for {
		probe := PrinterState{Agent: "probe", Summary: "unknown"}
		if err := hubQ.PublishEvent(ctx, Event{Kind: EventStatus, At: time.Now(), Printer: &probe}); err != nil {
			t.Fatal(err)
		}
		if _, ok := tr.Printer(); ok {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("the tracker never heard a status report")
		case <-time.After(50 * time.Millisecond):
		}
	}

	pl, err := OpenPrintedLog(filepath.Join(t.TempDir(), "printed.log"), 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pl.Close() }) // after the agent stopped
	sink := newGateSink("text of web:1")
	a := NewAgent(agentQ, sink, pl, LayoutConfig{}, log)
	a.Name, a.RetryDelay = "venue", 10*time.Millisecond
	wg.Go(func() { a.Run(runCtx) })
	for {
		if st, _ := tr.Printer(); st.Agent == "venue" {
			if st.Known || st.Stale || st.Summary != "unknown" {
				t.Errorf("got printer state %+v, want unknown (a sink without status), fresh", st)
			}
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("no status report from the agent")
		case <-time.After(20 * time.Millisecond):
		}
	}

	for _, id := range []string{"web:1", "web:2", "web:3"} {
		if _, _, err := tr.Submit(ctx, controlJob(id)); err != nil {
			t.Fatal(err)
		}
		if id == "web:1" {
			waitTracked(t, tr, id, JobPrinting)
		}
	}
	queueTestDepth(t, hubQ, 2)
	if n, err := tr.Depth(ctx); err != nil || n != 2 {
		t.Errorf("Tracker.Depth: got %d, %v; want 2", n, err)
	}
	if err := tr.Cancel(ctx, "web:1"); !errors.Is(err, ErrTooLate) {
		t.Errorf("Cancel(printing): got %v, want ErrTooLate", err)
	}
	if err := tr.Cancel(ctx, "web:2"); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	if _, err := tr.Retry(ctx, "web:3"); !errors.Is(err, ErrNotRetryable) {
		t.Errorf("Retry(queued): got %v, want ErrNotRetryable", err)
	}
	waitCancelHeard(t, a, "web:2")
	close(sink.release)
	waitTracked(t, tr, "web:3", JobPrinted)
	for deadline := time.Now().Add(20 * time.Second); ; {
		mu.Lock()
		got := slices.Clone(kinds["web:2"])
		mu.Unlock()
		if slices.Equal(got, []EventKind{EventCancel, EventCancelled}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("events of web:2: got %v, want cancel, cancelled", got)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := sink.count("text of web:2"); n != 0 || pl.Has("web:2") {
		t.Errorf("the cancelled job printed %d times, recorded %v; want never", n, pl.Has("web:2"))
	}
	queueTestDepth(t, hubQ, 0)

	if _, err := tr.Retry(ctx, "web:2"); err != nil {
		t.Fatalf("Retry: %v", err)
	}
	waitTracked(t, tr, "web:2", JobPrinted)
	for id, want := range map[string]int{"web:1": 1, "web:2": 1, "web:3": 1} {
		if n := sink.count("text of " + id); n != want {
			t.Errorf("%s printed %d times, want %d", id, n, want)
		}
	}
}
