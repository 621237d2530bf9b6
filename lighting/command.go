package lighting

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

// Command is a viewer's `light:set`: the fields it names change, the others stay as they are.
type Command struct {
	Zone       string  `json:"zone"`
	On         *bool   `json:"on,omitempty"`
	Color      *Color  `json:"color,omitempty"`
	Brightness *int    `json:"brightness,omitempty"`
	Effect     *string `json:"effect,omitempty"`
	Speed      *int    `json:"speed,omitempty"`
	Intensity  *int    `json:"intensity,omitempty"`
}

// maxEffectLen bounds an effect name, so that any command DecodeCommand accepts also fits
// MaxCommandSize when encoded again (json.Marshal may escape a character into 6 bytes).
const maxEffectLen = 64

// MaxCommandSize is the largest `light:set` payload DecodeCommand and DecodeChange accept, in bytes.
const MaxCommandSize = 1024

// DecodeCommand strictly decodes a `light:set` payload: one JSON object with a valid "zone" and at
// least one of the change fields, each of its JSON type. Unknown or repeated fields, null values,
// fractional numbers, trailing data and payloads over MaxCommandSize are refused. Values are not
// checked against a zone: that is Check's job. Errors are *Error with CodeBadRequest.
func DecodeCommand(raw []byte) (Command, error) {
	c, err := decodeCommand(raw)
	if err != nil {
		return Command{}, err
	}
	if c.Zone == "" {
		return Command{}, badRequest(`"zone" is required`)
	}
	return c, nil
}

// DecodeChange is DecodeCommand for a body that names its zone elsewhere, such as
// `POST /api/v1/zones/{id}/state`: "zone" may be left out. When present it must still be a valid
// zone id; whether it must equal the path's is the caller's decision.
func DecodeChange(raw []byte) (Command, error) {
	return decodeCommand(raw)
}

func decodeCommand(raw []byte) (Command, error) {
	if len(raw) > MaxCommandSize {
		return Command{}, badRequest(fmt.Sprintf("payload is larger than %d bytes", MaxCommandSize))
	}
	if !utf8.Valid(raw) {
		return Command{}, badRequest("payload is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return Command{}, badRequest("payload is not valid JSON")
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return Command{}, badRequest("payload must be a JSON object")
	}
	var c Command
	seen := make(map[string]bool, 7)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return Command{}, badRequest("payload is not valid JSON")
		}
		key, ok := tok.(string)
		if !ok {
			return Command{}, badRequest("payload is not valid JSON")
		}
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return Command{}, badRequest("payload is not valid JSON")
		}
		if seen[key] {
			return Command{}, badRequest(fmt.Sprintf("field %s is repeated", quoteShort(key)))
		}
		seen[key] = true
		if err := c.setField(key, val); err != nil {
			return Command{}, err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return Command{}, badRequest("payload is not valid JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return Command{}, badRequest("payload has data after the JSON object")
	}
	if !c.changes() {
		return Command{}, badRequest("nothing to change: give at least one of on, color, brightness, effect, speed, intensity")
	}
	return c, nil
}

// setField decodes one field of a `light:set` payload into c.
func (c *Command) setField(key string, val json.RawMessage) error {
	switch key {
	case "zone":
		s, err := decodeString(key, val)
		if err != nil {
			return err
		}
		if !ValidZoneID(s) {
			return badRequest(`"zone" must be 1 to 40 characters a-z, 0-9 or "-"`)
		}
		c.Zone = s
	case "on":
		switch string(val) {
		case "true", "false":
			b := string(val) == "true"
			c.On = &b
		default:
			return badRequest(`"on" must be true or false`)
		}
	case "color":
		s, err := decodeString(key, val)
		if err != nil {
			return err
		}
		col, err := ParseColor(s)
		if err != nil {
			return badRequest(`"color" must be a string "#rrggbb"`)
		}
		c.Color = &col
	case "brightness":
		n, err := decodeByte(key, val)
		if err != nil {
			return err
		}
		c.Brightness = &n
	case "effect":
		s, err := decodeString(key, val)
		if err != nil {
			return err
		}
		if len(s) > maxEffectLen {
			return badRequest(fmt.Sprintf(`"effect" must be at most %d bytes`, maxEffectLen))
		}
		c.Effect = &s
	case "speed":
		n, err := decodeByte(key, val)
		if err != nil {
			return err
		}
		c.Speed = &n
	case "intensity":
		n, err := decodeByte(key, val)
		if err != nil {
			return err
		}
		c.Intensity = &n
	default:
		return badRequest(fmt.Sprintf("unknown field %s", quoteShort(key)))
	}
	return nil
}

// changes reports whether c names at least one field to change.
func (c Command) changes() bool {
	return c.On != nil || c.Color != nil || c.Brightness != nil || c.Effect != nil ||
		c.Speed != nil || c.Intensity != nil
}

// Apply returns st with the fields c names changed. It does not validate (see Check) and leaves
// UpdatedAt and By to the caller.
func (c Command) Apply(st State) State {
	if c.On != nil {
		st.On = *c.On
	}
	if c.Color != nil {
		st.Color = *c.Color
	}
	if c.Brightness != nil {
		st.Brightness = *c.Brightness
	}
	if c.Effect != nil {
		st.Effect = *c.Effect
	}
	if c.Speed != nil {
		st.Speed = *c.Speed
	}
	if c.Intensity != nil {
		st.Intensity = *c.Intensity
	}
	return st
}

func decodeString(key string, val json.RawMessage) (string, error) {
	if len(val) == 0 || val[0] != '"' {
		return "", badRequest(fmt.Sprintf("%q must be a string", key))
	}
	var s string
	if err := json.Unmarshal(val, &s); err != nil {
		return "", badRequest(fmt.Sprintf("%q must be a string", key))
	}
	return s, nil
}

// decodeByte decodes a JSON integer; the 0–255 range is Check's, so a too large value can be
// reported with the zone's other faults, but it must fit an int.
func decodeByte(key string, val json.RawMessage) (int, error) {
	n, err := strconv.ParseInt(string(val), 10, 0)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return 0, badRequest(fmt.Sprintf("%q must be an integer from 0 to 255", key))
		}
		return 0, badRequest(fmt.Sprintf("%q must be an integer from 0 to 255, not %s", key, jsonKind(val)))
	}
	return int(n), nil
}

// jsonKind names the JSON type of a valid JSON value, for error messages.
func jsonKind(val json.RawMessage) string {
	if len(val) == 0 {
		return "empty"
	}
	switch val[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a fraction or exponent"
}

// quoteShort quotes s for an error message, cut to a length a viewer wants to read.
func quoteShort(s string) string {
	const limit = 40
	if utf8.RuneCountInString(s) > limit {
		r := []rune(s)
		return strconv.Quote(string(r[:limit]) + "…")
	}
	return strconv.Quote(s)
}
