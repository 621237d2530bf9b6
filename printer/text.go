package printer

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/unicode/norm"
)

// Limits applied to user text before it reaches the encoder.
const (
	// MaxTextRunes is the most characters of a job's text that are printed; longer texts are cut and end
	// with TextCutMark.
	MaxTextRunes = 2000
	// MaxAuthorRunes is the most characters of an author or donor name that are printed.
	MaxAuthorRunes = 64
	// MaxHeaderRunes is the most characters of a configured header or footer that are printed.
	MaxHeaderRunes = 400
	// MaxLineBreaks is the most consecutive line breaks kept in user text (one empty line).
	MaxLineBreaks = 2
	// TextCutMark ends a text that was cut at its limit. The ellipsis "…" has no PC852 code, so three
	// dots stand in for it.
	TextCutMark = "..."
)

// SanitizeText makes user text safe and printable in code page PC852 and returns it as UTF-8: the result
// holds only characters that PC852 prints as glyphs, spaces and '\n'. Invalid UTF-8 becomes '?'; control
// characters (C0 other than tab and newline, DEL, C1 U+0080–U+009F) and invisible format characters are
// dropped; tabs and other spaces become ' '; "\r\n", '\r', U+2028 and U+2029 become '\n', with at most
// MaxLineBreaks in a row and none at the start or end; common emoji become their short name in colons
// (":smile:"), common typographic symbols an ASCII stand-in, anything else outside PC852 '?'. The result
// has at most maxRunes characters (no limit when maxRunes <= 0), ending in TextCutMark when it was cut.
func SanitizeText(s string, maxRunes int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "?")
	}
	// Bound the work on huge inputs before normalising: every kept input rune yields at least one output
	// rune, except the dropped ones, so a generous multiple is enough.
	longInput := false
	if maxRunes > 0 && len(s) > 16*maxRunes+64 {
		s = strings.ToValidUTF8(s[:16*maxRunes+64], "")
		longInput = true
	}
	s = norm.NFC.String(s)

	var b strings.Builder
	b.Grow(min(len(s), 4*max(maxRunes, 16)))
	breaks := 0 // consecutive line breaks waiting to be written
	n := 0      // runes written
	cut := false
	write := func(piece string) bool {
		if breaks > 0 {
			if n > 0 {
				k := min(breaks, MaxLineBreaks)
				if maxRunes > 0 && n+k > maxRunes {
					cut = true
					return false
				}
				b.WriteString(strings.Repeat("\n", k))
				n += k
			}
			breaks = 0
		}
		c := utf8.RuneCountInString(piece)
		if maxRunes > 0 && n+c > maxRunes {
			cut = true
			return false
		}
		b.WriteString(piece)
		n += c
		return true
	}
	for i, r := range s {
		if r == '\r' {
			if i+1 < len(s) && s[i+1] == '\n' {
				continue
			}
			r = '\n'
		}
		if r == '\n' || r == '\u2028' || r == '\u2029' {
			breaks++
			continue
		}
		piece, ok := pc852Piece(r)
		if !ok {
			continue
		}
		if !write(piece) {
			break
		}
	}
	out := b.String()
	if cut || longInput {
		out = cutWithMark(out, maxRunes)
	}
	return out
}

// cutWithMark shortens s so that s plus TextCutMark fits in maxRunes runes, and appends the mark.
func cutWithMark(s string, maxRunes int) string {
	markLen := utf8.RuneCountInString(TextCutMark)
	keep := max(maxRunes-markLen, 0)
	rs := []rune(s)
	if len(rs) > keep {
		rs = rs[:keep]
	}
	s = strings.TrimRight(string(rs), " \n")
	if utf8.RuneCountInString(s)+markLen > maxRunes {
		return TextCutMark[:min(len(TextCutMark), maxRunes)]
	}
	return s + TextCutMark
}

// pc852Piece says what one input rune becomes on paper: ok false drops it, otherwise piece holds only
// PC852-printable characters.
func pc852Piece(r rune) (piece string, ok bool) {
	switch {
	case r == '\t':
		return " ", true
	case r < 0x20 || r == 0x7F || r >= 0x80 && r <= 0x9F: // C0, DEL, C1
		return "", false
	case r == utf8.RuneError:
		return "?", true
	case r == 0xA0: // no-break space: PC852 0xFF prints blank, a plain space wraps better
		return " ", true
	case unicode.Is(unicode.Zs, r):
		return " ", true
	case r >= 0xFE00 && r <= 0xFE0F, r >= 0x1F3FB && r <= 0x1F3FF, r >= 0xE0020 && r <= 0xE007F:
		// variation selectors, skin tones, tag characters: part of an emoji already named
		return "", false
	case unicode.Is(unicode.Cf, r), unicode.Is(unicode.Mn, r) && !pc852Has(r):
		// zero-width joiners, bidi overrides, soft hyphens, combining marks NFC could not compose
		return "", false
	}
	if pc852Has(r) {
		return string(r), true
	}
	if name, found := emojiName(r); found {
		return ":" + name + ":", true
	}
	if s, found := asciiStandIn(r); found {
		return s, true
	}
	return "?", true
}

// pc852Has reports whether r has a printable glyph in PC852: ASCII 0x20–0x7E or one of the upper-half
// characters (every code 0x80–0xFF of PC852 is a glyph).
func pc852Has(r rune) bool {
	if r >= 0x20 && r <= 0x7E {
		return true
	}
	if r < 0xA0 {
		return false
	}
	b, ok := charmap.CodePage852.EncodeRune(r)
	return ok && b >= 0x80
}

// EncodePC852 converts sanitised text to PC852 bytes for the printer. It is the last line of defence:
// every rune without a PC852 glyph, and every control character including '\n', becomes '?', so the
// result holds only bytes 0x20–0x7E and 0x80–0xFF. Line breaks are the encoder's job, not the text's.
func EncodePC852(s string) []byte {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if r >= 0x20 && r <= 0x7E {
			out = append(out, byte(r))
			continue
		}
		if b, ok := charmap.CodePage852.EncodeRune(r); ok && r >= 0xA0 && b >= 0x80 {
			out = append(out, b)
			continue
		}
		out = append(out, '?')
	}
	return out
}

// DecodePC852 converts PC852 bytes back to UTF-8; tests and previews use it to read receipts.
func DecodePC852(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		sb.WriteRune(charmap.CodePage852.DecodeByte(c))
	}
	return sb.String()
}

// asciiStandIn gives printable stand-ins for common typographic characters that PC852 lacks.
func asciiStandIn(r rune) (string, bool) {
	switch r {
	case '\u2026': // …
		return "...", true
	case '\u201C', '\u201D', '\u201E', '\u201F', '\u00AB', '\u00BB', '\u2033': // “ ” „ ‟ « » ″
		return `"`, true
	case '\u2018', '\u2019', '\u201A', '\u201B', '\u2032', '\u2039', '\u203A': // ‘ ’ ‚ ‛ ′ ‹ ›
		return "'", true
	case '\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2015', '\u2212': // hyphens, dashes, minus
		return "-", true
	case '\u2022', '\u00B7', '\u2027': // • · ‧
		return "*", true
	case '\u20AC': // €
		return "EUR", true
	case '\u00A3': // £
		return "GBP", true
	case '\u2122': // ™
		return "TM", true
	case '\u00A9': // ©
		return "(c)", true
	case '\u00AE': // ®
		return "(R)", true
	case '\u2192': // →
		return "->", true
	case '\u2190': // ←
		return "<-", true
	}
	return "", false
}

// emojiName gives the short name of the most common emoji (Discord/Slack style, without colons).
func emojiName(r rune) (string, bool) {
	switch r {
	case '\U0001F604':
		return "smile", true
	case '\U0001F600':
		return "grinning", true
	case '\U0001F601':
		return "grin", true
	case '\U0001F602':
		return "joy", true
	case '\U0001F923':
		return "rofl", true
	case '\U0001F605':
		return "sweat_smile", true
	case '\U0001F60A':
		return "blush", true
	case '\U0001F642':
		return "slight_smile", true
	case '\U0001F609':
		return "wink", true
	case '\U0001F60D':
		return "heart_eyes", true
	case '\U0001F970':
		return "smiling_face_with_hearts", true
	case '\U0001F618':
		return "kissing_heart", true
	case '\U0001F60E':
		return "sunglasses", true
	case '\U0001F914':
		return "thinking", true
	case '\U0001F62D':
		return "sob", true
	case '\U0001F622':
		return "cry", true
	case '\U0001F621':
		return "rage", true
	case '\U0001F631':
		return "scream", true
	case '\U0001F480':
		return "skull", true
	case '\U0001F921':
		return "clown", true
	case '\U0001F440':
		return "eyes", true
	case '\U0001F44D':
		return "thumbsup", true
	case '\U0001F44E':
		return "thumbsdown", true
	case '\U0001F44F':
		return "clap", true
	case '\U0001F64C':
		return "raised_hands", true
	case '\U0001F64F':
		return "pray", true
	case '\U0001F44B':
		return "wave", true
	case '\U0001F4AA':
		return "muscle", true
	case '\u2764':
		return "heart", true
	case '\U0001F494':
		return "broken_heart", true
	case '\U0001F525':
		return "fire", true
	case '\U0001F389':
		return "tada", true
	case '\u2728':
		return "sparkles", true
	case '\u2B50':
		return "star", true
	case '\U0001F4AF':
		return "100", true
	case '\U0001F680':
		return "rocket", true
	case '\u2705':
		return "white_check_mark", true
	case '\u274C':
		return "x", true
	case '\u26A1':
		return "zap", true
	case '\U0001F3B5':
		return "musical_note", true
	case '\u2615':
		return "coffee", true
	case '\U0001F37A':
		return "beer", true
	case '\U0001F355':
		return "pizza", true
	}
	return "", false
}

// wrapText breaks sanitised text into lines of at most width characters: at spaces where it can, inside
// words longer than a line where it must. '\n' starts a new line; an empty paragraph is an empty line.
func wrapText(s string, width int) []string {
	width = max(width, 1)
	var lines []string
	for _, para := range strings.Split(s, "\n") {
		words := strings.Fields(para)
		if len(words) == 0 {
			lines = append(lines, "")
			continue
		}
		var cur []rune
		for _, w := range words {
			wr := []rune(w)
			switch {
			case len(cur) == 0:
			case len(cur)+1+len(wr) <= width:
				cur = append(cur, ' ')
			default:
				lines = append(lines, string(cur))
				cur = cur[:0]
			}
			for len(cur)+len(wr) > width {
				take := width - len(cur)
				cur = append(cur, wr[:take]...)
				lines = append(lines, string(cur))
				cur = cur[:0]
				wr = wr[take:]
			}
			cur = append(cur, wr...)
		}
		if len(cur) > 0 {
			lines = append(lines, string(cur))
		}
	}
	return lines
}
