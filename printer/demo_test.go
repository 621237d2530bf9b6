package printer

import (
	"bytes"
	"context"
	"image/png"
	"io"
	"log/slog"
	"testing"
	"time"
)

func TestDemoPrinterKeepsPictures(t *testing.T) {
	d, err := NewDemoPrinter(slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run after cancel: got %v, want nil", err)
		}
	}()

	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := d.WaitReady(wctx); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	for i := range demoReceiptsKept + 2 {
		data, err := Render(Job{ID: "demo:1", Source: SourceWeb, Text: "receipt " + string(rune('a'+i))}, LayoutConfig{})
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Print(wctx, data); err != nil {
			t.Fatalf("Print %d: %v", i, err)
		}
	}
	select {
	case <-d.Changed():
	default:
		t.Error("Changed did not signal after printing")
	}
	rs := d.Receipts()
	if len(rs) != demoReceiptsKept || rs[0].Seq != demoReceiptsKept+2 || rs[len(rs)-1].Seq != 3 {
		t.Fatalf("got %d receipts, newest %d, oldest %d; want %d, newest %d, oldest 3",
			len(rs), rs[0].Seq, rs[len(rs)-1].Seq, demoReceiptsKept, demoReceiptsKept+2)
	}
	r, ok := d.Receipt(rs[0].Seq)
	if !ok {
		t.Fatal("Receipt(newest) not found")
	}
	img, err := png.Decode(bytes.NewReader(r.PNG))
	if err != nil {
		t.Fatal(err)
	}
	if w := img.Bounds().Dx(); w != previewPaperDots {
		t.Errorf("picture is %d dots wide, want %d", w, previewPaperDots)
	}
	if _, ok := d.Receipt(1); ok {
		t.Error("Receipt(1) still kept, want only the last ones")
	}
}
