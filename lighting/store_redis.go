package lighting

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisUpdateAttempts bounds the optimistic retries of one RedisStore.Update.
const redisUpdateAttempts = 200

// confirmScript raises a zone's applied version to ARGV[1], capped at its version, and returns
// HMGET state, version, applied. A zone never set is left alone.
const confirmScript = `
local cur = redis.call('HMGET', KEYS[1], 'version', 'applied')
local v = tonumber(cur[1]) or 0
local a = tonumber(cur[2]) or 0
local want = tonumber(ARGV[1])
if want > v then want = v end
if want > a then redis.call('HSET', KEYS[1], 'applied', string.format('%d', want)) end
return redis.call('HMGET', KEYS[1], 'state', 'version', 'applied')
`

// RedisStore is a Store in Redis, shared by every hub process using the same key prefix. Each
// zone is one hash, prefix+"zone:"+id, with fields state (JSON), version and applied, kept without
// expiry, so versions continue across hub restarts.
type RedisStore struct {
	rdb     redis.UniversalClient
	prefix  string
	confirm *redis.Script
}

var _ Store = (*RedisStore)(nil)

// NewRedisStore returns a RedisStore keeping zones in rdb under prefix (for example "stagelink:").
func NewRedisStore(rdb redis.UniversalClient, prefix string) *RedisStore {
	return &RedisStore{rdb: rdb, prefix: prefix, confirm: redis.NewScript(confirmScript)}
}

// OpenRedis returns a client for a redis:// or rediss:// URL such as
// redis://:password@127.0.0.1:6379/0. Like redis.NewClient it does not connect yet. Its errors
// never repeat the URL, which may hold a password.
func OpenRedis(rawURL string) (*redis.Client, error) {
	opt, err := redis.ParseURL(rawURL)
	if _, isURL := errors.AsType[*url.Error](err); isURL {
		return nil, errors.New("lighting: redis url does not parse: want redis://[:password@]host:port/db")
	}
	if err != nil {
		return nil, fmt.Errorf("lighting: redis url: %v", err)
	}
	return redis.NewClient(opt), nil
}

func (s *RedisStore) key(zone string) string { return s.prefix + "zone:" + zone }

// Update implements Store with a WATCH/MULTI transaction, retried when another writer changed the
// zone in between.
func (s *RedisStore) Update(ctx context.Context, zone string, fn func(State) (State, error)) (Entry, error) {
	key := s.key(zone)
	var (
		out   Entry
		fnErr error
	)
	txf := func(tx *redis.Tx) error {
		e, err := parseEntry(tx.HMGet(ctx, key, "state", "version", "applied").Result())
		if err != nil {
			return err
		}
		st, err := fn(e.State)
		if err != nil {
			fnErr = err
			return nil
		}
		b, err := json.Marshal(st)
		if err != nil {
			return fmt.Errorf("lighting: store: encode state: %w", err)
		}
		e.State = st
		e.Version++
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.HSet(ctx, key, "state", b, "version", e.Version)
			return nil
		})
		out = e
		return err
	}
	for attempt := range redisUpdateAttempts {
		err := s.rdb.Watch(ctx, txf, key)
		if fnErr != nil {
			return Entry{}, fnErr
		}
		if err == nil {
			return out, nil
		}
		if !errors.Is(err, redis.TxFailedErr) {
			return Entry{}, fmt.Errorf("lighting: store: update zone %q: %w", zone, err)
		}
		// Another writer won: back off a little, randomly, so that the next round has one winner.
		wait := rand.N(time.Duration(min(attempt+1, 20)) * time.Millisecond)
		select {
		case <-ctx.Done():
			return Entry{}, fmt.Errorf("lighting: store: update zone %q: %w", zone, ctx.Err())
		case <-time.After(wait):
		}
	}
	return Entry{}, fmt.Errorf("lighting: store: update zone %q: gave up after %d conflicting writes", zone, redisUpdateAttempts)
}

// Confirm implements Store.
func (s *RedisStore) Confirm(ctx context.Context, zone string, v int64) (Entry, error) {
	res, err := s.confirm.Run(ctx, s.rdb, []string{s.key(zone)}, v).Slice()
	if err != nil {
		return Entry{}, fmt.Errorf("lighting: store: confirm zone %q: %w", zone, err)
	}
	e, err := parseEntry(res, nil)
	if err != nil {
		return Entry{}, fmt.Errorf("lighting: store: confirm zone %q: %w", zone, err)
	}
	return e, nil
}

// Get implements Store.
func (s *RedisStore) Get(ctx context.Context, zone string) (Entry, error) {
	e, err := parseEntry(s.rdb.HMGet(ctx, s.key(zone), "state", "version", "applied").Result())
	if err != nil {
		return Entry{}, fmt.Errorf("lighting: store: get zone %q: %w", zone, err)
	}
	return e, nil
}

// GetMany implements Store with one pipelined round trip.
func (s *RedisStore) GetMany(ctx context.Context, zones []string) (map[string]Entry, error) {
	m := make(map[string]Entry, len(zones))
	if len(zones) == 0 {
		return m, nil
	}
	cmds := make([]*redis.SliceCmd, len(zones))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, z := range zones {
			cmds[i] = p.HMGet(ctx, s.key(z), "state", "version", "applied")
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("lighting: store: get zones: %w", err)
	}
	for i, z := range zones {
		e, err := parseEntry(cmds[i].Result())
		if err != nil {
			return nil, fmt.Errorf("lighting: store: get zone %q: %w", z, err)
		}
		m[z] = e
	}
	return m, nil
}

// parseEntry reads the reply of HMGET state version applied; missing fields read as a zone never set.
func parseEntry(vals []any, err error) (Entry, error) {
	if err != nil {
		return Entry{}, err
	}
	if len(vals) != 3 {
		return Entry{}, fmt.Errorf("got %d fields, want 3", len(vals))
	}
	e := defaultEntry()
	if s, ok := vals[0].(string); ok {
		var st State
		if err := json.Unmarshal([]byte(s), &st); err != nil {
			return Entry{}, fmt.Errorf("stored state: %w", err)
		}
		e.State = st
	}
	for i, dst := range []*int64{&e.Version, &e.Applied} {
		if s, ok := vals[i+1].(string); ok {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return Entry{}, fmt.Errorf("stored version: %w", err)
			}
			*dst = n
		}
	}
	return e, nil
}
