package lighting

import (
	"context"
	"sync"
)

// MemoryStore is a Store for one process (the embedded hub). Versions start again at 1 when the
// process restarts. It is safe for concurrent use.
type MemoryStore struct {
	mu    sync.Mutex
	zones map[string]Entry
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{zones: make(map[string]Entry)}
}

// Update implements Store. fn runs once, under the store's lock.
func (s *MemoryStore) Update(_ context.Context, zone string, fn func(State) (State, error)) (Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.get(zone)
	st, err := fn(e.State)
	if err != nil {
		return Entry{}, err
	}
	e.State = st
	e.Version++
	s.zones[zone] = e
	return e, nil
}

// Confirm implements Store.
func (s *MemoryStore) Confirm(_ context.Context, zone string, v int64) (Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.get(zone)
	if v = min(v, e.Version); v > e.Applied {
		e.Applied = v
		s.zones[zone] = e
	}
	return e, nil
}

// Get implements Store.
func (s *MemoryStore) Get(_ context.Context, zone string) (Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.get(zone), nil
}

// GetMany implements Store.
func (s *MemoryStore) GetMany(_ context.Context, zones []string) (map[string]Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[string]Entry, len(zones))
	for _, z := range zones {
		m[z] = s.get(z)
	}
	return m, nil
}

// get returns zone's entry; s.mu must be held.
func (s *MemoryStore) get(zone string) Entry {
	if e, ok := s.zones[zone]; ok {
		return e
	}
	return defaultEntry()
}
