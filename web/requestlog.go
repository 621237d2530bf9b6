package web

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// requestIDHeader carries a request's id: taken from the client (a proxy in front of the hub) when it is
// well-formed, generated otherwise, and echoed in every answer.
const requestIDHeader = "X-Request-Id"

const (
	maxRequestID  = 64
	maxLoggedPath = 256
)

// requestLogKey is the context key of a request's logger.
type requestLogKey struct{}

// observeRequests gives every request an id and a logger that carries it, writes one access log line
// when the handler returns, and counts the request in the HTTP metrics.
func (s *Server) observeRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get(requestIDHeader)
		if !validRequestID(id) {
			id = rand.Text()[:16]
		}
		w.Header().Set(requestIDHeader, id)
		log := s.log.With("request_id", id)
		r = r.WithContext(context.WithValue(r.Context(), requestLogKey{}, log))
		rec := &responseRecorder{w: w}

		next.ServeHTTP(rec, r)

		status, bytes, hijackedAt := rec.result()
		end := time.Now()
		if !hijackedAt.IsZero() {
			end = hijackedAt // a WebSocket lives on; the request ended with the upgrade
		}
		took := end.Sub(start)
		route := r.Pattern // set by the ServeMux that routed it (the innermost one)
		if route == "" {
			route = "unmatched"
		}
		s.metrics.request(route, status, took)
		level := slog.LevelInfo
		if routine(r, !hijackedAt.IsZero()) {
			level = slog.LevelDebug
		}
		log.LogAttrs(r.Context(), level, "http request",
			slog.String("method", r.Method),
			slog.String("path", truncate(r.URL.Path, maxLoggedPath)), // never the query: it may carry tokens
			slog.String("route", route),
			slog.Int("status", status),
			slog.Int64("bytes", bytes),
			slog.Duration("duration", took),
			slog.String("remote", r.RemoteAddr),
		)
	})
}

// validRequestID reports whether an id from a client is safe to log and echo: 1 to 64 of
// [A-Za-z0-9._:-].
func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestID {
		return false
	}
	for _, c := range []byte(id) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}

// routine reports whether a request is one of the many that machines make all the time (probes,
// scrapes, Socket.IO long-polling, HLS segments and playlist reloads), logged at Debug rather than Info.
func routine(r *http.Request, hijacked bool) bool {
	p := r.URL.Path
	switch {
	case p == "/healthz" || p == "/readyz" || p == "/metrics":
		return true
	case strings.HasPrefix(p, "/socket.io/"):
		return !hijacked // a WebSocket upgrade is a connection worth a line
	case strings.HasPrefix(p, "/hls/"):
		return !strings.HasSuffix(p, "/index.m3u8") || r.URL.RawQuery != "" // a player's first load is not
	}
	return false
}

// requestLog returns the logger of r, which carries its request id; the server's own logger for a
// request that did not come through observeRequests.
func (s *Server) requestLog(r *http.Request) *slog.Logger {
	if l, ok := r.Context().Value(requestLogKey{}).(*slog.Logger); ok {
		return l
	}
	return s.log
}
