package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/zishang520/engine.io-client-go/transports"
	"github.com/zishang520/engine.io/v2/types"
	sio "github.com/zishang520/socket.io-client-go/socket"

	"github.com/stagelink/stagelink/lighting"
)

// Version is the bridge agent's version, announced in its hello.
const Version = "0.1.0"

// venue is the set of devices the agent drives.
type venue interface {
	// Set asks for a zone's state; it must not block. Superseded states may be dropped.
	Set(zone string, st lighting.State, version int64)
	// Specs returns the zones to announce, with the effects of pixel zones.
	Specs(ctx context.Context) []lighting.ZoneSpec
	// Forget drops the versions seen so far: a new hub connection may number them afresh.
	Forget()
}

var _ venue = (*Devices)(nil)

// Agent keeps a bridge connected to its hub: it announces the zones, hands `light:apply` to the devices and
// reports their `zone:status`. It reconnects by itself, with backoff and jitter, for as long as it runs.
type Agent struct {
	cfg     Config
	devices venue
	run     func(context.Context) error // runs the devices
	log     *slog.Logger

	// MinBackoff and MaxBackoff bound the wait between connection attempts.
	MinBackoff, MaxBackoff time.Duration

	mu         sync.Mutex
	conn       *sio.Socket                    // the current connection once its hello was accepted; nil otherwise
	live       *sio.Socket                    // the connection of the session running now, accepted or not
	status     map[string]Status              // last status per zone on this connection
	details    map[string]lighting.DeviceInfo // last device details per zone, kept across connections
	detailSent map[string]bool                // zones whose details went out on this connection

	// emitMu serialises emits: socket.io-client-go v1.1.0's Timeout sets a field of the socket that Emit
	// then reads, so two goroutines emitting at once race (two hellos after a quick reconnect did).
	emitMu sync.Mutex
}

// emit sends an event on conn, one emit at a time.
func (a *Agent) emit(conn *sio.Socket, event string, v any) {
	a.emitMu.Lock()
	defer a.emitMu.Unlock()
	conn.Emit(event, v)
}

// NewAgent returns an agent for cfg (which passed Validate), with its devices built from cfg and opts;
// opts.Report and opts.EffectsChanged are the agent's. Run starts it.
func NewAgent(cfg Config, opts DeviceOptions) (*Agent, error) {
	a := &Agent{
		cfg: cfg, log: opts.withDefaults().Log.With("component", "agent"),
		MinBackoff: 500 * time.Millisecond, MaxBackoff: 30 * time.Second,
		status: map[string]Status{}, details: map[string]lighting.DeviceInfo{}, detailSent: map[string]bool{},
	}
	opts.Report, opts.EffectsChanged = a.Report, a.EffectsChanged
	devices, err := NewDevices(cfg, opts)
	if err != nil {
		return nil, err
	}
	a.devices, a.run = devices, devices.Run
	return a, nil
}

// Report sends a zone's status to the hub once the hub has accepted the bridge's hello; the last status
// of each zone is sent again when it does, so none is lost to the race between the two. After a reconnect
// the hub re-sends every zone's state and the devices report anew. The first status of each zone on a
// connection carries the device's last known details, so a hub learns them without waiting for the next
// read.
func (a *Agent) Report(st Status) {
	a.mu.Lock()
	if st.Device != nil {
		a.details[st.Zone] = *st.Device
	}
	a.status[st.Zone] = st
	conn := a.conn
	if conn != nil {
		st = a.withDetailsLocked(st)
	}
	a.mu.Unlock()
	if conn != nil {
		a.emit(conn, EventStatus, st)
	}
}

// withDetailsLocked adds the zone's last known device details to st if none went out on this connection
// yet, and notes when st carries them. a.mu must be held.
func (a *Agent) withDetailsLocked(st Status) Status {
	if d, ok := a.details[st.Zone]; ok && st.Device == nil && !a.detailSent[st.Zone] {
		st.Device = &d
	}
	if st.Device != nil {
		a.detailSent[st.Zone] = true
	}
	return st
}

// Check reports whether the bridge is connected to its hub, for health checks: nil once the hub has
// accepted its hello, until the connection ends.
func (a *Agent) Check(context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.conn == nil {
		return errors.New("not connected to the hub; reconnecting")
	}
	return nil
}

// Run drives the devices and keeps the bridge connected to the hub until ctx ends.
func (a *Agent) Run(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.run(ctx)
	}()
	defer func() { <-done }()
	return a.connect(ctx)
}

// connect keeps a connection to the hub, reconnecting with backoff and jitter, until ctx ends.
func (a *Agent) connect(ctx context.Context) error {
	failures := 0
	for {
		start := time.Now()
		err := a.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(start) > time.Minute {
			failures = 0
		}
		failures++
		wait := backoff(failures, a.MinBackoff, a.MaxBackoff)
		a.log.Warn("hub connection lost; reconnecting", "err", err, "in", wait.Round(time.Millisecond))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// connectTimeout bounds the time from dialling to joining the namespace: the hub's engine.io can lose the
// namespace CONNECT of a fresh WebSocket, and then nothing else would happen. helloTimeout bounds the time
// from dialling to an accepted hello.
const (
	connectTimeout = 4 * time.Second
	helloTimeout   = 15 * time.Second
)

// errRefused wraps the hub's refusal of this bridge's hello.
var errRefused = errors.New("hub refused the bridge")

// session runs one connection to the hub until it ends, returning why.
func (a *Agent) session(ctx context.Context) error {
	opts := sio.DefaultOptions()
	opts.SetReconnection(false) // Run reconnects, with its own backoff
	opts.SetTimeout(10 * time.Second)
	opts.SetAuth(map[string]any{"token": a.cfg.Token})
	// WebSocket only: the Go client loses messages while upgrading from polling. The hub's engine.io can
	// drop the first packet of a fresh WebSocket (the namespace CONNECT); connectTimeout covers that.
	opts.SetTransports(types.NewSet(transports.WebSocket))
	manager := sio.NewManager(a.cfg.Hub, opts)
	conn := manager.Socket("/bridge", opts)
	a.mu.Lock()
	a.live = conn
	a.mu.Unlock()

	ended := make(chan error, 1)
	end := func(err error) {
		select {
		case ended <- err:
		default:
		}
	}
	conn.On("connect_error", func(args ...any) { end(fmt.Errorf("connect: %v", firstArg(args))) })
	conn.On("disconnect", func(args ...any) { end(fmt.Errorf("disconnected: %v", firstArg(args))) })
	joined := make(chan struct{})
	conn.On("connect", func(...any) {
		select {
		case <-joined:
		default:
			close(joined)
		}
		go a.hello(ctx, conn, end)
	})
	conn.On(EventApply, func(args ...any) { a.apply(args) })
	conn.Connect()

	accepted := time.AfterFunc(helloTimeout, func() {
		a.mu.Lock()
		ok := a.conn == conn
		a.mu.Unlock()
		if !ok {
			end(errors.New("the hub did not accept the bridge in time"))
		}
	})
	defer accepted.Stop()
	joinTimer := time.AfterFunc(connectTimeout, func() {
		select {
		case <-joined:
		default:
			end(errors.New("the hub did not answer the namespace connect in time"))
		}
	})
	defer joinTimer.Stop()
	var err error
	select {
	case <-ctx.Done():
	case err = <-ended:
	}
	a.mu.Lock()
	a.conn, a.live = nil, nil
	a.mu.Unlock()
	if perr := disconnect(conn.Disconnect); perr != nil {
		a.log.Warn("closing the hub connection", "err", perr)
	}
	return err
}

// disconnect runs a socket.io-client-go Disconnect. In v1.1.0 a Disconnect while the engine is still
// opening races the manager's onopen: its new close listener hears the forced close with a nil error and
// asserts it to error (socket/manager.go:357), a panic that would take the hub down with its demo bridge.
// The connection is closed either way, so the panic is turned into an error.
func disconnect(close func() *sio.Socket) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("socket.io client panicked while closing: %v", r)
		}
	}()
	close()
	return nil
}

// hello announces the zones; once the hub accepts it, statuses flow and the hub sends every zone's state.
func (a *Agent) hello(ctx context.Context, conn *sio.Socket, end func(error)) {
	specCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	specs := a.devices.Specs(specCtx)
	cancel()
	a.devices.Forget()
	a.mu.Lock()
	clear(a.status)
	clear(a.detailSent)
	a.mu.Unlock()
	h := Hello{Name: a.cfg.Name, Version: Version, Zones: specs}
	a.emitMu.Lock()
	defer a.emitMu.Unlock()
	conn.Timeout(10*time.Second).Emit(EventHello, h, func(args []any, err error) {
		if err != nil {
			end(fmt.Errorf("hello: %w", err))
			return
		}
		var reply struct {
			OK    bool `json:"ok"`
			Error *struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if decodeArg(args, &reply) != nil || !reply.OK {
			msg := "no reason given"
			if reply.Error != nil {
				msg = reply.Error.Message
			}
			end(fmt.Errorf("%w: %s", errRefused, msg))
			return
		}
		a.mu.Lock()
		if a.live != conn { // the session ended while the ack was on its way: a dead connection
			a.mu.Unlock()
			return
		}
		a.conn = conn
		pending := make([]Status, 0, len(a.status))
		for _, st := range a.status {
			pending = append(pending, a.withDetailsLocked(st))
		}
		a.mu.Unlock()
		for _, st := range pending {
			a.emit(conn, EventStatus, st)
		}
		a.log.Info("connected to hub", "hub", a.cfg.Hub, "zones", len(specs))
	})
}

// apply hands a `light:apply` to the devices. They ignore versions older than what they have and answer a
// repeated one with the zone's status: events can arrive out of order, and the hub re-sends a version it
// saw no status for.
func (a *Agent) apply(args []any) {
	var ap Apply
	if err := decodeArg(args, &ap); err != nil || ap.Zone == "" || ap.Version < 0 {
		a.log.Warn("bad light:apply from hub", "err", err)
		return
	}
	a.devices.Set(ap.Zone, ap.State, ap.Version)
}

// EffectsChanged announces the zones again when a device's effect list became known or changed.
func (a *Agent) EffectsChanged(zone string, effects []string) {
	a.mu.Lock()
	conn := a.conn
	a.mu.Unlock()
	if conn != nil {
		a.log.Info("effects changed: announcing zones again", "zone", zone, "effects", len(effects))
		go a.hello(context.Background(), conn, func(error) {})
	}
}

// decodeArg decodes an event's first argument (a JSON value decoded into maps) into v.
func decodeArg(args []any, v any) error {
	if len(args) == 0 {
		return errors.New("no payload")
	}
	raw, err := json.Marshal(args[0])
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, v)
}

func firstArg(args []any) any {
	if len(args) == 0 {
		return nil
	}
	return args[0]
}
