package lighting

import "time"

// Observer hears what the Service does, for metrics and the dashboard's activity feed. Its methods are
// called on the command path and must not block.
type Observer interface {
	// Command reports one command: accepted (err nil, e the new entry) or refused (err an *Error, or
	// another error reported as CodeInternal).
	Command(v Viewer, c Command, e Entry, err error)
	// Confirmed reports that a bridge applied version of zone, latency after the hub accepted that
	// version (zero when this process did not accept it, or accepted a newer version of the zone since).
	// It is called once per version, when the bridge first confirms it.
	Confirmed(zone string, version int64, latency time.Duration)
}

// ZoneSettings is how the streamer shows a zone to viewers, over what its bridge announces. The zero value
// changes nothing.
type ZoneSettings struct {
	Name     string   `json:"name,omitempty"`     // display name; "" keeps the bridge's
	Order    int      `json:"order"`              // zones are listed by Order, then in announcement order
	Hidden   bool     `json:"hidden,omitempty"`   // not listed to viewers, and commands to it are refused
	Disabled bool     `json:"disabled,omitempty"` // listed, but commands to it are refused with CodePaused
	Effects  []string `json:"effects"`            // effects viewers may pick; null allows every announced one, [] none
}

// observerRef holds an Observer for an atomic.Pointer.
type observerRef struct{ o Observer }

// Observe makes o hear every command (Set and Apply) and every first confirmation of a version from
// now on; nil stops that. It is safe to call at any time, usually once before Run.
func (s *Service) Observe(o Observer) {
	if o == nil {
		s.obs.Store(nil)
		return
	}
	s.obs.Store(&observerRef{o})
}

// observer returns the current Observer, nil when there is none.
func (s *Service) observer() Observer {
	if r := s.obs.Load(); r != nil {
		return r.o
	}
	return nil
}
