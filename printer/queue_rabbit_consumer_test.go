package printer

import (
	"errors"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
)

// TestQueueRabbitTakesOnlyWhenAsked: between two Next calls the consumer holds no job, so a job published
// meanwhile goes to whoever asks (a standing consumer with prefetch 1 would have been sent it at once,
// and its consumer_timeout would run while the agent waited for paper).
func TestQueueRabbitTakesOnlyWhenAsked(t *testing.T) {
	brokerURL := queueTestAMQPURL(t)
	prefix := queueTestRabbitPrefix(t, brokerURL)
	cfg := RabbitQueueConfig{URL: brokerURL, Prefix: prefix}
	q1, _ := queueTestRabbitOpen(t, cfg)
	q2, _ := queueTestRabbitOpen(t, cfg)
	ctx := queueTestContext(t)
	for _, id := range []string{"asked-1", "asked-2"} {
		if err := q1.Publish(ctx, queueTestJob(id)); err != nil {
			t.Fatalf("Publish: %v", err)
		}
	}
	d := queueTestNext(t, q1)
	if d.Job.ID != "asked-1" {
		t.Fatalf("got job %q, want asked-1", d.Job.ID)
	}
	if err := d.Ack(ctx); err != nil {
		t.Fatalf("Ack: %v", err)
	}
	d = queueTestNext(t, q2) // q1 is not asking: the job must not wait in q1
	if d.Job.ID != "asked-2" {
		t.Fatalf("got job %q on the second consumer, want asked-2", d.Job.ID)
	}
	if err := d.Ack(ctx); err != nil {
		t.Fatalf("Ack: %v", err)
	}
}

// TestQueueRabbitConsumerChannelClosed: the broker closes the consumer channel while a job is held (as at
// consumer_timeout) but not the connection: the job comes back on a new channel of the same connection.
func TestQueueRabbitConsumerChannelClosed(t *testing.T) {
	brokerURL := queueTestAMQPURL(t)
	prefix := queueTestRabbitPrefix(t, brokerURL)
	q, _ := queueTestRabbitOpen(t, RabbitQueueConfig{URL: brokerURL, Prefix: prefix})
	ctx := queueTestContext(t)
	if err := q.Publish(ctx, queueTestJob("closed-1")); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	d := queueTestNext(t, q)
	q.mu.Lock()
	sess := q.sess
	q.mu.Unlock()
	// Acking an unknown delivery tag is a channel error: the broker closes the channel, as it does at
	// consumer_timeout.
	closed := sess.cons.ch.NotifyClose(make(chan *amqp.Error, 1))
	if err := sess.cons.ch.Ack(1<<40, false); err != nil {
		t.Fatalf("Ack of an unknown tag: %v", err)
	}
	select {
	case <-closed:
	case <-ctx.Done():
		t.Fatal("the broker did not close the channel")
	}
	if err := d.Ack(ctx); !errors.Is(err, ErrDeliveryLost) {
		t.Errorf("Ack on the closed channel: got %v, want ErrDeliveryLost", err)
	}
	d = queueTestNext(t, q)
	if d.Job.ID != "closed-1" || d.Attempt != 2 {
		t.Errorf("got job %q attempt %d, want closed-1 attempt 2", d.Job.ID, d.Attempt)
	}
	if err := d.Ack(ctx); err != nil {
		t.Fatalf("Ack: %v", err)
	}
	if n := q.connected.Load(); n != 1 {
		t.Errorf("got %d connections, want 1: the job came back without reconnecting", n)
	}
}
