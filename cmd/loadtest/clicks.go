package main

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"
)

// click is one light:set a viewer sent. Its colour is unique: #rrggbb is seq+1, so the device's copy of
// the colour tells which click it shows.
type click struct {
	zone    int
	sent    time.Duration
	sendErr bool
	acked   bool
	ackAt   time.Duration
	ok      bool
	version int64
	code    string // refusal code when !ok
}

// colorOf is the colour that click seq sets.
func colorOf(seq int) uint32 { return uint32(seq + 1) }

// seqOf is the click that set colour c, or -1 for a colour no click set.
func seqOf(c uint32) int { return int(c) - 1 }

func colorString(c uint32) string { return fmt.Sprintf("#%06x", c&0xffffff) }

// clickLog records every click; acks arrive from the viewers' read loops.
type clickLog struct {
	mu     sync.Mutex
	clicks []click
}

func (l *clickLog) add(zone int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.clicks = append(l.clicks, click{zone: zone})
	return len(l.clicks) - 1
}

func (l *clickLog) sent(seq int, at time.Duration) {
	l.mu.Lock()
	l.clicks[seq].sent = at
	l.mu.Unlock()
}

func (l *clickLog) failed(seq int) {
	l.mu.Lock()
	l.clicks[seq].sendErr = true
	l.mu.Unlock()
}

func (l *clickLog) ack(seq int, at time.Duration, a ack) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if seq < 0 || seq >= len(l.clicks) || l.clicks[seq].acked {
		return
	}
	c := &l.clicks[seq]
	c.acked, c.ackAt, c.ok, c.version = true, at, a.OK, a.Version
	if !a.OK {
		c.code = "unknown"
		if a.Error != nil {
			c.code = a.Error.Code
		}
	}
}

func (l *clickLog) all() []click {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]click(nil), l.clicks...)
}

// clickPlan says who clicks, where and how fast.
type clickPlan struct {
	clickers []*viewer
	zones    []string
	rate     float64 // clicks per second, all clickers together
	duration time.Duration
}

// run sends ceil(rate × duration) clicks on a fixed schedule, round robin over clickers and zones, and
// returns when the last was sent or ctx ended. A late tick sends at once: the schedule does not drift.
func (p clickPlan) run(ctx context.Context, log *clickLog) {
	n := int(math.Ceil(p.rate * p.duration.Seconds()))
	interval := time.Duration(float64(time.Second) / p.rate)
	start := time.Now()
	t := time.NewTimer(0)
	defer t.Stop()
	for i := range n {
		t.Reset(time.Until(start.Add(time.Duration(i) * interval)))
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		v := p.clickers[i%len(p.clickers)]
		z := i % len(p.zones)
		seq := log.add(z)
		err := v.click(seq, p.zones[z], colorString(colorOf(seq)), func(at time.Duration) { log.sent(seq, at) })
		if err != nil {
			log.failed(seq)
		}
	}
}
