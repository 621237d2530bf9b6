package printer

import "time"

// Bounds of the agent's memory of cancel requests.
const (
	// DefaultCancelKeep is how many cancelled job ids an agent remembers.
	DefaultCancelKeep = 10_000
	// DefaultCancelTTL is how long an agent remembers a cancel request.
	DefaultCancelTTL = 24 * time.Hour
)

// cancelSet remembers cancel requests: job id → when the cancel was asked for (the hub's clock). It keeps
// at most max ids, forgets each ttl after it heard of it (its own clock), and is not safe for concurrent
// use.
type cancelSet struct {
	max  int
	ttl  time.Duration
	ids  map[string]cancelEntry
	fifo []cancelRef // in the order heard, for forgetting; entries superseded by a later request stay
	head int         // fifo[:head] are gone
	seq  uint64
}

type cancelEntry struct {
	at    time.Time // when it was asked for
	heard time.Time // when the agent heard it
	seq   uint64    // tells a superseded fifo entry from the current one
}

type cancelRef struct {
	id  string
	seq uint64
}

func newCancelSet(max int, ttl time.Duration) cancelSet {
	return cancelSet{max: max, ttl: ttl, ids: make(map[string]cancelEntry)}
}

// add records a cancel of id asked for at at, heard now. A later request for the same id replaces an
// earlier one, so it also covers copies published in between.
func (s *cancelSet) add(id string, at, now time.Time) {
	if old, ok := s.ids[id]; ok && old.at.After(at) {
		at = old.at
	}
	s.seq++
	s.ids[id] = cancelEntry{at: at, heard: now, seq: s.seq}
	s.fifo = append(s.fifo, cancelRef{id, s.seq})
	s.forget(now)
}

// get returns when a cancel of id was asked for, if one is remembered.
func (s *cancelSet) get(id string, now time.Time) (time.Time, bool) {
	e, ok := s.ids[id]
	if !ok || now.Sub(e.heard) > s.ttl {
		return time.Time{}, false
	}
	return e.at, true
}

// forget drops expired requests and the oldest beyond max.
func (s *cancelSet) forget(now time.Time) {
	for s.head < len(s.fifo) {
		ref := s.fifo[s.head]
		e, ok := s.ids[ref.id]
		current := ok && e.seq == ref.seq
		if current && len(s.ids) <= s.max && now.Sub(e.heard) <= s.ttl {
			break
		}
		if current {
			delete(s.ids, ref.id)
		}
		s.head++
	}
	// Requests repeated for one id leave superseded entries behind: keep fifo within 2×max.
	if len(s.fifo)-s.head > 2*s.max || s.head > 1024 && s.head > len(s.fifo)/2 {
		live := make([]cancelRef, 0, len(s.ids))
		for _, ref := range s.fifo[s.head:] {
			if e, ok := s.ids[ref.id]; ok && e.seq == ref.seq {
				live = append(live, ref)
			}
		}
		s.fifo, s.head = live, 0
	}
}

// len returns how many requests are remembered, expired ones not yet forgotten included.
func (s *cancelSet) len() int { return len(s.ids) }
