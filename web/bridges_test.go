package web

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stagelink/stagelink/bridge"
	"github.com/stagelink/stagelink/lighting"
)

// adminZone returns the dashboard's view of zone id.
func adminZone(h *hubFixture, id string) lighting.ZoneDetail {
	for _, z := range h.lights.AdminZones() {
		if z.ID == id {
			return z
		}
	}
	return lighting.ZoneDetail{}
}

// waitAdmin polls the dashboard's view of zone id until cond holds.
func waitAdmin(t *testing.T, h *hubFixture, id, what string, cond func(lighting.ZoneDetail) bool) lighting.ZoneDetail {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		z := adminZone(h, id)
		if cond(z) {
			return z
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; zone %+v", what, z)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestBridgeStatusDevice(t *testing.T) {
	h := newHub(t, lighting.DefaultConfig())
	b := fakeBridge(t, h.url, testZones)
	waitAdmin(t, h, "desk", "the zones", func(z lighting.ZoneDetail) bool { return z.BridgeConnected })

	tests := []struct {
		name       string
		status     map[string]any
		wantOnline bool
		want       lighting.DeviceInfo
	}{
		{
			name: "as the contract says",
			status: map[string]any{"zone": "desk", "online": true, "version": 0,
				"device": map[string]any{"firmware": "0.14.4", "signal": 80, "rssi": -62, "uptime": 12345}},
			wantOnline: true,
			want:       lighting.DeviceInfo{Firmware: "0.14.4", Signal: 80, RSSI: -62, Uptime: 12345},
		},
		{
			name: "bounded, unknown fields allowed",
			status: map[string]any{"zone": "desk", "online": true, "version": 0, "future": 1,
				"device": map[string]any{"firmware": strings.Repeat("9", 40), "signal": 250, "rssi": 30, "uptime": -5, "heap": 20000}},
			wantOnline: true,
			want:       lighting.DeviceInfo{Firmware: strings.Repeat("9", 32), Signal: 100},
		},
		{
			name:       "without device: the last one stays",
			status:     map[string]any{"zone": "desk", "online": false, "version": 0, "error": "timeout"},
			wantOnline: false,
			want:       lighting.DeviceInfo{Firmware: strings.Repeat("9", 32), Signal: 100},
		},
		{
			name: "malformed device: the status still counts",
			status: map[string]any{"zone": "desk", "online": true, "version": 0,
				"device": map[string]any{"firmware": 15, "signal": "strong"}},
			wantOnline: true,
			want:       lighting.DeviceInfo{Firmware: strings.Repeat("9", 32), Signal: 100},
		},
		{
			name:       "device null",
			status:     map[string]any{"zone": "desk", "online": false, "version": 0, "device": nil},
			wantOnline: false,
			want:       lighting.DeviceInfo{Firmware: strings.Repeat("9", 32), Signal: 100},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := adminZone(h, "desk").LastSeen
			time.Sleep(5 * time.Millisecond) // LastSeen moves
			b.sock.Emit(bridge.EventStatus, tt.status)
			z := waitAdmin(t, h, "desk", "the status", func(z lighting.ZoneDetail) bool { return z.LastSeen.After(before) })
			// The device details are recorded after the status: wait for them where they change.
			z = waitAdmin(t, h, "desk", "the device details", func(z lighting.ZoneDetail) bool { return cmp.Equal(tt.want, z.Device) })
			if z.Online != tt.wantOnline {
				t.Errorf("online = %v, want %v", z.Online, tt.wantOnline)
			}
		})
	}
}

func TestBlockedViewer(t *testing.T) {
	h := newHub(t, lighting.DefaultConfig())
	fakeBridge(t, h.url, testZones)
	if err := h.lights.SetBlocks([]string{"troll"}, nil); err != nil {
		t.Fatal(err)
	}
	v, err := dial(t, h.url, "/", map[string]any{"name": "Troll"})
	if err != nil {
		t.Fatal(err)
	}
	ack := v.emit("light:set", map[string]any{"zone": "desk", "on": false})
	if ack.OK || ack.Error == nil || ack.Error.Code != lighting.CodeBlocked || ack.Error.Message != "you cannot change the lights on this stream" {
		t.Errorf("ack = %+v %+v, want blocked", ack, ack.Error)
	}
}

func TestAPIBlocked(t *testing.T) {
	h := newAPIHub(t, Config{APIToken: testAPIToken}, lighting.DefaultConfig())
	if err := h.lights.SetBlocks([]string{"api"}, nil); err != nil {
		t.Fatal(err)
	}
	resp, body := do(t, "POST", h.url+"/api/v1/zones/desk/state", testAPIToken, `{"on":true}`)
	if got := decodeJSON[ackMsg](t, body); resp.StatusCode != http.StatusForbidden || got.Error == nil || got.Error.Code != lighting.CodeBlocked {
		t.Errorf("POST state by a blocked client = %d %s, want 403 blocked", resp.StatusCode, body)
	}
}
