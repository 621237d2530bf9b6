package cli

import (
	"context"
	"log/slog"
	"os"
	"time"
)

// Heartbeat writes the current time to a file while the program is healthy, for a liveness check of a
// program that serves no HTTP (an agent that dials out): a container's HEALTHCHECK or a supervisor runs
// `<program> healthcheck`, which fails once the file is older than its -max-age (see CheckHeartbeat).
type Heartbeat struct {
	// Path is the file written.
	Path string
	// Check reports whether the program is healthy: nil while, for example, it is connected.
	Check func(context.Context) error
	// Every is how often the file is written while healthy (default 10 s); Poll is how often Check is
	// asked (default 1 s), so the file is written at once after a reconnect.
	Every, Poll time.Duration
	// Log hears why a write failed and when health changes.
	Log *slog.Logger
}

// Run writes the heartbeat until ctx ends. A failed write is logged, not fatal: the check then fails,
// which is what it is for.
func (h Heartbeat) Run(ctx context.Context) error {
	every, poll, log := h.Every, h.Poll, h.Log
	if every <= 0 {
		every = 10 * time.Second
	}
	if poll <= 0 || poll > every {
		poll = min(time.Second, every)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	tick := time.NewTicker(poll)
	defer tick.Stop()
	var last time.Time // of the last write; zero while unhealthy
	for {
		err := h.Check(ctx)
		switch {
		case err != nil && !last.IsZero():
			log.Warn("unhealthy: heartbeat stopped", "err", err, "file", h.Path)
			last = time.Time{}
		case err == nil && (last.IsZero() || time.Since(last) >= every):
			if last.IsZero() {
				log.Info("healthy: writing the heartbeat", "file", h.Path, "every", every)
			}
			last = time.Now()
			if werr := os.WriteFile(h.Path, []byte(last.UTC().Format(time.RFC3339Nano)+"\n"), 0o644); werr != nil {
				log.Warn("writing the heartbeat", "err", werr)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}
