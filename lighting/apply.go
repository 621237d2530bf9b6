package lighting

import (
	"context"
	"errors"
	"fmt"
)

// maxApply bounds the commands of one Apply.
const maxApply = 256

// Apply is the streamer's own change (a preset, the dashboard), made as by: it sets several zones at once,
// bypassing the pause, rate limits, blocks and the streamer's zone settings (hidden, disabled, allowed
// effects). Each command is still checked against its zone's kind and announced effects (Command.Check).
// All are checked before any is applied: if one is invalid, names a zone the hub has never seen or a zone
// named before, nothing changes and the error (an *Error naming the zone) says why. A zone whose bridge is
// gone still takes its new state; the bridge gets it when it returns. Apply returns the new entry of each
// command, in order. Should the store fail part way, the zones before stay changed and their entries are
// returned with the error. Every command is reported to the Observer, as from Viewer{Name: by}.
func (s *Service) Apply(ctx context.Context, by string, cmds []Command) ([]Entry, error) {
	v := Viewer{Name: by}
	entries, err := s.apply(ctx, v, cmds)
	if o := s.observer(); o != nil {
		for i, c := range cmds {
			if i < len(entries) {
				o.Command(v, c, entries[i], nil)
				continue
			}
			o.Command(v, c, Entry{}, err)
		}
	}
	return entries, err
}

func (s *Service) apply(ctx context.Context, v Viewer, cmds []Command) ([]Entry, error) {
	switch {
	case len(cmds) == 0:
		return nil, badRequest("nothing to apply: give at least one command")
	case len(cmds) > maxApply:
		return nil, badRequest(fmt.Sprintf("at most %d commands at once", maxApply))
	}
	specs := make([]ZoneSpec, len(cmds))
	seen := make(map[string]bool, len(cmds))
	s.mu.Lock()
	for i, c := range cmds {
		z := s.zones[c.Zone]
		if z == nil {
			s.mu.Unlock()
			return nil, &Error{Code: CodeUnknownZone, Message: fmt.Sprintf("there is no zone %q", c.Zone)}
		}
		if seen[c.Zone] {
			s.mu.Unlock()
			return nil, badRequest(fmt.Sprintf("zone %q is named twice", c.Zone))
		}
		seen[c.Zone] = true
		specs[i] = z.spec
	}
	s.mu.Unlock()
	for i, c := range cmds {
		if err := c.Check(specs[i].Kind, specs[i].Effects); err != nil {
			if e, ok := errors.AsType[*Error](err); ok {
				return nil, &Error{Code: e.Code, Message: fmt.Sprintf("zone %q: %s", c.Zone, e.Message)}
			}
			return nil, err
		}
	}
	entries := make([]Entry, 0, len(cmds))
	for _, c := range cmds {
		e, err := s.commit(ctx, v, c)
		if err != nil {
			return entries, err
		}
		entries = append(entries, e)
	}
	return entries, nil
}
