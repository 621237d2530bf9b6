package printer

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// gateSink prints at once, except receipts holding the text hold: those wait until release is closed, or
// their context ends.
type gateSink struct {
	hold    string
	release chan struct{}

	mu     sync.Mutex
	prints [][]byte
}

func newGateSink(hold string) *gateSink { return &gateSink{hold: hold, release: make(chan struct{})} }

func (s *gateSink) Print(ctx context.Context, data []byte) error {
	if s.hold != "" && bytes.Contains(data, []byte(s.hold)) {
		select {
		case <-s.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prints = append(s.prints, data)
	return nil
}

// count returns how many receipts holding text were printed.
func (s *gateSink) count(text string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, p := range s.prints {
		if bytes.Contains(p, []byte(text)) {
			n++
		}
	}
	return n
}

// controlFixture is a tracker and an agent on one disk queue, as in the embedded hub.
type controlFixture struct {
	*agentFixture
	tracker *Tracker
	agent   *Agent
}

// newControlFixture runs a tracker and an agent printing on sink (MaxDeliveries 3).
func newControlFixture(t *testing.T, sink Sink) *controlFixture {
	t.Helper()
	f := &controlFixture{agentFixture: newAgentFixture(t)}
	log := slog.New(slog.DiscardHandler)
	f.tracker = NewTracker(f.queue, 0, log)
	f.agent = NewAgent(f.queue, sink, f.printed, LayoutConfig{}, log)
	f.agent.RetryDelay = 10 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { f.tracker.Run(ctx) })
	wg.Go(func() { f.agent.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	return f
}

// controlJob makes a job whose receipt holds the text "text of ID".
func controlJob(id string) Job {
	return Job{ID: id, Source: SourceWeb, Author: "ola", Text: "text of " + id}
}

func (f *controlFixture) submit(t *testing.T, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if _, _, err := f.tracker.Submit(t.Context(), controlJob(id)); err != nil {
			t.Fatalf("Submit %s: %v", id, err)
		}
	}
}

// waitTracked waits until tr reports the job in state want.
func waitTracked(t *testing.T, tr *Tracker, id string, want JobState) JobStatus {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; {
		st, _ := tr.Status(id)
		if st.State == want {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s: got %q, want %q", id, st.State, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitCancelHeard waits until the agent remembers a cancel request for id.
func waitCancelHeard(t *testing.T, a *Agent, id string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; {
		a.mu.Lock()
		_, ok := a.cancels.get(id, time.Now())
		a.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the agent never heard the cancel request for %s", id)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitKinds waits until the events about id are want.
func (f *controlFixture) waitKinds(t *testing.T, id string, want []EventKind) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; {
		got := f.kinds(id)
		if cmp.Equal(want, got) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("events of %s (-want +got):\n%s", id, cmp.Diff(want, got))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestTrackerSeesPrintingThenPrinted(t *testing.T) {
	sink := newGateSink("text of web:1")
	f := newControlFixture(t, sink)
	updates := f.tracker.Subscribe(t.Context())
	f.submit(t, "web:1")
	waitTracked(t, f.tracker, "web:1", JobPrinting)
	if got := f.tracker.Pending(); len(got) != 1 || got[0].ID != "web:1" {
		t.Errorf("got pending %+v, want the printing job first in line", got)
	}
	close(sink.release)
	waitTracked(t, f.tracker, "web:1", JobPrinted)
	var got []JobState
	for len(got) < 2 {
		select {
		case st := <-updates:
			got = append(got, st.State)
		case <-time.After(10 * time.Second):
			t.Fatalf("got updates %v, want printing and printed", got)
		}
	}
	if diff := cmp.Diff([]JobState{JobPrinting, JobPrinted}, got); diff != "" {
		t.Errorf("updates (-want +got):\n%s", diff)
	}
	if n := sink.count("text of web:1"); n != 1 {
		t.Errorf("printed %d times, want once", n)
	}
}

// TestTrackerCancel: a queued job cancelled never reaches the printer, ends cancelled, and is not recorded
// as printed; a job printing or printed cannot be cancelled.
func TestTrackerCancel(t *testing.T) {
	sink := newGateSink("text of web:1")
	f := newControlFixture(t, sink)
	ctx := t.Context()
	f.submit(t, "web:1")
	waitTracked(t, f.tracker, "web:1", JobPrinting)
	f.submit(t, "web:2", "web:3")
	queueTestDepth(t, f.queue, 2)

	if err := f.tracker.Cancel(ctx, "web:1"); !errors.Is(err, ErrTooLate) {
		t.Errorf("Cancel(printing): got %v, want ErrTooLate", err)
	}
	if err := f.tracker.Cancel(ctx, "web:9"); !errors.Is(err, ErrUnknownJob) {
		t.Errorf("Cancel(unknown): got %v, want ErrUnknownJob", err)
	}
	if err := f.tracker.Cancel(ctx, "web:2"); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	if st, _ := f.tracker.Status("web:2"); st.State != JobCancelled {
		t.Errorf("after Cancel: got %q, want cancelled", st.State)
	}
	if err := f.tracker.Cancel(ctx, "web:2"); err != nil {
		t.Errorf("Cancel again: got %v, want nil", err)
	}
	if got := f.tracker.Pending(); len(got) != 2 || got[0].ID != "web:1" || got[1].ID != "web:3" {
		t.Errorf("got pending %+v, want web:1 and web:3", got)
	}
	waitCancelHeard(t, f.agent, "web:2")

	close(sink.release)
	waitTracked(t, f.tracker, "web:3", JobPrinted)
	f.waitKinds(t, "web:2", []EventKind{EventCancel, EventCancel, EventCancelled})
	if st, _ := f.tracker.Status("web:2"); st.State != JobCancelled {
		t.Errorf("got %q, want cancelled", st.State)
	}
	for text, want := range map[string]int{"text of web:1": 1, "text of web:2": 0, "text of web:3": 1} {
		if n := sink.count(text); n != want {
			t.Errorf("%q printed %d times, want %d", text, n, want)
		}
	}
	if f.printed.Has("web:2") {
		t.Error("the cancelled job is in the record of printed jobs")
	}
	queueTestDepth(t, f.queue, 0)
	if dead, _ := f.queue.DeadLetters(ctx, 10); len(dead) != 0 {
		t.Errorf("got dead letters %+v, want none", dead)
	}
	if err := f.tracker.Cancel(ctx, "web:1"); !errors.Is(err, ErrTooLate) {
		t.Errorf("Cancel(printed): got %v, want ErrTooLate", err)
	}
}

// TestAgentAnswersALateCancel: a cancel request for the job being printed, or for one printed already (a
// hub that had not heard yet), is answered with printing or printed, and the job prints once.
func TestAgentAnswersALateCancel(t *testing.T) {
	sink := newGateSink("text of web:1")
	f := newControlFixture(t, sink)
	ctx := t.Context()
	f.submit(t, "web:1")
	waitTracked(t, f.tracker, "web:1", JobPrinting)
	if err := f.queue.PublishEvent(ctx, Event{JobID: "web:1", Kind: EventCancel, At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	f.waitKinds(t, "web:1", []EventKind{EventPrinting, EventCancel, EventPrinting})
	close(sink.release)
	waitTracked(t, f.tracker, "web:1", JobPrinted)
	if err := f.queue.PublishEvent(ctx, Event{JobID: "web:1", Kind: EventCancel, At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	f.waitKinds(t, "web:1", []EventKind{EventPrinting, EventCancel, EventPrinting, EventPrinted, EventCancel, EventPrinted})
	if st, _ := f.tracker.Status("web:1"); st.State != JobPrinted {
		t.Errorf("got %q, want printed", st.State)
	}
	if n := sink.count("text of web:1"); n != 1 {
		t.Errorf("printed %d times, want once", n)
	}
}

// TestTrackerRetryFailed: a job that failed into the dead letters is queued again by Retry, prints once,
// and leaves the dead letters.
func TestTrackerRetryFailed(t *testing.T) {
	sink := &recordingSink{printed: make(chan struct{}, 1), fail: errors.New("serial device gone"), failures: 3}
	f := newControlFixture(t, sink)
	ctx := t.Context()
	f.submit(t, "web:1")
	st := waitTracked(t, f.tracker, "web:1", JobFailed)
	if want := "printer failed 3 times: serial device gone"; st.Reason != want {
		t.Errorf("got reason %q, want %q", st.Reason, want)
	}
	queueTestDead(t, f.queue, 1)

	st, err := f.tracker.Retry(ctx, "web:1")
	if err != nil || st.State != JobQueued {
		t.Fatalf("Retry: got %+v, %v; want queued", st, err)
	}
	waitTracked(t, f.tracker, "web:1", JobPrinted)
	if n := sink.count(); n != 1 {
		t.Errorf("printed %d receipts, want 1", n)
	}
	if dead, _ := f.queue.DeadLetters(ctx, 10); len(dead) != 0 {
		t.Errorf("got dead letters %+v, want none after the retry", dead)
	}
	f.waitKinds(t, "web:1", []EventKind{
		EventPrinting, EventRetrying, EventPrinting, EventRetrying, EventPrinting, EventFailed,
		EventRequeued, EventPrinting, EventPrinted,
	})
	if _, err := f.tracker.Retry(ctx, "web:1"); !errors.Is(err, ErrNotRetryable) {
		t.Errorf("Retry(printed): got %v, want ErrNotRetryable", err)
	}
	if _, err := f.tracker.Retry(ctx, "web:9"); !errors.Is(err, ErrUnknownJob) {
		t.Errorf("Retry(unknown): got %v, want ErrUnknownJob", err)
	}
	if _, ok := f.tracker.Status("web:9"); ok {
		t.Error("a failed Retry left a status behind")
	}
}

// TestTrackerRetryCancelled: a job cancelled and retried before the agent reached it prints once: the
// agent drops the copy published before the cancel and prints the one published by Retry.
func TestTrackerRetryCancelled(t *testing.T) {
	sink := newGateSink("text of web:1")
	f := newControlFixture(t, sink)
	ctx := t.Context()
	f.submit(t, "web:1")
	waitTracked(t, f.tracker, "web:1", JobPrinting)
	f.submit(t, "web:2")
	if err := f.tracker.Cancel(ctx, "web:2"); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	waitCancelHeard(t, f.agent, "web:2")
	if _, err := f.tracker.Retry(ctx, "web:2"); err != nil {
		t.Fatalf("Retry: %v", err)
	}
	if _, err := f.tracker.Retry(ctx, "web:2"); !errors.Is(err, ErrNotRetryable) {
		t.Errorf("Retry(queued): got %v, want ErrNotRetryable", err)
	}
	queueTestDepth(t, f.queue, 2) // the cancelled copy and the new one
	close(sink.release)
	waitTracked(t, f.tracker, "web:2", JobPrinted)
	f.waitKinds(t, "web:2", []EventKind{EventCancel, EventRequeued, EventCancelled, EventPrinting, EventPrinted})
	if n := sink.count("text of web:2"); n != 1 {
		t.Errorf("printed %d times, want once", n)
	}
	queueTestDepth(t, f.queue, 0)
}

// TestTrackerRetryElsewhere: a hub that did not submit a job can retry it when it failed (from the dead
// letters), and resubmit it with the job when it was cancelled.
func TestTrackerRetryElsewhere(t *testing.T) {
	sink := newGateSink("text of web:1")
	f := newControlFixture(t, sink)
	ctx := t.Context()
	other := NewTracker(f.queue, 0, slog.New(slog.DiscardHandler))
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { other.Run(runCtx); close(done) }()
	defer func() { stop(); <-done }()

	f.submit(t, "web:1") // holds the agent
	waitTracked(t, f.tracker, "web:1", JobPrinting)
	// A job that failed before this hub started: its dead letter is all anyone has of it.
	if err := f.queue.Publish(ctx, controlJob("web:5")); err != nil {
		t.Fatal(err)
	}
	d := queueTestNext(t, f.queue)
	if d.Job.ID != "web:5" {
		t.Fatalf("got %s, want web:5", d.Job.ID)
	}
	if err := d.Fail(ctx, "cover open"); err != nil {
		t.Fatal(err)
	}
	if st, err := other.Retry(ctx, "web:5"); err != nil || st.State != JobQueued {
		t.Fatalf("Retry from the dead letters: got %+v, %v; want queued", st, err)
	}
	if job, ok := other.Job("web:5"); !ok || job.Text != "text of web:5" {
		t.Errorf("Job after Retry: got %+v, %v; want the dead letter's job", job, ok)
	}

	f.submit(t, "web:2")
	if err := f.tracker.Cancel(ctx, "web:2"); err != nil {
		t.Fatal(err)
	}
	waitTracked(t, other, "web:2", JobCancelled)
	if _, err := other.Retry(ctx, "web:2"); !errors.Is(err, ErrUnknownJob) {
		t.Errorf("Retry(cancelled elsewhere): got %v, want ErrUnknownJob", err)
	}
	if _, err := other.Resubmit(ctx, Job{ID: "web:2", Source: "fax"}); !errors.Is(err, ErrBadJob) {
		t.Errorf("Resubmit(bad job): got %v, want ErrBadJob", err)
	}
	if st, err := other.Resubmit(ctx, controlJob("web:2")); err != nil || st.State != JobQueued {
		t.Fatalf("Resubmit: got %+v, %v; want queued", st, err)
	}
	waitTracked(t, f.tracker, "web:2", JobQueued)

	close(sink.release)
	for _, tr := range []*Tracker{f.tracker, other} {
		waitTracked(t, tr, "web:5", JobPrinted)
		waitTracked(t, tr, "web:2", JobPrinted)
	}
	for _, text := range []string{"text of web:5", "text of web:2"} {
		if n := sink.count(text); n != 1 {
			t.Errorf("%q printed %d times, want once", text, n)
		}
	}
}
