package printer

import (
	"context"
	"sync"
	"time"
)

// statusPoll is how often the agent looks at the printer's status for changes to report.
const statusPoll = time.Second

// followEvents follows the queue's events for cancel requests until ctx ends, subscribing again when a
// subscription ends. It closes following once the first subscription is made.
func (a *Agent) followEvents(ctx context.Context, following chan<- struct{}) {
	subscribed := sync.OnceFunc(func() { close(following) })
	for {
		events, err := a.queue.Events(ctx)
		if err == nil {
			subscribed()
			for ev := range events {
				if ev.Kind == EventCancel {
					a.cancelRequested(ctx, ev)
				}
			}
		} else if ctx.Err() == nil {
			a.log.Warn("following cancel requests", "err", err)
		}
		if !sleepCtx(ctx, a.RetryDelay) {
			return
		}
	}
}

// cancelRequested remembers a cancel request, unless the job is being printed or was printed: then it says
// so again, so that the hubs, which marked the job cancelled, learn it was too late.
func (a *Agent) cancelRequested(ctx context.Context, ev Event) {
	now := time.Now()
	at := ev.At
	if at.IsZero() {
		at = now
	}
	log := a.log.With("job", ev.JobID)
	a.mu.Lock()
	printing := a.current == ev.JobID
	printed := !printing && a.printed.Has(ev.JobID)
	if !printing && !printed {
		a.cancels.add(ev.JobID, at, now)
	}
	a.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, eventTimeout)
	defer cancel()
	switch {
	case printing:
		log.Info("cancel requested too late: the job is printing")
		a.event(ctx, log, Event{JobID: ev.JobID, Kind: EventPrinting})
	case printed:
		log.Info("cancel requested too late: the job was printed")
		a.event(ctx, log, Event{JobID: ev.JobID, Kind: EventPrinted})
	default:
		log.Info("cancel requested: the job will not be printed")
	}
}

// claim makes d's job the one being printed and returns true, or returns false when the job was cancelled
// after this copy of it was published (or when the copy's publish time is unknown).
func (a *Agent) claim(d *Delivery) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if at, ok := a.cancels.get(d.Job.ID, time.Now()); ok && (d.PublishedAt.IsZero() || !d.PublishedAt.After(at)) {
		return false
	}
	a.current = d.Job.ID
	return true
}

// unclaim ends claim.
func (a *Agent) unclaim() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.current = ""
}

// reportStatus publishes the printer's state once following is closed, then whenever it changes (looked at
// every statusPoll) and every StatusHeartbeat, until ctx ends. A report that cannot be published is tried
// again at the next look.
func (a *Agent) reportStatus(ctx context.Context, following <-chan struct{}) {
	select {
	case <-following:
	case <-ctx.Done():
		return
	}
	poll := time.NewTicker(statusPoll)
	defer poll.Stop()
	name := clipAgentName(a.Name)
	var last PrinterState
	var sent time.Time
	failing := false
	for {
		st := a.printerState(name)
		if sent.IsZero() || !st.sameAs(last) || time.Since(sent) >= StatusHeartbeat {
			st.At = time.Now()
			report := st // the event shares it with in-process subscribers
			pctx, cancel := context.WithTimeout(ctx, eventTimeout)
			err := a.queue.PublishEvent(pctx, Event{Kind: EventStatus, At: st.At, Printer: &report})
			cancel()
			switch {
			case err == nil:
				last, sent, failing = st, st.At, false
			case ctx.Err() != nil:
				return
			case !failing:
				a.log.Warn("reporting the printer's state", "err", err)
				failing = true
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-poll.C:
		}
	}
}

// printerState describes the sink's printer as it last reported.
func (a *Agent) printerState(name string) PrinterState {
	if r, ok := a.out.(statusReporter); ok {
		s, known := r.Status()
		return newPrinterState(name, s, known)
	}
	return newPrinterState(name, Status{}, false)
}
