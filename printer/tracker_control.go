package printer

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Errors of Tracker.Cancel, Retry and Resubmit.
var (
	// ErrUnknownJob means the tracker knows nothing of the job (it was submitted before this hub started,
	// or is forgotten), or, for Retry, not enough to queue it again: Resubmit it with the job.
	ErrUnknownJob = errors.New("printer: unknown job")
	// ErrTooLate means the job cannot be cancelled: it is printing, printed or failed.
	ErrTooLate = errors.New("printer: too late to cancel the job")
	// ErrNotRetryable means the job is queued, printing or printed: only a failed or cancelled job can be
	// queued again.
	ErrNotRetryable = errors.New("printer: only a failed or cancelled job can be queued again")
)

// Cancel asks the printer agents to drop the job with id instead of printing it, and marks it cancelled.
// The job must be queued; cancelling a cancelled job sends the request again (for an agent that has
// reconnected since). It returns an error wrapping ErrUnknownJob for a job the tracker does not know,
// ErrTooLate for one that is printing, printed or failed (also when an agent's event saying so arrives
// while the request is sent), or the queue's error when the request could not be sent.
//
// The request is an event, not a change to the queue: every agent that follows the events remembers it,
// and when it takes the job from the queue acknowledges it without printing and reports it cancelled. An
// agent that is not running or not connected to the broker when the request is sent never hears it and
// prints the job; an agent that took the job just before the request arrived prints it too, and says so
// (the job then moves on to printing and printed here).
func (t *Tracker) Cancel(ctx context.Context, id string) error {
	t.mu.Lock()
	tj, ok := t.jobs[id]
	var state JobState
	if ok {
		state = tj.status.State
	}
	t.mu.Unlock()
	switch {
	case !ok:
		return fmt.Errorf("%w: %q", ErrUnknownJob, clipQueueForLog(id))
	case state != JobQueued && state != JobCancelled:
		return fmt.Errorf("%w: job %s is %s", ErrTooLate, id, state)
	}
	ev := Event{JobID: id, Kind: EventCancel, At: time.Now()}
	if err := t.queue.PublishEvent(ctx, ev); err != nil {
		return fmt.Errorf("printer: cancel job %s: %w", id, err)
	}
	t.apply(ev)
	if st, _ := t.Status(id); st.State != JobCancelled && st.State != "" {
		return fmt.Errorf("%w: job %s is %s", ErrTooLate, id, st.State)
	}
	return nil
}

// Retry queues a failed or cancelled job again under the same id, and returns its new status (queued).
// The job is the one submitted through this tracker or, for a failed job, its dead letter, which is
// moved back into the queue (so it no longer shows in DeadLetters): a job another hub submitted, or that
// was submitted before this hub restarted, can be retried when it failed. A cancelled job this tracker
// did not submit needs Resubmit. Errors wrap ErrNotRetryable for a job that is queued, printing or
// printed, ErrUnknownJob when the job cannot be found, or the queue's error.
//
// The agent prints the new copy even though the job was cancelled: a cancel applies only to copies
// published before it. It is not recorded as printed, so its record of printed ids does not skip it.
func (t *Tracker) Retry(ctx context.Context, id string) (JobStatus, error) {
	if err := ValidateJobID(id); err != nil {
		return JobStatus{}, err
	}
	t.mu.Lock()
	tj, ok := t.jobs[id]
	var job Job
	var known bool
	if ok {
		job, known = tj.job, tj.known
	}
	t.mu.Unlock()
	return t.requeue(ctx, id, job, known)
}

// Resubmit is Retry with the job given, for a job this tracker does not hold (the dashboard keeps print
// history): job must be valid, and is queued again unless the tracker knows it to be queued, printing or
// printed (ErrNotRetryable). A dead letter with the job's id is moved back into the queue instead of
// publishing job, so it does not stay among the dead letters. A job the tracker knows nothing of is
// published even if it did print: the agent's record of printed ids then skips it, and says printed.
func (t *Tracker) Resubmit(ctx context.Context, job Job) (JobStatus, error) {
	if err := job.Validate(); err != nil {
		return JobStatus{}, err
	}
	return t.requeue(ctx, job.ID, job, true)
}

// requeue queues job id again; have says whether job holds it.
func (t *Tracker) requeue(ctx context.Context, id string, job Job, have bool) (JobStatus, error) {
	t.mu.Lock()
	tj, ok := t.jobs[id]
	var prev trackedJob
	if ok {
		prev = *tj
		if s := tj.status.State; s != JobFailed && s != JobCancelled {
			t.mu.Unlock()
			return JobStatus{}, fmt.Errorf("%w: job %s is %s", ErrNotRetryable, id, s)
		}
		if s := tj.status.State; s == JobCancelled && !have {
			t.mu.Unlock()
			return JobStatus{}, fmt.Errorf("%w: %s was cancelled, and was not submitted through this hub: resubmit it with the job", ErrUnknownJob, id)
		}
	}
	// Queued from now, so that a second Retry is refused and an event that beats the publish finds it.
	now := time.Now()
	if !ok {
		tj = &trackedJob{status: JobStatus{ID: id}}
		t.putLocked(id, tj)
	}
	tj.requeued = true
	if have {
		tj.job, tj.known = job, true
		tj.status.Source, tj.status.CreatedAt = job.Source, job.CreatedAt
	}
	t.setLocked(tj, JobQueued, "", now)
	st := tj.status
	t.mu.Unlock()

	var err error
	if !ok || prev.status.State == JobFailed {
		var dead Job
		dead, err = t.queue.RequeueDeadLetter(ctx, id)
		switch {
		case err == nil && !have:
			t.mu.Lock()
			tj.job, tj.known = dead, true
			tj.status.Source, tj.status.CreatedAt = dead.Source, dead.CreatedAt
			st = tj.status
			t.mu.Unlock()
		case errors.Is(err, ErrNoDeadLetter) && have:
			err = t.queue.Publish(ctx, job)
		case errors.Is(err, ErrNoDeadLetter):
			err = fmt.Errorf("%w: %s is not among the dead letters, and was not submitted through this hub: resubmit it with the job", ErrUnknownJob, id)
		}
	} else {
		err = t.queue.Publish(ctx, job)
	}
	if err != nil {
		t.mu.Lock()
		if cur, found := t.jobs[id]; found && cur == tj && cur.status.State == JobQueued && cur.status.UpdatedAt.Equal(now) {
			if ok {
				tj.job, tj.known, tj.requeued = prev.job, prev.known, prev.requeued
				tj.status.Source, tj.status.CreatedAt = prev.status.Source, prev.status.CreatedAt
				t.setLocked(tj, prev.status.State, prev.status.Reason, prev.status.UpdatedAt)
			} else {
				delete(t.jobs, id)
			}
		}
		t.mu.Unlock()
		if errors.Is(err, ErrUnknownJob) {
			return JobStatus{}, err
		}
		return JobStatus{}, fmt.Errorf("printer: queue job %s again: %w", id, err)
	}
	// The other hubs learn it is queued again. The agents need nothing: a cancel they remember applies
	// only to copies published before it.
	if err := t.queue.PublishEvent(ctx, Event{JobID: id, Kind: EventRequeued, At: now}); err != nil {
		t.log.Warn("telling other hubs a job is queued again", "job", id, "err", err)
	}
	return st, nil
}

// Depth returns how many jobs wait in the queue (Queue.Depth): all of them, whichever hub queued them.
func (t *Tracker) Depth(ctx context.Context) (int, error) {
	return t.queue.Depth(ctx)
}
