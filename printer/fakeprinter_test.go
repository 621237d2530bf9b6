package printer

import (
	"log/slog"
	"net"
	"testing"
)

// TestFakeDrainNeverCountsBackwards: a budget below zero (a tick due before the start time was read, on a
// loaded machine) once made the fake printer slice its buffer at a negative index and take the hub's demo
// down. It now prints nothing on such a tick.
func TestFakeDrainNeverCountsBackwards(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	f := NewFakePrinter(a, FakePrinterConfig{}, slog.New(slog.DiscardHandler))
	f.buf = []byte("receipt")
	if left := f.fakeDrain(-68.5); left > 0 {
		t.Errorf("fakeDrain(-68.5) left a budget of %v", left)
	}
	if string(f.buf) != "receipt" {
		t.Errorf("buffer = %q after a negative budget, want it untouched", f.buf)
	}
}
