package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/stagelink/stagelink/printer"
	"github.com/stagelink/stagelink/web"
)

// printing is the hub's side of printing: the queue, the tracker that answers the API, and, when a
// printer is here (-printer, or the demo's simulated one), the printer agent.
type printing struct {
	log     *slog.Logger
	queue   printer.Queue
	tracker *printer.Tracker
	history *web.PrintHistory // the desk everyone submits to: the tracker, recording into the content store
	check   web.Check
	layout  printer.LayoutConfig
	demo    *printer.DemoPrinter          // the demo's printer, nil otherwise
	agent   *printer.Agent                // nil when no printer is here
	status  func() (printer.Status, bool) // the printer's status, nil when no printer is here
	infra   []func(context.Context) error
	closers []func() error
}

// openPrinting opens the queue (RabbitMQ with -amqp, else embedded in -data) and sets up the agent. It
// starts nothing; run does.
func openPrinting(cfg config, demo bool, log *slog.Logger) (p *printing, err error) {
	p = &printing{log: log, layout: printer.LayoutConfig{Header: cfg.printHeader, Footer: cfg.printFooter}}
	defer func() {
		if err != nil {
			p.close()
		}
	}()
	if err := os.MkdirAll(cfg.data, 0o700); err != nil {
		return nil, fmt.Errorf("-data: %w", err)
	}
	if cfg.amqp != "" {
		q, err := printer.NewRabbitQueue(printer.RabbitQueueConfig{URL: string(cfg.amqp), Prefix: cfg.amqpPrefix}, log)
		if err != nil {
			return nil, err
		}
		p.queue, p.check = q, web.Check{Name: "print-queue", Check: q.Check}
		p.infra = append(p.infra, q.Run)
	} else {
		q, err := printer.OpenDiskQueue(printer.DiskQueueConfig{Dir: filepath.Join(cfg.data, "queue")}, log)
		if err != nil {
			return nil, err
		}
		p.queue, p.check = q, web.Check{Name: "print-queue", Check: q.Check}
		p.closers = append(p.closers, q.Close)
	}
	p.tracker = printer.NewTracker(p.queue, 0, log)

	var out printer.Sink
	switch {
	case cfg.printer != "":
		sp, err := printer.NewSerialPrinter(cfg.printer, cfg.baud, printer.LinkConfig{}, log, nil)
		if err != nil {
			return nil, err
		}
		out, p.status = sp, sp.Status
		p.infra = append(p.infra, sp.Run)
		log.Info("printer agent in-process", "serial", cfg.printer, "baud", cfg.baud)
	case demo && cfg.amqp == "":
		d, err := printer.NewDemoPrinter(log.With("venue", "demo"))
		if err != nil {
			return nil, err
		}
		out, p.demo, p.status = d, d, d.Status
		p.infra = append(p.infra, d.Run)
		log.Info("demo: a simulated printer prints the jobs; its receipts appear on the page")
	case cfg.amqp != "":
		log.Info("print jobs go to RabbitMQ for a printer agent (cmd/printer)")
	default:
		log.Warn("no printer on this hub: print jobs wait in the embedded queue until it runs with -printer", "dir", cfg.data)
	}
	if out != nil {
		printed, err := printer.OpenPrintedLog(filepath.Join(cfg.data, "printed.log"), 0)
		if err != nil {
			return nil, err
		}
		p.closers = append(p.closers, printed.Close)
		p.agent = printer.NewAgent(p.queue, out, printed, p.layout, log.With("component", "printer-agent"))
		if p.demo != nil {
			p.agent.Name = "demo"
		}
	}
	return p, nil
}

// state says how the printer is, for the Discord bot's /queue: from the printer on this hub, else from
// the last status report of a printer agent elsewhere; "" when none has reported.
func (p *printing) state() string {
	if p.status == nil {
		st, ok := p.tracker.Printer()
		switch {
		case !ok:
			return ""
		case st.Stale:
			return "not heard from"
		}
		return st.Summary
	}
	st, ok := p.status()
	if !ok {
		return "starting"
	}
	return st.String()
}

// run runs the queue, the tracker and the agent until ctx ends. The agent finishes the job in hand first,
// and the queue and the printer stay up until it has.
func (p *printing) run(ctx context.Context) error {
	infra, stopInfra := context.WithCancel(context.WithoutCancel(ctx))
	defer stopInfra()
	g, gctx := errgroup.WithContext(infra)
	for _, run := range p.infra {
		g.Go(func() error { return run(gctx) })
	}
	// The agent and the tracker stop with ctx, or when a part they need failed.
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(gctx, cancel)
	defer stop()
	g.Go(func() error { return p.tracker.Run(actx) })
	if p.history != nil {
		g.Go(func() error { return p.history.Run(actx) })
	}
	g.Go(func() error {
		defer stopInfra()
		if p.agent == nil {
			<-actx.Done()
			return nil
		}
		return p.agent.Run(actx)
	})
	return g.Wait()
}

// depth is how many jobs wait in the queue, for /metrics and the dashboard's chart: asked of the queue
// (RabbitMQ's count covers every hub's jobs), within a second.
func (p *printing) depth() (int, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	n, err := p.queue.Depth(ctx)
	return n, err == nil
}

// close releases the embedded queue and the record of printed jobs; call it after run returned.
func (p *printing) close() error {
	var errs []error
	for i := len(p.closers) - 1; i >= 0; i-- {
		errs = append(errs, p.closers[i]())
	}
	return errors.Join(errs...)
}
