package web

import (
	"bufio"
	"net"
	"net/http"
	"sync"
	"time"
)

// responseRecorder is the ResponseWriter handlers get: it remembers the status, the bytes written and
// when the connection was hijacked, for the access log and the HTTP metrics. It passes Flush and Hijack
// through, and Unwrap lets http.ResponseController reach the deadlines of the writer beneath. Once the
// connection is hijacked (a WebSocket upgrade) it forgets that writer, so that a library which keeps the
// writer for the life of the socket does not keep net/http's buffers with it (see releaseOnHijack).
type responseRecorder struct {
	mu       sync.Mutex
	w        http.ResponseWriter // nil once hijacked
	status   int                 // the final status written; 0 until then
	bytes    int64
	hijacked time.Time // when the connection was hijacked; zero if it was not
}

func (rw *responseRecorder) inner() http.ResponseWriter {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	return rw.w
}

func (rw *responseRecorder) Header() http.Header {
	if w := rw.inner(); w != nil {
		return w.Header()
	}
	return http.Header{} // after a hijack nobody reads it
}

func (rw *responseRecorder) WriteHeader(code int) {
	rw.mu.Lock()
	w := rw.w
	if w != nil && rw.status == 0 && code >= 200 { // 1xx are interim answers
		rw.status = code
	}
	rw.mu.Unlock()
	if w != nil {
		w.WriteHeader(code)
	}
}

func (rw *responseRecorder) Write(b []byte) (int, error) {
	rw.mu.Lock()
	w := rw.w
	if w != nil && rw.status == 0 {
		rw.status = http.StatusOK
	}
	rw.mu.Unlock()
	if w == nil {
		return 0, http.ErrHijacked
	}
	n, err := w.Write(b)
	rw.mu.Lock()
	rw.bytes += int64(n)
	rw.mu.Unlock()
	return n, err
}

// Flush implements http.Flusher, which some handlers assert directly.
func (rw *responseRecorder) Flush() { rw.FlushError() }

// FlushError is what http.ResponseController.Flush calls.
func (rw *responseRecorder) FlushError() error {
	w := rw.inner()
	if w == nil {
		return http.ErrHijacked
	}
	rw.mu.Lock()
	if rw.status == 0 {
		rw.status = http.StatusOK
	}
	rw.mu.Unlock()
	return http.NewResponseController(w).Flush()
}

// Hijack implements http.Hijacker, which gorilla/websocket (under Engine.IO) asserts directly.
func (rw *responseRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	if rw.w == nil {
		return nil, nil, http.ErrHijacked
	}
	conn, brw, err := http.NewResponseController(rw.w).Hijack()
	if err == nil {
		rw.w, rw.hijacked = nil, time.Now()
		if rw.status == 0 {
			rw.status = http.StatusSwitchingProtocols // the upgrade answers on the raw connection
		}
	}
	return conn, brw, err
}

// Unwrap gives http.ResponseController the writer beneath; nil once hijacked.
func (rw *responseRecorder) Unwrap() http.ResponseWriter { return rw.inner() }

// result returns what the handler answered, once it returned: the status (200 if it wrote nothing, as
// net/http then answers), the bytes of the body, and whether the connection was hijacked and when.
func (rw *responseRecorder) result() (status int, bytes int64, hijackedAt time.Time) {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	status = rw.status
	if status == 0 {
		status = http.StatusOK
	}
	return status, rw.bytes, rw.hijacked
}
