package lighting

import (
	"errors"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/google/go-cmp/cmp"
)

func TestServiceBlocks(t *testing.T) {
	names := []string{"Troll", " spammer ", "Ünïcode"}
	ips := []string{"192.0.2.7", "2001:db8::1", "::ffff:198.51.100.3"}
	tests := []struct {
		name    string
		v       Viewer
		blocked bool
	}{
		{"name", Viewer{Conn: "c", IP: "203.0.113.1", Name: "Troll"}, true},
		{"name in another case", Viewer{Conn: "c", IP: "203.0.113.1", Name: "tROLL"}, true},
		{"name with spaces", Viewer{Conn: "c", IP: "203.0.113.1", Name: "Spammer"}, true},
		{"non-ASCII name", Viewer{Conn: "c", IP: "203.0.113.1", Name: "üNÏCODE"}, true},
		{"address", Viewer{Conn: "c", IP: "192.0.2.7", Name: "ann"}, true},
		{"IPv6 address, other spelling", Viewer{Conn: "c", IP: "2001:0db8:0:0::1", Name: "ann"}, true},
		{"IPv4 blocked as mapped", Viewer{Conn: "c", IP: "198.51.100.3", Name: "ann"}, true},
		{"mapped viewer of a blocked IPv4", Viewer{Conn: "c", IP: "::ffff:192.0.2.7", Name: "ann"}, true},
		{"other viewer", Viewer{Conn: "c", IP: "192.0.2.8", Name: "Trolley"}, false},
		{"API client without address", Viewer{Name: "api"}, false},
		{"address that is not one", Viewer{Conn: "c", IP: "not an ip", Name: "ann"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				store := NewMemoryStore()
				s, link := newTestService(t, roomyConfig(), store)
				if err := s.SetBlocks(names, ips); err != nil {
					t.Fatalf("SetBlocks: %v", err)
				}
				before := takeSnapshot(t, s, store)
				_, err := s.Set(t.Context(), tt.v, Command{Zone: "desk", On: new(false)})
				if !tt.blocked {
					if err != nil {
						t.Errorf("Set by %+v = %v, want accepted", tt.v, err)
					}
					return
				}
				e, ok := errors.AsType[*Error](err)
				if !ok || e.Code != CodeBlocked || e.Message != "you cannot change the lights on this stream" {
					t.Fatalf("Set by %+v = %v, want blocked", tt.v, err)
				}
				if diff := cmp.Diff(before, takeSnapshot(t, s, store)); diff != "" {
					t.Errorf("a blocked Set changed the state (-before +after):\n%s", diff)
				}
				if got := link.take(); len(got) != 0 {
					t.Errorf("got Apply calls %+v for a blocked viewer", got)
				}
				// Blocked comes before every other refusal, and the list can be lifted.
				s.SetPaused(true)
				if _, err := s.Set(t.Context(), tt.v, Command{Zone: "nosuch", On: new(false)}); ErrorCode(err) != CodeBlocked {
					t.Errorf("Set while paused to an unknown zone = %v, want blocked", err)
				}
				s.SetPaused(false)
				if err := s.SetBlocks(nil, nil); err != nil {
					t.Fatal(err)
				}
				if _, err := s.Set(t.Context(), tt.v, Command{Zone: "desk", On: new(false)}); err != nil {
					t.Errorf("Set after the block list was emptied = %v, want accepted", err)
				}
			})
		})
	}
}

func TestSetBlocksRefused(t *testing.T) {
	tests := []struct {
		name  string
		names []string
		ips   []string
		want  string
	}{
		{"empty name", []string{"ok", "  "}, nil, "blocked names must be 1–128 bytes"},
		{"long name", []string{strings.Repeat("x", 129)}, nil, "1–128 bytes"},
		{"bad address", nil, []string{"192.0.2.1", "192.0.2.0/24"}, `"192.0.2.0/24" is not an IP address`},
		{"too many names", make([]string, maxBlocks+1), nil, "at most 10000"},
		{"too many addresses", nil, make([]string, maxBlocks+1), "at most 10000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewService(roomyConfig(), NewMemoryStore(), NewMemoryLimiter(), discardLog())
			if err := s.AttachBridge(t.Context(), &fakeLink{}, "studio", testSpecs); err != nil {
				t.Fatal(err)
			}
			if err := s.SetBlocks([]string{"troll"}, nil); err != nil {
				t.Fatal(err)
			}
			err := s.SetBlocks(tt.names, tt.ips)
			if e, ok := errors.AsType[*Error](err); !ok || e.Code != CodeBadRequest || !strings.Contains(e.Message, tt.want) {
				t.Errorf("SetBlocks = %v, want bad_request with %q", err, tt.want)
			}
			if _, err := s.Set(t.Context(), Viewer{Name: "Troll"}, Command{Zone: "desk", On: new(true)}); ErrorCode(err) != CodeBlocked {
				t.Errorf("after a refused SetBlocks, Set = %v, want the old list to still block", err)
			}
		})
	}
}
