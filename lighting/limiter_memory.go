package lighting

import (
	"context"
	"sync"
	"time"
)

// memorySweepEvery is how often MemoryLimiter drops buckets that have refilled.
const memorySweepEvery = time.Minute

// MemoryLimiter is a Limiter for one process. Its memory is bounded by the keys active
// recently: buckets that have refilled completely are dropped on a lazy sweep. It is safe for
// concurrent use; its clock is time.Now.
type MemoryLimiter struct {
	mu        sync.Mutex
	tat       map[string]time.Time // key → time its bucket is full again
	nextSweep time.Time
	swept     int // len(tat) after the last sweep
}

var _ Limiter = (*MemoryLimiter)(nil)

// NewMemoryLimiter returns an empty MemoryLimiter.
func NewMemoryLimiter() *MemoryLimiter {
	return &MemoryLimiter{tat: make(map[string]time.Time)}
}

// Allow implements Limiter.
func (l *MemoryLimiter) Allow(_ context.Context, key string, r Rate) (bool, time.Duration, error) {
	if err := r.Validate(); err != nil {
		return false, 0, err
	}
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	ok, tat, retry := gcra(l.tat[key], now, r)
	if ok {
		l.tat[key] = tat
	}
	return ok, retry, nil
}

// sweep drops full buckets once every memorySweepEvery, or sooner when the map has grown a lot
// since the last sweep, so that the cost per Allow stays constant on average.
func (l *MemoryLimiter) sweep(now time.Time) {
	if now.Before(l.nextSweep) && len(l.tat) < 2*l.swept+1024 {
		return
	}
	for k, tat := range l.tat {
		if !tat.After(now) {
			delete(l.tat, k)
		}
	}
	l.nextSweep = now.Add(memorySweepEvery)
	l.swept = len(l.tat)
}

// Len returns the number of buckets held, for tests and metrics.
func (l *MemoryLimiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.tat)
}
