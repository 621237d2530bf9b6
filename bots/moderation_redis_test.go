package bots

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// sharedModerators returns two Moderators sharing the test Redis under a fresh prefix, as two hubs of a
// cluster, or skips: STAGELINK_TEST_REDIS=redis://127.0.0.1:6379/0 (.ci/run sets it).
func sharedModerators(t *testing.T, cfg ModerationConfig) (a, b *Moderator) {
	t.Helper()
	u := os.Getenv("STAGELINK_TEST_REDIS")
	if u == "" {
		t.Skip("STAGELINK_TEST_REDIS not set: set it to redis://127.0.0.1:6379/0 to run the Redis tests")
	}
	opt, err := redis.ParseURL(u)
	if err != nil {
		t.Fatalf("STAGELINK_TEST_REDIS: %v", err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	prefix := "stagelink-test-" + strings.ToLower(rand.Text()[:8]) + ":"
	t.Cleanup(func() {
		ctx := context.Background() // t.Context() is done by the time cleanups run
		keys, err := rdb.Keys(ctx, prefix+"*").Result()
		if err == nil && len(keys) > 0 {
			err = rdb.Del(ctx, keys...).Err()
		}
		if err != nil {
			t.Errorf("removing the test's Redis keys: %v", err)
		}
	})
	a, b = newTestModerator(t, cfg, nil), newTestModerator(t, cfg, nil)
	a.Share(NewRedisModeration(rdb, prefix))
	b.Share(NewRedisModeration(rdb, prefix))
	return a, b
}

// TestSharedModeration: two hubs sharing Redis share the cooldown, the daily cap and the pause, so a
// sender gets no more by reaching the other hub.
func TestSharedModeration(t *testing.T) {
	t.Run("cooldown", func(t *testing.T) {
		a, b := sharedModerators(t, ModerationConfig{Cooldown: time.Minute, DailyCap: -1})
		if _, err := a.Admit(discordMsg("discord:1", "one")); err != nil {
			t.Fatalf("first message: %v", err)
		}
		_, err := b.Admit(discordMsg("discord:1", "two"))
		var r *Refusal
		if !errors.As(err, &r) || r.Code != "cooldown" || r.RetryAfter <= 50*time.Second || r.RetryAfter > time.Minute {
			t.Fatalf("second message on the other hub: %v (%+v), want cooldown with about a minute to wait", err, r)
		}
		if _, err := b.Admit(discordMsg("discord:2", "another sender")); err != nil {
			t.Errorf("another sender: %v, want admitted", err)
		}
	})
	t.Run("daily cap", func(t *testing.T) {
		a, b := sharedModerators(t, ModerationConfig{Cooldown: -1, DailyCap: 3})
		for i, m := range []*Moderator{a, b, a} {
			if _, err := m.Admit(discordMsg("discord:1", "hi")); err != nil {
				t.Fatalf("message %d: %v", i+1, err)
			}
		}
		if got := refusalCode(t, firstErr(b.Admit(discordMsg("discord:1", "hi")))); got != "daily_cap" {
			t.Errorf("4th message, on the other hub: %q, want daily_cap: the cap of 3 is shared", got)
		}
		tip := Message{Source: "tip", JobID: "tip:1", UserID: "discord:1", Author: "Ala", Text: "paid"}
		if _, err := a.Admit(tip); err != nil {
			t.Errorf("a tip past the cap: %v, want admitted (tips have no cap)", err)
		}
	})
	t.Run("pause", func(t *testing.T) {
		a, b := sharedModerators(t, ModerationConfig{Cooldown: -1, DailyCap: -1})
		a.SetPaused(true)
		if !b.Paused() {
			t.Fatal("paused on hub a: hub b says not paused")
		}
		if got := refusalCode(t, firstErr(b.Admit(discordMsg("discord:1", "hi")))); got != "paused" {
			t.Errorf("message on hub b while paused on a: %q, want paused", got)
		}
		b.SetPaused(false)
		if a.Paused() {
			t.Error("resumed on hub b: hub a still paused")
		}
	})
}

// TestSharedModerationRedisDown: with Redis gone, moderation goes on with what the hub knows itself.
func TestSharedModerationRedisDown(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 100 * time.Millisecond, MaxRetries: -1})
	defer rdb.Close()
	m := newTestModerator(t, ModerationConfig{Cooldown: time.Minute, DailyCap: -1, Paused: false}, nil)
	m.Share(NewRedisModeration(rdb, "x:"))
	if _, err := m.Admit(discordMsg("discord:1", "one")); err != nil {
		t.Fatalf("with Redis down: %v, want admitted", err)
	}
	if got := refusalCode(t, firstErr(m.Admit(discordMsg("discord:1", "two")))); got != "cooldown" {
		t.Errorf("second message with Redis down: %q, want cooldown, counted on this hub", got)
	}
	m.SetPaused(true)
	if !m.Paused() {
		t.Error("paused with Redis down: Paused() = false, want this hub's pause")
	}
}

func firstErr(_ Message, err error) error { return err }

func TestSenderKey(t *testing.T) {
	if got := senderKey("discord:1234"); got != "discord:1234" {
		t.Errorf("senderKey(short) = %q", got)
	}
	long := strings.Repeat("x", 500)
	if got := senderKey(long); len(got) != len("sha256:")+64 || senderKey(long+"y") == got {
		t.Errorf("senderKey(long) = %q, want a distinct bounded hash", got)
	}
}

// fakeShared is a shared state that fails while fail is set.
type fakeShared struct {
	mu          sync.Mutex
	fail        bool
	paused, set bool
}

func (f *fakeShared) err() error {
	if f.fail {
		return errors.New("connection refused")
	}
	return nil
}

func (f *fakeShared) Paused(context.Context) (bool, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.paused, f.set, f.err()
}

func (f *fakeShared) SetPaused(_ context.Context, p bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.err(); err != nil {
		return err
	}
	f.paused, f.set = p, true
	return nil
}

func (f *fakeShared) Count(context.Context, string, string, time.Duration, int, time.Duration) (string, time.Duration, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return "", 0, f.err()
}

func (f *fakeShared) setFail(v bool) {
	f.mu.Lock()
	f.fail = v
	f.mu.Unlock()
}

// TestSharedPauseSurvivesAnOutage: a pause set while the shared state fails holds on this hub at once and
// is written there when it answers again, rather than being undone by the old shared value; the outage
// is logged once, and its end once.
func TestSharedPauseSurvivesAnOutage(t *testing.T) {
	var logs bytes.Buffer
	m := newTestModerator(t, ModerationConfig{Cooldown: -1, DailyCap: -1}, slog.New(slog.NewTextHandler(&logs, nil)))
	shared := &fakeShared{set: true, paused: false}
	m.Share(shared)

	shared.setFail(true)
	m.SetPaused(true)
	for range 3 {
		if !m.Paused() {
			t.Fatal("paused during the outage: Paused() = false, want this hub's pause")
		}
		if _, err := m.Admit(discordMsg("discord:1", "hi")); refusalCode(t, err) != "paused" {
			t.Fatalf("message during the outage: %v, want paused", err)
		}
	}
	shared.setFail(false)
	if !m.Paused() || !shared.paused {
		t.Fatalf("after the outage: Paused() = %v, shared paused = %v; want both true (the operator's pause written back)", m.Paused(), shared.paused)
	}
	if n := strings.Count(logs.String(), "unreachable"); n != 1 {
		t.Errorf("the outage was logged %d times, want once:\n%s", n, logs.String())
	}
	if n := strings.Count(logs.String(), "reachable again"); n != 1 {
		t.Errorf("the end of the outage was logged %d times, want once:\n%s", n, logs.String())
	}
}
