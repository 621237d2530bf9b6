package lighting

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// limiterHarness runs a test against one Limiter implementation.
type limiterHarness struct {
	// run calls f with a new Limiter; for MemoryLimiter inside a synctest bubble, so that
	// time.Sleep moves its clock exactly.
	run func(t *testing.T, f func(t *testing.T, l Limiter))
	// exact is set when the clock is fake and durations can be compared exactly.
	exact bool
}

func TestMemoryLimiter(t *testing.T) {
	testLimiter(t, limiterHarness{
		run: func(t *testing.T, f func(t *testing.T, l Limiter)) {
			synctest.Test(t, func(t *testing.T) { f(t, NewMemoryLimiter()) })
		},
		exact: true,
	})
}

func TestRedisLimiter(t *testing.T) {
	testRedisURL(t)
	testLimiter(t, limiterHarness{
		run: func(t *testing.T, f func(t *testing.T, l Limiter)) {
			f(t, NewRedisLimiter(newTestRedis(t), testPrefix(t)))
		},
	})
}

// allow calls l.Allow and fails the test on an error.
func allow(t *testing.T, l Limiter, key string, r Rate) (bool, time.Duration) {
	t.Helper()
	ok, retry, err := l.Allow(t.Context(), key, r)
	if err != nil {
		t.Fatalf("Allow(%q, %+v): %v", key, r, err)
	}
	if ok && retry != 0 {
		t.Errorf("Allow(%q) allowed with retryAfter %v, want 0", key, retry)
	}
	return ok, retry
}

// slack is how long after retryAfter a real-clock test calls again.
const slack = 10 * time.Millisecond

// testLimiter is the behaviour every Limiter shares.
func testLimiter(t *testing.T, h limiterHarness) {
	// wantRetry checks a refusal's retryAfter: exactly want on a fake clock, in (want-slack-(time
	// the test took), want] on a real one.
	wantRetry := func(t *testing.T, ok bool, got, want time.Duration) {
		t.Helper()
		if ok {
			t.Fatalf("Allow allowed, want refused with retryAfter %v", want)
		}
		if h.exact && got != want || !h.exact && (got > want || got < want-2*slack) {
			t.Errorf("retryAfter = %v, want %v", got, want)
		}
	}
	r := Rate{PerSecond: 5, Burst: 3} // a token every 200 ms

	t.Run("burst", func(t *testing.T) {
		h.run(t, func(t *testing.T, l Limiter) {
			for i := range r.Burst {
				if ok, retry := allow(t, l, "viewer:a", r); !ok {
					t.Fatalf("call %d of a burst of %d refused (retryAfter %v)", i+1, r.Burst, retry)
				}
			}
			ok, retry := allow(t, l, "viewer:a", r)
			wantRetry(t, ok, retry, 200*time.Millisecond)
			ok, retry = allow(t, l, "viewer:a", r)
			wantRetry(t, ok, retry, 200*time.Millisecond) // refusals take no token
			if ok, _ := allow(t, l, "viewer:b", r); !ok {
				t.Error("another key was refused: buckets are per key")
			}
		})
	})

	t.Run("refill", func(t *testing.T) {
		h.run(t, func(t *testing.T, l Limiter) {
			for range r.Burst {
				allow(t, l, "k", r)
			}
			_, retry := allow(t, l, "k", r)
			time.Sleep(retry + slack)
			if ok, retry := allow(t, l, "k", r); !ok {
				t.Fatalf("refused after waiting retryAfter (again %v)", retry)
			}
			ok, retry := allow(t, l, "k", r)
			wantRetry(t, ok, retry, 200*time.Millisecond-slack)
			// A long idle time refills the burst, and no more.
			time.Sleep(time.Second)
			for i := range r.Burst {
				if ok, _ := allow(t, l, "k", r); !ok {
					t.Fatalf("call %d of a refilled burst refused", i+1)
				}
			}
			ok, retry = allow(t, l, "k", r)
			wantRetry(t, ok, retry, 200*time.Millisecond)
		})
	})

	t.Run("slow rate", func(t *testing.T) {
		h.run(t, func(t *testing.T, l Limiter) {
			slow := Rate{PerSecond: 0.5, Burst: 1}
			allow(t, l, "k", slow)
			ok, retry := allow(t, l, "k", slow)
			wantRetry(t, ok, retry, 2*time.Second)
		})
	})

	t.Run("invalid rate", func(t *testing.T) {
		h.run(t, func(t *testing.T, l Limiter) {
			for _, bad := range []Rate{{0, 1}, {-1, 1}, {1, 0}, {math.NaN(), 1}, {math.Inf(1), 1}} {
				if ok, _, err := l.Allow(t.Context(), "k", bad); err == nil || ok {
					t.Errorf("Allow with %+v = %v, %v; want refused with an error", bad, ok, err)
				}
			}
		})
	})

	t.Run("concurrent", func(t *testing.T) {
		h.run(t, func(t *testing.T, l Limiter) {
			tight := Rate{PerSecond: 0.01, Burst: 7}
			var allowed atomic.Int64
			var wg sync.WaitGroup
			for range 20 {
				wg.Go(func() {
					for range 5 {
						ok, _, err := l.Allow(t.Context(), "zone:desk", tight)
						if err != nil {
							t.Error(err)
						}
						if ok {
							allowed.Add(1)
						}
					}
				})
			}
			wg.Wait()
			if got := allowed.Load(); got != int64(tight.Burst) {
				t.Errorf("100 concurrent calls allowed %d, want the burst %d", got, tight.Burst)
			}
		})
	})
}

func TestMemoryLimiterExact(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := NewMemoryLimiter()
		r := Rate{PerSecond: 4, Burst: 2} // 250 ms a token
		allow(t, l, "k", r)
		allow(t, l, "k", r)
		time.Sleep(100 * time.Millisecond)
		if ok, retry := allow(t, l, "k", r); ok || retry != 150*time.Millisecond {
			t.Fatalf("Allow = %v, %v; want refused for 150ms", ok, retry)
		}
		time.Sleep(150*time.Millisecond - 1)
		if ok, retry := allow(t, l, "k", r); ok || retry != 1 {
			t.Fatalf("1ns early: Allow = %v, %v; want refused for 1ns", ok, retry)
		}
		time.Sleep(1)
		if ok, retry := allow(t, l, "k", r); !ok {
			t.Fatalf("on time: Allow refused for %v", retry)
		}
		// Half a token refilled does not allow a call.
		time.Sleep(125 * time.Millisecond)
		if ok, retry := allow(t, l, "k", r); ok || retry != 125*time.Millisecond {
			t.Fatalf("half a token: Allow = %v, %v; want refused for 125ms", ok, retry)
		}
	})
}

func TestMemoryLimiterEvicts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := NewMemoryLimiter()
		r := Rate{PerSecond: 1, Burst: 5}
		for i := range 500 {
			allow(t, l, fmt.Sprint("ip:", i), r)
		}
		allow(t, l, "busy", r)
		allow(t, l, "busy", r)
		if got := l.Len(); got != 501 {
			t.Fatalf("Len = %d, want 501", got)
		}
		// The idle buckets have refilled long before the next sweep; the busy one has not.
		time.Sleep(memorySweepEvery)
		for range 60 {
			allow(t, l, "busy", r)
		}
		if got := l.Len(); got != 1 {
			t.Errorf("after a sweep Len = %d, want 1 (the busy bucket)", got)
		}
		// Many new keys sweep early, keeping the map bounded between sweeps.
		for i := range 100_000 {
			allow(t, l, fmt.Sprint("new:", i), r)
			if i%1000 == 999 {
				time.Sleep(10 * time.Second) // older keys refill meanwhile
			}
		}
		if got := l.Len(); got > 10_000 {
			t.Errorf("Len = %d after 100,000 keys arriving 100 a second, want them swept", got)
		}
	})
}

func TestRedisLimiterShared(t *testing.T) {
	// Two hub processes, each with its own client, share one bucket per key.
	prefix := testPrefix(t)
	a := NewRedisLimiter(newTestRedis(t), prefix)
	b := NewRedisLimiter(newTestRedis(t), prefix)
	r := Rate{PerSecond: 1, Burst: 2}
	if ok, _ := allow(t, a, "viewer:x", r); !ok {
		t.Fatal("first call refused")
	}
	if ok, _ := allow(t, b, "viewer:x", r); !ok {
		t.Fatal("second call, from the other hub, refused")
	}
	for _, l := range []Limiter{a, b} {
		if ok, retry := allow(t, l, "viewer:x", r); ok || retry <= 900*time.Millisecond || retry > time.Second {
			t.Errorf("third call = %v, %v; want refused for about 1s", ok, retry)
		}
	}
	other := NewRedisLimiter(newTestRedis(t), testPrefix(t))
	if ok, _ := allow(t, other, "viewer:x", r); !ok {
		t.Error("a limiter with another prefix shares the bucket")
	}
}

func TestRedisLimiterExpires(t *testing.T) {
	prefix := testPrefix(t)
	rdb := newTestRedis(t)
	l := NewRedisLimiter(rdb, prefix)
	r := Rate{PerSecond: 20, Burst: 2} // full again 100 ms after the last call
	allow(t, l, "k", r)
	allow(t, l, "k", r)
	ttl, err := rdb.PTTL(t.Context(), prefix+"rate:k").Result()
	if err != nil {
		t.Fatal(err)
	}
	if ttl <= 0 || ttl > 100*time.Millisecond {
		t.Errorf("bucket TTL = %v, want (0, 100ms]: the time until it is full", ttl)
	}
	time.Sleep(150 * time.Millisecond)
	if n, err := rdb.Exists(t.Context(), prefix+"rate:k").Result(); err != nil || n != 0 {
		t.Errorf("idle full bucket still stored (%d, %v)", n, err)
	}
}
