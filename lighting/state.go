package lighting

import (
	"encoding/hex"
	"fmt"
	"time"
)

// Kind says what a zone is and which state fields it uses.
type Kind string

// The zone kinds of the contract.
const (
	KindPixels Kind = "pixels" // a WLED segment: colour, brightness, effects
	KindRGB    Kind = "rgb"    // three PWM channels: colour, brightness
	KindRelay  Kind = "relay"  // a relay: on/off only
)

// Valid reports whether k is one of the contract's kinds.
func (k Kind) Valid() bool {
	switch k {
	case KindPixels, KindRGB, KindRelay:
		return true
	}
	return false
}

// Color is an sRGB colour; its JSON form is "#rrggbb".
type Color struct{ R, G, B uint8 }

// String returns the colour as "#rrggbb".
func (c Color) String() string {
	return fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B)
}

// ParseColor parses "#rrggbb" (either case).
func ParseColor(s string) (Color, error) {
	if len(s) != 7 || s[0] != '#' {
		return Color{}, fmt.Errorf("colour %q is not #rrggbb", s)
	}
	var b [3]byte
	if _, err := hex.Decode(b[:], []byte(s[1:])); err != nil {
		return Color{}, fmt.Errorf("colour %q is not #rrggbb", s)
	}
	return Color{b[0], b[1], b[2]}, nil
}

// MarshalText implements encoding.TextMarshaler.
func (c Color) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (c *Color) UnmarshalText(b []byte) error {
	v, err := ParseColor(string(b))
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// State is what a zone shows. The hub is its source of truth.
type State struct {
	On         bool   `json:"on"`
	Color      Color  `json:"color"`
	Brightness int    `json:"brightness"`          // 0–255
	Effect     string `json:"effect,omitempty"`    // pixel zones only; "" is solid colour
	Speed      int    `json:"speed"`               // 0–255
	Intensity  int    `json:"intensity"`           // 0–255
	UpdatedAt  int64  `json:"updatedAt,omitempty"` // Unix milliseconds of the change
	By         string `json:"by,omitempty"`        // display name of who changed it
}

// DefaultState is the state of a zone nobody has touched yet.
func DefaultState() State {
	return State{On: true, Color: Color{255, 160, 60}, Brightness: 128, Speed: 128, Intensity: 128}
}

// UpdatedTime returns UpdatedAt as a time.
func (s State) UpdatedTime() time.Time { return time.UnixMilli(s.UpdatedAt) }
