package main

import (
	"context"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// lineWriter hands the first line with a prefix to a channel.
type lineWriter struct {
	mu     sync.Mutex
	buf    strings.Builder
	prefix string
	found  chan string
}

func (w *lineWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(b)
	for _, line := range strings.Split(w.buf.String(), "\n") {
		if rest, ok := strings.CutPrefix(line, w.prefix); ok && w.found != nil {
			w.found <- rest
			w.found = nil
		}
	}
	return len(b), nil
}

// TestRunDemo runs the hub in-process with no flags but the address: the demo devices come online, a
// change reaches them, and cancelling the context shuts the hub down cleanly.
func TestRunDemo(t *testing.T) {
	baseline := runtime.NumGoroutine()
	h := runHub(t, []string{"-addr", "127.0.0.1:0", "-data", t.TempDir()}, map[string]string{"STAGELINK_API_TOKEN": "demo-api"})
	hub := h.url
	waitHTTP(t, hub+"/readyz")
	waitOnline(t, hub, 4)
	req, _ := http.NewRequest(http.MethodPost, hub+"/api/v1/zones/lamp/state", strings.NewReader(`{"color":"#00ff00","brightness":255}`))
	req.Header.Set("Authorization", "Bearer demo-api")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("set lamp: HTTP %d", resp.StatusCode)
	}
	eventually(t, "the demo lamp confirmed", func() bool {
		for _, z := range zones(t, hub).Zones {
			if z.ID == "lamp" {
				return z.Confirmed && z.State.Color == "#00ff00"
			}
		}
		return false
	})

	// A print job reaches the demo printer, whose receipt shows on the page.
	req, _ = http.NewRequest(http.MethodPost, hub+"/api/v1/print", strings.NewReader(`{"id":"run-demo","author":"test","text":"cześć"}`))
	req.Header.Set("Authorization", "Bearer demo-api")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("print: HTTP %d, want 202", resp.StatusCode)
	}
	eventually(t, "the demo printer printed the job", func() bool {
		req, _ := http.NewRequest(http.MethodGet, hub+"/api/v1/print/api:run-demo", nil)
		req.Header.Set("Authorization", "Bearer demo-api")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(b), `"status":"printed"`)
	})
	if resp, err := http.Get(hub + "/demo/printer/1.png"); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("GET /demo/printer/1.png: %v %v, want 200", resp, err)
	} else {
		resp.Body.Close()
	}

	// The test pattern plays: /metrics says so, and HLS serves it.
	eventually(t, "the test pattern live in /metrics", func() bool {
		families := metrics(t, hub)
		live := families["stagelink_stream_live"]
		if live == nil || families["go_goroutines"] == nil {
			return false
		}
		for _, m := range live.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["stream"] == "live" && labels["source"] == "test-pattern" && m.GetGauge().GetValue() == 1 {
				return true
			}
		}
		return false
	})
	// The web layer's metrics: the demo bridge and its zones, the demo printer, the requests so far.
	eventually(t, "the demo venue in /metrics", func() bool {
		families := metrics(t, hub)
		return value(families, "stagelink_bridges", nil) == 1 &&
			value(families, "stagelink_zones", map[string]string{"state": "online"}) == 4 &&
			value(families, "stagelink_printer_up", nil) == 1 &&
			value(families, "stagelink_print_queue_depth", nil) == 0 &&
			value(families, "stagelink_http_requests_total", map[string]string{"route": "POST /api/v1/print", "code": "202"}) == 1
	})
	eventually(t, "the HLS playlist", func() bool {
		resp, err := http.Get(hub + "/hls/live/index.m3u8")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})

	h.stop(t)
	http.DefaultClient.CloseIdleConnections()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > baseline && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > baseline {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines after run returned, %d before:\n%s", n, baseline, buf[:runtime.Stack(buf, true)])
	}
}

// inProcessHub is run() on its own goroutine.
type inProcessHub struct {
	url    string
	cancel context.CancelFunc
	done   chan error
}

// runHub calls run with args and env and waits until it listens.
func runHub(t *testing.T, args []string, env map[string]string) *inProcessHub {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	found := make(chan string, 1)
	out := &lineWriter{prefix: "stagelink hub listening on ", found: found}
	h := &inProcessHub{cancel: cancel, done: make(chan error, 1)}
	args = append([]string{"-webrtc-udp", "127.0.0.1:0"}, args...)
	go func() {
		h.done <- run(ctx, args, func(k string) string { return env[k] }, strings.NewReader(""), out, io.Discard)
	}()
	select {
	case h.url = <-found:
	case err := <-h.done:
		t.Fatalf("run returned early: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the hub did not start")
	}
	return h
}

// stop cancels run's context and checks that it returns nil in time.
func (h *inProcessHub) stop(t *testing.T) {
	t.Helper()
	h.cancel()
	select {
	case err := <-h.done:
		if err != nil {
			t.Errorf("run after cancel = %v, want nil", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run did not return within 15 s of cancel")
	}
}

func TestRunRefusesBadConfig(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"bad address", []string{"-addr", "nowhere"}, nil, "-addr"},
		{"bad metrics address", []string{"-metrics-addr", "9090"}, nil, "-metrics-addr"},
		{"bad redis URL", []string{"-redis", "mysql://x"}, nil, "-redis"},
		{"bad trusted proxy", []string{"-trusted-proxies", "10.0.0.0/8,nginx"}, nil, "-trusted-proxies"},
		{"zero rate", []string{"-viewer-rate", "0"}, nil, "viewer"},
		{"bad env value", nil, map[string]string{"STAGELINK_PAUSED": "maybe"}, "STAGELINK_PAUSED"},
		{"stray argument", []string{"extra"}, nil, "unexpected"},
		{"bad log level", []string{"-log-level", "loud"}, nil, "log level"},
		{"bad link policy", []string{"-links", "maybe"}, nil, "link"},
		{"bad tip minimum", []string{"-tip-min", "PLN=five"}, nil, "-tip-min"},
		{"short tip secret", nil, map[string]string{"STAGELINK_TIPS_SECRET": "short"}, "secret"},
		{"bad Discord mode", []string{"-discord-mode", "carrier-pigeon"}, map[string]string{"STAGELINK_DISCORD_TOKEN": "x"}, "mode"},
		{"bad stream name", []string{"-stream", "Main Stage"}, nil, "-stream"},
		{"camera not RTSP", []string{"-rtsp", "http://cam/video"}, nil, "-rtsp"},
		{"camera for a bad stream", []string{"-rtsp", "Cam!=rtsp://cam/1"}, nil, "-rtsp item 1"},
		{"two cameras, one stream", []string{"-rtsp", "a=rtsp://cam/1,a=rtsp://cam/2"}, nil, "two cameras"},
		{"bad public IP", []string{"-public-ip", "my.host"}, nil, "public IP"},
		{"bad ICE server", []string{"-ice-servers", "http://stun.example.com"}, nil, "ICE server"},
		{"no viewers", []string{"-max-viewers", "0"}, nil, "-max-viewers"},
		{"origin not HTTP", []string{"-video-origin", "rtsp://origin/"}, nil, "-video-origin"},
		{"origin without a host", []string{"-video-origin", "http://"}, nil, "-video-origin"},
		{"origin with a path", []string{"-video-origin", "http://origin:8080/whep/live"}, nil, "without a path"},
		{"origin with a query", []string{"-video-origin", "https://origin/?x=1"}, nil, "without a path"},
		{"origin from the environment", nil, map[string]string{"STAGELINK_VIDEO_ORIGIN": "origin:8080"}, "-video-origin"},
		{"edge with a camera", []string{"-video-origin", "http://origin:8080", "-rtsp", "rtsp://cam/1"}, nil, "-video-origin with -rtsp"},
		{"edge with the test pattern", []string{"-video-origin", "http://origin:8080", "-test-pattern"}, nil, "-video-origin with -test-pattern"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(context.Background(), tt.args, func(k string) string { return tt.env[k] }, strings.NewReader(""), io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("run(%q) = %v, want an error mentioning %q", tt.args, err, tt.want)
			}
		})
	}
}

// TestMetricsAddr: with -metrics-addr, /metrics is served there and no longer on -addr, so a proxy that
// sends -addr to the public never shows it.
func TestMetricsAddr(t *testing.T) {
	addr := freeAddr(t)
	_, hub := startHub(t, "-addr", "127.0.0.1:0", "-metrics-addr", addr)
	if families := metrics(t, "http://"+addr); families["stagelink_viewers"] == nil {
		t.Errorf("/metrics on -metrics-addr lacks stagelink_viewers")
	}
	resp, err := http.Get(hub + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /metrics on -addr: HTTP %d, want 404 with -metrics-addr", resp.StatusCode)
	}
}

// metrics reads the hub's /metrics with the Prometheus text parser.
func metrics(t *testing.T, hub string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(hub + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: HTTP %d", resp.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return families
}

// value returns the value of the counter or gauge of name whose labels include labels; -1 if there is none.
func value(families map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	for _, m := range families[name].GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range labels {
			match = match && have[k] == v
		}
		if !match {
			continue
		}
		if m.GetCounter() != nil {
			return m.GetCounter().GetValue()
		}
		return m.GetGauge().GetValue()
	}
	return -1
}

// TestVideoOriginErrorsHidePasswords: an origin URL that is refused is not repeated, since it may hold
// a password for a proxy in front of the origin.
func TestVideoOriginErrorsHidePasswords(t *testing.T) {
	for _, origin := range []string{"http://relay:hunter2@origin/x", "ftp://relay:hunter2@origin", "http://relay:hunter2@origin:0"} {
		err := run(context.Background(), []string{"-video-origin", origin}, func(string) string { return "" }, strings.NewReader(""), io.Discard, io.Discard)
		if err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("-video-origin %q: %v, want an error without the password", origin, err)
		}
	}
}

// TestCameraErrorsHidePasswords: a camera URL that is refused is not repeated, since it may hold a
// password.
func TestCameraErrorsHidePasswords(t *testing.T) {
	for _, rtsp := range []string{"rtsp://admin:hunter2@cam:99999/1", "yard=rtsp://admin:hunter2@/1", "rtsp://admin:hunter2@cam/1,rtsp://admin:hunter2@cam/2"} {
		err := run(context.Background(), []string{"-rtsp", rtsp}, func(string) string { return "" }, strings.NewReader(""), io.Discard, io.Discard)
		if err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("-rtsp %q: %v, want an error without the password", rtsp, err)
		}
	}
}
