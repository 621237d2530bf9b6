package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stagelink/stagelink/bridge"
	"github.com/stagelink/stagelink/printer"
)

// The end-to-end tests run the real hub and bridge binaries, built once, against simulated devices that
// serve the WLED and ESPEasy HTTP APIs, with the official JavaScript socket.io-client as the viewer.

var bins struct {
	once     sync.Once
	dir, err string
}

// binary returns the path of a stagelink program built for this test run.
func binary(t *testing.T, name string) string {
	t.Helper()
	bins.once.Do(func() {
		dir, err := os.MkdirTemp("", "stagelink-e2e-")
		if err != nil {
			bins.err = err.Error()
			return
		}
		bins.dir = dir
		for _, b := range []string{"hub", "bridge", "printer"} {
			out, err := exec.Command("go", "build", "-o", filepath.Join(dir, b), "github.com/stagelink/stagelink/cmd/"+b).CombinedOutput()
			if err != nil {
				bins.err = fmt.Sprintf("go build %s: %v\n%s", b, err, out)
				return
			}
		}
	})
	if bins.err != "" {
		t.Fatal(bins.err)
	}
	return filepath.Join(bins.dir, name)
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bins.dir != "" {
		os.RemoveAll(bins.dir)
	}
	os.Exit(code)
}

// need skips the test when a tool is missing, or fails it in CI, where .ci/run installs everything.
func need(t *testing.T, what string, ok bool) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is missing (CI installs it: see .ci/run)", what)
	}
	t.Skipf("%s is missing: run `cd web && npm ci` and install Debian's chromium to run this test", what)
}

func webDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../../web")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func needNode(t *testing.T) {
	t.Helper()
	_, err := exec.LookPath("node")
	_, statErr := os.Stat(filepath.Join(webDir(t), "node_modules", "socket.io-client"))
	need(t, "node with web/node_modules", err == nil && statErr == nil)
}

// freeAddr returns a loopback address nobody listens on, for a hub that must come back on the same port.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// process is a running program whose output goes to the test log.
type process struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func start(t *testing.T, name string, args []string, env ...string) (*process, *bufio.Scanner) {
	t.Helper()
	cmd := exec.Command(binary(t, name), args...)
	cmd.Env = append(os.Environ(), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = logWriter{t, name}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(p.kill)
	return p, bufio.NewScanner(stdout)
}

func (p *process) kill() {
	p.cmd.Process.Kill()
	<-p.done
}

// stop sends SIGTERM and waits for a clean exit.
func (p *process) stop(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
		if code := p.cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("%s exited with %d after SIGINT, want 0", p.cmd.Path, code)
		}
	case <-time.After(15 * time.Second):
		t.Errorf("%s did not stop within 15 s of SIGINT", p.cmd.Path)
		p.kill()
	}
}

type logWriter struct {
	t    *testing.T
	name string
}

func (w logWriter) Write(b []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		w.t.Logf("%s: %s", w.name, line)
	}
	return len(b), nil
}

// startHub runs the hub binary and returns its URL.
func startHub(t *testing.T, args ...string) (*process, string) {
	t.Helper()
	args = append([]string{"-demo=false", "-data", t.TempDir(), "-webrtc-udp", "127.0.0.1:0"}, args...)
	p, out := start(t, "hub", args, "STAGELINK_BRIDGE_TOKEN=e2e-token", "STAGELINK_API_TOKEN=e2e-api")
	urls := make(chan string, 1)
	go func() {
		for out.Scan() {
			if u, ok := strings.CutPrefix(out.Text(), "stagelink hub listening on "); ok {
				urls <- u
			}
		}
	}()
	select {
	case u := <-urls:
		waitHTTP(t, u+"/healthz")
		return p, u
	case <-time.After(20 * time.Second):
		t.Fatal("the hub did not say where it listens")
		return nil, ""
	}
}

func waitHTTP(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not answer 200", url)
}

// venue is a simulated WLED and ESPEasy on loopback, as a bridge config sees them.
type venue struct {
	wled    *bridge.SimWLED
	esp     *bridge.SimESPEasy
	guard   *guard
	wledURL string
	espURL  string
}

func newVenue(t *testing.T) *venue {
	t.Helper()
	v := &venue{
		wled: bridge.NewSimWLED(bridge.SimWLEDConfig{LEDs: 30}),
		esp:  bridge.NewSimESPEasy(bridge.SimESPEasyConfig{}),
	}
	v.guard = &guard{next: v.wled}
	ws, es := httptest.NewServer(v.guard), httptest.NewServer(v.esp)
	t.Cleanup(ws.Close)
	t.Cleanup(es.Close)
	v.wledURL, v.espURL = ws.URL, es.URL
	return v
}

// guard sits in front of the simulated WLED: it can answer 503 as an overloaded WLED 0.15 does
// (FACTS.md: {"error":3} with Retry-After: 1) and it measures how the bridge treats the device.
type guard struct {
	next http.Handler

	mu          sync.Mutex
	busyEvery   int // answer every nth state POST with 503; 0: never
	posts       int
	busy        int
	inFlight    int
	maxInFlight int
	postTimes   []time.Time
}

func (g *guard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	g.inFlight++
	g.maxInFlight = max(g.maxInFlight, g.inFlight)
	post := r.Method == http.MethodPost
	busy := false
	if post {
		g.posts++
		g.postTimes = append(g.postTimes, time.Now())
		busy = g.busyEvery > 0 && g.posts%g.busyEvery == 0
		if busy {
			g.busy++
		}
	}
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.inFlight--
		g.mu.Unlock()
	}()
	if busy {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `{"error":3}`)
		return
	}
	g.next.ServeHTTP(w, r)
}

func (v *venue) config(t *testing.T, hub string) string {
	t.Helper()
	cfg := fmt.Sprintf(`hub: %s
name: e2e
zones:
  - id: desk
    name: Desk strip
    wled: {url: %s, segment: 0, maxRate: 5}
  - id: lamp
    name: Lamp
    espeasy: {url: %s, pwm: [12, 13, 14]}
  - id: disco
    name: Disco ball
    espeasy: {url: %s, relay: 5}
`, hub, v.wledURL, v.espURL, v.espURL)
	path := filepath.Join(t.TempDir(), "bridge.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func startBridge(t *testing.T, config string) *process {
	t.Helper()
	p, _ := start(t, "bridge", []string{"-config", config}, "STAGELINK_BRIDGE_TOKEN=e2e-token")
	return p
}

type zonesReply struct {
	Zones []struct {
		ID        string `json:"id"`
		Online    bool   `json:"online"`
		Version   int64  `json:"version"`
		Confirmed bool   `json:"confirmed"`
		State     struct {
			Color string `json:"color"`
		} `json:"state"`
	} `json:"zones"`
}

func zones(t *testing.T, hub string) zonesReply {
	t.Helper()
	return site{hub, http.DefaultClient}.zones(t)
}

// eventually polls cond for up to 15 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	eventuallyEvery(t, 50*time.Millisecond, what, cond)
}

// eventuallyEvery polls cond every interval for up to 15 s.
func eventuallyEvery(t *testing.T, interval time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(interval)
	}
}

func waitOnline(t *testing.T, hub string, n int) {
	t.Helper()
	eventually(t, fmt.Sprintf("%d zones online", n), func() bool {
		online := 0
		for _, z := range zones(t, hub).Zones {
			if z.Online {
				online++
			}
		}
		return online == n
	})
}

// wledShows reports whether the simulated WLED's segment 0 shows colour c.
func (v *venue) wledShows(c string) bool {
	s := v.wled.Snapshot()
	return len(s.Segments) > 0 && s.Segments[0].Colors[0].String() == c
}

// runNode runs a script of web/tests with env and returns its JSON result line.
func runNode(t *testing.T, script string, env ...string) map[string]any {
	t.Helper()
	return runNodeFor(t, 60*time.Second, script, env...)
}

// runNodeFor is runNode for a script that may take up to timeout.
func runNodeFor(t *testing.T, timeout time.Duration, script string, env ...string) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join("tests", script))
	cmd.Dir = webDir(t)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = logWriter{t, script}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node %s: %v\n%s", script, err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var res map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		t.Fatalf("node %s printed %q: %v", script, out, err)
	}
	return res
}

// TestLightsEndToEnd: a viewer using the official socket.io-client sets a colour; the device gets it and a
// second viewer sees the confirmed version. The bridge is killed and restarted, and the state comes back.
func TestLightsEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: end-to-end")
	}
	needNode(t)
	v := newVenue(t)
	_, hub := startHub(t, "-addr", "127.0.0.1:0")
	br := startBridge(t, v.config(t, hub))
	waitOnline(t, hub, 3)

	res := runNode(t, "viewer.mjs", "HUB_URL="+hub, "ZONE=desk", "COLOR=#12ab34")
	if res["ok"] != true {
		t.Fatalf("viewer.mjs: %v", res)
	}
	if !v.wledShows("#12ab34") {
		t.Fatalf("WLED shows %+v, want #12ab34", v.wled.Snapshot().Segments[0].Colors[0])
	}
	var body map[string]any
	reqs := v.wled.Requests()
	last := reqs[len(reqs)-1]
	if err := json.Unmarshal([]byte(last.Body), &body); err != nil || last.Method != http.MethodPost || last.Path != "/json/state" || last.ContentType != "application/json" {
		t.Errorf("last WLED request = %s %s %q %s, want POST /json/state application/json", last.Method, last.Path, last.ContentType, last.Body)
	}
	if udpn, _ := body["udpn"].(map[string]any); udpn["nn"] != true {
		t.Errorf("WLED request %s lacks udpn.nn:true", last.Body)
	}

	// The bridge dies; the lamp is repowered (a fresh device), and the restarted bridge re-applies the state.
	br.kill()
	waitOnline(t, hub, 0)
	before := len(v.wled.Requests())
	v.wled.Reboot()
	startBridge(t, v.config(t, hub))
	waitOnline(t, hub, 3)
	eventually(t, "state re-applied after the bridge restarted", func() bool {
		return len(v.wled.Requests()) > before && v.wledShows("#12ab34")
	})
	z := zones(t, hub).Zones[0]
	eventually(t, "desk confirmed again", func() bool { z = zones(t, hub).Zones[0]; return z.Confirmed })
}

// TestBusyDevice: WLED answers 503 to some requests while viewers click fast. The bridge retries, never
// sends two requests at once, keeps to maxRate, and the device ends with the last colour.
func TestBusyDevice(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: end-to-end")
	}
	v := newVenue(t)
	v.guard.busyEvery = 3
	_, hub := startHub(t, "-addr", "127.0.0.1:0", "-zone-rate", "50", "-zone-burst", "50")
	startBridge(t, v.config(t, hub))
	waitOnline(t, hub, 3)

	var lastColor string
	for i := range 40 {
		lastColor = fmt.Sprintf("#%02x0000", 100+i)
		req, _ := http.NewRequest(http.MethodPost, hub+"/api/v1/zones/desk/state", strings.NewReader(`{"color":"`+lastColor+`"}`))
		req.Header.Set("Authorization", "Bearer e2e-api")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("set %d: HTTP %d", i, resp.StatusCode)
		}
		time.Sleep(60 * time.Millisecond)
	}
	eventually(t, "the last colour on the device", func() bool { return v.wledShows(lastColor) })

	g := v.guard
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.busy == 0 {
		t.Fatal("the device never answered 503: the test did not test anything")
	}
	if g.maxInFlight != 1 {
		t.Errorf("%d requests at once reached the device, want 1", g.maxInFlight)
	}
	// maxRate 5: in any second, at most 5 requests (plus one for the boundary).
	for i := range g.postTimes {
		n := 0
		for _, at := range g.postTimes[i:] {
			if at.Sub(g.postTimes[i]) < time.Second {
				n++
			}
		}
		if n > 6 {
			t.Fatalf("%d state requests within a second from %v, want at most maxRate 5 (+1)", n, g.postTimes[i])
		}
	}
	if g.posts >= 40 {
		t.Errorf("%d state requests for 40 clicks: superseded states should be dropped", g.posts)
	}
	t.Logf("%d state requests, %d answered 503, for 40 clicks", g.posts, g.busy)
}

// TestBrowser: headless Chromium opens the page, picks a colour, and the device receives it.
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: browser")
	}
	needNode(t)
	_, err := os.Stat("/usr/bin/chromium")
	need(t, "Debian's chromium", err == nil)
	v := newVenue(t)
	_, hub := startHub(t, "-addr", "127.0.0.1:0")
	startBridge(t, v.config(t, hub))
	waitOnline(t, hub, 3)

	shot := filepath.Join(t.TempDir(), "viewer.png")
	if dir := os.Getenv("STAGELINK_TEST_ARTIFACTS"); dir != "" {
		shot = filepath.Join(dir, "viewer.png")
	}
	res := runNode(t, "browser.mjs", "HUB_URL="+hub, "ZONE=desk", "COLOR=#3366ff", "SCREENSHOT="+shot)
	if res["ok"] != true {
		t.Fatalf("browser.mjs: %v", res)
	}
	eventually(t, "the device shows the colour picked in the browser", func() bool { return v.wledShows("#3366ff") })
}

// TestDemoPrinterInBrowser: in demo mode a print job sent through the API is printed by the simulated
// printer (a real paced link to a fake TM-T88IV) and its receipt appears on the viewer page as a picture;
// a signed generic tip shows on the page as a banner with its amount.
func TestDemoPrinterInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: browser")
	}
	needNode(t)
	_, err := os.Stat("/usr/bin/chromium")
	need(t, "Debian's chromium", err == nil)
	t.Setenv("STAGELINK_TIPS_SECRET", "e2e-tips-secret-0123456789")
	_, hub := startHub(t, "-addr", "127.0.0.1:0", "-demo=true", "-print-header", "stagelink e2e")

	shot := filepath.Join(t.TempDir(), "receipt.png")
	if dir := os.Getenv("STAGELINK_TEST_ARTIFACTS"); dir != "" {
		shot = filepath.Join(dir, "receipt.png")
	}
	res := runNode(t, "receipt.mjs", "HUB_URL="+hub, "API_TOKEN=e2e-api", "TIPS_SECRET=e2e-tips-secret-0123456789", "SCREENSHOT="+shot)
	if res["ok"] != true {
		t.Fatalf("receipt.mjs: %v", res)
	}
	if w, _ := res["width"].(float64); w != 576 {
		t.Errorf("receipt picture is %v dots wide, want 576 (80 mm paper at 180 dpi)", res["width"])
	}
	id, _ := res["id"].(string)
	req, _ := http.NewRequest(http.MethodGet, hub+"/api/v1/print/"+id, nil)
	req.Header.Set("Authorization", "Bearer e2e-api")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st printer.JobStatus
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || st.State != printer.JobPrinted {
		t.Errorf("GET /api/v1/print/%s = %+v (%v), want status printed", id, st, err)
	}
	if tip, _ := res["tip"].(string); !strings.Contains(tip, "12,50 zł") {
		t.Errorf("tip banner: got %q, want it to show 12,50 zł", res["tip"])
	}
	t.Logf("receipt on the page %v ms after the POST", res["ms"])
}
