package printer

import (
	"context"
	"errors"
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// rabbitConsumerTag names the consumer; one consumes on a channel at a time.
const rabbitConsumerTag = "stagelink-printer"

// rabbitConsumer is a session's consumer channel (prefetch 1). It consumes only while a Next waits: a
// standing consumer would be sent the next job the moment the last one is acked, and that job would sit
// unacked in this process while the agent waits for paper, until the broker's consumer_timeout (30 min
// by default) closes the channel. So the broker hands out a job only when the agent asks for one.
type rabbitConsumer struct {
	tok  chan struct{}   // one Next at a time
	ch   *amqp.Channel   // nil until the first Next, and after it failed
	held []amqp.Delivery // arrived on ch as a Next gave up; handed out first
}

// Next implements Queue. It consumes with prefetch 1 until a job arrives, then cancels the consumer, so
// no job waits unacked in this process between calls. It opens a new consumer channel when the broker
// closed the last one (consumer_timeout, a channel error) and resumes on every new connection.
func (q *RabbitQueue) Next(ctx context.Context) (*Delivery, error) {
	for {
		sess, err := q.session(ctx)
		if err != nil {
			return nil, err
		}
		d, err := q.take(ctx, sess)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			q.log.Warn("consumer failed, starting another", "err", err)
			select { // not a busy loop when the broker keeps refusing
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-sess.done:
			case <-time.After(time.Second):
			}
			continue
		}
		if del := q.delivery(ctx, sess, d); del != nil {
			return del, nil
		}
	}
}

// take consumes one delivery on sess. An error other than ctx's means the consumer channel failed; the
// next call opens another.
func (q *RabbitQueue) take(ctx context.Context, sess *rabbitSession) (amqp.Delivery, error) {
	c := &sess.cons
	select {
	case c.tok <- struct{}{}:
		defer func() { <-c.tok }()
	case <-ctx.Done():
		return amqp.Delivery{}, ctx.Err()
	}
	if c.ch != nil && c.ch.IsClosed() {
		c.ch, c.held = nil, nil // the broker requeues what was held
	}
	if len(c.held) > 0 {
		d := c.held[0]
		c.held = c.held[1:]
		return d, nil
	}
	if c.ch == nil {
		ch, err := sess.conn.Channel()
		if err != nil {
			return amqp.Delivery{}, fmt.Errorf("printer: open consumer channel: %v", err)
		}
		if err := ch.Qos(1, 0, false); err != nil {
			ch.Close()
			return amqp.Delivery{}, fmt.Errorf("printer: set prefetch: %v", err)
		}
		c.ch = ch
	}
	deliveries, err := c.ch.Consume(q.names.jobs, rabbitConsumerTag, false, false, false, false, nil)
	if err != nil {
		c.drop()
		return amqp.Delivery{}, fmt.Errorf("printer: consume %s: %v", q.names.jobs, err)
	}
	var d amqp.Delivery
	ok := false
	select {
	case d, ok = <-deliveries:
	case <-ctx.Done():
	}
	if !ok && ctx.Err() == nil {
		// Closed without a job: the broker closed the channel or cancelled the consumer.
		c.drop()
		return amqp.Delivery{}, errors.New("printer: the broker stopped the consumer")
	}
	// Stop consuming. Unacked deliveries stay with the channel; any that arrived meanwhile are held for
	// the next call.
	if err := c.ch.Cancel(rabbitConsumerTag, false); err != nil {
		c.drop()
	}
	for extra := range deliveries {
		c.held = append(c.held, extra)
	}
	if c.ch == nil || c.ch.IsClosed() {
		c.drop()
		if ctx.Err() != nil {
			return amqp.Delivery{}, ctx.Err()
		}
		// A delivery from a closed channel cannot be acked; the broker delivers it again.
		return amqp.Delivery{}, errors.New("printer: consumer channel closed while taking a job")
	}
	if !ok {
		return amqp.Delivery{}, ctx.Err()
	}
	return d, nil
}

// drop closes the consumer channel (the broker requeues what it held) and forgets it.
func (c *rabbitConsumer) drop() {
	if c.ch != nil {
		c.ch.Close()
	}
	c.ch, c.held = nil, nil
}
