package lighting

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config tunes the Service.
type Config struct {
	ViewerRate Rate          // per viewer connection
	IPRate     Rate          // per client IP, over all its connections
	ZoneRate   Rate          // per zone, to protect devices
	Interval   time.Duration // coalescing window of `lights` broadcasts
	Resend     time.Duration // quiet time after which changed zones are broadcast once more
	Heartbeat  time.Duration // how often a hub in a cluster tells the others what it owns (see Join)
	Paused     bool          // start paused
}

// DefaultConfig returns the contract's defaults.
func DefaultConfig() Config {
	return Config{
		ViewerRate: Rate{PerSecond: 5, Burst: 10},
		IPRate:     Rate{PerSecond: 5, Burst: 10},
		ZoneRate:   Rate{PerSecond: 10, Burst: 10},
		Interval:   50 * time.Millisecond,
		Resend:     time.Second,
		Heartbeat:  2 * time.Second,
	}
}

// Validate says what to fix in c.
func (c Config) Validate() error {
	var errs []error
	for _, r := range []struct {
		name string
		rate Rate
	}{{"viewer", c.ViewerRate}, {"ip", c.IPRate}, {"zone", c.ZoneRate}} {
		if err := r.rate.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("-%s-rate and -%s-burst: %w", r.name, r.name, err))
		}
	}
	if c.Interval <= 0 || c.Resend <= 0 || c.Heartbeat <= 0 {
		errs = append(errs, errors.New("lighting: broadcast interval, resend time and heartbeat must be above 0"))
	}
	return errors.Join(errs...)
}

// Viewer is who sends a command: one Socket.IO connection, or an API client.
type Viewer struct {
	Conn string // connection id: the per-viewer rate limit key; "" skips that limit
	IP   string // client address: the per-IP rate limit key; "" skips that limit
	Name string // display name shown as `by`
}

// Link is a connected bridge as the Service sees it.
type Link interface {
	// Apply sends a zone's state to the bridge. It must not block.
	Apply(zone string, st State, version int64)
}

// Broadcaster delivers state to every viewer. Its methods must not block for long.
type Broadcaster interface {
	Lights(updates []Update)
	Zones(zones []Zone)
}

// Service keeps the zones of all connected bridges and their state, turns viewers' commands into new
// versions, sends them to the owning bridge and broadcasts what changed, coalesced.
type Service struct {
	cfg     Config
	store   Store
	limiter Limiter
	log     *slog.Logger
	paused  atomic.Bool
	obs     atomic.Pointer[observerRef] // nil: no Observer
	wake    chan struct{}

	mu       sync.Mutex
	zones    map[string]*zone
	order    []string                // zone ids in the order bridges announced them
	changed  map[string]struct{}     // zones whose state goes out in the next `lights`
	resend   map[string]struct{}     // zones broadcast since the last quiet period
	zonesUp  bool                    // the zone list changed since the last `zones`
	settings map[string]ZoneSettings // the streamer's view of zones, by id; never modified, only replaced
	blocks   blockList
	pausedAt int64 // when paused last changed, Unix ms; 0: never (a hub's start flag loses to the cluster)

	// In a cluster (see Join); bus is nil for a single hub.
	bus        Bus
	hubID      string
	outbox     chan clusterMsg
	announce   chan struct{}
	hubsSeen   map[string]time.Time // other hubs, when last heard from; under mu
	hubViewers map[string]int64     // other hubs' viewers, from their heartbeats; under mu
	viewers    atomic.Int64         // this hub's viewers (SetViewers)
	// heardSelf is when this hub first heard its own message on the Bus (Unix ns; 0: not yet), proof
	// that its subscription delivers.
	heardSelf atomic.Int64
}

type zone struct {
	spec         ZoneSpec
	link         Link      // the bridge that owns it (a *remoteLink when on another hub); nil while none does
	bridge       string    // name of the bridge that announced it last; kept after it disconnects
	attached     time.Time // when that bridge announced it
	deviceOnline bool
	lastError    string
	lastSeen     time.Time // last hello or status of its bridge about it
	device       DeviceInfo
	deviceAt     time.Time // when device was reported
	entry        Entry
	sentAt       time.Time // when the newest version was last sent to the bridge
	accepted     int64     // newest version this process accepted (Set, Apply)
	acceptedAt   time.Time // when it did
}

func (z *zone) online() bool { return z.link != nil && z.deviceOnline }

// NewService returns a Service; call Run to broadcast.
func NewService(cfg Config, store Store, limiter Limiter, log *slog.Logger) *Service {
	s := &Service{
		cfg:     cfg,
		store:   store,
		limiter: limiter,
		log:     log,
		wake:    make(chan struct{}, 1),
		zones:   map[string]*zone{},
		changed: map[string]struct{}{},
		resend:  map[string]struct{}{},
	}
	s.paused.Store(cfg.Paused)
	return s
}

// SetPaused pauses or resumes viewers' commands, on every hub of a cluster.
func (s *Service) SetPaused(p bool) {
	s.mu.Lock()
	s.pausedAt = max(time.Now().UnixMilli(), s.pausedAt+1)
	mark := pauseMark{Paused: p, At: s.pausedAt}
	s.setPausedLocked(p)
	s.mu.Unlock()
	s.publish(clusterMsg{Kind: msgPause, Paused: &mark})
}

func (s *Service) setPausedLocked(p bool) {
	if s.paused.Swap(p) != p {
		s.log.Info("viewer commands", "paused", p)
	}
}

// Paused reports whether viewers' commands are refused.
func (s *Service) Paused() bool { return s.paused.Load() }

// Limits returns the per-viewer rate viewers are told about.
func (s *Service) Limits() Rate { return s.cfg.ViewerRate }

// Set validates and rate-limits a viewer's command, stores the new state and sends it to the zone's bridge.
// Refusals are *Error values whose message is safe to show the viewer; nothing changes on a refusal.
// A blocked viewer is refused with CodeBlocked; a zone the streamer hid is unknown (CodeUnknownZone), one
// it disabled is refused with CodePaused, and an effect it did not allow with CodeBadRequest. Every
// outcome is reported to the Observer.
func (s *Service) Set(ctx context.Context, v Viewer, c Command) (Entry, error) {
	e, err := s.set(ctx, v, c)
	if o := s.observer(); o != nil {
		o.Command(v, c, e, err)
	}
	return e, err
}

func (s *Service) set(ctx context.Context, v Viewer, c Command) (Entry, error) {
	s.mu.Lock()
	blocked := s.blocks.has(v)
	z, ok := s.zones[c.Zone]
	var (
		spec   ZoneSpec
		set    ZoneSettings
		online bool
	)
	if ok {
		spec, set, online = z.spec, s.settings[c.Zone], z.online()
	}
	s.mu.Unlock()
	switch {
	case blocked:
		return Entry{}, &Error{Code: CodeBlocked, Message: blockedViewerMsg}
	case s.paused.Load():
		return Entry{}, &Error{Code: CodePaused, Message: "the streamer has paused the lights"}
	case !ok || set.Hidden:
		return Entry{}, &Error{Code: CodeUnknownZone, Message: fmt.Sprintf("there is no zone %q", c.Zone)}
	case set.Disabled:
		return Entry{}, &Error{Code: CodePaused, Message: "the streamer has paused this zone"}
	case !online:
		return Entry{}, &Error{Code: CodeZoneOffline, Message: fmt.Sprintf("zone %q is offline", c.Zone)}
	}
	if err := c.Check(spec.Kind, spec.Effects); err != nil {
		return Entry{}, err
	}
	if set.Effects != nil && c.Effect != nil && *c.Effect != "" && !slices.Contains(set.Effects, *c.Effect) {
		return Entry{}, badRequest(fmt.Sprintf("this zone has no effect %s", quoteShort(*c.Effect)))
	}
	if err := s.allow(ctx, v, c.Zone); err != nil {
		return Entry{}, err
	}
	return s.commit(ctx, v, c)
}

// commit stores the state c makes of its zone's, as v's change, and sends it to the zone's bridge.
func (s *Service) commit(ctx context.Context, v Viewer, c Command) (Entry, error) {
	now := time.Now().UnixMilli()
	e, err := s.store.Update(ctx, c.Zone, func(st State) (State, error) {
		st = c.Apply(st)
		st.UpdatedAt, st.By = now, v.Name
		return st, nil
	})
	if err != nil {
		s.log.Error("store update", "zone", c.Zone, "err", err)
		return Entry{}, &Error{Code: CodeInternal, Message: "the light state could not be saved; try again"}
	}
	accepted := time.Now()
	s.mu.Lock()
	if z := s.zones[c.Zone]; z != nil {
		if e.Version > z.accepted {
			z.accepted, z.acceptedAt = e.Version, accepted
		}
		if e.Version > z.entry.Version {
			z.entry = e
			s.markLocked(c.Zone)
			s.sendLocked(z)
		}
	}
	s.mu.Unlock()
	s.publish(clusterMsg{Kind: msgEntry, Zone: c.Zone, Entry: toWire(e)})
	return e, nil
}

func (s *Service) allow(ctx context.Context, v Viewer, zoneID string) error {
	checks := []struct {
		key  string
		rate Rate
		what string
	}{
		{"viewer:" + v.Conn, s.cfg.ViewerRate, "you are changing lights too fast"},
		{"ip:" + v.IP, s.cfg.IPRate, "too many changes from your network"},
		{"zone:" + zoneID, s.cfg.ZoneRate, "this zone is busy"},
	}
	for i, c := range checks {
		if (i == 0 && v.Conn == "") || (i == 1 && v.IP == "") {
			continue
		}
		ok, wait, err := s.limiter.Allow(ctx, c.key, c.rate)
		if err != nil {
			s.log.Error("rate limiter", "err", err)
			return &Error{Code: CodeInternal, Message: "the rate limiter is unavailable; try again"}
		}
		if !ok {
			return &Error{Code: CodeRateLimited, Message: c.what, RetryAfter: wait}
		}
	}
	return nil
}

// Zones returns the zones viewers see, online or not: every known zone the streamer did not hide, under
// the name the streamer gave it, offering the announced effects it allowed, in listing order (see
// ZoneSettings.Order).
func (s *Service) Zones() []Zone {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.zonesLocked()
}

// zonesLocked returns Zones(); s.mu must be held.
func (s *Service) zonesLocked() []Zone {
	list := s.listedLocked()
	out := make([]Zone, 0, len(list))
	for _, z := range list {
		if set := s.settings[z.spec.ID]; !set.Hidden {
			out = append(out, z.view(set))
		}
	}
	return out
}

// listedLocked returns every known zone, hidden ones too, by their settings' Order and then in
// announcement order; s.mu must be held.
func (s *Service) listedLocked() []*zone {
	list := make([]*zone, 0, len(s.order))
	for _, id := range s.order {
		list = append(list, s.zones[id])
	}
	if len(s.settings) > 0 {
		slices.SortStableFunc(list, func(a, b *zone) int {
			return cmp.Compare(s.settings[a.spec.ID].Order, s.settings[b.spec.ID].Order)
		})
	}
	return list
}

// view returns the zone as viewers see it under set.
func (z *zone) view(set ZoneSettings) Zone {
	name, effects := z.spec.Name, z.spec.Effects
	if set.Name != "" {
		name = set.Name
	}
	if set.Effects != nil {
		effects = make([]string, 0, len(set.Effects))
		for _, fx := range z.spec.Effects {
			if slices.Contains(set.Effects, fx) {
				effects = append(effects, fx)
			}
		}
	}
	return Zone{
		ID: z.spec.ID, Name: name, Kind: z.spec.Kind, Online: z.online(),
		Effects: effects, State: z.entry.State, Version: z.entry.Version, Confirmed: z.entry.Confirmed(),
	}
}

const (
	maxZonesPerBridge = 256
	maxEffects        = 512
	maxNameLen        = 64
)

// CheckSpecs validates zones as a bridge announces them.
func CheckSpecs(specs []ZoneSpec) error {
	if len(specs) == 0 {
		return badRequest("a bridge must announce at least one zone")
	}
	if len(specs) > maxZonesPerBridge {
		return badRequest(fmt.Sprintf("a bridge may announce at most %d zones", maxZonesPerBridge))
	}
	seen := map[string]bool{}
	for _, z := range specs {
		switch {
		case !ValidZoneID(z.ID):
			return badRequest(fmt.Sprintf("zone id %q must be 1–40 of a-z, 0-9 and -", z.ID))
		case seen[z.ID]:
			return badRequest(fmt.Sprintf("zone %q is announced twice", z.ID))
		case !z.Kind.Valid():
			return badRequest(fmt.Sprintf("zone %q: kind %q is not pixels, rgb or relay", z.ID, z.Kind))
		case z.Name == "" || len(z.Name) > maxNameLen:
			return badRequest(fmt.Sprintf("zone %q: name must be 1–%d bytes", z.ID, maxNameLen))
		case len(z.Effects) > maxEffects:
			return badRequest(fmt.Sprintf("zone %q: at most %d effects", z.ID, maxEffects))
		case z.Kind != KindPixels && len(z.Effects) > 0:
			return badRequest(fmt.Sprintf("zone %q: only pixel zones have effects", z.ID))
		}
		for _, e := range z.Effects {
			if e == "" || len(e) > maxNameLen {
				return badRequest(fmt.Sprintf("zone %q: effect names must be 1–%d bytes", z.ID, maxNameLen))
			}
		}
		seen[z.ID] = true
	}
	return nil
}

// AttachBridge registers the zones a bridge announces and sends it the current state of each.
// A zone already owned by another connected bridge is refused.
func (s *Service) AttachBridge(ctx context.Context, l Link, name string, specs []ZoneSpec) error {
	if err := CheckSpecs(specs); err != nil {
		return err
	}
	ids := make([]string, len(specs))
	for i, z := range specs {
		ids[i] = z.ID
	}
	entries, err := s.store.GetMany(ctx, ids)
	if err != nil {
		s.log.Error("store read", "bridge", name, "err", err)
		return &Error{Code: CodeInternal, Message: "the hub cannot read the light state; retry later"}
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, spec := range specs {
		// The same bridge may come back through another hub before the cluster hears it left this one.
		z := s.zones[spec.ID]
		if z != nil && z.link != nil && z.link != l && (local(z.link) || z.bridge != name) {
			return &Error{Code: CodeBadRequest, Message: fmt.Sprintf("zone %q belongs to another connected bridge", spec.ID)}
		}
	}
	for _, spec := range specs {
		z := s.zones[spec.ID]
		if z == nil {
			z = &zone{}
			s.zones[spec.ID] = z
			s.order = append(s.order, spec.ID)
		}
		z.spec, z.link, z.bridge, z.attached, z.deviceOnline, z.lastError, z.lastSeen = spec, l, name, now, true, "", now
		if e := entries[spec.ID]; e.Version >= z.entry.Version {
			z.entry = e
		}
		s.sendLocked(z)
	}
	s.zonesUp = true
	s.kick()
	s.announceSoon()
	s.log.Info("bridge attached", "bridge", name, "zones", len(specs))
	return nil
}

// DetachBridge marks the zones of a bridge that went away offline.
func (s *Service) DetachBridge(l Link) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, z := range s.zones {
		if z.link == l {
			z.link = nil
			s.zonesUp = true
		}
	}
	s.kick()
	s.announceSoon()
}

// ZoneStatus records a bridge's report on one of its zones. Reports about zones it does not own are ignored.
// When it confirms a version for the first time, the Observer hears of it.
func (s *Service) ZoneStatus(ctx context.Context, l Link, id string, online bool, version int64, errText string) {
	s.mu.Lock()
	z := s.zones[id]
	if z == nil || z.link != l {
		s.mu.Unlock()
		return
	}
	z.lastSeen = time.Now()
	if z.deviceOnline != online {
		z.deviceOnline = online
		s.zonesUp = true
		s.kick()
		s.announceSoon()
	}
	z.lastError = errText
	confirm := version > z.entry.Applied && version <= z.entry.Version
	s.mu.Unlock()
	if !confirm {
		return
	}
	e, err := s.store.Confirm(ctx, id, version)
	if err != nil {
		s.log.Error("store confirm", "zone", id, "err", err)
		return
	}
	var (
		report  bool
		latency time.Duration
	)
	s.mu.Lock()
	if z := s.zones[id]; z != nil {
		report = z.entry.Applied < version && e.Applied >= version
		if report && version == z.accepted {
			latency = time.Since(z.acceptedAt)
		}
		if e.Version > z.entry.Version || e.Applied > z.entry.Applied {
			z.entry = e
			s.markLocked(id)
		}
	}
	s.mu.Unlock()
	s.publish(clusterMsg{Kind: msgEntry, Zone: id, Entry: toWire(e)})
	if o := s.observer(); report && o != nil {
		o.Confirmed(id, version, latency)
	}
}

// sendLocked sends a zone's current state to its bridge, if it has one.
func (s *Service) sendLocked(z *zone) {
	if z.link != nil {
		z.link.Apply(z.spec.ID, z.entry.State, z.entry.Version)
		z.sentAt = time.Now()
	}
}

// resendUnconfirmed sends again the state of every online zone whose bridge has not confirmed it within
// Resend: an event lost between hub and bridge must not leave a light behind.
func (s *Service) resendUnconfirmed() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, z := range s.zones {
		if z.online() && z.entry.Applied < z.entry.Version && time.Since(z.sentAt) >= s.cfg.Resend {
			s.sendLocked(z)
		}
	}
}

func (s *Service) markLocked(id string) {
	s.changed[id] = struct{}{}
	s.kick()
}

func (s *Service) kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run broadcasts changes until ctx ends: at most one `lights` per Interval with the zones changed since the
// last one, `zones` when the zone list changed, and, after Resend of quiet, the final state of every zone
// that changed once more, so a viewer that lost a broadcast still ends with the latest state. It also
// re-sends to bridges the states they have not confirmed after Resend.
func (s *Service) Run(ctx context.Context, out Broadcaster) error {
	if s.bus != nil {
		done := make(chan struct{})
		go func() { s.runCluster(ctx); close(done) }()
		defer func() { <-done }()
	}
	resend := time.NewTimer(time.Hour)
	resend.Stop()
	unconfirmed := time.NewTicker(s.cfg.Resend)
	defer unconfirmed.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-unconfirmed.C:
			s.resendUnconfirmed()
			continue
		case <-resend.C:
			if u := s.take(s.resend); len(u) > 0 {
				out.Lights(u)
			}
			continue
		case <-s.wake:
		}
		zones, updates := s.drain()
		if zones != nil {
			out.Zones(zones)
		}
		if len(updates) > 0 {
			out.Lights(updates)
			resend.Reset(s.cfg.Resend)
		}
		select { // coalescing window
		case <-ctx.Done():
			return nil
		case <-time.After(s.cfg.Interval):
		}
	}
}

// drain takes what changed since the last broadcast.
func (s *Service) drain() ([]Zone, []Update) {
	s.mu.Lock()
	var zones []Zone
	if s.zonesUp {
		s.zonesUp = false
		zones = s.zonesLocked()
	}
	for id := range s.changed {
		s.resend[id] = struct{}{}
	}
	s.mu.Unlock()
	return zones, s.take(s.changed)
}

// take empties set and returns the current state of its zones, but for hidden ones.
func (s *Service) take(set map[string]struct{}) []Update {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Update, 0, len(set))
	for id := range set {
		if z := s.zones[id]; z != nil && !s.settings[id].Hidden {
			out = append(out, z.entry.Update(id))
		}
		delete(set, id)
	}
	slices.SortFunc(out, func(a, b Update) int { return strings.Compare(a.ID, b.ID) })
	return out
}
