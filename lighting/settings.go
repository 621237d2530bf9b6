package lighting

import (
	"fmt"
	"maps"
	"slices"
	"unicode"
	"unicode/utf8"
)

// maxSettings bounds how many zones SetZoneSettings takes settings for.
const maxSettings = 1024

// CheckZoneSettings validates the streamer's settings by zone id: ids as bridges announce them, names of
// at most 64 bytes of printable UTF-8, at most 512 allowed effects each named with 1–64 bytes. Settings
// may name zones no bridge has announced yet. Refusals are *Error with CodeBadRequest.
func CheckZoneSettings(m map[string]ZoneSettings) error {
	if len(m) > maxSettings {
		return badRequest(fmt.Sprintf("settings for at most %d zones", maxSettings))
	}
	for _, id := range slices.Sorted(maps.Keys(m)) { // the first fault in a stable order
		set := m[id]
		switch {
		case !ValidZoneID(id):
			return badRequest(fmt.Sprintf("zone id %q must be 1–40 of a-z, 0-9 and -", id))
		case len(set.Name) > maxNameLen || !printable(set.Name):
			return badRequest(fmt.Sprintf("zone %q: name must be at most %d bytes of printable text", id, maxNameLen))
		case len(set.Effects) > maxEffects:
			return badRequest(fmt.Sprintf("zone %q: at most %d effects", id, maxEffects))
		}
		for _, fx := range set.Effects {
			if fx == "" || len(fx) > maxNameLen || !utf8.ValidString(fx) {
				return badRequest(fmt.Sprintf("zone %q: effect names must be 1–%d bytes", id, maxNameLen))
			}
		}
	}
	return nil
}

// printable reports whether s is valid UTF-8 without control or format characters.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return false
		}
	}
	return true
}

// SetZoneSettings replaces the streamer's settings of every zone with m (a zone not in m takes the zero
// value) and broadcasts the zone list viewers see anew. Settings that do not pass CheckZoneSettings are
// refused with its error, and nothing changes.
func (s *Service) SetZoneSettings(m map[string]ZoneSettings) error {
	if err := CheckZoneSettings(m); err != nil {
		return err
	}
	own := make(map[string]ZoneSettings, len(m))
	for id, set := range m {
		if set.Effects != nil {
			set.Effects = slices.Clone(set.Effects) // the caller may reuse its slices
		}
		own[id] = set
	}
	s.mu.Lock()
	s.settings = own
	s.zonesUp = true
	s.kick()
	s.mu.Unlock()
	return nil
}

// ZoneSettings returns the streamer's settings by zone id, as SetZoneSettings last set them.
func (s *Service) ZoneSettings() map[string]ZoneSettings {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]ZoneSettings, len(s.settings))
	for id, set := range s.settings {
		set.Effects = slices.Clone(set.Effects)
		out[id] = set
	}
	return out
}
