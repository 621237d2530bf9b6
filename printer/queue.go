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
	// PublishEvent tells every subscriber about a job or the printer (see EventKind). An event that is
	// not valid (validateQueueEvent) is refused.
	PublishEvent(ctx context.Context, ev Event) error
	// Events subscribes to events published from now on until ctx is done, when the channel is closed.
	// Only valid events of kinds this version knows arrive. Events are notifications, not a log: a
	// subscriber that falls behind, or is not connected when an event is published, misses it.
	Events(ctx context.Context) (<-chan Event, error)
	// DeadLetters returns up to max jobs from the dead-letter queue, oldest first, without removing them.
	DeadLetters(ctx context.Context, max int) ([]DeadLetter, error)
	// RequeueDeadLetter moves the dead letter of job id back into the queue as a new job with the same id
	// and a fresh delivery count, and returns the job. Extra dead copies of the same id are removed too.
	// The new job is published durably before the dead copy is removed, so a crash in between leaves the
	// job both queued and in the dead letters, never in neither. It returns an error wrapping
	// ErrNoDeadLetter when no dead letter has that id.
	RequeueDeadLetter(ctx context.Context, id string) (Job, error)
	// Depth returns how many jobs wait to be delivered. A job handed to a consumer and not settled yet
	// (the one being printed) is not counted. It returns ctx's error if the answer takes longer than ctx.
	Depth(ctx context.Context) (int, error)
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
	// PublishedAt is when this copy of the job was published, by the publisher's clock; it stays the same
	// across redeliveries. The agent compares it with the time of a cancel request: a cancel applies to
	// copies published before it, not to a copy published again later by Tracker.Retry. Zero means unknown
	// (a message from an older publisher).
	PublishedAt time.Time

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

// EventKind says what an Event is about. Consumers ignore kinds they do not know, so that a newer agent or
// hub can add kinds without an older one misreading them.
type EventKind string

// The kinds of events. The agent publishes EventPrinting, EventPrinted, EventRetrying, EventFailed,
// EventCancelled and EventStatus; a hub (Tracker) publishes EventCancel and EventRequeued.
const (
	// EventPrinting: the agent started writing the job to the printer (not sent for a duplicate it skips).
	EventPrinting EventKind = "printing"
	// EventPrinted: the job is on paper. Final: no later event about the job changes that.
	EventPrinted EventKind = "printed"
	// EventRetrying: an attempt to print the job failed (Reason says why) and the job is back in the queue
	// for another attempt.
	EventRetrying EventKind = "retrying"
	// EventFailed: the job is in the dead letters; Reason says why.
	EventFailed EventKind = "failed"
	// EventCancelled: the agent took a cancelled job from the queue and dropped it without printing.
	EventCancelled EventKind = "cancelled"
	// EventCancel asks every agent to drop the job instead of printing it (Tracker.Cancel). At is when it
	// was asked: it applies to copies of the job published before then.
	EventCancel EventKind = "cancel"
	// EventRequeued: a person put a failed or cancelled job back in the queue (Tracker.Retry, Resubmit).
	EventRequeued EventKind = "requeued"
	// EventStatus reports the printer's state (Printer) and that its agent is alive: sent when it changes
	// and every StatusHeartbeat. It has no JobID.
	EventStatus EventKind = "status"
)

// Event tells the hubs, the bots and the dashboard what became of a job or of the printer, and carries
// cancel requests from a hub to the agents.
type Event struct {
	JobID   string        `json:"jobId,omitempty"`
	Kind    EventKind     `json:"kind"`
	Reason  string        `json:"reason,omitempty"` // why it failed or is retried
	At      time.Time     `json:"at"`
	Printer *PrinterState `json:"printer,omitempty"` // EventStatus only
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
	// ErrNoDeadLetter means no dead letter has the job id asked for.
	ErrNoDeadLetter = errors.New("printer: no dead letter with that job id")
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

// validateQueueEvent checks an event before it is published, and one received before it is used: a known
// kind, a valid job id on job events, none on status events, and a bounded printer state.
func validateQueueEvent(ev Event) error {
	if !knownEventKind(ev.Kind) {
		return fmt.Errorf("printer: unknown event kind %q", clipQueueForLog(string(ev.Kind)))
	}
	if ev.Kind != EventStatus {
		if ev.Printer != nil {
			return fmt.Errorf("printer: a %s event carries no printer state", ev.Kind)
		}
		return ValidateJobID(ev.JobID)
	}
	if ev.JobID != "" || ev.Printer == nil {
		return errors.New("printer: a status event has a printer state and no job id")
	}
	return ev.Printer.validate()
}

// knownEventKind reports whether this version knows the kind.
func knownEventKind(k EventKind) bool {
	switch k {
	case EventPrinting, EventPrinted, EventRetrying, EventFailed, EventCancelled, EventCancel, EventRequeued, EventStatus:
		return true
	}
	return false
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
