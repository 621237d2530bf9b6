package printer

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

func TestSanitizeText(t *testing.T) {
	tests := []struct {
		name, in string
		max      int
		want     string
	}{
		{"polish", "Zażółć gęślą jaźń", 0, "Zażółć gęślą jaźń"},
		{"capitals", "ZAŻÓŁĆ GĘŚLĄ JAŹŃ", 0, "ZAŻÓŁĆ GĘŚLĄ JAŹŃ"},
		{"escape stripped", "a\x1b@b\x1dV\x42c", 0, "a@bVBc"},
		{"all C0 stripped", "x\x00\x01\x04\x10\x14\x1by", 0, "xy"},
		{"DEL stripped", "a\x7fb", 0, "ab"},
		{"C1 stripped", "a\u0080\u0085\u009bb", 0, "ab"},
		{"tabs", "a\tb", 0, "a b"},
		{"crlf", "a\r\nb\rc", 0, "a\nb\nc"},
		{"newlines bounded", "a\n\n\n\n\nb", 0, "a\n\nb"},
		{"newlines trimmed", "\n\na\n\n\n", 0, "a"},
		{"unicode line separators", "a\u2028b\u2029c", 0, "a\nb\nc"},
		{"invalid utf8", "a\xff\xfeb", 0, "a?b"},
		{"emoji", "hi 😄🔥👍🏽❤️", 0, "hi :smile::fire::thumbsup::heart:"},
		{"unknown emoji", "🦩", 0, "?"},
		{"cjk", "日本", 0, "??"},
		{"typography", "„cytat” — 3…", 0, `"cytat" - 3...`},
		{"euro pound", "5€ 3£", 0, "5EUR 3GBP"},
		{"zero width and bidi", "a\u200bb\u202ec\ufeffd\u00ade", 0, "abcde"},
		{"combining composed", "e\u0301", 0, "é"},
		{"nbsp and em space", "a\u00a0b\u2003c", 0, "a b c"},
		{"cut", "abcdefghij", 8, "abcde..."},
		{"cut trims space", "abcd efghij", 8, "abcd..."},
		{"exact fits", "abcdefgh", 8, "abcdefgh"},
		{"cut emoji whole", "ab😄😄", 8, "ab..."},
		{"tiny limit", "abcdefgh", 2, ".."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := SanitizeText(tt.in, tt.max)
			if got != tt.want {
				t.Errorf("SanitizeText(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
			}
		})
	}
}

func TestSanitizeTextBoundsHugeInput(t *testing.T) {
	for _, in := range []string{
		strings.Repeat("słowo ", 100000),
		strings.Repeat("\x1b", 1<<20) + "tail",
		strings.Repeat("😄", 100000),
		strings.Repeat("\n", 1<<20) + "x",
	} {
		got := SanitizeText(in, MaxTextRunes)
		if n := utf8.RuneCountInString(got); n > MaxTextRunes {
			t.Errorf("got %d runes, want at most %d", n, MaxTextRunes)
		}
		if !strings.HasSuffix(got, TextCutMark) {
			t.Errorf("got %q…, want it to end with %q", got[:min(len(got), 40)], TextCutMark)
		}
	}
}

func TestPC852RoundTrip(t *testing.T) {
	for _, s := range []string{
		"Zażółć gęślą jaźń",
		"ZAŻÓŁĆ GĘŚLĄ JAŹŃ",
		"Příliš žluťoučký kůň úpěl ďábelské ódy", // Czech, also PC852
		"Árvíztűrő tükörfúrógép",                 // Hungarian
		"plain ASCII !\"#$%&'()*+,-./0-9:;<=>?@[\\]^_`{|}~",
	} {
		enc := EncodePC852(s)
		for i, b := range enc {
			if b < 0x20 || b == 0x7F {
				t.Errorf("%q: byte %d is 0x%02x", s, i, b)
			}
		}
		if len(enc) != utf8.RuneCountInString(s) {
			t.Errorf("%q: %d bytes for %d characters", s, len(enc), utf8.RuneCountInString(s))
		}
		if got := DecodePC852(enc); got != s {
			t.Errorf("round trip of %q gave %q", s, got)
		}
		if got := SanitizeText(s, 0); got != s {
			t.Errorf("SanitizeText changed %q to %q", s, got)
		}
	}
	// Known codes: ż is 0xBE, ł 0x88, ą 0xA5 in PC852.
	if got, want := EncodePC852("żłą"), []byte{0xBE, 0x88, 0xA5}; string(got) != string(want) {
		t.Errorf("EncodePC852(żłą) = % x, want % x", got, want)
	}
}

func TestEncodePC852NeverEmitsControls(t *testing.T) {
	var all strings.Builder
	for r := rune(0); r < 0x3000; r++ {
		all.WriteRune(r)
	}
	for i, b := range EncodePC852(all.String()) {
		if b < 0x20 || b == 0x7F {
			t.Fatalf("byte %d is 0x%02x", i, b)
		}
	}
	for r := rune(0); r < 0x3000; r++ {
		if piece, ok := pc852Piece(r); ok {
			if enc := EncodePC852(piece); strings.Contains(string(enc), "?") && !strings.Contains(piece, "?") {
				t.Errorf("pc852Piece(%U) = %q, which PC852 cannot print", r, piece)
			}
		}
	}
}

func TestWrapText(t *testing.T) {
	tests := []struct {
		in    string
		width int
		want  []string
	}{
		{"one two three", 7, []string{"one two", "three"}},
		{"abcdefghij", 4, []string{"abcd", "efgh", "ij"}},
		{"ab cdefghij", 4, []string{"ab", "cdef", "ghij"}},
		{"a\n\nb", 10, []string{"a", "", "b"}},
		{"  lots   of    space  ", 20, []string{"lots of space"}},
		{"zażółć gęślą", 6, []string{"zażółć", "gęślą"}},
		{strings.Repeat("x", 42), 42, []string{strings.Repeat("x", 42)}},
		{strings.Repeat("x", 43), 42, []string{strings.Repeat("x", 42), "x"}},
	}
	for _, tt := range tests {
		got := wrapText(tt.in, tt.width)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("wrapText(%q, %d) (-want +got):\n%s", tt.in, tt.width, diff)
		}
		for _, l := range got {
			if n := utf8.RuneCountInString(l); n > tt.width {
				t.Errorf("line %q has %d characters, want at most %d", l, n, tt.width)
			}
		}
	}
}
