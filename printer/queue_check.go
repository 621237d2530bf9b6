package printer

import (
	"context"
	"errors"
)

// Check reports whether the queue can take jobs now, for readiness probes: nil while it is connected to
// the broker.
func (q *RabbitQueue) Check(context.Context) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	switch {
	case q.stopped:
		return ErrQueueClosed
	case q.sess == nil:
		return errors.New("not connected to the broker; reconnecting")
	}
	return nil
}

// Check reports whether the queue can take jobs now, for readiness probes: nil until it is closed.
func (q *DiskQueue) Check(context.Context) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return ErrQueueClosed
	}
	return nil
}
