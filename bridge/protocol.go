// Package bridge is the venue side of stagelink: the hub↔bridge protocol, the bridge agent that dials out
// to the hub's Socket.IO namespace /bridge, and the drivers for the LED controllers it runs (WLED's JSON
// API, ESPEasy's HTTP commands), plus simulated devices that serve those same APIs for the demo and tests.
package bridge

import "github.com/stagelink/stagelink/lighting"

// Socket.IO event names of the /bridge namespace.
const (
	EventHello  = "bridge:hello" // bridge→hub, Hello
	EventApply  = "light:apply"  // hub→bridge, Apply
	EventStatus = "zone:status"  // bridge→hub, Status
)

// Hello is the bridge's announcement of itself and its zones.
type Hello struct {
	Name    string              `json:"name"`
	Version string              `json:"version"`
	Zones   []lighting.ZoneSpec `json:"zones"`
}

// Apply tells a bridge to show a zone's state. Bridges apply only versions newer than the last they applied.
type Apply struct {
	Zone    string         `json:"zone"`
	State   lighting.State `json:"state"`
	Version int64          `json:"version"`
}

// Status is a bridge's report on a zone: whether its device answers, and the newest version it applied.
// Device, when present, is what the zone's controller says about itself; a bridge sends it when it
// changed, every minute or so, and with the first status of each zone on a new hub connection. A hub that
// does not know it ignores it.
type Status struct {
	Zone    string               `json:"zone"`
	Online  bool                 `json:"online"`
	Version int64                `json:"version"`
	Error   string               `json:"error,omitempty"`
	Device  *lighting.DeviceInfo `json:"device,omitempty"`
}
