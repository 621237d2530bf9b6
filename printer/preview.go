package printer

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gomono"
	"golang.org/x/image/font/gofont/gomonobold"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
	"golang.org/x/text/encoding/charmap"
	"rsc.io/qr"
)

// Paper geometry of a TM-T88IV on 80 mm paper at 180 dpi (FACTS.md): 512 printable dots in the middle of
// the paper, Font A cells of 12×24 dots, a default line spacing of 1/6 inch (30 dots).
const (
	previewPaperDots = 576
	previewMargin    = (previewPaperDots - 512) / 2
	previewCellW     = 12
	previewCellH     = 24
	previewLineDots  = 30
	previewMaxHeight = 20000 // dots: about 2.8 m of paper
)

// Previewer turns the ESC/POS subset our encoder emits into a picture of the printed paper. It holds the
// parsed fonts; make one and reuse it. It is safe for concurrent use.
type Previewer struct {
	regular, bold *opentype.Font
}

// NewPreviewer parses the embedded Go Mono fonts that stand in for the printer's Font A.
func NewPreviewer() (*Previewer, error) {
	r, err := opentype.Parse(gomono.TTF)
	if err != nil {
		return nil, err
	}
	b, err := opentype.Parse(gomonobold.TTF)
	if err != nil {
		return nil, err
	}
	return &Previewer{regular: r, bold: b}, nil
}

// ErrPreview is wrapped by every error about bytes the renderer cannot draw.
var ErrPreview = errors.New("preview")

// PNG writes the picture of data as a PNG.
func (p *Previewer) PNG(w io.Writer, data []byte) error {
	img, err := p.Render(data)
	if err != nil {
		return err
	}
	return png.Encode(w, img)
}

// Render draws data: text in 12×24 cells (PC852), bold, double width and height, alignment, feeds, raster
// images (GS v 0), QR codes (GS ( k) and cuts, drawn as a dashed line. Status commands (DLE EOT, GS a)
// print nothing. Anything else is an error naming the byte and its offset.
func (p *Previewer) Render(data []byte) (*image.Gray, error) {
	faces := map[bool]font.Face{}
	for bold, f := range map[bool]*opentype.Font{false: p.regular, true: p.bold} {
		// Go Mono advances 0.6 em: 20 px gives the printer's 12-dot cell. Faces cache glyphs and are not
		// safe for concurrent use, so each rendering has its own.
		face, err := opentype.NewFace(f, &opentype.FaceOptions{Size: 20, DPI: 72, Hinting: font.HintingFull})
		if err != nil {
			return nil, err
		}
		faces[bold] = face
	}
	r := &previewRun{data: data, faces: faces, canvas: image.NewGray(image.Rect(0, 0, previewPaperDots, 1024))}
	draw.Draw(r.canvas, r.canvas.Bounds(), image.White, image.Point{}, draw.Src)
	r.reset()
	if err := r.run(); err != nil {
		return nil, err
	}
	r.flush(true)
	out := image.NewGray(image.Rect(0, 0, previewPaperDots, r.y+previewLineDots))
	draw.Draw(out, out.Bounds(), r.canvas, image.Point{}, draw.Src)
	return out, nil
}

// previewCell is one character on the line being composed.
type previewCell struct {
	r          rune
	bold       bool
	wide, tall int
}

// previewRun is the state of one rendering.
type previewRun struct {
	data   []byte
	i      int
	canvas *image.Gray
	y      int // top of the next line, in dots

	bold       bool
	wide, tall int
	align      byte
	line       []previewCell
	qrData     []byte
	faces      map[bool]font.Face // regular and bold
}

func (r *previewRun) reset() {
	r.bold, r.wide, r.tall, r.align = false, 1, 1, 0
}

func (r *previewRun) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: at byte %d: %s", ErrPreview, r.i, fmt.Sprintf(format, args...))
}

// need returns the next n bytes, or an error when the data ends inside a command.
func (r *previewRun) need(n int) ([]byte, error) {
	if r.i+n > len(r.data) {
		return nil, r.errorf("command cut short")
	}
	b := r.data[r.i : r.i+n]
	r.i += n
	return b, nil
}

func (r *previewRun) run() error {
	for r.i < len(r.data) {
		b := r.data[r.i]
		r.i++
		var err error
		switch {
		case b == 0x0A: // LF
			r.flush(true)
		case b == 0x1B:
			err = r.esc()
		case b == 0x1D:
			err = r.gs()
		case b == 0x10: // DLE EOT n: real-time status, prints nothing
			_, err = r.need(2)
		case b >= 0x20 && b != 0x7F:
			r.line = append(r.line, previewCell{r: charmap.CodePage852.DecodeByte(b), bold: r.bold, wide: r.wide, tall: r.tall})
			if r.lineDots() > 512 { // the printer wraps a full line
				last := r.line[len(r.line)-1]
				r.line = r.line[:len(r.line)-1]
				r.flush(true)
				r.line = append(r.line, last)
			}
		default:
			err = r.errorf("control byte 0x%02x the encoder never sends", b)
		}
		if err != nil {
			return err
		}
		if r.y > previewMaxHeight {
			return r.errorf("receipt longer than %d dots", previewMaxHeight)
		}
	}
	return nil
}

func (r *previewRun) esc() error {
	c, err := r.need(1)
	if err != nil {
		return err
	}
	switch c[0] {
	case '@': // ESC @: initialise
		r.flush(false)
		r.reset()
		return nil
	case 't', 'E', 'a', 'd', 'J': // one parameter
		n, err := r.need(1)
		if err != nil {
			return err
		}
		switch c[0] {
		case 't':
			if n[0] != 18 {
				return r.errorf("code page %d: only 18 (PC852) is drawn", n[0])
			}
		case 'E':
			r.bold = n[0]&1 == 1
		case 'a':
			r.align = n[0] % 48 % 3
		case 'd':
			r.flush(true)
			r.y += int(n[0]) * previewLineDots
		case 'J':
			r.flush(false)
			r.y += int(n[0])
		}
		return nil
	}
	return r.errorf("ESC 0x%02x is not drawn", c[0])
}

func (r *previewRun) gs() error {
	c, err := r.need(1)
	if err != nil {
		return err
	}
	switch c[0] {
	case '!': // GS ! n: character size
		n, err := r.need(1)
		if err != nil {
			return err
		}
		r.wide, r.tall = int(n[0]>>4)+1, int(n[0]&0x0F)+1
		if r.wide > 8 || r.tall > 8 {
			return r.errorf("character size 0x%02x", n[0])
		}
		return nil
	case 'a': // GS a n: automatic status back
		_, err := r.need(1)
		return err
	case 'V': // GS V m [n]: cut
		m, err := r.need(1)
		if err != nil {
			return err
		}
		feed := 0
		if m[0] == 65 || m[0] == 66 {
			n, err := r.need(1)
			if err != nil {
				return err
			}
			feed = int(n[0])
		}
		r.flush(false)
		r.y += feed
		r.cut()
		return nil
	case 'v': // GS v 0 m xL xH yL yH d…: raster image
		return r.raster()
	case '(':
		return r.gsParen()
	}
	return r.errorf("GS 0x%02x is not drawn", c[0])
}

func (r *previewRun) raster() error {
	h, err := r.need(6)
	if err != nil {
		return err
	}
	if h[0] != '0' && h[0] != 0 {
		return r.errorf("GS v %d", h[0])
	}
	scale := 1
	if h[1]&1 == 1 || h[1] == '1' || h[1] == '3' {
		scale = 2 // double width
	}
	wb, rows := int(h[2])|int(h[3])<<8, int(h[4])|int(h[5])<<8
	if wb*8*scale > 512 || rows > 4096 {
		return r.errorf("image of %d×%d dots is larger than the paper", wb*8, rows)
	}
	bits, err := r.need(wb * rows)
	if err != nil {
		return err
	}
	r.flush(false)
	x0 := r.alignX(wb * 8 * scale)
	r.grow(r.y + rows)
	for y := range rows {
		for x := range wb * 8 {
			if bits[y*wb+x/8]&(0x80>>(x%8)) != 0 {
				for s := range scale {
					r.canvas.SetGray(x0+x*scale+s, r.y+y, color.Gray{})
				}
			}
		}
	}
	r.y += rows
	return nil
}

// gsParen handles GS ( k, the QR code functions (cn 49): store the data, then print it.
func (r *previewRun) gsParen() error {
	h, err := r.need(3)
	if err != nil {
		return err
	}
	if h[0] != 'k' {
		return r.errorf("GS ( 0x%02x is not drawn", h[0])
	}
	n := int(h[1]) | int(h[2])<<8
	body, err := r.need(n)
	if err != nil {
		return err
	}
	if n < 2 || body[0] != 49 {
		return r.errorf("GS ( k: only QR codes (cn 49) are drawn")
	}
	switch body[1] {
	case 80: // store: cn fn m d…
		if n < 3 {
			return r.errorf("GS ( k store without data")
		}
		r.qrData = append(r.qrData[:0], body[3:]...)
	case 81: // print
		code, err := qr.Encode(string(r.qrData), qr.M)
		if err != nil {
			return r.errorf("QR code: %v", err)
		}
		r.flush(false)
		const module = 6
		size := code.Size * module
		x0 := r.alignX(size)
		r.grow(r.y + size)
		for y := range code.Size {
			for x := range code.Size {
				if code.Black(x, y) {
					draw.Draw(r.canvas, image.Rect(x0+x*module, r.y+y*module, x0+(x+1)*module, r.y+(y+1)*module), image.Black, image.Point{}, draw.Src)
				}
			}
		}
		r.y += size
	}
	// Model, module size and error correction (fn 65, 67, 69) only tune the printed code.
	return nil
}

func (r *previewRun) lineDots() int {
	w := 0
	for _, c := range r.line {
		w += previewCellW * c.wide
	}
	return w
}

func (r *previewRun) alignX(width int) int {
	switch r.align {
	case 1:
		return previewMargin + (512-width)/2
	case 2:
		return previewMargin + 512 - width
	}
	return previewMargin
}

// grow makes the canvas at least h dots tall.
func (r *previewRun) grow(h int) {
	if h <= r.canvas.Bounds().Dy() {
		return
	}
	bigger := image.NewGray(image.Rect(0, 0, previewPaperDots, max(h, 2*r.canvas.Bounds().Dy())))
	draw.Draw(bigger, bigger.Bounds(), image.White, image.Point{}, draw.Src)
	draw.Draw(bigger, r.canvas.Bounds(), r.canvas, image.Point{}, draw.Src)
	r.canvas = bigger
}

// flush prints the composed line; with feed, an empty line still advances the paper by one line.
func (r *previewRun) flush(feed bool) {
	if len(r.line) == 0 {
		if feed {
			r.y += previewLineDots
		}
		return
	}
	tall := 1
	for _, c := range r.line {
		tall = max(tall, c.tall)
	}
	height := previewCellH * tall
	r.grow(r.y + max(height, previewLineDots) + previewLineDots)
	x := r.alignX(r.lineDots())
	for _, c := range r.line {
		r.glyph(c, x, r.y+height-previewCellH*c.tall)
		x += previewCellW * c.wide
	}
	r.y += max(height+previewLineDots-previewCellH, previewLineDots)
	r.line = r.line[:0]
}

// glyph draws one character cell, scaled up for double width and height.
func (r *previewRun) glyph(c previewCell, x, y int) {
	cell := image.NewGray(image.Rect(0, 0, previewCellW, previewCellH))
	draw.Draw(cell, cell.Bounds(), image.White, image.Point{}, draw.Src)
	d := font.Drawer{Dst: cell, Src: image.Black, Face: r.faces[c.bold], Dot: fixed.P(0, 19)}
	d.DrawString(string(c.r))
	for cy := range previewCellH * c.tall {
		for cx := range previewCellW * c.wide {
			if v := cell.GrayAt(cx/c.wide, cy/c.tall); v.Y < 255 {
				r.canvas.SetGray(x+cx, y+cy, v)
			}
		}
	}
}

// cut draws the cut as a dashed line across the paper.
func (r *previewRun) cut() {
	r.y += 8
	r.grow(r.y + 16)
	for x := 0; x < previewPaperDots; x += 12 {
		for dx := range 6 {
			r.canvas.SetGray(x+dx, r.y, color.Gray{Y: 96})
		}
	}
	r.y += 16
}
