package store

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// textRule says what one text field may hold. Every text field must be valid UTF-8 and free of control
// characters; a multi-line field may hold "\n" (not "\r": send "\n" line breaks).
type textRule struct {
	name      string // the field as the streamer knows it, for messages: "title", "link 2 label"
	min, max  int    // length bounds, in runes (or in bytes when bytes is set)
	bytes     bool   // bounds count bytes, not characters
	multiline bool   // "\n" allowed
	trimmed   bool   // no white space at either end: the field is compared or unique (MySQL's PAD SPACE collations ignore trailing spaces, SQLite does not)
}

// check returns nil when s follows r, else an error wrapping ErrInvalid that says what to fix.
func (r textRule) check(s string) error {
	if !utf8.ValidString(s) {
		return invalidf("%s is not valid UTF-8 text", r.name)
	}
	n, unit := utf8.RuneCountInString(s), "characters"
	if r.bytes {
		n, unit = len(s), "bytes"
	}
	if n < r.min {
		if n == 0 {
			return invalidf("%s must not be empty", r.name)
		}
		return invalidf("%s is %d %s long; it must be at least %d", r.name, n, unit, r.min)
	}
	if n > r.max {
		return invalidf("%s is %d %s long; at most %d are allowed", r.name, n, unit, r.max)
	}
	for i, c := range s {
		switch {
		case c == '\n' && r.multiline:
		case c == '\n', c == '\r', c == '\u2028', c == '\u2029':
			if r.multiline {
				return invalidf("%s has a line break other than \\n at byte %d: use \\n", r.name, i)
			}
			return invalidf("%s must be one line", r.name)
		case unicode.IsControl(c):
			return invalidf("%s has a control character (%U) at byte %d: remove it", r.name, c, i)
		}
	}
	if r.min > 0 && strings.TrimSpace(s) == "" {
		return invalidf("%s must not be blank", r.name)
	}
	if r.trimmed && strings.TrimSpace(s) != s {
		return invalidf("%s must not start or end with a space", r.name)
	}
	return nil
}

// asciiToken reports whether s is 1 to max bytes of printable ASCII without spaces, as password hashes,
// CSRF tokens and token hints are.
func asciiToken(name, s string, max int) error {
	if s == "" {
		return invalidf("%s must not be empty", name)
	}
	if len(s) > max {
		return invalidf("%s is %d bytes long; at most %d are allowed", name, len(s), max)
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return invalidf("%s must be printable ASCII without spaces (byte %d is not)", name, i)
		}
	}
	return nil
}

// sanitize makes s safe to store whatever it holds, for fields that must never refuse a write (the audit
// log, failure reasons): invalid UTF-8 and control characters (but "\n" when multiline) become U+FFFD, and
// the result is cut to at most max bytes at a rune boundary.
func sanitize(s string, max int, multiline bool) string {
	if len(s) > max+utf8.UTFMax {
		// Sanitising never shortens the text, so what lies past max+UTFMax bytes cannot survive the cut;
		// dropping it first keeps the work bounded. A rune split here starts after byte max and is cut below.
		s = s[:max+utf8.UTFMax]
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		c, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case c == utf8.RuneError && size == 1:
			c = utf8.RuneError
		case c == '\n' && multiline:
		case unicode.IsControl(c), c == '\u2028', c == '\u2029':
			c = utf8.RuneError
		}
		if b.Len()+utf8.RuneLen(c) > max {
			break
		}
		b.WriteRune(c)
		i += size
	}
	return b.String()
}
