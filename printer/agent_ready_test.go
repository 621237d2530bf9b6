package printer

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// waitingSink is a printer that can be not ready (WaitReady blocks) and whose prints can hang until
// their context ends, like a Link while paper is out.
type waitingSink struct {
	mu      sync.Mutex
	ready   bool
	changed chan struct{} // closed and replaced when ready changes
	hang    bool          // Print blocks until ctx ends
	status  Status
	prints  int // Print calls
	waits   int // WaitReady calls that had to wait
}

func newWaitingSink() *waitingSink {
	return &waitingSink{ready: true, changed: make(chan struct{})}
}

func (s *waitingSink) setReady(ready bool, status Status) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ready, s.status = ready, status
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *waitingSink) WaitReady(ctx context.Context) error {
	waited := false
	for {
		s.mu.Lock()
		ready, changed := s.ready, s.changed
		if !ready && !waited {
			waited = true
			s.waits++
		}
		s.mu.Unlock()
		if ready {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		}
	}
}

func (s *waitingSink) Status() (Status, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status, true
}

func (s *waitingSink) Print(ctx context.Context, data []byte) error {
	s.mu.Lock()
	s.prints++
	hang := s.hang
	s.mu.Unlock()
	if hang {
		<-ctx.Done()
		return fmt.Errorf("printer: print interrupted: %w", ctx.Err())
	}
	return nil
}

func (s *waitingSink) counts() (prints, waits int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.prints, s.waits
}

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// pendingAttempts lists the deliveries so far of each job waiting in the disk queue (not handed out).
func pendingAttempts(q *DiskQueue) []int {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []int
	for _, e := range q.pending {
		out = append(out, e.attempts)
	}
	return out
}

// TestAgentPrintTimeoutSynctest: a print that hangs (paper out mid-job) ends at PrintTimeout, the job goes
// back to the queue with the printer's status as the reason, and the agent takes no job while the printer
// is not ready, however long that lasts; once it is ready the job prints.
func TestAgentPrintTimeoutSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newAgentFixture(t)
		sink := newWaitingSink()
		sink.hang = true
		job := Job{ID: "web:7", Source: SourceWeb, Text: "hello"}
		if err := f.queue.Publish(t.Context(), job); err != nil {
			t.Fatal(err)
		}
		var logs syncBuffer
		a := NewAgent(f.queue, sink, f.printed, LayoutConfig{}, slog.New(slog.NewTextHandler(&logs, nil)))
		a.PrintTimeout, a.RetryDelay = time.Minute, time.Second
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- a.Run(ctx) }()

		synctest.Wait()
		if prints, _ := sink.counts(); prints != 1 {
			t.Fatalf("got %d prints, want 1 hanging", prints)
		}
		sink.setReady(false, Status{Offline: true, PaperEnd: true})
		time.Sleep(time.Minute)
		synctest.Wait()
		if got := pendingAttempts(f.queue); len(got) != 1 || got[0] != 1 {
			t.Fatalf("got pending jobs with attempts %v, want the job back after 1 delivery", got)
		}
		wantReason := "print not finished after 1m0s, printer status: offline, paper end"
		if !strings.Contains(logs.String(), wantReason) {
			t.Errorf("got logs:\n%s\nwant the reason %q", logs.String(), wantReason)
		}

		time.Sleep(3 * time.Hour) // far beyond consumer_timeout: the agent must not have taken the job
		synctest.Wait()
		if prints, waits := sink.counts(); prints != 1 || waits != 1 {
			t.Fatalf("got %d prints and %d waits for the printer, want 1 and 1", prints, waits)
		}
		if got := pendingAttempts(f.queue); len(got) != 1 {
			t.Fatalf("got pending jobs with attempts %v, want the job still queued", got)
		}

		sink.mu.Lock()
		sink.hang = false
		sink.mu.Unlock()
		sink.setReady(true, Status{})
		if ev := <-f.events; ev.JobID != job.ID || ev.Kind != EventPrinted {
			t.Fatalf("got event %+v, want printed %s", ev, job.ID)
		}
		if prints, _ := sink.counts(); prints != 2 {
			t.Errorf("got %d prints, want 2", prints)
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

// TestAgentPrintTimeoutLastAttemptSynctest: a print that times out on the job's last attempt fails the
// job with the timeout as the reason.
func TestAgentPrintTimeoutLastAttemptSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newAgentFixture(t)
		sink := newWaitingSink()
		sink.hang = true
		sink.status = Status{CoverOpen: true, Offline: true}
		job := Job{ID: "web:8", Source: SourceWeb, Text: "hello"}
		if err := f.queue.Publish(t.Context(), job); err != nil {
			t.Fatal(err)
		}
		a := NewAgent(f.queue, sink, f.printed, LayoutConfig{}, slog.New(slog.DiscardHandler))
		a.PrintTimeout, a.RetryDelay = time.Minute, time.Second
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- a.Run(ctx) }()
		ev := <-f.events // a lost event shows as a synctest deadlock
		want := "printer failed 3 times: print not finished after 1m0s, printer status: offline, cover open"
		if ev.Kind != EventFailed || ev.Reason != want {
			t.Errorf("got event %+v, want failed with reason %q", ev, want)
		}
		cancel()
		<-done
	})
}

// TestAgentFinishesTheJobAtShutdownSynctest: a print still running when Run's context ends may go on for
// FinishTimeout, and is then put back, not failed, even on its last attempt.
func TestAgentFinishesTheJobAtShutdownSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		q, err := OpenDiskQueue(DiskQueueConfig{Dir: filepath.Join(dir, "queue"), MaxDeliveries: 1}, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		pl, err := OpenPrintedLog(filepath.Join(dir, "printed.log"), 0)
		if err != nil {
			t.Fatal(err)
		}
		defer pl.Close()
		if err := q.Publish(t.Context(), Job{ID: "web:9", Source: SourceWeb, Text: "x"}); err != nil {
			t.Fatal(err)
		}
		sink := newWaitingSink()
		sink.hang = true
		a := NewAgent(q, sink, pl, LayoutConfig{}, slog.New(slog.DiscardHandler))
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- a.Run(ctx) }()
		synctest.Wait()
		start := time.Now()
		cancel()
		<-done
		if took := time.Since(start); took != a.FinishTimeout {
			t.Errorf("Run returned %v after its context ended, want FinishTimeout %v", took, a.FinishTimeout)
		}
		if dead, _ := q.DeadLetters(t.Context(), 10); len(dead) != 0 {
			t.Errorf("got dead letters %+v, want none: shutdown is not the job's failure", dead)
		}
	})
}
