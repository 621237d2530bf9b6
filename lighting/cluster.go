package lighting

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Several hub processes form a cluster when they share one Store and Limiter (Redis) and join the same
// Bus. Each hub keeps, besides the zones of its own bridges, a mirror of the zones other hubs' bridges
// own: viewers on any hub see and set every zone, and a command accepted by one hub reaches the bridge,
// wherever it is connected, through the hub that owns it. Each hub broadcasts `lights` and `zones` to its
// own viewers, coalesced as it does alone.
//
// The Bus may lose messages (Redis pub/sub delivers at most once, and nothing while a subscriber
// reconnects). Nothing depends on one message: every Heartbeat each hub publishes all it owns, which
// heals every mirror, and every Resend each hub reads its own zones from the Store and sends its bridges
// any version it missed. A hub not heard from for three Heartbeats is gone: its zones are offline until
// their bridge attaches to another hub, which it may do at once.

// Bus carries messages between the hubs of a cluster.
type Bus interface {
	// Publish sends msg to every hub subscribed, this one included.
	Publish(ctx context.Context, msg []byte) error
	// Subscribe calls deliver with each message published, in one goroutine, until ctx ends. It
	// subscribes again by itself after a failure, and returns only when ctx ends.
	Subscribe(ctx context.Context, deliver func(msg []byte)) error
}

// Bounds of what a hub accepts from the Bus.
const (
	maxBusMessage  = 1 << 20
	maxHubZones    = 4096
	maxStatusError = 256
	maxHubViewers  = 10_000_000
	busSendQueue   = 1024 // messages waiting to be published; more are dropped and healed
)

// The kinds of cluster messages.
const (
	msgEntry = "entry" // a zone's entry changed: Zone, Entry
	msgHub   = "hub"   // heartbeat: the zones the hub's bridges own, and the hub's pause mark
	msgPause = "pause" // the streamer paused or resumed viewers' commands: Paused
	msgBye   = "bye"   // the hub is shutting down: its zones go offline
)

type clusterMsg struct {
	Hub    string     `json:"hub"`
	Kind   string     `json:"kind"`
	Zone   string     `json:"zone,omitempty"`
	Entry  *wireEntry `json:"entry,omitempty"`
	Zones  []hubZone  `json:"zones,omitempty"`
	Paused *pauseMark `json:"paused,omitempty"`
	// Viewers is, in a heartbeat, how many viewers the hub has connected (SetViewers).
	Viewers int64 `json:"viewers,omitempty"`
}

type wireEntry struct {
	State   State `json:"state"`
	Version int64 `json:"version"`
	Applied int64 `json:"applied"`
}

func toWire(e Entry) *wireEntry {
	return &wireEntry{State: e.State, Version: e.Version, Applied: e.Applied}
}

func (w wireEntry) entry() Entry {
	return Entry{State: w.State, Version: w.Version, Applied: w.Applied}
}

func (w wireEntry) valid() bool { return w.Version >= 0 && w.Applied >= 0 && w.Applied <= w.Version }

// hubZone is a zone one hub's bridge owns, as that hub tells the others.
type hubZone struct {
	Spec     ZoneSpec   `json:"spec"`
	Bridge   string     `json:"bridge"`
	Attached time.Time  `json:"attached"` // when the bridge attached it: the newest attachment wins
	Online   bool       `json:"online"`   // the device answers
	Error    string     `json:"error,omitempty"`
	LastSeen time.Time  `json:"lastSeen"`
	Device   DeviceInfo `json:"device"`
	DeviceAt time.Time  `json:"deviceAt,omitzero"`
	Entry    wireEntry  `json:"entry"`
}

// pauseMark is the pause state with the time it was last changed (Unix ms; 0: never): the newest wins.
type pauseMark struct {
	Paused bool  `json:"paused"`
	At     int64 `json:"at"`
}

// remoteLink stands for a bridge connected to another hub. Commands reach it through that hub, which
// hears of them on the Bus, so Apply does nothing here.
type remoteLink struct{ hub string }

func (*remoteLink) Apply(string, State, int64) {}

// ownedBy reports whether l is a bridge connected to hub.
func ownedBy(l Link, hub string) bool {
	r, ok := l.(*remoteLink)
	return ok && r.hub == hub
}

// local reports whether l is a bridge connected to this hub.
func local(l Link) bool {
	_, remote := l.(*remoteLink)
	return l != nil && !remote
}

// Join makes s one hub, named id, of the cluster on bus. Call it before Run; Run then keeps the cluster
// current until its context ends, and says goodbye to the other hubs when it does.
func (s *Service) Join(bus Bus, id string) {
	s.bus, s.hubID = bus, id
	s.outbox = make(chan clusterMsg, busSendQueue)
	s.announce = make(chan struct{}, 1)
	s.hubsSeen = map[string]time.Time{}
	s.hubViewers = map[string]int64{}
}

// HubID returns the name this hub has in its cluster, or "" if it has not joined one.
func (s *Service) HubID() string { return s.hubID }

// SetViewers tells s how many viewers this hub has connected; in a cluster the heartbeat tells the others.
func (s *Service) SetViewers(n int64) { s.viewers.Store(n) }

// Viewers returns the viewers connected to every hub of the cluster: this hub's (SetViewers) and the
// others' as of their last heartbeat. A hub that leaves or falls silent no longer counts.
func (s *Service) Viewers() int64 {
	n := s.viewers.Load()
	if s.bus == nil {
		return n
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range s.hubViewers {
		n += v
	}
	return n
}

// ErrJoining is ClusterCheck's answer while a hub is still learning the zones of the other hubs.
var ErrJoining = errors.New("joining the cluster: waiting to hear every hub's zones")

// ClusterCheck is a readiness check: it fails until this hub knows the cluster, that is until its
// subscription delivers (it heard its own heartbeat) and a heartbeat period has passed since, in which
// every live hub has announced its zones: one to two heartbeats (2–4 s) after Run starts. Before that, a command for a zone whose bridge is on another
// hub would be refused as unknown. A hub that is not in a cluster is ready at once.
func (s *Service) ClusterCheck(context.Context) error {
	if s.bus == nil {
		return nil
	}
	heard := s.heardSelf.Load()
	if heard == 0 || time.Since(time.Unix(0, heard)) < s.cfg.Heartbeat {
		return ErrJoining
	}
	return nil
}

// publish queues m for the Bus without waiting; a full queue drops it, for the heartbeat to heal.
func (s *Service) publish(m clusterMsg) {
	if s.bus == nil {
		return
	}
	m.Hub = s.hubID
	select {
	case s.outbox <- m:
	default:
		s.log.Warn("cluster: send queue full, a message waits for the next heartbeat", "kind", m.Kind)
	}
}

// announceSoon asks for this hub's zones to be published now rather than at the next heartbeat.
func (s *Service) announceSoon() {
	if s.bus == nil {
		return
	}
	select {
	case s.announce <- struct{}{}:
	default:
	}
}

// runCluster keeps this hub and the others current until ctx ends, then says goodbye.
func (s *Service) runCluster(ctx context.Context) {
	go func() {
		err := s.bus.Subscribe(ctx, s.receive)
		if err != nil && ctx.Err() == nil {
			s.log.Error("cluster: subscription ended", "err", err)
		}
	}()
	beat := time.NewTicker(s.cfg.Heartbeat)
	defer beat.Stop()
	refresh := time.NewTicker(s.cfg.Resend)
	defer refresh.Stop()
	s.send(ctx, s.heartbeat()) // hearing it back is the first sign the subscription works (ClusterCheck)
	for {
		select {
		case <-ctx.Done():
			s.sayGoodbye()
			return
		case m := <-s.outbox:
			s.send(ctx, m)
		case <-s.announce:
			s.send(ctx, s.heartbeat())
		case <-beat.C:
			s.send(ctx, s.heartbeat())
			s.forgetSilentHubs(3 * s.cfg.Heartbeat)
		case <-refresh.C:
			s.refreshOwned(ctx)
		}
	}
}

func (s *Service) send(ctx context.Context, m clusterMsg) {
	raw, err := json.Marshal(m)
	if err == nil {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err = s.bus.Publish(ctx, raw)
		cancel()
	}
	if err != nil && ctx.Err() == nil {
		s.log.Warn("cluster: publish", "kind", m.Kind, "err", err)
	}
}

// sayGoodbye tells the other hubs this one's zones are offline, so their bridges are taken at once by
// whichever hub they reconnect to.
func (s *Service) sayGoodbye() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	raw, _ := json.Marshal(clusterMsg{Hub: s.hubID, Kind: msgBye})
	if err := s.bus.Publish(ctx, raw); err != nil {
		s.log.Warn("cluster: goodbye", "err", err)
	}
}

// heartbeat returns the message telling the others what this hub's bridges own, and its pause mark.
func (s *Service) heartbeat() clusterMsg {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := clusterMsg{Hub: s.hubID, Kind: msgHub, Paused: &pauseMark{Paused: s.paused.Load(), At: s.pausedAt}, Viewers: s.viewers.Load()}
	for _, id := range s.order {
		z := s.zones[id]
		if !local(z.link) {
			continue
		}
		m.Zones = append(m.Zones, hubZone{
			Spec: z.spec, Bridge: z.bridge, Attached: z.attached, Online: z.deviceOnline, Error: z.lastError,
			LastSeen: z.lastSeen, Device: z.device, DeviceAt: z.deviceAt, Entry: *toWire(z.entry),
		})
	}
	return m
}

// receive handles one message from the Bus. What does not parse or validate is dropped and logged.
func (s *Service) receive(raw []byte) {
	if len(raw) > maxBusMessage {
		s.log.Warn("cluster: message too large", "bytes", len(raw))
		return
	}
	var m clusterMsg
	if err := json.Unmarshal(raw, &m); err != nil {
		s.log.Warn("cluster: message does not parse", "err", err)
		return
	}
	if m.Hub == s.hubID {
		s.heardSelf.CompareAndSwap(0, time.Now().UnixNano())
		return
	}
	if err := m.check(); err != nil {
		s.log.Warn("cluster: message refused", "hub", m.Hub, "kind", m.Kind, "err", err)
		return
	}
	switch m.Kind {
	case msgEntry:
		s.mu.Lock()
		if z := s.zones[m.Zone]; z != nil {
			s.adoptLocked(m.Zone, z, m.Entry.entry())
		}
		s.mu.Unlock()
	case msgPause:
		s.adoptPause(*m.Paused)
	case msgHub:
		s.adoptHub(m.Hub, m.Zones, m.Viewers)
		if m.Paused != nil {
			s.adoptPause(*m.Paused)
		}
	case msgBye:
		s.mu.Lock()
		s.dropHubLocked(m.Hub)
		s.mu.Unlock()
	}
}

// check validates a message from another hub.
func (m clusterMsg) check() error {
	if m.Hub == "" || len(m.Hub) > maxNameLen {
		return fmt.Errorf("hub name must be 1–%d bytes", maxNameLen)
	}
	switch m.Kind {
	case msgEntry:
		if !ValidZoneID(m.Zone) || m.Entry == nil || !m.Entry.valid() {
			return fmt.Errorf("entry message needs a zone and a valid entry")
		}
	case msgPause:
		if m.Paused == nil {
			return fmt.Errorf("pause message without pause")
		}
	case msgHub:
		if len(m.Zones) > maxHubZones {
			return fmt.Errorf("%d zones, at most %d", len(m.Zones), maxHubZones)
		}
		if m.Viewers < 0 || m.Viewers > maxHubViewers {
			return fmt.Errorf("%d viewers, want 0–%d", m.Viewers, maxHubViewers)
		}
		for _, z := range m.Zones {
			if err := CheckSpecs([]ZoneSpec{z.Spec}); err != nil {
				return err
			}
			if !z.Entry.valid() || len(z.Bridge) > maxNameLen || len(z.Error) > maxStatusError {
				return fmt.Errorf("zone %q: bad entry, bridge name or error", z.Spec.ID)
			}
		}
	case msgBye:
	default:
		return fmt.Errorf("unknown kind %q", m.Kind)
	}
	return nil
}

// adoptLocked takes e as zone id's entry when it is newer than what s has, and sends it to the zone's
// bridge when that is connected here; s.mu must be held.
func (s *Service) adoptLocked(id string, z *zone, e Entry) {
	newer := e.Version > z.entry.Version
	if !newer && (e.Version != z.entry.Version || e.Applied <= z.entry.Applied) {
		return
	}
	z.entry = e
	s.markLocked(id)
	if newer && local(z.link) {
		s.sendLocked(z)
	}
}

// adoptPause takes the newest pause state of the cluster.
func (s *Service) adoptPause(p pauseMark) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.At > s.pausedAt {
		s.pausedAt = p.At
		s.setPausedLocked(p.Paused)
	}
}

// adoptHub mirrors what hub says its bridges own. A zone attached more recently elsewhere, here too, stays
// where it is; a zone this hub mirrored as hub's and hub no longer lists goes offline.
func (s *Service) adoptHub(hub string, zones []hubZone, viewers int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hubsSeen[hub] = time.Now()
	s.hubViewers[hub] = viewers
	listed := make(map[string]bool, len(zones))
	for _, hz := range zones {
		id := hz.Spec.ID
		listed[id] = true
		z := s.zones[id]
		if z == nil {
			z = &zone{}
			s.zones[id] = z
			s.order = append(s.order, id)
		} else if z.link != nil && !ownedBy(z.link, hub) && !hz.Attached.After(z.attached) {
			continue // attached more recently here or on a third hub
		}
		if local(z.link) {
			s.log.Info("cluster: a bridge attached the zone to another hub since", "zone", id, "hub", hub)
		}
		if !ownedBy(z.link, hub) || z.deviceOnline != hz.Online || !sameSpec(z.spec, hz.Spec) {
			s.zonesUp = true
			s.kick()
		}
		z.spec, z.link, z.bridge, z.attached = hz.Spec, s.remote(hub), hz.Bridge, hz.Attached
		z.deviceOnline, z.lastError, z.lastSeen = hz.Online, hz.Error, hz.LastSeen
		z.device, z.deviceAt = hz.Device.Bounded(), hz.DeviceAt
		s.adoptLocked(id, z, hz.Entry.entry())
	}
	for id, z := range s.zones {
		if ownedBy(z.link, hub) && !listed[id] {
			z.link = nil
			s.zonesUp = true
			s.kick()
		}
	}
}

// remote returns the link standing for the bridges of hub.
func (s *Service) remote(hub string) Link {
	for _, z := range s.zones {
		if ownedBy(z.link, hub) {
			return z.link
		}
	}
	return &remoteLink{hub: hub}
}

// dropHubLocked takes the zones of a hub that left or fell silent offline; s.mu must be held.
func (s *Service) dropHubLocked(hub string) {
	delete(s.hubsSeen, hub)
	delete(s.hubViewers, hub)
	for _, z := range s.zones {
		if ownedBy(z.link, hub) {
			z.link = nil
			s.zonesUp = true
		}
	}
	s.kick()
}

// forgetSilentHubs drops the hubs not heard from for longer than after.
func (s *Service) forgetSilentHubs(after time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for hub, seen := range s.hubsSeen {
		if time.Since(seen) > after {
			s.log.Warn("cluster: hub silent, its zones are offline", "hub", hub)
			s.dropHubLocked(hub)
		}
	}
}

// refreshOwned reads the zones this hub's bridges own from the Store, and sends each bridge any version
// it has not seen: the change may have come through another hub whose message was lost.
func (s *Service) refreshOwned(ctx context.Context) {
	s.mu.Lock()
	var ids []string
	for id, z := range s.zones {
		if local(z.link) {
			ids = append(ids, id)
		}
	}
	s.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	entries, err := s.store.GetMany(ctx, ids)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("cluster: reading own zones", "err", err)
		}
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, e := range entries {
		if z := s.zones[id]; z != nil {
			s.adoptLocked(id, z, e)
		}
	}
}

func sameSpec(a, b ZoneSpec) bool {
	return a.ID == b.ID && a.Name == b.Name && a.Kind == b.Kind && slices.Equal(a.Effects, b.Effects)
}
