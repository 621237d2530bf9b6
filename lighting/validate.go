package lighting

import (
	"fmt"
	"slices"
)

// ValidZoneID reports whether id is a zone id: 1 to 40 characters of a-z, 0-9 and "-".
func ValidZoneID(id string) bool {
	if len(id) == 0 || len(id) > 40 {
		return false
	}
	for i := 0; i < len(id); i++ {
		b := id[i]
		if (b < 'a' || b > 'z') && (b < '0' || b > '9') && b != '-' {
			return false
		}
	}
	return true
}

// Check validates c against a zone of the given kind offering effects: brightness, speed and
// intensity are 0–255; a relay zone takes only "on"; an rgb zone takes no effect, speed or
// intensity; a pixel zone's effect is "" (solid colour) or one of effects. Refusals are *Error with
// CodeBadRequest; an invalid kind, which is the bridge's fault and not the viewer's, is a plain error.
func (c Command) Check(kind Kind, effects []string) error {
	if !kind.Valid() {
		return fmt.Errorf("lighting: zone %q has unknown kind %q", c.Zone, kind)
	}
	if !c.changes() {
		return badRequest("nothing to change: give at least one of on, color, brightness, effect, speed, intensity")
	}
	for _, f := range []struct {
		name string
		v    *int
	}{{"brightness", c.Brightness}, {"speed", c.Speed}, {"intensity", c.Intensity}} {
		if f.v != nil && (*f.v < 0 || *f.v > 255) {
			return badRequest(fmt.Sprintf("%q must be an integer from 0 to 255", f.name))
		}
	}
	switch kind {
	case KindRelay:
		if c.Color != nil || c.Brightness != nil || c.Effect != nil || c.Speed != nil || c.Intensity != nil {
			return badRequest(`this zone is a switch: it takes only "on"`)
		}
	case KindRGB:
		if c.Effect != nil || c.Speed != nil || c.Intensity != nil {
			return badRequest(`this zone has no effects: it takes "on", "color" and "brightness"`)
		}
	case KindPixels:
		if c.Effect != nil && *c.Effect != "" && !slices.Contains(effects, *c.Effect) {
			return badRequest(fmt.Sprintf("this zone has no effect %s", quoteShort(*c.Effect)))
		}
	}
	return nil
}
