package bots

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// sharedModeration is what the hubs of a cluster agree on through Share: the pause switch and each
// sender's cooldown and daily count. Without it a Moderator keeps both in its own memory, so several
// hubs would each allow a sender the whole cap, and a pause would stop only one hub.
type sharedModeration interface {
	// Paused reports the shared pause switch; set is false while nobody has set it.
	Paused(ctx context.Context) (paused, set bool, err error)
	SetPaused(ctx context.Context, paused bool) error
	// Count counts one message of userID on day (a key, such as 2026-12-08) when neither its cooldown
	// nor its daily cap refuses it; it returns the refusing rule ("cooldown", "daily_cap") and, for
	// the cooldown, how long is left. dayLeft is how long day's count must be kept.
	Count(ctx context.Context, userID, day string, cooldown time.Duration, dailyCap int, dayLeft time.Duration) (rule string, wait time.Duration, err error)
}

var _ sharedModeration = (*RedisModeration)(nil)

// countScript checks and counts one message atomically, on Redis's clock for the cooldown.
//
// KEYS[1] the sender's cooldown key, KEYS[2] the sender's count for the day; ARGV[1] cooldown in ms
// (0: none), ARGV[2] daily cap (0: none), ARGV[3] ms to keep the day's count. Returns {rule, ms left}:
// rule "" when counted.
const countScript = `
local cooldown = tonumber(ARGV[1])
if cooldown > 0 then
  local left = redis.call('PTTL', KEYS[1])
  if left > 0 then return {'cooldown', left} end
end
local cap = tonumber(ARGV[2])
if cap > 0 and tonumber(redis.call('GET', KEYS[2]) or '0') >= cap then
  return {'daily_cap', 0}
end
if cooldown > 0 then redis.call('SET', KEYS[1], '1', 'PX', cooldown) end
redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return {'', 0}
`

// RedisModeration keeps moderation's shared state in Redis under a key prefix: every hub using the same
// Redis and prefix shares one pause switch and one cooldown and daily count per sender.
type RedisModeration struct {
	rdb    redis.UniversalClient
	prefix string
	count  *redis.Script
}

// NewRedisModeration returns moderation state in rdb under keys starting with prefix + "print:".
func NewRedisModeration(rdb redis.UniversalClient, prefix string) *RedisModeration {
	return &RedisModeration{rdb: rdb, prefix: prefix + "print:", count: redis.NewScript(countScript)}
}

// Paused reads the shared pause switch.
func (r *RedisModeration) Paused(ctx context.Context) (paused, set bool, err error) {
	v, err := r.rdb.Get(ctx, r.prefix+"paused").Result()
	switch {
	case err == redis.Nil:
		return false, false, nil
	case err != nil:
		return false, false, fmt.Errorf("bots: read the print pause: %w", err)
	}
	return v == "1", true, nil
}

// SetPaused sets the shared pause switch for every hub.
func (r *RedisModeration) SetPaused(ctx context.Context, paused bool) error {
	v := "0"
	if paused {
		v = "1"
	}
	if err := r.rdb.Set(ctx, r.prefix+"paused", v, 0).Err(); err != nil {
		return fmt.Errorf("bots: set the print pause: %w", err)
	}
	return nil
}

// Count checks and counts one message of userID (see sharedModeration).
func (r *RedisModeration) Count(ctx context.Context, userID, day string, cooldown time.Duration, dailyCap int, dayLeft time.Duration) (string, time.Duration, error) {
	user := senderKey(userID)
	res, err := r.count.Run(ctx, r.rdb, []string{r.prefix + "cooldown:" + user, r.prefix + "day:" + day + ":" + user},
		max(cooldown.Milliseconds(), 0), max(dailyCap, 0), max(dayLeft.Milliseconds(), 1)).Slice()
	if err != nil {
		return "", 0, fmt.Errorf("bots: count a sender's message: %w", err)
	}
	if len(res) != 2 {
		return "", 0, fmt.Errorf("bots: count a sender's message: unexpected reply %v", res)
	}
	rule, _ := res[0].(string)
	ms, _ := res[1].(int64)
	return rule, time.Duration(ms) * time.Millisecond, nil
}

// senderKey is userID as part of a Redis key: as it is when short, else its SHA-256, so that no sender
// makes keys of unbounded length.
func senderKey(userID string) string {
	if len(userID) <= 100 {
		return userID
	}
	sum := sha256.Sum256([]byte(userID))
	return "sha256:" + hex.EncodeToString(sum[:])
}
