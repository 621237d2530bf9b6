package printer

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// settleTimeout bounds acknowledging a job, failing it or reporting its outcome once it has printed or failed.
const settleTimeout = 30 * time.Second

// sink is where receipts go: the serial Link, or a file for people without a printer.
type sink interface {
	// Print returns nil once the bytes were written and the printer reported no error after them.
	Print(ctx context.Context, data []byte) error
}

var _ sink = (*Link)(nil)

// Agent is the printer agent's loop: it takes jobs from the queue one at a time, skips those already
// printed, renders the receipt, prints it, records the id, and only then acknowledges the job and tells
// the hub (event printed or failed).
type Agent struct {
	queue   Queue
	out     sink
	printed *PrintedLog
	layout  LayoutConfig
	log     *slog.Logger

	// FinishTimeout bounds how long the job being printed may take once Run's context ends (SIGTERM).
	FinishTimeout time.Duration
	// RetryDelay is the pause after a job the printer could not take, before the next try.
	RetryDelay time.Duration
}

// NewAgent returns an agent; Run starts it.
func NewAgent(q Queue, out sink, printed *PrintedLog, layout LayoutConfig, log *slog.Logger) *Agent {
	return &Agent{queue: q, out: out, printed: printed, layout: layout, log: log,
		FinishTimeout: 2 * time.Minute, RetryDelay: 2 * time.Second}
}

// Run prints jobs until ctx ends. The job being printed then is finished first (within FinishTimeout);
// it is acknowledged only if it printed.
func (a *Agent) Run(ctx context.Context) error {
	for {
		d, err := a.queue.Next(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			a.log.Warn("queue", "err", err)
			if !sleepCtx(ctx, a.RetryDelay) {
				return nil
			}
			continue
		}
		// The current job is finished even when ctx ends meanwhile.
		jobCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.FinishTimeout)
		retry := a.handle(jobCtx, d)
		cancel()
		if retry && !sleepCtx(ctx, a.RetryDelay) {
			return nil
		}
	}
}

// handle settles one delivery; it reports whether the printer could not take it (so Run waits a little).
func (a *Agent) handle(ctx context.Context, d *Delivery) (retry bool) {
	job := d.Job
	log := a.log.With("job", job.ID, "attempt", d.Attempt)
	if a.printed.Has(job.ID) {
		log.Info("already printed: acknowledging without printing")
		a.settle(log, d.Ack(ctx))
		return false
	}
	data, err := Render(job, a.layout)
	if err != nil {
		log.Warn("job cannot be printed", "err", err)
		a.settle(log, d.Fail(ctx, err.Error()))
		a.event(ctx, log, Event{JobID: job.ID, Kind: EventFailed, Reason: err.Error()})
		return false
	}
	if err := a.out.Print(ctx, data); err != nil {
		a.printFailed(ctx, log, d, err)
		return true
	}
	if err := a.printed.Add(job.ID); err != nil {
		// Printed but not recorded: acknowledging is still right; a crash now could print it again.
		log.Error("recording a printed job", "err", err)
	}
	a.settle(log, d.Ack(ctx))
	a.event(ctx, log, Event{JobID: job.ID, Kind: EventPrinted})
	log.Info("printed", "bytes", len(data))
	return false
}

// printFailed puts the job back in the queue, or on its last allowed attempt fails it and tells the hub:
// the queue would dead-letter a job retried then without telling anyone.
func (a *Agent) printFailed(ctx context.Context, log *slog.Logger, d *Delivery, err error) {
	// The job's context may be what ended the print: settle on a fresh one.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	if d.MaxAttempts > 0 && d.Attempt >= d.MaxAttempts {
		reason := fmt.Sprintf("printer failed %d times: %v", d.Attempt, err)
		log.Warn("printing failed on the last attempt; the job goes to the dead letters", "err", err)
		a.settle(log, d.Fail(sctx, reason))
		a.event(sctx, log, Event{JobID: d.Job.ID, Kind: EventFailed, Reason: reason})
		return
	}
	log.Warn("printing failed; the job goes back to the queue", "err", err)
	a.settle(log, d.Retry(sctx, err.Error()))
}

func (a *Agent) settle(log *slog.Logger, err error) {
	if err != nil {
		// The queue delivers it again; the printed log keeps it from printing twice.
		log.Warn("settling the delivery", "err", err)
	}
}

func (a *Agent) event(ctx context.Context, log *slog.Logger, ev Event) {
	ev.At = time.Now()
	if err := a.queue.PublishEvent(ctx, ev); err != nil {
		log.Warn("publishing the job's outcome", "err", err)
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
