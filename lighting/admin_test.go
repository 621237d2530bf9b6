package lighting

import (
	"encoding/json"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestServiceAdminZones(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		s := NewService(roomyConfig(), NewMemoryStore(), NewMemoryLimiter(), discardLog())
		studio := &fakeLink{name: "studio"}
		start := time.Now()
		if err := s.AttachBridge(ctx, studio, "studio", pixelSpecs[:2]); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		bar := &fakeLink{name: "bar"}
		if err := s.AttachBridge(ctx, bar, "bar", pixelSpecs[2:]); err != nil {
			t.Fatal(err)
		}
		settings := map[string]ZoneSettings{"desk": {Name: "Desk", Hidden: true, Effects: []string{"Fire"}}, "disco": {Order: -1}}
		if err := s.SetZoneSettings(settings); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		s.ZoneStatus(ctx, studio, "shelf", false, 0, "POST /json/state: no reply within 2s")
		s.ZoneDevice(studio, "shelf", DeviceInfo{Firmware: "0.15.3", Signal: 90, RSSI: -55, Uptime: 47})
		s.ZoneDevice(bar, "shelf", DeviceInfo{Firmware: "not the owner"}) // ignored
		s.ZoneDevice(studio, "nosuch", DeviceInfo{Firmware: "x"})         // ignored
		time.Sleep(time.Second)
		s.DetachBridge(bar)

		got := s.AdminZones()
		want := []ZoneDetail{
			{
				Zone:      Zone{ID: "disco", Name: "Disco ball", Kind: KindRelay, State: DefaultState(), Confirmed: true},
				Announced: "Disco ball",
				Settings:  ZoneSettings{Order: -1},
				Bridge:    "bar",
				LastSeen:  start.Add(time.Second),
			},
			{
				Zone:             Zone{ID: "desk", Name: "Desk", Kind: KindPixels, Online: true, Effects: []string{"Fire"}, State: DefaultState(), Confirmed: true},
				Announced:        "Desk strip",
				AnnouncedEffects: []string{"Solid", "Blink", "Rainbow", "Fire"},
				Settings:         settings["desk"],
				Bridge:           "studio",
				BridgeConnected:  true,
				LastSeen:         start,
			},
			{
				Zone:             Zone{ID: "shelf", Name: "Shelf", Kind: KindPixels, Effects: []string{"Solid", "Rainbow"}, State: DefaultState(), Confirmed: true},
				Announced:        "Shelf",
				AnnouncedEffects: []string{"Solid", "Rainbow"},
				Bridge:           "studio",
				BridgeConnected:  true,
				LastSeen:         start.Add(2 * time.Second),
				LastError:        "POST /json/state: no reply within 2s",
				Device:           DeviceInfo{Firmware: "0.15.3", Signal: 90, RSSI: -55, Uptime: 47},
				DeviceAt:         start.Add(2 * time.Second),
			},
			{
				Zone:      Zone{ID: "lamp", Name: "Lamp", Kind: KindRGB, State: DefaultState(), Confirmed: true},
				Announced: "Lamp",
				Bridge:    "bar",
				LastSeen:  start.Add(time.Second),
			},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("AdminZones() (-want +got):\n%s", diff)
		}

		// The JSON the dashboard reads: the viewer's Zone fields and the details side by side, camelCase.
		b, err := json.Marshal(got[2])
		if err != nil {
			t.Fatal(err)
		}
		for _, key := range []string{`"id":"shelf"`, `"online":false`, `"announced":"Shelf"`, `"announcedEffects":["Solid","Rainbow"]`,
			`"settings":{"order":0,"effects":null}`, `"bridge":"studio"`, `"bridgeConnected":true`, `"lastSeen":"`, `"lastError":"POST`,
			`"device":{"firmware":"0.15.3","signal":90,"rssi":-55,"uptime":47}`, `"deviceAt":"`} {
			if !strings.Contains(string(b), key) {
				t.Errorf("JSON %s lacks %s", b, key)
			}
		}
		if b, _ := json.Marshal(got[3]); strings.Contains(string(b), "deviceAt") || !strings.Contains(string(b), `"device":{}`) {
			t.Errorf("JSON of a zone without device details: %s", b)
		}
	})
}

func TestDeviceInfoBounded(t *testing.T) {
	tests := []struct {
		name string
		in   DeviceInfo
		want DeviceInfo
	}{
		{"as reported", DeviceInfo{"0.15.3", 90, -55, 47}, DeviceInfo{"0.15.3", 90, -55, 47}},
		{"zero", DeviceInfo{}, DeviceInfo{}},
		{"long firmware", DeviceInfo{Firmware: strings.Repeat("v", 40)}, DeviceInfo{Firmware: strings.Repeat("v", 32)}},
		{"cut inside a rune", DeviceInfo{Firmware: strings.Repeat("v", 31) + "é"}, DeviceInfo{Firmware: strings.Repeat("v", 31)}},
		{"control and invalid bytes", DeviceInfo{Firmware: " 16.0\n\x00\xff.0\u202e "}, DeviceInfo{Firmware: "16.0.0"}},
		{"signal range", DeviceInfo{Signal: 101}, DeviceInfo{Signal: 100}},
		{"negative signal", DeviceInfo{Signal: -3}, DeviceInfo{}},
		{"positive rssi", DeviceInfo{RSSI: 12}, DeviceInfo{}},
		{"very low rssi", DeviceInfo{RSSI: -1000}, DeviceInfo{RSSI: -127}},
		{"negative uptime", DeviceInfo{Uptime: -1}, DeviceInfo{}},
		{"huge uptime", DeviceInfo{Uptime: 1 << 62}, DeviceInfo{Uptime: maxUptime}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.in.Bounded()); diff != "" {
				t.Errorf("Bounded() (-want +got):\n%s", diff)
			}
		})
	}
}
