package web

import (
	"context"
	"time"
)

// DemoDevices is the simulated venue of the embedded demo: what its devices show, for the page to draw.
type DemoDevices interface {
	// Snapshot returns the `demo:devices` payload.
	Snapshot() any
	// Changed signals, without blocking, that a device's output changed.
	Changed() <-chan struct{}
}

// SetDemo makes the page draw the simulated devices. Call it before Run.
func (s *Server) SetDemo(d DemoDevices) { s.demo = d }

// runDemo broadcasts `demo:devices` when the simulated devices change, at most ten times a second.
func (s *Server) runDemo(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.demo.Changed():
		}
		s.io.Of("/", nil).Emit("demo:devices", s.demo.Snapshot())
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}
