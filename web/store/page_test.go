package store

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestPageDefault(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *DB) {
		got, err := db.Page(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(DefaultPage(), got); diff != "" {
			t.Errorf("page of a fresh database (-want +got):\n%s", diff)
		}
		if got.Title != "stagelink" || got.Links == nil || got.Sections == nil {
			t.Errorf("got %+v, want title stagelink and empty (not nil) lists", got)
		}
	})
}

// fullPage returns a page with every field at work, hostile strings included.
func fullPage() Page {
	p := Page{
		Title:        "Studio live 🎛️ <b>tonight</b>",
		Description:  "Line one\nLine two: zażółć gęślą jaźń\n\n" + strings.Join(injections(), "\n"),
		Announcement: `Back at 20:00 — <script>alert(1)</script>`,
		Links: []Link{
			{Label: "Shop", URL: "https://shop.example.com/?a=1&b=<x>"},
			{Label: `'; DROP TABLE accounts; --`, URL: "http://example.com:8080/path#frag"},
		},
		Sections: []Section{
			{Heading: "Rules", Body: "Be nice.\n<img src=x onerror=alert(1)>"},
			{Heading: "Empty body", Body: ""},
		},
	}
	for _, s := range injections() {
		p.Sections = append(p.Sections, Section{Heading: s, Body: s})
	}
	return p
}

func TestSetPageRoundTrip(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *DB) {
		now := fixedClock(db, testTime())
		in := fullPage()
		saved, err := db.SetPage(ctxT(t), in, "alice")
		if err != nil {
			t.Fatalf("SetPage: %v", err)
		}
		want := in
		want.UpdatedAt, want.UpdatedBy = now, "alice"
		if diff := cmp.Diff(want, saved); diff != "" {
			t.Errorf("SetPage returned (-want +got):\n%s", diff)
		}
		got, err := db.Page(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Page after SetPage (-want +got):\n%s", diff)
		}
		if got.UpdatedAt.Location() != time.UTC {
			t.Errorf("UpdatedAt is in %v, want UTC", got.UpdatedAt.Location())
		}

		// A second save replaces the first; nil lists read back empty.
		later := fixedClock(db, testTime().Add(time.Hour))
		second := Page{Title: "Second"}
		if _, err := db.SetPage(ctxT(t), second, "bob"); err != nil {
			t.Fatal(err)
		}
		got, err = db.Page(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		want = Page{Title: "Second", Links: []Link{}, Sections: []Section{}, UpdatedAt: later, UpdatedBy: "bob"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Page after the second SetPage (-want +got):\n%s", diff)
		}
		// The injection strings harmed nothing.
		if n := countRows(t, db, "accounts"); n != 0 {
			t.Errorf("accounts: got %d rows, want 0", n)
		}
	})
}

func TestPageBoundaries(t *testing.T) {
	url500 := "https://example.com/" + strings.Repeat("a", 500-len("https://example.com/"))
	for _, tc := range []struct {
		name string
		edit func(p *Page)
	}{
		{"title of 120 two-byte runes", func(p *Page) { p.Title = strings.Repeat("ż", 120) }},
		{"title of one rune", func(p *Page) { p.Title = "x" }},
		{"description of 1000 runes", func(p *Page) { p.Description = strings.Repeat("ą\n", 500) }},
		{"announcement of 280 runes", func(p *Page) { p.Announcement = strings.Repeat("🎉", 280) }},
		{"20 links", func(p *Page) {
			p.Links = make([]Link, 20)
			for i := range p.Links {
				p.Links[i] = Link{Label: strings.Repeat("l", 60), URL: url500}
			}
		}},
		{"20 sections", func(p *Page) {
			p.Sections = make([]Section, 20)
			for i := range p.Sections {
				p.Sections[i] = Section{Heading: strings.Repeat("h", 120), Body: strings.Repeat("b", 4000)}
			}
		}},
		{"upper-case scheme", func(p *Page) { p.Links = []Link{{Label: "x", URL: "HTTPS://EXAMPLE.COM"}} }},
		{"IPv6 host", func(p *Page) { p.Links = []Link{{Label: "x", URL: "http://[2001:db8::1]:8080/"}} }},
		{"international host", func(p *Page) { p.Links = []Link{{Label: "x", URL: "https://zażółć.pl/ścieżka"}} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := DefaultPage()
			tc.edit(&p)
			if err := p.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

// badPages are pages Validate refuses, with a word the message must contain.
func badPages() []struct {
	name string
	edit func(p *Page)
	want string
} {
	link := func(label, url string) func(p *Page) {
		return func(p *Page) { p.Links = []Link{{Label: "ok", URL: "https://ok.example"}, {Label: label, URL: url}} }
	}
	section := func(heading, body string) func(p *Page) {
		return func(p *Page) { p.Sections = []Section{{Heading: heading, Body: body}} }
	}
	return []struct {
		name string
		edit func(p *Page)
		want string
	}{
		{"empty title", func(p *Page) { p.Title = "" }, "title must not be empty"},
		{"blank title", func(p *Page) { p.Title = "   " }, "title must not be blank"},
		{"long title", func(p *Page) { p.Title = strings.Repeat("ż", 121) }, "title is 121 characters long; at most 120"},
		{"title with a newline", func(p *Page) { p.Title = "a\nb" }, "title must be one line"},
		{"title with a line separator", func(p *Page) { p.Title = "a\u2028b" }, "title must be one line"},
		{"title with NUL", func(p *Page) { p.Title = "a\x00b" }, "control character (U+0000)"},
		{"title with ESC", func(p *Page) { p.Title = "a\x1b[31mb" }, "control character (U+001B)"},
		{"title with DEL", func(p *Page) { p.Title = "a\x7f" }, "control character (U+007F)"},
		{"title with a C1 control", func(p *Page) { p.Title = "a\u0085b" }, "control character (U+0085)"},
		{"title not UTF-8", func(p *Page) { p.Title = "a\xffb" }, "title is not valid UTF-8"},
		{"title with a lone surrogate", func(p *Page) { p.Title = "a\xed\xa0\x80b" }, "not valid UTF-8"},
		{"long description", func(p *Page) { p.Description = strings.Repeat("x", 1001) }, "description is 1001 characters"},
		{"description with CR LF", func(p *Page) { p.Description = "a\r\nb" }, "use \\n"},
		{"description with a tab", func(p *Page) { p.Description = "a\tb" }, "control character (U+0009)"},
		{"announcement with a newline", func(p *Page) { p.Announcement = "a\nb" }, "announcement must be one line"},
		{"long announcement", func(p *Page) { p.Announcement = strings.Repeat("x", 281) }, "announcement is 281"},
		{"21 links", func(p *Page) { p.Links = make([]Link, 21) }, "21 links"},
		{"empty label", link("", "https://example.com"), "link 2 label must not be empty"},
		{"long label", link(strings.Repeat("l", 61), "https://example.com"), "link 2 label is 61"},
		{"javascript URL", link("x", "javascript:alert(1)"), "link 2 URL must start with https://"},
		{"JavaScript URL", link("x", "JaVaScRiPt:alert(1)"), "must start with https://"},
		{"javascript URL with slashes", link("x", "javascript://example.com/%0aalert(1)"), "must start with https://"},
		{"data URL", link("x", "data:text/html,<script>alert(1)</script>"), "must start with https://"},
		{"vbscript URL", link("x", "vbscript:msgbox"), "must start with https://"},
		{"ftp URL", link("x", "ftp://example.com/file"), "must start with https://"},
		{"relative URL", link("x", "/admin"), "must start with https://"},
		{"scheme-relative URL", link("x", "//evil.example"), "must start with https://"},
		{"no host", link("x", "https://"), "has no host"},
		{"opaque", link("x", "https:evil.example"), "has no host"},
		{"port only", link("x", "https://:443/"), "has no host"},
		{"user info", link("x", "https://bank.example@evil.example/"), "user name or password"},
		{"password", link("x", "https://u:p@example.com/"), "user name or password"},
		{"leading space", link("x", " https://example.com"), "spaces"},
		{"space inside", link("x", "https://example.com/a b"), "spaces"},
		{"no-break space", link("x", "https://example.com/a\u00a0b"), "spaces"},
		{"backslash", link("x", "https://evil.example\\@good.example"), "backslashes"},
		{"tab", link("x", "java\tscript:alert(1)"), "control character"},
		{"newline", link("x", "https://example.com/\nx"), "one line"},
		{"long URL", link("x", "https://example.com/"+strings.Repeat("a", 481)), "501 bytes long; at most 500"},
		{"URL not UTF-8", link("x", "https://example.com/\xff"), "not valid UTF-8"},
		{"21 sections", func(p *Page) { p.Sections = make([]Section, 21) }, "21 sections"},
		{"empty heading", section("", "body"), "section 1 heading must not be empty"},
		{"long heading", section(strings.Repeat("h", 121), ""), "section 1 heading is 121"},
		{"heading with a newline", section("a\nb", ""), "section 1 heading must be one line"},
		{"long body", section("h", strings.Repeat("b", 4001)), "section 1 text is 4001"},
		{"body with BEL", section("h", "ding\a"), "control character (U+0007)"},
		{"body not UTF-8", section("h", "\xc3"), "section 1 text is not valid UTF-8"},
	}
}

func TestPageValidateRefuses(t *testing.T) {
	for _, tc := range badPages() {
		t.Run(tc.name, func(t *testing.T) {
			p := DefaultPage()
			tc.edit(&p)
			err := p.Validate()
			wantErrIs(t, err, ErrInvalid)
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestSetPageRefusalChangesNothing(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *DB) {
		stored, err := db.SetPage(ctxT(t), fullPage(), "alice")
		if err != nil {
			t.Fatal(err)
		}
		check := func(t *testing.T) {
			t.Helper()
			got, err := db.Page(ctxT(t))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(stored, got); diff != "" {
				t.Errorf("a refused SetPage changed the page (-want +got):\n%s", diff)
			}
		}
		for _, tc := range badPages() {
			t.Run(tc.name, func(t *testing.T) {
				p := DefaultPage()
				tc.edit(&p)
				_, err := db.SetPage(ctxT(t), p, "mallory")
				wantErrIs(t, err, ErrInvalid)
				check(t)
			})
		}
		for _, by := range []string{strings.Repeat("x", MaxActorBytes+1), "a\nb", "\xff"} {
			_, err := db.SetPage(ctxT(t), DefaultPage(), by)
			wantErrIs(t, err, ErrInvalid)
			check(t)
		}
	})
}
