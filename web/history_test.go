package web

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/stagelink/stagelink/lighting"
)

// historyFixture is a History fed through the lighting observer, with viewers and a queue depth the
// test sets. Use it inside a synctest bubble, which starts at a minute's beginning.
type historyFixture struct {
	h       *History
	o       lighting.Observer
	viewers atomic.Int64
	depth   atomic.Int64
}

func newHistoryFixture() *historyFixture {
	f := &historyFixture{}
	f.h = newHistory(f.viewers.Load, func() (int, bool) { return int(f.depth.Load()), true })
	f.o = lightObserver{metrics: newMetrics(metricSources{}), history: f.h}
	return f
}

// run runs the History until the test ends.
func (f *historyFixture) run(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { f.h.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	synctest.Wait() // the first sample
}

func (f *historyFixture) commands(accepted, refused int) {
	for range accepted {
		f.o.Command(lighting.Viewer{}, lighting.Command{}, lighting.Entry{Version: 1}, nil)
	}
	for range refused {
		f.o.Command(lighting.Viewer{}, lighting.Command{}, lighting.Entry{}, &lighting.Error{Code: lighting.CodeRateLimited})
	}
}

// until sleeps until d after the bubble's start.
func until(start time.Time, d time.Duration) { time.Sleep(time.Until(start.Add(d))) }

// nulls returns a Series of n minutes with no data, from minute first (Unix minutes).
func nulls(first int64, n int) Series {
	s := Series{
		Minutes: make([]int64, n), Viewers: make([]*int64, n), Commands: make([]*int64, n), Refused: make([]*int64, n),
		LatencyP50Ms: make([]*float64, n), LatencyP95Ms: make([]*float64, n), QueueDepth: make([]*int64, n),
	}
	for i := range n {
		s.Minutes[i] = (first + int64(i)) * 60_000
	}
	return s
}

// approx compares latencies to a tenth of a millisecond, the precision Series rounds to.
var approx = cmpopts.EquateApprox(0, 0.051)

func TestHistory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		if start.Unix()%60 != 0 {
			t.Fatalf("the bubble starts at %v, not at a minute's beginning", start)
		}
		f := newHistoryFixture()
		f.commands(9, 9) // before Run readied the minute: not recorded, and no panic
		f.viewers.Store(3)
		f.depth.Store(2)
		f.run(t)

		// Minute 0: viewers 3, then 7, then 2 (the chart shows the most); commands and latencies.
		until(start, 15*time.Second)
		f.viewers.Store(7)
		f.commands(5, 2)
		for range 4 {
			f.o.Confirmed("desk", 1, 8*time.Millisecond) // bucket 7–10 ms
		}
		f.o.Confirmed("desk", 1, 0) // not accepted here: left out
		until(start, 25*time.Second)
		f.viewers.Store(2)
		f.depth.Store(5)
		until(start, 45*time.Second)
		f.depth.Store(1)

		// Minutes 1 to 4: quiet. Minute 5: one slow confirmation. (Changes happen between samples, every
		// 10 s: at the same instant as a sample, either could come first.)
		until(start, 55*time.Second)
		f.viewers.Store(0)
		f.depth.Store(0)
		until(start, 5*time.Minute+35*time.Second)
		f.commands(1, 0)
		f.o.Confirmed("desk", 2, 400*time.Millisecond) // bucket 300–500 ms

		got := f.h.Series()
		first := start.Unix()/60 - historyMinutes + 6 // the current minute is minute 5, last
		want := nulls(first, historyMinutes)
		fill := func(i int, viewers, commands, refused, depth int64, p50, p95 *float64) {
			i += historyMinutes - 6
			want.Viewers[i], want.Commands[i], want.Refused[i], want.QueueDepth[i] = &viewers, &commands, &refused, &depth
			want.LatencyP50Ms[i], want.LatencyP95Ms[i] = p50, p95
		}
		fill(0, 7, 5, 2, 5, ptr(8.5), ptr(9.85))
		for m := 1; m <= 4; m++ {
			fill(m, 0, 0, 0, 0, nil, nil)
		}
		fill(5, 0, 1, 0, 0, ptr(400.0), ptr(490.0))
		if diff := cmp.Diff(want, got, approx); diff != "" {
			t.Errorf("Series (-want +got):\n%s", diff)
		}
	})
}

// TestHistoryWrapsAround runs for 70 minutes with a different number of commands each minute: the
// Series shows the last 60, each minute with its own count, none added to what its slot held an hour
// before.
func TestHistoryWrapsAround(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		f := newHistoryFixture()
		f.run(t)
		perMinute := func(m int) int { return m%7 + 1 }
		for m := range 70 {
			until(start, time.Duration(m)*time.Minute+25*time.Second)
			f.viewers.Store(int64(m))
			f.commands(perMinute(m), m%2)
			f.o.Confirmed("desk", 1, time.Duration(m+1)*time.Millisecond)
		}
		until(start, 69*time.Minute+50*time.Second)
		got := f.h.Series()
		if len(got.Minutes) != historyMinutes {
			t.Fatalf("Series has %d minutes, want %d", len(got.Minutes), historyMinutes)
		}
		for i := range historyMinutes {
			m := 10 + i
			if want := start.Add(time.Duration(m) * time.Minute).UnixMilli(); got.Minutes[i] != want {
				t.Errorf("minute %d starts at %d, want %d", i, got.Minutes[i], want)
			}
			if got.Commands[i] == nil || *got.Commands[i] != int64(perMinute(m)) {
				t.Errorf("minute %d: commands %v, want %d", m, deref(got.Commands[i]), perMinute(m))
			}
			if got.Refused[i] == nil || *got.Refused[i] != int64(m%2) {
				t.Errorf("minute %d: refused %v, want %d", m, deref(got.Refused[i]), m%2)
			}
			if got.Viewers[i] == nil || *got.Viewers[i] != int64(m) {
				t.Errorf("minute %d: viewers %v, want %d", m, deref(got.Viewers[i]), m)
			}
			p50 := got.LatencyP50Ms[i]
			if p50 == nil || *p50 <= bucketBelow(float64(m+1)) || *p50 > float64(m+1)+10 {
				t.Errorf("minute %d: p50 %v ms, want the bucket of %d ms", m, deref(p50), m+1)
			}
		}
	})
}

// TestHistoryStalled: minutes Run did not ready (the hub stalled, or had not started) have no data,
// and the observer records nothing into them.
func TestHistoryStalled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		f := newHistoryFixture()
		f.viewers.Store(4)
		f.h.sample(time.Now()) // minute 0, and readies minute 1
		f.commands(2, 0)
		until(start, time.Minute+10*time.Second)
		f.commands(3, 0) // minute 1 was readied ahead
		until(start, 4*time.Minute+10*time.Second)
		f.commands(50, 0) // minutes 2 to 4: never readied
		f.o.Confirmed("desk", 1, 5*time.Millisecond)
		f.h.sample(time.Now()) // minute 4 readied now, after those
		f.commands(1, 0)

		got := f.h.Series()
		n := historyMinutes
		want := []*int64{ptr[int64](2), ptr[int64](3), nil, nil, ptr[int64](1)}
		if diff := cmp.Diff(want, got.Commands[n-5:]); diff != "" {
			t.Errorf("commands of minutes 0–4 (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]*int64{ptr[int64](4), nil, nil, nil, ptr[int64](4)}, got.Viewers[n-5:]); diff != "" {
			t.Errorf("viewers of minutes 0–4 (-want +got):\n%s", diff)
		}
		for i, p := range got.LatencyP50Ms {
			if p != nil {
				t.Errorf("minute %d has a latency %v, recorded while not readied", i, *p)
			}
		}
	})
}

// TestHistoryJSON: no data is null, a measured zero is 0, and the keys are the dashboard's.
func TestHistoryJSON(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newHistoryFixture()
		f.run(t)
		raw, err := json.Marshal(f.h.Series())
		if err != nil {
			t.Fatal(err)
		}
		var got map[string][]any
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatal(err)
		}
		keys := []string{}
		for k, v := range got {
			keys = append(keys, k)
			if len(v) != historyMinutes {
				t.Errorf("%s has %d points, want %d", k, len(v), historyMinutes)
			}
		}
		want := []string{"commands", "latencyP50Ms", "latencyP95Ms", "minutes", "queueDepth", "refused", "viewers"}
		if diff := cmp.Diff(want, keys, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
			t.Errorf("keys (-want +got):\n%s", diff)
		}
		last := historyMinutes - 1
		if got["commands"][last] != float64(0) || got["commands"][last-1] != nil || got["latencyP50Ms"][last] != nil {
			t.Errorf("commands %v…, latency %v: want 0 now, null before Run, null latency without confirmations",
				got["commands"][last-1:], got["latencyP50Ms"][last])
		}
	})
}

func TestLatencyQuantile(t *testing.T) {
	hist := func(samples ...time.Duration) latencyHistogram {
		var c latencyCounts
		for _, d := range samples {
			c.add(d)
		}
		return c.snapshot()
	}
	repeat := func(n int, d time.Duration) []time.Duration {
		out := make([]time.Duration, n)
		for i := range out {
			out[i] = d
		}
		return out
	}
	tests := []struct {
		name   string
		h      latencyHistogram
		q      float64
		want   float64
		wantOK bool
	}{
		{"empty", hist(), 0.5, 0, false},
		{"one sample below 1 ms", hist(500 * time.Microsecond), 0.5, 0.5, true},
		{"exactly on a bound", hist(10 * time.Millisecond), 1, 10, true},
		{"median of a bucket", hist(repeat(10, 40*time.Millisecond)...), 0.5, 40, true},
		{"p95 in the slow tail", hist(append(repeat(90, 8*time.Millisecond), repeat(10, 400*time.Millisecond)...)...), 0.95, 400, true},
		{"p50 in the fast part", hist(append(repeat(90, 8*time.Millisecond), repeat(10, 400*time.Millisecond)...)...), 0.5, 7 + 3*50.0/90, true},
		{"beyond the last bound", hist(repeat(3, 30*time.Second)...), 0.95, 5000, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.h.quantile(tt.q)
			if ok != tt.wantOK || !cmp.Equal(got, tt.want, approx) {
				t.Errorf("quantile(%v) = %v, %v; want %v, %v", tt.q, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// bucketBelow returns the lower bound of the latency bucket that holds ms.
func bucketBelow(ms float64) float64 {
	lower := 0.0
	for _, b := range latencyBoundsMs {
		if ms <= b {
			return lower
		}
		lower = b
	}
	return lower
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}
