package main

import (
	"context"
	"log/slog"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stagelink/stagelink/printer"
)

// TestPrintStateFromARemoteAgentSynctest: with the printer agent elsewhere, /queue tells the printer's
// state from the agent's last report, and says when it has gone quiet.
func TestPrintStateFromARemoteAgentSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, err := openPrinting(config{data: t.TempDir()}, false, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		defer p.close()
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- p.run(ctx) }()
		defer func() { cancel(); <-done }()
		synctest.Wait()
		if got := p.state(); got != "" {
			t.Errorf("before any report: got %q, want nothing", got)
		}
		report := printer.PrinterState{Agent: "venue", Known: true, Online: true, CoverOpen: true, Summary: "cover open", At: time.Now()}
		if err := p.queue.PublishEvent(ctx, printer.Event{Kind: printer.EventStatus, At: time.Now(), Printer: &report}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if got := p.state(); got != "cover open" {
			t.Errorf("after a report: got %q, want %q", got, "cover open")
		}
		time.Sleep(printer.StatusStaleAfter + time.Second)
		if got := p.state(); got != "not heard from" {
			t.Errorf("%v after the report: got %q, want %q", printer.StatusStaleAfter+time.Second, got, "not heard from")
		}
	})
}
