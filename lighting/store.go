package lighting

import "context"

// Entry is a zone's stored state with its version.
type Entry struct {
	State   State
	Version int64 // monotonic per zone; 0 until the zone is first set
	Applied int64 // newest version the zone's bridge reported applied; never above Version
}

// Confirmed reports whether the bridge has applied the current version.
func (e Entry) Confirmed() bool { return e.Applied >= e.Version }

// Update returns e as zone id's entry in a `lights` broadcast.
func (e Entry) Update(id string) Update {
	return Update{ID: id, State: e.State, Version: e.Version, Confirmed: e.Confirmed()}
}

// Store keeps the current state of every zone. A zone never set reads as DefaultState() with
// version 0.
type Store interface {
	// Update atomically reads the zone's entry (DefaultState() and version 0 when the zone was
	// never set), calls fn, and stores fn's state with version+1. If fn returns an error nothing
	// changes and the error is returned. fn may be called more than once (optimistic retries),
	// so it must be free of side effects, and it must not call the Store.
	Update(ctx context.Context, zone string, fn func(State) (State, error)) (Entry, error)
	// Confirm records that version v of zone was applied by its bridge
	// (Applied = max(Applied, v), never above Version).
	Confirm(ctx context.Context, zone string, v int64) (Entry, error)
	// Get returns zone's entry; a missing zone reads as DefaultState(), version 0.
	Get(ctx context.Context, zone string) (Entry, error)
	// GetMany returns the entry of every zone in zones, missing ones as Get reads them.
	GetMany(ctx context.Context, zones []string) (map[string]Entry, error)
}

// defaultEntry is the entry of a zone never set.
func defaultEntry() Entry { return Entry{State: DefaultState()} }
