package web

import (
	"net/http"
	"net/netip"
	"testing"

	"github.com/stagelink/stagelink/lighting"
)

func TestClientIP(t *testing.T) {
	trusted, err := ParseTrustedProxies("10.0.0.0/8, 127.0.0.1,::1")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		peer      string
		forwarded []string
		want      string
	}{
		{"no proxy", "198.51.100.4", nil, "198.51.100.4"},
		{"untrusted peer's header ignored", "198.51.100.4", []string{"203.0.113.9"}, "198.51.100.4"},
		{"trusted proxy", "127.0.0.1", []string{"203.0.113.9"}, "203.0.113.9"},
		{"IPv6 loopback proxy", "::1", []string{"2001:db8::7"}, "2001:db8::7"},
		{"chain of trusted proxies", "127.0.0.1", []string{"203.0.113.9, 10.1.2.3", "10.4.5.6"}, "203.0.113.9"},
		{"forged left-most entry", "127.0.0.1", []string{"192.0.2.66, 203.0.113.9"}, "203.0.113.9"},
		{"garbage hop", "127.0.0.1", []string{"203.0.113.9, not-an-ip"}, "127.0.0.1"},
		{"garbage behind trusted hop", "127.0.0.1", []string{"<script>, 10.9.9.9"}, "10.9.9.9"},
		{"only trusted hops", "10.0.0.1", []string{"10.0.0.2"}, "10.0.0.2"},
		{"trusted, no header", "10.0.0.1", nil, "10.0.0.1"},
		{"mapped IPv4", "::ffff:127.0.0.1", []string{"::ffff:203.0.113.9"}, "203.0.113.9"},
		{"peer not an address", "unix-socket", []string{"203.0.113.9"}, "unix-socket"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := clientIP(tt.peer, tt.forwarded, trusted); got != tt.want {
				t.Errorf("clientIP(%q, %q) = %q, want %q", tt.peer, tt.forwarded, got, tt.want)
			}
		})
	}
}

func TestParseTrustedProxies(t *testing.T) {
	got, err := ParseTrustedProxies(" 10.1.2.3/8 ,fd00::1 ,, ")
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::1/128")}
	if err != nil || len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("ParseTrustedProxies = %v, %v; want %v", got, err, want)
	}
	for _, bad := range []string{"10.0.0.0/33", "nginx", "10.0.0.1/"} {
		if _, err := ParseTrustedProxies(bad); err == nil {
			t.Errorf("ParseTrustedProxies(%q) took it", bad)
		}
	}
}

// TestViewerBehindProxy: behind a trusted proxy, a viewer's address (for blocks and per-address limits)
// is the one the proxy forwards; from an untrusted peer the header is ignored.
func TestViewerBehindProxy(t *testing.T) {
	for _, tt := range []struct {
		name    string
		trusted string
		want    lighting.Code
	}{
		{"trusted", "127.0.0.0/8,::1", lighting.CodeBlocked},
		{"untrusted", "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			trusted, _ := ParseTrustedProxies(tt.trusted)
			h := newAPIHub(t, Config{TrustedProxies: trusted}, lighting.DefaultConfig())
			if err := h.lights.SetBlocks(nil, []string{"203.0.113.7"}); err != nil {
				t.Fatal(err)
			}
			v, err := dialHeaders(t, h.url, "/", nil, http.Header{"X-Forwarded-For": {"203.0.113.7"}}, false)
			if err != nil {
				t.Fatal(err)
			}
			ack := v.emit("light:set", map[string]any{"zone": "desk", "on": true})
			var code lighting.Code
			if ack.Error != nil {
				code = ack.Error.Code
			}
			if code != tt.want || (tt.want == "" && !ack.OK) {
				t.Errorf("ack = %+v %+v, want code %q", ack, ack.Error, tt.want)
			}
		})
	}
}
