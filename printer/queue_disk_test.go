package printer

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestQueueDisk(t *testing.T) {
	testQueue(t, func(t *testing.T) queueTestStore {
		dir := t.TempDir()
		return func(t *testing.T) (Queue, func()) {
			q, err := OpenDiskQueue(DiskQueueConfig{Dir: dir, MaxDeliveries: queueTestMaxDeliveries}, queueTestLogger(t))
			if err != nil {
				t.Fatalf("OpenDiskQueue: %v", err)
			}
			return q, func() { q.Close() }
		}
	})
}

func TestQueueDiskFullAndLocked(t *testing.T) {
	dir := t.TempDir()
	ctx := queueTestContext(t)
	q, err := OpenDiskQueue(DiskQueueConfig{Dir: dir, MaxPending: 2}, queueTestLogger(t))
	if err != nil {
		t.Fatalf("OpenDiskQueue: %v", err)
	}
	defer q.Close()
	if _, err := OpenDiskQueue(DiskQueueConfig{Dir: dir}, queueTestLogger(t)); err == nil {
		t.Errorf("second OpenDiskQueue on the same dir: got nil, want an in-use error")
	}
	for _, id := range []string{"full-1", "full-2"} {
		if err := q.Publish(ctx, queueTestJob(id)); err != nil {
			t.Fatalf("Publish: %v", err)
		}
	}
	if err := q.Publish(ctx, queueTestJob("full-3")); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("Publish beyond MaxPending: got %v, want ErrQueueFull", err)
	}
	d := queueTestNext(t, q)
	if err := q.Publish(ctx, queueTestJob("full-3")); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("Publish while a job is in flight: got %v, want ErrQueueFull", err)
	}
	if err := d.Ack(ctx); err != nil {
		t.Fatalf("Ack: %v", err)
	}
	if err := q.Publish(ctx, queueTestJob("full-3")); err != nil {
		t.Fatalf("Publish after an ack: %v", err)
	}
}

// queueCrashChildEnv makes the test binary act as the child of TestQueueDiskKill9.
const queueCrashChildEnv = "STAGELINK_TEST_QUEUE_CRASH_DIR"

// TestQueueDiskKill9 runs a child that publishes and consumes as fast as it can, kill -9s it mid-way,
// and checks that every job the child saw published is either pending again or was being acked.
func TestQueueDiskKill9(t *testing.T) {
	if dir := os.Getenv(queueCrashChildEnv); dir != "" {
		queueCrashChild(dir)
		return
	}
	for round := range 3 {
		t.Run(fmt.Sprint("round", round), func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command(os.Args[0], "-test.run=^TestQueueDiskKill9$")
			cmd.Env = append(os.Environ(), queueCrashChildEnv+"="+dir)
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			published, delivering, acked := map[string]bool{}, map[string]bool{}, map[string]bool{}
			sc := bufio.NewScanner(out)
			killAt := 150 + 100*round
			for sc.Scan() {
				kind, id, _ := strings.Cut(sc.Text(), " ")
				switch kind {
				case "P":
					published[id] = true
				case "D":
					delivering[id] = true
				case "A":
					acked[id] = true
				}
				if len(published) == killAt {
					cmd.Process.Signal(syscall.SIGKILL)
					break
				}
			}
			for sc.Scan() { // drain what was already written
				kind, id, _ := strings.Cut(sc.Text(), " ")
				switch kind {
				case "P":
					published[id] = true
				case "D":
					delivering[id] = true
				case "A":
					acked[id] = true
				}
			}
			cmd.Wait()
			if len(acked) == 0 || len(published) < killAt {
				t.Fatalf("child published %d and acked %d before the kill; want both under way", len(published), len(acked))
			}

			q, err := OpenDiskQueue(DiskQueueConfig{Dir: dir}, queueTestLogger(t))
			if err != nil {
				t.Fatalf("reopen: %v", err)
			}
			defer q.Close()
			pending := map[string]bool{}
			for {
				ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
				d, err := q.Next(ctx)
				cancel()
				if err != nil {
					break
				}
				pending[d.Job.ID] = true
				if err := d.Ack(t.Context()); err != nil {
					t.Fatalf("Ack: %v", err)
				}
			}
			for id := range published {
				if !pending[id] && !delivering[id] {
					t.Errorf("job %s was published and never delivered, but is not pending after the crash", id)
				}
			}
			for id := range acked {
				if pending[id] {
					t.Errorf("job %s was acked but is pending again", id)
				}
			}
			t.Logf("published %d, acked %d, pending after restart %d", len(published), len(acked), len(pending))
		})
	}
}

// queueCrashChild publishes and consumes until killed, reporting each step after it happened.
func queueCrashChild(dir string) {
	q, err := OpenDiskQueue(DiskQueueConfig{Dir: dir, MaxPending: 1 << 20}, discardQueueLogger())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctx := context.Background()
	var mu sync.Mutex
	report := func(line string) { // written before the next step, so a kill never hides a step
		mu.Lock()
		defer mu.Unlock()
		os.Stdout.WriteString(line + "\n")
	}
	go func() { // lives until the kill
		for i := 0; ; i++ {
			id := fmt.Sprintf("crash-%06d", i)
			if err := q.Publish(ctx, queueTestJob(id)); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
			report("P " + id)
		}
	}()
	for {
		d, err := q.Next(ctx)
		if err != nil {
			os.Exit(2)
		}
		report("D " + d.Job.ID)
		if err := d.Ack(ctx); err != nil {
			os.Exit(2)
		}
		report("A " + d.Job.ID)
	}
}

// discardQueueLogger drops logs.
func discardQueueLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
