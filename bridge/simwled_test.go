package bridge

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stagelink/stagelink/lighting"
)

type simReply struct {
	Status int
	Header map[string]string // only the keys the test names
	Body   string
}

func doSim(t *testing.T, h http.Handler, method, path, contentType, body string, headers ...string) simReply {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, path, rd)
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	res := w.Result()
	b, _ := io.ReadAll(res.Body)
	got := simReply{Status: res.StatusCode, Body: string(b)}
	for _, k := range headers {
		if got.Header == nil {
			got.Header = map[string]string{}
		}
		got.Header[k] = res.Header.Get(k)
	}
	return got
}

func TestSimWLEDEndpoints(t *testing.T) {
	sim := NewSimWLED(SimWLEDConfig{Delay: -1})
	tests := []struct {
		method, path, ct, body string
		want                   simReply
	}{
		{"GET", "/json/xyz", "", "", simReply{Status: 501, Body: `{"error":4}`}},
		{"GET", "/json/cfg", "", "", simReply{Status: 501, Body: `{"error":4}`}},
		{"GET", "/win", "", "", simReply{Status: 404, Body: "Not Found\n"}},
		{"POST", "/json/state", "application/json", `{"on":`, simReply{Status: 400, Body: `{"error":9}`}},
		{"POST", "/json/state", "application/json", `[1,2]`, simReply{Status: 400, Body: `{"error":9}`}},
		{"POST", "/json/state", "application/json", `{"seg":[{"id":0,"col":["00FF00"]}]}`, simReply{Status: 200, Body: `{"success":true}`}},
		{"POST", "/json/state", "application/json", `{"bri":10,"v":true}`, simReply{Status: 200, Body: `{"on":true,"bri":10,"transition":7,"ps":-1,"pl":-1,"nl":{"on":false,"dur":60,"mode":1,"tbri":0,"rem":-1},"udpn":{"send":false,"recv":true,"sgrp":1,"rgrp":1},"lor":0,"mainseg":0,"seg":[{"id":0,"start":0,"stop":30,"len":30,"grp":1,"spc":0,"of":0,"on":true,"frz":false,"bri":255,"cct":127,"set":0,"col":[[0,255,0],[0,0,0],[0,0,0]],"fx":0,"sx":128,"ix":128,"pal":0,"c1":128,"c2":128,"c3":16,"sel":true,"rev":false,"mi":false,"o1":false,"o2":false,"o3":false,"si":0,"m12":0}]}`}},
		{"POST", "/json/state", "text/plain", `{"on":true}`, simReply{Status: 404, Body: "Not Found\n"}},
		{"POST", "/json/state", "application/json", `{"seg":[{"id":0,"n":"` + strings.Repeat("x", 10<<10) + `"}]}`, simReply{Status: 413}},
		{"GET", "/json/pal", "", "", simReply{Status: 200, Body: `["Default","* Random Cycle","* Color 1","* Colors 1\u00262","* Color Gradient","* Colors Only","Party","Cloud","Lava","Ocean","Forest","Rainbow"]`}},
		{"DELETE", "/json/state", "", "", simReply{Status: 405, Body: "Method Not Allowed\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path+" "+truncate(tt.body, 20), func(t *testing.T) {
			got := doSim(t, sim, tt.method, tt.path, tt.ct, tt.body)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("reply (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSimWLEDDecodesAsWLED checks that every GET endpoint of the simulator decodes as the real dumps do.
func TestSimWLEDDecodesAsWLED(t *testing.T) {
	sim := NewSimWLED(SimWLEDConfig{Name: "Shelf", Version: "16.0.0", LEDs: 90, Segments: []int{30, 30, 30}, Delay: -1})
	var full struct {
		State    json.RawMessage `json:"state"`
		Info     json.RawMessage `json:"info"`
		Effects  json.RawMessage `json:"effects"`
		Palettes []string        `json:"palettes"`
	}
	if err := json.Unmarshal([]byte(doSim(t, sim, "GET", "/json", "", "").Body), &full); err != nil {
		t.Fatal(err)
	}
	inf, err := decodeWLEDInfo(full.Info)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(DeviceInfo{Name: "Shelf", Version: "16.0.0", MAC: "a0b1c2d3e4f5", LEDs: 90, Signal: 90, RSSI: -55}, inf); diff != "" {
		t.Errorf("info (-want +got):\n%s", diff)
	}
	fx, err := decodeWLEDEffects(full.Effects)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(SimWLEDEffects(), fx); diff != "" {
		t.Errorf("effects (-want +got):\n%s", diff)
	}
	// The simulator's state has the real dump's keys, in its order, with 3 colours per segment.
	var gotState, fixState struct {
		Seg []map[string]json.RawMessage `json:"seg"`
	}
	_ = json.Unmarshal(full.State, &gotState)
	_ = json.Unmarshal(fixture(t, "0.15.3.json", "state"), &fixState)
	if len(gotState.Seg) != 3 {
		t.Fatalf("got %d segments, want 3", len(gotState.Seg))
	}
	for k := range fixState.Seg[0] {
		if _, ok := gotState.Seg[2][k]; !ok {
			t.Errorf("segment lacks key %q of a real WLED", k)
		}
	}
	var cols [][]int
	_ = json.Unmarshal(gotState.Seg[1]["col"], &cols)
	if len(cols) != 3 {
		t.Errorf("segment has %d colours, want 3", len(cols))
	}
	si := doSim(t, sim, "GET", "/json/si", "", "")
	if !strings.HasPrefix(si.Body, `{"state":{"on":true,"bri":128,`) || !strings.Contains(si.Body, `"info":{"ver":"16.0.0",`) {
		t.Errorf("/json/si = %.80s…", si.Body)
	}
}

func TestSimWLEDStateChanges(t *testing.T) {
	changes := 0
	sim := NewSimWLED(SimWLEDConfig{Segments: []int{10, 20}, Delay: -1, OnChange: func() { changes++ }})
	post := func(body string) {
		t.Helper()
		if got := doSim(t, sim, "POST", "/json/state", "application/json", body); got.Status != 200 {
			t.Fatalf("POST %s: %+v", body, got)
		}
	}
	post(`{"seg":[{"col":[[1,2,3,4],[],"0A0B0C"]},{"id":1,"bri":0,"fx":3,"sx":300}]}`)
	post(`{"on":"t"}`)
	snap := sim.Snapshot()
	want := WLEDSnapshot{Name: "WLED", On: false, Bri: 128, Segments: []WLEDSegmentSnapshot{
		{ID: 0, Start: 0, Stop: 10, On: true, Bri: 255, Colors: [3]lighting.Color{{R: 1, G: 2, B: 3}, {}, {R: 10, G: 11, B: 12}}, Effect: "Solid", Speed: 128, Intensity: 128},
		{ID: 1, Start: 10, Stop: 30, On: false, Bri: 255, Colors: [3]lighting.Color{{R: 255, G: 160}}, Effect: "Wipe", FX: 3, Speed: 255, Intensity: 128},
	}}
	if diff := cmp.Diff(want, snap); diff != "" {
		t.Errorf("snapshot (-want +got):\n%s", diff)
	}
	post(`{"seg":{"id":1,"bri":40}}`)
	if got := sim.Snapshot().Segments[1]; !got.On || got.Bri != 40 {
		t.Errorf("segment 1 on %v bri %d, want on at 40", got.On, got.Bri)
	}
	if changes != 3 {
		t.Errorf("OnChange called %d times, want 3", changes)
	}
}

func TestSimWLEDBusy(t *testing.T) {
	tests := []struct {
		version string
		want    simReply
	}{
		{"0.15.3", simReply{Status: 503, Header: map[string]string{"Retry-After": "1", "Connection": ""}, Body: `{"error":3}`}},
		{"16.0.0", simReply{Status: 503, Header: map[string]string{"Retry-After": "", "Connection": "close"}}},
	}
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sim := NewSimWLED(SimWLEDConfig{Version: tt.version, Delay: 200 * time.Millisecond})
				done := make(chan simReply)
				go func() { done <- doSim(t, sim, "GET", "/json/info", "", "") }()
				synctest.Wait() // the first request is being processed
				got := doSim(t, sim, "POST", "/json/state", "application/json", `{"on":false}`, "Retry-After", "Connection")
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("overlapping request (-want +got):\n%s", diff)
				}
				if first := <-done; first.Status != 200 {
					t.Errorf("first request: %+v", first)
				}
				if diff := cmp.Diff(SimStats{Requests: 2, MaxConcurrent: 2, Busy: 1}, sim.Stats()); diff != "" {
					t.Errorf("stats (-want +got):\n%s", diff)
				}
				if !sim.Snapshot().On {
					t.Error("the busy request changed the state")
				}
			})
		})
	}
}

func TestSimWLEDReboot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim := NewSimWLED(SimWLEDConfig{Delay: -1})
		uptime := func() time.Duration {
			inf, err := decodeWLEDInfo([]byte(doSim(t, sim, "GET", "/json/info", "", "").Body))
			if err != nil {
				t.Fatal(err)
			}
			return inf.Uptime
		}
		doSim(t, sim, "POST", "/json/state", "application/json", `{"seg":[{"col":[[9,9,9]]}]}`)
		time.Sleep(90 * time.Second)
		if got := uptime(); got != 90*time.Second {
			t.Errorf("uptime %s, want 1m30s", got)
		}
		sim.Reboot()
		time.Sleep(2 * time.Second)
		if got := uptime(); got != 2*time.Second {
			t.Errorf("uptime after reboot %s, want 2s", got)
		}
		if got := sim.Snapshot().Segments[0].Colors[0]; got != (lighting.Color{R: 255, G: 160}) {
			t.Errorf("colour after reboot %v, want the boot colour", got)
		}
	})
}
