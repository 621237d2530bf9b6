package bridge_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stagelink/stagelink/bridge"
	"github.com/stagelink/stagelink/lighting"
	"github.com/stagelink/stagelink/web"
)

// These tests run the bridge agent against a real hub (web.Server over lighting.Service) and simulated
// devices, all over real sockets on loopback: they poll with deadlines instead of using synctest.

const hubToken = "t"

// logBuffer is an io.Writer safe for the concurrent writes of a logger.
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

// testHub is a running hub with in-memory state.
type testHub struct {
	url    string
	lights *lighting.Service
	stop   func() // stops the hub and closes its listener; safe to call twice
}

// startHub serves a hub on ln, its light state in store (a store that outlives a hub plays Redis).
func startHub(t *testing.T, ln net.Listener, store lighting.Store) *testHub {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	lights := lighting.NewService(lighting.DefaultConfig(), store, lighting.NewMemoryLimiter(), log)
	srv := web.New(web.Config{BridgeTokens: []string{hubToken}}, lights, log)
	ts := httptest.NewUnstartedServer(srv.Handler())
	ts.Listener.Close()
	ts.Listener = ln
	ts.Start()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Run(ctx)
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			<-done
			srv.Close()
			ts.Close()
		})
	}
	t.Cleanup(stop)
	return &testHub{url: ts.URL, lights: lights, stop: stop}
}

// listen listens on addr ("127.0.0.1:0" for any port), trying again for a while when the port is still
// taken by a listener that was just closed.
func listen(t *testing.T, addr string) net.Listener {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ln, err := net.Listen("tcp", addr)
		if err == nil {
			return ln
		}
		if time.Now().After(deadline) {
			t.Fatalf("listen %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// venue is the simulated devices of a test: one WLED (zone "strip") and one ESPEasy with an RGB lamp on
// PWM pins 12, 13, 14 (zone "lamp") and a relay on GPIO 5 (zone "fan").
type venue struct {
	wled *bridge.SimWLED
	esp  *bridge.SimESPEasy
	cfg  bridge.Config
}

func newVenue(t *testing.T, hubURL, token string) *venue {
	t.Helper()
	v := &venue{
		wled: bridge.NewSimWLED(bridge.SimWLEDConfig{Delay: -1}),
		esp:  bridge.NewSimESPEasy(bridge.SimESPEasyConfig{Delay: -1}),
	}
	ws := httptest.NewServer(v.wled)
	t.Cleanup(ws.Close)
	es := httptest.NewServer(v.esp)
	t.Cleanup(es.Close)
	relay := 5
	v.cfg = bridge.Config{Hub: hubURL, Token: token, Name: "venue", Zones: []bridge.ZoneConfig{
		{ID: "strip", Name: "Strip", WLED: &bridge.WLEDConfig{URL: ws.URL, MaxRate: 50}},
		{ID: "lamp", Name: "Lamp", ESPEasy: &bridge.ESPEasyConfig{URL: es.URL, PWM: []int{12, 13, 14}, MaxRate: 50}},
		{ID: "fan", Name: "Fan", ESPEasy: &bridge.ESPEasyConfig{URL: es.URL, Relay: &relay, MaxRate: 50}},
	}}
	if err := v.cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return v
}

// startAgent runs an agent for cfg until the test ends, logging to the returned buffer.
func startAgent(t *testing.T, cfg bridge.Config) *logBuffer {
	t.Helper()
	return startAgentWith(t, cfg, bridge.DeviceOptions{})
}

// startAgentWith is startAgent with opts for the devices; their log, timeout and backoff are the test's.
func startAgentWith(t *testing.T, cfg bridge.Config, opts bridge.DeviceOptions) *logBuffer {
	t.Helper()
	a, logs := newAgent(t, cfg, opts)
	runAgent(t, a)
	return logs
}

// newAgent returns an agent for cfg with the test's short timeouts and backoff, logging to the returned
// buffer.
func newAgent(t *testing.T, cfg bridge.Config, opts bridge.DeviceOptions) (*bridge.Agent, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts.Log, opts.Timeout, opts.MinBackoff, opts.MaxBackoff = log, time.Second, 20*time.Millisecond, 200*time.Millisecond
	a, err := bridge.NewAgent(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	a.MinBackoff, a.MaxBackoff = 20*time.Millisecond, 200*time.Millisecond
	return a, logs
}

// runAgent runs a until the test ends.
func runAgent(t *testing.T, a *bridge.Agent) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("agent Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("agent Run did not return after its context ended")
		}
	})
}

// waitUntil polls cond until it holds, failing the test after timeout with what and the details.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool, details func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s; %s", timeout, what, details())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitLong bounds every wait that may include a connection to the hub. Connecting takes milliseconds,
// but engine.io v2.5.0 now and then drops the namespace CONNECT of a fresh WebSocket (see web.New); the
// agent then gives up on that attempt only after its hello timeout (15 s) and dials again.
const waitLong = 25 * time.Second

func zone(l *lighting.Service, id string) (lighting.Zone, bool) {
	i := slices.IndexFunc(l.Zones(), func(z lighting.Zone) bool { return z.ID == id })
	if i < 0 {
		return lighting.Zone{}, false
	}
	return l.Zones()[i], true
}

// waitOnline waits until the hub lists every zone of the venue online.
func waitOnline(t *testing.T, h *testHub) {
	t.Helper()
	waitUntil(t, waitLong, "the zones online", func() bool {
		zs := h.lights.Zones()
		return len(zs) == 3 && !slices.ContainsFunc(zs, func(z lighting.Zone) bool { return !z.Online })
	}, func() string { return "hub zones: " + zonesString(h.lights.Zones()) })
}

// waitConfirmed waits until the hub has zone id at version v, confirmed by the bridge.
func waitConfirmed(t *testing.T, h *testHub, id string, v int64) {
	t.Helper()
	waitUntil(t, waitLong, id+" confirmed", func() bool {
		z, ok := zone(h.lights, id)
		return ok && z.Online && z.Version == v && z.Confirmed
	}, func() string { return "hub zones: " + zonesString(h.lights.Zones()) })
}

func zonesString(zs []lighting.Zone) string {
	var b strings.Builder
	for _, z := range zs {
		fmt.Fprintf(&b, "%s(online=%v version=%d confirmed=%v) ", z.ID, z.Online, z.Version, z.Confirmed)
	}
	return b.String()
}

// set sets a zone through the hub's Service, as a viewer would.
func set(t *testing.T, h *testHub, c lighting.Command) lighting.Entry {
	t.Helper()
	e, err := h.lights.Set(t.Context(), lighting.Viewer{Name: "test"}, c)
	if err != nil {
		t.Fatalf("Set(%+v): %v", c, err)
	}
	return e
}

// stripShows reports whether the simulated WLED's first segment shows colour c with effect fx.
func (v *venue) stripShows(c lighting.Color, fx string) bool {
	s := v.wled.Snapshot()
	return len(s.Segments) > 0 && s.Segments[0].Colors[0] == c && s.Segments[0].Effect == fx
}

func (v *venue) stripString() string {
	s := v.wled.Snapshot()
	if len(s.Segments) == 0 {
		return "no segments"
	}
	return "strip shows " + s.Segments[0].Colors[0].String() + " " + s.Segments[0].Effect
}

// pins returns the simulated ESPEasy's pin states by pin.
func (v *venue) pins() map[int]int {
	m := map[int]int{}
	for _, p := range v.esp.Snapshot().Pins {
		m[p.Pin] = p.State
	}
	return m
}

var (
	red   = lighting.Color{R: 255}
	green = lighting.Color{G: 255}
	blue  = lighting.Color{B: 255}
)

func TestAgentAnnouncesAndApplies(t *testing.T) {
	h := startHub(t, listen(t, "127.0.0.1:0"), lighting.NewMemoryStore())
	v := newVenue(t, h.url, hubToken)
	startAgent(t, v.cfg)
	waitOnline(t, h)

	zs := h.lights.Zones()
	var kinds []lighting.Kind
	for _, z := range zs {
		kinds = append(kinds, z.Kind)
	}
	if want := []lighting.Kind{lighting.KindPixels, lighting.KindRGB, lighting.KindRelay}; !slices.Equal(kinds, want) {
		t.Errorf("zone kinds %v, want %v", kinds, want)
	}
	fx := zs[0].Effects
	if slices.Contains(fx, "RSVD") || !slices.Contains(fx, "Multi Comet") || len(fx) != len(bridge.SimWLEDEffects())-1 {
		t.Errorf("strip effects %q, want the simulated WLED's usable effects", fx)
	}
	for _, z := range zs[1:] {
		if len(z.Effects) != 0 {
			t.Errorf("zone %s has effects %q, want none", z.ID, z.Effects)
		}
	}

	// The state the hub sent on attach (version 0, the default) reaches the devices.
	waitUntil(t, waitLong, "the default state on the strip", func() bool {
		return v.stripShows(lighting.DefaultState().Color, "Solid")
	}, v.stripString)

	e := set(t, h, lighting.Command{Zone: "strip", Color: &red, Effect: new("Rainbow")})
	if e.Version != 1 {
		t.Errorf("first Set: version %d, want 1", e.Version)
	}
	waitConfirmed(t, h, "strip", e.Version)
	if !v.stripShows(red, "Rainbow") {
		t.Errorf("confirmed, but %s, want red Rainbow", v.stripString())
	}

	e = set(t, h, lighting.Command{Zone: "lamp", Color: &red, Brightness: new(255)})
	waitConfirmed(t, h, "lamp", e.Version)
	if got, want := v.pins(), map[int]int{12: 1023, 13: 0, 14: 0}; got[12] != want[12] || got[13] != want[13] || got[14] != want[14] {
		t.Errorf("lamp pins %v, want %v", got, want)
	}

	e = set(t, h, lighting.Command{Zone: "fan", On: new(false)})
	waitConfirmed(t, h, "fan", e.Version)
	if got := v.pins()[5]; got != 0 {
		t.Errorf("relay pin 5 = %d, want 0", got)
	}
	e = set(t, h, lighting.Command{Zone: "fan", On: new(true)})
	waitConfirmed(t, h, "fan", e.Version)
	if got := v.pins()[5]; got != 1 {
		t.Errorf("relay pin 5 = %d, want 1", got)
	}

	// Many changes in a row: the device ends with the last, and never gets two requests at once.
	var last lighting.Entry
	for i := range 8 {
		last = set(t, h, lighting.Command{Zone: "strip", Color: &lighting.Color{R: uint8(i * 30), G: 1}})
	}
	waitConfirmed(t, h, "strip", last.Version)
	if c := (lighting.Color{R: 7 * 30, G: 1}); !v.stripShows(c, "Rainbow") {
		t.Errorf("after a burst: %s, want %s Rainbow", v.stripString(), c)
	}
	if st := v.wled.Stats(); st.MaxConcurrent > 1 || st.Busy > 0 {
		t.Errorf("WLED stats %+v: want one request at a time", st)
	}
	if st := v.esp.Stats(); st.MaxConcurrent > 1 || st.Busy > 0 {
		t.Errorf("ESPEasy stats %+v: want one request at a time", st)
	}
}

func TestAgentWrongToken(t *testing.T) {
	h := startHub(t, listen(t, "127.0.0.1:0"), lighting.NewMemoryStore())
	v := newVenue(t, h.url, "wrong")
	logs := startAgent(t, v.cfg)
	waitUntil(t, waitLong, "the agent to be refused twice", func() bool {
		return strings.Count(logs.String(), "invalid bridge token") >= 2
	}, logs.String)
	if zs := h.lights.Zones(); len(zs) != 0 {
		t.Errorf("hub zones %+v with a wrong token, want none", zs)
	}
	if strings.Contains(logs.String(), "connected to hub") {
		t.Errorf("the agent logged a connection with a wrong token:\n%s", logs.String())
	}
}

func TestAgentReconnectsAfterHubRestart(t *testing.T) {
	ln := listen(t, "127.0.0.1:0")
	addr := ln.Addr().String()
	store := lighting.NewMemoryStore() // outlives the hub, as Redis does
	h := startHub(t, ln, store)
	v := newVenue(t, h.url, hubToken)
	logs := startAgent(t, v.cfg)
	waitOnline(t, h)
	e := set(t, h, lighting.Command{Zone: "strip", Color: &red})
	waitConfirmed(t, h, "strip", e.Version)

	h.stop()
	// While the hub is away the controller reboots and forgets what it showed.
	v.wled.Reboot()
	if v.stripShows(red, "Solid") {
		t.Fatal("the simulated WLED still shows red after a reboot")
	}
	waitUntil(t, waitLong, "the agent to notice", func() bool {
		return strings.Contains(logs.String(), "hub connection lost")
	}, logs.String)

	h = startHub(t, listen(t, addr), store)
	waitOnline(t, h)
	waitConfirmed(t, h, "strip", e.Version)
	waitUntil(t, waitLong, "the state re-applied", func() bool { return v.stripShows(red, "Solid") }, v.stripString)

	e = set(t, h, lighting.Command{Zone: "strip", Color: &green})
	if e.Version != 2 {
		t.Errorf("Set after the restart: version %d, want 2 (the store kept the versions)", e.Version)
	}
	waitConfirmed(t, h, "strip", e.Version)
	if !v.stripShows(green, "Solid") {
		t.Errorf("%s, want green", v.stripString())
	}
}

// TestAgentHubRestartWithoutRedis restarts the hub with a new in-memory store: versions start again at
// 1, below what the devices applied before, and must still be applied (Devices.Forget).
func TestAgentHubRestartWithoutRedis(t *testing.T) {
	ln := listen(t, "127.0.0.1:0")
	addr := ln.Addr().String()
	h := startHub(t, ln, lighting.NewMemoryStore())
	v := newVenue(t, h.url, hubToken)
	startAgent(t, v.cfg)
	waitOnline(t, h)
	var e lighting.Entry
	for _, c := range []lighting.Color{red, green, blue} {
		e = set(t, h, lighting.Command{Zone: "strip", Color: &c})
	}
	if e.Version != 3 {
		t.Fatalf("version %d, want 3", e.Version)
	}
	waitConfirmed(t, h, "strip", 3)
	e = set(t, h, lighting.Command{Zone: "lamp", Color: &blue, Brightness: new(255)})
	waitConfirmed(t, h, "lamp", e.Version)

	h.stop()
	h = startHub(t, listen(t, addr), lighting.NewMemoryStore())
	waitOnline(t, h)
	// The new hub's truth is the default state, version 0: the devices show it.
	waitUntil(t, waitLong, "the default state on the strip", func() bool {
		return v.stripShows(lighting.DefaultState().Color, "Solid")
	}, v.stripString)

	e = set(t, h, lighting.Command{Zone: "strip", Color: &green})
	if e.Version != 1 {
		t.Errorf("first Set on the new hub: version %d, want 1", e.Version)
	}
	waitConfirmed(t, h, "strip", 1)
	if !v.stripShows(green, "Solid") {
		t.Errorf("%s, want green", v.stripString())
	}
	e = set(t, h, lighting.Command{Zone: "lamp", Color: &red, Brightness: new(255)})
	waitConfirmed(t, h, "lamp", e.Version)
	if got := v.pins(); got[12] != 1023 || got[14] != 0 {
		t.Errorf("lamp pins %v, want red", got)
	}
}

// adminDevice returns what the hub keeps of zone id's device.
func adminDevice(l *lighting.Service, id string) lighting.DeviceInfo {
	for _, z := range l.AdminZones() {
		if z.ID == id {
			return z.Device
		}
	}
	return lighting.DeviceInfo{}
}

// TestAgentReportsDeviceDetails: the hub learns each zone's device details from the bridge, and a hub
// that restarts learns them with the first statuses: the devices read their info only once here.
func TestAgentReportsDeviceDetails(t *testing.T) {
	ln := listen(t, "127.0.0.1:0")
	addr := ln.Addr().String()
	h := startHub(t, ln, lighting.NewMemoryStore())
	v := newVenue(t, h.url, hubToken)
	v.esp.SetRSSI(-67)
	startAgentWith(t, v.cfg, bridge.DeviceOptions{InfoInterval: time.Hour, DetailsInterval: time.Hour})
	waitOnline(t, h)

	want := map[string]lighting.DeviceInfo{
		"strip": {Firmware: "0.15.3", Signal: 90, RSSI: -55},
		"lamp":  {Firmware: "mega-20230822", RSSI: -67},
		"fan":   {Firmware: "mega-20230822", RSSI: -67},
	}
	known := func() bool {
		for id, w := range want {
			d := adminDevice(h.lights, id)
			d.Uptime = 0
			if d != w {
				return false
			}
		}
		return true
	}
	details := func() string { return fmt.Sprintf("%+v", h.lights.AdminZones()) }
	waitUntil(t, waitLong, "device details at the hub", known, details)

	h.stop()
	h = startHub(t, listen(t, addr), lighting.NewMemoryStore())
	waitOnline(t, h)
	waitUntil(t, waitLong, "device details at the restarted hub", known, details)
}
