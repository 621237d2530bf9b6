package web

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/stagelink/stagelink/printer"
	"github.com/stagelink/stagelink/web/store"
)

// historyDesk is the print desk PrintHistory wraps (printer.Tracker).
type historyDesk interface {
	PrintDesk
	Subscribe(ctx context.Context) <-chan printer.JobStatus
	Pending() []printer.JobStatus
	Cancel(ctx context.Context, id string) error
	Resubmit(ctx context.Context, job printer.Job) (printer.JobStatus, error)
}

var _ historyDesk = (*printer.Tracker)(nil)

// reconcileEvery is how often PrintHistory catches up with what its subscription missed.
const reconcileEvery = 15 * time.Second

// PrintHistory keeps the content store's record of print jobs: every job accepted through it, and what
// became of each as the queue's events tell. It is the print desk the API, the bots and the dashboard use.
// A write that fails (the database away) is caught up by a periodic pass over the jobs the tracker knows.
type PrintHistory struct {
	desk    historyDesk
	db      *store.DB
	log     *slog.Logger
	changed chan struct{}
	count   func(state string) // counts each job's new state (metrics); nil: not counted
}

// NewPrintHistory returns a PrintHistory over desk recording into db. Run must run.
func NewPrintHistory(desk historyDesk, db *store.DB, log *slog.Logger) *PrintHistory {
	return &PrintHistory{desk: desk, db: db, log: log, changed: make(chan struct{}, 1)}
}

// Submit submits job and records it.
func (h *PrintHistory) Submit(ctx context.Context, job printer.Job) (printer.JobStatus, bool, error) {
	st, dup, err := h.desk.Submit(ctx, job)
	if err == nil && !dup {
		if h.count != nil {
			h.count(string(st.State))
		}
		h.record(ctx, job, st)
	}
	return st, dup, err
}

// Status returns what the tracker knows about a job.
func (h *PrintHistory) Status(id string) (printer.JobStatus, bool) { return h.desk.Status(id) }

// Job returns a job submitted through this hub.
func (h *PrintHistory) Job(id string) (printer.Job, bool) { return h.desk.Job(id) }

// Subscribe follows every job's changes (printer.Tracker.Subscribe).
func (h *PrintHistory) Subscribe(ctx context.Context) <-chan printer.JobStatus {
	return h.desk.Subscribe(ctx)
}

// Pending returns the jobs this hub knows to be waiting, oldest first.
func (h *PrintHistory) Pending() []printer.JobStatus { return h.desk.Pending() }

// Cancel asks the printer agents to drop a queued job.
func (h *PrintHistory) Cancel(ctx context.Context, id string) error { return h.desk.Cancel(ctx, id) }

// Retry queues a failed or cancelled job again, with the same id.
func (h *PrintHistory) Retry(ctx context.Context, job printer.Job) (printer.JobStatus, error) {
	st, err := h.desk.Resubmit(ctx, job)
	if err == nil {
		h.update(ctx, st)
	}
	return st, err
}

var _ printControl = (*PrintHistory)(nil)

// Changed signals, without blocking, that a recorded job changed.
func (h *PrintHistory) Changed() <-chan struct{} { return h.changed }

func (h *PrintHistory) notify() {
	select {
	case h.changed <- struct{}{}:
	default:
	}
}

func (h *PrintHistory) record(ctx context.Context, job printer.Job, st printer.JobStatus) {
	r := store.PrintRecord{ID: job.ID, Source: string(job.Source), Author: job.Author, Text: job.Text, Amount: job.Amount,
		Currency: job.Currency, CreatedAt: job.CreatedAt, State: string(st.State), Reason: st.Reason, UpdatedAt: st.UpdatedAt}
	if r.CreatedAt.IsZero() {
		r.CreatedAt = st.UpdatedAt
	}
	if err := h.db.RecordPrint(context.WithoutCancel(ctx), r); err != nil {
		h.log.Warn("recording a print job", "job", job.ID, "err", err)
		return
	}
	h.notify()
}

// update records a job's new state; a job the history does not have yet is recorded whole when the
// tracker has it.
func (h *PrintHistory) update(ctx context.Context, st printer.JobStatus) {
	if h.count != nil {
		h.count(string(st.State))
	}
	err := h.db.SetPrintState(ctx, st.ID, string(st.State), st.Reason, st.UpdatedAt)
	if errors.Is(err, store.ErrNotFound) {
		if job, ok := h.desk.Job(st.ID); ok {
			h.record(ctx, job, st)
		}
		return
	}
	if err != nil {
		h.log.Warn("recording a print job's state", "job", st.ID, "err", err)
		return
	}
	h.notify()
}

// Run follows the jobs until ctx ends.
func (h *PrintHistory) Run(ctx context.Context) error {
	updates := h.desk.Subscribe(ctx)
	t := time.NewTicker(reconcileEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case st, ok := <-updates:
			if !ok {
				return nil
			}
			h.update(ctx, st)
		case <-t.C:
			h.reconcile(ctx)
		}
	}
}

// reconcile records what the subscription may have missed: queued jobs the history lacks (a failed write)
// and jobs whose recorded state fell behind (a dropped update).
func (h *PrintHistory) reconcile(ctx context.Context) {
	for _, st := range h.desk.Pending() {
		if _, err := h.db.PrintRecord(ctx, st.ID); errors.Is(err, store.ErrNotFound) {
			if job, ok := h.desk.Job(st.ID); ok {
				h.record(ctx, job, st)
			}
		}
	}
	open, err := h.db.PrintHistory(ctx, store.PrintFilter{States: []string{string(printer.JobQueued), "printing"}, Limit: 500})
	if err != nil {
		h.log.Warn("reading the print history", "err", err)
		return
	}
	for _, r := range open {
		if st, ok := h.desk.Status(r.ID); ok && string(st.State) != r.State && st.UpdatedAt.After(r.UpdatedAt) {
			h.update(ctx, st)
		}
	}
}
