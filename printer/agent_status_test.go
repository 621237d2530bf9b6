package printer

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

// statusTestRun runs a tracker and then an agent printing on sink over a disk queue, inside a synctest
// bubble, and returns the status events as they are published, the tracker, and a func that stops the
// agent.
func statusTestRun(t *testing.T, sink Sink) (<-chan Event, *Tracker, func()) {
	t.Helper()
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	q, err := OpenDiskQueue(DiskQueueConfig{Dir: filepath.Join(dir, "queue")}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	pl, err := OpenPrintedLog(filepath.Join(dir, "printed.log"), 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pl.Close() })
	events, err := q.Events(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	tr := NewTracker(q, 0, log)
	trCtx, stopTr := context.WithCancel(t.Context())
	trDone := make(chan struct{})
	go func() { tr.Run(trCtx); close(trDone) }()
	t.Cleanup(func() { stopTr(); <-trDone })
	synctest.Wait() // the tracker follows the events

	a := NewAgent(q, sink, pl, LayoutConfig{}, log)
	a.Name = "bar"
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { a.Run(ctx); close(done) }()
	stopAgent := func() { stop(); <-done }
	t.Cleanup(stopAgent)
	return events, tr, stopAgent
}

// statusTestDrain returns the status events published so far.
func statusTestDrain(events <-chan Event) []PrinterState {
	synctest.Wait()
	var out []PrinterState
	for {
		select {
		case ev := <-events:
			if ev.Kind == EventStatus {
				out = append(out, *ev.Printer)
			}
		default:
			return out
		}
	}
}

// TestAgentReportsPrinterStateSynctest: the agent reports the printer's state at once, within a second of
// a change and every 30 s otherwise; the tracker keeps the latest and calls it stale 90 s after the last.
func TestAgentReportsPrinterStateSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := newWaitingSink()
		events, tr, stopAgent := statusTestRun(t, sink)
		t0 := time.Now()
		ready := PrinterState{Agent: "bar", Known: true, Online: true, Ready: true, Summary: "ready", At: t0}
		if diff := cmp.Diff([]PrinterState{ready}, statusTestDrain(events)); diff != "" {
			t.Errorf("first report (-want +got):\n%s", diff)
		}
		if got, ok := tr.Printer(); !ok || !cmp.Equal(got, ready) {
			t.Errorf("Printer: got %+v, %v; want %+v", got, ok, ready)
		}

		sink.setReady(false, Status{Offline: true, PaperEnd: true, PaperNearEnd: true})
		time.Sleep(statusPoll)
		paperOut := PrinterState{Agent: "bar", Known: true, Online: true, PaperLow: true, PaperOut: true,
			Summary: "offline, paper end, paper near end", At: t0.Add(statusPoll)}
		if diff := cmp.Diff([]PrinterState{paperOut}, statusTestDrain(events)); diff != "" {
			t.Errorf("report of the change (-want +got):\n%s", diff)
		}

		time.Sleep(StatusHeartbeat - time.Second)
		if got := statusTestDrain(events); len(got) != 0 {
			t.Errorf("got %d reports before the heartbeat, want none: %+v", len(got), got)
		}
		for range 2 {
			time.Sleep(time.Second)
			heartbeat := paperOut
			heartbeat.At = time.Now()
			if diff := cmp.Diff([]PrinterState{heartbeat}, statusTestDrain(events)); diff != "" {
				t.Errorf("heartbeat (-want +got):\n%s", diff)
			}
			time.Sleep(StatusHeartbeat - time.Second)
		}

		last := time.Now().Add(-StatusHeartbeat + time.Second)
		stopAgent()
		time.Sleep(StatusStaleAfter - (time.Now().Sub(last)))
		synctest.Wait()
		if got, _ := tr.Printer(); got.Stale || !got.At.Equal(last) {
			t.Errorf("%v after the last report: got stale %v at %v, want fresh at %v", time.Since(last), got.Stale, got.At, last)
		}
		time.Sleep(time.Second)
		if got, _ := tr.Printer(); !got.Stale || !got.PaperOut {
			t.Errorf("%v after the last report: got %+v, want stale, still saying paper out", time.Since(last), got)
		}
	})
}

// TestAgentReportsUnknownPrinterSynctest: a sink that cannot tell its printer's state (a file) is reported
// as unknown, and the tracker has nothing before the first report.
func TestAgentReportsUnknownPrinterSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		if _, ok := NewTracker(nil, 0, slog.New(slog.DiscardHandler)).Printer(); ok {
			t.Error("Printer known before any report, want not")
		}
		events, tr, _ := statusTestRun(t, &recordingSink{})
		want := PrinterState{Agent: "bar", Summary: "unknown", At: time.Now()}
		if diff := cmp.Diff([]PrinterState{want}, statusTestDrain(events)); diff != "" {
			t.Errorf("report (-want +got):\n%s", diff)
		}
		if got, ok := tr.Printer(); !ok || !cmp.Equal(got, want) {
			t.Errorf("Printer: got %+v, %v; want %+v", got, ok, want)
		}
	})
}

// TestPrinterStateJSON: the dashboard reads camelCase keys.
func TestPrinterStateJSON(t *testing.T) {
	b, err := json.Marshal(PrinterState{Agent: "bar", Known: true, Online: true, PaperLow: true, Summary: "paper near end",
		At: time.Date(2026, 5, 1, 20, 0, 0, 0, time.UTC), Stale: true})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"agent":"bar","known":true,"online":true,"ready":false,"paperLow":true,"paperOut":false,"coverOpen":false,` +
		`"error":false,"summary":"paper near end","at":"2026-05-01T20:00:00Z","stale":true}`
	if string(b) != want {
		t.Errorf("got %s\nwant %s", b, want)
	}
}
