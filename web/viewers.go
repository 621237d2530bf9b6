package web

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"time"
	"unicode"

	"github.com/zishang520/socket.io/v2/socket"

	"github.com/stagelink/stagelink/lighting"
	"github.com/stagelink/stagelink/web/store"
)

// maxCommandBytes bounds a viewer's light:set payload, measured as JSON.
const maxCommandBytes = 1024

type helloMsg struct {
	Zones  []lighting.Zone `json:"zones"`
	Limits limitsMsg       `json:"limits"`
	Stream StreamInfo      `json:"stream"`
	Page   *store.Page     `json:"page,omitempty"` // the streamer's page content; absent without a content store
}

type limitsMsg struct {
	PerSecond float64 `json:"perSecond"`
	Burst     int     `json:"burst"`
}

// ackMsg is the acknowledgement of a light:set.
type ackMsg struct {
	OK      bool      `json:"ok"`
	Version int64     `json:"version,omitempty"`
	Error   *errorMsg `json:"error,omitempty"`
}

type errorMsg struct {
	Code         lighting.Code `json:"code"`
	Message      string        `json:"message"`
	RetryAfterMs int64         `json:"retryAfterMs,omitempty"`
}

// prepareViewer registers a viewer's event handlers. It runs as namespace middleware, before the server
// tells the client it is connected: handlers registered in the "connection" event would miss events a
// client sends the moment it is connected, since socket.io v2.5.0 writes the CONNECT reply first.
func (s *Server) prepareViewer(sock *socket.Socket, next func(*socket.ExtendedError)) {
	if s.closing.Load() {
		next(socket.NewExtendedError("the hub is shutting down", nil))
		return
	}
	v := lighting.Viewer{
		Conn: string(sock.Id()),
		IP:   s.clientIP(sock.Handshake().Address, http.Header(sock.Handshake().Headers)),
		Name: displayName(sock.Handshake().Auth, string(sock.Id())),
	}
	sock.Join(everyone)
	sock.On("light:set", func(a ...any) {
		payload, ack := splitAck(a)
		reply := s.setLight(v, payload)
		if ack != nil {
			ack([]any{reply}, nil)
		}
	})
	next(nil)
}

// onViewer greets a connected viewer with everything it needs to draw the page.
func (s *Server) onViewer(args ...any) {
	sock, ok := args[0].(*socket.Socket)
	if !ok {
		return
	}
	s.viewers.Add(1)
	sock.On("disconnect", func(...any) { s.viewers.Add(-1) })
	lim := s.lights.Limits()
	sock.Emit("hello", helloMsg{
		Zones:  s.lights.Zones(),
		Limits: limitsMsg{PerSecond: lim.PerSecond, Burst: lim.Burst},
		Stream: s.cfg.Stream,
		Page:   s.currentPage(),
	})
	if s.demo != nil {
		sock.Emit("demo:devices", s.demo.Snapshot())
	}
	if s.paper != nil {
		sock.Emit("demo:printer", s.demoPrinterMsg())
	}
}

// setLight runs one light:set and returns its acknowledgement.
func (s *Server) setLight(v lighting.Viewer, payload []any) ackMsg {
	if len(payload) != 1 {
		return refusal(&lighting.Error{Code: lighting.CodeBadRequest, Message: "light:set takes one object"})
	}
	raw, err := json.Marshal(payload[0])
	if err != nil || len(raw) > maxCommandBytes {
		return refusal(&lighting.Error{Code: lighting.CodeBadRequest, Message: "light:set payload is too large"})
	}
	c, err := lighting.DecodeCommand(raw)
	if err != nil {
		return refusal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	e, err := s.lights.Set(ctx, v, c)
	if err != nil {
		return refusal(err)
	}
	return ackMsg{OK: true, Version: e.Version}
}

// refusal maps an error to the contract's error acknowledgement. Only *lighting.Error messages reach
// clients; anything else is reported as internal.
func refusal(err error) ackMsg {
	m := &errorMsg{Code: lighting.CodeInternal, Message: "internal error"}
	if e, ok := err.(*lighting.Error); ok {
		m.Code, m.Message = e.Code, e.Message
		if e.RetryAfter > 0 {
			m.RetryAfterMs = max(1, e.RetryAfter.Milliseconds())
		}
	}
	return ackMsg{Error: m}
}

// splitAck separates an event's arguments from the acknowledgement callback the client asked for.
func splitAck(args []any) ([]any, socket.Ack) {
	if n := len(args); n > 0 {
		if ack, ok := args[n-1].(socket.Ack); ok {
			return args[:n-1], ack
		}
		if ack, ok := args[n-1].(func([]any, error)); ok {
			return args[:n-1], ack
		}
	}
	return args, nil
}

const maxDisplayName = 32

// displayName takes the viewer's chosen name from the handshake's auth.name, made safe to show others:
// trimmed, without control or format characters, at most maxDisplayName runes. Without one the viewer is
// named after its connection.
func displayName(auth any, id string) string {
	var name string
	if m, ok := auth.(map[string]any); ok {
		name, _ = m["name"].(string)
	}
	name = pageText(name, maxDisplayName)
	if name == "" {
		name = "viewer-" + id[:min(4, len(id))]
	}
	return name
}

// pageText makes outside text safe to show others as one line: without control or format characters or
// invalid UTF-8, spaces collapsed, at most max runes.
func pageText(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == unicode.ReplacementChar {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, ""))
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > max {
		s = strings.TrimRight(string(r[:max]), " ") // the cut may end on a space
	}
	return s
}

// hostOf strips the port from a remote address.
func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}
