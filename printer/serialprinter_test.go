package printer

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// serialPrinterTestStatuses collects reported statuses.
type serialPrinterTestStatuses chan Status

func (c serialPrinterTestStatuses) report(s Status) {
	select {
	case c <- s:
	default:
	}
}

// wait waits for a reported status matching ok.
func (c serialPrinterTestStatuses) wait(t *testing.T, what string, ok func(Status) bool) {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case s := <-c:
			if ok(s) {
				return
			}
		case <-timeout:
			t.Fatalf("no %s status reported", what)
		}
	}
}

// serialPrinterTestLog counts the warnings logged with a message.
type serialPrinterTestLog struct {
	mu    sync.Mutex
	warns map[string]int
}

func (l *serialPrinterTestLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *serialPrinterTestLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *serialPrinterTestLog) WithGroup(string) slog.Handler            { return l }
func (l *serialPrinterTestLog) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if r.Level >= slog.LevelWarn {
		l.warns[r.Message]++
	}
	return nil
}

func (l *serialPrinterTestLog) count(msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.warns[msg]
}

const serialPrinterTestUnavailable = "serial device unavailable: opening it again until it is back"

// TestSerialPrinterReopenSynctest: while the device cannot be opened the printer retries with backoff
// (250 ms doubling to 10 s, with jitter), logs the failure once and reports no response; when the device
// is back it prints, and when it fails again it is reopened.
func TestSerialPrinterReopenSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		logs := &serialPrinterTestLog{warns: map[string]int{}}
		statuses := make(serialPrinterTestStatuses, 64)
		p, err := NewSerialPrinter("/dev/ttyTEST", 0, LinkConfig{}, slog.New(logs), statuses.report)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()

		const failures = 9
		var opens []time.Time
		fakes := make(chan *FakePrinter, 2)
		p.open = func() (io.ReadWriteCloser, error) {
			opens = append(opens, time.Now())
			if len(opens) <= failures {
				return nil, errors.New("open /dev/ttyTEST: no such file or directory")
			}
			host, far := serialTestPipe()
			fake := NewFakePrinter(far, FakePrinterConfig{}, slog.New(slog.DiscardHandler))
			go fake.Run(ctx)
			fakes <- fake
			return host, nil
		}
		runDone := make(chan error, 1)
		go func() { runDone <- p.Run(ctx) }()

		if err := p.WaitReady(ctx); err != nil {
			t.Fatalf("WaitReady: %v", err)
		}
		if len(opens) != failures+1 {
			t.Fatalf("got %d opens, want %d", len(opens), failures+1)
		}
		backoff := serialReopenMin
		for i := 1; i < len(opens); i++ {
			if gap := opens[i].Sub(opens[i-1]); gap < backoff/2 || gap > backoff {
				t.Errorf("open %d came %v after the last, want %v to %v", i+1, gap, backoff/2, backoff)
			}
			backoff = min(2*backoff, serialReopenMax)
		}
		if n := logs.count(serialPrinterTestUnavailable); n != 1 {
			t.Errorf("got the open failure logged %d times, want once", n)
		}
		statuses.wait(t, "no response", func(s Status) bool { return s.NoResponse })

		fake := <-fakes
		if err := p.Print(ctx, []byte("first\n")); err != nil {
			t.Fatalf("Print: %v", err)
		}
		if got := string(fake.Printed()); !strings.Contains(got, "first\n") {
			t.Errorf("got printed %q, want the first receipt", got)
		}

		// The device fails: the printer reports it and opens the device again.
		fake.port.Close()
		statuses.wait(t, "no response", func(s Status) bool { return s.NoResponse })
		if err := p.WaitReady(ctx); err != nil {
			t.Fatalf("WaitReady after the device failed: %v", err)
		}
		fake = <-fakes
		if err := p.Print(ctx, []byte("second\n")); err != nil {
			t.Fatalf("Print after reopening: %v", err)
		}
		if got := string(fake.Printed()); !strings.Contains(got, "second\n") {
			t.Errorf("got printed %q on the reopened device, want the second receipt", got)
		}
		if n := logs.count(serialPrinterTestUnavailable); n != 2 {
			t.Errorf("got failures logged %d times, want 2 (open failure, device lost)", n)
		}

		cancel()
		if err := <-runDone; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

// TestSerialPrinterWaitsForTheDevice: Print and WaitReady wait for an open device and end with their
// context; a missing device is no reason for Run to return.
func TestSerialPrinterWaitsForTheDevice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, err := NewSerialPrinter("/dev/ttyTEST", 0, LinkConfig{}, slog.New(slog.DiscardHandler), nil)
		if err != nil {
			t.Fatal(err)
		}
		p.open = func() (io.ReadWriteCloser, error) { return nil, errors.New("no such device") }
		ctx, cancel := context.WithCancel(t.Context())
		runDone := make(chan error, 1)
		go func() { runDone <- p.Run(ctx) }()
		short, cancelShort := context.WithTimeout(ctx, time.Minute)
		defer cancelShort()
		if err := p.Print(short, []byte("x")); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Print without a device: got %v, want its context's deadline", err)
		}
		if err := p.WaitReady(short); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("WaitReady without a device: got %v, want its context's deadline", err)
		}
		if s, known := p.Status(); !known || !s.NoResponse {
			t.Errorf("got status %v (known %v), want no response", s, known)
		}
		select {
		case err := <-runDone:
			t.Fatalf("Run returned %v while the device was missing", err)
		default:
		}
		cancel()
		if err := <-runDone; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

func TestNewSerialPrinterRefusesBadArguments(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	for _, tc := range []struct {
		name   string
		device string
		baud   int
		cfg    LinkConfig
	}{
		{"no device", "", 0, LinkConfig{}},
		{"negative speed", "/dev/ttyUSB0", -1, LinkConfig{}},
		{"window too large", "/dev/ttyUSB0", 0, LinkConfig{Window: 8192}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewSerialPrinter(tc.device, tc.baud, tc.cfg, log, nil); err == nil {
				t.Errorf("got nil, want an error")
			}
		})
	}
}

// TestSerialPrinterPtyDeviceVanishes kills socat (the serial device vanishes, as when a USB adapter is
// unplugged): the printer reports it and keeps running, and once socat is back under the same names the
// next receipt prints on the new far end.
func TestSerialPrinterPtyDeviceVanishes(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "ttyA"), filepath.Join(dir, "ttyB")
	socat := serialTestSocat(t, a, b)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	log := serialTestLogger(t)
	startFake := func() (*FakePrinter, chan error) {
		far, err := OpenSerial(b, 0)
		if err != nil {
			t.Fatal(err)
		}
		fake := NewFakePrinter(far, FakePrinterConfig{}, log)
		done := make(chan error, 1)
		go func() { done <- fake.Run(ctx) }()
		return fake, done
	}
	fake, fakeDone := startFake()

	statuses := make(serialPrinterTestStatuses, 256)
	p, err := NewSerialPrinter(a, 0, LinkConfig{}, log, statuses.report)
	if err != nil {
		t.Fatal(err)
	}
	runDone := make(chan error, 1)
	go func() { runDone <- p.Run(ctx) }()

	printed := func(fake *FakePrinter, text string) {
		t.Helper()
		pctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if err := p.WaitReady(pctx); err != nil {
			t.Fatalf("WaitReady: %v", err)
		}
		if err := p.Print(pctx, []byte(text)); err != nil {
			t.Fatalf("Print: %v", err)
		}
		if got := string(fake.Printed()); !strings.Contains(got, text) {
			t.Fatalf("got printed %q, want %q", got, text)
		}
	}
	printed(fake, "before the device vanished\n")

	if err := socat.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	// Its links now dangle, and the pty numbers they name may soon belong to someone else's pty: remove
	// them before the printer tries to open the device again (at least 125 ms later), as udev does.
	os.Remove(a)
	os.Remove(b)
	statuses.wait(t, "no response", func(s Status) bool { return s.NoResponse })
	<-fakeDone
	select {
	case err := <-runDone:
		t.Fatalf("Run returned %v after the device vanished, want it to keep going", err)
	default:
	}
	short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancelShort()
	if err := p.Print(short, []byte("lost\n")); err == nil {
		t.Error("Print without a device returned nil, want an error")
	}

	serialTestSocat(t, a, b) // back under the same names
	fake, _ = startFake()
	printed(fake, "after the device came back\n")
	if st := fake.Stats(); st.Dropped != 0 {
		t.Errorf("the printer dropped %d bytes", st.Dropped)
	}

	cancel()
	if err := <-runDone; err != nil {
		t.Errorf("Run: %v", err)
	}
}
