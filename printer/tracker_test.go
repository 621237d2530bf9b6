package printer

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestJobValidate(t *testing.T) {
	ok := Job{ID: "api:1", Source: SourceWeb, Author: "Ala", Text: "cześć"}
	tip := Job{ID: "tip:1", Source: SourceTip, Author: "Bob", Amount: 500, Currency: "PLN"}
	tests := []struct {
		name string
		job  func(j Job) Job
		base Job
		want error // nil: valid
	}{
		{"valid", func(j Job) Job { return j }, ok, nil},
		{"valid tip without text", func(j Job) Job { return j }, tip, nil},
		{"control bytes are dropped, not refused", func(j Job) Job { j.Text = "a\x1b@b"; return j }, ok, nil},
		{"text at the limit", func(j Job) Job { j.Text = strings.Repeat("ż", MaxTextRunes); return j }, ok, nil},
		{"no id", func(j Job) Job { j.ID = ""; return j }, ok, ErrBadJobID},
		{"id with a space", func(j Job) Job { j.ID = "a b"; return j }, ok, ErrBadJobID},
		{"unknown source", func(j Job) Job { j.Source = "fax"; return j }, ok, ErrBadJob},
		{"text too long", func(j Job) Job { j.Text = strings.Repeat("ż", MaxTextRunes+1); return j }, ok, ErrBadJob},
		{"author too long", func(j Job) Job { j.Author = strings.Repeat("a", MaxAuthorRunes+1); return j }, ok, ErrBadJob},
		{"invalid UTF-8", func(j Job) Job { j.Text = "a\xffb"; return j }, ok, ErrBadJob},
		{"empty text", func(j Job) Job { j.Text = " \n\t"; return j }, ok, ErrBadJob},
		{"only control bytes", func(j Job) Job { j.Text = "\x1b\x1d\x10"; return j }, ok, ErrBadJob},
		{"amount on a message", func(j Job) Job { j.Amount = 5; return j }, ok, ErrBadJob},
		{"tip without currency", func(j Job) Job { j.Currency = ""; return j }, tip, ErrBadJob},
		{"negative tip", func(j Job) Job { j.Amount = -1; return j }, tip, ErrBadJob},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.job(tt.base).Validate()
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
		})
	}
}

// FuzzJobValidate: every job Validate accepts renders.
func FuzzJobValidate(f *testing.F) {
	f.Add("api:1", "web", "Ala", "cześć", int64(0), "")
	f.Add("tip:1", "tip", "Bob", "", int64(1250), "pln")
	f.Add("x", "admin", "\x1b", "\x1b@\xff", int64(-1), "€")
	f.Fuzz(func(t *testing.T, id, source, author, text string, amount int64, currency string) {
		job := Job{ID: id, Source: Source(source), Author: author, Text: text, Amount: amount, Currency: currency}
		if job.Validate() != nil {
			return
		}
		if _, err := Render(job, LayoutConfig{}); err != nil {
			t.Fatalf("Validate accepted %+v but Render says %v", job, err)
		}
	})
}

type trackerFixture struct {
	queue   *DiskQueue
	tracker *Tracker
}

func newTrackerFixture(t *testing.T, max int) *trackerFixture {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	q, err := OpenDiskQueue(DiskQueueConfig{Dir: filepath.Join(t.TempDir(), "queue")}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	tr := NewTracker(q, max, log)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { tr.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return &trackerFixture{queue: q, tracker: tr}
}

func (f *trackerFixture) waitState(t *testing.T, id string, want JobState) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; {
		st, _ := f.tracker.Status(id)
		if st.State == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s: got status %q, want %q", id, st.State, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (f *trackerFixture) event(t *testing.T, id string, kind EventKind, reason string) {
	t.Helper()
	if err := f.queue.PublishEvent(t.Context(), Event{JobID: id, Kind: kind, Reason: reason, At: time.Now()}); err != nil {
		t.Fatal(err)
	}
}

func TestTrackerFollowsJobs(t *testing.T) {
	f := newTrackerFixture(t, 0)
	job := Job{ID: "api:1", Source: SourceWeb, Author: "Ala", Text: "cześć", CreatedAt: time.Now()}
	st, dup, err := f.tracker.Submit(t.Context(), job)
	if err != nil || dup || st.State != JobQueued {
		t.Fatalf("Submit: got %+v, duplicate %v, %v; want queued", st, dup, err)
	}
	if got, ok := f.tracker.Job("api:1"); !ok || got.Text != "cześć" {
		t.Errorf("Job: got %+v, %v; want the submitted job", got, ok)
	}
	// A source that retries does not queue the job twice.
	if _, dup, err := f.tracker.Submit(t.Context(), job); err != nil || !dup {
		t.Errorf("Submit again: duplicate %v, %v; want duplicate", dup, err)
	}
	d, err := f.queue.Next(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	d.Ack(t.Context())
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if d, err := f.queue.Next(ctx); err == nil {
		t.Errorf("the queue holds %s twice", d.Job.ID)
	}

	f.event(t, "api:1", EventPrinted, "")
	f.waitState(t, "api:1", JobPrinted)
	// A late failure of an earlier delivery does not unprint it.
	f.event(t, "api:1", EventFailed, "late")
	f.event(t, "other:2", EventFailed, "paper jam") // a job submitted elsewhere
	f.waitState(t, "other:2", JobFailed)
	if st, _ := f.tracker.Status("api:1"); st.State != JobPrinted {
		t.Errorf("after a late failure: got %q, want printed", st.State)
	}
	if st, _ := f.tracker.Status("other:2"); st.Reason != "paper jam" {
		t.Errorf("reason: got %q, want %q", st.Reason, "paper jam")
	}
	if _, ok := f.tracker.Job("other:2"); ok {
		t.Error("Job(other:2) found, want only jobs submitted here")
	}

	// A failed job may be submitted again.
	f.event(t, "api:3", EventFailed, "offline")
	f.waitState(t, "api:3", JobFailed)
	if st, dup, err := f.tracker.Submit(t.Context(), Job{ID: "api:3", Source: SourceAdmin, Text: "again"}); err != nil || dup || st.State != JobQueued {
		t.Errorf("Submit after failure: got %+v, duplicate %v, %v; want queued", st, dup, err)
	}
}

func TestTrackerRefusesWithoutQueueing(t *testing.T) {
	f := newTrackerFixture(t, 0)
	if _, _, err := f.tracker.Submit(t.Context(), Job{ID: "api:1", Source: "fax", Text: "x"}); !errors.Is(err, ErrBadJob) {
		t.Errorf("bad job: got %v, want ErrBadJob", err)
	}
	if _, ok := f.tracker.Status("api:1"); ok {
		t.Error("a refused job has a status")
	}
	f.queue.Close()
	if _, _, err := f.tracker.Submit(t.Context(), Job{ID: "api:2", Source: SourceWeb, Text: "x"}); !errors.Is(err, ErrQueueClosed) {
		t.Errorf("closed queue: got %v, want ErrQueueClosed", err)
	}
	if _, ok := f.tracker.Status("api:2"); ok {
		t.Error("a job the queue did not take has a status")
	}
}

func TestTrackerIsBounded(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	tr := NewTracker(nil, 3, log)
	for i, id := range []string{"a", "b", "c", "d", "b", "e"} {
		tr.apply(Event{JobID: id, Kind: EventPrinted, At: time.Unix(int64(i), 0)})
	}
	for id, want := range map[string]bool{"a": false, "b": false, "c": true, "d": true, "e": true} {
		if _, ok := tr.Status(id); ok != want {
			t.Errorf("Status(%s) found %v, want %v", id, ok, want)
		}
	}
	// Jobs dropped after a failed publish leave entries behind; they must not pile up.
	for i := range 1000 {
		tr.mu.Lock()
		tr.putLocked("x", &trackedJob{status: JobStatus{ID: "x", State: JobQueued}})
		delete(tr.jobs, "x")
		tr.mu.Unlock()
		if n := len(tr.order) - tr.head; n > 2*3+1 {
			t.Fatalf("after %d dropped jobs: %d entries kept for 3 jobs", i+1, n)
		}
	}
}

func TestTrackerPendingAndSubscribe(t *testing.T) {
	f := newTrackerFixture(t, 0)
	ctx, cancel := context.WithCancel(t.Context())
	updates := f.tracker.Subscribe(ctx)
	for _, id := range []string{"api:1", "api:2", "api:3"} {
		if _, _, err := f.tracker.Submit(t.Context(), Job{ID: id, Source: SourceWeb, Text: id}); err != nil {
			t.Fatal(err)
		}
	}
	f.event(t, "api:2", EventPrinted, "")
	select {
	case st := <-updates:
		if st.ID != "api:2" || st.State != JobPrinted {
			t.Errorf("update: got %+v, want api:2 printed", st)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no update")
	}
	var got []string
	for _, st := range f.tracker.Pending() {
		got = append(got, st.ID)
	}
	if strings.Join(got, " ") != "api:1 api:3" {
		t.Errorf("Pending: got %v, want [api:1 api:3]", got)
	}
	cancel()
	for range updates { // closed when ctx ends
	}
}
