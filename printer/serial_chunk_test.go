package printer

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// TestSerialChunkSplitsCommand prints a real receipt whose first 512-byte chunk ends in the middle of a
// command: its last byte is the GS of the closing `GS V 66 0` (feed and cut). The link puts its `GS r 1`
// marker right there, so the printer receives `GS GS r 1 V B NUL`: the cut is lost (the receipt is not
// cut and stray bytes print), and the marker is never executed, so from then on every `GS r` reply
// confirms the marker before the one it answers and the link counts more bytes drained than really are.
func TestSerialChunkSplitsCommand(t *testing.T) {
	t.Skip("known bug in Link.Print: chunks are cut at fixed 512-byte offsets, even inside an ESC/POS command; remove this skip to see it")
	job := Job{ID: "web:1", Source: SourceWeb, Author: "e2e", Text: strings.Repeat("a", 343), CreatedAt: time.Unix(1700000000, 0)}
	data, err := Render(job, LayoutConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if len(data) != 515 || data[511] != 0x1D || data[512] != 'V' {
		t.Fatalf("receipt of %d bytes with % x at the chunk boundary: the layout changed, pick another text length", len(data), data[510:min(514, len(data))])
	}
	synctest.Test(t, func(t *testing.T) {
		host, far := serialTestPipe()
		r := serialTestStart(t, host, far, FakePrinterConfig{}, LinkConfig{})
		defer r.stop()
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		if err := r.link.Print(ctx, data); err != nil {
			t.Fatalf("Print of a %d-byte receipt: got %v, want nil (it takes well under a second)", len(data), err)
		}
		serialTestComparePrinted(t, r.fake.Printed(), data)
	})
}
