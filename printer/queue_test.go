package printer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// queueTestMaxDeliveries is the delivery limit both queues get in the shared suite.
const queueTestMaxDeliveries = 3

// queueTestStore opens a handle on one queue's storage (a directory, or broker names); each call opens a
// new handle on the same jobs. The returned func closes the handle, like a consumer going away.
type queueTestStore func(t *testing.T) (Queue, func())

// testQueue is the suite every Queue implementation passes. newStore makes fresh, empty storage.
func testQueue(t *testing.T, newStore func(t *testing.T) queueTestStore) {
	t.Run("PublishConsumeAck", func(t *testing.T) {
		q, closeQ := newStore(t)(t)
		defer closeQ()
		ctx := queueTestContext(t)
		want := queueTestJob("discord:1")
		want.Source, want.Amount, want.Currency = SourceTip, 1500, "PLN"
		if err := q.Publish(ctx, want); err != nil {
			t.Fatalf("Publish: %v", err)
		}
		d := queueTestNext(t, q)
		if diff := cmp.Diff(want, d.Job); diff != "" {
			t.Errorf("job (-want +got):\n%s", diff)
		}
		if d.Attempt != 1 {
			t.Errorf("got attempt %d, want 1", d.Attempt)
		}
		if err := d.Ack(ctx); err != nil {
			t.Fatalf("Ack: %v", err)
		}
		if err := d.Ack(ctx); !errors.Is(err, ErrAlreadySettled) {
			t.Errorf("second Ack: got %v, want ErrAlreadySettled", err)
		}
		queueTestEmpty(t, q)
	})

	t.Run("Order", func(t *testing.T) {
		q, closeQ := newStore(t)(t)
		defer closeQ()
		ctx := queueTestContext(t)
		var want, got []string
		for i := range 20 {
			id := fmt.Sprintf("order-%02d", i)
			want = append(want, id)
			if err := q.Publish(ctx, queueTestJob(id)); err != nil {
				t.Fatalf("Publish: %v", err)
			}
		}
		for range want {
			d := queueTestNext(t, q)
			got = append(got, d.Job.ID)
			if err := d.Ack(ctx); err != nil {
				t.Fatalf("Ack: %v", err)
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("order (-want +got):\n%s", diff)
		}
	})

	t.Run("RedeliverUnackedAfterClose", func(t *testing.T) {
		store := newStore(t)
		ctx := queueTestContext(t)
		q1, close1 := store(t)
		if err := q1.Publish(ctx, queueTestJob("unacked-1")); err != nil {
			t.Fatalf("Publish: %v", err)
		}
		d := queueTestNext(t, q1)
		close1() // the consumer goes away without acking
		if err := d.Ack(ctx); err == nil {
			t.Errorf("Ack after close: got nil, want an error")
		}
		q2, close2 := store(t)
		d = queueTestNext(t, q2)
		if d.Job.ID != "unacked-1" {
			t.Errorf("got job %q, want unacked-1 again", d.Job.ID)
		}
		if err := d.Ack(ctx); err != nil {
			t.Fatalf("Ack: %v", err)
		}
		close2()
		q3, close3 := store(t)
		defer close3()
		queueTestEmpty(t, q3)
	})

	t.Run("RetryCountsThenDeadLetters", func(t *testing.T) {
		q, closeQ := newStore(t)(t)
		defer closeQ()
		ctx := queueTestContext(t)
		if err := q.Publish(ctx, queueTestJob("retry-1")); err != nil {
			t.Fatalf("Publish: %v", err)
		}
		for want := 1; want <= queueTestMaxDeliveries; want++ {
			d := queueTestNext(t, q)
			if d.Attempt != want || d.MaxAttempts != queueTestMaxDeliveries {
				t.Errorf("got attempt %d of %d, want %d of %d", d.Attempt, d.MaxAttempts, want, queueTestMaxDeliveries)
			}
			if err := d.Retry(ctx, "paper out"); err != nil {
				t.Fatalf("Retry: %v", err)
			}
		}
		queueTestEmpty(t, q)
		dead := queueTestDead(t, q, 1)
		if dead[0].Job.ID != "retry-1" || !strings.Contains(dead[0].Reason, "delivery limit") {
			t.Errorf("got dead letter %q %q, want retry-1 with a delivery limit reason", dead[0].Job.ID, dead[0].Reason)
		}
	})

	t.Run("FailDeadLettersWithReason", func(t *testing.T) {
		q, closeQ := newStore(t)(t)
		defer closeQ()
		ctx := queueTestContext(t)
		for _, id := range []string{"fail-1", "fail-2"} {
			if err := q.Publish(ctx, queueTestJob(id)); err != nil {
				t.Fatalf("Publish: %v", err)
			}
		}
		d := queueTestNext(t, q)
		if err := d.Fail(ctx, "image too large"); err != nil {
			t.Fatalf("Fail: %v", err)
		}
		d = queueTestNext(t, q)
		if err := d.Ack(ctx); err != nil {
			t.Fatalf("Ack: %v", err)
		}
		queueTestEmpty(t, q)
		dead := queueTestDead(t, q, 1)
		if got, want := []string{dead[0].Job.ID, dead[0].Reason}, []string{"fail-1", "image too large"}; !slices.Equal(got, want) {
			t.Errorf("got dead letter %q, want %q", got, want)
		}
		if dead[0].Job.Text != "hello fail-1" {
			t.Errorf("got dead job text %q, want the whole job kept", dead[0].Job.Text)
		}
	})

	// The queue does not dedupe: a job published twice (a source retrying after a lost confirm) is
	// delivered twice, and the printer agent skips ids it already printed.
	t.Run("DuplicateIDsDeliveredTwice", func(t *testing.T) {
		q, closeQ := newStore(t)(t)
		defer closeQ()
		ctx := queueTestContext(t)
		for range 2 {
			if err := q.Publish(ctx, queueTestJob("dup-1")); err != nil {
				t.Fatalf("Publish: %v", err)
			}
		}
		for range 2 {
			d := queueTestNext(t, q)
			if d.Job.ID != "dup-1" {
				t.Errorf("got %q, want dup-1", d.Job.ID)
			}
			if err := d.Ack(ctx); err != nil {
				t.Fatalf("Ack: %v", err)
			}
		}
	})

	t.Run("ConcurrentPublishers", func(t *testing.T) {
		q, closeQ := newStore(t)(t)
		defer closeQ()
		ctx := queueTestContext(t)
		const publishers, each = 8, 25
		var wg sync.WaitGroup
		errs := make(chan error, publishers*each)
		for p := range publishers {
			wg.Go(func() {
				for i := range each {
					errs <- q.Publish(ctx, queueTestJob(fmt.Sprintf("conc-%d-%d", p, i)))
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("Publish: %v", err)
			}
		}
		seen := map[string]int{}
		for range publishers * each {
			d := queueTestNext(t, q)
			seen[d.Job.ID]++
			if err := d.Ack(ctx); err != nil {
				t.Fatalf("Ack: %v", err)
			}
		}
		if len(seen) != publishers*each {
			t.Errorf("got %d distinct jobs, want %d", len(seen), publishers*each)
		}
		queueTestEmpty(t, q)
	})

	t.Run("BadJobsRefused", func(t *testing.T) {
		q, closeQ := newStore(t)(t)
		defer closeQ()
		ctx := queueTestContext(t)
		for _, id := range []string{"", "a/b", "../x", ".hidden", "a b", "zażółć", "a\x00b", strings.Repeat("x", MaxJobIDLen+1)} {
			if err := q.Publish(ctx, queueTestJob(id)); !errors.Is(err, ErrBadJobID) {
				t.Errorf("Publish(%q): got %v, want ErrBadJobID", id, err)
			}
		}
		big := queueTestJob("big-1")
		big.Text = strings.Repeat("x", MaxJobBytes)
		if err := q.Publish(ctx, big); !errors.Is(err, ErrJobTooLarge) {
			t.Errorf("Publish(huge): got %v, want ErrJobTooLarge", err)
		}
		if err := q.PublishEvent(ctx, Event{JobID: "x", Kind: "exploded"}); err == nil {
			t.Errorf("PublishEvent(unknown kind): got nil, want an error")
		}
		queueTestEmpty(t, q)
	})

	t.Run("DepthCountsWaitingJobs", func(t *testing.T) {
		q, closeQ := newStore(t)(t)
		defer closeQ()
		ctx := queueTestContext(t)
		queueTestDepth(t, q, 0)
		for _, id := range []string{"depth-1", "depth-2", "depth-3"} {
			if err := q.Publish(ctx, queueTestJob(id)); err != nil {
				t.Fatalf("Publish: %v", err)
			}
		}
		queueTestDepth(t, q, 3)
		d := queueTestNext(t, q) // handed out, not settled: no longer waiting
		queueTestDepth(t, q, 2)
		if err := d.Retry(ctx, "paper out"); err != nil {
			t.Fatalf("Retry: %v", err)
		}
		queueTestDepth(t, q, 3)
		d = queueTestNext(t, q)
		if err := d.Ack(ctx); err != nil {
			t.Fatalf("Ack: %v", err)
		}
		queueTestDepth(t, q, 2)
		done, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := q.Depth(done); !errors.Is(err, context.Canceled) {
			t.Errorf("Depth with an ended context: got %v, want context.Canceled", err)
		}
	})

	t.Run("PublishedAtSurvivesRedelivery", func(t *testing.T) {
		q, closeQ := newStore(t)(t)
		defer closeQ()
		ctx := queueTestContext(t)
		before := time.Now()
		if err := q.Publish(ctx, queueTestJob("published-1")); err != nil {
			t.Fatalf("Publish: %v", err)
		}
		after := time.Now()
		d := queueTestNext(t, q)
		if got := d.PublishedAt; got.Before(before) || got.After(after) {
			t.Fatalf("got PublishedAt %v, want between %v and %v", got, before, after)
		}
		first := d.PublishedAt
		if err := d.Retry(ctx, "paper out"); err != nil {
			t.Fatalf("Retry: %v", err)
		}
		d = queueTestNext(t, q)
		if !d.PublishedAt.Equal(first) {
			t.Errorf("got PublishedAt %v on the second delivery, want %v as on the first", d.PublishedAt, first)
		}
		d.Ack(ctx)
	})

	t.Run("RequeueDeadLetter", func(t *testing.T) {
		q, closeQ := newStore(t)(t)
		defer closeQ()
		ctx := queueTestContext(t)
		for _, id := range []string{"requeue-1", "requeue-2"} {
			if err := q.Publish(ctx, queueTestJob(id)); err != nil {
				t.Fatalf("Publish: %v", err)
			}
			d := queueTestNext(t, q)
			if err := d.Fail(ctx, "cutter jammed"); err != nil {
				t.Fatalf("Fail: %v", err)
			}
		}
		queueTestDead(t, q, 2)
		if _, err := q.RequeueDeadLetter(ctx, "requeue-9"); !errors.Is(err, ErrNoDeadLetter) {
			t.Errorf("RequeueDeadLetter(unknown): got %v, want ErrNoDeadLetter", err)
		}
		if _, err := q.RequeueDeadLetter(ctx, "../x"); !errors.Is(err, ErrBadJobID) {
			t.Errorf("RequeueDeadLetter(bad id): got %v, want ErrBadJobID", err)
		}
		job, err := q.RequeueDeadLetter(ctx, "requeue-1")
		if err != nil {
			t.Fatalf("RequeueDeadLetter: %v", err)
		}
		if diff := cmp.Diff(queueTestJob("requeue-1"), job); diff != "" {
			t.Errorf("requeued job (-want +got):\n%s", diff)
		}
		d := queueTestNext(t, q)
		if d.Job.ID != "requeue-1" || d.Attempt != 1 {
			t.Errorf("got %s attempt %d, want requeue-1 attempt 1", d.Job.ID, d.Attempt)
		}
		if err := d.Ack(ctx); err != nil {
			t.Fatalf("Ack: %v", err)
		}
		queueTestEmpty(t, q)
		dead := queueTestDead(t, q, 1)
		if dead[0].Job.ID != "requeue-2" {
			t.Errorf("got dead letter %s, want only requeue-2 left", dead[0].Job.ID)
		}
		if _, err := q.RequeueDeadLetter(ctx, "requeue-1"); !errors.Is(err, ErrNoDeadLetter) {
			t.Errorf("RequeueDeadLetter again: got %v, want ErrNoDeadLetter", err)
		}
	})

	t.Run("EventKindsAndValidation", func(t *testing.T) {
		q, closeQ := newStore(t)(t)
		defer closeQ()
		ctx := queueTestContext(t)
		subCtx, cancel := context.WithCancel(ctx)
		defer cancel()
		events, err := q.Events(subCtx)
		if err != nil {
			t.Fatalf("Events: %v", err)
		}
		at := time.Date(2026, 5, 1, 20, 0, 0, 0, time.UTC)
		bad := []Event{
			{JobID: "x", Kind: "teleported"},
			{Kind: EventPrinted},
			{JobID: "x", Kind: EventStatus, Printer: &PrinterState{}},
			{Kind: EventStatus},
			{Kind: EventStatus, Printer: &PrinterState{Agent: strings.Repeat("a", maxAgentNameLen+1)}},
			{Kind: EventStatus, Printer: &PrinterState{Summary: "\xff"}},
			{JobID: "x", Kind: EventCancel, Printer: &PrinterState{}},
		}
		for _, ev := range bad {
			if err := q.PublishEvent(ctx, ev); err == nil {
				t.Errorf("PublishEvent(%+v): got nil, want an error", ev)
			}
		}
		var want []Event
		for _, k := range []EventKind{EventPrinting, EventPrinted, EventRetrying, EventFailed, EventCancelled, EventCancel, EventRequeued} {
			want = append(want, Event{JobID: "kinds-1", Kind: k, At: at})
		}
		want = append(want, Event{Kind: EventStatus, At: at, Printer: &PrinterState{Agent: "bar", Known: true, Online: true,
			PaperLow: true, Ready: true, Summary: "paper near end", At: at}})
		for _, ev := range want {
			if err := q.PublishEvent(ctx, ev); err != nil {
				t.Fatalf("PublishEvent(%s): %v", ev.Kind, err)
			}
		}
		var got []Event
		for len(got) < len(want) {
			select {
			case ev := <-events:
				got = append(got, ev)
			case <-ctx.Done():
				t.Fatalf("got events %v, want %v", got, want)
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("events (-want +got):\n%s", diff)
		}
	})

	t.Run("Events", func(t *testing.T) {
		q, closeQ := newStore(t)(t)
		defer closeQ()
		ctx := queueTestContext(t)
		subCtx, cancel := context.WithCancel(ctx)
		events, err := q.Events(subCtx)
		if err != nil {
			t.Fatalf("Events: %v", err)
		}
		at := time.Date(2026, 5, 1, 20, 0, 0, 0, time.UTC)
		want := []Event{
			{JobID: "ev-1", Kind: EventPrinted, At: at},
			{JobID: "ev-2", Kind: EventFailed, Reason: "cover open", At: at},
		}
		for _, ev := range want {
			if err := q.PublishEvent(ctx, ev); err != nil {
				t.Fatalf("PublishEvent: %v", err)
			}
		}
		var got []Event
		for len(got) < len(want) {
			select {
			case ev := <-events:
				got = append(got, ev)
			case <-ctx.Done():
				t.Fatalf("got events %v, want %v", got, want)
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("events (-want +got):\n%s", diff)
		}
		cancel()
		for range events { // closed once the subscription ends
		}
	})
}

// queueTestJob makes a small job.
func queueTestJob(id string) Job {
	return Job{ID: id, Source: SourceDiscord, Author: "ola", Text: "hello " + id, CreatedAt: time.Date(2026, 5, 1, 20, 0, 0, 0, time.UTC)}
}

// queueTestContext bounds a test.
func queueTestContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// queueTestLogger logs warnings and errors into the test output.
func queueTestLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// queueTestNext takes the next delivery or fails the test.
func queueTestNext(t *testing.T, q Queue) *Delivery {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	d, err := q.Next(ctx)
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return d
}

// queueTestEmpty checks that no job is delivered for a while.
func queueTestEmpty(t *testing.T, q Queue) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if d, err := q.Next(ctx); err == nil {
		t.Fatalf("got job %q, want an empty queue", d.Job.ID)
	} else if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next on an empty queue: got %v, want a deadline", err)
	}
}

// queueTestDepth waits until the queue's depth is want (the broker counts asynchronously).
func queueTestDepth(t *testing.T, q Queue, want int) {
	t.Helper()
	ctx := queueTestContext(t)
	for {
		got, err := q.Depth(ctx)
		if err != nil {
			t.Fatalf("Depth: %v", err)
		}
		if got == want {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("got depth %d, want %d", got, want)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// queueTestDead waits until the dead letters hold n jobs (the broker dead-letters asynchronously).
func queueTestDead(t *testing.T, q Queue, n int) []DeadLetter {
	t.Helper()
	ctx := queueTestContext(t)
	for {
		dead, err := q.DeadLetters(ctx, 100)
		if err != nil {
			t.Fatalf("DeadLetters: %v", err)
		}
		if len(dead) >= n {
			if len(dead) > n {
				t.Errorf("got %d dead letters, want %d", len(dead), n)
			}
			return dead
		}
		select {
		case <-ctx.Done():
			t.Fatalf("got %d dead letters, want %d", len(dead), n)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
