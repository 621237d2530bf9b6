package lighting

import (
	"context"
	"errors"
	"math"
	"time"
)

// Rate is a token bucket: it refills PerSecond tokens a second up to Burst, and each allowed
// action takes one. Its JSON form is the `limits` of the viewers' `hello`.
type Rate struct {
	PerSecond float64 `json:"perSecond"`
	Burst     int     `json:"burst"`
}

// Validate reports whether r is usable: PerSecond positive and finite, Burst at least 1.
func (r Rate) Validate() error {
	if !(r.PerSecond > 0) || math.IsInf(r.PerSecond, 0) {
		return errors.New("lighting: rate: perSecond must be a positive number")
	}
	if r.Burst < 1 {
		return errors.New("lighting: rate: burst must be at least 1")
	}
	return nil
}

// interval is the time one token takes to refill, at least a nanosecond.
func (r Rate) interval() time.Duration {
	return max(time.Duration(float64(time.Second)/r.PerSecond), 1)
}

// Limiter decides whether the action named by key may happen now under rate r.
//
// Each key is one bucket: callers use distinct keys for distinct limits (for example
// "viewer:<id>", "ip:<addr>", "zone:<id>") and always the same Rate for a key. When ok is false,
// retryAfter is the time until the bucket holds a token again. err reports an invalid Rate or a
// failing backend; the action should then be refused as internal.
type Limiter interface {
	Allow(ctx context.Context, key string, r Rate) (ok bool, retryAfter time.Duration, err error)
}

// gcra is one step of the generic cell rate algorithm, the token bucket kept as one number:
// tat, the theoretical arrival time at which the bucket is full again. It returns whether an
// action at now is allowed, the new tat, and when refused the time until one token is available.
// See https://en.wikipedia.org/wiki/Generic_cell_rate_algorithm.
func gcra(tat, now time.Time, r Rate) (ok bool, newTAT time.Time, retryAfter time.Duration) {
	t := r.interval()
	if tat.Before(now) {
		tat = now
	}
	newTAT = tat.Add(t)
	if over := newTAT.Sub(now) - time.Duration(r.Burst)*t; over > 0 {
		return false, tat, over
	}
	return true, newTAT, 0
}
