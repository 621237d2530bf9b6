package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/zishang520/socket.io/v2/socket"

	"github.com/stagelink/stagelink/bridge"
	"github.com/stagelink/stagelink/lighting"
	"github.com/stagelink/stagelink/web/store"
)

// authBridge admits a bridge only with a configured token (handshake auth {token}); others get connect_error.
func (s *Server) authBridge(sock *socket.Socket, next func(*socket.ExtendedError)) {
	auth, _ := sock.Handshake().Auth.(map[string]any)
	token, _ := auth["token"].(string)
	if tokenOK(token, s.cfg.BridgeTokens...) {
		next(nil)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	id, ok := s.storedToken(ctx, store.TokenBridge, token)
	if !ok {
		s.log.Warn("bridge refused: bad token", "addr", sock.Handshake().Address)
		next(socket.NewExtendedError("invalid bridge token", map[string]any{"code": "unauthorized"}))
		return
	}
	sock.Join(tokenRoom(id)) // revoking the token disconnects the bridge
	next(nil)
}

// onBridge counts a connected bridge until it disconnects.
func (s *Server) onBridge(args ...any) {
	sock, ok := args[0].(*socket.Socket)
	if !ok {
		return
	}
	s.bridges.Add(1)
	sock.On("disconnect", func(...any) { s.bridges.Add(-1) })
}

// bridgeLink is one connected bridge.
type bridgeLink struct{ sock *socket.Socket }

var _ lighting.Link = (*bridgeLink)(nil)

func (l *bridgeLink) Apply(zone string, st lighting.State, version int64) {
	l.sock.Emit(bridge.EventApply, bridge.Apply{Zone: zone, State: st, Version: version})
}

type bridgeAck struct {
	OK    bool      `json:"ok"`
	Error *errorMsg `json:"error,omitempty"`
}

// prepareBridge registers a bridge's event handlers before it is told it is connected (see prepareViewer).
func (s *Server) prepareBridge(sock *socket.Socket, next func(*socket.ExtendedError)) {
	defer next(nil)
	l := &bridgeLink{sock: sock}
	log := s.log.With("bridge_conn", string(sock.Id()), "addr", sock.Handshake().Address)
	sock.On(bridge.EventHello, func(a ...any) {
		payload, ack := splitAck(a)
		reply := bridgeAck{OK: true}
		if err := s.bridgeHello(l, payload); err != nil {
			log.Warn("bridge hello refused", "err", err)
			reply = bridgeAck{Error: refusal(err).Error}
		}
		if ack != nil {
			ack([]any{reply}, nil)
		}
	})
	sock.On(bridge.EventStatus, func(a ...any) {
		payload, _ := splitAck(a)
		// device is decoded on its own: a malformed one loses the device details, not the status.
		var st struct {
			bridge.Status
			Device json.RawMessage `json:"device"`
		}
		if err := decodeEvent(payload, 4096, &st); err != nil {
			log.Warn("bad zone:status", "err", err)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.lights.ZoneStatus(ctx, l, st.Zone, st.Online, st.Version, truncate(st.Error, 200))
		if len(st.Device) > 0 && !bytes.Equal(st.Device, []byte("null")) {
			var d lighting.DeviceInfo
			if err := json.Unmarshal(st.Device, &d); err != nil {
				log.Warn("bad device in zone:status", "zone", truncate(st.Zone, 40), "err", err)
				return
			}
			s.lights.ZoneDevice(l, st.Zone, d) // bounded there
		}
	})
	sock.On("disconnect", func(...any) {
		log.Info("bridge disconnected")
		s.lights.DetachBridge(l)
	})
}

func (s *Server) bridgeHello(l *bridgeLink, payload []any) error {
	var h bridge.Hello
	if err := decodeEvent(payload, maxEventBytes, &h); err != nil {
		return &lighting.Error{Code: lighting.CodeBadRequest, Message: "bridge:hello: " + err.Error()}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.log.Info("bridge hello", "name", truncate(h.Name, 64), "version", truncate(h.Version, 32), "zones", len(h.Zones))
	return s.lights.AttachBridge(ctx, l, truncate(h.Name, 64), h.Zones)
}

// decodeEvent decodes a bridge event's single argument into v. Unknown fields are allowed, so a newer
// bridge can talk to an older hub; everything the hub uses is validated where it is used.
func decodeEvent(payload []any, limit int, v any) error {
	if len(payload) != 1 {
		return errors.New("want one object")
	}
	raw, err := json.Marshal(payload[0])
	if err != nil {
		return errors.New("not JSON")
	}
	if len(raw) > limit {
		return errors.New("too large")
	}
	if !bytes.HasPrefix(raw, []byte("{")) {
		return errors.New("want an object")
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return errors.New("malformed: " + err.Error())
	}
	return nil
}

// truncate cuts s to at most n bytes of valid UTF-8, for logs and stored texts from bridges.
func truncate(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.ToValidUTF8(s, "")
}
