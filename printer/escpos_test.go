package printer

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateEscpos = flag.Bool("update-escpos", false, "rewrite printer/testdata/escpos golden files")

// escposWalked is what escposWalk found in a byte stream.
type escposWalked struct {
	text  string   // the printed text, decoded from PC852, with '\n' for LF
	cmds  []string // the commands in order: "init", "codepage", "bold", "size", "align", "cut", "raster", "qr65"…
	lines int      // LF count
}

// escposWalk parses the exact ESC/POS subset the encoder emits and fails on anything else: any byte below
// 0x20 or 0x7F outside those commands, unknown commands, bad parameters, truncated commands, and any
// real-time command sequence (DLE EOT, DLE ENQ, DLE DC4) anywhere in the stream, data included.
func escposWalk(b []byte) (escposWalked, error) {
	var w escposWalked
	for i := 0; i+1 < len(b); i++ {
		if b[i] == escposDLE && (b[i+1] == 0x04 || b[i+1] == 0x05 || b[i+1] == 0x14) {
			return w, fmt.Errorf("real-time command sequence 10 %02x at %d", b[i+1], i)
		}
	}
	var text []byte
	need := func(i, n int) error {
		if i+n > len(b) {
			return fmt.Errorf("command at %d truncated: want %d bytes, have %d", i, n, len(b)-i)
		}
		return nil
	}
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c == escposLF:
			text = append(text, '\n')
			w.lines++
			i++
		case c == escposESC:
			if err := need(i, 2); err != nil {
				return w, err
			}
			switch b[i+1] {
			case '@':
				w.cmds = append(w.cmds, "init")
				i += 2
				continue
			case 't', 'E', 'a':
			default:
				return w, fmt.Errorf("unknown command ESC %02x at %d", b[i+1], i)
			}
			if err := need(i, 3); err != nil {
				return w, err
			}
			n := b[i+2]
			switch {
			case b[i+1] == 't' && n == escposCodePagePC852:
				w.cmds = append(w.cmds, "codepage")
			case b[i+1] == 'E' && n <= 1:
				w.cmds = append(w.cmds, "bold")
			case b[i+1] == 'a' && n <= 2:
				w.cmds = append(w.cmds, "align")
			default:
				return w, fmt.Errorf("ESC %c with parameter %d at %d", b[i+1], n, i)
			}
			i += 3
		case c == escposGS:
			if err := need(i, 3); err != nil {
				return w, err
			}
			switch b[i+1] {
			case '!':
				if n := b[i+2]; n&^0x11 != 0 {
					return w, fmt.Errorf("GS ! %02x at %d", n, i)
				}
				w.cmds = append(w.cmds, "size")
				i += 3
			case 'V':
				if err := need(i, 4); err != nil {
					return w, err
				}
				if b[i+2] != 66 {
					return w, fmt.Errorf("GS V %d at %d", b[i+2], i)
				}
				w.cmds = append(w.cmds, "cut")
				i += 4
			case 'v':
				if err := need(i, 8); err != nil {
					return w, err
				}
				if b[i+2] != '0' || b[i+3] != 0 {
					return w, fmt.Errorf("GS v %02x %02x at %d", b[i+2], b[i+3], i)
				}
				wb, h := int(b[i+4])|int(b[i+5])<<8, int(b[i+6])|int(b[i+7])<<8
				if wb < 1 || wb*8 > PaperDots+7 || h < 1 || h > MaxImageHeight {
					return w, fmt.Errorf("raster %d bytes × %d rows at %d", wb, h, i)
				}
				if err := need(i, 8+wb*h); err != nil {
					return w, err
				}
				w.cmds = append(w.cmds, "raster")
				i += 8 + wb*h
			case '(':
				if err := need(i, 7); err != nil {
					return w, err
				}
				if b[i+2] != 'k' {
					return w, fmt.Errorf("GS ( %02x at %d", b[i+2], i)
				}
				n := int(b[i+3]) | int(b[i+4])<<8
				if err := need(i, 5+n); err != nil {
					return w, err
				}
				body := b[i+5 : i+5+n]
				if len(body) < 3 || body[0] != 49 {
					return w, fmt.Errorf("GS ( k body % x at %d", body, i)
				}
				ok := false
				switch body[1] {
				case 65:
					ok = n == 4 && body[2] == 50 && body[3] == 0
				case 67:
					ok = n == 3 && body[2] >= 1 && body[2] <= 16
				case 69:
					ok = n == 3 && body[2] >= 48 && body[2] <= 51
				case 80:
					ok = body[2] == 48 && n > 3
					for _, d := range body[3:] {
						ok = ok && d >= 0x20 && d <= 0x7E
					}
				case 81:
					ok = n == 3 && body[2] == 48
				}
				if !ok {
					return w, fmt.Errorf("GS ( k function %d body % x at %d", body[1], body, i)
				}
				w.cmds = append(w.cmds, fmt.Sprintf("qr%d", body[1]))
				i += 5 + n
			default:
				return w, fmt.Errorf("unknown command GS %02x at %d", b[i+1], i)
			}
		case c < 0x20 || c == 0x7F:
			return w, fmt.Errorf("control byte %02x at %d outside a command", c, i)
		default:
			j := i
			for j < len(b) && b[j] >= 0x20 && b[j] != 0x7F {
				j++
			}
			text = append(text, DecodePC852(b[i:j])...)
			i = j
		}
	}
	w.text = string(text)
	return w, nil
}

// escposGolden compares got with printer/testdata/escpos/name.bin, rewriting it with -update-escpos.
func escposGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "escpos", name+".bin")
	if *updateEscpos {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./printer -run %s -update-escpos to create it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from golden:\n got % x\nwant % x", name, escposHead(got), escposHead(want))
	}
}

func escposHead(b []byte) []byte {
	if len(b) > 256 {
		return b[:256]
	}
	return b
}

// escposGradient is a test picture: a horizontal grey ramp with a black frame and a transparent corner.
func escposGradient(w, h int) image.Image {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.NRGBA{uint8(255 * x / max(w-1, 1)), uint8(255 * x / max(w-1, 1)), uint8(255 * x / max(w-1, 1)), 255}
			if x == 0 || y == 0 || x == w-1 || y == h-1 {
				c = color.NRGBA{0, 0, 0, 255}
			}
			if x < 8 && y < 8 {
				c = color.NRGBA{0, 0, 0, 0}
			}
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

func TestEscposCommandsGolden(t *testing.T) {
	tests := []struct {
		name  string
		build func(r *Receipt) *Receipt
		want  []byte // exact bytes after the init, when short enough to spell out
		cmds  string
	}{
		{"init", func(r *Receipt) *Receipt { return r }, []byte{}, "init codepage"},
		{"bold", func(r *Receipt) *Receipt { return r.Bold(true).Bold(false) }, []byte{0x1B, 0x45, 1, 0x1B, 0x45, 0}, "init codepage bold bold"},
		{"size", func(r *Receipt) *Receipt {
			return r.DoubleSize(true, true).DoubleSize(true, false).DoubleSize(false, true).DoubleSize(false, false)
		}, []byte{0x1D, 0x21, 0x11, 0x1D, 0x21, 0x10, 0x1D, 0x21, 0x01, 0x1D, 0x21, 0x00}, "init codepage size size size size"},
		{"align", func(r *Receipt) *Receipt { return r.Align(AlignCenter).Align(AlignRight).Align(AlignLeft) },
			[]byte{0x1B, 0x61, 1, 0x1B, 0x61, 2, 0x1B, 0x61, 0}, "init codepage align align align"},
		{"text", func(r *Receipt) *Receipt { return r.Text("Zażółć gęślą jaźń") },
			append(EncodePC852("Zażółć gęślą jaźń"), 0x0A), "init codepage"},
		{"feed_cut", func(r *Receipt) *Receipt { return r.Feed(3).Cut(0) }, []byte{0x0A, 0x0A, 0x0A, 0x1D, 0x56, 0x42, 0x00}, "init codepage cut"},
		{"line", func(r *Receipt) *Receipt { return r.Line('-') }, append(bytes.Repeat([]byte{'-'}, 42), 0x0A), "init codepage"},
		{"reinit", func(r *Receipt) *Receipt { return r.Init() }, []byte{0x1B, 0x40, 0x1B, 0x74, 0x12}, "init codepage init codepage"},
		{"qr", func(r *Receipt) *Receipt { return r.QR("https://stagelink.example/p/1", 6, QRLevelM) }, nil,
			"init codepage qr65 qr67 qr69 qr80 qr81"},
		{"wrap_double", func(r *Receipt) *Receipt {
			return r.DoubleSize(true, true).Text("abc defghij klmnopqrstu vwxyz 0123456789012345678901234")
		}, nil, "init codepage size"},
		{"image_threshold", func(r *Receipt) *Receipt { return r.Image(escposGradient(20, 6), DitherThreshold) }, nil, "init codepage raster"},
		{"image_floyd_steinberg", func(r *Receipt) *Receipt { return r.Image(escposGradient(64, 16), DitherFloydSteinberg) }, nil, "init codepage raster"},
		{"image_atkinson", func(r *Receipt) *Receipt { return r.Image(escposGradient(64, 16), DitherAtkinson) }, nil, "init codepage raster"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.build(NewReceipt()).Bytes()
			if err != nil {
				t.Fatal(err)
			}
			init := []byte{0x1B, 0x40, 0x1B, 0x74, 0x12}
			if !bytes.HasPrefix(got, init) {
				t.Fatalf("got % x, want it to start with ESC @ ESC t 18", got)
			}
			if tt.want != nil && !bytes.Equal(got[len(init):], tt.want) {
				t.Errorf("got % x after init, want % x", got[len(init):], tt.want)
			}
			w, err := escposWalk(got)
			if err != nil {
				t.Fatal(err)
			}
			if g := strings.Join(w.cmds, " "); g != tt.cmds {
				t.Errorf("commands %q, want %q", g, tt.cmds)
			}
			escposGolden(t, "cmd_"+tt.name, got)
		})
	}
}

func TestEscposQRBytes(t *testing.T) {
	got, err := NewReceipt().QR("AB", 4, QRLevelH).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{
		0x1B, 0x40, 0x1B, 0x74, 0x12,
		0x1D, 0x28, 0x6B, 0x04, 0x00, 0x31, 0x41, 0x32, 0x00,
		0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x43, 0x04,
		0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x45, 0x33,
		0x1D, 0x28, 0x6B, 0x05, 0x00, 0x31, 0x50, 0x30, 'A', 'B',
		0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x51, 0x30,
	}
	if !bytes.Equal(got, want) {
		t.Errorf("got  % x\nwant % x", got, want)
	}
}

func TestEscposRasterBytes(t *testing.T) {
	img := image.NewGray(image.Rect(0, 0, 10, 2)) // black: every dot printed
	got, err := NewReceipt().Image(img, DitherFloydSteinberg).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{0x1B, 0x40, 0x1B, 0x74, 0x12, 0x1D, 0x76, 0x30, 0x00, 2, 0, 2, 0, 0xFF, 0xC0, 0xFF, 0xC0}
	if !bytes.Equal(got, want) {
		t.Errorf("got  % x\nwant % x", got, want)
	}
}

func TestEscposBreaksRealtimeSequences(t *testing.T) {
	// Dots that spell 10 04 and 10 14 in a row: DLE EOT and DLE DC4 if sent as they are.
	img := image.NewGray(image.Rect(0, 0, 32, 1))
	for x := range 32 {
		img.SetGray(x, 0, color.Gray{255})
	}
	for _, x := range []int{3, 13, 19, 27, 29} { // 0x10 in byte 0, 0x04 in byte 1, 0x10 in byte 2, 0x14 in byte 3
		img.SetGray(x, 0, color.Gray{0})
	}
	got, err := NewReceipt().Image(img, DitherThreshold).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	data := got[len(got)-4:]
	if want := []byte{0x00, 0x04, 0x00, 0x14}; !bytes.Equal(data, want) {
		t.Errorf("raster data % x, want % x", data, want)
	}
	if _, err := escposWalk(got); err != nil {
		t.Error(err)
	}
}

func TestEscposErrors(t *testing.T) {
	tests := []struct {
		name  string
		build func(r *Receipt) *Receipt
		want  error
	}{
		{"image too wide", func(r *Receipt) *Receipt { return r.Image(image.NewGray(image.Rect(0, 0, 513, 1)), DitherAtkinson) }, ErrImageTooLarge},
		{"image too tall", func(r *Receipt) *Receipt { return r.Image(image.NewGray(image.Rect(0, 0, 8, 1025)), DitherAtkinson) }, ErrImageTooLarge},
		{"empty image", func(r *Receipt) *Receipt { return r.Image(image.NewGray(image.Rect(0, 0, 0, 0)), DitherAtkinson) }, ErrImageTooLarge},
		{"nil image", func(r *Receipt) *Receipt { return r.Image(nil, DitherAtkinson) }, nil},
		{"bad dither", func(r *Receipt) *Receipt { return r.Image(image.NewGray(image.Rect(0, 0, 8, 8)), Dither(9)) }, nil},
		{"qr empty", func(r *Receipt) *Receipt { return r.QR("", 4, QRLevelM) }, ErrBadQRData},
		{"qr control", func(r *Receipt) *Receipt { return r.QR("a\x1bb", 4, QRLevelM) }, ErrBadQRData},
		{"qr long", func(r *Receipt) *Receipt { return r.QR(strings.Repeat("a", MaxQRData+1), 4, QRLevelM) }, ErrBadQRData},
		{"qr size", func(r *Receipt) *Receipt { return r.QR("a", 17, QRLevelM) }, nil},
		{"qr level", func(r *Receipt) *Receipt { return r.QR("a", 3, QRErrorCorrection(1)) }, nil},
		{"align", func(r *Receipt) *Receipt { return r.Align(Alignment(7)) }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.build(NewReceipt()).Text("after the error").Cut(0)
			got, err := r.Bytes()
			if err == nil {
				t.Fatalf("got % x, want an error", got)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
			if err.Error() != strings.ToLower(err.Error()[:1])+err.Error()[1:] {
				t.Errorf("error %q starts with a capital", err)
			}
		})
	}
}

func TestEscposImageTransparentIsPaper(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 8, 2)) // fully transparent
	got, err := NewReceipt().Image(img, DitherFloydSteinberg).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if data := got[len(got)-2:]; !bytes.Equal(data, []byte{0, 0}) {
		t.Errorf("transparent image data % x, want 00 00", data)
	}
}
