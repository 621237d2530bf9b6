package web

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/stagelink/stagelink/bridge"
	"github.com/stagelink/stagelink/lighting"
)

const testAPIToken = "api-secret"

// apiLink is a lighting.Link that drops what it is sent: the API tests need zones, not a bridge.
type apiLink struct{}

func (apiLink) Apply(string, lighting.State, int64) {}

// apiFixture is a Server on an httptest listener whose zones are testZones, attached without a socket.
type apiFixture struct {
	url    string
	lights *lighting.Service
}

func newAPIHub(t *testing.T, cfg Config, lcfg lighting.Config) *apiFixture {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	lights := lighting.NewService(lcfg, lighting.NewMemoryStore(), lighting.NewMemoryLimiter(), log)
	if err := lights.AttachBridge(t.Context(), apiLink{}, "test", testZones); err != nil {
		t.Fatal(err)
	}
	srv := New(cfg, lights, log)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		srv.Close()
		ts.Close()
	})
	return &apiFixture{url: ts.URL, lights: lights}
}

// do sends a request and returns the response and its body.
func do(t *testing.T, method, url, token, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// decodeJSON decodes body into a value of type T, failing the test if it is not JSON.
func decodeJSON[T any](t *testing.T, body string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	return v
}

func TestHealthz(t *testing.T) {
	h := newAPIHub(t, Config{}, lighting.DefaultConfig())
	resp, body := do(t, "GET", h.url+"/healthz", "", "")
	if resp.StatusCode != http.StatusOK || body != "ok\n" {
		t.Errorf("GET /healthz = %d %q, want 200 %q", resp.StatusCode, body, "ok\n")
	}
	if got := resp.Header.Get("Content-Type"); !strings.HasPrefix(got, "text/plain") {
		t.Errorf("Content-Type = %q, want text/plain", got)
	}
}

func TestAPIZones(t *testing.T) {
	h := newAPIHub(t, Config{}, lighting.DefaultConfig())
	resp, body := do(t, "GET", h.url+"/api/v1/zones", "", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/v1/zones = %d %s, want 200", resp.StatusCode, body)
	}
	if got := resp.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", got)
	}
	if got := resp.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
	got := decodeJSON[zonesMsg](t, body)
	if diff := cmp.Diff(zonesMsg{Zones: h.lights.Zones()}, got); diff != "" {
		t.Errorf("GET /api/v1/zones (-want +got):\n%s", diff)
	}
	// The contract's field names.
	raw := decodeJSON[map[string][]map[string]any](t, body)
	for _, key := range []string{"id", "name", "kind", "online", "effects", "state", "version"} {
		if _, ok := raw["zones"][0][key]; !ok {
			t.Errorf("zone %v has no key %q", raw["zones"][0], key)
		}
	}
}

func TestAPISetZone(t *testing.T) {
	tests := []struct {
		name        string
		path        string
		token       string
		body        string
		wantStatus  int
		wantCode    lighting.Code // "" for success
		wantVersion int64
	}{
		{"no token", "/api/v1/zones/desk/state", "", `{"on":false}`, http.StatusUnauthorized, "unauthorized", 0},
		{"wrong token", "/api/v1/zones/desk/state", "api-secreT", `{"on":false}`, http.StatusUnauthorized, "unauthorized", 0},
		{"token prefix", "/api/v1/zones/desk/state", "api-secre", `{"on":false}`, http.StatusUnauthorized, "unauthorized", 0},
		{"ok", "/api/v1/zones/desk/state", testAPIToken, `{"on":false,"color":"#00ff00","effect":"Rainbow"}`, http.StatusOK, "", 1},
		{"zone in body too", "/api/v1/zones/lamp/state", testAPIToken, `{"zone":"lamp","brightness":7}`, http.StatusOK, "", 1},
		{"another zone in body", "/api/v1/zones/lamp/state", testAPIToken, `{"zone":"desk","on":true}`, http.StatusBadRequest, lighting.CodeBadRequest, 0},
		{"not JSON", "/api/v1/zones/desk/state", testAPIToken, `on=false`, http.StatusBadRequest, lighting.CodeBadRequest, 0},
		{"empty body", "/api/v1/zones/desk/state", testAPIToken, ``, http.StatusBadRequest, lighting.CodeBadRequest, 0},
		{"nothing to change", "/api/v1/zones/desk/state", testAPIToken, `{}`, http.StatusBadRequest, lighting.CodeBadRequest, 0},
		{"unknown field", "/api/v1/zones/desk/state", testAPIToken, `{"colour":"#ffffff"}`, http.StatusBadRequest, lighting.CodeBadRequest, 0},
		{"out of range", "/api/v1/zones/desk/state", testAPIToken, `{"brightness":256}`, http.StatusBadRequest, lighting.CodeBadRequest, 0},
		{"relay colour", "/api/v1/zones/disco/state", testAPIToken, `{"color":"#ffffff"}`, http.StatusBadRequest, lighting.CodeBadRequest, 0},
		{"over the command size", "/api/v1/zones/desk/state", testAPIToken, `{"effect":"` + strings.Repeat(" ", 2000) + `"}`, http.StatusBadRequest, lighting.CodeBadRequest, 0},
		{"over 4 KiB", "/api/v1/zones/desk/state", testAPIToken, `{"on":true}` + strings.Repeat(" ", 4096), http.StatusBadRequest, lighting.CodeBadRequest, 0},
		{"unknown zone", "/api/v1/zones/attic/state", testAPIToken, `{"on":true}`, http.StatusNotFound, lighting.CodeUnknownZone, 0},
		{"bad zone id", "/api/v1/zones/Desk/state", testAPIToken, `{"on":true}`, http.StatusNotFound, lighting.CodeUnknownZone, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newAPIHub(t, Config{APIToken: testAPIToken}, lighting.DefaultConfig())
			before := h.lights.Zones()
			resp, body := do(t, "POST", h.url+tt.path, tt.token, tt.body)
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("POST %s = %d %s, want %d", tt.path, resp.StatusCode, body, tt.wantStatus)
			}
			got := decodeJSON[ackMsg](t, body)
			if tt.wantCode == "" {
				if diff := cmp.Diff(ackMsg{OK: true, Version: tt.wantVersion}, got); diff != "" {
					t.Errorf("ack (-want +got):\n%s", diff)
				}
				return
			}
			if got.OK || got.Error == nil || got.Error.Code != tt.wantCode || got.Error.Message == "" {
				t.Errorf("ack = %s, want code %s with a message", body, tt.wantCode)
			}
			if tt.wantStatus == http.StatusUnauthorized && resp.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("401 without WWW-Authenticate")
			}
			if diff := cmp.Diff(before, h.lights.Zones()); diff != "" {
				t.Errorf("a refused request changed the zones (-before +after):\n%s", diff)
			}
		})
	}

	t.Run("state stored", func(t *testing.T) {
		h := newAPIHub(t, Config{APIToken: testAPIToken}, lighting.DefaultConfig())
		do(t, "POST", h.url+"/api/v1/zones/lamp/state", testAPIToken, `{"color":"#102030","brightness":9}`)
		z := h.lights.Zones()[1]
		if z.ID != "lamp" || z.Version != 1 || z.State.Color != (lighting.Color{R: 0x10, G: 0x20, B: 0x30}) || z.State.Brightness != 9 || z.State.By != "api" {
			t.Errorf("lamp = %+v, want version 1, #102030, brightness 9, by api", z)
		}
	})

	t.Run("no token configured", func(t *testing.T) {
		h := newAPIHub(t, Config{}, lighting.DefaultConfig())
		for _, token := range []string{"", "anything"} {
			if resp, body := do(t, "POST", h.url+"/api/v1/zones/desk/state", token, `{"on":true}`); resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("token %q with no API token configured: %d %s, want 401", token, resp.StatusCode, body)
			}
		}
	})

	t.Run("rate limited", func(t *testing.T) {
		cfg := lighting.DefaultConfig()
		cfg.ZoneRate = lighting.Rate{PerSecond: 0.5, Burst: 1}
		h := newAPIHub(t, Config{APIToken: testAPIToken}, cfg)
		if resp, body := do(t, "POST", h.url+"/api/v1/zones/desk/state", testAPIToken, `{"on":true}`); resp.StatusCode != http.StatusOK {
			t.Fatalf("first POST = %d %s, want 200", resp.StatusCode, body)
		}
		resp, body := do(t, "POST", h.url+"/api/v1/zones/desk/state", testAPIToken, `{"on":false}`)
		if resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("second POST = %d %s, want 429", resp.StatusCode, body)
		}
		if got := resp.Header.Get("Retry-After"); got != "2" {
			t.Errorf("Retry-After = %q, want %q", got, "2")
		}
		got := decodeJSON[ackMsg](t, body)
		if got.Error == nil || got.Error.Code != lighting.CodeRateLimited || got.Error.RetryAfterMs <= 1000 || got.Error.RetryAfterMs > 2000 {
			t.Errorf("ack = %s, want rate_limited with retryAfterMs in (1000, 2000]", body)
		}
	})

	t.Run("offline", func(t *testing.T) {
		h := newAPIHub(t, Config{APIToken: testAPIToken}, lighting.DefaultConfig())
		h.lights.DetachBridge(apiLink{})
		resp, body := do(t, "POST", h.url+"/api/v1/zones/desk/state", testAPIToken, `{"on":true}`)
		if got := decodeJSON[ackMsg](t, body); resp.StatusCode != http.StatusConflict || got.Error == nil || got.Error.Code != lighting.CodeZoneOffline {
			t.Errorf("POST to an offline zone = %d %s, want 409 zone_offline", resp.StatusCode, body)
		}
	})
}

func TestAPIPause(t *testing.T) {
	h := newAPIHub(t, Config{APIToken: testAPIToken}, lighting.DefaultConfig())
	paused := func() bool {
		t.Helper()
		resp, body := do(t, "GET", h.url+"/api/v1/pause", "", "")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /api/v1/pause = %d %s", resp.StatusCode, body)
		}
		return decodeJSON[pauseMsg](t, body).Paused
	}
	if paused() {
		t.Fatal("paused at start")
	}
	for _, token := range []string{"", "wrong"} {
		if resp, _ := do(t, "POST", h.url+"/api/v1/pause", token, ""); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("POST /api/v1/pause with token %q = %d, want 401", token, resp.StatusCode)
		}
	}
	if paused() || h.lights.Paused() {
		t.Fatal("paused by a request without a valid token")
	}

	resp, body := do(t, "POST", h.url+"/api/v1/pause", testAPIToken, "")
	if resp.StatusCode != http.StatusOK || decodeJSON[pauseMsg](t, body) != (pauseMsg{Paused: true}) {
		t.Errorf("POST /api/v1/pause = %d %s, want 200 paused", resp.StatusCode, body)
	}
	if !paused() || !h.lights.Paused() {
		t.Error("not paused after POST /api/v1/pause")
	}
	resp, body = do(t, "POST", h.url+"/api/v1/zones/desk/state", testAPIToken, `{"on":true}`)
	if got := decodeJSON[ackMsg](t, body); resp.StatusCode != http.StatusLocked || got.Error == nil || got.Error.Code != lighting.CodePaused {
		t.Errorf("POST state while paused = %d %s, want 423 paused", resp.StatusCode, body)
	}

	if resp, _ := do(t, "POST", h.url+"/api/v1/resume", "", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("POST /api/v1/resume without a token = %d, want 401", resp.StatusCode)
	}
	if !paused() {
		t.Error("resumed by a request without a token")
	}
	resp, body = do(t, "POST", h.url+"/api/v1/resume", testAPIToken, "")
	if resp.StatusCode != http.StatusOK || decodeJSON[pauseMsg](t, body) != (pauseMsg{}) {
		t.Errorf("POST /api/v1/resume = %d %s, want 200 not paused", resp.StatusCode, body)
	}
	if paused() {
		t.Error("still paused after POST /api/v1/resume")
	}
	if resp, body := do(t, "POST", h.url+"/api/v1/zones/desk/state", testAPIToken, `{"on":true}`); resp.StatusCode != http.StatusOK {
		t.Errorf("POST state after resume = %d %s, want 200", resp.StatusCode, body)
	}
}

func TestAPIMethods(t *testing.T) {
	h := newAPIHub(t, Config{APIToken: testAPIToken}, lighting.DefaultConfig())
	for _, tt := range []struct{ method, path string }{
		{"POST", "/api/v1/zones"},
		{"DELETE", "/api/v1/pause"},
		{"GET", "/api/v1/zones/desk/state"},
		{"PUT", "/healthz"},
	} {
		if resp, _ := do(t, tt.method, h.url+tt.path, testAPIToken, ""); resp.StatusCode != http.StatusMethodNotAllowed && resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s %s = %d, want 405 or 404", tt.method, tt.path, resp.StatusCode)
		}
	}
}

func TestStaticPage(t *testing.T) {
	h := newAPIHub(t, Config{}, lighting.DefaultConfig())
	index, err := assets.ReadFile("assets/index.html")
	if err != nil {
		t.Fatal(err)
	}
	vendor, err := assets.ReadFile("assets/vendor/socket.io.min.js")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path       string
		wantStatus int
		wantBody   string // "" to skip
		wantType   string
		wantCache  string
	}{
		{"/", http.StatusOK, string(index), "text/html", "no-cache"},
		{"/vendor/socket.io.min.js", http.StatusOK, string(vendor), "javascript", "public, max-age=86400"},
		{"/app.js", http.StatusOK, "", "javascript", "no-cache"},
		{"/player.js", http.StatusOK, "", "javascript", "no-cache"},
		{"/rtc.js", http.StatusOK, "", "javascript", "no-cache"},
		{"/publish.html", http.StatusOK, "", "text/html", "no-cache"},
		{"/publish.js", http.StatusOK, "", "javascript", "no-cache"},
		{"/vendor/hls.light.min.js", http.StatusOK, "", "javascript", "public, max-age=86400"},
		{"/style.css", http.StatusOK, "", "text/css", "no-cache"},
		{"/nosuch.html", http.StatusNotFound, "", "", ""},
		{"/vendor/nosuch.js", http.StatusNotFound, "", "", ""},
		{"/api/v1/nosuch", http.StatusNotFound, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, body := do(t, "GET", h.url+tt.path, "", "")
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("GET %s = %d, want %d", tt.path, resp.StatusCode, tt.wantStatus)
			}
			if tt.wantBody != "" && body != tt.wantBody {
				t.Errorf("GET %s: body differs from the embedded file (%d bytes, want %d)", tt.path, len(body), len(tt.wantBody))
			}
			if tt.wantStatus != http.StatusOK {
				return
			}
			hd := resp.Header
			if got := hd.Get("Content-Type"); !strings.Contains(got, tt.wantType) {
				t.Errorf("Content-Type = %q, want it to contain %q", got, tt.wantType)
			}
			if got := hd.Get("Cache-Control"); got != tt.wantCache {
				t.Errorf("Cache-Control = %q, want %q", got, tt.wantCache)
			}
			csp := hd.Get("Content-Security-Policy")
			for _, want := range []string{"default-src 'self'", "script-src 'self'", "frame-ancestors 'self'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
				}
			}
			if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
				t.Errorf("Content-Security-Policy %q allows unsafe scripts", csp)
			}
			if got := hd.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
			}
		})
	}
}

func TestDisplayName(t *testing.T) {
	tests := []struct {
		name string
		auth any
		want string
	}{
		{"given", map[string]any{"name": "Alice"}, "Alice"},
		{"trimmed", map[string]any{"name": "  Bob \t"}, "Bob"},
		{"inner space collapsed", map[string]any{"name": "Ann\u00a0 \n Lee"}, "Ann Lee"},
		{"control characters dropped", map[string]any{"name": "Ev\x00e\x1b[31m\u0085"}, "Eve[31m"},
		{"format characters dropped", map[string]any{"name": "a\u202eb\u200bc\ufeff"}, "abc"},
		{"replacement character dropped", map[string]any{"name": "d\ufffde"}, "de"},
		{"cut to 32 runes", map[string]any{"name": strings.Repeat("ż", 40)}, strings.Repeat("ż", 32)},
		{"no trailing space after the cut", map[string]any{"name": strings.Repeat("x", 31) + " yz"}, strings.Repeat("x", 31)},
		{"none", nil, "viewer-abcd"},
		{"not a string", map[string]any{"name": 42}, "viewer-abcd"},
		{"only spaces", map[string]any{"name": " \u2028 "}, "viewer-abcd"},
		{"not a map", "Alice", "viewer-abcd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := displayName(tt.auth, "abcdefgh"); got != tt.want {
				t.Errorf("displayName(%q) = %q, want %q", tt.auth, got, tt.want)
			}
		})
	}
	if got := displayName(nil, "ab"); got != "viewer-ab" {
		t.Errorf("displayName with a short id = %q, want %q", got, "viewer-ab")
	}
}

// socketIDAlphabet is what socket.io's connection ids are made of (base64url).
const socketIDAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

func FuzzDisplayName(f *testing.F) {
	f.Add("Alice", "abcdefgh")
	f.Add("  \u202e evil \x00 ", "a")
	f.Add(strings.Repeat("ż", 40), "")
	f.Add(strings.Repeat("x", 31)+" y", "ABCD")
	f.Add("\xff\xfe", "id")
	f.Add("\u0085\u2028\u00ad", "id")
	f.Fuzz(func(t *testing.T, name, id string) {
		// The id is the server's own connection id, never a viewer's input.
		if strings.Trim(id, socketIDAlphabet) != "" {
			t.Skip()
		}
		got := displayName(map[string]any{"name": name}, id)
		if !utf8.ValidString(got) {
			t.Errorf("displayName(%q) = %q, not valid UTF-8", name, got)
		}
		if n := utf8.RuneCountInString(got); n == 0 || n > maxDisplayName {
			t.Errorf("displayName(%q) = %q: %d runes, want 1–%d", name, got, n, maxDisplayName)
		}
		for _, r := range got {
			if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError {
				t.Errorf("displayName(%q) = %q holds %U", name, got, r)
			}
		}
		if strings.TrimSpace(got) != got {
			t.Errorf("displayName(%q) = %q has leading or trailing space", name, got)
		}
		if again := displayName(map[string]any{"name": got}, id); again != got {
			t.Errorf("displayName is not idempotent: %q → %q → %q", name, got, again)
		}
	})
}

func FuzzDecodeEvent(f *testing.F) {
	f.Add([]byte(`{"zone":"desk","online":true,"version":3}`), 4096)
	f.Add([]byte(`{"zone":"desk","online":"yes","version":1.5,"extra":[1,2]}`), 4096)
	f.Add([]byte(`{"name":"studio","version":"0.1.0","zones":[{"id":"desk","name":"Desk","kind":"pixels","effects":["Solid"]}]}`), maxEventBytes)
	f.Add([]byte(`[1,2,3]`), 100)
	f.Add([]byte(`"text"`), 100)
	f.Add([]byte(`null`), 100)
	f.Add([]byte(`{"zone":"x"}`), 5)
	f.Fuzz(func(t *testing.T, raw []byte, limit int) {
		var payload any
		if err := json.Unmarshal(raw, &payload); err != nil {
			payload = string(raw) // a string argument
		}
		_, isObject := payload.(map[string]any)
		encoded, _ := json.Marshal(payload)
		for _, args := range [][]any{{payload}, {}, {payload, payload}} {
			var st bridge.Status
			errStatus := decodeEvent(args, limit, &st)
			var h bridge.Hello
			errHello := decodeEvent(args, limit, &h)
			if len(args) != 1 {
				if errStatus == nil || errHello == nil {
					t.Errorf("decodeEvent of %d arguments succeeded", len(args))
				}
				continue
			}
			if !isObject && (errStatus == nil || errHello == nil) {
				t.Errorf("decodeEvent(%s) of a non-object succeeded: %+v %+v", encoded, st, h)
			}
			if len(encoded) > limit && (errStatus == nil || errHello == nil) {
				t.Errorf("decodeEvent(%s) over the limit %d succeeded", encoded, limit)
			}
			if errStatus == nil {
				// What was decoded encodes again into an event that decodes the same.
				again, err := json.Marshal(st)
				if err != nil {
					t.Fatal(err)
				}
				var st2 bridge.Status
				if err := decodeEvent([]any{decodeAny(t, again)}, len(again), &st2); err != nil || st2 != st {
					t.Errorf("round trip of %+v: %+v, %v", st, st2, err)
				}
			}
		}
	})
}

func decodeAny(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestAPISetZoneReachesBridge sets a zone over HTTP and follows it to a connected bridge and back.
func TestAPISetZoneReachesBridge(t *testing.T) {
	h := newHub(t, lighting.DefaultConfig())
	b := fakeBridge(t, h.url, testZones)
	resp, body := do(t, "POST", h.url+"/api/v1/zones/desk/state", testAPIToken, `{"color":"#0000ff","effect":"Blink"}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST = %d %s, want 200", resp.StatusCode, body)
	}
	ack := decodeJSON[ackMsg](t, body)
	b.waitFor("light:apply at the bridge", func(c *client) bool { return c.applied["desk"] >= ack.Version })
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, body := do(t, "GET", h.url+"/api/v1/zones", "", "")
		z := decodeJSON[zonesMsg](t, body).Zones[0]
		if z.Version == ack.Version && z.Confirmed {
			if z.State.Color != (lighting.Color{B: 255}) || z.State.Effect != "Blink" || z.State.By != "api" {
				t.Errorf("desk = %+v, want blue Blink by api", z)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("desk never confirmed version %d: %+v", ack.Version, z)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
