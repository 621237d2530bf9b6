package printer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"go.bug.st/serial"
)

// serialTestText returns about size bytes of numbered text lines without control bytes other than LF.
func serialTestText(size int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "%05d zażółć gęślą jaźń, the quick brown fox\n", i)
	}
	return b.Bytes()
}

func serialTestLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimSpace(p)))
	return len(p), nil
}

// serialTestComparePrinted fails t unless got equals want, pointing at the first difference.
func serialTestComparePrinted(t testing.TB, got, want []byte) {
	t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	t.Fatalf("printed %d bytes, want %d; first difference at %d: got %q, want %q",
		len(got), len(want), i, got[i:min(i+40, len(got))], want[i:min(i+40, len(want))])
}

// serialTestRig is a Link and a FakePrinter connected by some byte pipe, both running.
type serialTestRig struct {
	link     *Link
	fake     *FakePrinter
	statuses chan Status
	linkDone chan error
	fakeDone chan error
	cancel   context.CancelFunc
}

func serialTestStart(t testing.TB, host, far io.ReadWriteCloser, fcfg FakePrinterConfig, lcfg LinkConfig) *serialTestRig {
	t.Helper()
	log := serialTestLogger(t)
	r := &serialTestRig{statuses: make(chan Status, 256), linkDone: make(chan error, 1), fakeDone: make(chan error, 1)}
	link, err := NewLink(host, lcfg, log, func(s Status) {
		select {
		case r.statuses <- s:
		default:
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	r.link = link
	r.fake = NewFakePrinter(far, fcfg, log)
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.fakeDone <- r.fake.Run(ctx) }()
	go func() { r.linkDone <- r.link.Run(ctx) }()
	return r
}

// stop ends both sides and waits for them.
func (r *serialTestRig) stop() {
	r.cancel()
	<-r.linkDone
	<-r.fakeDone
}

// waitStatus waits for a reported status matching ok.
func (r *serialTestRig) waitStatus(t testing.TB, what string, ok func(Status) bool) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case s := <-r.statuses:
			if ok(s) {
				return
			}
		case <-timeout:
			t.Fatalf("no %s status reported", what)
		}
	}
}

// serialTestPipeEnd is one end of an in-memory duplex byte pipe (for synctest).
type serialTestPipeEnd struct {
	r *io.PipeReader
	w *io.PipeWriter
}

func (e serialTestPipeEnd) Read(p []byte) (int, error)  { return e.r.Read(p) }
func (e serialTestPipeEnd) Write(p []byte) (int, error) { return e.w.Write(p) }
func (e serialTestPipeEnd) Close() error {
	e.r.Close()
	return e.w.Close()
}

func serialTestPipe() (a, b serialTestPipeEnd) {
	ar, bw := io.Pipe()
	br, aw := io.Pipe()
	return serialTestPipeEnd{ar, aw}, serialTestPipeEnd{br, bw}
}

// TestSerialPacingSynctest runs the pacing against a slow fake printer in simulated time: nothing may be
// dropped, the buffer never fills past the window, and the job takes as long as the printer needs.
func TestSerialPacingSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		host, far := serialTestPipe()
		r := serialTestStart(t, host, far, FakePrinterConfig{PrintRate: 1000}, LinkConfig{})
		defer r.stop()
		data := serialTestText(20 << 10)
		start := time.Now()
		if err := r.link.Print(t.Context(), data); err != nil {
			t.Fatal(err)
		}
		elapsed := time.Since(start)
		st := r.fake.Stats()
		if st.Dropped != 0 {
			t.Errorf("printer dropped %d bytes", st.Dropped)
		}
		if st.MaxFill > 3072 {
			t.Errorf("buffer reached %d bytes, more than the window 3072", st.MaxFill)
		}
		serialTestComparePrinted(t, r.fake.Printed(), data)
		if min := time.Duration(len(data)) * time.Second / 1000; elapsed < min {
			t.Errorf("took %v, faster than the printer prints (%v)", elapsed, min)
		}
		t.Logf("%d bytes at 1000 B/s printing: %v simulated, buffer max %d", len(data), elapsed, st.MaxFill)
	})
}

// TestSerialThroughputSynctest measures the link against line rate when the printer is fast, in simulated
// time (the fake takes bytes off the wire at 3,840 bytes/s).
func TestSerialThroughputSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		host, far := serialTestPipe()
		r := serialTestStart(t, host, far, FakePrinterConfig{PrintRate: 20000}, LinkConfig{})
		defer r.stop()
		r.waitStatus(t, "initial", func(Status) bool { return true })
		data := serialTestText(40 << 10)
		start := time.Now()
		if err := r.link.Print(t.Context(), data); err != nil {
			t.Fatal(err)
		}
		rate := float64(len(data)) / time.Since(start).Seconds()
		ratio := rate / 3840
		t.Logf("throughput %.0f B/s = %.1f%% of line rate 3840 B/s", rate, 100*ratio)
		if ratio < 0.9 {
			t.Errorf("throughput %.1f%% of line rate, want at least 90%%", 100*ratio)
		}
		serialTestComparePrinted(t, r.fake.Printed(), data)
	})
}

// TestSerialPaperOutSynctest takes the paper out in the middle of a job: writing stops, the status is
// reported, and the job completes by itself when paper is back.
func TestSerialPaperOutSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		host, far := serialTestPipe()
		r := serialTestStart(t, host, far, FakePrinterConfig{PrintRate: 2000}, LinkConfig{})
		defer r.stop()
		data := serialTestText(16 << 10)
		done := make(chan error, 1)
		go func() { done <- r.link.Print(t.Context(), data) }()
		time.Sleep(2 * time.Second)
		r.fake.SetPaperOut(true)
		r.waitStatus(t, "paper end", func(s Status) bool { return s.PaperEnd })
		time.Sleep(time.Second)
		before := r.fake.Stats().Received
		time.Sleep(30 * time.Second)
		if after := r.fake.Stats().Received; after != before {
			t.Errorf("host kept sending while paper was out: %d more bytes", after-before)
		}
		select {
		case err := <-done:
			t.Fatalf("Print returned while paper was out: %v", err)
		default:
		}
		r.fake.SetPaperOut(false)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		st := r.fake.Stats()
		if st.Dropped != 0 {
			t.Errorf("printer dropped %d bytes", st.Dropped)
		}
		serialTestComparePrinted(t, r.fake.Printed(), data)
	})
}

// TestSerialFakeDropsOverflow proves the fake shows a pacing bug: unpaced writes lose bytes.
func TestSerialFakeDropsOverflow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		host, far := serialTestPipe()
		fake := NewFakePrinter(far, FakePrinterConfig{PrintRate: 500}, serialTestLogger(t))
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- fake.Run(ctx) }()
		go io.Copy(io.Discard, host) // XOFF and friends, ignored
		if _, err := host.Write(serialTestText(8 << 10)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
		if st := fake.Stats(); st.Dropped == 0 {
			t.Errorf("unpaced 8 KB into a slow printer dropped nothing: %+v", st)
		}
		host.Close()
		cancel()
		<-done
	})
}

// serialTestNoMoreBytes checks that the host stopped sending: what it had already handed to the OS when the
// printer said stop (at most the window) may still arrive over the pty at line rate, then nothing for a second.
func (r *serialTestRig) serialTestNoMoreBytes(t *testing.T, atStop int, when string) {
	t.Helper()
	last := r.fake.Stats().Received
	for stable := 0; stable < 3; {
		time.Sleep(100 * time.Millisecond)
		now := r.fake.Stats().Received
		if now == last {
			stable++
		} else {
			stable = 0
		}
		last = now
	}
	if inFlight := last - atStop; inFlight > 3072 {
		t.Errorf("%d bytes arrived after the printer said stop, more than the window 3072", inFlight)
	}
	time.Sleep(time.Second)
	if now := r.fake.Stats().Received; now != last {
		t.Errorf("host sent %d bytes %s", now-last, when)
	}
	t.Logf("%d bytes were in flight when the printer said stop", last-atStop)
}

// serialTestPty starts socat with a pty pair and returns the host and printer ends, opened 8N1 at 38400.
func serialTestPty(t *testing.T) (host, far serial.Port, socat *exec.Cmd) {
	t.Helper()
	dir := t.TempDir()
	a, b := filepath.Join(dir, "ttyA"), filepath.Join(dir, "ttyB")
	socat = serialTestSocat(t, a, b)
	host, err := OpenSerial(a, 0)
	if err != nil {
		t.Fatal(err)
	}
	far, err = OpenSerial(b, 0)
	if err != nil {
		host.Close()
		t.Fatal(err)
	}
	return host, far, socat
}

// serialTestSocat starts socat with a pty pair linked at a and b, waits for the links, and kills socat
// when the test ends. It skips the test when socat is missing (outside CI).
func serialTestSocat(t *testing.T, a, b string) *exec.Cmd {
	t.Helper()
	if _, err := exec.LookPath("socat"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("socat is required in CI for the serial tests: install socat")
		}
		t.Skip("socat not installed: skipping serial tests over a pty pair (apt-get install socat)")
	}
	cmd := exec.Command("socat", "-d", "-d", "pty,raw,echo=0,link="+a, "pty,raw,echo=0,link="+b)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start socat: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, errA := os.Stat(a) // follows the links: stale ones from an earlier socat do not count
		_, errB := os.Stat(b)
		if errA == nil && errB == nil {
			return cmd
		}
		select {
		case <-exited:
			t.Fatal("socat exited before creating the pty links")
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("socat did not create the pty links in 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSerialPtyLargeJob sends 20 KB at 38400 baud to a printer slower than the line: complete, nothing dropped.
func TestSerialPtyLargeJob(t *testing.T) {
	host, far, _ := serialTestPty(t)
	r := serialTestStart(t, host, far, FakePrinterConfig{PrintRate: 3000}, LinkConfig{})
	defer r.stop()
	data := serialTestText(20 << 10)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	start := time.Now()
	if err := r.link.Print(ctx, data); err != nil {
		t.Fatal(err)
	}
	st := r.fake.Stats()
	t.Logf("%d bytes in %v, buffer max %d, dropped %d", len(data), time.Since(start), st.MaxFill, st.Dropped)
	if st.Dropped != 0 {
		t.Errorf("printer dropped %d bytes", st.Dropped)
	}
	serialTestComparePrinted(t, r.fake.Printed(), data)
}

// TestSerialPtyXOFF holds XOFF: the host must stop sending (beyond what was already on its way) until XON.
func TestSerialPtyXOFF(t *testing.T) {
	host, far, _ := serialTestPty(t)
	r := serialTestStart(t, host, far, FakePrinterConfig{PrintRate: 20000}, LinkConfig{})
	defer r.stop()
	r.waitStatus(t, "initial", func(Status) bool { return true })
	data := serialTestText(12 << 10)
	done := make(chan error, 1)
	go func() { done <- r.link.Print(t.Context(), data) }()
	time.Sleep(500 * time.Millisecond)
	atXOFF := r.fake.Stats().Received
	r.fake.HoldXOFF(true)
	r.serialTestNoMoreBytes(t, atXOFF, "during XOFF")
	select {
	case err := <-done:
		t.Fatalf("Print returned during XOFF: %v", err)
	default:
	}
	r.fake.HoldXOFF(false)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Print did not finish after XON")
	}
	if st := r.fake.Stats(); st.Dropped != 0 {
		t.Errorf("printer dropped %d bytes", st.Dropped)
	}
	serialTestComparePrinted(t, r.fake.Printed(), data)
}

// TestSerialPtyPaperOut takes the paper out mid-job and puts it back: the job pauses, the status is reported,
// and everything prints exactly once.
func TestSerialPtyPaperOut(t *testing.T) {
	host, far, _ := serialTestPty(t)
	r := serialTestStart(t, host, far, FakePrinterConfig{PrintRate: 4000}, LinkConfig{})
	defer r.stop()
	data := serialTestText(20 << 10)
	done := make(chan error, 1)
	go func() { done <- r.link.Print(t.Context(), data) }()
	time.Sleep(time.Second)
	atStop := r.fake.Stats().Received
	r.fake.SetPaperOut(true)
	r.waitStatus(t, "paper end", func(s Status) bool { return s.PaperEnd })
	r.serialTestNoMoreBytes(t, atStop, "while paper was out")
	r.fake.SetPaperOut(false)
	r.waitStatus(t, "ready", func(s Status) bool { return s.Ready() })
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Print did not finish after paper was back")
	}
	if st := r.fake.Stats(); st.Dropped != 0 {
		t.Errorf("printer dropped %d bytes", st.Dropped)
	}
	serialTestComparePrinted(t, r.fake.Printed(), data)
}

// TestSerialPtyDeviceVanishes kills socat mid-job: Print and Run return ErrDeviceGone, nothing panics.
func TestSerialPtyDeviceVanishes(t *testing.T) {
	host, far, socat := serialTestPty(t)
	r := serialTestStart(t, host, far, FakePrinterConfig{PrintRate: 2000}, LinkConfig{})
	defer r.cancel()
	done := make(chan error, 1)
	go func() { done <- r.link.Print(t.Context(), serialTestText(20<<10)) }()
	time.Sleep(time.Second)
	if err := socat.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrDeviceGone) {
			t.Errorf("Print error = %v, want ErrDeviceGone", err)
		}
		t.Logf("Print: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("Print did not return after the device vanished")
	}
	select {
	case err := <-r.linkDone:
		if !errors.Is(err, ErrDeviceGone) {
			t.Errorf("Run error = %v, want ErrDeviceGone", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after the device vanished")
	}
	r.cancel()
	<-r.fakeDone
	if err := r.link.Print(t.Context(), []byte("x")); !errors.Is(err, ErrDeviceGone) {
		t.Errorf("Print after the device vanished = %v, want ErrDeviceGone", err)
	}
}

// TestSerialPtyThroughput sends 20 KiB over the real pty pair to a printer faster than the line: every
// byte arrives, and it logs the throughput against line rate (3,840 B/s at 38400 baud 8N1).
func TestSerialPtyThroughput(t *testing.T) {
	host, far, _ := serialTestPty(t)
	r := serialTestStart(t, host, far, FakePrinterConfig{PrintRate: 20000}, LinkConfig{})
	defer r.stop()
	r.waitStatus(t, "initial", func(Status) bool { return true })
	data := serialTestText(20 << 10)
	start := time.Now()
	if err := r.link.Print(t.Context(), data); err != nil {
		t.Fatal(err)
	}
	rate := float64(len(data)) / time.Since(start).Seconds()
	// A figure, not a check: the machine is shared (go test -v -run PtyThroughput ./printer prints it).
	t.Logf("pty throughput %.0f B/s = %.1f%% of line rate 3840 B/s", rate, 100*rate/3840)
	serialTestComparePrinted(t, r.fake.Printed(), data)
}
