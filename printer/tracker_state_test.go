package printer

import (
	"log/slog"
	"testing"
	"time"
)

// TestTrackerStateMachine feeds a tracker events in the orders they can arrive in from agents and hubs
// and checks where the job ends up.
func TestTrackerStateMachine(t *testing.T) {
	tests := []struct {
		name   string
		events []EventKind
		want   JobState // "" means the tracker does not know the job
	}{
		{"printing then printed", []EventKind{EventPrinting, EventPrinted}, JobPrinted},
		{"printed is final", []EventKind{EventPrinted, EventFailed, EventPrinting, EventRetrying, EventCancel, EventCancelled, EventRequeued}, JobPrinted},
		{"a late printing does not unprint", []EventKind{EventPrinting, EventPrinted, EventPrinting}, JobPrinted},
		{"an attempt fails, back in line", []EventKind{EventPrinting, EventRetrying}, JobQueued},
		{"the last attempt fails", []EventKind{EventPrinting, EventRetrying, EventPrinting, EventFailed}, JobFailed},
		{"a failed job is not retrying", []EventKind{EventFailed, EventRetrying}, JobFailed},
		{"cancel requested", []EventKind{EventRetrying, EventCancel}, JobCancelled},
		{"the agent drops it", []EventKind{EventRetrying, EventCancel, EventCancelled}, JobCancelled},
		{"the agent drops it, the tracker missed the request", []EventKind{EventRetrying, EventCancelled}, JobCancelled},
		{"cancel too late: printing wins", []EventKind{EventCancel, EventPrinting}, JobPrinting},
		{"cancel too late: printing already", []EventKind{EventPrinting, EventCancel}, JobPrinting},
		{"cancel of a failed job is ignored", []EventKind{EventFailed, EventCancel}, JobFailed},
		{"requeued after cancel", []EventKind{EventCancel, EventRequeued}, JobQueued},
		{"the agent drops the older copy after the requeue", []EventKind{EventCancel, EventRequeued, EventCancelled}, JobQueued},
		{"cancelled again after the requeue", []EventKind{EventCancel, EventRequeued, EventCancel, EventCancelled}, JobCancelled},
		{"requeued after failure", []EventKind{EventFailed, EventRequeued, EventPrinting}, JobPrinting},
		{"a late requeued does not stop a print", []EventKind{EventFailed, EventPrinting, EventRequeued}, JobPrinting},
		{"unknown kinds are ignored", []EventKind{"teleported"}, ""},
		{"unknown kinds change nothing", []EventKind{EventPrinting, "reprinted", "exploded"}, JobPrinting},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := NewTracker(nil, 0, slog.New(slog.DiscardHandler))
			at := time.Date(2026, 5, 1, 20, 0, 0, 0, time.UTC)
			for i, k := range tt.events {
				tr.apply(Event{JobID: "web:1", Kind: k, Reason: string(k), At: at.Add(time.Duration(i) * time.Second)})
			}
			st, _ := tr.Status("web:1")
			if st.State != tt.want {
				t.Errorf("after %v: got %q, want %q", tt.events, st.State, tt.want)
			}
		})
	}
}

// TestTrackerIgnoresBadEvents: events that are not valid change nothing, whatever their kind.
func TestTrackerIgnoresBadEvents(t *testing.T) {
	tr := NewTracker(nil, 0, slog.New(slog.DiscardHandler))
	tr.apply(Event{JobID: "web:1", Kind: EventRetrying})
	for _, ev := range []Event{
		{JobID: "web:1", Kind: EventPrinted, Printer: &PrinterState{}},
		{JobID: "a b", Kind: EventPrinted},
		{JobID: "web:1", Kind: EventStatus, Printer: &PrinterState{Agent: "x"}},
		{Kind: EventStatus},
	} {
		tr.apply(ev)
	}
	if st, _ := tr.Status("web:1"); st.State != JobQueued {
		t.Errorf("got %q, want queued", st.State)
	}
	if _, ok := tr.Printer(); ok {
		t.Error("got a printer state from bad status events, want none")
	}
}

// TestTrackerKeepsReasons: a failure or a failed attempt keeps its reason; printing clears it.
func TestTrackerKeepsReasons(t *testing.T) {
	tr := NewTracker(nil, 0, slog.New(slog.DiscardHandler))
	for _, step := range []struct {
		ev   Event
		want JobStatus
	}{
		{Event{Kind: EventPrinting}, JobStatus{State: JobPrinting}},
		{Event{Kind: EventRetrying, Reason: "paper out"}, JobStatus{State: JobQueued, Reason: "paper out"}},
		{Event{Kind: EventPrinting}, JobStatus{State: JobPrinting}},
		{Event{Kind: EventFailed, Reason: "cutter jammed"}, JobStatus{State: JobFailed, Reason: "cutter jammed"}},
	} {
		step.ev.JobID = "web:1"
		tr.apply(step.ev)
		st, _ := tr.Status("web:1")
		if st.State != step.want.State || st.Reason != step.want.Reason {
			t.Errorf("after %s: got %q %q, want %q %q", step.ev.Kind, st.State, st.Reason, step.want.State, step.want.Reason)
		}
	}
}
