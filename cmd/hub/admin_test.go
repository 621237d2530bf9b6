package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"
)

// TestAdminCreate runs `hub admin create` against the embedded store, then logs in on a hub using it.
func TestAdminCreate(t *testing.T) {
	data := t.TempDir()
	env := func(k string) string {
		if k == "STAGELINK_ADMIN_PASSWORD" {
			return "correct horse battery"
		}
		return ""
	}
	var out bytes.Buffer
	if err := run(t.Context(), []string{"admin", "create", "-data", data, "-name", "Streamer"}, env, strings.NewReader(""), &out, io.Discard); err != nil {
		t.Fatalf("admin create: %v", err)
	}
	if !strings.Contains(out.String(), `created admin "streamer"`) {
		t.Errorf("admin create said %q", out.String())
	}
	for _, tc := range []struct {
		name  string
		args  []string
		stdin string
		want  string
	}{
		{"taken name", []string{"admin", "create", "-data", data, "-name", "streamer"}, "", "exists already"},
		{"short password on stdin", []string{"admin", "create", "-data", data, "-name", "mod", "-role", "moderator"}, "short\n", "at least"},
		{"no name", []string{"admin", "create", "-data", data}, "", "-name is required"},
		{"bad role", []string{"admin", "create", "-data", data, "-name", "x", "-role", "root"}, "", "admin or moderator"},
		{"no subcommand", []string{"admin"}, "", "subcommand"},
	} {
		getenv := env
		if tc.stdin != "" {
			getenv = func(string) string { return "" }
		}
		err := run(t.Context(), tc.args, getenv, strings.NewReader(tc.stdin), io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one mentioning %q", tc.name, err, tc.want)
		}
	}
	// A moderator with the password on standard input.
	if err := run(t.Context(), []string{"admin", "create", "-data", data, "-name", "mod", "-role", "moderator"},
		func(string) string { return "" }, strings.NewReader("another long password\n"), io.Discard, io.Discard); err != nil {
		t.Fatalf("admin create from stdin: %v", err)
	}

	h := runHub(t, []string{"-addr", "127.0.0.1:0", "-data", data}, nil)
	waitHTTP(t, h.url+"/readyz")
	for _, acct := range []struct{ name, password, role string }{{"streamer", "correct horse battery", "admin"}, {"mod", "another long password", "moderator"}} {
		if role := login(t, h.url, acct.name, acct.password); role != acct.role {
			t.Errorf("%s logged in as %q, want %q", acct.name, role, acct.role)
		}
	}
}

// TestSetupLinkPrintedOnce: a hub with no account prints a setup link; one with an account does not.
func TestSetupLinkPrintedOnce(t *testing.T) {
	data := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	found := make(chan string, 1)
	out := &lineWriter{prefix: "no dashboard account yet: create the first admin at ", found: found}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-data", data, "-webrtc-udp", "127.0.0.1:0"}, func(string) string { return "" }, strings.NewReader(""), out, io.Discard)
	}()
	var link string
	select {
	case link = <-found:
	case err := <-done:
		t.Fatalf("run returned: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("no setup link printed")
	}
	link = strings.Fields(link)[0]
	base, token, ok := strings.Cut(link, "/admin/setup#")
	if !ok || len(token) < 20 {
		t.Fatalf("setup link %q", link)
	}
	waitHTTP(t, base+"/readyz")
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	csrf := loginToken(t, c, base)
	resp := post(t, c, base+"/admin/api/setup", csrf, `{"token":"`+token+`","name":"boss","password":"correct horse battery"}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("setup through the printed link: HTTP %d", resp.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	found2 := make(chan string, 1)
	out2 := &lineWriter{prefix: "no dashboard account yet", found: found2}
	listening := make(chan string, 1)
	h := &lineWriter{prefix: "stagelink hub listening on ", found: listening}
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	done2 := make(chan error, 1)
	go func() {
		done2 <- run(ctx2, []string{"-addr", "127.0.0.1:0", "-data", data, "-webrtc-udp", "127.0.0.1:0"}, func(string) string { return "" },
			strings.NewReader(""), io.MultiWriter(out2, h), io.Discard)
	}()
	select {
	case <-listening:
	case <-time.After(30 * time.Second):
		t.Fatal("the second hub did not start")
	}
	select {
	case <-found2:
		t.Error("a hub with an account printed a setup link")
	default:
	}
	cancel2()
	<-done2
}

// loginToken fetches the dashboard's login CSRF token.
func loginToken(t *testing.T, c *http.Client, base string) string {
	t.Helper()
	resp, err := c.Get(base + "/admin/api/me")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m struct{ LoginCsrf string }
	decodeBody(t, resp.Body, &m)
	return m.LoginCsrf
}

func post(t *testing.T, c *http.Client, url, csrf, body string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("X-CSRF-Token", csrf)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// login logs in to the dashboard and returns the account's role, or "" when refused.
func login(t *testing.T, base, name, password string) string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	csrf := loginToken(t, c, base)
	req, _ := http.NewRequest("POST", base+"/admin/api/login", strings.NewReader(`{"name":"`+name+`","password":"`+password+`"}`))
	req.Header.Set("X-CSRF-Token", csrf)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m struct {
		Account struct{ Role string }
	}
	decodeBody(t, resp.Body, &m)
	return m.Account.Role
}

func decodeBody(t *testing.T, r io.Reader, v any) {
	t.Helper()
	if err := json.NewDecoder(r).Decode(v); err != nil {
		t.Fatalf("decoding an answer: %v", err)
	}
}
