package bots

import (
	"time"

	"github.com/stagelink/stagelink/printer"
)

const (
	// maxRefusalRecords is how many refusals the Moderator keeps for the dashboard.
	maxRefusalRecords = 500
	// refusalExcerptRunes is the most characters of a refused message's text kept for the dashboard.
	refusalExcerptRunes = 60
)

// RefusalRecord is one refused message as the dashboard shows it. Its text fields are sanitised
// (printer.SanitizeText) and on one line; the message's text is kept only as a short excerpt.
type RefusalRecord struct {
	At     time.Time      `json:"at"`
	Source printer.Source `json:"source"`
	JobID  string         `json:"jobId"`
	UserID string         `json:"userId"`
	Author string         `json:"author"`
	// Code and Reason are the Refusal's.
	Code   string `json:"code"`
	Reason string `json:"reason"`
	// Excerpt is the start of the message's text, at most 60 characters, ending in printer.TextCutMark
	// when it was cut.
	Excerpt string `json:"excerpt"`
}

// Refusals returns the most recent refusals, newest first: at most max of them, or all that are kept (the
// last 500) when max <= 0.
func (m *Moderator) Refusals(max int) []RefusalRecord {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.refusals.newest(max)
}

// refusalRing keeps the last max records.
type refusalRing struct {
	max  int
	recs []RefusalRecord
	next int // where the next record goes once recs is full
}

func (r *refusalRing) add(rec RefusalRecord) {
	if len(r.recs) < r.max {
		r.recs = append(r.recs, rec)
		return
	}
	r.recs[r.next] = rec
	r.next = (r.next + 1) % r.max
}

// newest returns up to n records, newest first (all when n <= 0).
func (r *refusalRing) newest(n int) []RefusalRecord {
	if n <= 0 || n > len(r.recs) {
		n = len(r.recs)
	}
	out := make([]RefusalRecord, 0, n)
	// The newest record is just before next (or last, while the ring is filling).
	i := r.next - 1
	if len(r.recs) < r.max {
		i = len(r.recs) - 1
	}
	for len(out) < n {
		if i < 0 {
			i += len(r.recs)
		}
		out = append(out, r.recs[i])
		i--
	}
	return out
}
