package printer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// RabbitQueueConfig configures the RabbitMQ queue.
type RabbitQueueConfig struct {
	// URL is the broker, amqp://user:password@host:5672/vhost. Logged with the password redacted.
	URL string
	// Prefix starts every name the queue declares: PREFIX.jobs (quorum queue), PREFIX.dead (dead letters),
	// PREFIX.dlx (dead-letter exchange) and PREFIX.events (fanout exchange). Empty means "stagelink.print".
	Prefix string
	// MaxDeliveries is how many times a job is delivered before the broker dead-letters it
	// (x-delivery-limit). Zero means DefaultMaxDeliveries.
	MaxDeliveries int
	// MaxPending is the queue's x-max-length; beyond it Publish returns ErrQueueFull. Zero means 100,000.
	MaxPending int
}

// Validate checks the configuration and says how to fix it.
func (c RabbitQueueConfig) Validate() error {
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "amqp" && u.Scheme != "amqps") || u.Host == "" {
		return fmt.Errorf("printer: -amqp %q is not a broker URL: want amqp://user:password@host:5672/", redactRabbitURL(c.URL))
	}
	if c.MaxDeliveries < 0 || c.MaxPending < 0 {
		return errors.New("printer: rabbitmq queue limits must be zero (default) or positive")
	}
	return nil
}

// LogValue logs the configuration with the password redacted.
func (c RabbitQueueConfig) LogValue() slog.Value {
	return slog.GroupValue(slog.String("url", redactRabbitURL(c.URL)), slog.String("prefix", c.Prefix))
}

// redactRabbitURL hides the password in a broker URL.
func redactRabbitURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable url)"
	}
	return u.Redacted()
}

// RabbitQueue is the Queue on RabbitMQ: a durable quorum queue with persistent messages, publisher
// confirms, manual acks with prefetch 1, a delivery limit and a dead-letter queue, and a fanout exchange
// for events. Run keeps the connection up, reconnecting with backoff and jitter; while it is down,
// Publish and Next wait (bounded by their context). A publish whose confirm is lost with the connection is
// sent again on the next one (so the broker may hold it twice; consumers dedupe by job id).
type RabbitQueue struct {
	cfg   RabbitQueueConfig
	log   *slog.Logger
	names rabbitQueueNames

	events queueEventHub
	deadMu sync.Mutex // one RequeueDeadLetter at a time

	mu        sync.Mutex
	sess      *rabbitSession // nil while disconnected
	ready     chan struct{}  // closed when sess is set
	stopped   bool
	connected atomic.Int64 // sessions so far, for tests and logs
}

var _ Queue = (*RabbitQueue)(nil)

// rabbitQueueNames are the broker objects of one queue.
type rabbitQueueNames struct {
	jobs, dead, dlx, events string
}

// rabbitSession is one connection and its channels.
type rabbitSession struct {
	conn *amqp.Connection
	pub  *amqp.Channel // confirm mode, shared by all publishers
	done chan struct{} // closed when the session ends

	cons rabbitConsumer
}

// NewRabbitQueue checks cfg; it opens no connection: call Run.
func NewRabbitQueue(cfg RabbitQueueConfig, log *slog.Logger) (*RabbitQueue, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "stagelink.print"
	}
	if cfg.MaxDeliveries == 0 {
		cfg.MaxDeliveries = DefaultMaxDeliveries
	}
	if cfg.MaxPending == 0 {
		cfg.MaxPending = 100000
	}
	return &RabbitQueue{
		cfg: cfg,
		log: log.With("component", "printer-queue", "queue", "rabbitmq", "broker", redactRabbitURL(cfg.URL)),
		names: rabbitQueueNames{
			jobs:   cfg.Prefix + ".jobs",
			dead:   cfg.Prefix + ".dead",
			dlx:    cfg.Prefix + ".dlx",
			events: cfg.Prefix + ".events",
		},
		ready: make(chan struct{}),
	}, nil
}

// Run connects, declares the queues and keeps reconnecting (exponential backoff up to 30 s with jitter)
// until ctx is done. Then it closes the connection, so unacked deliveries go back to the queue, ends
// event subscriptions, and returns nil. A RabbitQueue runs once.
func (q *RabbitQueue) Run(ctx context.Context) error {
	defer func() {
		q.mu.Lock()
		q.stopped = true
		close(q.ready) // wake waiters: they see stopped
		q.mu.Unlock()
		q.events.close()
	}()
	const minBackoff, maxBackoff = 100 * time.Millisecond, 30 * time.Second
	backoff := minBackoff
	for {
		start := time.Now()
		err := q.runSession(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(start) > maxBackoff {
			backoff = minBackoff
		}
		wait := backoff/2 + rand.N(backoff/2+1) // jitter: [backoff/2, backoff]
		q.log.Warn("broker connection lost, reconnecting", "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// runSession runs one connection until it drops or ctx is done.
func (q *RabbitQueue) runSession(ctx context.Context) error {
	conn, err := amqp.DialConfig(q.cfg.URL, amqp.Config{
		Heartbeat:  5 * time.Second,
		Dial:       amqp.DefaultDial(10 * time.Second),
		Properties: amqp.Table{"connection_name": "stagelink printer queue " + q.cfg.Prefix},
	})
	if err != nil {
		return fmt.Errorf("printer: connect to broker: %v", err)
	}
	defer conn.Close()
	connClosed := conn.NotifyClose(make(chan *amqp.Error, 1))

	eventDeliveries, err := q.declare(conn)
	if err != nil {
		return err
	}
	pub, err := conn.Channel()
	if err == nil {
		err = pub.Confirm(false)
	}
	if err != nil {
		return fmt.Errorf("printer: open publish channel: %v", err)
	}
	pubClosed := pub.NotifyClose(make(chan *amqp.Error, 1))

	sess := &rabbitSession{conn: conn, pub: pub, done: make(chan struct{}), cons: rabbitConsumer{tok: make(chan struct{}, 1)}}
	var wg sync.WaitGroup
	wg.Go(func() { // owned by this session: ends when the connection closes
		for d := range eventDeliveries {
			if ev, ok := q.decodeEvent(d.Body); ok {
				q.events.publish(ev)
			}
		}
	})
	defer wg.Wait()
	defer conn.Close() // runs before wg.Wait: ends the event loop

	q.mu.Lock()
	q.sess = sess
	close(q.ready)
	q.mu.Unlock()
	n := q.connected.Add(1)
	q.log.Info("connected to broker", "session", n)
	defer func() {
		q.mu.Lock()
		q.sess = nil
		if !q.stopped {
			q.ready = make(chan struct{})
		}
		q.mu.Unlock()
		close(sess.done)
	}()

	select {
	case <-ctx.Done():
		return ctx.Err()
	case e := <-connClosed:
		return fmt.Errorf("printer: broker connection closed: %v", e)
	case e := <-pubClosed:
		return fmt.Errorf("printer: publish channel closed: %v", e)
	}
}

// declare creates the exchanges and queues (idempotent) and subscribes to events.
func (q *RabbitQueue) declare(conn *amqp.Connection) (<-chan amqp.Delivery, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("printer: open channel: %v", err)
	}
	fail := func(what string, err error) (<-chan amqp.Delivery, error) {
		return nil, fmt.Errorf("printer: declare %s: %v", what, err)
	}
	if err := ch.ExchangeDeclare(q.names.dlx, amqp.ExchangeDirect, true, false, false, false, nil); err != nil {
		return fail(q.names.dlx, err)
	}
	if _, err := ch.QueueDeclare(q.names.dead, true, false, false, false, amqp.Table{"x-queue-type": "quorum"}); err != nil {
		return fail(q.names.dead, err)
	}
	if err := ch.QueueBind(q.names.dead, q.names.dead, q.names.dlx, false, nil); err != nil {
		return fail(q.names.dead, err)
	}
	// x-delivery-limit counts returns, not deliveries: the broker dead-letters a message returned more than
	// that many times, so MaxDeliveries-1 allows MaxDeliveries deliveries, and the x-delivery-count header
	// (returns so far) makes Attempt. It is set explicitly because the default differs by version: none on
	// 3.x (3.10 here), 20 from 4.0 (rabbitmq-server#11937, 4.0.0 release notes: "Messages that are
	// redelivered 20 times or more will be dead-lettered"). What counts changed too: up to 4.2 every return
	// counts; from 4.3 the limit applies to failed deliveries only, and basic.nack with requeue no longer
	// counts while basic.reject with requeue does (rabbitmq-server#15387; quorum queue docs, "Poison Message
	// Handling"; the 4.3 release blog, "unlimited returns"). Retry therefore rejects, which counts on every
	// version.
	if _, err := ch.QueueDeclare(q.names.jobs, true, false, false, false, amqp.Table{
		"x-queue-type":              "quorum",
		"x-delivery-limit":          int64(q.cfg.MaxDeliveries - 1),
		"x-dead-letter-exchange":    q.names.dlx,
		"x-dead-letter-routing-key": q.names.dead,
		"x-dead-letter-strategy":    "at-least-once",
		"x-overflow":                "reject-publish",
		"x-max-length":              int64(q.cfg.MaxPending),
	}); err != nil {
		return fail(q.names.jobs, err)
	}
	if err := ch.ExchangeDeclare(q.names.events, amqp.ExchangeFanout, true, false, false, false, nil); err != nil {
		return fail(q.names.events, err)
	}
	evq, err := ch.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		return fail("event queue", err)
	}
	if err := ch.QueueBind(evq.Name, "", q.names.events, false, nil); err != nil {
		return fail("event queue", err)
	}
	return ch.Consume(evq.Name, "", true, true, false, false, nil)
}

// session waits for a connection.
func (q *RabbitQueue) session(ctx context.Context) (*rabbitSession, error) {
	for {
		q.mu.Lock()
		sess, ready, stopped := q.sess, q.ready, q.stopped
		q.mu.Unlock()
		if stopped {
			return nil, ErrQueueClosed
		}
		if sess != nil {
			return sess, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("printer: waiting for the broker: %w", ctx.Err())
		case <-ready:
		}
	}
}

// publishConfirmed publishes msg and waits for the broker's confirm, publishing again on the next
// connection if the confirm is lost with this one.
func (q *RabbitQueue) publishConfirmed(ctx context.Context, exchange, key string, msg amqp.Publishing) error {
	for {
		sess, err := q.session(ctx)
		if err != nil {
			return err
		}
		dc, err := sess.pub.PublishWithDeferredConfirmWithContext(ctx, exchange, key, false, false, msg)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			// A failed write means the connection is broken even if the client has not noticed yet:
			// drop it and publish again on the next one.
			q.log.Warn("publish failed, reconnecting", "err", err)
			sess.conn.Close()
			q.waitSessionEnd(ctx, sess)
			continue
		}
		select {
		case <-dc.Done():
			if dc.Acked() {
				return nil
			}
			if !sess.pub.IsClosed() {
				return fmt.Errorf("%w: the broker refused it (queue at its limit of %d or a broker alarm)", ErrQueueFull, q.cfg.MaxPending)
			}
			q.waitSessionEnd(ctx, sess)
		case <-sess.done:
		case <-ctx.Done():
			return fmt.Errorf("not confirmed by the broker, it may or may not be queued: %w", ctx.Err())
		}
	}
}

// waitSessionEnd waits until sess is replaced, so that a retry does not spin on a dead channel.
func (q *RabbitQueue) waitSessionEnd(ctx context.Context, sess *rabbitSession) {
	select {
	case <-sess.done:
	case <-ctx.Done():
	}
}

// Publish implements Queue: it returns nil once the broker confirmed the persistent message.
func (q *RabbitQueue) Publish(ctx context.Context, job Job) error {
	body, err := encodeQueueJob(job)
	if err != nil {
		return err
	}
	now := time.Now()
	err = q.publishConfirmed(ctx, "", q.names.jobs, amqp.Publishing{
		DeliveryMode: amqp.Persistent,
		ContentType:  "application/json",
		MessageId:    job.ID,
		Timestamp:    now,
		Headers:      amqp.Table{rabbitPublishedHeader: now.UnixNano()},
		Body:         body,
	})
	if err != nil {
		return fmt.Errorf("printer: publish job %s: %w", job.ID, err)
	}
	return nil
}

// delivery wraps an AMQP delivery; an undecodable job goes to the dead letters and nil is returned.
func (q *RabbitQueue) delivery(ctx context.Context, sess *rabbitSession, d amqp.Delivery) *Delivery {
	attempt := 1
	switch n := d.Headers["x-delivery-count"].(type) {
	case int64:
		attempt += int(n)
	case int32:
		attempt += int(n)
	case int:
		attempt += n
	}
	published := d.Timestamp // whole seconds: all an older publisher gives
	if ns, ok := d.Headers[rabbitPublishedHeader].(int64); ok {
		published = time.Unix(0, ns)
	}
	var settled atomic.Bool
	job, jobErr := decodeQueueJob(d.Body)
	del := &Delivery{Job: job, Attempt: attempt, MaxAttempts: q.cfg.MaxDeliveries, PublishedAt: published}
	del.settle = func(ctx context.Context, op settleOp, reason string) error {
		if !settled.CompareAndSwap(false, true) {
			return ErrAlreadySettled
		}
		var err error
		switch op {
		case settleAck:
			err = d.Ack(false)
		case settleRetry:
			q.log.Info("job retried", "job", d.MessageId, "attempt", attempt, "reason", reason)
			err = d.Reject(true) // not Nack: from RabbitMQ 4.3 a nack does not count towards the limit
		case settleFail:
			q.log.Warn("job failed", "job", d.MessageId, "attempt", attempt, "reason", reason)
			err = q.publishConfirmed(ctx, q.names.dlx, q.names.dead, amqp.Publishing{
				DeliveryMode: amqp.Persistent,
				ContentType:  "application/json",
				MessageId:    d.MessageId,
				Timestamp:    time.Now(),
				Headers:      amqp.Table{"x-stagelink-reason": clipQueueReason(reason), "x-stagelink-attempts": int64(attempt)},
				Body:         d.Body,
			})
			if err != nil {
				settled.Store(false)
				return fmt.Errorf("printer: dead-letter job %s: %w", d.MessageId, err)
			}
			err = d.Ack(false)
		}
		if err != nil {
			select {
			case <-sess.done:
				return fmt.Errorf("%w: job %s", ErrDeliveryLost, d.MessageId)
			default:
			}
			if !errors.Is(err, amqp.ErrClosed) {
				// The write failed on a broken connection: drop it so the broker surely redelivers.
				q.log.Warn("settling a delivery failed, reconnecting", "job", d.MessageId, "err", err)
				sess.conn.Close()
			}
			return fmt.Errorf("%w: job %s", ErrDeliveryLost, d.MessageId)
		}
		return nil
	}
	if jobErr != nil {
		q.log.Error("undecodable job, moving it to the dead letters", "message", d.MessageId, "err", jobErr)
		if err := del.Fail(ctx, "undecodable job: "+jobErr.Error()); err != nil {
			q.log.Error("cannot dead-letter undecodable job", "err", err)
		}
		return nil
	}
	return del
}

// DeadLetters implements Queue: it reads the dead-letter queue and puts the messages back.
func (q *RabbitQueue) DeadLetters(ctx context.Context, max int) ([]DeadLetter, error) {
	sess, err := q.session(ctx)
	if err != nil {
		return nil, err
	}
	ch, err := sess.conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("printer: dead letters: %v", err)
	}
	defer ch.Close() // returns every message got here to the queue
	var out []DeadLetter
	for len(out) < max && ctx.Err() == nil {
		d, ok, err := ch.Get(q.names.dead, false)
		if err != nil {
			return nil, fmt.Errorf("printer: dead letters: %v", err)
		}
		if !ok {
			break
		}
		job, _ := decodeQueueJob(d.Body) // an undecodable job still shows its reason
		reason, _ := d.Headers["x-stagelink-reason"].(string)
		if reason == "" {
			if r, _ := d.Headers["x-first-death-reason"].(string); r == "delivery_limit" {
				reason = fmt.Sprintf("delivery limit reached: delivered %d times", q.cfg.MaxDeliveries)
			} else {
				reason = "dead-lettered by the broker: " + r
			}
		}
		out = append(out, DeadLetter{Job: job, Reason: reason})
	}
	return out, ctx.Err()
}

// rabbitPublishedHeader carries a job's publish time in Unix nanoseconds (AMQP's timestamp has seconds).
const rabbitPublishedHeader = "x-stagelink-published"

// maxDeadLetterScan bounds how many dead letters RequeueDeadLetter looks through.
const maxDeadLetterScan = 10_000

// RequeueDeadLetter implements Queue. It looks through up to 10,000 dead letters for the id, publishes
// the job to the jobs queue (confirmed), then acknowledges the dead copies it found; the others go back
// to the dead-letter queue.
func (q *RabbitQueue) RequeueDeadLetter(ctx context.Context, id string) (Job, error) {
	if err := ValidateJobID(id); err != nil {
		return Job{}, err
	}
	q.deadMu.Lock() // two calls for one id in this process must not publish it twice
	defer q.deadMu.Unlock()
	sess, err := q.session(ctx)
	if err != nil {
		return Job{}, err
	}
	ch, err := sess.conn.Channel()
	if err != nil {
		return Job{}, fmt.Errorf("printer: requeue dead letter: %v", err)
	}
	defer ch.Close() // returns every other message got here to the queue
	var found []amqp.Delivery
	for range maxDeadLetterScan {
		if err := ctx.Err(); err != nil {
			return Job{}, fmt.Errorf("printer: requeue dead letter %s: %w", id, err)
		}
		d, ok, err := ch.Get(q.names.dead, false)
		if err != nil {
			return Job{}, fmt.Errorf("printer: requeue dead letter %s: %v", id, err)
		}
		if !ok {
			break
		}
		did := d.MessageId
		if did == "" {
			j, _ := decodeQueueJob(d.Body)
			did = j.ID
		}
		if did == id {
			found = append(found, d)
		}
	}
	if len(found) == 0 {
		return Job{}, fmt.Errorf("%w: %s", ErrNoDeadLetter, id)
	}
	job, err := decodeQueueJob(found[0].Body)
	if err != nil {
		return Job{}, fmt.Errorf("printer: dead letter %s cannot be requeued: %w", id, err)
	}
	if err := q.Publish(ctx, job); err != nil {
		return Job{}, err
	}
	for _, d := range found {
		if err := d.Ack(false); err != nil {
			// The job is queued: a dead copy left behind only shows in DeadLetters.
			q.log.Warn("job requeued, but its dead letter stays", "job", id, "err", err)
			break
		}
	}
	return job, nil
}

// Depth implements Queue: the jobs queue's ready messages, from a passive declare. The broker's answer
// counts no unacknowledged delivery (the job being printed). The call waits for a connection; a broker
// that does not answer is given up on when ctx ends (the request itself ends with the connection).
func (q *RabbitQueue) Depth(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("printer: queue depth: %w", err)
	}
	sess, err := q.session(ctx)
	if err != nil {
		return 0, err
	}
	type result struct {
		n   int
		err error
	}
	res := make(chan result, 1)
	go func() { // owned by the session: a channel operation ends when the connection closes
		ch, err := sess.conn.Channel()
		if err != nil {
			res <- result{err: err}
			return
		}
		defer ch.Close()
		qi, err := ch.QueueDeclarePassive(q.names.jobs, true, false, false, false, nil)
		res <- result{qi.Messages, err}
	}()
	select {
	case r := <-res:
		if r.err != nil {
			return 0, fmt.Errorf("printer: queue depth: %v", r.err)
		}
		return r.n, nil
	case <-ctx.Done():
		return 0, fmt.Errorf("printer: queue depth: %w", ctx.Err())
	}
}

// PublishEvent implements Queue: it publishes to the events fanout exchange and waits for the confirm.
func (q *RabbitQueue) PublishEvent(ctx context.Context, ev Event) error {
	if err := validateQueueEvent(ev); err != nil {
		return err
	}
	ev.Reason = clipQueueReason(ev.Reason)
	body, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	if err := q.publishConfirmed(ctx, q.names.events, "", amqp.Publishing{ContentType: "application/json", Body: body}); err != nil {
		return fmt.Errorf("printer: publish event for job %s: %w", ev.JobID, err)
	}
	return nil
}

// maxEventBytes bounds an event read from the broker; the events published here are far smaller.
const maxEventBytes = 8 << 10

// decodeEvent decodes and checks an event from the broker. Kinds this version does not know (from a newer
// agent or hub) are skipped quietly; anything else wrong is logged.
func (q *RabbitQueue) decodeEvent(b []byte) (Event, bool) {
	if len(b) > maxEventBytes {
		q.log.Warn("ignoring an oversized event", "bytes", len(b))
		return Event{}, false
	}
	var ev Event
	if err := json.Unmarshal(b, &ev); err != nil {
		q.log.Warn("ignoring bad event", "err", err)
		return Event{}, false
	}
	if err := validateQueueEvent(ev); err != nil {
		if !knownEventKind(ev.Kind) {
			q.log.Debug("ignoring an event of a kind this version does not know", "kind", clipQueueForLog(string(ev.Kind)))
		} else {
			q.log.Warn("ignoring bad event", "err", err)
		}
		return Event{}, false
	}
	ev.Reason = clipQueueReason(ev.Reason)
	return ev, true
}

// Events implements Queue. It waits for a connection so that events published after it returns arrive;
// events published while the connection is down are missed.
func (q *RabbitQueue) Events(ctx context.Context) (<-chan Event, error) {
	if _, err := q.session(ctx); err != nil {
		return nil, err
	}
	return q.events.subscribe(ctx)
}
