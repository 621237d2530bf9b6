package bridge

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stagelink/stagelink/lighting"
)

func TestDecodeWLEDInfoFixtures(t *testing.T) {
	tests := []struct {
		file string
		want DeviceInfo
	}{
		{"0.15.3.json", DeviceInfo{Name: "WLED", Version: "0.15.3", MAC: "8813bf0455f0", LEDs: 30, Signal: 90, RSSI: -55, Uptime: 47 * time.Second}},
		{"16.0.0.json", DeviceInfo{Name: "WLED", Version: "16.0.0", MAC: "8813bf0455f0", LEDs: 30, Signal: 80, RSSI: -60, Uptime: 75 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := decodeWLEDInfo(fixture(t, tt.file, "info"))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("decodeWLEDInfo (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeWLEDEffectsFixtures(t *testing.T) {
	tests := []struct {
		file       string
		count      int // fx ids, as info.fxcount says
		usable     int
		fx         map[string]int // name → fx id
		notOffered []string
	}{
		{"0.15.3.json", 187, 180, map[string]int{"": 0, "Solid": 0, "Rainbow": 9, "rainbow": 9, "Chase 3": 54, "Akemi": 186}, []string{"RSVD", "Image"}},
		{"16.0.0.json", 220, 216, map[string]int{"Image": 53, "PacMan": 151, "Slow Transition": 219}, []string{"RSVD"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			fx, err := decodeWLEDEffects(fixture(t, tt.file, "effects"))
			if err != nil {
				t.Fatal(err)
			}
			if len(fx) != tt.count {
				t.Errorf("got %d effects, want %d", len(fx), tt.count)
			}
			usable := usableEffects(fx)
			if len(usable) != tt.usable {
				t.Errorf("got %d usable effects, want %d", len(usable), tt.usable)
			}
			for name, want := range tt.fx {
				if got, ok := resolveEffect(fx, name); !ok || got != want {
					t.Errorf("resolveEffect(%q) = %d, %v; want %d, true", name, got, ok, want)
				}
			}
			for _, name := range tt.notOffered {
				if slices.Contains(usable, name) {
					t.Errorf("usable effects contain %q", name)
				}
				if _, ok := resolveEffect(fx, name); ok {
					t.Errorf("resolveEffect(%q) found it", name)
				}
			}
		})
	}
}

func TestDecodeWLEDInfoErrors(t *testing.T) {
	for _, in := range []string{``, `[]`, `{}`, `{"ver":"0.15.3","uptime":-1}`, `{"ver":1}`, `{"ver":"0.15.3","uptime":"x"}`} {
		if _, err := decodeWLEDInfo([]byte(in)); err == nil {
			t.Errorf("decodeWLEDInfo(%s) = nil error, want one", in)
		}
	}
	for _, in := range []string{``, `{}`, `[]`, `[1,2]`} {
		if _, err := decodeWLEDEffects([]byte(in)); err == nil {
			t.Errorf("decodeWLEDEffects(%s) = nil error, want one", in)
		}
	}
}

func TestCheckWLEDReply(t *testing.T) {
	now := time.Date(2026, 5, 16, 12, 0, 0, 0, time.UTC)
	hdr := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	tests := []struct {
		name     string
		rep      reply
		wantErr  bool
		rejected bool
		busy     *BusyError
	}{
		{"success", reply{status: 200, body: []byte(`{"success":true}`)}, false, false, nil},
		{"full state", reply{status: 200, body: fixture(t, "0.15.3.json", "state")}, false, false, nil},
		{"bad json", reply{status: 400, body: []byte(`{"error":9}`)}, true, true, nil},
		{"too large", reply{status: 413}, true, true, nil},
		{"busy 0.15", reply{status: 503, header: hdr("Retry-After", "1"), body: []byte(`{"error":3}`)}, true, false, &BusyError{RetryAfter: time.Second}},
		{"busy 16", reply{status: 503, header: hdr()}, true, false, &BusyError{}},
		{"busy date", reply{status: 503, header: hdr("Retry-After", now.Add(5*time.Second).Format(http.TimeFormat))}, true, false, &BusyError{RetryAfter: 5 * time.Second}},
		{"busy huge", reply{status: 503, header: hdr("Retry-After", "99999")}, true, false, &BusyError{RetryAfter: time.Minute}},
		{"server error", reply{status: 500, body: []byte("oops")}, true, false, nil},
		{"not json", reply{status: 200, body: []byte("<html>")}, true, false, nil},
		{"error in 200", reply{status: 200, body: []byte(`{"error":1}`)}, true, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.rep.header == nil {
				tt.rep.header = http.Header{}
			}
			err := checkWLEDReply(tt.rep, now)
			if (err != nil) != tt.wantErr {
				t.Fatalf("got error %v, want error: %v", err, tt.wantErr)
			}
			var rej *rejectedError
			if got := errors.As(err, &rej); got != tt.rejected {
				t.Errorf("got rejected %v, want %v (%v)", got, tt.rejected, err)
			}
			var busy *BusyError
			if errors.As(err, &busy) != (tt.busy != nil) {
				t.Fatalf("got %v, want busy %v", err, tt.busy)
			}
			if tt.busy != nil {
				if diff := cmp.Diff(tt.busy, busy); diff != "" {
					t.Errorf("busy (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// newWLEDDriver returns a driver for a WLED on srv with zones a (segment 0) and b (segment 1), its
// effects read from the 0.15.3 fixture.
func newWLEDDriver(t *testing.T, srv *httptest.Server) *wledDriver {
	t.Helper()
	return &wledDriver{
		conn:     &conn{base: srv.URL, client: srv.Client(), timeout: 2 * time.Second},
		segments: map[string]int{"a": 0, "b": 1},
		fx:       fixtureEffects(t, "0.15.3.json"),
	}
}

func TestWLEDRequestMapping(t *testing.T) {
	red, blue := lighting.Color{R: 255}, lighting.Color{B: 200, G: 10}
	tests := []struct {
		name     string
		batch    []zoneUpdate
		wantBody string
		wantNote []string
		wantSegs []WLEDSegmentSnapshot
	}{
		{
			name:     "one zone",
			batch:    []zoneUpdate{{zone: "a", state: testState(true, red, 200, ""), version: 1}},
			wantBody: `{"on":true,"bri":255,"seg":[{"id":0,"on":true,"bri":200,"col":[[255,0,0]],"fx":0,"sx":128,"ix":128}],"tt":0,"udpn":{"nn":true}}`,
			wantNote: []string{""},
			wantSegs: []WLEDSegmentSnapshot{
				{ID: 0, Start: 0, Stop: 20, On: true, Bri: 200, Colors: [3]lighting.Color{red}, Effect: "Solid", Speed: 128, Intensity: 128},
				{ID: 1, Start: 20, Stop: 30, On: true, Bri: 255, Colors: [3]lighting.Color{{R: 255, G: 160}}, Effect: "Solid", Speed: 128, Intensity: 128},
			},
		},
		{
			name: "two zones in one request, effect, off",
			batch: []zoneUpdate{
				{zone: "a", state: lighting.State{On: true, Color: blue, Brightness: 255, Effect: "Rainbow", Speed: 10, Intensity: 250}, version: 2},
				{zone: "b", state: testState(false, red, 90, ""), version: 3},
			},
			wantBody: `{"on":true,"bri":255,"seg":[{"id":0,"on":true,"bri":255,"col":[[0,10,200]],"fx":9,"sx":10,"ix":250},{"id":1,"on":false,"col":[[255,0,0]],"fx":0,"sx":128,"ix":128}],"tt":0,"udpn":{"nn":true}}`,
			wantNote: []string{"", ""},
			wantSegs: []WLEDSegmentSnapshot{
				{ID: 0, Start: 0, Stop: 20, On: true, Bri: 255, Colors: [3]lighting.Color{blue}, Effect: "Rainbow", FX: 9, Speed: 10, Intensity: 250},
				{ID: 1, Start: 20, Stop: 30, On: false, Bri: 255, Colors: [3]lighting.Color{red}, Effect: "Solid", Speed: 128, Intensity: 128},
			},
		},
		{
			name:     "brightness 0 is off, unknown effect is Solid with a note",
			batch:    []zoneUpdate{{zone: "b", state: testState(true, blue, 0, "Nope"), version: 4}},
			wantBody: `{"on":true,"bri":255,"seg":[{"id":1,"on":false,"col":[[0,10,200]],"fx":0,"sx":128,"ix":128}],"tt":0,"udpn":{"nn":true}}`,
			wantNote: []string{`effect "Nope" is not on this device: showing Solid`},
			wantSegs: []WLEDSegmentSnapshot{
				{ID: 0, Start: 0, Stop: 20, On: true, Bri: 255, Colors: [3]lighting.Color{{R: 255, G: 160}}, Effect: "Solid", Speed: 128, Intensity: 128},
				{ID: 1, Start: 20, Stop: 30, On: false, Bri: 255, Colors: [3]lighting.Color{blue}, Effect: "Solid", Speed: 128, Intensity: 128},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim := NewSimWLED(SimWLEDConfig{Segments: []int{20, 10}, Effects: fixtureEffects(t, "0.15.3.json"), Delay: -1})
			srv := httptest.NewServer(sim)
			defer srv.Close()
			w := newWLEDDriver(t, srv)
			batch := slices.Clone(tt.batch)
			if err := w.apply(context.Background(), batch); err != nil {
				t.Fatal(err)
			}
			var notes []string
			for _, u := range batch {
				if !u.done || u.err != nil {
					t.Errorf("zone %s: done %v, err %v; want done", u.zone, u.done, u.err)
				}
				notes = append(notes, u.note)
			}
			if diff := cmp.Diff(tt.wantNote, notes); diff != "" {
				t.Errorf("notes (-want +got):\n%s", diff)
			}
			reqs := sim.Requests()
			if len(reqs) != 1 {
				t.Fatalf("got %d requests, want 1: %+v", len(reqs), reqs)
			}
			want := SimRequest{Method: "POST", Path: "/json/state", ContentType: "application/json", Body: tt.wantBody}
			if diff := cmp.Diff(want, reqs[0], cmpIgnoreAt); diff != "" {
				t.Errorf("request (-want +got):\n%s", diff)
			}
			snap := sim.Snapshot()
			if diff := cmp.Diff(tt.wantSegs, snap.Segments); diff != "" {
				t.Errorf("segments shown (-want +got):\n%s", diff)
			}
			if !snap.On || snap.Bri != 255 {
				t.Errorf("master on %v bri %d, want on at 255", snap.On, snap.Bri)
			}
		})
	}
}

var cmpIgnoreAt = cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".At" || p.Last().String() == ".Close" }, cmp.Ignore())

func TestWLEDApplyRejected(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeSimJSON(w, http.StatusBadRequest, []byte(`{"error":9}`))
	}))
	defer srv.Close()
	w := newWLEDDriver(t, srv)
	batch := []zoneUpdate{{zone: "a", state: lighting.DefaultState(), version: 1}, {zone: "b", state: lighting.DefaultState(), version: 1}}
	if err := w.apply(context.Background(), batch); err != nil {
		t.Fatalf("apply: %v, want refusals per zone", err)
	}
	for _, u := range batch {
		if u.done || u.err == nil {
			t.Errorf("zone %s: done %v err %v, want refused", u.zone, u.done, u.err)
		}
	}
}

func TestWLEDInfoAndEffectsFromSim(t *testing.T) {
	for _, version := range []string{"0.15.3", "16.0.0"} {
		t.Run(version, func(t *testing.T) {
			sim := NewSimWLED(SimWLEDConfig{Name: "Desk", Version: version, LEDs: 60, Delay: -1})
			srv := httptest.NewServer(sim)
			defer srv.Close()
			w := &wledDriver{conn: &conn{base: srv.URL, client: srv.Client(), timeout: 2 * time.Second}}
			inf, err := w.info(context.Background(), false)
			if err != nil {
				t.Fatal(err)
			}
			want := DeviceInfo{Name: "Desk", Version: version, MAC: "a0b1c2d3e4f5", LEDs: 60, Signal: 90, RSSI: -55}
			if diff := cmp.Diff(want, inf); diff != "" {
				t.Errorf("info (-want +got):\n%s", diff)
			}
			want2 := slices.DeleteFunc(SimWLEDEffects(), func(s string) bool { return s == "RSVD" })
			if diff := cmp.Diff(want2, w.effects()); diff != "" {
				t.Errorf("effects (-want +got):\n%s", diff)
			}
			// A second read without effects asks only for /json/info.
			if _, err := w.info(context.Background(), false); err != nil {
				t.Fatal(err)
			}
			var paths []string
			for _, r := range sim.Requests() {
				paths = append(paths, r.Method+" "+r.Path)
			}
			if diff := cmp.Diff([]string{"GET /json/info", "GET /json/eff", "GET /json/info"}, paths); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConnErrors(t *testing.T) {
	t.Run("connection refused", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		c := &conn{base: srv.URL, client: srv.Client(), timeout: 2 * time.Second}
		srv.Close()
		_, err := c.do(context.Background(), http.MethodGet, "/json/info", nil)
		if err == nil {
			t.Fatal("got no error from a closed server")
		}
		t.Log(err)
	})
	t.Run("timeout", func(t *testing.T) {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		defer srv.Close()
		defer close(release)
		c := &conn{base: srv.URL, client: srv.Client(), timeout: 50 * time.Millisecond}
		_, err := c.do(context.Background(), http.MethodGet, "/json/info", nil)
		if err == nil || err.Error() != "GET /json/info: no reply within 50ms" {
			t.Fatalf("got %v, want a timeout", err)
		}
	})
	t.Run("reply too large", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write(make([]byte, maxReplyBytes+10))
		}))
		defer srv.Close()
		c := &conn{base: srv.URL, client: srv.Client(), timeout: 2 * time.Second}
		if _, err := c.do(context.Background(), http.MethodGet, "/json/eff", nil); err == nil {
			t.Fatal("got no error for an oversized reply")
		}
	})
}
