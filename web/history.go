package web

import (
	"context"
	"sync/atomic"
	"time"
)

const (
	// historyMinutes is how far back the dashboard's charts reach: one point a minute.
	historyMinutes = 60
	// historySlots is the ring's size: the minutes shown, the next one made ready ahead of time, and a
	// margin, so that the slot being readied is never one a reader or a writer uses.
	historySlots = 64
	// historySampleEvery is how often Run samples the viewers and the print queue.
	historySampleEvery = 10 * time.Second
)

// History keeps the dashboard's charts of the last hour, one point a minute: viewers, light commands
// accepted and refused, click-to-device latency, print queue depth. The lighting observer feeds it
// commands and latencies, using atomics only; Run samples the viewers and the queue and readies each
// minute's slot before the minute starts. A minute whose slot was never readied (before Run started,
// or while the hub was stalled) has no data, shown as null.
type History struct {
	viewers    func() int64       // nil: not sampled
	queueDepth func() (int, bool) // nil or ok false: not sampled
	slots      [historySlots]minuteSlot
}

// minuteSlot is one minute of the ring. Run is its only writer of minute, viewers and queue; observers
// only add to the counters, and only while minute says the slot holds their minute.
type minuteSlot struct {
	minute   atomic.Int64 // the Unix minute the slot holds, stored after its fields were reset
	accepted atomic.Int64
	refused  atomic.Int64
	latency  latencyCounts
	viewers  atomic.Int64 // most viewers sampled in the minute; -1: no sample
	queue    atomic.Int64 // deepest print queue sampled in the minute; -1: no sample
}

func newHistory(viewers func() int64, queueDepth func() (int, bool)) *History {
	h := &History{viewers: viewers, queueDepth: queueDepth}
	for i := range h.slots {
		h.slots[i].minute.Store(-1)
	}
	return h
}

// Series is the last hour as JSON-ready arrays for the dashboard's charts, oldest minute first, the
// current (partial) minute last. A null means no data for that minute; 0 is a measured zero.
type Series struct {
	Minutes      []int64    `json:"minutes"`      // start of each minute, Unix milliseconds
	Viewers      []*int64   `json:"viewers"`      // most viewers connected at once
	Commands     []*int64   `json:"commands"`     // light commands accepted
	Refused      []*int64   `json:"refused"`      // light commands refused
	LatencyP50Ms []*float64 `json:"latencyP50Ms"` // click-to-device latency, median; null: nothing confirmed
	LatencyP95Ms []*float64 `json:"latencyP95Ms"` // and 95th percentile
	QueueDepth   []*int64   `json:"queueDepth"`   // deepest print queue; null throughout if not configured
}

// Run readies the coming minutes and samples the viewers and the print queue every 10 s until ctx ends.
func (h *History) Run(ctx context.Context) error {
	t := time.NewTicker(historySampleEvery)
	defer t.Stop()
	for {
		h.sample(time.Now())
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// sample readies now's minute and the next, and records the viewers and the queue depth.
func (h *History) sample(now time.Time) {
	m := unixMinute(now)
	h.ready(m)
	h.ready(m + 1)
	s := h.slot(m)
	if h.viewers != nil {
		s.viewers.Store(max(s.viewers.Load(), h.viewers()))
	}
	if h.queueDepth != nil {
		if n, ok := h.queueDepth(); ok {
			s.queue.Store(max(s.queue.Load(), int64(n)))
		}
	}
}

// ready resets the slot of minute m for it, unless it already holds m. Only Run calls it.
func (h *History) ready(m int64) {
	s := h.slot(m)
	if s.minute.Load() == m {
		return
	}
	s.accepted.Store(0)
	s.refused.Store(0)
	s.latency.reset()
	s.viewers.Store(-1)
	s.queue.Store(-1)
	s.minute.Store(m)
}

func (h *History) slot(m int64) *minuteSlot {
	return &h.slots[(m%historySlots+historySlots)%historySlots] // a clock before 1970 must not panic
}

// current returns the slot of the minute now, or nil if Run has not readied it.
func (h *History) current() *minuteSlot {
	m := unixMinute(time.Now())
	if s := h.slot(m); s.minute.Load() == m {
		return s
	}
	return nil
}

// command counts a light command, accepted or refused.
func (h *History) command(accepted bool) {
	s := h.current()
	switch {
	case s == nil:
	case accepted:
		s.accepted.Add(1)
	default:
		s.refused.Add(1)
	}
}

// confirmed records a click-to-device latency.
func (h *History) confirmed(latency time.Duration) {
	if s := h.current(); s != nil {
		s.latency.add(latency)
	}
}

// Series returns the last hour.
func (h *History) Series() Series {
	now := unixMinute(time.Now())
	out := Series{
		Minutes:      make([]int64, historyMinutes),
		Viewers:      make([]*int64, historyMinutes),
		Commands:     make([]*int64, historyMinutes),
		Refused:      make([]*int64, historyMinutes),
		LatencyP50Ms: make([]*float64, historyMinutes),
		LatencyP95Ms: make([]*float64, historyMinutes),
		QueueDepth:   make([]*int64, historyMinutes),
	}
	for i := range historyMinutes {
		m := now - historyMinutes + 1 + int64(i)
		out.Minutes[i] = m * 60_000
		s := h.slot(m)
		if s.minute.Load() != m {
			continue
		}
		out.Commands[i] = ptr(s.accepted.Load())
		out.Refused[i] = ptr(s.refused.Load())
		if v := s.viewers.Load(); v >= 0 {
			out.Viewers[i] = ptr(v)
		}
		if q := s.queue.Load(); q >= 0 {
			out.QueueDepth[i] = ptr(q)
		}
		counts := s.latency.snapshot()
		if p, ok := counts.quantile(0.5); ok {
			out.LatencyP50Ms[i] = ptr(p)
		}
		if p, ok := counts.quantile(0.95); ok {
			out.LatencyP95Ms[i] = ptr(p)
		}
	}
	return out
}

func unixMinute(t time.Time) int64 { return t.Unix() / 60 }

func ptr[T any](v T) *T { return &v }
