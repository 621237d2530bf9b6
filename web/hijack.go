package web

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"sync"
)

// releaseOnHijack hands the Engine.IO handler a ResponseWriter that forgets net/http's own once the
// connection is hijacked for a WebSocket. engine.io v2.5.0 keeps the request's ResponseWriter for the
// life of the connection, and through it net/http's connection state with its 4 KiB read and write
// buffers: about 8 KB per viewer that nothing uses after the upgrade.
func releaseOnHijack(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			h.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(&hijackWriter{w: w}, r)
	})
}

// hijackWriter is a ResponseWriter that drops its underlying writer once hijacked.
type hijackWriter struct {
	mu     sync.Mutex
	w      http.ResponseWriter // nil once hijacked
	header http.Header         // what Header returns after that
}

func (h *hijackWriter) inner() http.ResponseWriter {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.w
}

func (h *hijackWriter) Header() http.Header {
	if w := h.inner(); w != nil {
		return w.Header()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.header == nil {
		h.header = http.Header{}
	}
	return h.header
}

func (h *hijackWriter) Write(b []byte) (int, error) {
	if w := h.inner(); w != nil {
		return w.Write(b)
	}
	return 0, http.ErrHijacked
}

func (h *hijackWriter) WriteHeader(code int) {
	if w := h.inner(); w != nil {
		w.WriteHeader(code)
	}
}

func (h *hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.w == nil {
		return nil, nil, http.ErrHijacked
	}
	conn, brw, err := http.NewResponseController(h.w).Hijack()
	if err == nil {
		h.w = nil
	}
	return conn, brw, err
}
