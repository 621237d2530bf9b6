package printer

import (
	"fmt"
	"image"
)

// Dither is how a picture is reduced to black and white dots.
type Dither int

// The dithering methods.
const (
	// DitherThreshold prints a dot where the pixel is darker than middle grey: for line art.
	DitherThreshold Dither = iota
	// DitherFloydSteinberg spreads the whole error of each pixel to four neighbours: smooth gradients.
	DitherFloydSteinberg
	// DitherAtkinson spreads 6/8 of the error to six neighbours: more contrast, good for logos.
	DitherAtkinson
)

// Image prints img as a raster image, dithered to black and white and aligned like text. img may be at
// most PaperDots wide and MaxImageHeight tall; transparent pixels print as paper. It is sent in bands of
// at most rasterBandBytes, one GS v 0 each, which print as one picture.
//
//	GS v 0 m xL xH yL yH d…   1D 76 30 00 xL xH yL yH d…
//
// m = 0 (normal size); xL+256·xH bytes per row (8 dots each, leftmost dot in the top bit); yL+256·yH rows;
// d is rows × bytes, a set bit prints a dot.
// https://download4.epson.biz/sec_pubs/pos/reference_en/escpos/gs_lv_0.html
//
// The printer executes the real-time commands DLE EOT, DLE ENQ and DLE DC4 even inside image data, so
// a data byte 0x10 followed by 0x04, 0x05 or 0x14 loses its fourth dot (0x10 becomes 0x00): one dot
// differs, and the image can never ask for status, clear the buffer or pulse the drawer.
func (r *Receipt) Image(img image.Image, d Dither) *Receipt {
	if r.err != nil {
		return r
	}
	if img == nil {
		r.err = fmt.Errorf("printer: no image")
		return r
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w < 1 || h < 1 || w > PaperDots || h > MaxImageHeight {
		r.err = fmt.Errorf("%w: %d×%d dots, want 1–%d wide and 1–%d tall", ErrImageTooLarge, w, h, PaperDots, MaxImageHeight)
		return r
	}
	if d < DitherThreshold || d > DitherAtkinson {
		r.err = fmt.Errorf("printer: unknown dithering %d", d)
		return r
	}
	bits := rasterBits(img, d)
	wb := (w + 7) / 8
	band := max(1, rasterBandBytes/wb)
	for y := 0; y < h; y += band {
		rows := min(band, h-y)
		r.buf = append(r.buf, escposGS, 'v', '0', 0, byte(wb), byte(wb>>8), byte(rows), byte(rows>>8))
		r.buf = append(r.buf, bits[y*wb:(y+rows)*wb]...)
	}
	return r
}

// rasterBandBytes bounds the data of one GS v 0 command: a taller image goes out as a stack of bands. The
// serial link can only confirm whole commands, so each must fit its window (LinkConfig.Validate).
const rasterBandBytes = 1024

// rasterBits dithers img and packs it into GS v 0 rows, with real-time command sequences broken.
func rasterBits(img image.Image, d Dither) []byte {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	// Luminance with alpha composited onto white paper, 0 (black) to 255 (white).
	lum := make([]float32, w*h)
	for y := range h {
		for x := range w {
			cr, cg, cb, ca := img.At(b.Min.X+x, b.Min.Y+y).RGBA() // premultiplied, 0–65535
			l := (299*float32(cr) + 587*float32(cg) + 114*float32(cb)) / 1000
			l += 65535 - float32(ca) // the uncovered share shows white paper
			lum[y*w+x] = l / 257
		}
	}
	spread := func(x, y int, e float32) {
		if x >= 0 && x < w && y < h {
			lum[y*w+x] += e
		}
	}
	wb := (w + 7) / 8
	out := make([]byte, wb*h)
	for y := range h {
		for x := range w {
			old := lum[y*w+x]
			var black bool
			black = old < 128
			if black {
				out[y*wb+x/8] |= 0x80 >> (x % 8)
			}
			var e float32
			if black {
				e = old
			} else {
				e = old - 255
			}
			switch d {
			case DitherFloydSteinberg:
				spread(x+1, y, e*7/16)
				spread(x-1, y+1, e*3/16)
				spread(x, y+1, e*5/16)
				spread(x+1, y+1, e*1/16)
			case DitherAtkinson:
				e /= 8
				spread(x+1, y, e)
				spread(x+2, y, e)
				spread(x-1, y+1, e)
				spread(x, y+1, e)
				spread(x+1, y+1, e)
				spread(x, y+2, e)
			}
		}
	}
	breakRealtimeSequences(out)
	return out
}

// breakRealtimeSequences clears the 0x10 bit of every 0x10 byte followed by 0x04, 0x05 or 0x14, so that
// no DLE EOT, DLE ENQ or DLE DC4 is hidden in data.
func breakRealtimeSequences(data []byte) {
	for i := 0; i+1 < len(data); i++ {
		if data[i] == escposDLE && (data[i+1] == 0x04 || data[i+1] == 0x05 || data[i+1] == 0x14) {
			data[i] = 0x00
		}
	}
}
