package printer

import (
	"bytes"
	"errors"
	"flag"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/text/encoding/charmap"
)

var updatePreview = flag.Bool("update-preview", false, "rewrite printer/testdata/preview golden images")

// previewSample is a receipt written by hand from the ESC/POS reference, so the renderer is tested apart
// from the encoder.
func previewSample(t testing.TB) []byte {
	pc852, err := charmap.CodePage852.NewEncoder().String("Zażółć gęślą jaźń")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	b.WriteString("\x1b@\x1bt\x12")                         // init, PC852
	b.WriteString("\x1ba\x01\x1d!\x11\x1bE\x01STAGELINK\n") // centred, double size, bold
	b.WriteString("\x1d!\x00\x1bE\x00\x1ba\x00")            // normal
	b.WriteString(pc852 + "\n")
	b.WriteString("A line long enough to wrap at forty-two columns on Font A paper.\n")
	b.WriteString("\x1ba\x02right\n\x1ba\x01")
	// A 16×8 raster image: a checkerboard of 8-dot squares.
	b.WriteString("\x1dv0\x00\x02\x00\x08\x00")
	for range 8 {
		b.WriteString("\xff\x00")
	}
	b.WriteString("\n")
	data := "https://example.com/receipt/42"
	n := len(data) + 3
	b.WriteString("\x1d(k\x04\x001A2\x00")                                         // model 2
	b.WriteString("\x1d(k\x03\x001C\x06")                                          // module size 6
	b.WriteString("\x1d(k\x03\x001E1")                                             // error correction M
	b.WriteString("\x1d(k" + string([]byte{byte(n), byte(n >> 8)}) + "1P0" + data) // store
	b.WriteString("\x1d(k\x03\x001Q0")                                             // print
	b.WriteString("\n\x1bd\x02\x1dVB\x00")                                         // feed, cut
	return b.Bytes()
}

func TestPreviewGolden(t *testing.T) {
	comparePreview(t, previewSample(t), "sample.png")
}

// TestPreviewOfReceipt draws the golden tip receipt of the layouts, as the dashboard and the demo show it.
func TestPreviewOfReceipt(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "escpos", "layout_tip_pln.bin"))
	if err != nil {
		t.Fatal(err)
	}
	comparePreview(t, data, "tip_pln.png")
}

func comparePreview(t *testing.T, data []byte, name string) {
	t.Helper()
	p, err := NewPreviewer()
	if err != nil {
		t.Fatal(err)
	}
	img, err := p.Render(data)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "preview", name)
	if *updatePreview {
		var buf bytes.Buffer
		png.Encode(&buf, img)
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("%v (run with -update-preview to create it)", err)
	}
	defer f.Close()
	want, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if !want.Bounds().Eq(img.Bounds()) {
		t.Fatalf("size %v, want %v", img.Bounds(), want.Bounds())
	}
	// Pixel-exact but for antialiasing: at most 0.1 % of pixels may differ by more than a little.
	diff, total := 0, 0
	for y := range img.Bounds().Dy() {
		for x := range img.Bounds().Dx() {
			total++
			g := img.GrayAt(x, y).Y
			w := grayOf(want, x, y)
			if d := int(g) - int(w); d > 32 || d < -32 {
				diff++
			}
		}
	}
	if diff*1000 > total {
		t.Errorf("%d of %d pixels differ from %s", diff, total, path)
	}
	if img.Bounds().Dx() != previewPaperDots {
		t.Errorf("width %d, want %d", img.Bounds().Dx(), previewPaperDots)
	}
}

func grayOf(img image.Image, x, y int) uint8 {
	r, _, _, _ := img.At(x, y).RGBA()
	return uint8(r >> 8)
}

func TestPreviewRefusesUnknownBytes(t *testing.T) {
	p, err := NewPreviewer()
	if err != nil {
		t.Fatal(err)
	}
	for _, data := range []string{
		"\x07",                       // BEL
		"\x1bp\x00\x19\xfa",          // ESC p: open the cash drawer
		"\x1bt\x00",                  // another code page
		"\x1dv0\x00\xff\x00\x01\x00", // an image wider than the paper
		"\x1d(k\x03\x00",             // cut short
		"\x1b",                       // cut short
	} {
		if _, err := p.Render([]byte(data)); !errors.Is(err, ErrPreview) {
			t.Errorf("Render(%q) = %v, want an ErrPreview", data, err)
		}
	}
}

func FuzzPreview(f *testing.F) {
	f.Add(previewSample(f))
	f.Add([]byte("\x1b@hello\n\x1dVB\x00"))
	p, err := NewPreviewer()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		img, err := p.Render(data)
		if err == nil && (img.Bounds().Dx() != previewPaperDots || img.Bounds().Dy() > previewMaxHeight+2000) {
			t.Errorf("image %v", img.Bounds())
		}
	})
}
