package printer

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// FakePrinterConfig describes a simulated TM-T88IV. Zero fields take the defaults.
type FakePrinterConfig struct {
	// BufferSize is the receive buffer (default 4096). Bytes arriving while it is full are dropped.
	BufferSize int
	// LineRate is how many bytes per second the fake takes off the wire (default 3840: 38400 baud, 8N1).
	// A pty has no baud rate, so the fake imposes it.
	LineRate int
	// PrintRate is how many bytes per second leave the receive buffer while printing (default 2000).
	PrintRate int
	// XOFFFree sends XOFF when free buffer space falls to this (default 256).
	XOFFFree int
	// XONFree sends XON when free space is back to this (default 1024).
	XONFree int
}

func (c FakePrinterConfig) withDefaults() FakePrinterConfig {
	if c.BufferSize == 0 {
		c.BufferSize = 4096
	}
	if c.LineRate == 0 {
		c.LineRate = DefaultBaud / 10
	}
	if c.PrintRate == 0 {
		c.PrintRate = 2000
	}
	if c.XOFFFree == 0 {
		c.XOFFFree = 256
	}
	if c.XONFree == 0 {
		c.XONFree = 1024
	}
	return c
}

// FakePrinter simulates the serial side of an Epson TM-T88IV for tests, on the far end of a pty pair
// (socat) or any byte pipe:
//
//   - bytes are taken off the wire at LineRate into a BufferSize receive buffer; overflow is dropped and
//     counted, as on the real printer, so a pacing bug shows as lost text;
//   - `DLE EOT n` (n = 1–4) is answered on reception and not stored;
//   - the buffer drains at PrintRate while the printer is online; `GS a n` (ASB on/off, an ASB report sent at
//     once) and `GS r n` (answered when reached) are executed when drained; everything else is recorded
//     as printed, commands included (`GS v 0` and `GS ( ` payloads are skipped over, not interpreted);
//   - XOFF is sent when the buffer is nearly full or the printer goes offline, XON when it recovers;
//   - SetPaperOut and SetCoverOpen stop printing, take the printer offline and send an ASB report.
type FakePrinter struct {
	cfg  FakePrinterConfig
	port io.ReadWriteCloser
	log  *slog.Logger

	wtok chan struct{} // one write at a time, so ASB reports stay whole

	mu        sync.Mutex
	buf       []byte
	printed   []byte
	received  int
	dropped   int
	maxFill   int
	paperOut  bool
	coverOpen bool
	nearEnd   bool
	holdXOFF  bool
	xoffSent  bool
	asb       byte
	rtHold    []byte // a `DLE EOT` being received
	cmd       []byte // a command being drained
	skip      int    // payload bytes to pass through uninterpreted
}

// NewFakePrinter returns a fake printer talking over port. It starts nothing; call Run.
func NewFakePrinter(port io.ReadWriteCloser, cfg FakePrinterConfig, logger *slog.Logger) *FakePrinter {
	return &FakePrinter{cfg: cfg.withDefaults(), port: port, log: logger.With("component", "fake-printer"),
		wtok: make(chan struct{}, 1)}
}

// Run receives and prints until ctx ends or the port fails, then closes the port.
func (f *FakePrinter) Run(ctx context.Context) error {
	readErr := make(chan error, 1)
	go func() { readErr <- f.fakeReadLoop() }()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	last := time.Now()
	budget := 0.0
	var err error
loop:
	for {
		select {
		case <-ctx.Done():
			err = ctx.Err()
			break loop
		case err = <-readErr:
			readErr = nil
			break loop
		case now := <-tick.C:
			// A tick carries the time it was due, which can be before last (taken after the ticker
			// started, by a goroutine that may have waited): never count time backwards.
			if d := now.Sub(last); d > 0 {
				budget += d.Seconds() * float64(f.cfg.PrintRate)
				last = now
			}
			budget = f.fakeDrain(budget)
		}
	}
	_ = f.port.Close()
	if readErr != nil {
		<-readErr
	}
	return err
}

func (f *FakePrinter) fakeReadLoop() error {
	b := make([]byte, 64)
	next := time.Now()
	perByte := time.Second / time.Duration(f.cfg.LineRate)
	for {
		n, err := f.port.Read(b)
		if n > 0 {
			// The wire delivers one byte per perByte: deliver no faster.
			now := time.Now()
			if next.Before(now) {
				next = now
			}
			next = next.Add(time.Duration(n) * perByte)
			time.Sleep(time.Until(next))
			f.fakeReceive(b[:n])
		}
		if err == nil && n == 0 {
			err = io.EOF
		}
		if err != nil {
			return err
		}
	}
}

func (f *FakePrinter) fakeOfflineLocked() bool { return f.paperOut || f.coverOpen }

func (f *FakePrinter) fakeReceive(data []byte) {
	var out []byte
	f.mu.Lock()
	for _, b := range data {
		switch {
		case len(f.rtHold) == 0 && b == 0x10:
			f.rtHold = append(f.rtHold, b)
		case len(f.rtHold) == 1 && b == 0x04:
			f.rtHold = append(f.rtHold, b)
		case len(f.rtHold) == 2 && b >= 1 && b <= 4:
			out = append(out, f.fakeRealtimeLocked(b))
			f.rtHold = f.rtHold[:0]
		default:
			for _, h := range f.rtHold {
				f.fakeStoreLocked(h)
			}
			f.rtHold = f.rtHold[:0]
			if b == 0x10 {
				f.rtHold = append(f.rtHold, b)
			} else {
				f.fakeStoreLocked(b)
			}
		}
	}
	if !f.xoffSent && f.cfg.BufferSize-len(f.buf) <= f.cfg.XOFFFree {
		f.xoffSent = true
		out = append(out, XOFF)
	}
	f.mu.Unlock()
	f.fakeSend(out)
}

func (f *FakePrinter) fakeStoreLocked(b byte) {
	f.received++
	if len(f.buf) >= f.cfg.BufferSize {
		f.dropped++
		return
	}
	f.buf = append(f.buf, b)
	f.maxFill = max(f.maxFill, len(f.buf))
}

func (f *FakePrinter) fakeRealtimeLocked(n byte) byte {
	r := byte(0x12)
	switch n {
	case 1:
		if f.fakeOfflineLocked() {
			r |= 0x08
		}
	case 2:
		if f.coverOpen {
			r |= 0x04
		}
		if f.paperOut {
			r |= 0x20
		}
	case 4:
		if f.nearEnd {
			r |= 0x0C
		}
		if f.paperOut {
			r |= 0x60
		}
	}
	return r
}

func (f *FakePrinter) fakeASBLocked() []byte {
	r := []byte{0x10, 0, 0, 0}
	if f.fakeOfflineLocked() {
		r[0] |= 0x08
	}
	if f.coverOpen {
		r[0] |= 0x20
	}
	if f.nearEnd {
		r[2] |= 0x03
	}
	if f.paperOut {
		r[2] |= 0x0C
	}
	return r
}

// fakeDrain takes up to budget bytes out of the buffer and returns the budget left.
func (f *FakePrinter) fakeDrain(budget float64) float64 {
	var out []byte
	f.mu.Lock()
	if f.fakeOfflineLocked() {
		f.mu.Unlock()
		return 0
	}
	n := max(0, min(int(budget), len(f.buf)))
	for _, b := range f.buf[:n] {
		out = f.fakeExecLocked(b, out)
	}
	f.buf = append(f.buf[:0], f.buf[n:]...)
	if len(f.buf) == 0 {
		budget = 0 // an idle printer does not save up speed
	} else {
		budget -= float64(n)
	}
	if f.xoffSent && !f.holdXOFF && f.cfg.BufferSize-len(f.buf) >= f.cfg.XONFree {
		f.xoffSent = false
		out = append(out, XON)
	}
	f.mu.Unlock()
	f.fakeSend(out)
	return budget
}

// fakeExecLocked processes one byte leaving the receive buffer.
func (f *FakePrinter) fakeExecLocked(b byte, out []byte) []byte {
	if f.skip > 0 {
		f.skip--
		f.printed = append(f.printed, b)
		return out
	}
	if len(f.cmd) == 0 {
		if b == 0x1D {
			f.cmd = append(f.cmd, b)
		} else {
			f.printed = append(f.printed, b)
		}
		return out
	}
	f.cmd = append(f.cmd, b)
	c := f.cmd
	switch {
	case len(c) == 2 && (c[1] == 'a' || c[1] == 'r' || c[1] == 'v' || c[1] == '('):
		return out // need more
	case len(c) == 3 && c[1] == 'a':
		f.asb = c[2]
		f.cmd = f.cmd[:0]
		if f.asb != 0 {
			out = append(out, f.fakeASBLocked()...)
		}
		return out
	case len(c) == 3 && c[1] == 'r':
		f.cmd = f.cmd[:0]
		var r byte
		if f.nearEnd && (c[2] == 1 || c[2] == 49) {
			r = 0x03
		}
		return append(out, r)
	case c[1] == 'v' && len(c) < 8, c[1] == '(' && len(c) < 5:
		return out
	case c[1] == 'v':
		f.skip = (int(c[4]) + int(c[5])<<8) * (int(c[6]) + int(c[7])<<8)
	case c[1] == '(':
		f.skip = int(c[3]) + int(c[4])<<8
	}
	f.printed = append(f.printed, c...)
	f.cmd = f.cmd[:0]
	return out
}

func (f *FakePrinter) fakeSend(b []byte) {
	if len(b) == 0 {
		return
	}
	f.wtok <- struct{}{}
	defer func() { <-f.wtok }()
	if _, err := f.port.Write(b); err != nil {
		f.log.Debug("fake printer write failed", "err", err)
	}
}

// fakeSetState changes a condition, sending XOFF/XON and an ASB report as the printer would.
func (f *FakePrinter) fakeSetState(set func()) {
	var out []byte
	f.mu.Lock()
	wasOffline := f.fakeOfflineLocked()
	before := f.fakeASBLocked()
	set()
	offline := f.fakeOfflineLocked()
	if offline && !f.xoffSent {
		f.xoffSent = true
		out = append(out, XOFF)
	}
	if f.asb != 0 && string(before) != string(f.fakeASBLocked()) {
		out = append(out, f.fakeASBLocked()...)
	}
	if wasOffline && !offline && f.xoffSent && !f.holdXOFF && f.cfg.BufferSize-len(f.buf) >= f.cfg.XONFree {
		f.xoffSent = false
		out = append(out, XON)
	}
	f.mu.Unlock()
	f.fakeSend(out)
}

// SetPaperOut takes the paper out (true) or puts a new roll in (false).
func (f *FakePrinter) SetPaperOut(out bool) { f.fakeSetState(func() { f.paperOut = out }) }

// SetCoverOpen opens (true) or closes (false) the roll paper cover.
func (f *FakePrinter) SetCoverOpen(open bool) { f.fakeSetState(func() { f.coverOpen = open }) }

// SetPaperNearEnd sets the near-end sensor; the printer keeps printing.
func (f *FakePrinter) SetPaperNearEnd(near bool) { f.fakeSetState(func() { f.nearEnd = near }) }

// HoldXOFF sends XOFF and keeps the host stopped (true) while still printing, or sends XON (false).
func (f *FakePrinter) HoldXOFF(hold bool) {
	var out []byte
	f.mu.Lock()
	f.holdXOFF = hold
	switch {
	case hold:
		f.xoffSent = true
		out = []byte{XOFF}
	case !f.fakeOfflineLocked() && f.cfg.BufferSize-len(f.buf) >= f.cfg.XONFree:
		f.xoffSent = false
		out = []byte{XON}
	}
	f.mu.Unlock()
	f.fakeSend(out)
}

// Printed returns a copy of everything printed so far: the drained byte stream with its ESC/POS commands,
// minus `DLE EOT`, `GS a` and `GS r`.
func (f *FakePrinter) Printed() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]byte(nil), f.printed...)
}

// FakePrinterStats counts what happened to the bytes the fake received.
type FakePrinterStats struct {
	Received int // bytes stored or dropped (real-time requests not included)
	Dropped  int // bytes lost because the buffer was full
	Buffered int // bytes waiting in the buffer now
	MaxFill  int // the fullest the buffer has been
}

// Stats returns the fake's counters.
func (f *FakePrinter) Stats() FakePrinterStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return FakePrinterStats{Received: f.received, Dropped: f.dropped, Buffered: len(f.buf), MaxFill: f.maxFill}
}
