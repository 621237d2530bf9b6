package lighting

import (
	"slices"
	"strings"
	"time"
	"unicode"
)

// DeviceInfo is what the controller of a zone says about itself, as its bridge reports it in the
// `device` object of `zone:status`. Every field is optional; zero means unknown.
type DeviceInfo struct {
	Firmware string `json:"firmware,omitempty"` // firmware version: "0.15.3" (WLED), "mega-20230822" (ESPEasy)
	Signal   int    `json:"signal,omitempty"`   // Wi-Fi signal quality 0–100 %, when the device reports one
	RSSI     int    `json:"rssi,omitempty"`     // Wi-Fi signal strength in dBm (negative)
	Uptime   int64  `json:"uptime,omitempty"`   // seconds since the device booted
}

// Bounds of DeviceInfo, applied by Bounded.
const (
	maxFirmwareLen = 32
	minRSSI        = -127
	maxUptime      = int64(100 * 365 * 24 * time.Hour / time.Second)
)

// Bounded returns d fit to keep and show: the firmware cut to 32 bytes of printable UTF-8, the signal
// clamped to 0–100, the RSSI to -127–0 dBm, the uptime to 0–100 years.
func (d DeviceInfo) Bounded() DeviceInfo {
	fw := strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == unicode.ReplacementChar {
			return -1
		}
		return r
	}, strings.ToValidUTF8(d.Firmware, ""))
	fw = strings.TrimSpace(fw)
	if len(fw) > maxFirmwareLen {
		fw = strings.ToValidUTF8(fw[:maxFirmwareLen], "") // drops a rune cut in two
	}
	return DeviceInfo{
		Firmware: fw,
		Signal:   min(max(d.Signal, 0), 100),
		RSSI:     min(max(d.RSSI, minRSSI), 0),
		Uptime:   min(max(d.Uptime, 0), maxUptime),
	}
}

// ZoneDetail is a zone as the streamer's dashboard shows it: the Zone viewers see (under the streamer's
// settings, even when it is hidden from them) and what its bridge announced and reported.
type ZoneDetail struct {
	Zone
	Announced        string       `json:"announced"`        // the name its bridge announced
	AnnouncedEffects []string     `json:"announcedEffects"` // the effects its bridge announced
	Settings         ZoneSettings `json:"settings"`
	Bridge           string       `json:"bridge"`              // the bridge that announced it last, connected or not
	BridgeConnected  bool         `json:"bridgeConnected"`     // Online also needs its device to answer
	LastSeen         time.Time    `json:"lastSeen,omitzero"`   // last hello or zone:status of its bridge about it
	LastError        string       `json:"lastError,omitempty"` // the bridge's last error about it
	Device           DeviceInfo   `json:"device"`
	DeviceAt         time.Time    `json:"deviceAt,omitzero"` // when Device was reported; zero if never
}

// AdminZones returns every known zone, hidden ones too, in listing order (see ZoneSettings.Order).
func (s *Service) AdminZones() []ZoneDetail {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := s.listedLocked()
	out := make([]ZoneDetail, 0, len(list))
	for _, z := range list {
		set := s.settings[z.spec.ID]
		set.Effects = slices.Clone(set.Effects)
		out = append(out, ZoneDetail{
			Zone:             z.view(set),
			Announced:        z.spec.Name,
			AnnouncedEffects: slices.Clone(z.spec.Effects),
			Settings:         set,
			Bridge:           z.bridge,
			BridgeConnected:  z.link != nil,
			LastSeen:         z.lastSeen,
			LastError:        z.lastError,
			Device:           z.device,
			DeviceAt:         z.deviceAt,
		})
	}
	return out
}

// ZoneDevice records what a bridge reports about the device of one of its zones (made Bounded). Reports
// about zones it does not own are ignored. Viewers do not see it; AdminZones does.
func (s *Service) ZoneDevice(l Link, id string, d DeviceInfo) {
	d = d.Bounded()
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if z := s.zones[id]; z != nil && z.link == l {
		z.device, z.deviceAt, z.lastSeen = d, now, now
	}
}
