package printer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// settleTimeout bounds acknowledging a job, failing it or reporting its outcome once it has printed or failed.
const settleTimeout = 30 * time.Second

// eventTimeout bounds publishing an event that nothing waits for (printing, status), so that a broker
// that is down does not hold up printing.
const eventTimeout = 5 * time.Second

// Sink is where receipts go: a SerialPrinter, a Link, or a file for people without a printer.
//
// A sink that knows its printer's state may also have
//
//	WaitReady(ctx context.Context) error // blocks until the printer can print
//	Status() (Status, bool)              // the last status reported, and whether there was one
//
// The agent then takes a job from the queue only when WaitReady returned nil, so that no job waits
// unacknowledged while paper is out, and names the printer's status when a print times out.
type Sink interface {
	// Print returns nil once the bytes were written and the printer reported no error after them. It
	// returns when ctx ends.
	Print(ctx context.Context, data []byte) error
}

// readyWaiter is a Sink that can tell when its printer is ready.
type readyWaiter interface {
	WaitReady(ctx context.Context) error
}

// statusReporter is a Sink that knows its printer's status.
type statusReporter interface {
	Status() (Status, bool)
}

var (
	_ Sink           = (*Link)(nil)
	_ readyWaiter    = (*Link)(nil)
	_ statusReporter = (*Link)(nil)
)

// errPrintTimeout is the cause of a print's context ending at PrintTimeout.
var errPrintTimeout = errors.New("printer: print timeout")

// Agent is the printer agent's loop: it waits until the printer is ready, takes a job from the queue,
// skips it if already printed or cancelled, renders the receipt, prints it, records the id, and only then
// acknowledges the job and tells the hubs (events printing, then printed, retrying or failed).
//
// Beside the loop it follows the queue's events for cancel requests (EventCancel, from Tracker.Cancel)
// and remembers them (DefaultCancelKeep ids for DefaultCancelTTL): a job taken from the queue whose id
// was cancelled, and that was published before the cancel, is acknowledged without printing and reported
// cancelled; it is not recorded as printed, so Tracker.Retry can print it later. Cancel requests are
// notifications: an agent that is not running or not connected to the broker when one is sent never
// hears it, and prints the job. And it reports the printer's state (EventStatus) when it changes and
// every StatusHeartbeat.
type Agent struct {
	queue   Queue
	out     Sink
	printed *PrintedLog
	layout  LayoutConfig
	log     *slog.Logger

	// Name identifies the agent in its status reports (PrinterState.Agent), at most 64 bytes: the host
	// name unless set.
	Name string

	// FinishTimeout bounds how long the job being printed may take once Run's context ends (SIGTERM).
	FinishTimeout time.Duration
	// PrintTimeout bounds one print, waits for paper included; the job then goes back to the queue and
	// the agent waits for the printer before taking the next one. It must stay well below RabbitMQ's
	// consumer_timeout (30 minutes by default), after which the broker takes the job back anyway.
	PrintTimeout time.Duration
	// RetryDelay is the pause after a job the printer could not take, before the next try.
	RetryDelay time.Duration

	mu      sync.Mutex
	cancels cancelSet
	current string // the job being printed, "" between jobs
}

// NewAgent returns an agent printing on out; Run starts it.
func NewAgent(q Queue, out Sink, printed *PrintedLog, layout LayoutConfig, log *slog.Logger) *Agent {
	name, _ := os.Hostname()
	if name == "" {
		name = "printer agent"
	}
	return &Agent{queue: q, out: out, printed: printed, layout: layout, log: log, Name: name,
		FinishTimeout: 2 * time.Minute, PrintTimeout: 15 * time.Minute, RetryDelay: 2 * time.Second,
		cancels: newCancelSet(DefaultCancelKeep, DefaultCancelTTL)}
}

// Run prints jobs until ctx ends. It takes the first job once it follows the queue's events, so that it
// hears cancel requests from then on. The job being printed when ctx ends is finished first (within
// FinishTimeout); it is acknowledged only if it printed.
func (a *Agent) Run(ctx context.Context) error {
	bg, stopBg := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stopBg()
	following := make(chan struct{})
	wg.Go(func() { a.followEvents(bg, following) })
	wg.Go(func() { a.reportStatus(bg, following) })
	select {
	case <-following:
	case <-ctx.Done():
		return nil
	}
	for {
		if !a.waitReady(ctx) {
			return nil
		}
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
		jobCtx, stop := a.jobContext(ctx)
		retry := a.handle(jobCtx, d)
		stop()
		if retry && !sleepCtx(ctx, a.RetryDelay) {
			return nil
		}
	}
}

// waitReady waits until the sink, if it can tell, reports the printer ready. It returns false when ctx
// ends.
func (a *Agent) waitReady(ctx context.Context) bool {
	w, ok := a.out.(readyWaiter)
	if !ok {
		return true
	}
	if st, ok := a.out.(statusReporter); ok {
		if s, known := st.Status(); !known || !s.Ready() {
			a.log.Info("printer not ready: taking no jobs until it is", "status", a.printerStatus())
		}
	}
	for {
		start := time.Now()
		err := w.WaitReady(ctx)
		if ctx.Err() != nil {
			return false
		}
		if err == nil {
			if waited := time.Since(start); waited >= time.Second {
				a.log.Info("printer ready: taking jobs again", "waited", waited.Round(time.Second))
			}
			return true
		}
		a.log.Warn("waiting for the printer", "err", err)
		if !sleepCtx(ctx, a.RetryDelay) {
			return false
		}
	}
}

// printerStatus describes the printer's status for logs and failure reasons.
func (a *Agent) printerStatus() string {
	st, ok := a.out.(statusReporter)
	if !ok {
		return "unknown"
	}
	s, known := st.Status()
	if !known {
		return "not reported yet"
	}
	return s.String()
}

// jobContext returns the context one job is handled in. It ends FinishTimeout after ctx, so that the job
// being printed at shutdown is finished; stop releases it.
func (a *Agent) jobContext(ctx context.Context) (jobCtx context.Context, stop func()) {
	jobCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		select {
		case <-done:
			return
		case <-ctx.Done():
		}
		t := time.NewTimer(a.FinishTimeout)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
			cancel()
		}
	})
	return jobCtx, func() {
		close(done)
		wg.Wait()
		cancel()
	}
}

// handle settles one delivery; it reports whether the printer could not take it (so Run waits a little).
func (a *Agent) handle(ctx context.Context, d *Delivery) (retry bool) {
	job := d.Job
	log := a.log.With("job", job.ID, "attempt", d.Attempt)
	if a.printed.Has(job.ID) {
		log.Info("already printed: acknowledging without printing")
		a.settle(log, d.Ack(ctx))
		// Said again for a hub that missed it, or that requeued a job it thought failed.
		a.event(ctx, log, Event{JobID: job.ID, Kind: EventPrinted})
		return false
	}
	if !a.claim(d) {
		log.Info("cancelled: acknowledging without printing")
		a.settle(log, d.Ack(ctx))
		a.event(ctx, log, Event{JobID: job.ID, Kind: EventCancelled})
		return false
	}
	defer a.unclaim()
	layout := a.layout
	if interrupted, err := a.printed.Begin(job.ID); err != nil {
		log.Warn("recording the job being printed", "err", err)
	} else if interrupted {
		log.Warn("printing this job was interrupted before: it prints again, marked as a reprint")
		layout.Reprint = true
	}
	data, err := Render(job, layout)
	if err != nil {
		log.Warn("job cannot be printed", "err", err)
		a.settle(log, d.Fail(ctx, err.Error()))
		a.event(ctx, log, Event{JobID: job.ID, Kind: EventFailed, Reason: err.Error()})
		return false
	}
	evCtx, cancel := context.WithTimeout(ctx, eventTimeout)
	a.event(evCtx, log, Event{JobID: job.ID, Kind: EventPrinting})
	cancel()
	printCtx, cancel := context.WithTimeoutCause(ctx, a.PrintTimeout, errPrintTimeout)
	err = a.out.Print(printCtx, data)
	timedOut := errors.Is(context.Cause(printCtx), errPrintTimeout)
	cancel()
	if errors.Is(err, ErrNotPaceable) {
		// The receipt itself is wrong (an encoder bug): no retry can print it.
		log.Error("job cannot be sent to the printer", "err", err)
		a.settle(log, d.Fail(ctx, err.Error()))
		a.event(ctx, log, Event{JobID: job.ID, Kind: EventFailed, Reason: err.Error()})
		return false
	}
	if err != nil {
		if timedOut {
			err = fmt.Errorf("print not finished after %v, printer status: %s", a.PrintTimeout, a.printerStatus())
		}
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
	if ctx.Err() != nil {
		// Shutting down, past FinishTimeout: not the printer's fault, so never the job's last attempt.
		log.Warn("printing interrupted by shutdown; the job goes back to the queue", "err", err)
		a.settle(log, d.Retry(sctx, "interrupted by shutdown"))
		a.event(sctx, log, Event{JobID: d.Job.ID, Kind: EventRetrying, Reason: "interrupted by shutdown"})
		return
	}
	if d.MaxAttempts > 0 && d.Attempt >= d.MaxAttempts {
		reason := fmt.Sprintf("printer failed %d times: %v", d.Attempt, err)
		log.Warn("printing failed on the last attempt; the job goes to the dead letters", "err", err)
		a.settle(log, d.Fail(sctx, reason))
		a.event(sctx, log, Event{JobID: d.Job.ID, Kind: EventFailed, Reason: reason})
		return
	}
	log.Warn("printing failed; the job goes back to the queue", "err", err)
	a.settle(log, d.Retry(sctx, err.Error()))
	a.event(sctx, log, Event{JobID: d.Job.ID, Kind: EventRetrying, Reason: err.Error()})
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
