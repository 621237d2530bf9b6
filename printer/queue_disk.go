package printer

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// DiskQueueConfig configures the embedded queue.
type DiskQueueConfig struct {
	// Dir is the queue's directory, created if missing; one process opens it at a time.
	Dir string
	// MaxPending is how many jobs may wait (pending or being printed) before Publish returns ErrQueueFull.
	// Zero means 10,000.
	MaxPending int
	// MaxPendingBytes bounds the encoded size of waiting jobs the same way. Zero means 64 MiB.
	MaxPendingBytes int64
	// MaxDeliveries is how many times a job is delivered before it goes to the dead letters. Zero means
	// DefaultMaxDeliveries.
	MaxDeliveries int
}

// Validate checks the configuration and says how to fix it.
func (c DiskQueueConfig) Validate() error {
	if c.Dir == "" {
		return errors.New("printer: disk queue needs a directory: set the data directory")
	}
	if c.MaxPending < 0 || c.MaxPendingBytes < 0 || c.MaxDeliveries < 0 {
		return errors.New("printer: disk queue limits must be zero (default) or positive")
	}
	return nil
}

// DiskQueue is the embedded Queue: one file per job under Dir, durable across kill -9.
//
// Layout: pending/ holds jobs waiting, named SEQ.ATTEMPTS.ID so that the order is the sequence number;
// inflight/ holds jobs handed to a consumer (moved back to pending/ when the queue is opened again);
// dead/ holds dead letters; tmp/ holds files being written. A job is written to tmp/, fsynced, renamed
// into pending/ and the directory is fsynced before Publish returns, so a published job survives a crash
// at any point. Events stay in memory: they reach subscribers in this process only.
type DiskQueue struct {
	cfg  DiskQueueConfig
	log  *slog.Logger
	lock *os.File // holds the flock on Dir

	events queueEventHub
	deadMu sync.Mutex // one RequeueDeadLetter at a time

	mu           sync.Mutex
	closed       bool
	pending      []diskQueueEntry // sorted by seq
	nextSeq      uint64
	usedCount    int   // pending + inflight + being written
	usedBytes    int64 // likewise
	wake         chan struct{}
	inflightSize map[string]int64 // inflight file name → size
}

var _ Queue = (*DiskQueue)(nil)

// diskQueueEntry is one pending job file.
type diskQueueEntry struct {
	seq       uint64
	attempts  int
	id        string
	size      int64
	published time.Time // when Publish was called; the file's modification time after a restart
}

func (e diskQueueEntry) name() string {
	return fmt.Sprintf("%020d.%d.%s", e.seq, e.attempts, e.id)
}

// parseDiskQueueName parses SEQ.ATTEMPTS.ID.
func parseDiskQueueName(name string) (diskQueueEntry, bool) {
	parts := strings.SplitN(name, ".", 3)
	if len(parts) != 3 {
		return diskQueueEntry{}, false
	}
	seq, err1 := strconv.ParseUint(parts[0], 10, 64)
	att, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil || att < 0 || ValidateJobID(parts[2]) != nil {
		return diskQueueEntry{}, false
	}
	return diskQueueEntry{seq: seq, attempts: att, id: parts[2]}, true
}

// diskDeadLetter is the content of a file in dead/.
type diskDeadLetter struct {
	Reason   string          `json:"reason"`
	Attempts int             `json:"attempts"`
	Job      json.RawMessage `json:"job"`
}

// OpenDiskQueue opens (creating if needed) the queue in cfg.Dir, takes an exclusive lock on it, and puts
// jobs left in flight by a previous process back in front of the pending ones. Close releases it.
func OpenDiskQueue(cfg DiskQueueConfig, log *slog.Logger) (*DiskQueue, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.MaxPending == 0 {
		cfg.MaxPending = 10000
	}
	if cfg.MaxPendingBytes == 0 {
		cfg.MaxPendingBytes = 64 << 20
	}
	if cfg.MaxDeliveries == 0 {
		cfg.MaxDeliveries = DefaultMaxDeliveries
	}
	q := &DiskQueue{
		cfg:          cfg,
		log:          log.With("component", "printer-queue", "queue", "disk"),
		wake:         make(chan struct{}),
		inflightSize: make(map[string]int64),
	}
	for _, sub := range []string{"", "pending", "inflight", "dead", "tmp"} {
		if err := os.MkdirAll(filepath.Join(cfg.Dir, sub), 0o700); err != nil {
			return nil, fmt.Errorf("printer: open disk queue: %v", err)
		}
	}
	lock, err := os.OpenFile(filepath.Join(cfg.Dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("printer: open disk queue: %v", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("printer: disk queue %s is in use by another process: %v", cfg.Dir, err)
	}
	q.lock = lock
	if err := q.recover(); err != nil {
		lock.Close()
		return nil, fmt.Errorf("printer: open disk queue: %v", err)
	}
	q.log.Info("disk queue open", "dir", cfg.Dir, "pending", len(q.pending))
	return q, nil
}

// recover cleans tmp/, moves inflight/ back to pending/ and loads the index.
func (q *DiskQueue) recover() error {
	tmp := filepath.Join(q.cfg.Dir, "tmp")
	ents, err := os.ReadDir(tmp)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if err := os.Remove(filepath.Join(tmp, e.Name())); err != nil {
			return err
		}
	}
	inflight, pending := filepath.Join(q.cfg.Dir, "inflight"), filepath.Join(q.cfg.Dir, "pending")
	ents, err = os.ReadDir(inflight)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if err := os.Rename(filepath.Join(inflight, e.Name()), filepath.Join(pending, e.Name())); err != nil {
			return err
		}
	}
	if len(ents) > 0 {
		if err := syncDiskQueueDir(pending); err != nil {
			return err
		}
		if err := syncDiskQueueDir(inflight); err != nil {
			return err
		}
	}
	ents, err = os.ReadDir(pending)
	if err != nil {
		return err
	}
	for _, e := range ents {
		entry, ok := parseDiskQueueName(e.Name())
		info, err := e.Info()
		if !ok || err != nil {
			q.log.Warn("ignoring stray file in queue", "file", e.Name())
			continue
		}
		entry.size, entry.published = info.Size(), info.ModTime()
		q.pending = append(q.pending, entry)
		q.usedCount++
		q.usedBytes += entry.size
		q.nextSeq = max(q.nextSeq, entry.seq+1)
	}
	slices.SortFunc(q.pending, func(a, b diskQueueEntry) int { return cmp.Compare(a.seq, b.seq) })
	ents, err = os.ReadDir(filepath.Join(q.cfg.Dir, "dead"))
	if err != nil {
		return err
	}
	for _, e := range ents {
		if seq, _, ok := strings.Cut(e.Name(), "."); ok {
			if n, err := strconv.ParseUint(seq, 10, 64); err == nil {
				q.nextSeq = max(q.nextSeq, n+1)
			}
		}
	}
	return nil
}

// Close releases the directory. Jobs handed out and not settled are delivered again by the next
// OpenDiskQueue; settling them after Close returns ErrQueueClosed.
func (q *DiskQueue) Close() error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return nil
	}
	q.closed = true
	close(q.wake)
	q.mu.Unlock()
	q.events.close()
	return q.lock.Close() // releases the flock
}

// Publish implements Queue: it returns nil once the job's file and its directory entry are fsynced.
func (q *DiskQueue) Publish(ctx context.Context, job Job) error {
	body, err := encodeQueueJob(job)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	size := int64(len(body))
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return ErrQueueClosed
	}
	if q.usedCount+1 > q.cfg.MaxPending || q.usedBytes+size > q.cfg.MaxPendingBytes {
		n, b := q.usedCount, q.usedBytes
		q.mu.Unlock()
		return fmt.Errorf("%w: %d jobs (%d bytes) waiting, limits %d jobs, %d bytes", ErrQueueFull, n, b, q.cfg.MaxPending, q.cfg.MaxPendingBytes)
	}
	entry := diskQueueEntry{seq: q.nextSeq, id: job.ID, size: size, published: time.Now()}
	q.nextSeq++
	q.usedCount++
	q.usedBytes += size
	q.mu.Unlock()

	if err := q.writeDurably(filepath.Join(q.cfg.Dir, "pending", entry.name()), body); err != nil {
		q.mu.Lock()
		q.usedCount--
		q.usedBytes -= size
		q.mu.Unlock()
		return fmt.Errorf("printer: publish job %s: %v", job.ID, err)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed { // the file is on disk: the next open delivers it
		return nil
	}
	i, _ := slices.BinarySearchFunc(q.pending, entry.seq, func(e diskQueueEntry, s uint64) int { return cmp.Compare(e.seq, s) })
	q.pending = slices.Insert(q.pending, i, entry)
	q.wakeLocked()
	return nil
}

// wakeLocked wakes every Next waiting for a job.
func (q *DiskQueue) wakeLocked() {
	close(q.wake)
	q.wake = make(chan struct{})
}

// writeDurably writes body to tmp/, fsyncs it, renames it to dst and fsyncs dst's directory.
func (q *DiskQueue) writeDurably(dst string, body []byte) error {
	tmp := filepath.Join(q.cfg.Dir, "tmp", filepath.Base(dst))
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(body)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, dst)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDiskQueueDir(filepath.Dir(dst))
}

// syncDiskQueueDir fsyncs a directory so that renames into and out of it are durable.
func syncDiskQueueDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Next implements Queue.
func (q *DiskQueue) Next(ctx context.Context) (*Delivery, error) {
	for {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return nil, ErrQueueClosed
		}
		if len(q.pending) == 0 {
			wake := q.wake
			q.mu.Unlock()
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-wake:
			}
			continue
		}
		entry := q.pending[0]
		q.pending = q.pending[1:]
		q.mu.Unlock()

		d, err := q.deliver(entry)
		if err != nil {
			return nil, err
		}
		if d != nil {
			return d, nil
		}
	}
}

// deliver moves a pending job to inflight/ counting the delivery. It returns nil, nil when the job went to
// the dead letters instead (delivery limit, unreadable file).
func (q *DiskQueue) deliver(entry diskQueueEntry) (*Delivery, error) {
	orig := entry
	src := filepath.Join(q.cfg.Dir, "pending", entry.name())
	entry.attempts++
	name := entry.name()
	dst := filepath.Join(q.cfg.Dir, "inflight", name)
	err := os.Rename(src, dst)
	if err == nil {
		err = syncDiskQueueDir(filepath.Join(q.cfg.Dir, "inflight"))
	}
	if err != nil {
		q.requeue(orig, src) // keep it rather than lose it
		return nil, fmt.Errorf("printer: deliver job %s: %v", entry.id, err)
	}
	q.mu.Lock()
	q.inflightSize[name] = entry.size
	q.mu.Unlock()
	body, err := os.ReadFile(dst)
	var job Job
	if err == nil {
		job, err = decodeQueueJob(body)
	}
	if err != nil {
		q.log.Error("job file unreadable, moving it to the dead letters", "job", entry.id, "err", err)
		return nil, q.bury(name, entry, body, "unreadable job file: "+err.Error())
	}
	if entry.attempts > q.cfg.MaxDeliveries {
		reason := fmt.Sprintf("delivery limit reached: delivered %d times", entry.attempts-1)
		q.log.Warn("job reached the delivery limit, moving it to the dead letters", "job", entry.id, "attempts", entry.attempts-1)
		return nil, q.bury(name, entry, body, reason)
	}
	var settled atomic.Bool
	d := &Delivery{Job: job, Attempt: entry.attempts, MaxAttempts: q.cfg.MaxDeliveries, PublishedAt: entry.published}
	d.settle = func(ctx context.Context, op settleOp, reason string) error {
		if !settled.CompareAndSwap(false, true) {
			return ErrAlreadySettled
		}
		q.mu.Lock()
		closed := q.closed
		q.mu.Unlock()
		if closed {
			return ErrQueueClosed
		}
		var err error
		switch op {
		case settleAck:
			err = q.ack(name)
		case settleRetry:
			q.log.Info("job retried", "job", entry.id, "attempt", entry.attempts, "reason", reason)
			err = os.Rename(dst, filepath.Join(q.cfg.Dir, "pending", name))
			if err == nil {
				err = syncDiskQueueDir(filepath.Join(q.cfg.Dir, "pending"))
			}
			if err == nil {
				q.mu.Lock()
				delete(q.inflightSize, name)
				q.mu.Unlock()
				q.requeue(entry, "")
			}
		case settleFail:
			q.log.Warn("job failed", "job", entry.id, "attempt", entry.attempts, "reason", reason)
			err = q.bury(name, entry, body, reason)
		}
		if err != nil {
			settled.Store(false) // let the caller try again
			return fmt.Errorf("printer: settle job %s: %v", entry.id, err)
		}
		return nil
	}
	return d, nil
}

// requeue puts an entry back in the index; with a non-empty path it first checks the file is still there.
func (q *DiskQueue) requeue(entry diskQueueEntry, path string) {
	if path != "" {
		if _, err := os.Stat(path); err != nil {
			return
		}
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	i, _ := slices.BinarySearchFunc(q.pending, entry.seq, func(e diskQueueEntry, s uint64) int { return cmp.Compare(e.seq, s) })
	q.pending = slices.Insert(q.pending, i, entry)
	q.wakeLocked()
}

// ack removes an inflight job.
func (q *DiskQueue) ack(name string) error {
	if err := os.Remove(filepath.Join(q.cfg.Dir, "inflight", name)); err != nil {
		return err
	}
	if err := syncDiskQueueDir(filepath.Join(q.cfg.Dir, "inflight")); err != nil {
		return err
	}
	q.release(name)
	return nil
}

// release forgets an inflight job's space.
func (q *DiskQueue) release(name string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if size, ok := q.inflightSize[name]; ok {
		delete(q.inflightSize, name)
		q.usedCount--
		q.usedBytes -= size
	}
}

// bury writes a dead letter durably, then removes the inflight file.
func (q *DiskQueue) bury(name string, entry diskQueueEntry, body []byte, reason string) error {
	dl, err := json.Marshal(diskDeadLetter{Reason: clipQueueReason(reason), Attempts: entry.attempts, Job: jsonOrString(body)})
	if err != nil {
		return err
	}
	if err := q.writeDurably(filepath.Join(q.cfg.Dir, "dead", fmt.Sprintf("%020d.%s", entry.seq, entry.id)), dl); err != nil {
		return err
	}
	return q.ack(name)
}

// jsonOrString keeps valid JSON as is and wraps anything else as a JSON string.
func jsonOrString(b []byte) json.RawMessage {
	if json.Valid(b) {
		return b
	}
	s, _ := json.Marshal(string(b))
	return s
}

// DeadLetters implements Queue.
func (q *DiskQueue) DeadLetters(ctx context.Context, max int) ([]DeadLetter, error) {
	dir := filepath.Join(q.cfg.Dir, "dead")
	ents, err := os.ReadDir(dir) // sorted by name: by sequence
	if err != nil {
		return nil, fmt.Errorf("printer: dead letters: %v", err)
	}
	var out []DeadLetter
	for _, e := range ents {
		if len(out) >= max || ctx.Err() != nil {
			break
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("printer: dead letters: %v", err)
		}
		var dl diskDeadLetter
		if err := json.Unmarshal(b, &dl); err != nil {
			return nil, fmt.Errorf("printer: dead letter %s: %v", e.Name(), err)
		}
		var job Job
		_ = json.Unmarshal(dl.Job, &job) // an unreadable job still shows its reason
		out = append(out, DeadLetter{Job: job, Reason: dl.Reason})
	}
	return out, ctx.Err()
}

// RequeueDeadLetter implements Queue: it publishes the job of the oldest dead letter with id like Publish
// (the queue's limits apply), then removes every dead letter with that id.
func (q *DiskQueue) RequeueDeadLetter(ctx context.Context, id string) (Job, error) {
	if err := ValidateJobID(id); err != nil {
		return Job{}, err
	}
	q.deadMu.Lock() // two calls for one id must not publish it twice
	defer q.deadMu.Unlock()
	dir := filepath.Join(q.cfg.Dir, "dead")
	ents, err := os.ReadDir(dir) // sorted by name: by sequence
	if err != nil {
		return Job{}, fmt.Errorf("printer: requeue dead letter: %v", err)
	}
	var names []string
	for _, e := range ents {
		if _, eid, ok := strings.Cut(e.Name(), "."); ok && eid == id {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return Job{}, fmt.Errorf("%w: %s", ErrNoDeadLetter, id)
	}
	b, err := os.ReadFile(filepath.Join(dir, names[0]))
	if err != nil {
		return Job{}, fmt.Errorf("printer: requeue dead letter %s: %v", id, err)
	}
	var dl diskDeadLetter
	if err := json.Unmarshal(b, &dl); err != nil {
		return Job{}, fmt.Errorf("printer: requeue dead letter %s: %v", id, err)
	}
	job, err := decodeQueueJob(dl.Job)
	if err != nil {
		return Job{}, fmt.Errorf("printer: dead letter %s cannot be requeued: %w", id, err)
	}
	if err := q.Publish(ctx, job); err != nil {
		return Job{}, err
	}
	// The job is queued: a dead letter left behind only shows in DeadLetters, and a later requeue of it
	// is skipped by the agent's record of printed jobs.
	for _, name := range names {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			q.log.Warn("job requeued, but its dead letter stays", "job", id, "err", err)
		}
	}
	if err := syncDiskQueueDir(dir); err != nil {
		q.log.Warn("job requeued, but its dead letter may come back after a crash", "job", id, "err", err)
	}
	return job, nil
}

// Depth implements Queue: the jobs in pending/.
func (q *DiskQueue) Depth(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return 0, ErrQueueClosed
	}
	return len(q.pending), nil
}

// PublishEvent implements Queue; events reach subscribers in this process only.
func (q *DiskQueue) PublishEvent(ctx context.Context, ev Event) error {
	if err := validateQueueEvent(ev); err != nil {
		return err
	}
	ev.Reason = clipQueueReason(ev.Reason)
	q.events.publish(ev)
	return nil
}

// Events implements Queue; only events published in this process arrive.
func (q *DiskQueue) Events(ctx context.Context) (<-chan Event, error) {
	return q.events.subscribe(ctx)
}
