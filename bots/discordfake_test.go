package bots

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// fakeDiscord is Discord at the wire level, for discordgo: the REST API (reached through a transport that
// sends discord.com's requests to an httptest server, since discordgo's endpoints are fixed at init) and
// the gateway, a WebSocket speaking https://discord.com/developers/docs/events/gateway — hello (op 10),
// identify (op 2), READY, dispatches (op 0), heartbeat (op 1) and its ack (op 11), invalid session (op 9).
type fakeDiscord struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	requests []fakeRequest
	override func(method, path string) (status int, body string, ok bool)
	// gateway
	identifies []fakeIdentify
	gatewayURL []string // the URLs clients dialled, with their query
	heartbeats int
	conn       *fakeGatewayConn
	seq        int
}

// fakeRequest is one REST request the bot made.
type fakeRequest struct {
	Method, Path, Auth string
	Body               []byte
}

// fakeIdentify is the payload of an identify (op 2).
type fakeIdentify struct {
	Token   string `json:"token"`
	Intents int    `json:"intents"`
}

// fakeGatewayConn is the connected gateway client; out feeds the one goroutine that writes to it.
type fakeGatewayConn struct {
	out  chan []byte
	done chan struct{}
}

const (
	fakeToken = "test-token"
	fakeBotID = "999000000000000001"
)

func newFakeDiscord(t *testing.T) *fakeDiscord {
	f := &fakeDiscord{t: t}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v9/", f.serveREST)
	mux.HandleFunc("/gateway/", f.serveGateway)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// client returns an HTTP client whose requests to discord.com go to the fake.
func (f *fakeDiscord) client() *http.Client {
	target, _ := url.Parse(f.srv.URL)
	return &http.Client{Timeout: 10 * time.Second, Transport: rewriteTransport{target: target, base: f.srv.Client().Transport}}
}

type rewriteTransport struct {
	target *url.URL
	base   http.RoundTripper
}

func (rt rewriteTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Host != "discord.com" {
		return nil, fmt.Errorf("fake discord: request to %s, want discord.com", r.URL.Host)
	}
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host, r.Host = rt.target.Scheme, rt.target.Host, ""
	return rt.base.RoundTrip(r)
}

// CloseIdleConnections lets a test close the keep-alive connections (and their goroutines).
func (rt rewriteTransport) CloseIdleConnections() {
	if c, ok := rt.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// setOverride makes the fake answer requests for which fn reports ok with its status and body.
func (f *fakeDiscord) setOverride(fn func(method, path string) (int, string, bool)) {
	f.mu.Lock()
	f.override = fn
	f.mu.Unlock()
}

func (f *fakeDiscord) serveREST(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	path := strings.TrimPrefix(r.URL.EscapedPath(), "/api/v9")
	f.mu.Lock()
	f.requests = append(f.requests, fakeRequest{Method: r.Method, Path: path, Auth: r.Header.Get("Authorization"), Body: body})
	override := f.override
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if override != nil {
		if status, resp, ok := override(r.Method, path); ok {
			w.WriteHeader(status)
			io.WriteString(w, resp)
			return
		}
	}
	webhook := strings.HasPrefix(path, "/webhooks/") || strings.HasPrefix(path, "/interactions/")
	if !webhook && r.Header.Get("Authorization") != "Bot "+fakeToken {
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"message": "401: Unauthorized", "code": 0}`)
		return
	}
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case r.Method == "GET" && path == "/gateway":
		fmt.Fprintf(w, `{"url": "ws://%s/gateway"}`, f.srv.Listener.Addr())
	case r.Method == "GET" && path == "/gateway/bot":
		fmt.Fprintf(w, `{"url": "ws://%s/gateway", "shards": 1, "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 14400000, "max_concurrency": 1}}`, f.srv.Listener.Addr())
	case r.Method == "PUT" && len(parts) >= 3 && parts[0] == "applications" && parts[len(parts)-1] == "commands":
		var cmds []map[string]any
		if err := json.Unmarshal(body, &cmds); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"message": "Invalid Form Body", "code": 50035}`)
			return
		}
		for n, c := range cmds {
			c["id"] = fmt.Sprint(800000000000000000 + n)
			c["application_id"] = parts[1]
		}
		json.NewEncoder(w).Encode(cmds)
	case r.Method == "POST" && len(parts) == 4 && parts[0] == "interactions" && parts[3] == "callback":
		w.WriteHeader(http.StatusNoContent)
	case r.Method == "PATCH" && len(parts) == 5 && parts[0] == "webhooks" && parts[3] == "messages":
		io.WriteString(w, `{"id": "700000000000000001", "channel_id": "333", "content": ""}`)
	case r.Method == "POST" && len(parts) == 3 && parts[0] == "webhooks":
		if r.URL.Query().Get("wait") == "true" {
			io.WriteString(w, `{"id": "700000000000000002", "channel_id": "333", "content": ""}`)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case r.Method == "POST" && len(parts) == 3 && parts[0] == "channels" && parts[2] == "messages":
		fmt.Fprintf(w, `{"id": "700000000000000003", "channel_id": %q, "content": ""}`, parts[1])
	case r.Method == "PUT" && len(parts) == 7 && parts[0] == "channels" && parts[4] == "reactions" && parts[6] == "@me":
		w.WriteHeader(http.StatusNoContent)
	default:
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"message": "404: Not Found", "code": 0}`)
	}
}

// waitRequest waits for a request whose method and path (unescaped) match and which was not returned
// before, and returns it.
func (f *fakeDiscord) waitRequest(t *testing.T, method, pathPrefix string) fakeRequest {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; {
		f.mu.Lock()
		for n, r := range f.requests {
			p, _ := url.PathUnescape(r.Path)
			if r.Method == method && strings.HasPrefix(p, pathPrefix) {
				f.requests = append(f.requests[:n:n], f.requests[n+1:]...)
				f.mu.Unlock()
				return r
			}
		}
		f.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("no %s %s request reached the fake Discord", method, pathPrefix)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// noRequest checks that no request matching method and pathPrefix is waiting.
func (f *fakeDiscord) noRequest(t *testing.T, method, pathPrefix string) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.requests {
		if p, _ := url.PathUnescape(r.Path); r.Method == method && strings.HasPrefix(p, pathPrefix) {
			t.Errorf("unexpected %s %s: %s", r.Method, p, r.Body)
		}
	}
}

var fakeUpgrader = websocket.Upgrader{}

// serveGateway plays one gateway connection: hello, then identify → READY, heartbeats acked, and the
// test's dispatches written in order.
func (f *fakeDiscord) serveGateway(w http.ResponseWriter, r *http.Request) {
	ws, err := fakeUpgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer ws.Close()
	c := &fakeGatewayConn{out: make(chan []byte, 64), done: make(chan struct{})}
	f.mu.Lock()
	f.gatewayURL = append(f.gatewayURL, r.URL.String())
	f.mu.Unlock()

	go func() { // the only writer
		for {
			select {
			case b := <-c.out:
				if ws.WriteMessage(websocket.TextMessage, b) != nil {
					return
				}
			case <-c.done:
				return
			}
		}
	}()
	defer close(c.done)
	c.out <- []byte(`{"op": 10, "d": {"heartbeat_interval": 41250}, "s": null, "t": null}`)
	for {
		_, msg, err := ws.ReadMessage()
		if err != nil {
			return
		}
		var p struct {
			Op int             `json:"op"`
			D  json.RawMessage `json:"d"`
		}
		if json.Unmarshal(msg, &p) != nil {
			f.t.Errorf("fake gateway: the client sent %q", msg)
			return
		}
		switch p.Op {
		case 1: // heartbeat
			f.mu.Lock()
			f.heartbeats++
			f.mu.Unlock()
			c.out <- []byte(`{"op": 11, "d": null, "s": null, "t": null}`)
		case 2: // identify
			var id fakeIdentify
			json.Unmarshal(p.D, &id)
			f.mu.Lock()
			f.identifies = append(f.identifies, id)
			f.conn = c
			n := len(f.identifies)
			f.mu.Unlock()
			if id.Token != "Bot "+fakeToken {
				ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(4004, "Authentication failed."))
				return
			}
			f.dispatch("READY", fmt.Sprintf(`{"v": 9, "user": {"id": %q, "username": "stagelink", "bot": true}, "session_id": "session-%d", "resume_gateway_url": "ws://%s/gateway", "guilds": [], "application": {"id": "111", "flags": 0}}`,
				fakeBotID, n, f.srv.Listener.Addr()))
		default:
			f.t.Logf("fake gateway: op %d from the client: %s", p.Op, p.D)
		}
	}
}

// dispatch sends an event (op 0) to the connected client.
func (f *fakeDiscord) dispatch(event, data string) {
	f.mu.Lock()
	f.seq++
	c, seq := f.conn, f.seq
	f.mu.Unlock()
	f.send(c, fmt.Sprintf(`{"op": 0, "s": %d, "t": %q, "d": %s}`, seq, event, data))
}

// sendOp sends a bare opcode (1: heartbeat request, 9: invalid session) to the connected client.
func (f *fakeDiscord) sendOp(op int, data string) {
	f.mu.Lock()
	c := f.conn
	f.mu.Unlock()
	f.send(c, fmt.Sprintf(`{"op": %d, "d": %s, "s": null, "t": null}`, op, data))
}

func (f *fakeDiscord) send(c *fakeGatewayConn, msg string) {
	if c == nil {
		f.t.Errorf("fake gateway: no client to send %s to", msg)
		return
	}
	select {
	case c.out <- []byte(msg):
	case <-c.done:
	}
}

// waitIdentified waits for the n-th identify and returns it.
func (f *fakeDiscord) waitIdentified(t *testing.T, n int) fakeIdentify {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; {
		f.mu.Lock()
		if len(f.identifies) >= n {
			id := f.identifies[n-1]
			f.mu.Unlock()
			return id
		}
		f.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("the bot did not identify %d time(s)", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitHeartbeats waits until the client has sent at least n heartbeats.
func (f *fakeDiscord) waitHeartbeats(t *testing.T, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; {
		f.mu.Lock()
		got := f.heartbeats
		f.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d heartbeats, want %d", got, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
