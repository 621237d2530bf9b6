package printer

import (
	"context"
	"sync"
)

// queueEventBufferLen bounds each subscriber's backlog; a subscriber further behind misses events.
const queueEventBufferLen = 256

// queueEventHub fans events out to in-process subscribers without ever waiting on a slow one.
type queueEventHub struct {
	mu     sync.Mutex
	subs   map[chan Event]struct{}
	closed bool
}

// subscribe returns a channel that gets events until ctx is done or the hub closes.
func (h *queueEventHub) subscribe(ctx context.Context) (<-chan Event, error) {
	ch := make(chan Event, queueEventBufferLen)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrQueueClosed
	}
	if h.subs == nil {
		h.subs = make(map[chan Event]struct{})
	}
	h.subs[ch] = struct{}{}
	context.AfterFunc(ctx, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if _, ok := h.subs[ch]; ok {
			delete(h.subs, ch)
			close(ch)
		}
	})
	return ch, nil
}

// publish hands ev to every subscriber that has room.
func (h *queueEventHub) publish(ev Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		select {
		case ch <- ev:
		default: // slow subscriber: drop rather than wait
		}
	}
}

// close ends every subscription.
func (h *queueEventHub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for ch := range h.subs {
		delete(h.subs, ch)
		close(ch)
	}
}
