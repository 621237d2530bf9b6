package main

import (
	"bufio"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stagelink/stagelink/deploy/nginxtest"
)

// TestBehindNginx runs the cluster as it is deployed: three hubs on one Redis behind a real nginx with
// the production config (deploy/nginx/stagelink.conf: TLS, sticky cookie, WebSocket upgrade), the bridge
// agent and the viewers dialling nginx. Viewers with the official socket.io-client work over polling
// (which needs the sticky cookie: every request of a session must reach its hub) and WebSocket. Then
// every hub is restarted in turn while commands keep coming: no accepted command is lost, the bridge and
// a viewer reconnect through nginx by themselves, and the last accepted state reaches the device.
func TestBehindNginx(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: end-to-end")
	}
	needNode(t)
	redis := redisURL(t)
	common := []string{"-redis", redis, "-redis-prefix", "stagelink-test-" + rand.Text()[:8] + ":", "-trusted-proxies", "127.0.0.1",
		"-ip-rate", "200", "-ip-burst", "400", "-zone-rate", "50", "-zone-burst", "50"}
	addrs := []string{freeAddr(t), freeAddr(t), freeAddr(t)}
	hubs := make([]*process, len(addrs))
	startAt := func(i int) {
		hubs[i], _ = startHub(t, append([]string{"-addr", addrs[i]}, common...)...)
	}
	for i := range hubs {
		startAt(i)
	}
	ngx := nginxtest.Start(t, nginxtest.Options{Hubs: addrs})
	site := siteOf(ngx)

	v := newVenue(t)
	start(t, "bridge", []string{"-config", v.config(t, ngx.URL)}, "STAGELINK_BRIDGE_TOKEN=e2e-token", "SSL_CERT_FILE="+ngx.CAFile)
	site.waitOnline(t, 3)

	node := []string{"HUB_URL=" + ngx.URL, "NODE_EXTRA_CA_CERTS=" + ngx.CAFile, "WITH_CREDENTIALS=1", "ZONE=desk"}
	for _, transports := range []string{"polling", "polling,websocket", "websocket"} {
		for i := range 3 { // each run lands on a hub of nginx's choosing
			color := fmt.Sprintf("#%02x%02x%02x", 0x20+i, len(transports), 0x40)
			res := runNode(t, "viewer.mjs", append(node, "TRANSPORTS="+transports, "COLOR="+color)...)
			if res["ok"] != true {
				t.Fatalf("viewer.mjs through nginx over %s: %v", transports, res)
			}
		}
	}

	watch := startWatch(t, append(node, "TIMEOUT_MS=60000")...)
	cmds := site.commandLoop(t, []string{"desk", "lamp"})
	for i := range hubs {
		before := cmds.acceptedSoFar()
		hubs[i].stop(t)
		time.Sleep(time.Second) // commands go on against the other two
		startAt(i)
		// Ready (as Kubernetes would wait for) once it knows the cluster's zones.
		waitHTTP(t, "http://"+addrs[i]+"/readyz")
		// nginx sends nothing to a hub that refused a connection for fail_timeout (2 s): give it
		// back its share before the next hub stops, as a rolling restart waits for readiness.
		time.Sleep(3 * time.Second)
		site.waitOnline(t, 3)
		eventually(t, fmt.Sprintf("restarted hub %d sees every zone online", i), func() bool { return countOnline(zones(t, "http://"+addrs[i])) == 3 })
		eventually(t, "commands accepted again", func() bool { return cmds.acceptedSoFar() > before+5 })
	}
	last := cmds.stop()

	versions := map[string]int64{}
	for zone, a := range last {
		site.eventually(t, zone+" ends with its last accepted command, confirmed", func() bool {
			for _, z := range site.zones(t).Zones {
				if z.ID == zone {
					return z.Version == a.version && z.State.Color == a.color && z.Confirmed
				}
			}
			return false
		})
		versions[zone] = a.version
	}
	watch.want(t, versions)
	if !v.wledShows(last["desk"].color) {
		t.Errorf("WLED shows %v, want the last accepted %s", v.wled.Snapshot().Segments[0].Colors[0], last["desk"].color)
	}
	res := watch.result(t)
	if res["ok"] != true {
		t.Fatalf("the viewer that stayed through the restarts: %v", res)
	}
	if n, _ := res["connects"].(float64); n < 2 {
		t.Errorf("the staying viewer connected %v times, want at least 2: every hub was restarted, its own too", res["connects"])
	}
	t.Logf("rolling restart: %s; staying viewer %v", cmds.summary(), res)
}

// site is where the API is reached: a hub, or the cluster's public address (nginx, over TLS).
type site struct {
	url string
	c   *http.Client
}

func siteOf(n *nginxtest.Nginx) site { return site{n.URL, n.Client} }

func (s site) zones(t *testing.T) zonesReply {
	t.Helper()
	resp, err := s.c.Get(s.url + "/api/v1/zones")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var z zonesReply
	if err := json.NewDecoder(resp.Body).Decode(&z); err != nil {
		t.Fatalf("GET %s/api/v1/zones: HTTP %d: %v", s.url, resp.StatusCode, err)
	}
	return z
}

func (s site) waitOnline(t *testing.T, n int) {
	t.Helper()
	s.eventually(t, fmt.Sprintf("%d zones online through nginx", n), func() bool { return countOnline(s.zones(t)) == n })
}

// eventually polls through nginx gently: its request limit (20/s per address) holds for the tests too.
func (s site) eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	eventuallyEvery(t, 250*time.Millisecond, what, cond)
}

func countOnline(z zonesReply) int {
	n := 0
	for _, z := range z.Zones {
		if z.Online {
			n++
		}
	}
	return n
}

// accepted is a command the hub accepted: the version it was given.
type accepted struct {
	color   string
	version int64
}

// commands sends colour changes through the site, one at a time, round the zones, and records which were
// accepted; it checks that every zone's accepted versions only grow.
type commands struct {
	t      *testing.T
	mu     sync.Mutex
	last   map[string]accepted
	n      int
	errs   map[string]int
	stopCh chan struct{}
	done   chan struct{}
	once   sync.Once
}

func (s site) commandLoop(t *testing.T, zones []string) *commands {
	c := &commands{t: t, last: map[string]accepted{}, errs: map[string]int{}, stopCh: make(chan struct{}), done: make(chan struct{})}
	t.Cleanup(func() { c.stop() }) // never outlive the test, even one that failed early
	go func() {
		defer close(c.done)
		for seq := 1; ; seq++ {
			select {
			case <-c.stopCh:
				return
			case <-time.After(100 * time.Millisecond):
			}
			zone := zones[seq%len(zones)]
			color := fmt.Sprintf("#%06x", seq)
			version, why := s.set(zone, color)
			c.mu.Lock()
			if why != "" {
				c.errs[why]++
			} else {
				if prev, ok := c.last[zone]; ok && version <= prev.version {
					t.Errorf("%s: command %s accepted as v%d after v%d: versions must only grow", zone, color, version, prev.version)
				}
				c.last[zone] = accepted{color, version}
				c.n++
			}
			c.mu.Unlock()
		}
	}()
	return c
}

// set sends one command; it returns the version given, or why it was not accepted.
func (s site) set(zone, color string) (int64, string) {
	req, _ := http.NewRequest(http.MethodPost, s.url+"/api/v1/zones/"+zone+"/state", strings.NewReader(`{"color":"`+color+`"}`))
	req.Header.Set("Authorization", "Bearer e2e-api")
	resp, err := s.c.Do(req)
	if err != nil {
		return 0, "transport error"
	}
	defer resp.Body.Close()
	var ack struct {
		OK      bool  `json:"ok"`
		Version int64 `json:"version"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&ack) != nil || !ack.OK {
		return 0, fmt.Sprintf("HTTP %d", resp.StatusCode)
	}
	return ack.Version, ""
}

func (c *commands) acceptedSoFar() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// stop ends the loop and returns each zone's last accepted command.
func (c *commands) stop() map[string]accepted {
	c.once.Do(func() { close(c.stopCh) })
	<-c.done
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

func (c *commands) summary() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return fmt.Sprintf("%d commands accepted, not accepted: %v", c.n, c.errs)
}

// watcher is web/tests/watch.mjs: a viewer that stays connected through nginx.
type watcher struct {
	stdin io.WriteCloser
	lines chan string
	cmd   *exec.Cmd
}

func startWatch(t *testing.T, env ...string) *watcher {
	t.Helper()
	cmd := exec.Command("node", filepath.Join("tests", "watch.mjs"))
	cmd.Dir = webDir(t)
	cmd.Env = append(cmd.Environ(), env...)
	cmd.Stderr = logWriter{t, "watch.mjs"}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w := &watcher{stdin: stdin, lines: make(chan string, 16), cmd: cmd}
	go func() {
		defer close(w.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case w.lines <- sc.Text():
			default: // nobody reads that many lines: drop it rather than block past the test
			}
		}
	}()
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if line := w.next(t, 30*time.Second); line != `{"ready":true}` {
		t.Fatalf("watch.mjs: %q, want it ready", line)
	}
	return w
}

func (w *watcher) next(t *testing.T, timeout time.Duration) string {
	t.Helper()
	select {
	case line, ok := <-w.lines:
		if !ok {
			t.Fatal("watch.mjs exited")
		}
		return line
	case <-time.After(timeout):
		t.Fatal("watch.mjs said nothing")
		return ""
	}
}

// want tells the watcher the versions to wait for.
func (w *watcher) want(t *testing.T, versions map[string]int64) {
	t.Helper()
	line, _ := json.Marshal(versions)
	if _, err := fmt.Fprintf(w.stdin, "%s\n", line); err != nil {
		t.Fatalf("watch.mjs: %v", err)
	}
}

func (w *watcher) result(t *testing.T) map[string]any {
	t.Helper()
	line := w.next(t, 90*time.Second)
	var res map[string]any
	if err := json.Unmarshal([]byte(line), &res); err != nil {
		t.Fatalf("watch.mjs printed %q: %v", line, err)
	}
	return res
}
