package lighting

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// gcraScript is gcra in Lua, run atomically by Redis on the server's clock so that every hub
// process shares one bucket per key. The bucket is one string key holding its theoretical arrival
// time in microseconds; it expires when the bucket is full again, so idle buckets cost nothing.
//
// KEYS[1] bucket; ARGV[1] refill interval of one token, µs; ARGV[2] burst × interval, µs.
// Returns {1, 0} when allowed, {0, µs until one token is available} when not.
const gcraScript = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or 0) or 0
if tat < now then tat = now end
local new = tat + interval
local over = new - now - limit
if over > 0 then
  return {0, math.ceil(over)}
end
redis.call('SET', KEYS[1], string.format('%.3f', new), 'PX', string.format('%d', math.ceil((new - now) / 1000)))
return {1, 0}
`

// RedisLimiter is a Limiter shared by every process using the same Redis and key prefix.
type RedisLimiter struct {
	rdb    redis.UniversalClient
	prefix string
	script *redis.Script
}

var _ Limiter = (*RedisLimiter)(nil)

// NewRedisLimiter returns a RedisLimiter keeping its buckets in rdb under keys prefix+"rate:"+key.
func NewRedisLimiter(rdb redis.UniversalClient, prefix string) *RedisLimiter {
	return &RedisLimiter{rdb: rdb, prefix: prefix, script: redis.NewScript(gcraScript)}
}

// Allow implements Limiter.
func (l *RedisLimiter) Allow(ctx context.Context, key string, r Rate) (bool, time.Duration, error) {
	if err := r.Validate(); err != nil {
		return false, 0, err
	}
	interval := 1e6 / r.PerSecond // µs
	res, err := l.script.Run(ctx, l.rdb, []string{l.prefix + "rate:" + key},
		strconv.FormatFloat(interval, 'f', 3, 64),
		strconv.FormatFloat(interval*float64(r.Burst), 'f', 3, 64),
	).Int64Slice()
	if err != nil {
		return false, 0, fmt.Errorf("lighting: rate limit: %w", err)
	}
	if len(res) != 2 {
		return false, 0, fmt.Errorf("lighting: rate limit: script returned %d values", len(res))
	}
	return res[0] == 1, time.Duration(res[1]) * time.Microsecond, nil
}
