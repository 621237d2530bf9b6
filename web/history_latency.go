package web

import (
	"math"
	"sort"
	"sync/atomic"
	"time"
)

// latencyBoundsMs are the upper bounds of the per-minute latency buckets, in milliseconds; one more
// bucket counts anything slower. Fixed buckets keep a minute's memory bounded whatever the traffic.
var latencyBoundsMs = [...]float64{1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 70, 100, 150, 200, 300, 500, 700,
	1000, 1500, 2000, 3000, 5000}

// latencyCounts is one minute's latency histogram, safe to add to concurrently.
type latencyCounts [len(latencyBoundsMs) + 1]atomic.Int64

func (c *latencyCounts) add(d time.Duration) {
	ms := float64(d) / float64(time.Millisecond)
	c[sort.SearchFloat64s(latencyBoundsMs[:], ms)].Add(1) // the first bound ≥ ms; past the last: overflow
}

func (c *latencyCounts) reset() {
	for i := range c {
		c[i].Store(0)
	}
}

func (c *latencyCounts) snapshot() latencyHistogram {
	var h latencyHistogram
	for i := range c {
		h[i] = c[i].Load()
	}
	return h
}

// latencyHistogram is a copy of a latencyCounts.
type latencyHistogram [len(latencyBoundsMs) + 1]int64

// quantile estimates the q-quantile in milliseconds as Prometheus's histogram_quantile does: linear
// within the bucket that holds it, from 0 in the first; in the overflow bucket, the last bound. It
// reports false when the histogram is empty.
func (h latencyHistogram) quantile(q float64) (float64, bool) {
	var total int64
	for _, n := range h {
		total += n
	}
	if total == 0 {
		return 0, false
	}
	rank := q * float64(total)
	var below int64
	for i, n := range h {
		if n == 0 || float64(below+n) < rank {
			below += n
			continue
		}
		if i == len(latencyBoundsMs) {
			break
		}
		lower := 0.0
		if i > 0 {
			lower = latencyBoundsMs[i-1]
		}
		v := lower + (latencyBoundsMs[i]-lower)*(rank-float64(below))/float64(n)
		return math.Round(v*10) / 10, true
	}
	return latencyBoundsMs[len(latencyBoundsMs)-1], true
}
