package printer

import (
	"fmt"
	"time"
	"unicode/utf8"
)

// Timing of the agent's status reports.
const (
	// StatusHeartbeat is how often the agent reports the printer's state when nothing changes.
	StatusHeartbeat = 30 * time.Second
	// StatusStaleAfter is how long after the last report a Tracker calls the printer's state stale: the
	// agent, or the link between it and the hub, is gone.
	StatusStaleAfter = 90 * time.Second
)

// Bounds of a PrinterState's strings.
const (
	maxAgentNameLen = 64
	maxSummaryLen   = 128
)

// PrinterState is the printer as its agent last reported it, for the dashboard. The agent sends it in
// EventStatus events when it changes and every StatusHeartbeat; Tracker.Printer returns the latest.
type PrinterState struct {
	// Agent names the agent that reports: its host name unless set (Agent.Name).
	Agent string `json:"agent"`
	// Known is false while the printer has reported nothing (just started) or cannot report at all (a
	// file instead of a printer); the flags below are then all false.
	Known bool `json:"known"`
	// Online: the printer is connected and answers.
	Online bool `json:"online"`
	// Ready: the printer can print now (online, cover closed, paper in, no error).
	Ready bool `json:"ready"`
	// PaperLow: the near-end sensor sees little paper left; printing goes on.
	PaperLow bool `json:"paperLow"`
	// PaperOut: no paper; printing has stopped.
	PaperOut bool `json:"paperOut"`
	// CoverOpen: the paper cover is open.
	CoverOpen bool `json:"coverOpen"`
	// Error: a cutter, unrecoverable or auto-recoverable error.
	Error bool `json:"error"`
	// Summary lists the conditions in words ("ready", "paper end, cover open"), or "unknown".
	Summary string `json:"summary"`
	// At is when the agent sent the report, by the agent's clock.
	At time.Time `json:"at"`
	// Stale is set by Tracker.Printer when no report arrived for StatusStaleAfter: the agent or its link
	// is gone, and the rest is what it was then.
	Stale bool `json:"stale"`
}

// newPrinterState describes a printer's status; known is false when it has reported none.
func newPrinterState(agent string, s Status, known bool) PrinterState {
	if !known {
		return PrinterState{Agent: agent, Summary: "unknown"}
	}
	return PrinterState{
		Agent:     agent,
		Known:     true,
		Online:    !s.NoResponse,
		Ready:     s.Ready(),
		PaperLow:  s.PaperNearEnd,
		PaperOut:  s.PaperEnd,
		CoverOpen: s.CoverOpen,
		Error:     s.Error,
		Summary:   s.String(),
	}
}

// sameAs reports whether two reports say the same about the printer, whenever they were sent.
func (p PrinterState) sameAs(o PrinterState) bool {
	p.At, o.At = time.Time{}, time.Time{}
	return p == o
}

// validate bounds a report received from outside.
func (p PrinterState) validate() error {
	for _, f := range []struct {
		name, value string
		max         int
	}{{"agent", p.Agent, maxAgentNameLen}, {"summary", p.Summary, maxSummaryLen}} {
		if len(f.value) > f.max || !utf8.ValidString(f.value) {
			return fmt.Errorf("printer: status %s must be valid UTF-8 of at most %d bytes", f.name, f.max)
		}
	}
	return nil
}

// clipAgentName bounds an agent's name to what a status event carries.
func clipAgentName(s string) string {
	if len(s) <= maxAgentNameLen {
		return s
	}
	s = s[:maxAgentNameLen]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}
