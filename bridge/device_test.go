package bridge

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stagelink/stagelink/lighting"
)

// testBench runs Devices against simulated devices inside a synctest bubble.
type testBench struct {
	ds        *Devices
	transport *hostTransport
	statuses  *statusLog
	cancel    context.CancelFunc
	done      chan struct{}
}

func startBench(t *testing.T, cfg Config, hosts map[string]http.Handler, opts DeviceOptions) *testBench {
	t.Helper()
	b := &testBench{transport: &hostTransport{hosts: hosts}, statuses: &statusLog{}, done: make(chan struct{})}
	opts.Client = &http.Client{Transport: b.transport}
	opts.Report = b.statuses.add
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil && !strings.Contains(err.Error(), "hub") && !strings.Contains(err.Error(), "name") {
		t.Fatal(err)
	}
	ds, err := NewDevices(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	b.ds = ds
	ctx, cancel := context.WithCancel(t.Context())
	b.cancel = cancel
	go func() {
		_ = ds.Run(ctx)
		close(b.done)
	}()
	t.Cleanup(b.stop)
	return b
}

// stop ends Run and waits for every device goroutine to return.
func (b *testBench) stop() {
	b.cancel()
	<-b.done
}

func wledZone(id, url string, seg int, rate float64) ZoneConfig {
	return ZoneConfig{ID: id, WLED: &WLEDConfig{URL: url, Segment: seg, MaxRate: rate}}
}

func colorN(n int) lighting.Color { return lighting.Color{R: uint8(n), G: uint8(n >> 8), B: 7} }

// postedColors returns the first segment colour of each POST /json/state, in order.
func postedColors(t *testing.T, reqs []SimRequest) []lighting.Color {
	t.Helper()
	var out []lighting.Color
	for _, r := range requestsTo(reqs, "POST", "/json/state") {
		var body wledStateRequest
		if err := json.Unmarshal([]byte(r.Body), &body); err != nil {
			t.Fatal(err)
		}
		c := body.Seg[0].Col[0]
		out = append(out, lighting.Color{R: uint8(c[0]), G: uint8(c[1]), B: uint8(c[2])})
	}
	return out
}

func TestDeviceRateLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim := NewSimWLED(SimWLEDConfig{})
		b := startBench(t, Config{Zones: []ZoneConfig{wledZone("desk", "http://wled", 0, 5)}},
			map[string]http.Handler{"wled": sim}, DeviceOptions{})
		for i := 1; i <= 40; i++ { // a new state every 50 ms for 2 s
			b.ds.Set("desk", testState(true, colorN(i), 200, ""), int64(i))
			time.Sleep(50 * time.Millisecond)
		}
		time.Sleep(time.Second)
		reqs := sim.Requests()
		for i, g := range gaps(reqs) {
			if g < 200*time.Millisecond {
				t.Errorf("requests %d and %d are %s apart, want ≥ 200ms at 5/s", i, i+1, g)
			}
		}
		posts := requestsTo(reqs, "POST", "/json/state")
		if n := len(posts); n < 8 || n > 11 {
			t.Errorf("got %d POSTs in about 2 s at 5/s, want about 10", n)
		}
		if got, want := sim.Snapshot().Segments[0].Colors[0], colorN(40); got != want {
			t.Errorf("device shows %v, want the newest %v", got, want)
		}
		if st, _ := b.statuses.last("desk"); st.Version != 40 || !st.Online {
			t.Errorf("last status %+v, want version 40 online", st)
		}
	})
}

func TestDeviceLatestWins(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim := NewSimWLED(SimWLEDConfig{Delay: 100 * time.Millisecond})
		b := startBench(t, Config{Zones: []ZoneConfig{wledZone("desk", "http://wled", 0, 10)}},
			map[string]http.Handler{"wled": sim}, DeviceOptions{})
		time.Sleep(time.Second) // info and effects read
		b.ds.Set("desk", testState(true, colorN(1), 200, ""), 1)
		synctest.Wait() // version 1 is being sent
		for i := 2; i <= 50; i++ {
			b.ds.Set("desk", testState(true, colorN(i), 200, ""), int64(i))
		}
		b.ds.Set("desk", testState(true, colorN(3), 200, ""), 3) // late and old: ignored
		time.Sleep(2 * time.Second)
		if diff := cmp.Diff([]lighting.Color{colorN(1), colorN(50)}, postedColors(t, sim.Requests())); diff != "" {
			t.Errorf("colours sent (-want +got):\n%s", diff)
		}
		var versions []int64
		for _, s := range b.statuses.all() {
			if s.Device == nil { // not the device's details
				versions = append(versions, s.Version)
			}
		}
		if diff := cmp.Diff([]int64{0, 1, 50}, versions); diff != "" {
			t.Errorf("reported versions (-want +got):\n%s", diff)
		}
	})
}

func TestDeviceNeverTwoInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wled := NewSimWLED(SimWLEDConfig{Segments: []int{10, 10, 10}, Delay: 150 * time.Millisecond})
		esp := NewSimESPEasy(SimESPEasyConfig{Delay: 80 * time.Millisecond})
		cfg := Config{Zones: []ZoneConfig{
			wledZone("a", "http://wled", 0, 20), wledZone("b", "http://wled/", 1, 50), wledZone("c", "http://wled", 2, 20),
			{ID: "lamp", ESPEasy: &ESPEasyConfig{URL: "http://esp", PWM: []int{12, 13, 14}, MaxRate: 50}},
			{ID: "disco", ESPEasy: &ESPEasyConfig{URL: "http://esp", Relay: new(5), MaxRate: 50}},
		}}
		b := startBench(t, cfg, map[string]http.Handler{"wled": wled, "esp": esp}, DeviceOptions{})
		zones := []string{"a", "b", "c", "lamp", "disco"}
		var wg sync.WaitGroup
		for w, z := range zones {
			wg.Go(func() {
				for i := 1; i <= 100; i++ {
					b.ds.Set(z, testState(i%2 == 0, colorN(i+w), 255, ""), int64(i))
					time.Sleep(time.Duration(7+w) * time.Millisecond)
				}
			})
		}
		wg.Wait()
		time.Sleep(3 * time.Second)
		for name, st := range map[string]SimStats{"wled": wled.Stats(), "espeasy": esp.Stats()} {
			if st.MaxConcurrent != 1 || st.Busy != 0 {
				t.Errorf("%s: %+v, want one request at a time and none busy", name, st)
			}
		}
		if len(b.ds.All()) != 2 {
			t.Errorf("got %d devices, want 2 (zones share a device by URL)", len(b.ds.All()))
		}
		for i, seg := range wled.Snapshot().Segments {
			if want := colorN(100 + i); seg.Colors[0] != want || !seg.On {
				t.Errorf("segment %d shows %v on %v, want %v on", i, seg.Colors[0], seg.On, want)
			}
		}
		want := []ESPEasyPin{{Pin: 5, Mode: "output", State: 1}, {Pin: 12, Mode: "PWM", State: duty(colorN(103).R, testState(true, colorN(0), 255, ""))},
			{Pin: 13, Mode: "PWM", State: 0}, {Pin: 14, Mode: "PWM", State: 28}}
		if diff := cmp.Diff(want, esp.Snapshot().Pins); diff != "" {
			t.Errorf("espeasy pins (-want +got):\n%s", diff)
		}
		for _, z := range zones {
			if st, _ := b.statuses.last(z); st.Version != 100 || !st.Online || st.Error != "" {
				t.Errorf("zone %s: last status %+v, want version 100", z, st)
			}
		}
	})
}

func TestDeviceBusyRetryAfter(t *testing.T) {
	tests := []struct {
		name     string
		header   string
		minDelay time.Duration
	}{
		{"Retry-After: 3", "3", 3 * time.Second},
		{"bare 503", "", 250 * time.Millisecond}, // half of MinBackoff at least
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sim := NewSimWLED(SimWLEDConfig{})
				var mu sync.Mutex
				busyLeft := 2
				h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					mu.Lock()
					busy := r.Method == "POST" && busyLeft > 0
					if busy {
						busyLeft--
					}
					mu.Unlock()
					if !busy {
						sim.ServeHTTP(w, r)
						return
					}
					sim.rec.record(r, nil)
					if tt.header != "" {
						w.Header().Set("Retry-After", tt.header)
					}
					w.WriteHeader(http.StatusServiceUnavailable)
				})
				b := startBench(t, Config{Zones: []ZoneConfig{wledZone("desk", "http://wled", 0, 10)}},
					map[string]http.Handler{"wled": h}, DeviceOptions{})
				b.ds.Set("desk", testState(true, colorN(1), 255, ""), 1)
				time.Sleep(20 * time.Second)
				posts := requestsTo(sim.Requests(), "POST", "/json/state")
				if len(posts) != 3 {
					t.Fatalf("got %d POSTs, want 2 busy and 1 applied", len(posts))
				}
				for i, g := range gaps(posts) {
					if g < tt.minDelay {
						t.Errorf("retry %d after %s, want ≥ %s", i+1, g, tt.minDelay)
					}
				}
				if gaps(posts)[1] <= gaps(posts)[0] && tt.header == "" {
					t.Logf("backoff did not grow: %v (jitter)", gaps(posts))
				}
				for _, s := range b.statuses.all() {
					if !s.Online {
						t.Errorf("a busy device was reported offline: %+v", s)
					}
				}
				if st, _ := b.statuses.last("desk"); st.Version != 1 {
					t.Errorf("last status %+v, want version 1", st)
				}
			})
		})
	}
}

func TestDeviceOfflineAndBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := Config{Zones: []ZoneConfig{wledZone("a", "http://wled", 0, 5), wledZone("b", "http://wled", 1, 5)}}
		sim := NewSimWLED(SimWLEDConfig{Segments: []int{15, 15}})
		b := startBench(t, cfg, map[string]http.Handler{"wled": sim}, DeviceOptions{})
		b.transport.setBefore(refuseRequest) // before Run's goroutine first runs: this goroutine has not blocked yet
		synctest.Wait()
		time.Sleep(10 * time.Millisecond)
		// Never seen: offline at the first failure.
		want := []Status{
			{Zone: "a", Online: false, Error: "GET /json/info: connection refused"},
			{Zone: "b", Online: false, Error: "GET /json/info: connection refused"},
		}
		if diff := cmp.Diff(want, b.statuses.all()); diff != "" {
			t.Fatalf("statuses (-want +got):\n%s", diff)
		}
		b.transport.setBefore(nil)
		time.Sleep(5 * time.Second)
		b.ds.Set("a", testState(true, colorN(1), 255, ""), 1)
		time.Sleep(time.Second)
		if st, _ := b.statuses.last("a"); !st.Online || st.Version != 1 {
			t.Fatalf("zone a: %+v, want online at version 1", st)
		}

		// The device stops answering: after 3 timeouts it is offline.
		b.transport.setBefore(hangRequest)
		n := len(b.statuses.all())
		b.ds.Set("a", testState(true, colorN(2), 255, ""), 2)
		time.Sleep(4 * time.Second) // two timeouts and a backoff: still online
		for _, s := range b.statuses.all()[n:] {
			t.Errorf("reported %+v before the third failure", s)
		}
		time.Sleep(10 * time.Second)
		st, _ := b.statuses.last("a")
		if diff := cmp.Diff(Status{Zone: "a", Online: false, Version: 1, Error: "POST /json/state: no reply within 2s"}, st); diff != "" {
			t.Errorf("zone a (-want +got):\n%s", diff)
		}
		b.ds.Set("a", testState(true, colorN(3), 255, ""), 3) // while offline: supersedes 2
		before := len(requestsTo(sim.Requests(), "POST", "/json/state"))
		b.transport.setBefore(nil)
		time.Sleep(40 * time.Second) // the longest backoff is 30 s
		if got := postedColors(t, sim.Requests())[before:]; !cmp.Equal([]lighting.Color{colorN(3)}, got) {
			t.Errorf("sent after recovery %v, want only version 3", got)
		}
		if st, _ := b.statuses.last("a"); !st.Online || st.Version != 3 {
			t.Errorf("zone a: %+v, want online at version 3", st)
		}
		if st, _ := b.statuses.last("b"); !st.Online || st.Version != 0 {
			t.Errorf("zone b: %+v, want online at version 0", st)
		}
	})
}

func TestDeviceRebootResends(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim := NewSimWLED(SimWLEDConfig{})
		esp := NewSimESPEasy(SimESPEasyConfig{})
		cfg := Config{Zones: []ZoneConfig{
			wledZone("desk", "http://wled", 0, 5),
			{ID: "disco", ESPEasy: &ESPEasyConfig{URL: "http://esp", Relay: new(5)}},
		}}
		b := startBench(t, cfg, map[string]http.Handler{"wled": sim, "esp": esp}, DeviceOptions{InfoInterval: 30 * time.Second})
		b.ds.Set("desk", testState(true, colorN(9), 77, "Rainbow"), 5)
		b.ds.Set("disco", testState(true, colorN(0), 255, ""), 2)
		time.Sleep(5 * time.Second)
		want := sim.Snapshot()
		if want.Segments[0].Effect != "Rainbow" || want.Segments[0].Bri != 77 {
			t.Fatalf("device shows %+v", want.Segments[0])
		}
		time.Sleep(60 * time.Second) // info reads, no reboot: nothing re-sent
		if n := len(requestsTo(sim.Requests(), "POST", "/json/state")); n != 1 {
			t.Errorf("got %d POSTs without a reboot, want 1", n)
		}
		sim.Reboot()
		esp.Reboot()
		time.Sleep(5 * time.Second) // uptime now below the last read
		time.Sleep(30 * time.Second)
		if diff := cmp.Diff(want, sim.Snapshot()); diff != "" {
			t.Errorf("after reboot (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]ESPEasyPin{{Pin: 5, Mode: "output", State: 1}}, esp.Snapshot().Pins); diff != "" {
			t.Errorf("espeasy after reboot (-want +got):\n%s", diff)
		}
	})
}

func TestDeviceRereport(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim := NewSimWLED(SimWLEDConfig{})
		b := startBench(t, Config{Zones: []ZoneConfig{wledZone("desk", "http://wled", 0, 5)}},
			map[string]http.Handler{"wled": sim}, DeviceOptions{})
		b.ds.Set("desk", testState(true, colorN(1), 255, ""), 4)
		time.Sleep(2 * time.Second)
		n := len(b.statuses.all())
		b.ds.Set("desk", testState(true, colorN(1), 255, ""), 4) // the hub re-sends after a reconnect
		b.ds.Set("nope", testState(true, colorN(1), 255, ""), 4)
		time.Sleep(time.Second)
		if diff := cmp.Diff([]Status{{Zone: "desk", Online: true, Version: 4}}, b.statuses.all()[n:]); diff != "" {
			t.Errorf("statuses (-want +got):\n%s", diff)
		}
		if got := len(requestsTo(sim.Requests(), "POST", "/json/state")); got != 1 {
			t.Errorf("got %d POSTs, want 1", got)
		}
	})
}

func TestDevicesSpecs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := NewSimWLED(SimWLEDConfig{Effects: []string{"Solid", "RSVD", "Blink", "-", "Blink"}})
		cfg := Config{Zones: []ZoneConfig{
			wledZone("up", "http://up", 0, 5),
			{ID: "lamp", Name: "Lamp", ESPEasy: &ESPEasyConfig{URL: "http://esp", PWM: []int{1, 2, 3}}},
			wledZone("down", "http://down", 0, 5),
		}}
		var mu sync.Mutex
		changed := map[string][]string{}
		opts := DeviceOptions{EffectsChanged: func(zone string, fx []string) {
			mu.Lock()
			changed[zone] = fx
			mu.Unlock()
		}}
		b := startBench(t, cfg, map[string]http.Handler{"up": up, "esp": NewSimESPEasy(SimESPEasyConfig{})}, opts)
		b.transport.setBefore(func(r *http.Request) error {
			if r.URL.Host == "down" {
				return hangRequest(r)
			}
			return nil
		})
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		start := time.Now()
		got := b.ds.Specs(ctx)
		if d := time.Since(start); d != 2*time.Second {
			t.Errorf("Specs took %s, want the 2 s request timeout of the down device", d)
		}
		want := []lighting.ZoneSpec{
			{ID: "up", Name: "up", Kind: lighting.KindPixels, Effects: []string{"Solid", "Blink"}},
			{ID: "lamp", Name: "Lamp", Kind: lighting.KindRGB, Effects: []string{}},
			{ID: "down", Name: "down", Kind: lighting.KindPixels, Effects: FallbackEffects()},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("specs (-want +got):\n%s", diff)
		}
		mu.Lock()
		if diff := cmp.Diff(map[string][]string{"up": {"Solid", "Blink"}}, changed); diff != "" {
			t.Errorf("EffectsChanged (-want +got):\n%s", diff)
		}
		mu.Unlock()
	})
}

func TestNewDevicesErrors(t *testing.T) {
	tests := []struct {
		name  string
		zones []ZoneConfig
		want  string
	}{
		{"two kinds on one URL", []ZoneConfig{wledZone("a", "http://x", 0, 5), {ID: "b", ESPEasy: &ESPEasyConfig{URL: "http://x", Relay: new(1)}}}, "one kind of device"},
		{"segment twice", []ZoneConfig{wledZone("a", "http://x", 0, 5), wledZone("b", "http://x", 0, 5)}, "already zone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewDevices(Config{Zones: tt.zones}, DeviceOptions{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error about %q", err, tt.want)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	for n := 1; n <= 10; n++ {
		hi := min(500*time.Millisecond<<(n-1), 30*time.Second)
		for range 50 {
			if got := backoff(n, 500*time.Millisecond, 30*time.Second); got < hi/2 || got > hi {
				t.Fatalf("backoff(%d) = %s, want in [%s, %s]", n, got, hi/2, hi)
			}
		}
	}
}
