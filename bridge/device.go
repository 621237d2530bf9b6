package bridge

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/stagelink/stagelink/lighting"
)

// DeviceInfo is what a controller says about itself (WLED /json/info, ESPEasy /json).
type DeviceInfo struct {
	Name    string
	Version string // firmware: "0.15.3" or "16.0.0" on WLED, the release ("mega-20230822") or build number on ESPEasy
	MAC     string // WLED only
	LEDs    int    // WLED only
	Signal  int    // Wi-Fi signal quality 0–100 %; WLED only (0: not reported)
	RSSI    int    // Wi-Fi signal strength in dBm; 0: not reported
	Uptime  time.Duration
}

// Details returns the part of i the bridge reports to the hub, the `device` of `zone:status`.
func (i DeviceInfo) Details() lighting.DeviceInfo {
	return lighting.DeviceInfo{Firmware: i.Version, Signal: i.Signal, RSSI: i.RSSI, Uptime: int64(i.Uptime / time.Second)}
}

// zoneUpdate is one zone's state on its way to the device; the driver fills in the outcome.
type zoneUpdate struct {
	zone    string
	state   lighting.State
	version int64

	done bool   // the device took it
	note string // done, with a caveat (an unknown effect shown as Solid)
	err  error  // the device refused it: not retried
}

// driver speaks one device's protocol. Only the device's worker goroutine calls it.
type driver interface {
	// apply sends the batch; it marks each update done or refused, and returns an error when the device
	// could not be reached or was busy (the updates neither done nor refused are retried).
	apply(ctx context.Context, batch []zoneUpdate) error
	// info reads the device's info, and its effect list when withEffects is set or it has none yet.
	info(ctx context.Context, withEffects bool) (DeviceInfo, error)
	// effects returns the usable effect names, nil when unknown or not applicable.
	effects() []string
}

type onlineState int

const (
	stateUnknown onlineState = iota
	stateOnline
	stateOffline
)

// Device is the single owner of one controller (one base URL) and the zones it shows. Set queues the
// newest state of a zone without blocking; Run sends queued states one request at a time, at most
// maxRate requests a second, backing off on failures. Superseded states are dropped, never the newest.
type Device struct {
	url    string
	zones  []string
	drv    driver
	conn   *conn
	opts   DeviceOptions
	log    *slog.Logger
	wake   chan struct{} // capacity 1
	loaded chan struct{} // closed after the first attempt to read the device's info and effects
	once   sync.Once

	mu       sync.Mutex
	pending  map[string]zoneUpdate // newest state not yet sent
	inflight map[string]int64      // version being sent
	applied  map[string]zoneUpdate // last state the device took
	rereport map[string]bool       // zones whose status the hub asked for again
	epoch    int                   // counts Forget calls; a batch sent before one applies no version
	online   onlineState
	info     DeviceInfo
	fx       []string
	sent     lighting.DeviceInfo // details last reported to the hub
	sentAt   time.Time           // when; zero before the first report
}

// URL returns the device's base URL.
func (d *Device) URL() string { return d.url }

// Zones returns the ids of the zones on this device.
func (d *Device) Zones() []string { return slices.Clone(d.zones) }

// Info returns what the device last said about itself; ok is false until it has answered once.
func (d *Device) Info() (info DeviceInfo, ok bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.info, d.online != stateUnknown
}

// Effects returns the effect names the device offers (WLED), nil until they were read or for devices
// without effects.
func (d *Device) Effects() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.fx)
}

// Loaded is closed once Run has tried to read the device's info and effects for the first time,
// whether or not the device answered.
func (d *Device) Loaded() <-chan struct{} { return d.loaded }

// Set queues st as the newest state of zone. It never blocks. A version not newer than one already
// queued, being sent or applied is not sent again; if it was applied, the zone's status is reported again.
func (d *Device) Set(zone string, st lighting.State, version int64) {
	d.mu.Lock()
	if !slices.Contains(d.zones, zone) {
		d.mu.Unlock()
		d.log.Warn("state for a zone not on this device", "zone", zone)
		return
	}
	switch p, queued := d.pending[zone]; {
	case queued && version <= p.version:
	case d.inflight[zone] != 0 && version <= d.inflight[zone]:
	case d.isApplied(zone, version):
		if !queued {
			d.rereport[zone] = true
		}
	default:
		d.pending[zone] = zoneUpdate{zone: zone, state: st, version: version}
	}
	d.mu.Unlock()
	d.poke()
}

func (d *Device) isApplied(zone string, version int64) bool {
	a, ok := d.applied[zone]
	return ok && version <= a.version
}

func (d *Device) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run drives the device until ctx ends, then returns nil. It reads the device's info at start, every
// DeviceOptions.InfoInterval and after the device was offline, and re-sends every zone's last state when the
// device rebooted (its uptime dropped) or comes back online. Info reads share the device's one request at a
// time and its rate with the light changes, below them: a read that falls due while a change waits goes
// after that change, so it delays a change by at most its own one request (WLED's first read also fetches
// the effect list: two). After a read, the device's details go to the hub with every zone's status when
// they changed, after a reboot, or DeviceOptions.DetailsInterval after they last went.
//
// A device that never answered is reported offline at its first failure, one that was online after
// DeviceOptions.OfflineAfter consecutive failures (busy answers do not count: the device is up; neither does
// a periodic info read the device answered with something unreadable: it is retried an InfoInterval
// later); it keeps retrying with exponential backoff and jitter, never sooner than a Retry-After asks.
// Call it once.
func (d *Device) Run(ctx context.Context) error {
	defer d.markLoaded()
	needInfo := true
	var nextInfo time.Time
	waited := false // a light change went first since the info read fell due
	failures, down := 0, 0
	for ctx.Err() == nil {
		var err error
		due, pending := !time.Now().Before(nextInfo), d.hasPending()
		read, rebooted := false, false
		switch {
		case needInfo || (due && (!pending || waited)):
			read, waited = true, false
			rebooted, err = d.refresh(ctx, needInfo)
			d.markLoaded()
			if err == nil || (!needInfo && answered(err)) {
				nextInfo = time.Now().Add(d.opts.InfoInterval)
			}
			if err == nil {
				needInfo = false
			} else if !needInfo && answered(err) {
				d.log.Warn("device info unreadable; trying again later", "err", err, "in", d.opts.InfoInterval)
				failures, down = 0, 0
				continue
			}
		case pending:
			err = d.flush(ctx)
			waited = due
		default:
			d.sendRereports()
			d.idle(ctx, nextInfo)
			continue
		}
		if ctx.Err() != nil {
			return nil
		}
		if err == nil {
			failures, down = 0, 0
			d.setOnline(ctx, stateOnline, "")
			if read {
				d.reportDetails(rebooted)
			}
			continue
		}
		failures++
		var busy *BusyError
		isBusy := errors.As(err, &busy)
		if !isBusy {
			down++
		}
		d.log.Debug("device request failed", "err", err, "failures", failures)
		if !isBusy && (down >= d.opts.OfflineAfter || d.state() != stateOnline) {
			if d.setOnline(ctx, stateOffline, err.Error()) {
				needInfo = true
			}
		}
		wait := backoff(failures, d.opts.MinBackoff, d.opts.MaxBackoff)
		if isBusy {
			wait = max(wait, busy.RetryAfter)
		}
		sleep(ctx, wait)
	}
	return nil
}

func (d *Device) markLoaded() { d.once.Do(func() { close(d.loaded) }) }

func (d *Device) state() onlineState {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.online
}

// refresh reads the device's info (and effects), re-queues every applied state after a reboot or
// after the device was offline, and announces a changed effect list. It reports whether the device
// rebooted since the last read.
func (d *Device) refresh(ctx context.Context, withEffects bool) (rebooted bool, err error) {
	inf, err := d.drv.info(ctx, withEffects)
	if err != nil {
		return false, err
	}
	fx := d.drv.effects()
	d.mu.Lock()
	rebooted = d.online != stateUnknown && inf.Uptime < d.info.Uptime
	if rebooted || d.online == stateOffline {
		for z, a := range d.applied {
			if _, queued := d.pending[z]; !queued {
				d.pending[z] = zoneUpdate{zone: z, state: a.state, version: a.version}
			}
		}
	}
	d.info = inf
	changed := fx != nil && !slices.Equal(fx, d.fx)
	if changed {
		d.fx = fx
	}
	d.mu.Unlock()
	if rebooted {
		d.log.Info("device rebooted: sending its zones' states again", "uptime", inf.Uptime)
	}
	if changed && d.opts.EffectsChanged != nil {
		for _, z := range d.zones {
			d.opts.EffectsChanged(z, slices.Clone(fx))
		}
	}
	return rebooted, nil
}

// reportDetails sends the device's details to the hub with every zone's status, when they changed since
// the last report (firmware, signal, RSSI: not the uptime, which always grows), when force is set, or when
// DetailsInterval passed since the last report. Only Run calls it.
func (d *Device) reportDetails(force bool) {
	d.mu.Lock()
	det := d.info.Details()
	changed := det.Firmware != d.sent.Firmware || det.Signal != d.sent.Signal || det.RSSI != d.sent.RSSI
	if !force && !changed && !d.sentAt.IsZero() && time.Since(d.sentAt) < d.opts.DetailsInterval {
		d.mu.Unlock()
		return
	}
	d.sent, d.sentAt = det, time.Now()
	reports := make([]Status, 0, len(d.zones))
	for _, z := range d.zones {
		det := det
		reports = append(reports, Status{Zone: z, Online: d.online == stateOnline, Version: d.applied[z].version, Device: &det})
	}
	d.mu.Unlock()
	for _, r := range reports {
		d.report(r)
	}
}

// Forget drops the versions the device has seen, keeping the states it shows: the next Set of each zone
// is sent whatever its version. The agent calls it for each new hub connection, whose versions may start
// again from 1 (a hub without Redis restarted). States queued for the old connection are dropped; the hub
// sends every zone's state again.
func (d *Device) Forget() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.epoch++
	clear(d.pending)
	clear(d.inflight)
	clear(d.rereport)
	for z, u := range d.applied {
		u.version = -1
		d.applied[z] = u
	}
}

func (d *Device) hasPending() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.pending) > 0
}

// flush sends every queued zone in one batch and reports the outcome per zone.
func (d *Device) flush(ctx context.Context) error {
	d.mu.Lock()
	batch := make([]zoneUpdate, 0, len(d.pending))
	for _, z := range slices.Sorted(maps.Keys(d.pending)) {
		u := d.pending[z]
		batch = append(batch, u)
		d.inflight[z] = u.version
		delete(d.pending, z)
	}
	epoch := d.epoch
	d.mu.Unlock()

	err := d.drv.apply(ctx, batch)

	var reports []Status
	answered := false
	d.mu.Lock()
	for _, u := range batch {
		if d.epoch != epoch { // sent for a connection that is gone: the state shows, its version means nothing
			if u.done {
				d.applied[u.zone] = zoneUpdate{zone: u.zone, state: u.state, version: -1}
			}
			continue
		}
		delete(d.inflight, u.zone)
		switch {
		case u.done:
			answered = true
			d.applied[u.zone] = zoneUpdate{zone: u.zone, state: u.state, version: u.version}
			reports = append(reports, Status{Zone: u.zone, Online: true, Version: u.version, Error: u.note})
		case u.err != nil:
			answered = true
			reports = append(reports, Status{Zone: u.zone, Online: true, Version: d.applied[u.zone].version, Error: u.err.Error()})
			d.log.Warn("device refused a state", "zone", u.zone, "version", u.version, "err", u.err)
		default:
			if p, queued := d.pending[u.zone]; !queued || p.version < u.version {
				d.pending[u.zone] = zoneUpdate{zone: u.zone, state: u.state, version: u.version}
			}
		}
	}
	d.mu.Unlock()
	if answered {
		d.setOnline(ctx, stateOnline, "")
	}
	for _, s := range reports {
		d.report(s)
	}
	return err
}

// setOnline records the device's reachability and, when it changed, reports every zone. It returns
// whether it changed.
func (d *Device) setOnline(ctx context.Context, s onlineState, reason string) bool {
	d.mu.Lock()
	if d.online == s {
		d.mu.Unlock()
		return false
	}
	d.online = s
	reports := make([]Status, 0, len(d.zones))
	for _, z := range d.zones {
		reports = append(reports, Status{Zone: z, Online: s == stateOnline, Version: d.applied[z].version, Error: reason})
	}
	d.mu.Unlock()
	if s == stateOnline {
		d.log.InfoContext(ctx, "device online")
	} else {
		d.log.WarnContext(ctx, "device offline", "err", reason)
	}
	for _, r := range reports {
		d.report(r)
	}
	return true
}

// sendRereports answers Sets of versions the device already applied.
func (d *Device) sendRereports() {
	d.mu.Lock()
	if len(d.rereport) == 0 || d.online == stateUnknown {
		d.mu.Unlock()
		return
	}
	reports := make([]Status, 0, len(d.rereport))
	for _, z := range slices.Sorted(maps.Keys(d.rereport)) {
		reports = append(reports, Status{Zone: z, Online: d.online == stateOnline, Version: d.applied[z].version})
	}
	clear(d.rereport)
	d.mu.Unlock()
	for _, r := range reports {
		d.report(r)
	}
}

func (d *Device) report(s Status) {
	if d.opts.Report != nil {
		d.opts.Report(s)
	}
}

// idle waits for a Set, the next info read or the end of ctx.
func (d *Device) idle(ctx context.Context, nextInfo time.Time) {
	t := time.NewTimer(time.Until(nextInfo))
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-d.wake:
	case <-t.C:
	}
}

// backoff returns the wait after the nth consecutive failure: exponential from lo, capped at hi, with
// jitter over its upper half so that devices that failed together do not retry together.
func backoff(n int, lo, hi time.Duration) time.Duration {
	d := lo
	for i := 1; i < n && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
