package web

import (
	"bufio"
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/stagelink/stagelink/bots"
	"github.com/stagelink/stagelink/lighting"
)

// logBuffer collects JSON log lines from any goroutine.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// records decodes every line logged so far.
func (b *logBuffer) records(t *testing.T) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b.buf.Bytes()))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

// accessLines returns the access log records of requests to path.
func (b *logBuffer) accessLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, r := range b.records(t) {
		if r["msg"] == "http request" && r["path"] == path {
			out = append(out, r)
		}
	}
	return out
}

// newLoggedServer is a Server with the test zones whose log is JSON in the returned buffer, at Debug.
func newLoggedServer(t *testing.T, cfg Config) (*Server, *logBuffer) {
	t.Helper()
	buf := &logBuffer{}
	log := slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	lights := lighting.NewService(lighting.DefaultConfig(), lighting.NewMemoryStore(), lighting.NewMemoryLimiter(), log)
	if err := lights.AttachBridge(t.Context(), apiLink{}, "test", testZones); err != nil {
		t.Fatal(err)
	}
	srv := New(cfg, lights, log)
	t.Cleanup(srv.Close)
	return srv, buf
}

func TestRequestID(t *testing.T) {
	long := strings.Repeat("a", 64)
	tests := []struct {
		name, sent string
		kept       bool
	}{
		{"none", "", false},
		{"valid", "req-1.2_3:abc", true},
		{"64 characters", long, true},
		{"65 characters", long + "b", false},
		{"space", "req 1", false},
		{"quote", `req"1`, false},
		{"newline", "req\n1", false},
		{"non-ASCII", "żółw", false},
	}
	srv, logs := newLoggedServer(t, Config{})
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := "/api/v1/zones/" + strings.ReplaceAll(tt.name, " ", "-") // a path of its own, to find its line
			req := httptest.NewRequest("GET", path, nil)
			if tt.sent != "" {
				req.Header.Set("X-Request-Id", tt.sent)
			}
			rec := httptest.NewRecorder()
			srv.Handler().ServeHTTP(rec, req)
			got := rec.Header().Get("X-Request-Id")
			if tt.kept && got != tt.sent {
				t.Errorf("X-Request-Id = %q, want the client's %q", got, tt.sent)
			}
			if !tt.kept && (got == tt.sent || len(got) != 16 || !validRequestID(got)) {
				t.Errorf("X-Request-Id = %q for %q, want a new 16-character id", got, tt.sent)
			}
			if !tt.kept && seen[got] {
				t.Errorf("X-Request-Id %q generated twice", got)
			}
			seen[got] = true
			lines := logs.accessLines(t, path)
			if len(lines) != 1 || lines[0]["request_id"] != got {
				t.Errorf("access log of %s = %v, want one line with request_id %q", path, lines, got)
			}
		})
	}
}

func TestAccessLog(t *testing.T) {
	srv, logs := newLoggedServer(t, Config{APIToken: testAPIToken, Moderation: &fakeModeration{}})
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()

	resp, body := do(t, "GET", ts.URL+"/api/v1/zones?token=s3cret", "", "")
	lines := logs.accessLines(t, "/api/v1/zones")
	if len(lines) != 1 {
		t.Fatalf("access log lines for /api/v1/zones = %v, want 1", lines)
	}
	got := lines[0]
	if d, ok := got["duration"].(float64); !ok || d <= 0 || d > float64(10*time.Second) {
		t.Errorf("duration = %v, want a positive number of nanoseconds", got["duration"])
	}
	if r, _ := got["remote"].(string); !strings.HasPrefix(r, "127.0.0.1:") {
		t.Errorf("remote = %v, want 127.0.0.1:port", got["remote"])
	}
	want := map[string]any{
		"level": "INFO", "msg": "http request", "request_id": resp.Header.Get("X-Request-Id"),
		"method": "GET", "path": "/api/v1/zones", "route": "GET /api/v1/zones",
		"status": float64(200), "bytes": float64(len(body)),
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreMapEntries(func(k string, _ any) bool {
		return k == "time" || k == "duration" || k == "remote"
	})); diff != "" {
		t.Errorf("access log line (-want +got):\n%s", diff)
	}
	if strings.Contains(logs.String(), "s3cret") {
		t.Error("the access log shows the query string")
	}

	// A handler's own lines carry the request's id.
	resp, _ = do(t, "POST", ts.URL+"/api/v1/print/pause", testAPIToken, "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /api/v1/print/pause = %d, want 200", resp.StatusCode)
	}
	id := resp.Header.Get("X-Request-Id")
	var found bool
	for _, r := range logs.records(t) {
		found = found || r["msg"] == "community printing" && r["request_id"] == id
	}
	if !found {
		t.Errorf("no \"community printing\" line with request_id %q in\n%s", id, logs.String())
	}

	// Routine requests are logged at Debug, unmatched ones with their own route.
	for _, tt := range []struct{ method, path, level, route string }{
		{"GET", "/healthz", "DEBUG", "GET /healthz"},
		{"GET", "/readyz", "DEBUG", "GET /readyz"},
		{"DELETE", "/nowhere", "INFO", "unmatched"},
	} {
		do(t, tt.method, ts.URL+tt.path, "", "")
		lines := logs.accessLines(t, tt.path)
		if len(lines) != 1 || lines[0]["level"] != tt.level || lines[0]["route"] != tt.route {
			t.Errorf("%s %s logged as %v, want one %s line with route %q", tt.method, tt.path, lines, tt.level, tt.route)
		}
	}
}

func TestRoutineRequests(t *testing.T) {
	tests := []struct {
		target   string
		hijacked bool
		want     bool
	}{
		{"/healthz", false, true},
		{"/readyz", false, true},
		{"/metrics", false, true},
		{"/socket.io/?EIO=4&transport=polling&sid=x", false, true},
		{"/socket.io/?EIO=4&transport=websocket", true, false},
		{"/hls/live/index.m3u8", false, false},
		{"/hls/live/index.m3u8?_HLS_msn=5&_HLS_part=1", false, true},
		{"/hls/live/video1_stream.m3u8", false, true},
		{"/hls/live/seg7.mp4", false, true},
		{"/api/v1/zones", false, false},
		{"/", false, false},
		{"/whep/live", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			if got := routine(httptest.NewRequest("GET", tt.target, nil), tt.hijacked); got != tt.want {
				t.Errorf("routine(%s, hijacked %v) = %v, want %v", tt.target, tt.hijacked, got, tt.want)
			}
		})
	}
}

// fakeModeration is a Moderation with a pause switch and no refusals.
type fakeModeration struct{ paused atomic.Bool }

func (m *fakeModeration) SetPaused(p bool)                  { m.paused.Store(p) }
func (m *fakeModeration) Paused() bool                      { return m.paused.Load() }
func (m *fakeModeration) Refusals(int) []bots.RefusalRecord { return nil }
