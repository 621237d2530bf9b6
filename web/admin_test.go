package web

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stagelink/stagelink/lighting"
	"github.com/stagelink/stagelink/web/store"
)

const testSetupToken = "setup-token-0123456789"

// adminFixture is a Server with a content store in a temporary SQLite file, on an httptest listener.
type adminFixture struct {
	url    string
	srv    *Server
	db     *store.DB
	lights *lighting.Service
}

func newAdminHub(t *testing.T) *adminFixture {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := store.Open(t.Context(), store.Config{Path: filepath.Join(t.TempDir(), "content.db")}, log)
	if err != nil {
		t.Fatal(err)
	}
	lights := lighting.NewService(lighting.DefaultConfig(), lighting.NewMemoryStore(), lighting.NewMemoryLimiter(), log)
	if err := lights.AttachBridge(t.Context(), apiLink{}, "test", testZones); err != nil {
		t.Fatal(err)
	}
	srv := New(Config{BridgeTokens: []string{testBridgeToken}, Content: db, SetupToken: testSetupToken}, lights, log)
	srv.argon = testArgon
	ts := httptest.NewServer(srv.Handler())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		srv.Close()
		ts.Close()
		db.Close()
	})
	return &adminFixture{url: ts.URL, srv: srv, db: db, lights: lights}
}

// browser is a dashboard user: a cookie jar and the CSRF token it was given.
type browser struct {
	t    *testing.T
	base string
	http *http.Client
	csrf string
}

func (f *adminFixture) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: f.url, http: &http.Client{Jar: jar}}
}

// call sends a request with the browser's cookies and, unless noCSRF, its CSRF token.
func (b *browser) call(method, path, body string, hdr ...string) (int, map[string]any) {
	b.t.Helper()
	req, err := http.NewRequestWithContext(b.t.Context(), method, b.base+path, strings.NewReader(body))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set(csrfHeader, b.csrf)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := b.http.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &m); err != nil {
			b.t.Fatalf("%s %s: %v in %q", method, path, err, raw)
		}
	}
	return resp.StatusCode, m
}

func errCode(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

// loginForm fetches the login CSRF token, as the page does.
func (b *browser) loginForm() map[string]any {
	b.t.Helper()
	code, m := b.call("GET", "/admin/api/me", "")
	if code != http.StatusUnauthorized {
		b.t.Fatalf("GET /admin/api/me logged out: HTTP %d, want 401", code)
	}
	b.csrf, _ = m["loginCsrf"].(string)
	return m
}

// login logs in and keeps the session's CSRF token.
func (b *browser) login(name, password string) (int, map[string]any) {
	b.t.Helper()
	b.loginForm()
	code, m := b.call("POST", "/admin/api/login", `{"name":"`+name+`","password":"`+password+`"}`)
	if code == http.StatusOK {
		b.csrf, _ = m["csrf"].(string)
	}
	return code, m
}

func (f *adminFixture) account(t *testing.T, name string, role store.Role, password string) store.Account {
	t.Helper()
	a, err := f.db.CreateAccount(t.Context(), name, role, hashPassword(password, testArgon))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestAdminSetupLink(t *testing.T) {
	f := newAdminHub(t)
	b := f.browser(t)
	if m := b.loginForm(); m["setup"] != true {
		t.Fatalf("me before any account: setup = %v, want true", m["setup"])
	}
	for _, tc := range []struct {
		name, body string
		want       int
		code       string
	}{
		{"wrong token", `{"token":"nope","name":"boss","password":"long enough pw"}`, 401, "unauthorized"},
		{"short password", `{"token":"` + testSetupToken + `","name":"boss","password":"short"}`, 400, "bad_request"},
		{"bad name", `{"token":"` + testSetupToken + `","name":"<b>boss</b>","password":"long enough pw"}`, 400, "bad_request"},
		{"ok", `{"token":"` + testSetupToken + `","name":"Boss","password":"long enough pw"}`, 200, ""},
	} {
		code, m := b.call("POST", "/admin/api/setup", tc.body)
		if code != tc.want || errCode(m) != tc.code {
			t.Errorf("%s: HTTP %d %q, want %d %q", tc.name, code, errCode(m), tc.want, tc.code)
		}
	}
	other := f.browser(t)
	if m := other.loginForm(); m["setup"] != false {
		t.Errorf("me with an account: setup = %v, want false", m["setup"])
	}
	if code, m := other.call("POST", "/admin/api/setup", `{"token":"`+testSetupToken+`","name":"other","password":"long enough pw"}`); code != 410 || errCode(m) != "gone" {
		t.Errorf("setup again: HTTP %d %v, want 410 gone", code, m)
	}
	code, m := b.call("GET", "/admin/api/me", "")
	acct, _ := m["account"].(map[string]any)
	if code != 200 || acct["name"] != "boss" || acct["role"] != "admin" {
		t.Errorf("me after setup: HTTP %d %v, want the admin boss", code, m)
	}
}

func TestAdminLogin(t *testing.T) {
	f := newAdminHub(t)
	f.account(t, "streamer", store.RoleAdmin, "correct horse battery")

	t.Run("wrong password", func(t *testing.T) {
		code, m := f.browser(t).login("streamer", "wrong horse battery")
		if code != 401 || errCode(m) != "unauthorized" {
			t.Errorf("HTTP %d %v, want 401 unauthorized", code, m)
		}
	})
	t.Run("unknown name", func(t *testing.T) {
		code, _ := f.browser(t).login("nobody", "correct horse battery")
		if code != 401 {
			t.Errorf("HTTP %d, want 401", code)
		}
	})
	t.Run("missing login CSRF token", func(t *testing.T) {
		b := f.browser(t)
		b.loginForm()
		b.csrf = ""
		code, m := b.call("POST", "/admin/api/login", `{"name":"streamer","password":"correct horse battery"}`)
		if code != 403 || errCode(m) != "csrf" {
			t.Errorf("HTTP %d %v, want 403 csrf", code, m)
		}
	})
	t.Run("ok", func(t *testing.T) {
		b := f.browser(t)
		code, m := b.login("STREAMER", "correct horse battery")
		if code != 200 || b.csrf == "" {
			t.Fatalf("HTTP %d %v, want 200 with a CSRF token", code, m)
		}
		u, _ := http.NewRequest("GET", f.url, nil)
		var session *http.Cookie
		for _, c := range b.http.Jar.Cookies(u.URL) {
			if c.Name == sessionCookie {
				session = c
			}
		}
		if session == nil {
			t.Fatal("no session cookie")
		}
		if code, _ := b.call("POST", "/admin/api/logout", ""); code != 200 {
			t.Errorf("logout: HTTP %d", code)
		}
		if code, _ := b.call("GET", "/admin/api/overview", ""); code != 401 {
			t.Errorf("overview after logout: HTTP %d, want 401", code)
		}
	})
	t.Run("rate limited", func(t *testing.T) {
		f.account(t, "target", store.RoleModerator, "correct horse battery")
		var last int
		var m map[string]any
		for range loginNameRate.Burst + 1 {
			last, m = f.browser(t).login("target", "guess guess guess")
		}
		if last != 429 || errCode(m) != "rate_limited" {
			t.Errorf("attempt %d: HTTP %d %v, want 429 rate_limited", loginNameRate.Burst+1, last, m)
		}
		if code, _ := f.browser(t).login("target", "correct horse battery"); code != 429 {
			t.Errorf("the right password while limited: HTTP %d, want 429", code)
		}
	})
}

func TestAdminSessionChecks(t *testing.T) {
	f := newAdminHub(t)
	admin := f.account(t, "streamer", store.RoleAdmin, "correct horse battery")
	f.account(t, "mod", store.RoleModerator, "correct horse battery")

	b := f.browser(t)
	if code, _ := b.login("streamer", "correct horse battery"); code != 200 {
		t.Fatal("login failed")
	}
	t.Run("missing CSRF token", func(t *testing.T) {
		good := b.csrf
		defer func() { b.csrf = good }()
		b.csrf = ""
		if code, m := b.call("POST", "/admin/api/pause", `{"lights":true}`); code != 403 || errCode(m) != "csrf" {
			t.Errorf("HTTP %d %v, want 403 csrf", code, m)
		}
		b.csrf = "forged"
		if code, _ := b.call("POST", "/admin/api/pause", `{"lights":true}`); code != 403 {
			t.Errorf("wrong token: HTTP %d, want 403", code)
		}
		if f.lights.Paused() {
			t.Error("a refused request paused the lights")
		}
	})
	t.Run("other origin", func(t *testing.T) {
		code, _ := b.call("POST", "/admin/api/pause", `{"lights":true}`, "Origin", "https://evil.example")
		if code != 403 || f.lights.Paused() {
			t.Errorf("HTTP %d, paused %v; want 403 and not paused", code, f.lights.Paused())
		}
	})
	t.Run("pause and resume", func(t *testing.T) {
		if code, m := b.call("POST", "/admin/api/pause", `{"lights":true}`); code != 200 || !f.lights.Paused() {
			t.Fatalf("HTTP %d %v, paused %v", code, m, f.lights.Paused())
		}
		if code, _ := b.call("POST", "/admin/api/pause", `{"lights":false}`); code != 200 || f.lights.Paused() {
			t.Fatalf("resume: HTTP %d, paused %v", code, f.lights.Paused())
		}
	})
	t.Run("forged cookie", func(t *testing.T) {
		req, _ := http.NewRequest("GET", f.url+"/admin/api/overview", nil)
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: "forged-session-id"})
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Errorf("HTTP %d, want 401", resp.StatusCode)
		}
	})
	t.Run("expired session", func(t *testing.T) {
		id := "expired-session-id"
		sum := sha256.Sum256([]byte(id))
		past := time.Now().Add(-time.Hour)
		if err := f.db.CreateSession(t.Context(), store.Session{Hash: sum[:], AccountID: admin.ID, CSRF: "x", CreatedAt: past.Add(-sessionTTL), ExpiresAt: past}); err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("GET", f.url+"/admin/api/overview", nil)
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: id})
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Errorf("HTTP %d, want 401", resp.StatusCode)
		}
	})
	t.Run("moderator refused admin actions", func(t *testing.T) {
		m := f.browser(t)
		if code, _ := m.login("mod", "correct horse battery"); code != 200 {
			t.Fatal("moderator login failed")
		}
		for _, c := range []struct{ method, path, body string }{
			{"PUT", "/admin/api/page", `{"title":"mine now"}`},
			{"POST", "/admin/api/tokens", `{"kind":"api","name":"x"}`},
			{"GET", "/admin/api/tokens", ""},
			{"POST", "/admin/api/accounts", `{"name":"x","password":"long enough pw","role":"admin"}`},
			{"PUT", "/admin/api/zones/desk", `{"hidden":true}`},
			{"GET", "/admin/api/audit", ""},
		} {
			if code, resp := m.call(c.method, c.path, c.body); code != 403 || errCode(resp) != "forbidden" {
				t.Errorf("%s %s: HTTP %d %v, want 403 forbidden", c.method, c.path, code, resp)
			}
		}
		if code, _ := m.call("POST", "/admin/api/pause", `{"lights":false}`); code != 200 {
			t.Errorf("a moderator may pause: HTTP %d", code)
		}
		if p, _ := f.db.Page(t.Context()); p.Title == "mine now" {
			t.Error("a moderator changed the page")
		}
	})
	t.Run("oversized body", func(t *testing.T) {
		big := `{"title":"` + strings.Repeat("x", 100<<10) + `"}`
		if code, m := b.call("PUT", "/admin/api/page", big); code != 400 || errCode(m) != "bad_request" {
			t.Errorf("HTTP %d %v, want 400", code, m)
		}
	})
}

func TestAdminTokens(t *testing.T) {
	f := newAdminHub(t)
	f.account(t, "streamer", store.RoleAdmin, "correct horse battery")
	b := f.browser(t)
	b.login("streamer", "correct horse battery")

	code, m := b.call("POST", "/admin/api/tokens", `{"kind":"api","name":"streamer.bot"}`)
	secret, _ := m["secret"].(string)
	tok, _ := m["token"].(map[string]any)
	if code != 201 || secret == "" {
		t.Fatalf("create: HTTP %d %v", code, m)
	}
	_, list := b.call("GET", "/admin/api/tokens", "")
	if raw, _ := json.Marshal(list); strings.Contains(string(raw), secret) {
		t.Errorf("the token list shows the secret: %s", raw)
	}
	set := func() int {
		resp, _ := do(t, "POST", f.url+"/api/v1/zones/desk/state", secret, `{"on":true}`)
		return resp.StatusCode
	}
	if got := set(); got != 200 {
		t.Fatalf("API with the issued token: HTTP %d, want 200", got)
	}
	id := int64(tok["id"].(float64))
	if code, _ := b.call("DELETE", "/admin/api/tokens/"+strconv.FormatInt(id, 10), ""); code != 200 {
		t.Fatalf("revoke: HTTP %d", code)
	}
	if got := set(); got != 401 {
		t.Errorf("API with a revoked token: HTTP %d, want 401", got)
	}

	// A bridge with an issued token connects, and is cut off when it is revoked.
	_, m = b.call("POST", "/admin/api/tokens", `{"kind":"bridge","name":"venue pi"}`)
	bridgeSecret := m["secret"].(string)
	bridgeID := int64(m["token"].(map[string]any)["id"].(float64))
	c, err := dial(t, f.url, "/bridge", map[string]any{"token": bridgeSecret})
	if err != nil {
		t.Fatalf("bridge with an issued token: %v", err)
	}
	if code, _ := b.call("DELETE", "/admin/api/tokens/"+strconv.FormatInt(bridgeID, 10), ""); code != 200 {
		t.Fatal("revoke failed")
	}
	c.waitFor("disconnect after revoke", func(c *client) bool { return len(c.events["disconnect"]) > 0 })
	if _, err := dial(t, f.url, "/bridge", map[string]any{"token": bridgeSecret}); err == nil {
		t.Error("a revoked bridge token connected again")
	}
}

func TestAdminPageReachesViewers(t *testing.T) {
	f := newAdminHub(t)
	f.account(t, "streamer", store.RoleAdmin, "correct horse battery")
	b := f.browser(t)
	b.login("streamer", "correct horse battery")
	v := dialViewer(t, f.url)
	v.waitFor("hello", func(c *client) bool { return len(c.events["hello"]) > 0 })

	evil := `<img src=x onerror=alert(1)> '; DROP TABLE accounts; --`
	body, _ := json.Marshal(map[string]any{"title": evil, "announcement": "Live at 8!", "links": []map[string]string{{"label": "Shop", "url": "https://shop.example/"}}})
	if code, m := b.call("PUT", "/admin/api/page", string(body)); code != 200 {
		t.Fatalf("PUT page: HTTP %d %v", code, m)
	}
	v.waitFor("page", func(c *client) bool {
		for _, raw := range c.events["page"] {
			var p store.Page
			if json.Unmarshal(raw, &p) == nil && p.Title == evil {
				return true
			}
		}
		return false
	})
	// A new viewer gets it in hello, unchanged: the page shows it as text.
	v2 := dialViewer(t, f.url)
	v2.waitFor("hello with the page", func(c *client) bool {
		for _, raw := range c.events["hello"] {
			var h struct{ Page *store.Page }
			if json.Unmarshal(raw, &h) == nil && h.Page != nil && h.Page.Title == evil {
				return true
			}
		}
		return false
	})
	if _, err := f.db.Accounts(t.Context()); err != nil {
		t.Errorf("accounts after an injection attempt: %v", err)
	}
	for _, bad := range []string{
		`{"title":"ok","links":[{"label":"x","url":"javascript:alert(1)"}]}`,
		`{"title":""}`,
		`{"title":"x","unknown":1}`,
		"{\"title\":\"bell\\u0007\"}",
	} {
		if code, m := b.call("PUT", "/admin/api/page", bad); code != 400 {
			t.Errorf("PUT %s: HTTP %d %v, want 400", bad, code, m)
		}
	}
	if p, _ := f.db.Page(t.Context()); p.Title != evil {
		t.Errorf("a refused page changed the title to %q", p.Title)
	}
}

func TestAdminBlocksAndPresets(t *testing.T) {
	f := newAdminHub(t)
	f.account(t, "streamer", store.RoleAdmin, "correct horse battery")
	b := f.browser(t)
	b.login("streamer", "correct horse battery")

	if code, m := b.call("POST", "/admin/api/blocks", `{"kind":"name","value":"Troll","reason":"spam"}`); code != 200 {
		t.Fatalf("block: HTTP %d %v", code, m)
	}
	_, err := f.lights.Set(t.Context(), lighting.Viewer{Conn: "c1", IP: "10.0.0.9", Name: "troll"}, lighting.Command{Zone: "desk", On: new(true)})
	if lighting.ErrorCode(err) != lighting.CodeBlocked {
		t.Errorf("a blocked viewer's command: %v, want blocked", err)
	}
	if code, _ := b.call("DELETE", "/admin/api/blocks?kind=name&value=troll", ""); code != 200 {
		t.Fatal("unblock failed")
	}
	if _, err := f.lights.Set(t.Context(), lighting.Viewer{Conn: "c1", IP: "10.0.0.9", Name: "troll"}, lighting.Command{Zone: "desk", On: new(true)}); err != nil {
		t.Errorf("after unblock: %v", err)
	}

	// Save the current state of two zones as a preset, change them, apply it: they are back.
	b.call("POST", "/admin/api/zones/desk/state", `{"color":"#102030"}`)
	code, m := b.call("POST", "/admin/api/presets", `{"name":"Calm","zones":["desk","lamp"]}`)
	if code != 201 {
		t.Fatalf("save preset: HTTP %d %v", code, m)
	}
	id := int64(m["preset"].(map[string]any)["id"].(float64))
	b.call("POST", "/admin/api/zones/desk/state", `{"color":"#ffffff"}`)
	f.lights.SetPaused(true) // the streamer's presets apply while viewers are paused
	if code, m := b.call("POST", "/admin/api/presets/"+strconv.FormatInt(id, 10)+"/apply", ""); code != 200 {
		t.Fatalf("apply: HTTP %d %v", code, m)
	}
	for _, z := range f.lights.Zones() {
		if z.ID == "desk" && z.State.Color.String() != "#102030" {
			t.Errorf("desk after the preset: %s, want #102030", z.State.Color)
		}
	}
	if code, _ := b.call("POST", "/admin/api/presets", `{"name":"calm","zones":["desk"]}`); code != 409 {
		t.Errorf("a preset with a taken name: HTTP %d, want 409", code)
	}
}

func TestAdminFeed(t *testing.T) {
	f := newAdminHub(t)
	f.account(t, "streamer", store.RoleAdmin, "correct horse battery")
	b := f.browser(t)
	b.login("streamer", "correct horse battery")

	if _, err := dialHeaders(t, f.url, "/admin", nil, nil, false); err == nil {
		t.Error("a dashboard socket without a session connected")
	}
	u, _ := http.NewRequest("GET", f.url, nil)
	cookie := http.Header{}
	for _, c := range b.http.Jar.Cookies(u.URL) {
		cookie.Add("Cookie", c.Name+"="+c.Value)
	}
	evil := cookie.Clone()
	evil.Set("Origin", "https://evil.example")
	if _, err := dialHeaders(t, f.url, "/admin", nil, evil, false); err == nil {
		t.Error("a dashboard socket from another site connected")
	}
	d, err := dialHeaders(t, f.url, "/admin", nil, cookie, false)
	if err != nil {
		t.Fatalf("dashboard socket with a session: %v", err)
	}
	// A browser sends its page's Origin with the handshake.
	browser := cookie.Clone()
	browser.Set("Origin", f.url)
	if _, err := dialHeaders(t, f.url, "/admin", nil, browser, false); err != nil {
		t.Errorf("dashboard socket with a session and this site's Origin: %v", err)
	}
	d.waitFor("state with the zones", func(c *client) bool {
		for _, raw := range c.events["state"] {
			var st struct {
				Zones []lighting.ZoneDetail
			}
			if json.Unmarshal(raw, &st) == nil && len(st.Zones) == len(testZones) {
				return true
			}
		}
		return false
	})

	// A viewer's refused click shows in the activity feed, with its code and the viewer's name as given.
	f.lights.SetPaused(true)
	v, err := dialWith(t, f.url, "/", map[string]any{"name": "<b>Ala</b>"}, false)
	if err != nil {
		t.Fatal(err)
	}
	if ack := v.emit("light:set", map[string]any{"zone": "desk", "on": true}); ack.OK || ack.Error.Code != lighting.CodePaused {
		t.Fatalf("ack = %+v, want paused", ack)
	}
	d.waitFor("the refusal in the activity feed", func(c *client) bool {
		for _, raw := range c.events["activity"] {
			var m activityMsg
			if json.Unmarshal(raw, &m) != nil {
				continue
			}
			for _, it := range m.Items {
				if it.Kind == "refused" && it.Code == lighting.CodePaused && it.Who == "<b>Ala</b>" && it.Zone == "desk" {
					return true
				}
			}
		}
		return false
	})

	// Logging out closes the session's dashboard sockets.
	if code, _ := b.call("POST", "/admin/api/logout", ""); code != 200 {
		t.Fatalf("logout: HTTP %d", code)
	}
	d.waitFor("disconnect after logout", func(c *client) bool { return len(c.events["disconnect"]) > 0 })
}
