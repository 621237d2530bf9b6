package lighting

import (
	"strings"
	"testing"
)

func TestValidZoneID(t *testing.T) {
	for id, want := range map[string]bool{
		"desk": true, "a": true, "0": true, "desk-2": true, "-": true, strings.Repeat("z", 40): true,
		"": false, "Desk": false, "desk_2": false, "desk strip": false, "dé": false, strings.Repeat("z", 41): false,
	} {
		if got := ValidZoneID(id); got != want {
			t.Errorf("ValidZoneID(%q) = %v, want %v", id, got, want)
		}
	}
}

func TestCheck(t *testing.T) {
	effects := []string{"Solid", "Rainbow", "Fire 2012"}
	tests := []struct {
		name    string
		kind    Kind
		c       Command
		wantErr string // "" for valid; else the *Error message contains it
	}{
		{"pixels everything", KindPixels, Command{Zone: "a", On: new(true), Color: &Color{1, 2, 3}, Brightness: new(255), Effect: new("Fire 2012"), Speed: new(0), Intensity: new(128)}, ""},
		{"pixels solid", KindPixels, Command{Zone: "a", Effect: new("")}, ""},
		{"pixels unknown effect", KindPixels, Command{Zone: "a", Effect: new("Strobe")}, `this zone has no effect "Strobe"`},
		{"pixels effect case", KindPixels, Command{Zone: "a", Effect: new("rainbow")}, `no effect "rainbow"`},
		{"pixels no effects", KindPixels, Command{Zone: "a", Effect: new("Rainbow")}, "no effect"},
		{"brightness low", KindPixels, Command{Zone: "a", Brightness: new(-1)}, `"brightness" must be an integer from 0 to 255`},
		{"brightness high", KindRGB, Command{Zone: "a", Brightness: new(256)}, `"brightness" must be an integer from 0 to 255`},
		{"speed high", KindPixels, Command{Zone: "a", Speed: new(1000)}, `"speed" must be`},
		{"intensity low", KindPixels, Command{Zone: "a", Intensity: new(-255)}, `"intensity" must be`},
		{"rgb colour", KindRGB, Command{Zone: "a", On: new(false), Color: &Color{}, Brightness: new(0)}, ""},
		{"rgb effect", KindRGB, Command{Zone: "a", Effect: new("")}, "this zone has no effects"},
		{"rgb speed", KindRGB, Command{Zone: "a", Speed: new(1)}, "this zone has no effects"},
		{"rgb intensity", KindRGB, Command{Zone: "a", Intensity: new(1)}, "this zone has no effects"},
		{"relay on", KindRelay, Command{Zone: "a", On: new(false)}, ""},
		{"relay colour", KindRelay, Command{Zone: "a", On: new(true), Color: &Color{}}, `it takes only "on"`},
		{"relay brightness", KindRelay, Command{Zone: "a", Brightness: new(9)}, `it takes only "on"`},
		{"relay effect", KindRelay, Command{Zone: "a", Effect: new("")}, `it takes only "on"`},
		{"nothing", KindPixels, Command{Zone: "a"}, "nothing to change"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			zoneEffects := effects
			if tt.name == "pixels no effects" {
				zoneEffects = nil
			}
			err := tt.c.Check(tt.kind, zoneEffects)
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("Check(%s) = %v, want nil", tt.kind, err)
				}
				return
			}
			e, ok := err.(*Error)
			if !ok || e.Code != CodeBadRequest || !strings.Contains(e.Message, tt.wantErr) {
				t.Errorf("Check(%s) = %v, want bad_request containing %q", tt.kind, err, tt.wantErr)
			}
		})
	}
}

func TestCheckUnknownKind(t *testing.T) {
	err := Command{Zone: "a", On: new(true)}.Check("strobe", nil)
	if err == nil || ErrorCode(err) != CodeInternal {
		t.Errorf("Check with an unknown kind = %v, want an internal error", err)
	}
}

func TestDecodeThenCheck(t *testing.T) {
	// The whole viewer path: a payload refused by either step is bad_request.
	for raw, want := range map[string]Code{
		`{"zone":"a","brightness":256}`: CodeBadRequest,
		`{"zone":"a","brightness":255}`: "",
		`{"zone":"a","effect":"Nope"}`:  CodeBadRequest,
	} {
		c, err := DecodeCommand([]byte(raw))
		if err == nil {
			err = c.Check(KindPixels, []string{"Rainbow"})
		}
		var got Code
		if err != nil {
			got = ErrorCode(err)
		}
		if got != want {
			t.Errorf("%s: code %q (%v), want %q", raw, got, err, want)
		}
	}
}
