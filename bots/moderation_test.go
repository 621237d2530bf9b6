package bots

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestBlockedWordsMatching(t *testing.T) {
	list, bad := parseBlockedWords(strings.Join([]string{
		"\uFEFF# comment",
		"kurwa",
		"ass",
		"żółw",
		"spam eggs",
		"chuj*",
		"1488",
		"  ",
		"k*rwa", // '*' before the end: skipped
		"!!!",   // nothing to match: skipped
	}, "\r\n"))
	if diff := cmp.Diff([]int{9, 10}, bad); diff != "" {
		t.Errorf("bad lines (-want +got):\n%s", diff)
	}
	if list.entries != 6 {
		t.Errorf("got %d entries, want 6", list.entries)
	}
	tests := []struct {
		text string
		want bool
	}{
		{"kurwa", true},
		{"Ty KURWA!", true},
		{"kurwą", true},
		{"ｋｕｒｗａ", true},
		{"𝐤𝐮𝐫𝐰𝐚", true},
		{"ku\u200brwa", true},
		{"ku\x07rwa", true},
		{"kurwа", true}, // Cyrillic а
		{"kurw4", true},
		{"kuuuurwaaaa", true},
		{"k.u.r.w.a", true},
		{"k u r w a", true},
		{"k-u-r-w-a", true},
		{"x k.u.r.w.a", true},
		{"k.u.r.w.4", true},
		{"a$$", true},
		{"as", false},
		{"ass", true},
		{"a s s", true},
		{"zolw", true},
		{"ŻÓŁW", true},
		{"spam eggs", true},
		{"spam, spam... eggs", true},
		{"spam, ham, eggs", false},
		{"SPAM\n\neggs", true},
		{"spam", false},
		{"chuj", true},
		{"chujowy", true},
		{"ch", false},
		{"1488", true},
		{"14 88", false},
		{"kurwi", false},
		{"skurwa", false}, // whole words only
		{"kurwamać", false},
		{"Scunthorpe assassin class", false},
		{"ku rwa", false}, // groups of letters are not joined
		{"", false},
	}
	for _, tt := range tests {
		if got := list.matches(tt.text); got != tt.want {
			t.Errorf("matches(%q): got %v, want %v", tt.text, got, tt.want)
		}
	}
	var empty wordList
	if empty.matches("kurwa") {
		t.Errorf("empty list: got a match, want none")
	}
}

func TestLinks(t *testing.T) {
	tests := []struct {
		text     string
		want     bool
		stripped string
	}{
		{"hello world", false, "hello world"},
		{"see https://example.com/a?b=c#d now", true, "see now"},
		{"HTTP://EXAMPLE.COM", true, ""},
		{"hxxp://evil", true, ""},
		{"steam://run/123", true, ""},
		{"www.example", true, ""},
		{"go to www.Example.org.", true, "go to"},
		{"discord.gg/abc", true, ""},
		{"join discord.gg/abc!", true, "join"},
		{"bit.ly/x", true, ""},
		{"t.co/x", true, ""},
		{"mail jan@example.com", true, "mail"},
		{"przykład.pl", true, ""},
		{"example.com:8080/x", true, ""},
		{"xn--bcher-kva.example", false, "xn--bcher-kva.example"},
		{"sklep.xn--p1ai", true, ""},
		{"<https://example.com>", true, ""},
		{"a <https://example.com> b", true, "a b"},
		{"[click](https://example.com)", true, "click"},
		{"[example.com](https://example.com)", true, ""},
		{"[label](not a link) x", false, "[label](not a link) x"},
		{"**example.com** yay", true, "**** yay"},
		{"||spoiler.gg||", true, "||||"},
		{"line one\nhttps://x.com\n\n\nline two", true, "line one\n\nline two"},
		{"e.g. i.e. a.m. p.s. 3.14 v1.2.3", false, "e.g. i.e. a.m. p.s. 3.14 v1.2.3"},
		{"Ok.Dzięki to.jest no.way", false, "Ok.Dzięki to.jest no.way"},
		{"12:30 :fire: ...", false, "12:30 :fire: ..."},
		{"http://", false, "http://"},
		{"a..com", false, "a..com"},
		{"-a-.com", true, ""},
		{"zobacz:example.com", true, ""},
		{"a..b.com=x", true, ""},
		{"example.com.evil", true, ""},
		{"xwww.a x.comł", false, "xwww.a x.comł"},
	}
	for _, tt := range tests {
		if got := hasLink(tt.text); got != tt.want {
			t.Errorf("hasLink(%q): got %v, want %v", tt.text, got, tt.want)
		}
		if !tt.want {
			continue
		}
		if got := stripLinks(tt.text); got != tt.stripped {
			t.Errorf("stripLinks(%q): got %q, want %q", tt.text, got, tt.stripped)
		}
	}
}
