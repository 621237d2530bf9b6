package web

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/zishang520/socket.io-go-parser/v2/parser"

	"github.com/stagelink/stagelink/lighting"
)

// malformed are Engine.IO and Socket.IO packets that a well-behaved client never sends. Before the strict
// parser, "42" or "43" alone panicked the socket.io library and took the hub down.
var malformed = []string{
	"", "x", "9", "4", "42", "43", "431", "42[", "4{", "42[1]", "42{}", `42["light:set"]`,
	`42["light:set",1,2,3]`, "431[]", `451-["a",{"_placeholder":true,"num":0}]`, `461-[{"_placeholder":true,"num":9}]`,
	"41", "44{}", "45", "46", "47", "0", "1", "3", "5", "6", "2probe", `42/bridge,["bridge:hello",{}]`,
	"40/nope,", `40/bridge,{"token":1}`, `42["disconnect"]`, "4" + strings.Repeat("[", 10000),
}

// TestMalformedPacketsOverWebSocket sends every malformed packet, as text and as binary, on a connected
// viewer socket: the hub drops or closes that connection and keeps serving everyone else.
func TestMalformedPacketsOverWebSocket(t *testing.T) {
	h := newHub(t, lighting.DefaultConfig())
	fakeBridge(t, h.url, testZones)
	ws := "ws" + strings.TrimPrefix(h.url, "http") + "/socket.io/?EIO=4&transport=websocket"
	for _, msg := range malformed {
		for _, kind := range []int{websocket.TextMessage, websocket.BinaryMessage} {
			c, _, err := websocket.DefaultDialer.Dial(ws, nil)
			if err != nil {
				t.Fatalf("%q: dial: %v", msg, err)
			}
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			c.ReadMessage() // Engine.IO open
			c.WriteMessage(websocket.TextMessage, []byte("40"))
			c.ReadMessage() // CONNECT reply (or nothing: the first packet may be lost)
			c.WriteMessage(kind, []byte(msg))
			c.WriteMessage(websocket.TextMessage, []byte("42"))
			c.Close()
		}
	}
	v := dialViewer(t, h.url)
	if ack := v.emit("light:set", map[string]any{"zone": "lamp", "on": true}); !ack.OK {
		t.Fatalf("after the malformed packets a viewer's set = %+v, want ok", ack.Error)
	}
}

// TestMalformedPacketsOverPolling sends them as long-polling POST bodies.
func TestMalformedPacketsOverPolling(t *testing.T) {
	h := newHub(t, lighting.DefaultConfig())
	base := h.url + "/socket.io/?EIO=4&transport=polling"
	for _, msg := range malformed {
		resp, err := http.Get(base)
		if err != nil {
			t.Fatal(err)
		}
		open, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		sid := between(string(open), `"sid":"`, `"`)
		if sid == "" {
			t.Fatalf("no sid in %q", open)
		}
		for _, body := range []string{"40", msg, "40\x1e" + msg} {
			resp, err := http.Post(base+"&sid="+sid, "text/plain;charset=UTF-8", strings.NewReader(body))
			if err != nil {
				t.Fatalf("%q: %v", msg, err)
			}
			resp.Body.Close()
		}
	}
	if resp, err := http.Get(h.url + "/healthz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("hub after malformed polling packets: %v", err)
	}
	v := dialViewer(t, h.url)
	v.waitFor("hello", func(c *client) bool { return len(c.events["hello"]) > 0 })
}

func between(s, from, to string) string {
	_, rest, ok := strings.Cut(s, from)
	if !ok {
		return ""
	}
	out, _, _ := strings.Cut(rest, to)
	return out
}

// FuzzStrictDecoder: whatever a client sends, the strict decoder passes on only packets the server can
// handle.
func FuzzStrictDecoder(f *testing.F) {
	for _, m := range malformed {
		f.Add(m)
	}
	f.Add(`42["light:set",{"zone":"desk","on":true}]`)
	f.Add(`421["light:set",{"zone":"desk"}]`)
	f.Add(`431[{"ok":true}]`)
	f.Fuzz(func(t *testing.T, msg string) {
		d := strictParser{parser.NewParser()}.NewDecoder()
		defer d.Destroy()
		d.On("decoded", func(args ...any) {
			if p, _ := args[0].(*parser.Packet); !wellFormed(p) {
				t.Errorf("%q: passed on %+v", msg, p)
			}
		})
		d.Add(msg)
	})
}
