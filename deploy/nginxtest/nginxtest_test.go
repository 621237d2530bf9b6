package nginxtest

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestRender(t *testing.T) {
	conf, err := os.ReadFile(ConfigPath())
	if err != nil {
		t.Fatal(err)
	}
	got, err := Render(conf, Options{Hubs: []string{"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"}}, "127.0.0.1:8443", "127.0.0.1:8080", "/tmp/x")
	if err != nil {
		t.Fatal(err)
	}
	s := string(got)
	for _, want := range []string{
		"server 127.0.0.1:1 max_fails=1 fail_timeout=2s;\n    server 127.0.0.1:2 max_fails=1 fail_timeout=2s;\n    server 127.0.0.1:3 max_fails=1 fail_timeout=2s;\n    keepalive",
		"upstream stagelink_origin {\n    server 127.0.0.1:1;\n",
		"listen 127.0.0.1:8443 ssl http2;",
		"listen 127.0.0.1:8080;",
		"/tmp/x/tls/fullchain.pem",
		"/tmp/x/cache levels",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("rendered config lacks %q:\n%s", want, s)
		}
	}
	for _, gone := range []string{"hub1:8080", "hub2:8080", "[::]", "/etc/nginx/tls", "/var/cache"} {
		if strings.Contains(s, gone) {
			t.Errorf("rendered config still has %q", gone)
		}
	}
	if _, err := Render([]byte("upstream other {\n server a;\n}\n"), Options{Hubs: []string{"x:1"}}, "a:1", "a:2", "/d"); err == nil {
		t.Error("Render of a config without stagelink_hubs: no error")
	}
}

func TestConfigAcceptedByNginx(t *testing.T) {
	Check(t, Options{Hubs: []string{"127.0.0.1:9001", "127.0.0.1:9002"}, Origin: "127.0.0.1:9001"})
}

// backend is a fake hub: it answers with its name, what nginx told it, and a WebSocket-like upgrade.
func backend(t *testing.T, name string, hits *atomic.Int64) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.Header.Get("Upgrade") == "websocket" {
			conn, rw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			defer conn.Close()
			fmt.Fprintf(rw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n%s\n", name)
			rw.Flush()
			line, _ := rw.ReadString('\n')
			fmt.Fprintf(rw, "%s echo %s", name, line)
			rw.Flush()
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=86400")
		fmt.Fprintf(w, "%s xff=%s proto=%s host=%s", name, r.Header.Get("X-Forwarded-For"), r.Header.Get("X-Forwarded-Proto"), r.Host)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestThroughNginx checks what the hubs depend on, through the real config in front of three fake hubs:
// a client with cookies sticks to one hub; clients without spread over all; the WebSocket upgrade
// passes; X-Forwarded-* are set; plain HTTP redirects to https; /metrics is not public; WHIP goes to the
// origin; a stopped hub's clients move to the others.
func TestThroughNginx(t *testing.T) {
	var hits [3]atomic.Int64
	var hubs []*httptest.Server
	var addrs []string
	for i := range 3 {
		hubs = append(hubs, backend(t, fmt.Sprintf("hub%d", i), &hits[i]))
		addrs = append(addrs, strings.TrimPrefix(hubs[i].URL, "http://"))
	}
	n := Start(t, Options{Hubs: addrs, Origin: addrs[2]})

	get := func(c *http.Client, path string) (string, *http.Response) {
		t.Helper()
		resp, err := c.Get(n.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b), resp
	}

	t.Run("sticky", func(t *testing.T) {
		jar, _ := cookiejar.New(nil)
		c := *n.Client
		c.Jar = jar
		first, resp := get(&c, "/socket.io/?EIO=4&transport=polling")
		if !strings.Contains(resp.Header.Get("Set-Cookie"), "stagelink_route=") {
			t.Fatalf("first response sets no route cookie: %q", resp.Header.Values("Set-Cookie"))
		}
		hub := strings.Fields(first)[0]
		for range 20 {
			body, resp := get(&c, "/socket.io/?EIO=4&transport=polling&sid=x")
			if got := strings.Fields(body)[0]; got != hub {
				t.Fatalf("a client with its cookie went to %s, then %s", hub, got)
			}
			if sc := resp.Header.Get("Set-Cookie"); sc != "" {
				t.Errorf("cookie set again: %q", sc)
			}
		}
	})

	t.Run("spread", func(t *testing.T) {
		seen := map[string]bool{}
		for range 60 {
			body, _ := get(n.Client, "/")
			seen[strings.Fields(body)[0]] = true
		}
		if len(seen) != 3 {
			t.Errorf("60 clients without cookies reached %v, want all 3 hubs", seen)
		}
	})

	t.Run("headers", func(t *testing.T) {
		body, resp := get(n.Client, "/api/v1/zones")
		if !strings.Contains(body, "xff=127.0.0.1 proto=https host="+strings.TrimPrefix(n.URL, "https://")) {
			t.Errorf("the hub was told %q, want X-Forwarded-For 127.0.0.1, proto https and the client's Host", body)
		}
		if resp.Header.Get("Strict-Transport-Security") == "" {
			t.Error("no Strict-Transport-Security")
		}
		if resp.ProtoMajor != 2 {
			t.Errorf("served over %s, want HTTP/2", resp.Proto)
		}
	})

	t.Run("websocket", func(t *testing.T) {
		conn, err := tlsDial(n)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
		r := bufio.NewReader(conn)
		resp, err := http.ReadResponse(r, nil)
		if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("upgrade: %v %v", resp, err)
		}
		hub, _ := r.ReadString('\n')
		fmt.Fprintf(conn, "ping\n")
		echo, err := r.ReadString('\n')
		if err != nil || echo != strings.TrimSpace(hub)+" echo ping\n" {
			t.Errorf("through the upgraded connection: %q %v", echo, err)
		}
	})

	t.Run("redirect", func(t *testing.T) {
		resp, err := n.Client.Get(n.HTTPURL + "/admin")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusPermanentRedirect || !strings.HasPrefix(resp.Header.Get("Location"), "https://") {
			t.Errorf("plain HTTP: %d Location %q, want 308 to https", resp.StatusCode, resp.Header.Get("Location"))
		}
	})

	t.Run("metrics", func(t *testing.T) {
		if _, resp := get(n.Client, "/metrics"); resp.StatusCode != http.StatusNotFound {
			t.Errorf("/metrics through nginx: %d, want 404", resp.StatusCode)
		}
	})

	t.Run("whip to the origin", func(t *testing.T) {
		for range 10 {
			resp, err := n.Client.Post(n.URL+"/whip/live", "application/sdp", strings.NewReader("v=0"))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !strings.HasPrefix(string(b), "hub2 ") {
				t.Fatalf("WHIP went to %q, want the origin hub2", b)
			}
		}
	})

	t.Run("cached vendor files", func(t *testing.T) {
		before := hits[0].Load() + hits[1].Load() + hits[2].Load()
		var status []string
		for range 5 {
			_, resp := get(n.Client, "/vendor/socket.io.min.js")
			status = append(status, resp.Header.Get("X-Cache-Status"))
		}
		after := hits[0].Load() + hits[1].Load() + hits[2].Load()
		if after-before != 1 {
			t.Errorf("5 requests for a vendored file reached the hubs %d times (%v), want once", after-before, status)
		}
	})

	t.Run("request limit", func(t *testing.T) {
		limited := 0
		for range 80 {
			if _, resp := get(n.Client, "/admin/api/login"); resp.StatusCode == http.StatusTooManyRequests {
				limited++
			}
		}
		if limited == 0 {
			t.Error("80 logins at once from one address: none refused with 429")
		}
	})

	t.Run("a hub goes away", func(t *testing.T) {
		c := *n.Client
		for i := 0; ; i++ { // a client that sticks to hub0, the one about to stop
			jar, _ := cookiejar.New(nil)
			c.Jar = jar
			if body, _ := get(&c, "/"); strings.HasPrefix(body, "hub0 ") {
				break
			}
			if i == 100 {
				t.Fatal("no client of 100 went to hub0")
			}
		}
		hubs[0].Close()
		for range 5 {
			body, resp := get(&c, "/")
			if resp.StatusCode != http.StatusOK || strings.HasPrefix(body, "hub0 ") {
				t.Fatalf("after hub0 stopped, its client got %d %q, want another hub", resp.StatusCode, body)
			}
		}
	})
}

// tlsDial opens an HTTP/1.1 connection to n, as a browser does for a WebSocket.
func tlsDial(n *Nginx) (net.Conn, error) {
	u, _ := url.Parse(n.URL)
	cfg := n.Client.Transport.(*http.Transport).TLSClientConfig.Clone()
	cfg.NextProtos = []string{"http/1.1"}
	return tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", u.Host, cfg)
}
