package cli

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// TestHeartbeatWritesWhileHealthy: the file is written at once when healthy, every 10 s while it stays
// so, not at all while unhealthy, and within a poll (1 s) of becoming healthy again.
func TestHeartbeatWritesWhileHealthy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "heartbeat")
		start := time.Now()
		var healthy atomic.Bool
		check := func(context.Context) error {
			if healthy.Load() {
				return nil
			}
			return errors.New("disconnected")
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- (Heartbeat{Path: path, Check: check}).Run(ctx) }()

		steps := []struct {
			name    string
			healthy bool
			wait    time.Duration
			want    time.Duration // the time written, after start; -1: no file
		}{
			{"unhealthy at start: no file", false, 5 * time.Second, -1},
			{"healthy: written within a poll", true, time.Second, 6 * time.Second},
			{"not again before 10 s", true, 9 * time.Second, 6 * time.Second},
			{"again after 10 s", true, time.Second, 16 * time.Second},
			{"unhealthy: not written", false, 30 * time.Second, 16 * time.Second},
			{"healthy again: written at once", true, time.Second, 47 * time.Second},
		}
		for _, s := range steps {
			healthy.Store(s.healthy)
			time.Sleep(s.wait)
			synctest.Wait()
			b, err := os.ReadFile(path)
			switch {
			case s.want < 0 && err == nil:
				t.Errorf("%s: got a heartbeat %q, want no file", s.name, b)
			case s.want < 0:
			case err != nil:
				t.Errorf("%s: %v, want a heartbeat", s.name, err)
			default:
				got, perr := time.Parse(time.RFC3339Nano, strings.TrimSpace(string(b)))
				if perr != nil || got.Sub(start) != s.want {
					t.Errorf("%s: got heartbeat %q (%v after start), want %v after start", s.name, b, got.Sub(start), s.want)
				}
			}
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v, want nil after its context ended", err)
		}
	})
}
