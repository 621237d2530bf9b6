package bots

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
	"unicode"

	"github.com/google/go-cmp/cmp"
	"github.com/stagelink/stagelink/printer"
)

// writeWords writes a blocked words file into dir and returns its path.
func writeWords(t *testing.T, path string, lines ...string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func newTestModerator(t *testing.T, cfg ModerationConfig, log *slog.Logger) *Moderator {
	t.Helper()
	if log == nil {
		log = discardLogger()
	}
	m, err := NewModerator(cfg, log)
	if err != nil {
		t.Fatalf("NewModerator: %v", err)
	}
	return m
}

func discordMsg(user, text string) Message {
	return Message{Source: printer.SourceDiscord, JobID: "discord:1", UserID: user, Author: "Ala", Text: text}
}

// refusalCode is err's refusal code, "" for nil; other errors fail the test.
func refusalCode(t *testing.T, err error) string {
	t.Helper()
	if err == nil {
		return ""
	}
	var r *Refusal
	if !errors.As(err, &r) {
		t.Fatalf("got error %v (%T), want a *Refusal", err, err)
	}
	return r.Code
}

func TestModerationConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  ModerationConfig
		want string // part of the error; "" for none
	}{
		{"defaults", ModerationConfig{}, ""},
		{"everything set", ModerationConfig{MaxRunes: printer.MaxTextRunes, Links: LinksStrip, Cooldown: -1,
			DailyCap: -1, TimeZone: "UTC", BlockedUsers: []string{"discord:1"}}, ""},
		{"max runes above the printer's", ModerationConfig{MaxRunes: printer.MaxTextRunes + 1}, "use 1–2000 characters"},
		{"negative max runes", ModerationConfig{MaxRunes: -5}, "out of range"},
		{"unknown link policy", ModerationConfig{Links: "block"}, "use refuse, strip or allow"},
		{"unknown time zone", ModerationConfig{TimeZone: "Europe/Atlantis"}, "use an IANA name such as Europe/Warsaw"},
		{"empty blocked user", ModerationConfig{BlockedUsers: []string{"discord:1", " "}}, "blocked user 2 is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("got %v, want no error", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestNewModeratorBlockedWordsFile(t *testing.T) {
	dir := t.TempDir()
	if _, err := NewModerator(ModerationConfig{BlockedWordsFile: filepath.Join(dir, "missing.txt")}, discardLogger()); err == nil ||
		!strings.Contains(err.Error(), "create it") {
		t.Errorf("missing file: got %v, want an error saying to create it", err)
	}
	bad := filepath.Join(dir, "bad.txt")
	if err := os.WriteFile(bad, []byte("ok\n\xff\xfe\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := NewModerator(ModerationConfig{BlockedWordsFile: bad}, discardLogger()); err == nil ||
		!strings.Contains(err.Error(), "not UTF-8") {
		t.Errorf("bad file: got %v, want an error saying it is not UTF-8", err)
	}
	if _, err := NewModerator(ModerationConfig{BlockedWordsFile: dir}, discardLogger()); err == nil {
		t.Errorf("directory: got no error, want one")
	}
}

func TestModeratorAdmitRules(t *testing.T) {
	words := writeWords(t, filepath.Join(t.TempDir(), "words.txt"), "# insults", "kurwa", "spam eggs", "idiot*")
	long := strings.Repeat("a", 20)
	tests := []struct {
		name     string
		cfg      ModerationConfig
		paused   bool
		msg      Message
		wantCode string // "" when admitted
		wantText string // the admitted text, when it differs from msg.Text
	}{
		{name: "plain message", msg: discordMsg("discord:1", "Pozdrawiam całą ekipę!")},
		{name: "paused", paused: true, msg: discordMsg("discord:1", "hej"), wantCode: "paused"},
		{name: "paused before blocked", paused: true, cfg: ModerationConfig{BlockedUsers: []string{"discord:1"}},
			msg: discordMsg("discord:1", "hej"), wantCode: "paused"},
		{name: "blocked user", cfg: ModerationConfig{BlockedUsers: []string{"discord:1"}},
			msg: discordMsg("discord:1", "hej"), wantCode: "blocked_user"},
		{name: "blocked user before content", cfg: ModerationConfig{BlockedUsers: []string{"discord:1"}},
			msg: discordMsg("discord:1", ""), wantCode: "blocked_user"},
		{name: "other user not blocked", cfg: ModerationConfig{BlockedUsers: []string{"discord:1"}},
			msg: discordMsg("discord:2", "hej")},
		{name: "empty", msg: discordMsg("discord:1", ""), wantCode: "empty"},
		{name: "only spaces and controls", msg: discordMsg("discord:1", " \t\n\x1b\u200b\r\n "), wantCode: "empty"},
		{name: "empty tip is admitted", msg: Message{Source: printer.SourceTip, UserID: "kofi:a", Amount: 500, Currency: "PLN"}},
		{name: "at the length limit", cfg: ModerationConfig{MaxRunes: 20}, msg: discordMsg("discord:1", long)},
		{name: "too long", cfg: ModerationConfig{MaxRunes: 20}, msg: discordMsg("discord:1", long+"b"), wantCode: "too_long"},
		{name: "emoji count as their names", cfg: ModerationConfig{MaxRunes: 20},
			msg: discordMsg("discord:1", "🔥🔥🔥🔥"), wantCode: "too_long"},
		{name: "longer than the printer takes", cfg: ModerationConfig{MaxRunes: printer.MaxTextRunes},
			msg: discordMsg("discord:1", strings.Repeat("\u200b", printer.MaxTextRunes)+"a"), wantCode: "too_long"},
		{name: "empty before too long", cfg: ModerationConfig{MaxRunes: 5},
			msg: discordMsg("discord:1", strings.Repeat("\x00", 100)), wantCode: "empty"},
		{name: "too long before blocked word", cfg: ModerationConfig{MaxRunes: 5, BlockedWordsFile: words},
			msg: discordMsg("discord:1", "ty kurwa"), wantCode: "too_long"},
		{name: "blocked word", cfg: ModerationConfig{BlockedWordsFile: words},
			msg: discordMsg("discord:1", "ty KURWA jedna"), wantCode: "blocked_word"},
		{name: "blocked word in a tip", cfg: ModerationConfig{BlockedWordsFile: words},
			msg: Message{Source: printer.SourceTip, Text: "kurwa", Amount: 100, Currency: "PLN"}, wantCode: "blocked_word"},
		{name: "blocked phrase", cfg: ModerationConfig{BlockedWordsFile: words},
			msg: discordMsg("discord:1", "I like Spam, eggs and ham"), wantCode: "blocked_word"},
		{name: "blocked prefix", cfg: ModerationConfig{BlockedWordsFile: words},
			msg: discordMsg("discord:1", "idiotka"), wantCode: "blocked_word"},
		{name: "blocked word hidden by a skin tone the printer drops", cfg: ModerationConfig{BlockedWordsFile: words},
			msg: discordMsg("discord:1", "ku\U0001F3FBrwa"), wantCode: "blocked_word"},
		{name: "blocked word before link", cfg: ModerationConfig{BlockedWordsFile: words},
			msg: discordMsg("discord:1", "kurwa https://example.com"), wantCode: "blocked_word"},
		{name: "link refused by default", msg: discordMsg("discord:1", "see https://example.com"), wantCode: "link"},
		{name: "link hidden by a zero-width space", msg: discordMsg("discord:1", "discord\u200b.gg/abc"), wantCode: "link"},
		{name: "link in a tip", msg: Message{Source: printer.SourceTip, Text: "www.shop.pl", Amount: 100, Currency: "PLN"},
			wantCode: "link"},
		{name: "link allowed", cfg: ModerationConfig{Links: LinksAllow}, msg: discordMsg("discord:1", "see https://example.com")},
		{name: "link stripped", cfg: ModerationConfig{Links: LinksStrip},
			msg: discordMsg("discord:1", "see <https://example.com> now"), wantText: "see now"},
		{name: "markdown link stripped to its label", cfg: ModerationConfig{Links: LinksStrip},
			msg: discordMsg("discord:1", "my [channel](https://twitch.tv/x)!"), wantText: "my channel!"},
		{name: "only a link, stripped", cfg: ModerationConfig{Links: LinksStrip},
			msg: discordMsg("discord:1", "discord.gg/abc"), wantCode: "link"},
		{name: "stripping brings spelt letters together", cfg: ModerationConfig{Links: LinksStrip, BlockedWordsFile: words},
			msg: discordMsg("discord:1", "k x.com u r w a"), wantCode: "blocked_word"},
		{name: "no link", msg: discordMsg("discord:1", "e.g. 3.14, itd. Ok.Dzięki")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newTestModerator(t, tt.cfg, nil)
			m.SetPaused(tt.paused)
			got, err := m.Admit(tt.msg)
			if code := refusalCode(t, err); code != tt.wantCode {
				t.Fatalf("got code %q (%v), want %q", code, err, tt.wantCode)
			}
			if err != nil {
				return
			}
			want := tt.msg
			if tt.wantText != "" {
				want.Text = tt.wantText
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("admitted message (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRefusalReasonsOmitText(t *testing.T) {
	words := writeWords(t, filepath.Join(t.TempDir(), "words.txt"), "sekret")
	m := newTestModerator(t, ModerationConfig{BlockedWordsFile: words, MaxRunes: 30}, nil)
	for _, text := range []string{"sekret", "https://sekret.example.com", strings.Repeat("sekret ", 10)} {
		_, err := m.Admit(discordMsg("discord:1", text))
		var r *Refusal
		if !errors.As(err, &r) {
			t.Fatalf("Admit(%q): got %v, want a refusal", text, err)
		}
		if strings.Contains(strings.ToLower(r.Reason), "sekret") || !strings.HasSuffix(r.Reason, ".") {
			t.Errorf("Admit(%q): got reason %q, want a sentence without the text", text, r.Reason)
		}
	}
}

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

func TestModeratorCooldown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newTestModerator(t, ModerationConfig{Cooldown: 30 * time.Second, DailyCap: -1}, nil)
		admit := func(user string) *Refusal {
			t.Helper()
			_, err := m.Admit(discordMsg(user, "hej"))
			var r *Refusal
			if err != nil && !errors.As(err, &r) {
				t.Fatalf("got %v, want a refusal or nil", err)
			}
			return r
		}
		if r := admit("discord:1"); r != nil {
			t.Fatalf("first message: got %v, want admitted", r)
		}
		time.Sleep(10 * time.Second)
		r := admit("discord:1")
		if r == nil || r.Code != "cooldown" || r.RetryAfter != 20*time.Second {
			t.Fatalf("second message 10s later: got %+v, want cooldown with RetryAfter 20s", r)
		}
		if !strings.Contains(r.Reason, "20 seconds") {
			t.Errorf("got reason %q, want it to say 20 seconds", r.Reason)
		}
		if r := admit("discord:2"); r != nil {
			t.Errorf("another user: got %v, want admitted", r)
		}
		// The refused message did not restart the cooldown.
		time.Sleep(20 * time.Second)
		if r := admit("discord:1"); r != nil {
			t.Errorf("after the cooldown: got %v, want admitted", r)
		}
		// Empty user ids and tips have no cooldown.
		for range 3 {
			if r := admit(""); r != nil {
				t.Errorf("no user id: got %v, want admitted", r)
			}
			tip := Message{Source: printer.SourceTip, UserID: "kofi:x", Text: "dzięki", Amount: 500, Currency: "PLN"}
			if _, err := m.Admit(tip); err != nil {
				t.Errorf("tip: got %v, want admitted", err)
			}
		}
	})
}

func TestModeratorDailyCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The bubble starts at 2000-01-01 00:00 UTC, 01:00 in Warsaw: the next day starts in 23 hours.
		m := newTestModerator(t, ModerationConfig{Cooldown: time.Minute, DailyCap: 3}, nil)
		for i := range 3 {
			if _, err := m.Admit(discordMsg("discord:1", "hej")); err != nil {
				t.Fatalf("message %d: got %v, want admitted", i+1, err)
			}
			time.Sleep(time.Minute)
		}
		_, err := m.Admit(discordMsg("discord:1", "hej"))
		var r *Refusal
		wantRetry := 23*time.Hour - 3*time.Minute
		if !errors.As(err, &r) || r.Code != "daily_cap" || r.RetryAfter != wantRetry {
			t.Fatalf("fourth message: got %+v, want daily_cap with RetryAfter %v", err, wantRetry)
		}
		// Refused messages are not counted, and tips are never capped.
		for range 5 {
			tip := Message{Source: printer.SourceTip, UserID: "discord:1", Text: "hej", Amount: 100, Currency: "PLN"}
			if _, err := m.Admit(tip); err != nil {
				t.Fatalf("tip: got %v, want admitted", err)
			}
		}
		time.Sleep(wantRetry - time.Nanosecond)
		if _, err := m.Admit(discordMsg("discord:1", "hej")); refusalCode(t, err) != "daily_cap" {
			t.Errorf("just before midnight: got %v, want daily_cap", err)
		}
		time.Sleep(time.Nanosecond)
		if _, err := m.Admit(discordMsg("discord:1", "hej")); err != nil {
			t.Errorf("at midnight in Warsaw: got %v, want admitted", err)
		}
	})
}

func TestModeratorForgetsSenders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newTestModerator(t, ModerationConfig{}, nil)
		for i := range 100 {
			if _, err := m.Admit(discordMsg(fmt.Sprint("discord:", i), "hej")); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(24 * time.Hour)
		if _, err := m.Admit(discordMsg("discord:new", "hej")); err != nil {
			t.Fatal(err)
		}
		m.mu.Lock()
		n := len(m.senders)
		m.mu.Unlock()
		if n != 1 {
			t.Errorf("a day later: got %d senders remembered, want 1", n)
		}
	})
}

func TestDayBoundaries(t *testing.T) {
	warsaw, err := time.LoadLocation("Europe/Warsaw")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		at      time.Time
		wantDay time.Duration // length of the day at is in
	}{
		{time.Date(2024, 3, 31, 12, 0, 0, 0, warsaw), 23 * time.Hour},
		{time.Date(2024, 10, 27, 12, 0, 0, 0, warsaw), 25 * time.Hour},
		{time.Date(2024, 6, 1, 0, 0, 0, 0, warsaw), 24 * time.Hour},
	}
	for _, tt := range tests {
		start := startOfDay(tt.at, warsaw)
		if start.After(tt.at) || tt.at.Sub(start) >= tt.wantDay {
			t.Errorf("startOfDay(%v): got %v", tt.at, start)
		}
		if got := nextDay(start, warsaw).Sub(start); got != tt.wantDay {
			t.Errorf("day of %v: got %v long, want %v", tt.at, got, tt.wantDay)
		}
	}
}

func TestModeratorPauseAndBlock(t *testing.T) {
	m := newTestModerator(t, ModerationConfig{Paused: true, BlockedUsers: []string{"discord:9"}, Cooldown: -1}, nil)
	if !m.Paused() {
		t.Fatalf("got Paused false, want true from the config")
	}
	m.SetPaused(false)
	if m.Paused() {
		t.Fatalf("got Paused true after SetPaused(false)")
	}
	m.Block("discord:1")
	m.Block("")
	if diff := cmp.Diff([]string{"discord:1", "discord:9"}, m.Blocked()); diff != "" {
		t.Errorf("Blocked (-want +got):\n%s", diff)
	}
	if _, err := m.Admit(discordMsg("discord:1", "hej")); refusalCode(t, err) != "blocked_user" {
		t.Errorf("blocked: got %v, want blocked_user", err)
	}
	if _, err := m.Admit(discordMsg("", "hej")); err != nil {
		t.Errorf("no user id: got %v, want admitted", err)
	}
	m.Unblock("discord:1")
	m.Unblock("discord:unknown")
	if _, err := m.Admit(discordMsg("discord:1", "hej")); err != nil {
		t.Errorf("unblocked: got %v, want admitted", err)
	}
	if diff := cmp.Diff([]string{"discord:9"}, m.Blocked()); diff != "" {
		t.Errorf("Blocked (-want +got):\n%s", diff)
	}
}

func TestModeratorRefusals(t *testing.T) {
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	m := newTestModerator(t, ModerationConfig{Cooldown: -1, DailyCap: -1}, log)
	secret := "tajny tekst " + strings.Repeat("bardzo długi ", 20) + "KONIEC"
	_, err := m.Admit(Message{Source: printer.SourceDiscord, JobID: "discord:42", UserID: "discord:7",
		Author: "Zła\x1b[31mOsoba\n", Text: secret + " https://example.com"})
	if refusalCode(t, err) != "link" {
		t.Fatalf("got %v, want a link refusal", err)
	}
	got := m.Refusals(0)
	if len(got) != 1 {
		t.Fatalf("got %d refusals, want 1", len(got))
	}
	rec := got[0]
	want := RefusalRecord{At: rec.At, Source: printer.SourceDiscord, JobID: "discord:42", UserID: "discord:7",
		Author: "Zła[31mOsoba", Code: "link", Reason: rec.Reason, Excerpt: rec.Excerpt}
	if diff := cmp.Diff(want, rec); diff != "" {
		t.Errorf("record (-want +got):\n%s", diff)
	}
	if n := len([]rune(rec.Excerpt)); n > refusalExcerptRunes || !strings.HasPrefix(rec.Excerpt, "tajny tekst") ||
		!strings.HasSuffix(rec.Excerpt, printer.TextCutMark) {
		t.Errorf("got excerpt %q (%d characters), want the clipped start of the text", rec.Excerpt, n)
	}
	out := logs.String()
	if !strings.Contains(out, "code=link") || !strings.Contains(out, "user=discord:7") || strings.Contains(out, "tajny") {
		t.Errorf("got log %q, want the code and user and not the text", out)
	}
	if n := strings.Count(out, "message refused"); n != 1 {
		t.Errorf("got %d refusal log lines, want 1", n)
	}

	// The ring keeps the newest maxRefusalRecords, newest first.
	for i := range maxRefusalRecords + 10 {
		m.Admit(discordMsg(fmt.Sprint("discord:", i), ""))
	}
	all := m.Refusals(0)
	if len(all) != maxRefusalRecords {
		t.Fatalf("got %d refusals kept, want %d", len(all), maxRefusalRecords)
	}
	if all[0].UserID != fmt.Sprint("discord:", maxRefusalRecords+9) || all[len(all)-1].UserID != "discord:10" {
		t.Errorf("got newest %q and oldest %q, want discord:%d and discord:10", all[0].UserID, all[len(all)-1].UserID,
			maxRefusalRecords+9)
	}
	three := m.Refusals(3)
	if diff := cmp.Diff(all[:3], three); diff != "" {
		t.Errorf("Refusals(3) (-want +got):\n%s", diff)
	}
}

func TestRefusalRingFilling(t *testing.T) {
	r := refusalRing{max: 3}
	if got := r.newest(5); len(got) != 0 {
		t.Errorf("empty ring: got %d records, want none", len(got))
	}
	for i := range 5 {
		r.add(RefusalRecord{UserID: fmt.Sprint(i)})
		var ids []string
		for _, rec := range r.newest(0) {
			ids = append(ids, rec.UserID)
		}
		var want []string
		for j := i; j >= max(0, i-2); j-- {
			want = append(want, fmt.Sprint(j))
		}
		if diff := cmp.Diff(want, ids); diff != "" {
			t.Errorf("after %d adds (-want +got):\n%s", i+1, diff)
		}
	}
}

func TestModeratorReloadsBlockedWords(t *testing.T) {
	path := writeWords(t, filepath.Join(t.TempDir(), "words.txt"), "alpha")
	synctest.Test(t, func(t *testing.T) {
		var logs syncBuffer
		m := newTestModerator(t, ModerationConfig{BlockedWordsFile: path, Cooldown: -1, DailyCap: -1},
			slog.New(slog.NewTextHandler(&logs, nil)))
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- m.Run(ctx) }()
		defer func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: got %v, want nil", err)
			}
		}()

		blocked := func(word string) bool {
			_, err := m.Admit(discordMsg("", word))
			return refusalCode(t, err) == "blocked_word"
		}
		// waitFor polls Admit until it gives want, for at most 10 polls of the file.
		waitFor := func(word string, want bool) {
			t.Helper()
			for deadline := time.Now().Add(10 * blockedWordsPoll); blocked(word) != want; {
				if time.Now().After(deadline) {
					t.Fatalf("%q blocked: got %v, want %v after a reload", word, !want, want)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
		if !blocked("alpha") || blocked("beta") {
			t.Fatalf("initial list: want alpha blocked, beta not")
		}
		writeWords(t, path, "beta", "gamma")
		waitFor("beta", true)
		waitFor("alpha", false)

		// A bad file keeps the list, with one warning.
		if err := os.WriteFile(path, []byte("delta\n\xff\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * blockedWordsPoll)
		if !blocked("beta") || blocked("delta") {
			t.Errorf("bad file: want the previous list kept")
		}
		// So does a missing one.
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * blockedWordsPoll)
		if !blocked("gamma") {
			t.Errorf("missing file: want the previous list kept")
		}
		writeWords(t, path, "delta")
		waitFor("delta", true)
		waitFor("beta", false)

		out := logs.String()
		for _, want := range []struct {
			text string
			n    int
		}{
			{"blocked words loaded", 3},
			{"entries=2", 1},
			{"not UTF-8", 1},
			{"blocked words file unreadable", 1},
		} {
			if got := strings.Count(out, want.text); got != want.n {
				t.Errorf("got %d log lines with %q, want %d; log:\n%s", got, want.text, want.n, out)
			}
		}
	})
}

func TestModeratorRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newTestModerator(t, ModerationConfig{}, nil)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- m.Run(ctx) }()
		synctest.Wait()
		if err := m.Run(ctx); err == nil {
			t.Errorf("second Run: got nil, want an error")
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run without a file: got %v, want nil", err)
		}
	})
}

func TestModeratorConcurrentUse(t *testing.T) {
	m := newTestModerator(t, ModerationConfig{DailyCap: 1000, Cooldown: -1}, nil)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			user := fmt.Sprint("discord:", i%2)
			for j := range 100 {
				m.Admit(discordMsg(user, "hej"))
				m.Admit(discordMsg(user, ""))
				if j%10 == 0 {
					m.SetPaused(j%20 == 0)
					m.Block("discord:x")
					m.Unblock("discord:x")
					m.Refusals(10)
					m.Blocked()
					m.Paused()
				}
			}
		})
	}
	wg.Wait()
}

// fuzzWords lower-cases s, folds Polish letters and cuts it into words of letters, digits, '@' and '$': a
// simpler reading than the moderator's, for the fuzz test's oracle.
func fuzzWords(s string) []string {
	s = strings.NewReplacer("ą", "a", "ć", "c", "ę", "e", "ł", "l", "ń", "n", "ó", "o", "ś", "s", "ź", "z", "ż", "z").
		Replace(strings.ToLower(s))
	return strings.FieldsFunc(s, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '@' && r != '$'
	})
}

// FuzzModeratorAdmit: Admit never panics, never admits a blocked word, and never lets a link through
// unless links are allowed.
func FuzzModeratorAdmit(f *testing.F) {
	for _, s := range []string{"hej", "kurwa", "k.u.r.w.a", "KuRwA!", "https://example.com", "see x.com", "ku\u200brwa",
		"[a](https://b.com)", "<https://x.pl>", "k x.com u r w a", "żółw", "spam\u00a0eggs", "www.x", "\xff\x00",
		"discord.gg/x\u200b", "🔥🔥", "a\r\n\r\n\r\nb"} {
		f.Add(s, uint8(0))
		f.Add(s, uint8(1))
	}
	path := filepath.Join(f.TempDir(), "words.txt")
	if err := os.WriteFile(path, []byte("kurwa\nspam\nzolw\n"), 0o600); err != nil {
		f.Fatal(err)
	}
	policies := []LinkPolicy{LinksRefuse, LinksStrip, LinksAllow}
	mods := make([]*Moderator, len(policies))
	for i, p := range policies {
		m, err := NewModerator(ModerationConfig{BlockedWordsFile: path, Links: p}, discardLogger())
		if err != nil {
			f.Fatal(err)
		}
		mods[i] = m
	}
	blockedWords := []string{"kurwa", "spam", "zolw"}
	link := regexp.MustCompile(`(?i)(https?://[a-z0-9]|(^|[^\p{L}\p{N}_-])www\.[a-z0-9]|[a-z0-9]\.(com|gg|pl)([^\p{L}\p{N}-]|$))`)
	f.Fuzz(func(t *testing.T, text string, policy uint8) {
		i := int(policy) % len(policies)
		got, err := mods[i].Admit(Message{Source: printer.SourceDiscord, Text: text})
		if err != nil {
			var r *Refusal
			if !errors.As(err, &r) || r.Code == "" || r.Reason == "" {
				t.Fatalf("Admit(%q): got %v, want a *Refusal with a code and reason", text, err)
			}
			return
		}
		// What is printed never holds a blocked word.
		printed := printer.SanitizeText(got.Text, 0)
		for _, w := range fuzzWords(printed) {
			if slices.Contains(blockedWords, w) {
				t.Fatalf("Admit(%q) admitted %q with the blocked word %q", text, got.Text, w)
			}
		}
		if policies[i] != LinksAllow && link.MatchString(printed) {
			t.Fatalf("Admit(%q) with links %s admitted %q with a link", text, policies[i], got.Text)
		}
		if policies[i] != LinksStrip && got.Text != text {
			t.Fatalf("Admit(%q) changed the text to %q", text, got.Text)
		}
	})
}
