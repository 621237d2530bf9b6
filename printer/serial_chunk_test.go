package printer

import (
	"context"
	"errors"
	"image"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// TestSerialChunkSplitsCommand prints a real receipt whose byte 511 is the GS of the closing `GS V 66 0`
// (feed and cut). Cut at a fixed 512 bytes, the printer would receive `GS GS r 1 V B NUL`: the cut lost,
// stray bytes printed, and the marker never executed, so every later `GS r` reply would confirm the marker
// before the one it answers. Chunks must end between commands.
func TestSerialChunkSplitsCommand(t *testing.T) {
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

// TestSerialPrintsLargeImagesAndQR: a full-width image of the largest height and a QR code go through the
// link whole: the encoder sends the image in bands that fit the window, and no marker lands inside a band
// or the QR code's data.
func TestSerialPrintsLargeImagesAndQR(t *testing.T) {
	img := image.NewGray(image.Rect(0, 0, PaperDots, MaxImageHeight))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	data, err := NewReceipt().Text("before").Image(img, DitherAtkinson).QR(strings.Repeat("Q", MaxQRData), 4, QRLevelM).Text("after").Cut(0).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	synctest.Test(t, func(t *testing.T) {
		host, far := serialTestPipe()
		r := serialTestStart(t, host, far, FakePrinterConfig{}, LinkConfig{})
		defer r.stop()
		if err := r.link.Print(t.Context(), data); err != nil {
			t.Fatalf("Print of %d bytes: %v", len(data), err)
		}
		serialTestComparePrinted(t, r.fake.Printed(), data)
		if st := r.fake.Stats(); st.Dropped != 0 {
			t.Errorf("the printer dropped %d bytes, want 0", st.Dropped)
		}
	})
}

func TestSerialRefusesWhatItCannotPace(t *testing.T) {
	tests := []struct {
		name string
		data []byte
	}{
		{"unknown command", []byte("ok\x1b\x70\x00\x19\xfa")}, // ESC p: drawer kick, never emitted
		{"command cut short", []byte("ok\x1dV")},
		{"image cut short", []byte{0x1d, 'v', '0', 0, 1, 0, 2, 0, 0xff}},
		{"command larger than the window", append([]byte{0x1d, 'v', '0', 0, 64, 0, 64, 0}, make([]byte, 64*64)...)},
		{"stray control byte", []byte("a\rb")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				host, far := serialTestPipe()
				r := serialTestStart(t, host, far, FakePrinterConfig{}, LinkConfig{})
				defer r.stop()
				if err := r.link.Print(t.Context(), tt.data); !errors.Is(err, ErrNotPaceable) {
					t.Fatalf("got %v, want ErrNotPaceable", err)
				}
				if got := r.fake.Printed(); len(got) != 0 {
					t.Errorf("the printer received %q, want nothing", got)
				}
			})
		})
	}
}
