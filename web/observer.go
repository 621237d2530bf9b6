package web

import (
	"time"

	"github.com/stagelink/stagelink/lighting"
)

// lightObserver counts light commands and their click-to-device latency for /metrics and the
// dashboard's charts. It runs on the command path, so it only adds to atomic counters.
type lightObserver struct {
	metrics *Metrics
	history *History
}

var _ lighting.Observer = lightObserver{}

// Command implements lighting.Observer.
func (o lightObserver) Command(_ lighting.Viewer, _ lighting.Command, _ lighting.Entry, err error) {
	o.metrics.command(err)
	o.history.command(err == nil)
}

// Confirmed implements lighting.Observer. A zero latency (a version this process did not accept) says
// nothing about the path from click to device and is left out.
func (o lightObserver) Confirmed(_ string, _ int64, latency time.Duration) {
	if latency <= 0 {
		return
	}
	o.metrics.confirmed(latency)
	o.history.confirmed(latency)
}

// Metrics returns the web layer's Prometheus collector, to register in the hub's registry.
func (s *Server) Metrics() *Metrics { return s.metrics }
