package printer

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// recordingSink is a printer that keeps what it printed and can be made to fail.
type recordingSink struct {
	mu       sync.Mutex
	prints   [][]byte
	fail     error
	failures int // how many more Prints fail with fail
	printed  chan struct{}
}

func (s *recordingSink) Print(_ context.Context, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failures > 0 {
		s.failures--
		return s.fail
	}
	s.prints = append(s.prints, data)
	select {
	case s.printed <- struct{}{}:
	default:
	}
	return nil
}

func (s *recordingSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.prints)
}

type agentFixture struct {
	queue   *DiskQueue
	sink    *recordingSink
	printed *PrintedLog
	events  <-chan Event // the jobs' outcomes: printed, failed, cancelled
	dir     string

	mu  sync.Mutex
	all []Event // every event but status reports, in order
}

func newAgentFixture(t *testing.T) *agentFixture {
	t.Helper()
	dir := t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	q, err := OpenDiskQueue(DiskQueueConfig{Dir: filepath.Join(dir, "queue"), MaxDeliveries: 3}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	pl, err := OpenPrintedLog(filepath.Join(dir, "printed.log"), 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pl.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	events, err := q.Events(ctx)
	if err != nil {
		t.Fatal(err)
	}
	outcomes := make(chan Event, 256)
	f := &agentFixture{queue: q, sink: &recordingSink{printed: make(chan struct{}, 1)}, printed: pl, events: outcomes, dir: dir}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range events {
			if ev.Kind == EventStatus {
				continue // heartbeats would crowd out the rest
			}
			f.mu.Lock()
			f.all = append(f.all, ev)
			f.mu.Unlock()
			if ev.Kind == EventPrinted || ev.Kind == EventFailed || ev.Kind == EventCancelled {
				select {
				case outcomes <- ev:
				case <-ctx.Done():
				}
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return f
}

// kinds returns the kinds of the events about job id so far, in order.
func (f *agentFixture) kinds(id string) []EventKind {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []EventKind
	for _, ev := range f.all {
		if ev.JobID == id {
			out = append(out, ev.Kind)
		}
	}
	return out
}

// run runs an agent until stop is called.
func (f *agentFixture) run(t *testing.T) (stop func()) {
	t.Helper()
	a := NewAgent(f.queue, f.sink, f.printed, LayoutConfig{Header: "test"}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	a.RetryDelay = 10 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Run(ctx); close(done) }()
	return func() { cancel(); <-done }
}

func (f *agentFixture) waitEvent(t *testing.T) Event {
	t.Helper()
	select {
	case ev := <-f.events:
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event")
		return Event{}
	}
}

func TestAgentPrintsOnceAndReports(t *testing.T) {
	f := newAgentFixture(t)
	job := Job{ID: "web:1", Source: SourceWeb, Author: "Ola", Text: "cześć", CreatedAt: time.Unix(0, 0)}
	ctx := context.Background()
	if err := f.queue.Publish(ctx, job); err != nil {
		t.Fatal(err)
	}
	stop := f.run(t)
	defer stop()
	if ev := f.waitEvent(t); ev.JobID != job.ID || ev.Kind != EventPrinted {
		t.Fatalf("event = %+v, want printed %s", ev, job.ID)
	}
	want, _ := Render(job, LayoutConfig{Header: "test"})
	f.sink.mu.Lock()
	got := f.sink.prints
	f.sink.mu.Unlock()
	if len(got) != 1 || !bytes.Equal(got[0], want) {
		t.Fatalf("printed %d receipts, want the rendered job once", len(got))
	}

	// The source retries: the same id is queued again, and is acknowledged without printing, but reported
	// printed again for a hub that missed it.
	if err := f.queue.Publish(ctx, job); err != nil {
		t.Fatal(err)
	}
	second := Job{ID: "web:2", Source: SourceWeb, Text: "druga"}
	f.queue.Publish(ctx, second)
	for _, want := range []string{job.ID, second.ID} {
		if ev := f.waitEvent(t); ev.JobID != want || ev.Kind != EventPrinted {
			t.Fatalf("event = %+v, want printed %s", ev, want)
		}
	}
	if n := f.sink.count(); n != 2 {
		t.Errorf("%d receipts printed, want 2 (the repeat of %s is not printed)", n, job.ID)
	}
	wantKinds := []EventKind{EventPrinting, EventPrinted, EventPrinted}
	if diff := cmp.Diff(wantKinds, f.kinds(job.ID)); diff != "" {
		t.Errorf("events of %s (-want +got):\n%s", job.ID, diff)
	}
}

func TestAgentRecordSurvivesRestart(t *testing.T) {
	f := newAgentFixture(t)
	if err := f.printed.Add("tip:7"); err != nil {
		t.Fatal(err)
	}
	f.printed.Close()
	again, err := OpenPrintedLog(filepath.Join(f.dir, "printed.log"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if !again.Has("tip:7") || again.Has("tip:8") {
		t.Error("the reopened record does not match what was added")
	}
}

func TestAgentFailsUnprintableJobs(t *testing.T) {
	f := newAgentFixture(t)
	bad := Job{ID: "tip:9", Source: SourceTip, Amount: -5, Currency: "PLN"}
	f.queue.Publish(context.Background(), bad)
	stop := f.run(t)
	defer stop()
	if ev := f.waitEvent(t); ev.Kind != EventFailed || ev.Reason == "" {
		t.Fatalf("event = %+v, want failed with a reason", ev)
	}
	dead, err := f.queue.DeadLetters(context.Background(), 10)
	if err != nil || len(dead) != 1 || dead[0].Job.ID != bad.ID {
		t.Fatalf("dead letters = %+v, %v; want the bad job", dead, err)
	}
}

func TestAgentRetriesWhenThePrinterFails(t *testing.T) {
	f := newAgentFixture(t)
	f.sink.fail, f.sink.failures = errors.New("serial device gone"), 2
	job := Job{ID: "discord:5", Source: SourceDiscord, Author: "a", Text: "b"}
	f.queue.Publish(context.Background(), job)
	stop := f.run(t)
	defer stop()
	if ev := f.waitEvent(t); ev.Kind != EventPrinted || ev.JobID != job.ID {
		t.Fatalf("event = %+v, want printed after the printer recovered", ev)
	}
}

// TestAgentFailsAtTheDeliveryLimit: a printer that keeps failing uses up the job's deliveries; the last
// one fails the job with the printer's error, into the dead letters and as an event.
func TestAgentFailsAtTheDeliveryLimit(t *testing.T) {
	f := newAgentFixture(t)
	f.sink.fail, f.sink.failures = errors.New("serial device gone"), 1000
	job := Job{ID: "discord:6", Source: SourceDiscord, Author: "a", Text: "b"}
	if err := f.queue.Publish(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	stop := f.run(t)
	defer stop()
	ev := f.waitEvent(t)
	wantReason := "printer failed 3 times: serial device gone"
	if ev.JobID != job.ID || ev.Kind != EventFailed || ev.Reason != wantReason {
		t.Fatalf("got event %+v, want failed %s with reason %q", ev, job.ID, wantReason)
	}
	dead, err := f.queue.DeadLetters(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) != 1 || dead[0].Job.ID != job.ID || dead[0].Reason != wantReason {
		t.Fatalf("got dead letters %+v, want %s with reason %q", dead, job.ID, wantReason)
	}
	f.sink.mu.Lock()
	left := f.sink.failures
	f.sink.mu.Unlock()
	if tries := 1000 - left; tries != 3 {
		t.Errorf("got %d print attempts, want 3 (MaxDeliveries)", tries)
	}
}

func TestPrintedLogForgetsOldest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "printed.log")
	l, err := OpenPrintedLog(path, 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8"} {
		if err := l.Add(id); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	l, err = OpenPrintedLog(path, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for id, want := range map[string]bool{"a5": false, "a6": true, "a8": true} {
		if l.Has(id) != want {
			t.Errorf("Has(%s) = %v, want %v", id, !want, want)
		}
	}
	if err := l.Add("bad id with spaces"); err == nil {
		t.Error("Add accepted an invalid id")
	}
}

// TestAgentMarksAReprint: a job whose print failed part-way prints again marked as a reprint, so whoever
// finds the first copy knows; a job printed at the first try is not marked.
func TestAgentMarksAReprint(t *testing.T) {
	f := newAgentFixture(t)
	f.sink.fail, f.sink.failures = errors.New("serial device gone"), 1
	job := Job{ID: "discord:7", Source: SourceDiscord, Author: "a", Text: "b"}
	next := Job{ID: "discord:8", Source: SourceDiscord, Author: "a", Text: "c"}
	f.queue.Publish(context.Background(), job)
	f.queue.Publish(context.Background(), next)
	stop := f.run(t)
	defer stop()
	for _, want := range []string{job.ID, next.ID} {
		if ev := f.waitEvent(t); ev.Kind != EventPrinted || ev.JobID != want {
			t.Fatalf("event = %+v, want printed %s", ev, want)
		}
	}
	f.sink.mu.Lock()
	defer f.sink.mu.Unlock()
	mark := EncodePC852(ReprintMark)
	if len(f.sink.prints) != 2 || !bytes.Contains(f.sink.prints[0], mark) || bytes.Contains(f.sink.prints[1], mark) {
		t.Errorf("got %d receipts, want the retried job marked %q and the next one not", len(f.sink.prints), ReprintMark)
	}
}

func TestPrintedLogBeginSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "printed.log")
	l, err := OpenPrintedLog(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		id   string
		want bool
	}{{"a", false}, {"a", true}, {"b", false}} {
		if got, err := l.Begin(step.id); err != nil || got != step.want {
			t.Fatalf("Begin(%s) = %v, %v; want %v", step.id, got, err, step.want)
		}
	}
	l.Close()
	// The process died while printing b.
	l, err = OpenPrintedLog(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if got, err := l.Begin("b"); err != nil || !got {
		t.Errorf("Begin(b) after a restart = %v, %v; want interrupted", got, err)
	}
	if _, err := l.Begin("bad id"); !errors.Is(err, ErrBadJobID) {
		t.Errorf("Begin(bad id): got %v, want ErrBadJobID", err)
	}
}
