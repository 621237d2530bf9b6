package web

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stagelink/stagelink/lighting"
)

// TestTipReachesViewers: a tip is broadcast as `tip`, with its amount formatted as printed and its text
// made safe for the page.
func TestTipReachesViewers(t *testing.T) {
	h := newHub(t, lighting.DefaultConfig())
	v := dialViewer(t, h.url)
	at := time.Date(2026, 11, 22, 20, 15, 0, 0, time.UTC)
	want := TipMsg{Author: "Ala Kot", Amount: 123450, Currency: "PLN", Display: "1 234,50 zł", Text: "Na kawę ☕ dla Ciebie", At: at}
	// The broadcast may be lost on a fresh WebSocket (README, Known defects): send until one arrives.
	v.waitFor("a tip", func(c *client) bool {
		if len(c.events["tip"]) > 0 {
			return true
		}
		go h.srv.Tip("Ala\x1b[31m  Kot", 123450, "PLN", "Na kawę ☕\u202e\x00 dla Ciebie", at)
		return false
	})
	v.mu.Lock()
	raw := v.events["tip"][0]
	v.mu.Unlock()
	var got TipMsg
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	want.Author = "Ala[31m Kot" // ESC dropped; the rest is plain text on the page
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tip (-want +got):\n%s", diff)
	}
}
