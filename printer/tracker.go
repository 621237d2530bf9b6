package printer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// JobState is where a job stands, as far as the hub knows.
type JobState string

// The states of a job. A job moves queued → printing → printed; printing → queued again when an attempt
// fails (Reason says why) and → failed at the last one; queued → cancelled (Cancel); failed or cancelled
// → queued (Retry, Resubmit). Printed is final.
const (
	JobQueued    JobState = "queued"    // waiting in the queue
	JobPrinting  JobState = "printing"  // the agent is writing it to the printer
	JobPrinted   JobState = "printed"   // on paper
	JobFailed    JobState = "failed"    // in the dead letters; Reason says why
	JobCancelled JobState = "cancelled" // will not be printed unless retried
)

// JobStatus is what the hub knows about one job.
type JobStatus struct {
	ID        string    `json:"id"`
	State     JobState  `json:"status"`
	Reason    string    `json:"reason,omitempty"`
	Source    Source    `json:"source,omitempty"`
	CreatedAt time.Time `json:"createdAt,omitzero"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// DefaultTrackerSize is how many jobs a Tracker remembers.
const DefaultTrackerSize = 10_000

// Tracker submits jobs to the queue and follows them through the queue's events, so that the API, the bots
// and the dashboard can tell a sender what became of a message. It remembers the last jobs it saw (the ones
// it submitted and the ones it heard events about), up to a bound, in memory: after a restart it knows only
// what happens from then on. Run must be running for states to move past queued.
type Tracker struct {
	queue Queue
	log   *slog.Logger
	max   int

	mu    sync.Mutex
	jobs  map[string]*trackedJob
	order []trackedRef // jobs in the order stored, for eviction; compacted as it grows
	head  int          // order[:head] are gone
	seq   uint64
	subs  map[chan JobStatus]struct{}

	printer      PrinterState // the latest status report
	printerKnown bool
	printerHeard time.Time // when it arrived, by this hub's clock
}

// trackerSubscriberBuffer bounds each subscriber's backlog; a subscriber further behind misses updates.
const trackerSubscriberBuffer = 256

type trackedJob struct {
	status   JobStatus
	job      Job
	known    bool   // job holds the submitted job (not only an event about it)
	seq      uint64 // when it was stored: tells a stale order entry from a job stored again
	requeued bool   // put back by Retry since it was last cancelled: an agent's late cancelled is about an older copy
}

type trackedRef struct {
	id  string
	seq uint64
}

// NewTracker returns a tracker over q remembering up to max jobs (DefaultTrackerSize when max <= 0).
func NewTracker(q Queue, max int, log *slog.Logger) *Tracker {
	if max <= 0 {
		max = DefaultTrackerSize
	}
	return &Tracker{queue: q, log: log.With("component", "print-tracker"), max: max, jobs: make(map[string]*trackedJob)}
}

// Submit validates job and publishes it durably. A job whose id the tracker already knows and that has not
// failed is not published again (a cancelled one neither: Retry does that): its current status is returned
// with duplicate set, so a source that retries never prints twice. Errors wrap ErrBadJob or ErrBadJobID
// for bad input, ErrQueueFull when the queue refuses new jobs, or the context's error when the queue could
// not take it in time.
func (t *Tracker) Submit(ctx context.Context, job Job) (st JobStatus, duplicate bool, err error) {
	if err := job.Validate(); err != nil { // a valid job renders: FuzzJobValidate
		return JobStatus{}, false, err
	}
	t.mu.Lock()
	if tj, ok := t.jobs[job.ID]; ok && tj.status.State != JobFailed {
		st := tj.status
		t.mu.Unlock()
		return st, true, nil
	}
	// Recorded before publishing, so an event that beats Publish's return finds the job.
	now := time.Now()
	st = JobStatus{ID: job.ID, State: JobQueued, Source: job.Source, CreatedAt: job.CreatedAt, UpdatedAt: now}
	t.putLocked(job.ID, &trackedJob{status: st, job: job, known: true})
	t.mu.Unlock()

	if err := t.queue.Publish(ctx, job); err != nil {
		t.mu.Lock()
		if tj, ok := t.jobs[job.ID]; ok && tj.status.State == JobQueued && tj.status.UpdatedAt.Equal(now) {
			delete(t.jobs, job.ID)
		}
		t.mu.Unlock()
		return JobStatus{}, false, fmt.Errorf("printer: queue job %s: %w", job.ID, err)
	}
	return st, false, nil
}

// Status returns what the tracker knows about the job with id.
func (t *Tracker) Status(id string) (JobStatus, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	tj, ok := t.jobs[id]
	if !ok {
		return JobStatus{}, false
	}
	return tj.status, true
}

// Job returns the job with id as it was submitted through this tracker.
func (t *Tracker) Job(id string) (Job, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	tj, ok := t.jobs[id]
	if !ok || !tj.known {
		return Job{}, false
	}
	return tj.job, true
}

// Run follows the queue's events until ctx ends. When the subscription ends early (the queue stopped) it
// subscribes again after a pause.
func (t *Tracker) Run(ctx context.Context) error {
	for {
		events, err := t.queue.Events(ctx)
		if err != nil && !errors.Is(err, context.Canceled) {
			t.log.Warn("following print job events", "err", err)
		}
		if err == nil {
			for ev := range events {
				t.apply(ev)
			}
		}
		if !sleepCtx(ctx, time.Second) {
			return nil
		}
	}
}

// apply moves a job to the state an event reports, or records the printer's state. Events of kinds this
// version does not know, and invalid ones, are ignored. The rules keep the state right whatever order
// events from the agents and the hubs arrive in:
//   - printed is final;
//   - printing and failed come from the agent that has the job, so they win over queued and cancelled (a
//     cancel that came too late);
//   - retrying moves a printing or queued job back to queued;
//   - a cancel request cancels a queued job; the agent's cancelled does too, unless the job was put back
//     by Retry since (the agent dropped an older copy);
//   - requeued brings back a failed or cancelled job.
func (t *Tracker) apply(ev Event) {
	if validateQueueEvent(ev) != nil {
		return
	}
	now := time.Now()
	if ev.Kind == EventStatus {
		t.mu.Lock()
		t.printer, t.printerKnown, t.printerHeard = *ev.Printer, true, now
		t.printer.Stale = false
		t.mu.Unlock()
		return
	}
	at := ev.At
	if at.IsZero() {
		at = now
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	tj, ok := t.jobs[ev.JobID]
	state := JobState("")
	if ok {
		state = tj.status.State
	}
	var next JobState
	switch ev.Kind {
	case EventPrinted:
		next = JobPrinted
	case EventPrinting:
		if state != JobPrinted {
			next = JobPrinting
		}
	case EventFailed:
		if state != JobPrinted {
			next = JobFailed
		}
	case EventRetrying:
		if state == "" || state == JobPrinting || state == JobQueued {
			next = JobQueued
		}
	case EventCancel:
		if state == "" || state == JobQueued || state == JobCancelled {
			next = JobCancelled
		}
	case EventCancelled:
		if state == "" || state == JobCancelled || state == JobQueued && !tj.requeued {
			next = JobCancelled
		}
	case EventRequeued:
		if state == "" || state == JobFailed || state == JobCancelled {
			next = JobQueued
		}
	}
	if next == "" {
		return
	}
	if !ok {
		tj = &trackedJob{status: JobStatus{ID: ev.JobID}}
		t.putLocked(ev.JobID, tj)
	}
	switch ev.Kind {
	case EventCancel:
		tj.requeued = false
	case EventRequeued:
		tj.requeued = true
	}
	reason := ev.Reason
	if next == JobCancelled || next == JobPrinting || next == JobPrinted {
		reason = ""
	}
	t.setLocked(tj, next, clipQueueReason(reason), at)
}

// setLocked changes a job's state and tells the subscribers.
func (t *Tracker) setLocked(tj *trackedJob, state JobState, reason string, at time.Time) {
	tj.status.State, tj.status.Reason, tj.status.UpdatedAt = state, reason, at
	for ch := range t.subs {
		select {
		case ch <- tj.status:
		default: // a slow subscriber misses it rather than holding up the others
		}
	}
}

// Subscribe returns a channel that gets a job's new status whenever an event, Cancel, Retry or Resubmit
// (not Submit) sets it, until ctx ends (the channel is then closed). Only printed is final: a failed or
// cancelled job may be queued again. A subscriber that falls behind misses updates; Status tells the rest.
func (t *Tracker) Subscribe(ctx context.Context) <-chan JobStatus {
	ch := make(chan JobStatus, trackerSubscriberBuffer)
	t.mu.Lock()
	if t.subs == nil {
		t.subs = make(map[chan JobStatus]struct{})
	}
	t.subs[ch] = struct{}{}
	t.mu.Unlock()
	context.AfterFunc(ctx, func() {
		t.mu.Lock()
		delete(t.subs, ch)
		t.mu.Unlock()
		close(ch)
	})
	return ch
}

// Pending returns the jobs this tracker knows to be waiting to print or printing, oldest first: a sender's
// position in the queue is their job's index here. Jobs queued by other hubs are not counted.
func (t *Tracker) Pending() []JobStatus {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []JobStatus
	for _, ref := range t.order[t.head:] {
		if tj, ok := t.jobs[ref.id]; ok && tj.seq == ref.seq && (tj.status.State == JobQueued || tj.status.State == JobPrinting) {
			out = append(out, tj.status)
		}
	}
	return out
}

// putLocked stores a job, forgetting the oldest ones beyond the bound.
func (t *Tracker) putLocked(id string, tj *trackedJob) {
	if old, ok := t.jobs[id]; ok {
		tj.seq = old.seq
	} else {
		t.seq++
		tj.seq = t.seq
		t.order = append(t.order, trackedRef{id, tj.seq})
	}
	t.jobs[id] = tj
	for len(t.jobs) > t.max && t.head < len(t.order) {
		ref := t.order[t.head]
		if old, ok := t.jobs[ref.id]; ok && old.seq == ref.seq {
			delete(t.jobs, ref.id)
		}
		t.head++
	}
	// Entries of jobs dropped after a failed publish stay in order until here: keep it within 2×max.
	if len(t.order)-t.head > 2*t.max || t.head > 1024 && t.head > len(t.order)/2 {
		live := make([]trackedRef, 0, len(t.jobs))
		for _, ref := range t.order[t.head:] {
			if old, ok := t.jobs[ref.id]; ok && old.seq == ref.seq {
				live = append(live, ref)
			}
		}
		t.order, t.head = live, 0
	}
}

// Printer returns the printer's state as its agent last reported it (EventStatus), with Stale set when
// no report arrived for StatusStaleAfter, and false when no agent has reported since the tracker started.
// With several agents on one queue it is whichever reported last.
func (t *Tracker) Printer() (PrinterState, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.printerKnown {
		return PrinterState{}, false
	}
	p := t.printer
	p.Stale = time.Since(t.printerHeard) > StatusStaleAfter
	return p, true
}
