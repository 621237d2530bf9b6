package lighting

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// testRedisURL returns STAGELINK_TEST_REDIS or skips the test.
func testRedisURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("STAGELINK_TEST_REDIS")
	if u == "" {
		t.Skip("STAGELINK_TEST_REDIS not set: set it to a Redis URL such as redis://127.0.0.1:6379/0 to test against Redis")
	}
	return u
}

// newTestRedis returns a new client of the test Redis, closed when the test ends.
func newTestRedis(t *testing.T) *redis.Client {
	t.Helper()
	rdb, err := OpenRedis(testRedisURL(t))
	if err != nil {
		t.Fatalf("STAGELINK_TEST_REDIS: %v", err)
	}
	t.Cleanup(func() { rdb.Close() })
	if err := rdb.Ping(t.Context()).Err(); err != nil {
		t.Fatalf("STAGELINK_TEST_REDIS: ping: %v", err)
	}
	return rdb
}

// testPrefix returns a key prefix no other test uses; its keys are deleted when the test ends.
func testPrefix(t *testing.T) string {
	t.Helper()
	rdb := newTestRedis(t)
	b := make([]byte, 8)
	rand.Read(b)
	prefix := "stagelink-test:" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		keys, err := rdb.Keys(ctx, prefix+"*").Result()
		if err != nil {
			t.Errorf("cleaning up %s*: %v", prefix, err)
			return
		}
		if len(keys) > 0 {
			if err := rdb.Del(ctx, keys...).Err(); err != nil {
				t.Errorf("cleaning up %s*: %v", prefix, err)
			}
		}
	})
	return prefix
}

func TestOpenRedis(t *testing.T) {
	for _, u := range []string{"redis://:secret@127.0.0.1:6379/0", "rediss://u:p@example.com:6380/3"} {
		rdb, err := OpenRedis(u)
		if err != nil {
			t.Errorf("OpenRedis(%q): %v", u, err)
			continue
		}
		rdb.Close()
	}
	for _, u := range []string{"http://127.0.0.1:6379", "redis://:s3cret@127.0.0.1:6379/x", "redis://:s3cret@[::1/0", "redis://:s3cret@127.0.0.1:6379/0?dial_timeout=soon"} {
		_, err := OpenRedis(u)
		if err == nil {
			t.Errorf("OpenRedis(%q) succeeded, want an error", u)
			continue
		}
		if s := err.Error(); strings.Contains(s, "s3cret") {
			t.Errorf("OpenRedis error %q repeats the password", s)
		}
	}
}
