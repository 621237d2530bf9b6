package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// Engine.IO 4 and Socket.IO 5 packets as sent over a WebSocket, one packet per text frame
// (https://socket.io/docs/v4/engine-io-protocol/, https://socket.io/docs/v4/socket-io-protocol/).
// Only what a viewer on namespace "/" needs: open, ping/pong, CONNECT, EVENT and ACK.
const (
	eioOpen    = '0'
	eioClose   = '1'
	eioPing    = '2'
	eioPong    = "3"
	eioMessage = '4'

	sioConnect      = '0'
	sioDisconnect   = '1'
	sioEvent        = '2'
	sioAck          = '3'
	sioConnectError = '4'
)

// eioOpenPacket is the payload of the Engine.IO open packet.
type eioOpenPacket struct {
	SID          string `json:"sid"`
	PingInterval int    `json:"pingInterval"` // ms
	PingTimeout  int    `json:"pingTimeout"`  // ms
	MaxPayload   int    `json:"maxPayload"`
}

// parseOpen reads an Engine.IO open packet: 0{"sid":…,"pingInterval":…,"pingTimeout":…}.
func parseOpen(b []byte) (eioOpenPacket, error) {
	var p eioOpenPacket
	if len(b) == 0 || b[0] != eioOpen {
		return p, fmt.Errorf("want an engine.io open packet, got %q", clip(b))
	}
	if err := json.Unmarshal(b[1:], &p); err != nil || p.SID == "" {
		return p, fmt.Errorf("bad engine.io open packet %q", clip(b))
	}
	return p, nil
}

// connectPacket is the Socket.IO CONNECT to namespace "/" with auth {"name": name}.
func connectPacket(name string) []byte {
	auth, _ := json.Marshal(struct {
		Name string `json:"name"`
	}{name})
	return append([]byte{eioMessage, sioConnect}, auth...)
}

// setPacket is a `light:set` EVENT with acknowledgement id.
func setPacket(id int64, zone, color string) []byte {
	b := []byte{eioMessage, sioEvent}
	b = strconv.AppendInt(b, id, 10)
	b = append(b, `["light:set",{"zone":`...)
	b = strconv.AppendQuote(b, zone)
	b = append(b, `,"color":`...)
	b = strconv.AppendQuote(b, color)
	return append(b, "}]"...)
}

// ack is a viewer's acknowledgement of light:set, as web/viewers.go sends it.
type ack struct {
	OK      bool  `json:"ok"`
	Version int64 `json:"version"`
	Error   *struct {
		Code string `json:"code"`
	} `json:"error"`
}

// parseAck reads the body of a Socket.IO ACK after "43": <id>[{ok, version, error}].
func parseAck(b []byte) (int64, ack, error) {
	i := bytes.IndexByte(b, '[')
	if i <= 0 {
		return 0, ack{}, errors.New("ack without id")
	}
	id, err := strconv.ParseInt(string(b[:i]), 10, 64)
	if err != nil {
		return 0, ack{}, fmt.Errorf("ack id %q", b[:i])
	}
	var args []ack
	if err := json.Unmarshal(b[i:], &args); err != nil || len(args) != 1 {
		return id, ack{}, fmt.Errorf("ack payload %q", clip(b))
	}
	return id, args[0], nil
}

// eventName returns the name of a Socket.IO EVENT body (after "42") and the rest after the name's comma.
func eventName(b []byte) (name, rest []byte, ok bool) {
	if len(b) < 3 || b[0] != '[' || b[1] != '"' {
		return nil, nil, false
	}
	end := bytes.IndexByte(b[2:], '"')
	if end < 0 {
		return nil, nil, false
	}
	name = b[2 : 2+end]
	rest = b[2+end+1:]
	if len(rest) > 0 && rest[0] == ',' {
		rest = rest[1:]
	}
	return name, rest, true
}

// Keys scanZones looks for.
const (
	keyID        = `"id":"`
	keyVersion   = `"version":`
	keyConfirmed = `"confirmed":`
)

// scanZones calls fn for every zone object in a `lights`, `zones` or `hello` payload: each has "id",
// then (after its state) "version" and "confirmed", in the order the hub's encoding/json writes them.
// It is a scanner, not a parser, so that thousands of viewers cost the load tool little CPU: zone ids
// ([a-z0-9-]) need no unescaping, and quotes inside strings are escaped, so `"id":"` only matches keys.
// It returns false when the payload does not have that shape.
func scanZones(b []byte, fn func(id []byte, version int64, confirmed bool)) bool {
	for {
		i := bytes.Index(b, []byte(keyID))
		if i < 0 {
			return true
		}
		b = b[i+len(keyID):]
		end := bytes.IndexByte(b, '"')
		if end < 0 {
			return false
		}
		id := b[:end]
		b = b[end+1:]
		i = bytes.Index(b, []byte(keyVersion))
		if i < 0 {
			return false
		}
		b = b[i+len(keyVersion):]
		n := 0
		for n < len(b) && b[n] >= '0' && b[n] <= '9' {
			n++
		}
		v, err := strconv.ParseInt(string(b[:n]), 10, 64)
		if err != nil {
			return false
		}
		b = b[n:]
		i = bytes.Index(b, []byte(keyConfirmed))
		if i < 0 {
			return false
		}
		b = b[i+len(keyConfirmed):]
		fn(id, v, bytes.HasPrefix(b, []byte("true")))
	}
}

// clip shortens a packet for an error message.
func clip(b []byte) []byte {
	if len(b) > 120 {
		return b[:120]
	}
	return b
}
