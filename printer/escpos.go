package printer

import (
	"errors"
	"fmt"
)

// The ESC/POS commands below follow the Epson ESC/POS Command Reference
// (https://download4.epson.biz/sec_pubs/pos/reference_en/escpos/index.html) for the TM-T88IV (FACTS.md).
// Every command starts with a byte below 0x20; user text is sanitised and encoded so that it holds only
// bytes 0x20–0x7E and 0x80–0xFF, which the printer prints as PC852 glyphs once ESC t 18 is in effect.
// Command parameters are chosen so that the real-time commands DLE EOT, DLE ENQ and DLE DC4
// (0x10 followed by 0x04, 0x05 or 0x14), which the printer executes wherever they appear, never form.
const (
	escposESC = 0x1B
	escposGS  = 0x1D
	escposLF  = 0x0A
	escposDLE = 0x10

	// escposCodePagePC852 is the ESC t page number of PC852 (Latin 2).
	escposCodePagePC852 = 18
)

// Paper and font geometry of the TM-T88IV on 80 mm paper (FACTS.md).
const (
	// PaperDots is the printable width in dots (180 dpi).
	PaperDots = 512
	// Columns is the number of Font A characters (12×24 dots) on a line.
	Columns = 42
	// MaxImageHeight is the tallest raster image the encoder accepts, in dots (about 14 cm of paper).
	MaxImageHeight = 1024
	// MaxQRData is the most bytes a QR code may hold here; the data must be printable ASCII.
	MaxQRData = 250
	// MaxFeedLines is the most lines one Feed call advances.
	MaxFeedLines = 20
)

// Errors reported by Receipt.
var (
	// ErrImageTooLarge means an image is wider than PaperDots or taller than MaxImageHeight.
	ErrImageTooLarge = errors.New("printer: image too large")
	// ErrBadQRData means QR code data is empty, longer than MaxQRData or not printable ASCII.
	ErrBadQRData = errors.New("printer: bad QR code data")
)

// Alignment is the justification of the following lines (ESC a n).
type Alignment byte

// The alignments of ESC a n.
const (
	AlignLeft   Alignment = 0
	AlignCenter Alignment = 1
	AlignRight  Alignment = 2
)

// QRErrorCorrection is the error correction level of a QR code (GS ( k function 169).
type QRErrorCorrection byte

// The QR code error correction levels, with the share of the symbol that can be restored.
const (
	QRLevelL QRErrorCorrection = 48 // 7%
	QRLevelM QRErrorCorrection = 49 // 15%
	QRLevelQ QRErrorCorrection = 50 // 25%
	QRLevelH QRErrorCorrection = 51 // 30%
)

// Receipt builds the ESC/POS bytes of one receipt from a small set of commands. Methods return the
// receipt so calls chain; the first error sticks and is returned by Bytes, and later calls do nothing.
// The zero value is not ready: use NewReceipt.
type Receipt struct {
	buf        []byte
	err        error
	doubleWide bool
}

// NewReceipt starts a receipt with Init.
func NewReceipt() *Receipt {
	r := &Receipt{buf: make([]byte, 0, 1024)}
	return r.Init()
}

// Init resets the printer and selects code page PC852:
//
//	ESC @      1B 40      initialise printer (clears modes, resets the code page)
//	ESC t 18   1B 74 12   select character code table 18, PC852 (Latin 2); needed after every ESC @
//
// https://download4.epson.biz/sec_pubs/pos/reference_en/escpos/esc_atsign.html,
// https://download4.epson.biz/sec_pubs/pos/reference_en/escpos/esc_lt.html
func (r *Receipt) Init() *Receipt {
	if r.err != nil {
		return r
	}
	r.doubleWide = false
	r.buf = append(r.buf, escposESC, '@', escposESC, 't', escposCodePagePC852)
	return r
}

// Bold turns emphasised printing on or off:
//
//	ESC E n   1B 45 n   n = 1 on, 0 off
//
// https://download4.epson.biz/sec_pubs/pos/reference_en/escpos/esc_ce.html
func (r *Receipt) Bold(on bool) *Receipt {
	if r.err != nil {
		return r
	}
	r.buf = append(r.buf, escposESC, 'E', escposBool(on))
	return r
}

// DoubleSize selects double width and/or double height characters; with double width a line holds
// Columns/2 characters:
//
//	GS ! n   1D 21 n   n = 0x10 double width | 0x01 double height (0x00 normal, 0x11 both)
//
// https://download4.epson.biz/sec_pubs/pos/reference_en/escpos/gs_exclamation.html
func (r *Receipt) DoubleSize(wide, tall bool) *Receipt {
	if r.err != nil {
		return r
	}
	var n byte
	if wide {
		n |= 0x10
	}
	if tall {
		n |= 0x01
	}
	r.doubleWide = wide
	r.buf = append(r.buf, escposGS, '!', n)
	return r
}

// Align sets the justification of the lines that follow; call it at the start of a line:
//
//	ESC a n   1B 61 n   n = 0 left, 1 centre, 2 right
//
// https://download4.epson.biz/sec_pubs/pos/reference_en/escpos/esc_la.html
func (r *Receipt) Align(a Alignment) *Receipt {
	if r.err != nil {
		return r
	}
	if a > AlignRight {
		r.err = fmt.Errorf("printer: unknown alignment %d", a)
		return r
	}
	r.buf = append(r.buf, escposESC, 'a', byte(a))
	return r
}

// Text prints user text: it is sanitised with SanitizeText (at most MaxTextRunes characters), word
// wrapped at Columns (Columns/2 at double width), encoded in PC852, and every line ends with LF (0A).
// Empty text prints nothing.
func (r *Receipt) Text(s string) *Receipt {
	return r.text(SanitizeText(s, MaxTextRunes))
}

// text prints text that is already sanitised.
func (r *Receipt) text(s string) *Receipt {
	if r.err != nil || s == "" {
		return r
	}
	width := Columns
	if r.doubleWide {
		width = Columns / 2
	}
	for _, line := range wrapText(s, width) {
		r.buf = append(r.buf, EncodePC852(line)...)
		r.buf = append(r.buf, escposLF)
	}
	return r
}

// Line prints a full-width line of the printable ASCII character c (a separator such as '-' or '=').
func (r *Receipt) Line(c byte) *Receipt {
	if r.err != nil {
		return r
	}
	if c < 0x20 || c > 0x7E {
		c = '-'
	}
	width := Columns
	if r.doubleWide {
		width = Columns / 2
	}
	for range width {
		r.buf = append(r.buf, c)
	}
	r.buf = append(r.buf, escposLF)
	return r
}

// Feed prints the buffer and advances the paper n lines (at most MaxFeedLines), one LF (0A) per line.
func (r *Receipt) Feed(n int) *Receipt {
	if r.err != nil {
		return r
	}
	for range min(max(n, 0), MaxFeedLines) {
		r.buf = append(r.buf, escposLF)
	}
	return r
}

// Cut feeds the paper to the cutter, n dots further (0–255), and makes a partial cut:
//
//	GS V 66 n   1D 56 42 n   feed to cutting position + n × vertical motion unit, then cut
//
// https://download4.epson.biz/sec_pubs/pos/reference_en/escpos/gs_cv.html
func (r *Receipt) Cut(n byte) *Receipt {
	if r.err != nil {
		return r
	}
	r.buf = append(r.buf, escposGS, 'V', 66, n)
	return r
}

// QR prints a QR code (model 2) of data with modules of size dots (1–16) and error correction level ec.
// data must be 1 to MaxQRData bytes of printable ASCII (a URL, say). The printer aligns it like text.
//
//	GS ( k 04 00 31 41 32 00   1D 28 6B 04 00 31 41 32 00   function 165: select model 2
//	GS ( k 03 00 31 43 n       1D 28 6B 03 00 31 43 n       function 167: module size n dots
//	GS ( k 03 00 31 45 n       1D 28 6B 03 00 31 45 n       function 169: error correction 48–51 (L M Q H)
//	GS ( k pL pH 31 50 30 d…   1D 28 6B pL pH 31 50 30 d…   function 180: store data, pL+256·pH = len(d)+3
//	GS ( k 03 00 31 51 30      1D 28 6B 03 00 31 51 30      function 181: print the stored symbol
//
// https://download4.epson.biz/sec_pubs/pos/reference_en/escpos/gs_lparen_lk.html
func (r *Receipt) QR(data string, size int, ec QRErrorCorrection) *Receipt {
	if r.err != nil {
		return r
	}
	if data == "" || len(data) > MaxQRData {
		r.err = fmt.Errorf("%w: %d bytes, want 1 to %d", ErrBadQRData, len(data), MaxQRData)
		return r
	}
	for i := 0; i < len(data); i++ {
		if data[i] < 0x20 || data[i] > 0x7E {
			r.err = fmt.Errorf("%w: byte 0x%02x at %d is not printable ASCII", ErrBadQRData, data[i], i)
			return r
		}
	}
	if size < 1 || size > 16 {
		r.err = fmt.Errorf("printer: QR module size %d, want 1 to 16", size)
		return r
	}
	if ec < QRLevelL || ec > QRLevelH {
		r.err = fmt.Errorf("printer: unknown QR error correction %d", ec)
		return r
	}
	n := len(data) + 3 // at most 253: pH is 0, so no DLE can start a real-time command here
	r.buf = append(r.buf,
		escposGS, '(', 'k', 4, 0, 49, 65, 50, 0,
		escposGS, '(', 'k', 3, 0, 49, 67, byte(size),
		escposGS, '(', 'k', 3, 0, 49, 69, byte(ec),
		escposGS, '(', 'k', byte(n), byte(n>>8), 49, 80, 48)
	r.buf = append(r.buf, data...)
	r.buf = append(r.buf, escposGS, '(', 'k', 3, 0, 49, 81, 48)
	return r
}

// Err returns the first error met while building, if any.
func (r *Receipt) Err() error { return r.err }

// Bytes returns the ESC/POS bytes built so far, or the first error met.
func (r *Receipt) Bytes() ([]byte, error) {
	if r.err != nil {
		return nil, r.err
	}
	return append([]byte(nil), r.buf...), nil
}

// escposBool is the parameter byte of an on/off command.
func escposBool(on bool) byte {
	if on {
		return 1
	}
	return 0
}
