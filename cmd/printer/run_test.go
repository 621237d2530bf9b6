package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stagelink/stagelink/printer"
)

var testJob = printer.Job{ID: "web:1", Source: printer.SourceWeb, Author: "Ola", Text: "Zażółć gęślą jaźń", CreatedAt: time.Unix(1700000000, 0)}

func TestPreviewWritesPNG(t *testing.T) {
	path := filepath.Join(t.TempDir(), "job.json")
	b, _ := json.Marshal(testJob)
	os.WriteFile(path, b, 0o600)
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-preview", path}, func(string) string { return "" }, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&out)
	if err != nil {
		t.Fatalf("stdout is not a PNG: %v", err)
	}
	if w := img.Bounds().Dx(); w != 576 {
		t.Errorf("width %d, want 576 (80 mm at 180 dpi)", w)
	}
}

func TestRunRefusesBadConfig(t *testing.T) {
	for _, args := range [][]string{{}, {"-serial", "/dev/x", "-out", "f"}, {"-preview", "/nonexistent.json"}, {"extra"}} {
		if err := run(context.Background(), args, func(string) string { return "" }, io.Discard, io.Discard); err == nil {
			t.Errorf("run(%q) = nil, want an error", args)
		}
	}
}

// publish puts jobs into the embedded queue of data, as the hub does.
func publish(t *testing.T, data string, jobs ...printer.Job) {
	t.Helper()
	q, err := printer.OpenDiskQueue(printer.DiskQueueConfig{Dir: filepath.Join(data, "queue")}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	for _, j := range jobs {
		if err := q.Publish(context.Background(), j); err != nil {
			t.Fatal(err)
		}
	}
}

// agent runs the printer agent with args until the returned stop is called.
func agent(t *testing.T, args ...string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, func(string) string { return "" }, io.Discard, io.Discard) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestOutPrintsEachJobOnce: jobs in the embedded queue are written to -out; the same id queued again after
// a restart is not printed again.
func TestOutPrintsEachJobOnce(t *testing.T) {
	data := t.TempDir()
	outFile := filepath.Join(data, "receipts.bin")
	second := printer.Job{ID: "web:2", Source: printer.SourceWeb, Text: "druga"}
	publish(t, data, testJob, second)
	want1, _ := printer.Render(testJob, printer.LayoutConfig{})
	want2, _ := printer.Render(second, printer.LayoutConfig{})
	stop := agent(t, "-data", data, "-out", outFile)
	waitFor(t, "both receipts", func() bool {
		b, _ := os.ReadFile(outFile)
		return len(b) == len(want1)+len(want2)
	})
	stop()

	publish(t, data, testJob) // the source retries
	stop = agent(t, "-data", data, "-out", outFile)
	time.Sleep(300 * time.Millisecond)
	stop()
	got, _ := os.ReadFile(outFile)
	if !bytes.Equal(got, append(append([]byte{}, want1...), want2...)) {
		t.Errorf("receipts file has %d bytes, want the two receipts once each (%d bytes)", len(got), len(want1)+len(want2))
	}
}

// TestSerialPrinter prints through a socat pty pair to the fake TM-T88IV.
func TestSerialPrinter(t *testing.T) {
	if _, err := exec.LookPath("socat"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("socat is required in CI")
		}
		t.Skip("socat not installed: apt-get install socat")
	}
	dir := t.TempDir()
	a, b := filepath.Join(dir, "ttyA"), filepath.Join(dir, "ttyB")
	socat := exec.Command("socat", "-d", "-d", "pty,raw,echo=0,link="+a, "pty,raw,echo=0,link="+b)
	if err := socat.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { socat.Process.Kill(); socat.Wait() }()
	waitFor(t, "the pty pair", func() bool {
		_, errA := os.Stat(a)
		_, errB := os.Stat(b)
		return errA == nil && errB == nil
	})
	far, err := printer.OpenSerial(b, 0)
	if err != nil {
		t.Fatal(err)
	}
	fake := printer.NewFakePrinter(far, printer.FakePrinterConfig{}, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go fake.Run(ctx)

	data := t.TempDir()
	publish(t, data, testJob)
	stop := agent(t, "-data", data, "-serial", a)
	defer stop()
	waitFor(t, "the receipt on the fake printer", func() bool {
		return strings.Contains(printer.DecodePC852(fake.Printed()), "Zażółć gęślą jaźń")
	})
	if st := fake.Stats(); st.Dropped != 0 {
		t.Errorf("the printer dropped %d bytes", st.Dropped)
	}
}

// lockedBuffer is a log destination safe for concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestSerialDeviceMissing: a serial device that is not there (yet) is waited for, not a reason to stop.
func TestSerialDeviceMissing(t *testing.T) {
	data := t.TempDir()
	device := filepath.Join(data, "ttyUSB9")
	var stderr lockedBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-data", data, "-serial", device}, func(string) string { return "" }, io.Discard, &stderr)
	}()
	waitFor(t, "the missing device in the log", func() bool {
		return strings.Contains(stderr.String(), "serial device unavailable") && strings.Contains(stderr.String(), device)
	})
	select {
	case err := <-done:
		t.Fatalf("run returned %v while the device was missing, want it to keep waiting", err)
	default:
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
}
