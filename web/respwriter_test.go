package web

import (
	"bufio"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// wrapped serves h behind observeRequests, with a discarded log.
func wrapped(h http.Handler) http.Handler {
	s := &Server{log: slog.New(slog.DiscardHandler), metrics: newMetrics(metricSources{})}
	return s.observeRequests(h)
}

// TestRecorderPassesThrough: handlers behind the middleware can still flush (as an http.Flusher and
// through http.ResponseController), set deadlines (Unwrap) and hijack.
func TestRecorderPassesThrough(t *testing.T) {
	t.Run("flush", func(t *testing.T) {
		flushed := make(chan struct{})
		ts := httptest.NewServer(wrapped(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "first\n")
			w.(http.Flusher).Flush()
			<-flushed // the client must see the first line before the handler goes on
			io.WriteString(w, "second\n")
			if err := http.NewResponseController(w).Flush(); err != nil {
				t.Errorf("ResponseController.Flush: %v", err)
			}
		})))
		defer ts.Close()
		resp, err := http.Get(ts.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		br := bufio.NewReader(resp.Body)
		if line, err := br.ReadString('\n'); line != "first\n" {
			t.Fatalf("first line = %q, %v", line, err)
		}
		close(flushed)
		if rest, _ := io.ReadAll(br); string(rest) != "second\n" {
			t.Errorf("rest = %q, want %q", rest, "second\n")
		}
	})

	t.Run("deadlines", func(t *testing.T) {
		ts := httptest.NewServer(wrapped(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rc := http.NewResponseController(w)
			if err := rc.SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
				t.Errorf("SetWriteDeadline: %v", err)
			}
			if err := rc.SetReadDeadline(time.Now().Add(time.Minute)); err != nil {
				t.Errorf("SetReadDeadline: %v", err)
			}
		})))
		defer ts.Close()
		resp, err := http.Get(ts.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	})

	t.Run("hijack", func(t *testing.T) {
		var rec *responseRecorder
		ts := httptest.NewServer(wrapped(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec = w.(*responseRecorder)
			conn, _, err := w.(http.Hijacker).Hijack()
			if err != nil {
				t.Errorf("hijack: %v", err)
				return
			}
			conn.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi"))
			conn.Close()
		})))
		defer ts.Close()
		resp, err := http.Get(ts.URL)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "hi" {
			t.Errorf("body = %q, want %q", body, "hi")
		}
		if rec.inner() != nil {
			t.Error("the recorder still holds net/http's ResponseWriter after the hijack")
		}
		if _, err := rec.Write([]byte("x")); !errors.Is(err, http.ErrHijacked) {
			t.Errorf("Write after hijack = %v, want ErrHijacked", err)
		}
		if err := rec.FlushError(); !errors.Is(err, http.ErrHijacked) {
			t.Errorf("Flush after hijack = %v, want ErrHijacked", err)
		}
		rec.Header().Set("X", "y") // must not panic
		if status, _, at := rec.result(); status != http.StatusSwitchingProtocols || at.IsZero() {
			t.Errorf("result after hijack = %d, %v; want 101 and the hijack time", status, at)
		}
	})
}

func TestRecorderStatus(t *testing.T) {
	tests := []struct {
		name       string
		handler    http.HandlerFunc
		wantStatus int
		wantBytes  int64
	}{
		{"nothing written", func(http.ResponseWriter, *http.Request) {}, 200, 0},
		{"body only", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "hello") }, 200, 5},
		{"status", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(404); io.WriteString(w, "no") }, 404, 2},
		{"interim then final", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(103); w.WriteHeader(201) }, 201, 0},
		{"second WriteHeader ignored", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(500); w.WriteHeader(200) }, 500, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &responseRecorder{w: httptest.NewRecorder()}
			tt.handler(rec, httptest.NewRequest("GET", "/", nil))
			if status, bytes, _ := rec.result(); status != tt.wantStatus || bytes != tt.wantBytes {
				t.Errorf("result = %d, %d bytes; want %d, %d bytes", status, bytes, tt.wantStatus, tt.wantBytes)
			}
		})
	}
}

// TestWebSocketThroughMiddleware: a Socket.IO client connects over WebSocket through the middleware, and
// the upgrade is logged once, at Info, as a 101 of the Socket.IO route.
func TestWebSocketThroughMiddleware(t *testing.T) {
	srv, logs := newLoggedServer(t, Config{BridgeTokens: []string{testBridgeToken}})
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	if _, err := dial(t, ts.URL, "/bridge", map[string]any{"token": testBridgeToken}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the upgrade in the access log", func() bool {
		for _, r := range logs.accessLines(t, "/socket.io/") {
			if r["status"] == float64(101) {
				if r["level"] != "INFO" || r["route"] != "GET /socket.io/" {
					t.Errorf("upgrade logged as %v, want INFO with route GET /socket.io/", r)
				}
				return true
			}
		}
		return false
	})
	if strings.Contains(logs.String(), testBridgeToken) {
		t.Error("the log shows the bridge token")
	}
}
