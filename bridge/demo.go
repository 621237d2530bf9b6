package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/stagelink/stagelink/lighting"
)

// Demo is the embedded demo's venue: a simulated WLED (two segments) and a simulated ESPEasy (an RGB lamp
// on three PWM pins and a relay), each serving its real HTTP API on loopback, driven by a real bridge agent
// that connects to the hub like any other.
type Demo struct {
	hub, token string
	log        *slog.Logger
	wled       *SimWLED
	esp        *SimESPEasy
	changed    chan struct{}
}

// The demo's zones and pins.
const (
	demoStripLEDs = 60
	demoShelfLEDs = 30
	demoRed       = 12
	demoGreen     = 13
	demoBlue      = 14
	demoRelay     = 5
)

// NewDemo returns the demo venue for the hub at hubURL, whose bridge presents token. Run starts it.
func NewDemo(hubURL, token string, log *slog.Logger) *Demo {
	d := &Demo{hub: hubURL, token: token, log: log, changed: make(chan struct{}, 1)}
	d.wled = NewSimWLED(SimWLEDConfig{Name: "Demo WLED", LEDs: demoStripLEDs + demoShelfLEDs,
		Segments: []int{demoStripLEDs, demoShelfLEDs}, OnChange: d.notify})
	d.esp = NewSimESPEasy(SimESPEasyConfig{Name: "Demo ESPEasy", OnChange: d.notify})
	return d
}

func (d *Demo) notify() {
	select {
	case d.changed <- struct{}{}:
	default:
	}
}

// Changed signals that what a device shows changed.
func (d *Demo) Changed() <-chan struct{} { return d.changed }

// Run serves the simulated devices on loopback and runs the bridge agent until ctx ends.
func (d *Demo) Run(ctx context.Context) error {
	var urls [2]string
	var servers []*http.Server
	for i, h := range []http.Handler{d.wled, d.esp} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("demo device: %w", err)
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
		servers = append(servers, srv)
		urls[i] = "http://" + ln.Addr().String()
		go srv.Serve(ln)
	}
	defer func() {
		for _, s := range servers {
			s.Close()
		}
	}()
	relay := demoRelay
	cfg := Config{Hub: d.hub, Token: d.token, Name: "demo", Zones: []ZoneConfig{
		{ID: "strip", Name: "LED strip", WLED: &WLEDConfig{URL: urls[0], Segment: 0}},
		{ID: "shelf", Name: "Shelf", WLED: &WLEDConfig{URL: urls[0], Segment: 1}},
		{ID: "lamp", Name: "Desk lamp", ESPEasy: &ESPEasyConfig{URL: urls[1], PWM: []int{demoRed, demoGreen, demoBlue}, Fade: 150}},
		{ID: "disco", Name: "Disco ball", ESPEasy: &ESPEasyConfig{URL: urls[1], Relay: &relay}},
	}}
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("demo config: %w", err)
	}
	agent, err := NewAgent(cfg, DeviceOptions{Log: d.log})
	if err != nil {
		return err
	}
	agent.MinBackoff, agent.MaxBackoff = 100*time.Millisecond, 2*time.Second
	if err := agent.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// DemoDevices is the `demo:devices` event: what the simulated devices show, for the page to draw.
type DemoDevices struct {
	Devices []DemoDevice `json:"devices"`
}

// DemoDevice is one simulated controller.
type DemoDevice struct {
	ID     string      `json:"id"`
	Kind   string      `json:"kind"` // "wled" or "espeasy"
	Name   string      `json:"name"`
	Pixels []string    `json:"pixels,omitempty"` // WLED: the colour of each LED, "#rrggbb"
	Lamps  []DemoLamp  `json:"lamps,omitempty"`  // ESPEasy: RGB lamps on PWM pins
	Relays []DemoRelay `json:"relays,omitempty"` // ESPEasy: relays
}

// DemoLamp is an RGB lamp on three PWM pins.
type DemoLamp struct {
	Zone  string `json:"zone"`
	Color string `json:"color"`
	On    bool   `json:"on"`
}

// DemoRelay is a relay on a GPIO.
type DemoRelay struct {
	Zone string `json:"zone"`
	On   bool   `json:"on"`
}

// Snapshot returns what the devices show now.
func (d *Demo) Snapshot() any {
	w := d.wled.Snapshot()
	pixels := make([]string, 0, demoStripLEDs+demoShelfLEDs)
	for _, s := range w.Segments {
		c := s.Colors[0]
		level := 0
		if w.On && s.On {
			level = s.Bri * w.Bri / 255
		}
		shown := lighting.Color{R: scale(c.R, level), G: scale(c.G, level), B: scale(c.B, level)}.String()
		for range s.Stop - s.Start {
			pixels = append(pixels, shown)
		}
	}
	pins := map[int]int{}
	for _, p := range d.esp.Snapshot().Pins {
		pins[p.Pin] = p.State
	}
	duty := func(pin int) uint8 { return uint8(min(max(pins[pin], 0), 1023) * 255 / 1023) }
	lamp := lighting.Color{R: duty(demoRed), G: duty(demoGreen), B: duty(demoBlue)}
	return DemoDevices{Devices: []DemoDevice{
		{ID: "wled", Kind: "wled", Name: w.Name, Pixels: pixels},
		{ID: "espeasy", Kind: "espeasy", Name: "Demo ESPEasy",
			Lamps:  []DemoLamp{{Zone: "lamp", Color: lamp.String(), On: lamp != lighting.Color{}}},
			Relays: []DemoRelay{{Zone: "disco", On: pins[demoRelay] == 1}}},
	}}
}

func scale(v uint8, level int) uint8 { return uint8(int(v) * level / 255) }
