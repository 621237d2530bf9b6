package printer

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// demoReceiptsKept is how many receipts the demo printer keeps as pictures.
const demoReceiptsKept = 12

// DemoPrinter is the embedded demo's printer: a simulated TM-T88IV (FakePrinter) at 38400 baud behind a
// real paced Link, over an in-memory line instead of a serial port. Each receipt it prints is drawn by the
// Previewer and kept as a PNG, so the demo page can show the paper.
type DemoPrinter struct {
	log     *slog.Logger
	link    *Link
	fake    *FakePrinter
	preview *Previewer
	changed chan struct{}

	mu       sync.Mutex
	seq      int
	receipts []DemoReceipt // oldest first
}

// DemoReceipt is one receipt the demo printer printed.
type DemoReceipt struct {
	Seq int       `json:"seq"` // 1 for the first receipt since the hub started
	At  time.Time `json:"at"`
	PNG []byte    `json:"-"`
}

// NewDemoPrinter returns the demo printer; Run starts it.
func NewDemoPrinter(log *slog.Logger) (*DemoPrinter, error) {
	host, far := net.Pipe()
	link, err := NewLink(host, LinkConfig{}, log, nil)
	if err != nil {
		return nil, err
	}
	p, err := NewPreviewer()
	if err != nil {
		return nil, err
	}
	return &DemoPrinter{log: log, link: link, fake: NewFakePrinter(far, FakePrinterConfig{}, log), preview: p,
		changed: make(chan struct{}, 1)}, nil
}

// Run runs the simulated printer and its link until ctx ends.
func (d *DemoPrinter) Run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return d.fake.Run(gctx) })
	g.Go(func() error { return d.link.Run(gctx) })
	if err := g.Wait(); ctx.Err() == nil {
		return fmt.Errorf("printer: demo printer stopped: %w", err)
	}
	return nil
}

// Print prints data on the simulated printer, at the real printer's line speed, and keeps a picture of it.
func (d *DemoPrinter) Print(ctx context.Context, data []byte) error {
	if err := d.link.Print(ctx, data); err != nil {
		return err
	}
	var png bytes.Buffer
	if err := d.preview.PNG(&png, data); err != nil {
		// The receipt is on the simulated paper; only its picture is missing.
		d.log.Warn("drawing a demo receipt", "err", err)
		return nil
	}
	d.mu.Lock()
	d.seq++
	d.receipts = append(d.receipts, DemoReceipt{Seq: d.seq, At: time.Now(), PNG: png.Bytes()})
	if len(d.receipts) > demoReceiptsKept {
		d.receipts = append(d.receipts[:0:0], d.receipts[len(d.receipts)-demoReceiptsKept:]...)
	}
	d.mu.Unlock()
	select {
	case d.changed <- struct{}{}:
	default:
	}
	return nil
}

// WaitReady waits until the simulated printer reports that it is ready.
func (d *DemoPrinter) WaitReady(ctx context.Context) error {
	return d.link.WaitReady(ctx)
}

// Status returns the simulated printer's last reported status, and whether one has arrived yet.
func (d *DemoPrinter) Status() (Status, bool) { return d.link.Status() }

// Receipts returns the receipts kept, newest first.
func (d *DemoPrinter) Receipts() []DemoReceipt {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]DemoReceipt, len(d.receipts))
	for i, r := range d.receipts {
		out[len(out)-1-i] = r
	}
	return out
}

// Receipt returns the kept receipt with seq.
func (d *DemoPrinter) Receipt(seq int) (DemoReceipt, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, r := range d.receipts {
		if r.Seq == seq {
			return r, true
		}
	}
	return DemoReceipt{}, false
}

// Changed signals, without blocking, that a receipt was printed.
func (d *DemoPrinter) Changed() <-chan struct{} { return d.changed }
