package bridge

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/stagelink/stagelink/lighting"
)

// DeviceOptions tunes the device workers built by NewDevices. A zero field takes its default.
type DeviceOptions struct {
	Client *http.Client // nil: a plain client; every request gets its own Timeout anyway
	Log    *slog.Logger // nil: discard

	// Report receives each zone's status: after every applied (or refused) version, when its device
	// goes online or offline, again when the hub re-sends a version already applied, and with the device's
	// details (Status.Device) after info reads (see Device.Run). It is called from the devices' goroutines,
	// several at once: it must be safe for concurrent use and not block long.
	Report func(Status)

	// EffectsChanged, when set, is called (from a device's goroutine) when a pixel zone's effect list was
	// read for the first time or changed, e.g. after a firmware update, so the agent can announce it again.
	EffectsChanged func(zone string, effects []string)

	Timeout         time.Duration // one request; default 2 s
	InfoInterval    time.Duration // between info reads; default 30 s (WLED stutters when polled often: keep it long)
	DetailsInterval time.Duration // between reports of unchanged device details to the hub; default 60 s
	OfflineAfter    int           // consecutive failures before a device that was online is reported offline; default 3
	MinBackoff      time.Duration // first wait after a failure; default 500 ms
	MaxBackoff      time.Duration // longest wait between retries; default 30 s
}

func (o DeviceOptions) withDefaults() DeviceOptions {
	if o.Client == nil {
		o.Client = &http.Client{}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Second
	}
	if o.InfoInterval <= 0 {
		o.InfoInterval = 30 * time.Second
	}
	if o.DetailsInterval <= 0 {
		o.DetailsInterval = time.Minute
	}
	if o.OfflineAfter <= 0 {
		o.OfflineAfter = 3
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 500 * time.Millisecond
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(30*time.Second, o.MinBackoff)
	}
	return o
}

// FallbackEffects returns the effect names announced for a WLED zone whose device did not answer in
// time: names that every WLED since 0.10 has, so they resolve on any firmware once the device is up.
func FallbackEffects() []string {
	return []string{"Solid", "Blink", "Breathe", "Wipe", "Colorloop", "Rainbow", "Scan", "Fade",
		"Theater", "Running", "Twinkle", "Sparkle", "Strobe", "Chase", "Fireworks", "Fire Flicker"}
}

// Devices is every device of a bridge config, one worker per controller base URL.
type Devices struct {
	zones  []ZoneConfig
	log    *slog.Logger
	list   []*Device
	byZone map[string]*Device
}

// NewDevices builds one Device per base URL in cfg (which should have passed Validate); zones with the
// same URL share it, and its rate is the lowest maxRate among them. It starts nothing: call Run.
func NewDevices(cfg Config, opts DeviceOptions) (*Devices, error) {
	opts = opts.withDefaults()
	ds := &Devices{zones: cfg.Zones, log: opts.Log.With("component", "bridge"), byZone: map[string]*Device{}}
	byURL := map[string]*Device{}
	for _, z := range cfg.Zones {
		if _, dup := ds.byZone[z.ID]; dup {
			return nil, fmt.Errorf("zone %q: id is used twice", z.ID)
		}
		key := strings.TrimRight(z.DeviceURL(), "/")
		d := byURL[key]
		if d == nil {
			d = newDevice(key, z, opts)
			byURL[key] = d
			ds.list = append(ds.list, d)
		}
		if err := d.add(z); err != nil {
			return nil, fmt.Errorf("zone %q: %w", z.ID, err)
		}
		ds.byZone[z.ID] = d
	}
	return ds, nil
}

func newDevice(url string, z ZoneConfig, opts DeviceOptions) *Device {
	d := &Device{
		url:      url,
		conn:     &conn{base: url, client: opts.Client, timeout: opts.Timeout},
		opts:     opts,
		log:      opts.Log.With("component", "bridge", "device", url),
		wake:     make(chan struct{}, 1),
		loaded:   make(chan struct{}),
		pending:  map[string]zoneUpdate{},
		inflight: map[string]int64{},
		applied:  map[string]zoneUpdate{},
		rereport: map[string]bool{},
	}
	if z.WLED != nil {
		d.drv = &wledDriver{conn: d.conn, segments: map[string]int{}}
	} else {
		d.conn.close = true // ESPEasy: keep-alive is unreliable (ESPEasy#5606)
		d.drv = &espeasyDriver{conn: d.conn, zones: map[string]espeasyZone{}}
	}
	return d
}

// add puts zone z on the device and lowers its rate to z's maxRate if that is lower.
func (d *Device) add(z ZoneConfig) error {
	var rate float64
	switch drv := d.drv.(type) {
	case *wledDriver:
		if z.WLED == nil {
			return fmt.Errorf("%s is a WLED device for another zone; a URL is one kind of device", d.url)
		}
		for other, seg := range drv.segments {
			if seg == z.WLED.Segment {
				return fmt.Errorf("segment %d of %s is already zone %q", seg, d.url, other)
			}
		}
		drv.segments[z.ID] = z.WLED.Segment
		rate = z.WLED.MaxRate
	case *espeasyDriver:
		e := z.ESPEasy
		if e == nil {
			return fmt.Errorf("%s is an ESPEasy device for another zone; a URL is one kind of device", d.url)
		}
		ez := espeasyZone{pwm: e.PWM, fade: e.Fade}
		if e.Relay != nil {
			ez.relay = *e.Relay
		} else if len(e.PWM) != 3 {
			return fmt.Errorf("espeasy.pwm must list three GPIOs, not %d", len(e.PWM))
		}
		drv.zones[z.ID] = ez
		rate = e.MaxRate
	}
	if rate <= 0 {
		rate = DefaultWLEDMaxRate
	}
	if iv := time.Duration(float64(time.Second) / rate); iv > d.conn.interval {
		d.conn.interval = iv
	}
	d.zones = append(d.zones, z.ID)
	return nil
}

// All returns the devices in the order of their first zone in the config.
func (ds *Devices) All() []*Device { return ds.list }

// Set hands a zone's state to its device (see Device.Set): call it for every light:apply. It never
// blocks; a zone not in the config is logged and ignored.
func (ds *Devices) Set(zone string, st lighting.State, version int64) {
	d := ds.byZone[zone]
	if d == nil {
		ds.log.Warn("light:apply for a zone not in the config", "zone", zone)
		return
	}
	d.Set(zone, st, version)
}

// Forget makes every device forget the versions it has seen (see Device.Forget).
func (ds *Devices) Forget() {
	for _, d := range ds.list {
		d.Forget()
	}
}

// Run runs every device until ctx ends and they have all stopped; it returns nil.
func (ds *Devices) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, d := range ds.list {
		wg.Go(func() { _ = d.Run(ctx) })
	}
	wg.Wait()
	return nil
}

// Specs returns the zones to announce in bridge:hello, in config order. For pixel zones it waits until
// each WLED's effect list was read or its first attempt failed (bounded by the request timeout) or ctx
// ends; a zone whose list is not known yet announces FallbackEffects, and DeviceOptions.EffectsChanged fires
// once the real list arrives. Run must be running, or Specs waits for ctx.
func (ds *Devices) Specs(ctx context.Context) []lighting.ZoneSpec {
	specs := make([]lighting.ZoneSpec, 0, len(ds.zones))
	for _, z := range ds.zones {
		s := lighting.ZoneSpec{ID: z.ID, Name: z.Name, Kind: z.Kind(), Effects: []string{}}
		if s.Kind == lighting.KindPixels {
			d := ds.byZone[z.ID]
			select {
			case <-d.Loaded():
			case <-ctx.Done():
			}
			s.Effects = d.Effects()
			if s.Effects == nil {
				s.Effects = FallbackEffects()
			}
		}
		specs = append(specs, s)
	}
	return specs
}
