package bridge

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// Fuzz targets for every decoder of what a device (or, for the simulators, a client) sends. They must
// never panic; errors are fine.

func addFixtureSeeds(f *testing.F, part string) {
	for _, file := range []string{"0.15.3.json", "16.0.0.json"} {
		f.Add(fixture(f, file, part))
	}
}

func FuzzDecodeWLEDInfo(f *testing.F) {
	addFixtureSeeds(f, "info")
	f.Add([]byte(`{"ver":"16.0.0","uptime":1e30,"leds":{"count":-1},"wifi":{"signal":"x"}}`))
	f.Add([]byte(`{"ver":"0.15.3","leds":null,"wifi":[]}`))
	f.Add([]byte(`{"ver":"0.15.3","wifi":{"rssi":31,"signal":250},"uptime":5}`))
	f.Add([]byte(`{"ver":"0.15.3","wifi":{"rssi":"-60","signal":"90"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		inf, err := decodeWLEDInfo(b)
		if err != nil {
			return
		}
		d := inf.Details()
		if inf.Version == "" || inf.Uptime < 0 || d.Signal < 0 || d.Signal > 100 || d.RSSI < -127 || d.RSSI > 0 || len(d.Firmware) > 32 {
			t.Errorf("accepted %q as %+v", b, inf)
		}
	})
}

func FuzzDecodeWLEDEffects(f *testing.F) {
	addFixtureSeeds(f, "effects")
	f.Add([]byte(`["Solid","RSVD","-",""]`))
	f.Add([]byte(`[null,"\u0000"]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		fx, err := decodeWLEDEffects(b)
		if err != nil {
			return
		}
		for _, name := range usableEffects(fx) {
			if id, ok := resolveEffect(fx, name); !ok || id < 0 || id >= len(fx) {
				t.Errorf("usable effect %q resolves to %d, %v", name, id, ok)
			}
		}
	})
}

func FuzzCheckWLEDReply(f *testing.F) {
	f.Add(200, "", []byte(`{"success":true}`))
	f.Add(400, "", []byte(`{"error":9}`))
	f.Add(503, "1", []byte(`{"error":3}`))
	f.Add(503, "Wed, 21 Oct 2015 07:28:00 GMT", []byte(nil))
	f.Add(503, "-5", []byte(nil))
	f.Add(413, "", []byte(nil))
	f.Add(200, "", fixture(f, "16.0.0.json", "state"))
	f.Fuzz(func(t *testing.T, status int, retry string, body []byte) {
		h := http.Header{}
		h.Set("Retry-After", retry)
		err := checkWLEDReply(reply{status: status, header: h, body: body}, time.Unix(1444000000, 0))
		if be, ok := err.(*BusyError); ok && (be.RetryAfter < 0 || be.RetryAfter > maxRetryAfter) {
			t.Errorf("retry after %s", be.RetryAfter)
		}
		_ = checkWLEDGet(reply{status: status, header: h, body: body}, time.Now())
	})
}

func FuzzParseESPEasyReply(f *testing.F) {
	f.Add([]byte("{\n\"log\": \"port#12: set to 1\",\n\"plugin\": 1,\n\"pin\": 12,\n\"mode\": \"output\",\n\"state\": 1\n}\n"))
	f.Add([]byte("OK"))
	f.Add([]byte("Command unknown: PWM,1"))
	f.Add([]byte("\xff\xfe{"))
	f.Fuzz(func(t *testing.T, b []byte) {
		err := parseESPEasyReply(b)
		if err != nil && len(err.Error()) > 200 {
			t.Errorf("error message of %d bytes", len(err.Error()))
		}
	})
}

// FuzzDecodeESPEasyInfo is seeded (testdata/fuzz) with the simulator's /json, which follows ESPEasy's
// handle_json, and with the System and WiFi parts of replies of older and newer builds.
func FuzzDecodeESPEasyInfo(f *testing.F) {
	f.Add([]byte(`{"System":{"Build":20116,"Unit Name":"lamp","Uptime":3,"Uptime (ms)":185000},"WiFi":{"RSSI":-60}}`))
	f.Add([]byte(`{"System":{"Build":"x","Uptime":"99999999999999999999"},"WiFi":{"RSSI":1e99}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		inf, err := decodeESPEasyInfo(b)
		if err != nil {
			return
		}
		d := inf.Details()
		if inf.Signal != 0 || inf.Uptime < 0 || d.RSSI < -127 || d.RSSI > 0 || len(d.Firmware) > 32 || len(inf.Name) > 64 {
			t.Errorf("decoded %q as %+v", b, inf)
		}
	})
}

// FuzzSimWLEDPost feeds the simulated WLED arbitrary state bodies: it serves the demo, so it must
// answer everything without panicking, and its state must stay in range.
func FuzzSimWLEDPost(f *testing.F) {
	f.Add(`{"on":true,"bri":200,"seg":[{"id":0,"col":[[255,0,0]],"fx":0,"sx":128,"ix":128}],"tt":0,"v":true}`)
	f.Add(`{"on":"t","seg":{"id":1,"bri":0,"col":["FFAA00",[1,2,3,4],[]]}}`)
	f.Add(`{"seg":[{"id":-1},{"id":99},{"fx":1e300,"sx":-1e300,"col":[[1e400]]}]}`)
	f.Add(`{"on":`)
	f.Fuzz(func(t *testing.T, body string) {
		sim := NewSimWLED(SimWLEDConfig{Segments: []int{10, 20}, Delay: -1})
		r := httptest.NewRequest("POST", "/json/state", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		sim.ServeHTTP(w, r)
		if w.Code != 200 && w.Code != 400 && w.Code != 413 {
			t.Errorf("status %d", w.Code)
		}
		snap := sim.Snapshot()
		if snap.Bri < 1 || snap.Bri > 255 || len(snap.Segments) != 2 {
			t.Errorf("snapshot %+v", snap)
		}
		for _, s := range snap.Segments {
			if s.Bri < 0 || s.Bri > 255 || s.Speed < 0 || s.Speed > 255 || s.Effect == "" {
				t.Errorf("segment %+v", s)
			}
		}
	})
}

// FuzzSimESPEasyControl feeds the simulated ESPEasy arbitrary commands.
func FuzzSimESPEasyControl(f *testing.F) {
	for _, c := range []string{"PWM,12,512", "PWM,12,512,1000,500", "GPIO,5,1", "gpio,5,2", "NeoPixelAll,1,2,3", "", ",,,", "PWM,-1,99999"} {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, cmd string) {
		sim := NewSimESPEasy(SimESPEasyConfig{Delay: -1})
		r := httptest.NewRequest("GET", "/control", nil)
		q := r.URL.Query()
		q.Set("cmd", cmd)
		r.URL.RawQuery = q.Encode()
		w := httptest.NewRecorder()
		sim.ServeHTTP(w, r)
		if w.Code != 200 {
			t.Errorf("status %d", w.Code)
		}
		_ = parseESPEasyReply(w.Body.Bytes())
	})
}
