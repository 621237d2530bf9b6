package printer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Queue carries print jobs from the hub and the bots to the printer agent with at-least-once semantics:
// a job for which Publish returned nil is delivered until a consumer acks it or fails it into the dead
// letters. A job may be delivered more than once (a crash between printing and Ack, a dropped broker
// connection), so the consumer dedupes by Job.ID.
//
// Two implementations: RabbitQueue (RabbitMQ) and DiskQueue (embedded, on disk).
type Queue interface {
	// Publish stores the job durably (publisher confirm, or fsync) before it returns nil.
	Publish(ctx context.Context, job Job) error
	// Next blocks until a job is available and hands it out. The caller must settle the delivery with
	// Ack, Retry or Fail; a delivery left unsettled is delivered again after the consumer goes away.
	Next(ctx context.Context) (*Delivery, error)
	// PublishEvent tells every subscriber about the outcome of a job.
	PublishEvent(ctx context.Context, ev Event) error
	// Events subscribes to job outcomes published from now on until ctx is done, when the channel is
	// closed. Events are notifications, not a log: a subscriber that falls behind, or is not connected
	// when an event is published, misses it.
	Events(ctx context.Context) (<-chan Event, error)
	// DeadLetters returns up to max jobs from the dead-letter queue, oldest first, without removing them.
	DeadLetters(ctx context.Context, max int) ([]DeadLetter, error)
}

// Delivery is one job handed to a consumer, to be settled exactly once with Ack, Retry or Fail.
type Delivery struct {
	// Job is the job to print.
	Job Job
	// Attempt counts deliveries of this job, starting at 1. It can exceed 1 without a Retry after a
	// consumer crash or a dropped connection.
	Attempt int
	// MaxAttempts is the queue's delivery limit (its MaxDeliveries): a job retried on attempt MaxAttempts
	// goes to the dead letters without a word to anyone, so a consumer that gives up should Fail it with
	// its own reason instead. Zero means unknown.
	MaxAttempts int

	settle func(ctx context.Context, op settleOp, reason string) error
}

// settleOp says how a delivery ends.
type settleOp int

const (
	settleAck settleOp = iota
	settleRetry
	settleFail
)

// Ack removes the job from the queue: call it only after the job is printed.
func (d *Delivery) Ack(ctx context.Context) error { return d.settle(ctx, settleAck, "") }

// Retry puts the job back to be delivered again; the reason is logged. A job retried on its last attempt
// (Attempt == MaxAttempts) goes to the dead letters instead, with a reason that only says the limit was
// reached.
func (d *Delivery) Retry(ctx context.Context, reason string) error {
	return d.settle(ctx, settleRetry, reason)
}

// Fail moves the job to the dead letters with the reason, for a person to look at.
func (d *Delivery) Fail(ctx context.Context, reason string) error {
	return d.settle(ctx, settleFail, reason)
}

// DeadLetter is a job that failed for good, with the reason.
type DeadLetter struct {
	// Job is the job that failed.
	Job Job
	// Reason is the reason given to Fail, or a note that the delivery limit was reached.
	Reason string
}

// EventKind is the outcome of a job.
type EventKind string

// The outcomes of a job.
const (
	EventPrinted EventKind = "printed"
	EventFailed  EventKind = "failed"
)

// Event tells the hub, the bots and the dashboard what became of a job.
type Event struct {
	JobID  string    `json:"jobId"`
	Kind   EventKind `json:"kind"`
	Reason string    `json:"reason,omitempty"` // why it failed
	At     time.Time `json:"at"`
}

// Limits of the queue.
const (
	// MaxJobIDLen is the longest job id accepted.
	MaxJobIDLen = 128
	// MaxJobBytes is the largest JSON-encoded job accepted.
	MaxJobBytes = 64 << 10
	// maxReasonLen bounds failure reasons kept with dead letters and events.
	maxReasonLen = 1024
	// DefaultMaxDeliveries is how many times a job is delivered before it goes to the dead letters.
	DefaultMaxDeliveries = 10
)

// Errors returned by queues.
var (
	// ErrBadJobID means a job id is empty, too long, or has characters other than [A-Za-z0-9._:-].
	ErrBadJobID = errors.New("printer: bad job id")
	// ErrJobTooLarge means the JSON-encoded job exceeds MaxJobBytes.
	ErrJobTooLarge = errors.New("printer: job too large")
	// ErrQueueFull means the queue refuses new jobs until the printer catches up.
	ErrQueueFull = errors.New("printer: queue full")
	// ErrQueueClosed means the queue was closed or stopped.
	ErrQueueClosed = errors.New("printer: queue closed")
	// ErrDeliveryLost means the connection that carried a delivery is gone: it was not settled and will
	// be delivered again.
	ErrDeliveryLost = errors.New("printer: delivery lost with its connection, it will be delivered again")
	// ErrAlreadySettled means Ack, Retry or Fail was already called on the delivery.
	ErrAlreadySettled = errors.New("printer: delivery already settled")
)

// ValidateJobID reports whether id may be used as a job id: 1 to MaxJobIDLen characters from
// [A-Za-z0-9._:-], not starting with a dot. The characters are safe in file names, AMQP message ids and logs.
func ValidateJobID(id string) error {
	if id == "" || len(id) > MaxJobIDLen || id[0] == '.' {
		return fmt.Errorf("%w: %q must be 1 to %d characters, not starting with a dot", ErrBadJobID, clipQueueForLog(id), MaxJobIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			return fmt.Errorf("%w: %q has a character outside [A-Za-z0-9._:-]", ErrBadJobID, clipQueueForLog(id))
		}
	}
	return nil
}

// encodeQueueJob validates and encodes a job for the queue.
func encodeQueueJob(job Job) ([]byte, error) {
	if err := ValidateJobID(job.ID); err != nil {
		return nil, err
	}
	b, err := json.Marshal(job)
	if err != nil {
		return nil, fmt.Errorf("printer: encode job %s: %v", job.ID, err)
	}
	if len(b) > MaxJobBytes {
		return nil, fmt.Errorf("%w: job %s is %d bytes, at most %d", ErrJobTooLarge, job.ID, len(b), MaxJobBytes)
	}
	return b, nil
}

// decodeQueueJob decodes and checks a job read back from the queue.
func decodeQueueJob(b []byte) (Job, error) {
	if len(b) > MaxJobBytes {
		return Job{}, fmt.Errorf("%w: %d bytes", ErrJobTooLarge, len(b))
	}
	var job Job
	if err := json.Unmarshal(b, &job); err != nil {
		return Job{}, fmt.Errorf("printer: decode job: %v", err)
	}
	if err := ValidateJobID(job.ID); err != nil {
		return Job{}, err
	}
	return job, nil
}

// validateQueueEvent checks an event before it is published.
func validateQueueEvent(ev Event) error {
	if err := ValidateJobID(ev.JobID); err != nil {
		return err
	}
	if ev.Kind != EventPrinted && ev.Kind != EventFailed {
		return fmt.Errorf("printer: unknown event kind %q", clipQueueForLog(string(ev.Kind)))
	}
	return nil
}

// clipQueueReason bounds a failure reason.
func clipQueueReason(s string) string {
	if len(s) > maxReasonLen {
		return s[:maxReasonLen]
	}
	return s
}

// clipQueueForLog shortens an untrusted string for an error message.
func clipQueueForLog(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
