package store

import (
	"errors"
	"net/url"
	"path/filepath"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// FuzzPage checks that whatever Page.Validate accepts, SetPage stores and Page reads back unchanged
// (on SQLite), and that whatever it refuses is refused with ErrInvalid and a readable message.
func FuzzPage(f *testing.F) {
	f.Add("stagelink", "", "", "", "", "", "")
	f.Add("Studio 🎛️", "line\nline", "Back at 8", "Shop", "https://shop.example.com/?a=1&b=2#x", "Rules", "Be nice.\n")
	f.Add(`'; DROP TABLE page; --`, "<script>alert(1)</script>", `" OR 1=1`, "<b>", "http://[::1]:8080/", "{{AUTO_ID}}", "\\'")
	f.Add("a\x00b", "a\r\nb", "a\nb", "x", "javascript:alert(1)", "h", "\x07")
	f.Add("\xff", "\xc3", "\u2028", "x", "https://u:p@example.com", "h", "b")
	f.Add(" ", "\t", "", "x", "https://evil.example\\@good.example", "h", "b")
	db := openTest(f, Config{Path: filepath.Join(f.TempDir(), "fuzz.db")}, nil)
	f.Fuzz(func(t *testing.T, title, description, announcement, label, link, heading, body string) {
		p := Page{Title: title, Description: description, Announcement: announcement}
		if label != "" || link != "" {
			p.Links = []Link{{Label: label, URL: link}}
		}
		if heading != "" || body != "" {
			p.Sections = []Section{{Heading: heading, Body: body}}
		}
		err := p.Validate()
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Validate: got %v, want an error that is ErrInvalid", err)
			}
			if !utf8.ValidString(err.Error()) {
				t.Fatalf("Validate's message is not valid UTF-8: %q", err)
			}
			return
		}
		if len(p.Links) > 0 {
			u, err := url.Parse(p.Links[0].URL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				t.Fatalf("Validate accepted the link %q", p.Links[0].URL)
			}
		}
		saved, err := db.SetPage(t.Context(), p, "fuzz")
		if err != nil {
			t.Fatalf("SetPage of a valid page: %v", err)
		}
		got, err := db.Page(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(saved, got); diff != "" {
			t.Fatalf("Page read back (-saved +got):\n%s", diff)
		}
		want := p
		want.Links, want.Sections = nonNil(p.Links), nonNil(p.Sections)
		want.UpdatedAt, want.UpdatedBy = saved.UpdatedAt, "fuzz"
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("Page differs from what was set (-want +got):\n%s", diff)
		}
	})
}
