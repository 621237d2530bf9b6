package bridge

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stagelink/stagelink/lighting"
)

func TestESPEasyCommands(t *testing.T) {
	rgb := espeasyZone{pwm: []int{12, 13, 14}}
	tests := []struct {
		name string
		zone espeasyZone
		st   lighting.State
		want []string
	}{
		{"full white", rgb, testState(true, lighting.Color{R: 255, G: 255, B: 255}, 255, ""), []string{"PWM,12,1023", "PWM,13,1023", "PWM,14,1023"}},
		{"colour at half", rgb, testState(true, lighting.Color{R: 255, G: 128, B: 0}, 128, ""), []string{"PWM,12,514", "PWM,13,258", "PWM,14,0"}},
		{"off", rgb, testState(false, lighting.Color{R: 255, G: 255, B: 255}, 255, ""), []string{"PWM,12,0", "PWM,13,0", "PWM,14,0"}},
		{"brightness 0", rgb, testState(true, lighting.Color{R: 255}, 0, ""), []string{"PWM,12,0", "PWM,13,0", "PWM,14,0"}},
		{"fade", espeasyZone{pwm: []int{4, 5, 16}, fade: 300}, testState(true, lighting.Color{R: 1, G: 2, B: 3}, 255, ""), []string{"PWM,4,4,300", "PWM,5,8,300", "PWM,16,12,300"}},
		{"relay on", espeasyZone{relay: 5}, testState(true, lighting.Color{}, 0, ""), []string{"GPIO,5,1"}},
		{"relay off", espeasyZone{relay: 5}, testState(false, lighting.Color{R: 9}, 255, ""), []string{"GPIO,5,0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, espeasyCommands(tt.zone, tt.st)); diff != "" {
				t.Errorf("commands (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseESPEasyReply(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		wantErr  bool
		rejected bool
	}{
		{"gpio json", "{\n\"log\": \"port#12: set to 1\",\n\"plugin\": 1,\n\"pin\": 12,\n\"mode\": \"output\",\n\"state\": 1\n}\n", false, false},
		{"compact json", `{"log":"…","plugin":1,"pin":12,"mode":"output","state":1}`, false, false},
		{"ok", "OK", false, false},
		{"unknown", "Command unknown: PWMX,1", true, true},
		{"other text", "Invalid parameters", true, true},
		{"empty", "", true, true},
		{"json without pin", `{"log":"x"}`, true, true},
		{"broken json", `{"log":`, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := parseESPEasyReply([]byte(tt.body))
			if (err != nil) != tt.wantErr {
				t.Fatalf("got %v, want error %v", err, tt.wantErr)
			}
			var rej *rejectedError
			if errors.As(err, &rej) != tt.rejected {
				t.Errorf("got %v, want rejected %v", err, tt.rejected)
			}
		})
	}
	if err := checkESPEasyReply(reply{status: 403, body: []byte("Access denied")}); err == nil || errors.As(err, new(*rejectedError)) {
		t.Errorf("403: got %v, want a failure that is retried", err)
	}
}

func TestESPEasyDriverAgainstSim(t *testing.T) {
	sim := NewSimESPEasy(SimESPEasyConfig{Name: "lamp", Delay: -1})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	e := &espeasyDriver{
		conn:  &conn{base: srv.URL, client: srv.Client(), timeout: 2 * time.Second, close: true},
		zones: map[string]espeasyZone{"lamp": {pwm: []int{12, 13, 14}, fade: 100}, "disco": {relay: 5}},
	}
	batch := []zoneUpdate{
		{zone: "disco", state: testState(true, lighting.Color{}, 255, ""), version: 7},
		{zone: "lamp", state: testState(true, lighting.Color{R: 255, G: 0, B: 51}, 255, ""), version: 3},
	}
	if err := e.apply(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	for _, u := range batch {
		if !u.done || u.err != nil {
			t.Errorf("zone %s: done %v err %v", u.zone, u.done, u.err)
		}
	}
	want := ESPEasySnapshot{Name: "lamp", Pins: []ESPEasyPin{
		{Pin: 5, Mode: "output", State: 1},
		{Pin: 12, Mode: "PWM", State: 1023, Fade: 100},
		{Pin: 13, Mode: "PWM", State: 0, Fade: 100},
		{Pin: 14, Mode: "PWM", State: 205, Fade: 100},
	}}
	if diff := cmp.Diff(want, sim.Snapshot()); diff != "" {
		t.Errorf("pins (-want +got):\n%s", diff)
	}
	var paths []string
	for _, r := range sim.Requests() {
		if !r.Close {
			t.Errorf("%s sent without Connection: close", r.Path)
		}
		paths = append(paths, r.Path)
	}
	wantPaths := []string{"/control?cmd=GPIO%2C5%2C1", "/control?cmd=PWM%2C12%2C1023%2C100", "/control?cmd=PWM%2C13%2C0%2C100", "/control?cmd=PWM%2C14%2C205%2C100"}
	if diff := cmp.Diff(wantPaths, paths); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
	if got := sim.Stats().MaxConcurrent; got != 1 {
		t.Errorf("max concurrent requests %d, want 1", got)
	}

	inf, err := e.info(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	inf.Uptime = 0 // real time passed
	if diff := cmp.Diff(DeviceInfo{Name: "lamp", Version: "mega-20230822", RSSI: -60}, inf); diff != "" {
		t.Errorf("info (-want +got):\n%s", diff)
	}

	// A refused command fails only its zone; a refused IP fails the batch, to be retried.
	e.zones["bad"] = espeasyZone{relay: 99}
	batch = []zoneUpdate{{zone: "bad", version: 1}, {zone: "disco", version: 8}}
	if err := e.apply(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	if batch[0].err == nil || batch[0].done || !batch[1].done {
		t.Errorf("got %+v, want bad refused and disco done", batch)
	}
	sim.SetForbidden(true)
	batch = []zoneUpdate{{zone: "disco", version: 9}}
	if err := e.apply(context.Background(), batch); err == nil || batch[0].done || batch[0].err != nil {
		t.Errorf("forbidden: err %v, update %+v; want a batch error", err, batch[0])
	}
}

func TestDecodeESPEasyInfo(t *testing.T) {
	tests := []struct {
		name string
		body string
		want DeviceInfo
	}{
		{"current", `{"System":{"Build":20116,"Unit Name":"lamp","Uptime":3,"Uptime (ms)":185000},"WiFi":{"RSSI":-60}}`,
			DeviceInfo{Name: "lamp", Version: "20116", Uptime: 185 * time.Second, RSSI: -60}},
		{"old, every value quoted", `{"System":{"Build":"20100","Unit Name":"old","Uptime":"7"},"WiFi":{"RSSI":"-90"},"Sensors":[{"TaskValues":[]}]}`,
			DeviceInfo{Name: "old", Version: "20100", Uptime: 7 * time.Minute, RSSI: -90}},
		// The release name wins over the build number; a unit name that looks like a number is written as one.
		{"release and numeric name", `{"System":{"Build":20221105,"Git Build":"mega-20221105","Unit Name":12,"Uptime":1492,"Uptime (ms)":89507818},"WiFi":{"Hostname":"Main","RSSI":-43}}`,
			DeviceInfo{Name: "12", Version: "mega-20221105", Uptime: 89507818 * time.Millisecond, RSSI: -43}},
		{"build notes, not connected", `{"System":{"Build":"20116  - Mega","Git Build":""},"WiFi":{"RSSI":31}}`, DeviceInfo{Version: "20116  - Mega"}},
		{"odd types", `{"System":{"Build":null,"Unit Name":["x"],"Uptime":2.9},"WiFi":{"RSSI":-61.5}}`, DeviceInfo{Uptime: 2 * time.Minute, RSSI: -61}},
		{"empty", `{}`, DeviceInfo{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeESPEasyInfo([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("decodeESPEasyInfo (-want +got):\n%s", diff)
			}
		})
	}
	for _, body := range []string{`{"System":"old"}`, `[]`, `<html>`, ``} {
		if got, err := decodeESPEasyInfo([]byte(body)); err == nil {
			t.Errorf("%q: decoded %+v, want an error", body, got)
		}
	}
}
