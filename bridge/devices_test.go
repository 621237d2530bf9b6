package bridge

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stagelink/stagelink/lighting"
)

// TestDevicesOverTCP runs the devices against simulators behind real HTTP servers on 127.0.0.1:0.
func TestDevicesOverTCP(t *testing.T) {
	wled := NewSimWLED(SimWLEDConfig{Segments: []int{10, 10}})
	esp := NewSimESPEasy(SimESPEasyConfig{})
	ws, es := httptest.NewServer(wled), httptest.NewServer(esp)
	defer ws.Close()
	defer es.Close()
	cfg := Config{Zones: []ZoneConfig{
		wledZone("desk", ws.URL, 1, 20),
		{ID: "lamp", ESPEasy: &ESPEasyConfig{URL: es.URL, PWM: []int{12, 13, 14}, MaxRate: 20}},
	}}
	statuses := &statusLog{}
	ds, err := NewDevices(cfg, DeviceOptions{Report: statuses.add})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		_ = ds.Run(ctx)
		close(done)
	}()
	defer func() {
		cancel()
		<-done
	}()
	specCtx, specCancel := context.WithTimeout(ctx, 5*time.Second)
	specs := ds.Specs(specCtx)
	specCancel()
	if len(specs) != 2 || len(specs[0].Effects) != len(SimWLEDEffects())-1 {
		t.Errorf("specs %+v", specs)
	}
	blue := lighting.Color{B: 255}
	ds.Set("desk", testState(true, blue, 255, "Breathe"), 1)
	ds.Set("lamp", testState(true, blue, 255, ""), 1)
	deadline := time.Now().Add(5 * time.Second)
	for {
		d, _ := statuses.last("desk")
		l, _ := statuses.last("lamp")
		if d.Version == 1 && l.Version == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no status for version 1: %+v", statuses.all())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if seg := wled.Snapshot().Segments[1]; seg.Colors[0] != blue || seg.Effect != "Breathe" {
		t.Errorf("segment 1 shows %+v", seg)
	}
	if pins := esp.Snapshot().Pins; len(pins) != 3 || pins[2].State != 1023 {
		t.Errorf("pins %+v", pins)
	}
	for _, r := range esp.Requests() {
		if !r.Close {
			t.Errorf("%s without Connection: close", r.Path)
		}
	}
}

func TestSimTransportUnknownHost(t *testing.T) {
	c := &http.Client{Transport: SimTransport{"wled": NewSimWLED(SimWLEDConfig{Delay: -1})}}
	if _, err := c.Get("http://other/json/info"); err == nil || !strings.Contains(err.Error(), "no simulated device") {
		t.Errorf("got %v, want an unreachable device", err)
	}
	res, err := c.Get("http://wled/json/eff")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/json" {
		t.Errorf("got %s %v", res.Status, res.Header)
	}
}
