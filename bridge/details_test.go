package bridge

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stagelink/stagelink/lighting"
)

// TestDeviceDetailsCadence checks that a device's info is read at start and every 30 s, and that its
// details go to the hub at the first read, every 60 s, at once when they change and after a reboot.
func TestDeviceDetailsCadence(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim := NewSimWLED(SimWLEDConfig{Segments: []int{10, 10}, Delay: -1})
		cfg := Config{Zones: []ZoneConfig{wledZone("a", "http://wled", 0, 5), wledZone("b", "http://wled", 1, 5)}}
		start := time.Now()
		b := startBench(t, cfg, map[string]http.Handler{"wled": sim}, DeviceOptions{})
		time.Sleep(150*time.Second + time.Second)

		// Reads: /json/info at 0, /json/eff 200 ms later (5 requests/s), then /json/info every 30 s after the
		// last read ended.
		var infoAt []time.Duration
		for _, r := range requestsTo(sim.Requests(), "GET", "/json/info") {
			infoAt = append(infoAt, r.At.Sub(start))
		}
		step := 200 * time.Millisecond
		want := []time.Duration{0, 30*time.Second + step, 60*time.Second + step, 90*time.Second + step, 120*time.Second + step, 150*time.Second + step}
		if diff := cmp.Diff(want, infoAt); diff != "" {
			t.Errorf("GET /json/info at (-want +got):\n%s", diff)
		}
		if n := len(requestsTo(sim.Requests(), "GET", "/json/eff")); n != 1 {
			t.Errorf("got %d GET /json/eff, want 1 (the effects are read once)", n)
		}

		// Details: at the first read, then every 60 s although nothing changed; the same for each zone.
		details := func(zone string) (at []time.Duration, last lighting.DeviceInfo) {
			for _, s := range b.statuses.details(zone) {
				at = append(at, s.At.Sub(start))
				last = *s.Device
				if !s.Online {
					t.Errorf("details reported with the device offline: %+v", s)
				}
			}
			return at, last
		}
		gotA, last := details("a")
		gotB, _ := details("b")
		if diff := cmp.Diff([]time.Duration{step, 60*time.Second + step, 120*time.Second + step}, gotA); diff != "" {
			t.Errorf("details of zone a at (-want +got):\n%s", diff)
		}
		if !cmp.Equal(gotA, gotB) {
			t.Errorf("details of zone b at %v, want as zone a %v", gotB, gotA)
		}
		if diff := cmp.Diff(lighting.DeviceInfo{Firmware: "0.15.3", Signal: 90, RSSI: -55, Uptime: 120}, last); diff != "" {
			t.Errorf("last details (-want +got):\n%s", diff)
		}

		// A weaker signal goes out at the next read (180 s), not at the next minute.
		sim.SetRSSI(-70)
		time.Sleep(30 * time.Second)
		gotA, last = details("a")
		if diff := cmp.Diff(lighting.DeviceInfo{Firmware: "0.15.3", Signal: 60, RSSI: -70, Uptime: 180}, last); diff != "" || gotA[len(gotA)-1] != 180*time.Second+step {
			t.Errorf("after the signal changed: details %+v at %v, want at 180.2s (-want +got):\n%s", last, gotA[len(gotA)-1], diff)
		}

		// A reboot goes out at the next read too (210 s).
		sim.Reboot()
		time.Sleep(30 * time.Second)
		gotA, last = details("a")
		if last.Uptime >= 30 || gotA[len(gotA)-1] != 210*time.Second+step {
			t.Errorf("after a reboot: details %+v at %v, want the new uptime at 210.2s", last, gotA[len(gotA)-1])
		}
	})
}

// TestDeviceInfoBelowLights keeps devices busy with light changes while their info falls due: the reads
// still happen, one request at a time with the changes, and a read that falls due while a change waits goes
// after that change. Requests take longer than the rate limit's spacing, so each starts when the previous
// ends and the order shows the scheduler's choices.
func TestDeviceInfoBelowLights(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const wledDelay, interval = 100 * time.Millisecond, 2 * time.Second
		wled := NewSimWLED(SimWLEDConfig{Delay: wledDelay})
		esp := NewSimESPEasy(SimESPEasyConfig{Delay: 80 * time.Millisecond})
		cfg := Config{Zones: []ZoneConfig{
			wledZone("desk", "http://wled", 0, 50),
			{ID: "lamp", ESPEasy: &ESPEasyConfig{URL: "http://esp", PWM: []int{12, 13, 14}, MaxRate: 50}},
		}}
		b := startBench(t, cfg, map[string]http.Handler{"wled": wled, "esp": esp}, DeviceOptions{InfoInterval: interval})
		time.Sleep(time.Second) // the first reads
		var wg sync.WaitGroup
		for _, z := range []string{"desk", "lamp"} {
			wg.Go(func() {
				for i := 1; i <= 400; i++ { // a change every 50 ms for 20 s: always one waiting
					b.ds.Set(z, testState(true, colorN(i), 255, ""), int64(i))
					time.Sleep(50 * time.Millisecond)
				}
			})
		}
		wg.Wait()
		time.Sleep(3 * time.Second)

		for name, dev := range map[string]struct {
			sim  interface{ Stats() SimStats }
			reqs []SimRequest
			info string
		}{
			"wled":    {wled, wled.Requests(), "/json/info"},
			"espeasy": {esp, esp.Requests(), "/json"},
		} {
			if st := dev.sim.Stats(); st.MaxConcurrent != 1 || st.Busy != 0 {
				t.Errorf("%s: %+v, want one request at a time and none busy", name, st)
			}
			var lastChange time.Time // reads once the changes stopped do not count
			for _, r := range dev.reqs {
				if r.Path != dev.info {
					lastChange = r.At
				}
			}
			var reads []int // indexes of the info reads under load
			for i, r := range dev.reqs {
				if i > 0 && r.At.After(time.Time{}) && r.At.Before(lastChange) && r.Method == "GET" && r.Path == dev.info && dev.reqs[0].At.Add(time.Second).Before(r.At) {
					reads = append(reads, i)
				}
			}
			// 20 s of changes, a read due 2 s after the last ended: about 9.
			if len(reads) < 7 {
				t.Errorf("%s: %d info reads under load, want them not starved (about 9)", name, len(reads))
			}
			if name != "wled" { // an ESPEasy change is three requests; the order is checked on the WLED
				continue
			}
			for k := 1; k < len(reads); k++ {
				due := dev.reqs[reads[k-1]].At.Add(wledDelay + interval)
				got, before := dev.reqs[reads[k]], dev.reqs[reads[k]-1]
				if before.Method != "POST" || before.At.Before(due) {
					t.Errorf("wled: the read at %v (due %v) came after %s %s at %v, want after a change sent once it was due",
						got.At, due, before.Method, before.Path, before.At)
				}
				if d := got.At.Sub(due); d > 2*wledDelay {
					t.Errorf("wled: the read came %v after it was due, want at most the change in flight and one more", d)
				}
			}
		}
		for _, z := range []string{"desk", "lamp"} {
			if st, _ := b.statuses.last(z); st.Version != 400 || !st.Online {
				t.Errorf("zone %s: last status %+v, want version 400 online", z, st)
			}
		}
	})
}

// TestDeviceInfoUnreadable: a device that answers its info read with something unreadable is up; it stays
// online, its lights keep working, and the read is tried again an InfoInterval later, not in a loop.
func TestDeviceInfoUnreadable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim := NewSimWLED(SimWLEDConfig{Delay: -1})
		var broken atomic.Bool
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if broken.Load() && r.URL.Path == "/json/info" {
				sim.rec.record(r, nil)
				writeSimJSON(w, http.StatusInternalServerError, []byte(`{"error":"usermod crashed"}`))
				return
			}
			sim.ServeHTTP(w, r)
		})
		b := startBench(t, Config{Zones: []ZoneConfig{wledZone("desk", "http://wled", 0, 5)}},
			map[string]http.Handler{"wled": h}, DeviceOptions{})
		time.Sleep(time.Second)
		broken.Store(true)
		n := len(requestsTo(sim.Requests(), "GET", "/json/info"))
		time.Sleep(3 * time.Minute)
		if got := len(requestsTo(sim.Requests(), "GET", "/json/info")) - n; got != 6 {
			t.Errorf("got %d info reads in 3 minutes of unreadable answers, want 6 (one every 30 s)", got)
		}
		for _, s := range b.statuses.all() {
			if !s.Online {
				t.Errorf("reported %+v: a device that answers is online", s)
			}
		}
		b.ds.Set("desk", testState(true, colorN(5), 255, ""), 5)
		time.Sleep(time.Second)
		if st, _ := b.statuses.last("desk"); st.Version != 5 || !st.Online {
			t.Errorf("last status %+v, want version 5 online", st)
		}
	})
}

// TestDeviceDetailsOverHTTP reads the details of both simulated devices over real HTTP.
func TestDeviceDetailsOverHTTP(t *testing.T) {
	wled := httptest.NewServer(NewSimWLED(SimWLEDConfig{Version: "16.0.0", Delay: -1}))
	defer wled.Close()
	espSim := NewSimESPEasy(SimESPEasyConfig{Name: "Lamp unit", Delay: -1})
	espSim.SetRSSI(-72)
	esp := httptest.NewServer(espSim)
	defer esp.Close()
	statuses := &statusLog{}
	ds, err := NewDevices(Config{Zones: []ZoneConfig{
		wledZone("desk", wled.URL, 0, 10),
		{ID: "lamp", ESPEasy: &ESPEasyConfig{URL: esp.URL, PWM: []int{12, 13, 14}}},
		{ID: "fan", ESPEasy: &ESPEasyConfig{URL: esp.URL, Relay: new(5)}},
	}}, DeviceOptions{Report: statuses.add})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { ds.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	want := map[string]lighting.DeviceInfo{
		"desk": {Firmware: "16.0.0", Signal: 90, RSSI: -55},
		"lamp": {Firmware: "mega-20230822", RSSI: -72},
		"fan":  {Firmware: "mega-20230822", RSSI: -72},
	}
	deadline := time.Now().Add(10 * time.Second)
	for zone, w := range want {
		for len(statuses.details(zone)) == 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		got := statuses.details(zone)
		if len(got) == 0 {
			t.Fatalf("zone %s: no details within 10 s", zone)
		}
		d := *got[0].Device
		d.Uptime = 0 // real time passed
		if diff := cmp.Diff(w, d); diff != "" {
			t.Errorf("zone %s details (-want +got):\n%s", zone, diff)
		}
	}
}
