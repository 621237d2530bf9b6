package lighting

import (
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisBus is a Bus on a Redis pub/sub channel, prefix+"cluster".
type RedisBus struct {
	rdb     redis.UniversalClient
	channel string
}

var _ Bus = (*RedisBus)(nil)

// NewRedisBus returns the Bus of the hubs sharing rdb under prefix (for example "stagelink:").
func NewRedisBus(rdb redis.UniversalClient, prefix string) *RedisBus {
	return &RedisBus{rdb: rdb, channel: prefix + "cluster"}
}

// Publish implements Bus.
func (b *RedisBus) Publish(ctx context.Context, msg []byte) error {
	return b.rdb.Publish(ctx, b.channel, msg).Err()
}

// Subscribe implements Bus. go-redis subscribes again by itself after a lost connection; messages
// published meanwhile are lost, which the cluster heals (see Join).
func (b *RedisBus) Subscribe(ctx context.Context, deliver func([]byte)) error {
	ps := b.rdb.Subscribe(ctx, b.channel)
	defer ps.Close()
	ch := ps.Channel(redis.WithChannelHealthCheckInterval(5*time.Second), redis.WithChannelSendTimeout(time.Second))
	for {
		select {
		case <-ctx.Done():
			return nil
		case m, ok := <-ch:
			if !ok {
				return nil
			}
			deliver([]byte(m.Payload))
		}
	}
}

// MemoryBus is a Bus within one process, for several Services in a test. Like Redis pub/sub it delivers
// at most once: a subscriber that falls behind by more than 1024 messages loses them.
type MemoryBus struct {
	mu   sync.Mutex
	subs map[chan []byte]struct{}
}

var _ Bus = (*MemoryBus)(nil)

// NewMemoryBus returns an empty MemoryBus.
func NewMemoryBus() *MemoryBus { return &MemoryBus{subs: map[chan []byte]struct{}{}} }

// Publish implements Bus.
func (b *MemoryBus) Publish(_ context.Context, msg []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.subs {
		select {
		case ch <- msg:
		default:
		}
	}
	return nil
}

// Subscribe implements Bus.
func (b *MemoryBus) Subscribe(ctx context.Context, deliver func([]byte)) error {
	ch := make(chan []byte, 1024)
	b.mu.Lock()
	b.subs[ch] = struct{}{}
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.subs, ch)
		b.mu.Unlock()
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case m := <-ch:
			deliver(m)
		}
	}
}
