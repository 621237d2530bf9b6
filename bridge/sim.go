package bridge

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"time"
)

// maxSimLog is how many requests a simulated device remembers.
const maxSimLog = 1000

// SimRequest is one request a simulated device received.
type SimRequest struct {
	At          time.Time
	Method      string
	Path        string // path and query, as sent
	ContentType string
	Close       bool   // the client sent Connection: close
	Body        string // as read, at most the device's body limit
}

// SimStats counts what a simulated device saw.
type SimStats struct {
	Requests      int // received
	MaxConcurrent int // most requests in progress at the same time
	Busy          int // answered "busy" because another request was in progress
}

// simRecorder counts requests in progress and remembers the last maxSimLog requests.
type simRecorder struct {
	mu       sync.Mutex
	inflight int
	stats    SimStats
	log      []SimRequest
}

// begin records a request; overlap reports whether another one was in progress. Call end after it.
func (r *simRecorder) begin(req *http.Request) (overlap bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stats.Requests++
	overlap = r.inflight > 0
	r.inflight++
	r.stats.MaxConcurrent = max(r.stats.MaxConcurrent, r.inflight)
	if overlap {
		r.stats.Busy++
	}
	return overlap
}

func (r *simRecorder) end() {
	r.mu.Lock()
	r.inflight--
	r.mu.Unlock()
}

func (r *simRecorder) record(req *http.Request, body []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.log) == maxSimLog {
		r.log = slices.Delete(r.log, 0, 1)
	}
	r.log = append(r.log, SimRequest{
		At:          time.Now(),
		Method:      req.Method,
		Path:        req.URL.RequestURI(),
		ContentType: req.Header.Get("Content-Type"),
		Close:       req.Close,
		Body:        string(body),
	})
}

func (r *simRecorder) requests() []SimRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.log)
}

func (r *simRecorder) statsNow() SimStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats
}

// simWork takes d of "processing time", or less if the client gave up.
func simWork(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
