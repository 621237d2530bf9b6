package web

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/stagelink/stagelink/printer"
)

// DemoDevices is the simulated venue of the embedded demo: what its devices show, for the page to draw.
type DemoDevices interface {
	// Snapshot returns the `demo:devices` payload.
	Snapshot() any
	// Changed signals, without blocking, that a device's output changed.
	Changed() <-chan struct{}
}

// SetDemo makes the page draw the simulated devices. Call it before Run.
func (s *Server) SetDemo(d DemoDevices) { s.demo = d }

// runDemo broadcasts `demo:devices` when the simulated devices change, at most ten times a second.
func (s *Server) runDemo(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.demo.Changed():
		}
		s.io.Of("/", nil).Local().Emit("demo:devices", s.demo.Snapshot())
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// DemoPrinter is the demo's simulated printer, whose receipts the page shows as pictures
// (printer.DemoPrinter).
type DemoPrinter interface {
	// Receipts returns the receipts kept, newest first.
	Receipts() []printer.DemoReceipt
	// Receipt returns the kept receipt with seq.
	Receipt(seq int) (printer.DemoReceipt, bool)
	// Changed signals, without blocking, that a receipt was printed.
	Changed() <-chan struct{}
}

var _ DemoPrinter = (*printer.DemoPrinter)(nil)

// SetDemoPrinter makes the page show the simulated printer's receipts. Call it before Run.
func (s *Server) SetDemoPrinter(p DemoPrinter) { s.paper = p }

// demoPrinterMsg is the `demo:printer` payload: the receipts kept, newest first.
type demoPrinterMsg struct {
	Receipts []demoReceiptMsg `json:"receipts"`
}

type demoReceiptMsg struct {
	Seq int       `json:"seq"`
	At  time.Time `json:"at"`
	URL string    `json:"url"` // the PNG
}

func (s *Server) demoPrinterMsg() demoPrinterMsg {
	rs := s.paper.Receipts()
	m := demoPrinterMsg{Receipts: make([]demoReceiptMsg, len(rs))}
	for i, r := range rs {
		m.Receipts[i] = demoReceiptMsg{Seq: r.Seq, At: r.At, URL: "/demo/printer/" + strconv.Itoa(r.Seq) + ".png"}
	}
	return m
}

// runDemoPrinter broadcasts `demo:printer` when the simulated printer printed a receipt.
func (s *Server) runDemoPrinter(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.paper.Changed():
		}
		s.io.Of("/", nil).Local().Emit("demo:printer", s.demoPrinterMsg())
	}
}

// demoReceipt serves a picture of a receipt the simulated printer printed: GET /demo/printer/{seq}.png.
func (s *Server) demoReceipt(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("seq")
	seq, err := strconv.Atoi(strings.TrimSuffix(name, ".png"))
	var rec printer.DemoReceipt
	ok := err == nil && s.paper != nil && strings.HasSuffix(name, ".png")
	if ok {
		rec, ok = s.paper.Receipt(seq)
	}
	if !ok {
		http.NotFound(w, r)
		return
	}
	writePNG(w, rec.PNG)
}
