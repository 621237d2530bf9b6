package web

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/zishang520/socket.io-go-redis/adapter"
	"github.com/zishang520/socket.io-go-redis/types"
	"github.com/zishang520/socket.io/v2/socket"
)

// RedisAdapter returns the Socket.IO Redis adapter (Config.Adapter) of the hubs sharing a Redis under
// prefix, on a client of its own, and a function closing that client. The adapter's readers retry a failed receive at
// once, forever: its client dials with a backoff, so a Redis that is down costs a few dials a second, not
// a core.
func RedisAdapter(ctx context.Context, redisURL, prefix string, log *slog.Logger) (socket.AdapterConstructor, func(), error) {
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		return nil, nil, errors.New("web: the redis url does not parse")
	}
	opt.Dialer = backoffDialer(opt.TLSConfig)
	client := redis.NewClient(opt)
	rc := types.NewRedisClient(ctx, client)
	var mu sync.Mutex
	var lastLog time.Time
	rc.On("error", func(a ...any) {
		if ctx.Err() != nil {
			return // closing
		}
		mu.Lock()
		defer mu.Unlock()
		if time.Since(lastLog) > 10*time.Second {
			lastLog = time.Now()
			log.Warn("socket.io redis adapter", "err", a)
		}
	})
	opts := &adapter.RedisAdapterOptions{}
	opts.SetKey(prefix + "socket.io")
	return &adapter.RedisAdapterBuilder{Redis: rc, Opts: opts}, func() { client.Close() }, nil
}

// everyone is the room every viewer and dashboard socket joins. Broadcasts meant for every hub of a
// cluster go to it: socket.io-go-redis v1.3.0 drops, on the receiving hubs, a broadcast to no room (its
// onMessage refuses a channel no longer than the namespace's own), so the room carries them.
const everyone socket.Room = "everyone"

// emitEverywhere sends an event to every socket of namespace nsp on every hub.
func (s *Server) emitEverywhere(nsp, event string, payload any) {
	s.io.Of(nsp, nil).To(everyone).Emit(event, payload)
}

// backoffDialer dials like go-redis does, but waits after failures: 100 ms, doubling up to 5 s.
func backoffDialer(tlsConfig *tls.Config) func(ctx context.Context, network, addr string) (net.Conn, error) {
	var (
		mu       sync.Mutex
		failures int
		next     time.Time
	)
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		mu.Lock()
		wait := time.Until(next)
		mu.Unlock()
		if wait > 0 {
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 5 * time.Minute}
		var conn net.Conn
		var err error
		if tlsConfig != nil {
			conn, err = (&tls.Dialer{NetDialer: d, Config: tlsConfig}).DialContext(ctx, network, addr)
		} else {
			conn, err = d.DialContext(ctx, network, addr)
		}
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			failures++
			next = time.Now().Add(min(100*time.Millisecond<<min(failures-1, 6), 5*time.Second))
		} else {
			failures, next = 0, time.Time{}
		}
		return conn, err
	}
}
