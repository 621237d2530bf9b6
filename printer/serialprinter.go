package printer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"
)

// How soon a vanished serial device is opened again: exponential backoff with jitter between these.
const (
	serialReopenMin = 250 * time.Millisecond
	serialReopenMax = 10 * time.Second
)

// SerialPrinter is a printer on a serial device that is reopened when it vanishes (a USB serial adapter
// unplugged, a printer switched off with its USB port). Run keeps a Link open on the device, reopening it
// with backoff, and Print, WaitReady and Status use whichever Link is current. It is a Sink for the Agent.
type SerialPrinter struct {
	device   string
	cfg      LinkConfig
	log      *slog.Logger
	onStatus func(Status)
	open     func() (io.ReadWriteCloser, error) // OpenSerial; tests replace it

	notifyMu sync.Mutex // keeps status reports in order

	mu      sync.Mutex
	link    *Link         // nil while the device is not open
	changed chan struct{} // closed and replaced when link changes
	status  Status
	known   bool
	running bool
}

var (
	_ Sink           = (*SerialPrinter)(nil)
	_ readyWaiter    = (*SerialPrinter)(nil)
	_ statusReporter = (*SerialPrinter)(nil)
)

// NewSerialPrinter checks its arguments and returns a printer on device at baud (DefaultBaud when 0); it
// opens nothing: call Run. onStatus, if not nil, is called with every change of the printer's status,
// Status{NoResponse: true} while the device is missing included; it must not block.
func NewSerialPrinter(device string, baud int, cfg LinkConfig, log *slog.Logger, onStatus func(Status)) (*SerialPrinter, error) {
	if device == "" {
		return nil, errors.New("printer: no serial device: name one, for example /dev/ttyUSB0")
	}
	if baud < 0 {
		return nil, fmt.Errorf("printer: serial speed %d is negative: use the printer's speed (0 means %d)", baud, DefaultBaud)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &SerialPrinter{
		device:   device,
		cfg:      cfg,
		log:      log.With("device", device),
		onStatus: onStatus,
		open:     func() (io.ReadWriteCloser, error) { return OpenSerial(device, baud) },
		changed:  make(chan struct{}),
	}, nil
}

// Run opens the device and runs a Link on it until ctx ends. When the device cannot be opened or fails,
// it reports Status{NoResponse: true}, logs the error once for each new kind of failure, and opens it
// again after a backoff (250 ms doubling to 10 s, with jitter). It returns nil when ctx ends.
func (p *SerialPrinter) Run(ctx context.Context) error {
	p.mu.Lock()
	if p.running {
		p.mu.Unlock()
		return errors.New("printer: serial printer Run called twice")
	}
	p.running = true
	p.mu.Unlock()

	backoff := serialReopenMin
	lastErr := ""
	for {
		port, err := p.open()
		if err == nil {
			p.log.Info("serial device open")
			lastErr = ""
			start := time.Now()
			err = p.runLink(ctx, port)
			if ctx.Err() != nil {
				return nil
			}
			if time.Since(start) > serialReopenMax {
				backoff = serialReopenMin // it worked for a while: this is a new failure
			}
		}
		p.report(Status{NoResponse: true})
		if msg := err.Error(); msg != lastErr {
			p.log.Warn("serial device unavailable: opening it again until it is back", "err", err)
			lastErr = msg
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(2*backoff, serialReopenMax)
	}
}

// runLink runs a Link on port until the device fails or ctx ends.
func (p *SerialPrinter) runLink(ctx context.Context, port io.ReadWriteCloser) error {
	link, err := NewLink(port, p.cfg, p.log, p.report)
	if err != nil {
		port.Close()
		return err
	}
	p.setLink(link)
	defer p.setLink(nil)
	return link.Run(ctx)
}

func (p *SerialPrinter) setLink(l *Link) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.link = l
	close(p.changed)
	p.changed = make(chan struct{})
}

// report records a status and passes it on if it changed.
func (p *SerialPrinter) report(s Status) {
	p.notifyMu.Lock()
	defer p.notifyMu.Unlock()
	p.mu.Lock()
	same := p.known && p.status == s
	p.status, p.known = s, true
	p.mu.Unlock()
	if !same && p.onStatus != nil {
		p.onStatus(s)
	}
}

// current waits until a Link is open and returns it, with a channel closed when it is replaced.
func (p *SerialPrinter) current(ctx context.Context) (*Link, <-chan struct{}, error) {
	for {
		p.mu.Lock()
		link, changed := p.link, p.changed
		p.mu.Unlock()
		if link != nil {
			return link, changed, nil
		}
		select {
		case <-ctx.Done():
			return nil, nil, fmt.Errorf("printer: waiting for serial device %s: %w", p.device, ctx.Err())
		case <-changed:
		}
	}
}

// Print prints data on the current Link (see Link.Print), first waiting for the device to be open. It
// returns an error wrapping ErrDeviceGone if the device fails during the print, and ctx's error if ctx
// ends first.
func (p *SerialPrinter) Print(ctx context.Context, data []byte) error {
	link, _, err := p.current(ctx)
	if err != nil {
		return err
	}
	return link.Print(ctx, data)
}

// WaitReady blocks until the device is open and the printer reports it can print (see Link.WaitReady),
// across any number of reopenings. It returns only nil or, when ctx ends, ctx's error.
func (p *SerialPrinter) WaitReady(ctx context.Context) error {
	for {
		link, changed, err := p.current(ctx)
		if err != nil {
			return err
		}
		if err := link.WaitReady(ctx); err == nil {
			return nil
		} else if ctx.Err() != nil {
			return err
		}
		select { // the link failed: wait for the next one
		case <-ctx.Done():
			return fmt.Errorf("printer: waiting for serial device %s: %w", p.device, ctx.Err())
		case <-changed:
		}
	}
}

// Status returns the printer's last reported status and whether there was one yet. While the device is
// missing it is Status{NoResponse: true}.
func (p *SerialPrinter) Status() (Status, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.status, p.known
}
