package lighting

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDecodeCommand(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want Command
	}{
		{"on", `{"zone":"desk","on":false}`, Command{Zone: "desk", On: new(false)}},
		{"all fields", `{"zone":"desk-2","on":true,"color":"#FF8000","brightness":255,"effect":"Rainbow","speed":0,"intensity":17}`,
			Command{Zone: "desk-2", On: new(true), Color: &Color{255, 128, 0}, Brightness: new(255), Effect: new("Rainbow"), Speed: new(0), Intensity: new(17)}},
		{"solid effect", `{"zone":"a","effect":""}`, Command{Zone: "a", Effect: new("")}},
		{"whitespace", " \n{ \"color\" : \"#00ff00\" , \"zone\" : \"z\" }\n\t", Command{Zone: "z", Color: &Color{0, 255, 0}}},
		{"out of range is Check's", `{"zone":"a","brightness":-3,"speed":300}`, Command{Zone: "a", Brightness: new(-3), Speed: new(300)}},
		{"negative zero", `{"zone":"a","brightness":-0}`, Command{Zone: "a", Brightness: new(0)}},
		{"40 character zone", `{"zone":"` + strings.Repeat("a", 40) + `","on":true}`, Command{Zone: strings.Repeat("a", 40), On: new(true)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeCommand([]byte(tt.raw))
			if err != nil {
				t.Fatalf("DecodeCommand(%s): %v", tt.raw, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("DecodeCommand(%s) mismatch (-want +got):\n%s", tt.raw, diff)
			}
		})
	}
}

func TestDecodeCommandRefuses(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want string // the *Error's message contains this
	}{
		{"empty", ``, "not valid JSON"},
		{"syntax", `{"zone":"a","on":tru}`, "not valid JSON"},
		{"unterminated", `{"zone":"a","on":true`, "not valid JSON"},
		{"array", `[{"zone":"a","on":true}]`, "must be a JSON object"},
		{"string", `"desk"`, "must be a JSON object"},
		{"null", `null`, "must be a JSON object"},
		{"trailing object", `{"zone":"a","on":true}{}`, "data after the JSON object"},
		{"trailing garbage", `{"zone":"a","on":true} x`, "data after the JSON object"},
		{"too large", `{"zone":"a","on":true,"effect":"` + strings.Repeat("x", MaxCommandSize) + `"}`, "larger than 1024 bytes"},
		{"invalid utf-8", "{\"zone\":\"a\",\"effect\":\"\xff\"}", "not valid UTF-8"},
		{"unknown field", `{"zone":"a","on":true,"blink":true}`, `unknown field "blink"`},
		{"field case", `{"Zone":"a","on":true}`, `unknown field "Zone"`},
		{"repeated field", `{"zone":"a","on":true,"on":false}`, `field "on" is repeated`},
		{"no zone", `{"on":true}`, `"zone" is required`},
		{"empty zone", `{"zone":"","on":true}`, `"zone" must be`},
		{"upper-case zone", `{"zone":"Desk","on":true}`, `"zone" must be`},
		{"long zone", `{"zone":"` + strings.Repeat("a", 41) + `","on":true}`, `"zone" must be`},
		{"zone number", `{"zone":7,"on":true}`, `"zone" must be a string`},
		{"nothing to change", `{"zone":"a"}`, "nothing to change"},
		{"empty object", `{}`, "nothing to change"},
		{"brightness string", `{"zone":"a","brightness":"10"}`, `"brightness" must be an integer from 0 to 255, not a string`},
		{"brightness fraction", `{"zone":"a","brightness":1.5}`, `"brightness" must be an integer from 0 to 255, not a fraction`},
		{"brightness exponent", `{"zone":"a","brightness":1e2}`, `"brightness" must be an integer`},
		{"brightness huge", `{"zone":"a","brightness":123456789012345678901234567890}`, `"brightness" must be an integer from 0 to 255`},
		{"speed null", `{"zone":"a","speed":null}`, `"speed" must be an integer from 0 to 255, not null`},
		{"intensity bool", `{"zone":"a","intensity":true}`, `"intensity" must be an integer from 0 to 255, not a boolean`},
		{"on number", `{"zone":"a","on":1}`, `"on" must be true or false`},
		{"on string", `{"zone":"a","on":"true"}`, `"on" must be true or false`},
		{"on null", `{"zone":"a","on":null}`, `"on" must be true or false`},
		{"color number", `{"zone":"a","color":123}`, `"color" must be a string`},
		{"color short", `{"zone":"a","color":"#fff"}`, `"color" must be a string "#rrggbb"`},
		{"color name", `{"zone":"a","color":"red"}`, `"color" must be a string "#rrggbb"`},
		{"color array", `{"zone":"a","color":[255,0,0]}`, `"color" must be a string`},
		{"long effect", `{"zone":"a","effect":"` + strings.Repeat("x", 65) + `"}`, `"effect" must be at most 64 bytes`},
		{"effect number", `{"zone":"a","effect":3}`, `"effect" must be a string`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeCommand([]byte(tt.raw))
			if err == nil {
				t.Fatalf("DecodeCommand(%s) = %+v, want an error", tt.raw, got)
			}
			e, ok := err.(*Error)
			if !ok {
				t.Fatalf("DecodeCommand(%s) error %T %v, want *Error", tt.raw, err, err)
			}
			if e.Code != CodeBadRequest || !strings.Contains(e.Message, tt.want) {
				t.Errorf("DecodeCommand(%s) error = %v, want bad_request containing %q", tt.raw, err, tt.want)
			}
			if diff := cmp.Diff(Command{}, got); diff != "" {
				t.Errorf("DecodeCommand(%s) returned a command with its error:\n%s", tt.raw, diff)
			}
		})
	}
}

func TestDecodeChange(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		want    Command
		wantErr string
	}{
		{name: "no zone", raw: `{"color":"#102030"}`, want: Command{Color: &Color{0x10, 0x20, 0x30}}},
		{name: "zone", raw: `{"zone":"lamp","on":false}`, want: Command{Zone: "lamp", On: new(false)}},
		{name: "bad zone", raw: `{"zone":"LAMP","on":false}`, wantErr: `"zone" must be`},
		{name: "nothing", raw: `{}`, wantErr: "nothing to change"},
		{name: "unknown", raw: `{"on":true,"x":1}`, wantErr: `unknown field "x"`},
		{name: "type", raw: `{"brightness":"1"}`, wantErr: `"brightness" must be an integer`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeChange([]byte(tt.raw))
			if tt.wantErr != "" {
				if ErrorCode(err) != CodeBadRequest || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("DecodeChange(%s) error = %v, want bad_request containing %q", tt.raw, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("DecodeChange(%s): %v", tt.raw, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("DecodeChange(%s) mismatch (-want +got):\n%s", tt.raw, diff)
			}
		})
	}
}

func TestApply(t *testing.T) {
	base := State{On: true, Color: Color{1, 2, 3}, Brightness: 10, Effect: "Blink", Speed: 20, Intensity: 30, UpdatedAt: 99, By: "ann"}
	tests := []struct {
		name string
		c    Command
		want State
	}{
		{"nothing named", Command{Zone: "a"}, base},
		{"on", Command{On: new(false)}, State{On: false, Color: Color{1, 2, 3}, Brightness: 10, Effect: "Blink", Speed: 20, Intensity: 30, UpdatedAt: 99, By: "ann"}},
		{"colour and brightness", Command{Color: &Color{9, 8, 7}, Brightness: new(0)}, State{On: true, Color: Color{9, 8, 7}, Brightness: 0, Effect: "Blink", Speed: 20, Intensity: 30, UpdatedAt: 99, By: "ann"}},
		{"effect to solid", Command{Effect: new(""), Speed: new(255), Intensity: new(1)}, State{On: true, Color: Color{1, 2, 3}, Brightness: 10, Speed: 255, Intensity: 1, UpdatedAt: 99, By: "ann"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.c.Apply(base)); diff != "" {
				t.Errorf("Apply mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzDecodeCommand(f *testing.F) {
	for _, s := range []string{
		`{"zone":"desk","on":true}`,
		`{"zone":"desk-2","on":true,"color":"#FF8000","brightness":255,"effect":"Rainbow","speed":0,"intensity":17}`,
		`{"zone":"a","effect":""}`,
		`{"zone":"a","brightness":1.5}`,
		`{"zone":"a","brightness":"10"}`,
		`{"zone":"a","on":1}`,
		`{"zone":"a","color":123}`,
		`{"zone":"a","on":true}{}`,
		`{"zone":"a","on":true,"on":false}`,
		`{"zone":"a","effect":"\u00e9\ud800"}`,
		`{"zone":"a","brightness":-0,"speed":99999999999999999999}`,
		`[]`, `null`, ``, `{`, `{"zone"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		c, err := DecodeCommand(raw)
		change, changeErr := DecodeChange(raw)
		if err != nil {
			if ErrorCode(err) != CodeBadRequest {
				t.Fatalf("DecodeCommand(%q) error %v is not bad_request", raw, err)
			}
			if c != (Command{}) {
				t.Fatalf("DecodeCommand(%q) returned %+v with its error", raw, c)
			}
			return
		}
		if changeErr != nil {
			t.Fatalf("DecodeCommand(%q) accepts but DecodeChange refuses: %v", raw, changeErr)
		}
		if diff := cmp.Diff(c, change); diff != "" {
			t.Fatalf("DecodeCommand and DecodeChange of %q differ:\n%s", raw, diff)
		}
		for _, k := range []Kind{KindPixels, KindRGB, KindRelay} {
			_ = c.Check(k, []string{"Rainbow"})
		}
		_ = c.Apply(DefaultState())
		again, err := json.Marshal(c)
		if err != nil {
			t.Fatalf("Marshal(%+v): %v", c, err)
		}
		c2, err := DecodeCommand(again)
		if err != nil {
			t.Fatalf("DecodeCommand(%q) re-encoded as %s does not decode: %v", raw, again, err)
		}
		if diff := cmp.Diff(c, c2); diff != "" {
			t.Fatalf("round trip of %q through %s changed it (-first +second):\n%s", raw, again, diff)
		}
	})
}
