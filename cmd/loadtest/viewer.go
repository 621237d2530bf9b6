package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// errNoConnectAck means the hub did not answer the namespace CONNECT in time: engine.io v2.5.0 can lose
// the first packet of a fresh WebSocket (see web/server.go); the viewer dials again.
var errNoConnectAck = errors.New("no CONNECT reply")

// seen is one version of a zone as a viewer first received it.
type seen struct {
	version int64
	at      time.Duration // since the clock's base
}

// zoneView is what one viewer knows of one zone.
type zoneView struct {
	versions  []seen // increasing versions, each with the time it first arrived
	confirmed int64  // highest version received with confirmed: true
}

// viewer is one raw Socket.IO connection on namespace "/": it answers pings, records every zone version
// it receives and, when it clicks, matches acknowledgements to clicks.
type viewer struct {
	conn  *websocket.Conn
	clk   clock
	zones map[string]int // zone id → index into views; shared, read-only
	acks  func(seq int, at time.Duration, a ack)

	wmu sync.Mutex // one writer at a time (gorilla/websocket)

	mu      sync.Mutex
	views   []zoneView
	pending map[int64]int // ack id → click sequence number
	nextID  int64
	err     error // why the read loop ended, if not by close
}

// dialer opens viewers.
type dialer struct {
	wsURL          string
	clk            clock
	zones          map[string]int
	acks           func(seq int, at time.Duration, a ack)
	connectTimeout time.Duration // for the CONNECT reply
	deflate        bool          // offer permessage-deflate
}

// dial opens one viewer: WebSocket, Engine.IO open packet, Socket.IO CONNECT and its reply. The caller
// starts the read loop.
func (d dialer) dial(ctx context.Context, name string) (*viewer, error) {
	wd := websocket.Dialer{HandshakeTimeout: 10 * time.Second, ReadBufferSize: 2048, WriteBufferSize: 512,
		EnableCompression: d.deflate}
	conn, resp, err := wd.DialContext(ctx, d.wsURL, nil)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	v := &viewer{conn: conn, clk: d.clk, zones: d.zones, acks: d.acks,
		views: make([]zoneView, len(d.zones)), pending: map[int64]int{}}
	if err := v.handshake(d.connectTimeout, name); err != nil {
		conn.Close()
		return nil, err
	}
	return v, nil
}

func (v *viewer) handshake(connectTimeout time.Duration, name string) error {
	v.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, b, err := v.conn.ReadMessage()
	if err != nil {
		return fmt.Errorf("open packet: %w", err)
	}
	if _, err := parseOpen(b); err != nil {
		return err
	}
	if err := v.write(connectPacket(name)); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	v.conn.SetReadDeadline(time.Now().Add(connectTimeout))
	for {
		_, b, err := v.conn.ReadMessage()
		var ne interface{ Timeout() bool }
		switch {
		case errors.As(err, &ne) && ne.Timeout():
			return errNoConnectAck
		case err != nil:
			return fmt.Errorf("connect reply: %w", err)
		case len(b) == 1 && b[0] == eioPing:
			if err := v.write([]byte(eioPong)); err != nil {
				return err
			}
		case len(b) >= 2 && b[0] == eioMessage && b[1] == sioConnect:
			return nil
		case len(b) >= 2 && b[0] == eioMessage && b[1] == sioConnectError:
			return fmt.Errorf("connect refused: %s", clip(b[2:]))
		}
	}
}

// readIdle bounds the silence on a connection: the hub pings every 25 s and waits 20 s for the pong.
const readIdle = 60 * time.Second

// read handles incoming packets until the connection closes.
func (v *viewer) read() {
	var buf bytes.Buffer
	for {
		v.conn.SetReadDeadline(time.Now().Add(readIdle))
		_, r, err := v.conn.NextReader()
		if err == nil {
			buf.Reset()
			_, err = buf.ReadFrom(r)
		}
		if err != nil {
			v.fail(err)
			return
		}
		if err := v.handle(buf.Bytes(), v.clk.now()); err != nil {
			v.fail(err)
			v.conn.Close()
			return
		}
	}
}

func (v *viewer) fail(err error) {
	v.mu.Lock()
	if v.err == nil {
		v.err = err
	}
	v.mu.Unlock()
}

// handle acts on one packet received at at.
func (v *viewer) handle(b []byte, at time.Duration) error {
	if len(b) == 0 {
		return nil
	}
	switch b[0] {
	case eioPing:
		return v.write([]byte(eioPong))
	case eioClose:
		return errors.New("engine.io close")
	case eioMessage:
	default:
		return nil
	}
	if len(b) < 2 {
		return nil
	}
	switch b[1] {
	case sioEvent:
		name, rest, ok := eventName(b[2:])
		if !ok {
			return nil
		}
		switch string(name) {
		case "lights", "zones", "hello":
			v.mu.Lock()
			scanZones(rest, func(id []byte, version int64, confirmed bool) { v.record(id, version, confirmed, at) })
			v.mu.Unlock()
		}
	case sioAck:
		id, a, err := parseAck(b[2:])
		if err != nil {
			return err
		}
		v.mu.Lock()
		seq, ok := v.pending[id]
		delete(v.pending, id)
		v.mu.Unlock()
		if ok && v.acks != nil {
			v.acks(seq, at, a)
		}
	case sioDisconnect:
		return errors.New("disconnected by the hub")
	}
	return nil
}

// record notes a zone version. The caller holds mu.
func (v *viewer) record(id []byte, version int64, confirmed bool, at time.Duration) {
	i, ok := v.zones[string(id)]
	if !ok {
		return
	}
	z := &v.views[i]
	if n := len(z.versions); n == 0 || version > z.versions[n-1].version {
		z.versions = append(z.versions, seen{version, at})
	}
	if confirmed && version > z.confirmed {
		z.confirmed = version
	}
}

// click sends light:set for click seq; sent is called with the send time just before the write.
func (v *viewer) click(seq int, zone, color string, sent func(at time.Duration)) error {
	v.mu.Lock()
	id := v.nextID
	v.nextID++
	v.pending[id] = seq
	v.mu.Unlock()
	sent(v.clk.now())
	return v.write(setPacket(id, zone, color))
}

func (v *viewer) write(b []byte) error {
	v.wmu.Lock()
	defer v.wmu.Unlock()
	v.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return v.conn.WriteMessage(websocket.TextMessage, b)
}

// firstAtLeast returns when the viewer first received zone z at version ≥ want.
func (v *viewer) firstAtLeast(z int, want int64) (time.Duration, bool) {
	v.mu.Lock()
	vs := v.views[z].versions
	v.mu.Unlock()
	i := sort.Search(len(vs), func(i int) bool { return vs[i].version >= want })
	if i == len(vs) {
		return 0, false
	}
	return vs[i].at, true
}

// final returns the last version the viewer received of zone z and the highest confirmed one.
func (v *viewer) final(z int) (version, confirmed int64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	zv := v.views[z]
	if n := len(zv.versions); n > 0 {
		version = zv.versions[n-1].version
	}
	return version, zv.confirmed
}

// clock measures durations from one base time, monotonic.
type clock struct{ base time.Time }

func (c clock) now() time.Duration { return time.Since(c.base) }
