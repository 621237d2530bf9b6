package printer

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

// TestSerialWaitReadySynctest: WaitReady returns once the printer reported it can print, blocks while
// paper is out, and returns ErrDeviceGone when the device goes away.
func TestSerialWaitReadySynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		host, far := serialTestPipe()
		r := serialTestStart(t, host, far, FakePrinterConfig{}, LinkConfig{})
		defer r.stop()
		ctx := t.Context()
		if err := r.link.WaitReady(ctx); err != nil {
			t.Fatalf("WaitReady: %v", err)
		}
		if s, known := r.link.Status(); !known || !s.Ready() {
			t.Fatalf("got status %v (known %v) after WaitReady, want ready", s, known)
		}

		r.fake.SetPaperOut(true)
		r.waitStatus(t, "paper end", func(s Status) bool { return s.PaperEnd })
		done := make(chan error, 1)
		go func() { done <- r.link.WaitReady(ctx) }()
		time.Sleep(time.Hour)
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("WaitReady returned while paper was out: %v", err)
		default:
		}
		r.fake.SetPaperOut(false)
		if err := <-done; err != nil {
			t.Fatalf("WaitReady after paper was back: %v", err)
		}

		short, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		r.fake.SetCoverOpen(true)
		r.waitStatus(t, "cover open", func(s Status) bool { return s.CoverOpen })
		if err := r.link.WaitReady(short); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("WaitReady with the cover open: got %v, want its context's deadline", err)
		}

		far.Close() // the device goes away
		if err := r.link.WaitReady(ctx); !errors.Is(err, ErrDeviceGone) {
			t.Errorf("WaitReady after the device went away: got %v, want ErrDeviceGone", err)
		}
	})
}
