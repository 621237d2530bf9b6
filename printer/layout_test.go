package printer

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var layoutTestTime = time.Date(2026, 11, 21, 20, 15, 0, 0, time.UTC)

var layoutTestConfig = LayoutConfig{Header: "Stagelink · Stream u Ani 🎉", Footer: "Dzięki za wsparcie!\nstagelink.example"}

func TestRenderGolden(t *testing.T) {
	warsaw, err := time.LoadLocation("Europe/Warsaw")
	if err != nil {
		warsaw = time.FixedZone("CET", 3600)
	}
	tests := []struct {
		name      string
		job       Job
		cfg       LayoutConfig
		wantTexts []string
	}{
		{"discord", Job{ID: "discord:1234567890", Source: SourceDiscord, Author: "Żaneta_99", Text: "Zażółć gęślą jaźń! Pozdrawiam cały czat 😄 i życzę miłego streamu, to jest dłuższa wiadomość do zawinięcia.", CreatedAt: layoutTestTime},
			layoutTestConfig, []string{"DISCORD", "Żaneta_99", "Zażółć gęślą jaźń!", ":smile:", "2026-11-21 20:15"}},
		{"tip_pln", Job{ID: "tip:42", Source: SourceTip, Author: "Bartłomiej", Text: "Na kawę ☕", Amount: 123450, Currency: "PLN", CreatedAt: layoutTestTime},
			LayoutConfig{Header: "Stream u Ani", Location: warsaw}, []string{"NAPIWEK", "1 234,50 zł", "od: Bartłomiej", "Na kawę :coffee:", "2026-11-21 21:15"}},
		{"tip_eur", Job{ID: "tip:43", Source: SourceTip, Author: "Hans", Amount: 500, Currency: "eur", CreatedAt: layoutTestTime},
			LayoutConfig{}, []string{"NAPIWEK", "5,00 EUR", "od: Hans"}},
		{"web", Job{ID: "web:abc", Source: SourceWeb, Author: "Gość", Text: "Linia 1\n\n\n\nLinia 2\tpo tabie", CreatedAt: layoutTestTime},
			layoutTestConfig, []string{"WIADOMOŚĆ", "Gość", "Linia 1\n\nLinia 2 po tabie"}},
		{"admin", Job{ID: "admin:1", Source: SourceAdmin, Text: "Przerwa 5 minut"},
			LayoutConfig{Footer: "—"}, []string{"OD STREAMERA", "Przerwa 5 minut"}},
		{"reprint", Job{ID: "discord:9", Source: SourceDiscord, Author: "Ola", Text: "drugi raz", CreatedAt: layoutTestTime},
			LayoutConfig{Reprint: true}, []string{"DISCORD", "*** PONOWNY WYDRUK ***", "Ola", "drugi raz"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Render(tt.job, tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			w, err := escposWalk(got)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tt.wantTexts {
				if !strings.Contains(w.text, s) {
					t.Errorf("printed text does not contain %q:\n%s", s, w.text)
				}
			}
			if !bytes.HasPrefix(got, []byte{0x1B, 0x40, 0x1B, 0x74, 0x12}) {
				t.Errorf("receipt starts % x, want ESC @ ESC t 18", got[:5])
			}
			if !bytes.HasSuffix(got, []byte{0x0A, 0x0A, 0x1D, 0x56, 0x42, 0x00}) {
				t.Errorf("receipt ends % x, want feed and GS V 66 0", got[len(got)-6:])
			}
			for _, line := range strings.Split(w.text, "\n") {
				if n := utf8.RuneCountInString(line); n > Columns {
					t.Errorf("line %q has %d characters, more than %d", line, n, Columns)
				}
			}
			escposGolden(t, "layout_"+tt.name, got)
		})
	}
}

func TestRenderRefusesBadJobs(t *testing.T) {
	tests := []struct {
		name string
		job  Job
		want string
	}{
		{"empty id", Job{Source: SourceDiscord, Text: "x"}, "no id"},
		{"blank id", Job{ID: "  ", Source: SourceDiscord, Text: "x"}, "no id"},
		{"unknown source", Job{ID: "x:1", Source: "telegram", Text: "x"}, `unknown source "telegram"`},
		{"empty source", Job{ID: "x:1", Text: "x"}, `unknown source ""`},
		{"control in source", Job{ID: "x:1", Source: "\x1b@", Text: "x"}, `unknown source "@"`},
		{"negative tip", Job{ID: "tip:1", Source: SourceTip, Amount: -5, Currency: "PLN"}, "negative"},
		{"bad currency", Job{ID: "tip:1", Source: SourceTip, Amount: 5, Currency: "zł"}, "three letters"},
		{"amount without currency", Job{ID: "tip:1", Source: SourceTip, Amount: 5}, "three letters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Render(tt.job, LayoutConfig{})
			if err == nil {
				t.Fatalf("got % x, want an error", got)
			}
			if !errors.Is(err, ErrBadJob) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want ErrBadJob mentioning %q", err, tt.want)
			}
		})
	}
}

func TestRenderTipWithoutAmount(t *testing.T) {
	got, err := Render(Job{ID: "tip:9", Source: SourceTip, Author: "Ola", Text: "bez kwoty"}, LayoutConfig{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := escposWalk(got)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(w.text, "od: Ola") || strings.Contains(w.text, "zł") {
		t.Errorf("printed text:\n%s", w.text)
	}
}

func TestFormatAmount(t *testing.T) {
	tests := []struct {
		minor int64
		code  string
		want  string
	}{
		{1250, "PLN", "12,50 zł"},
		{5, "PLN", "0,05 zł"},
		{0, "PLN", "0,00 zł"},
		{123456789, "PLN", "1 234 567,89 zł"},
		{500, "EUR", "5,00 EUR"},
		{100000, "EUR", "1 000,00 EUR"},
		{500, "USD", "$5.00"},
		{123456, "USD", "$1,234.56"},
		{99, "GBP", "0.99 GBP"},
		{150000, "gbp", "1,500.00 GBP"},
		{2500, "CZK", "25,00 Kč"},
		{1250, "XYZ", "12.50 XYZ"},
		{123456, "XYZ", "1234.56 XYZ"},
		{500, "JPY", "500 JPY"},
		{1250, "kwd", "1.250 KWD"},
		{9223372036854775807, "PLN", "92 233 720 368 547 758,07 zł"},
	}
	for _, tt := range tests {
		got, err := FormatAmount(tt.minor, tt.code)
		if err != nil {
			t.Errorf("FormatAmount(%d, %q): %v", tt.minor, tt.code, err)
			continue
		}
		if got != tt.want {
			t.Errorf("FormatAmount(%d, %q) = %q, want %q", tt.minor, tt.code, got, tt.want)
		}
		if SanitizeText(got, 0) != got {
			t.Errorf("FormatAmount(%d, %q) = %q has characters PC852 cannot print", tt.minor, tt.code, got)
		}
	}
	for _, code := range []string{"", "PL", "PLNN", "P1N", "€€€", "\x1bAB"} {
		if got, err := FormatAmount(100, code); err == nil {
			t.Errorf("FormatAmount(100, %q) = %q, want an error", code, got)
		}
	}
}

// FuzzUserText proves that no byte of user text can become a printer command: whatever the text,
// author, header and footer hold, Render's output parses as exactly the encoder's own commands, with
// only printable PC852 bytes and LF between them, and no real-time command sequence anywhere.
func FuzzUserText(f *testing.F) {
	f.Add("Zażółć gęślą jaźń", "Żaneta", "Stream", "stopka")
	f.Add("\x1b@\x1dV\x42\x00\x10\x04\x01\x10\x14\x08", "\x1bE\x01", "\x1d!\x11", "\x1da\x01")
	f.Add("😄🔥👍🏽❤️\u200d\u202e\ufeff", "\xff\xfe\x80\x9b", "\r\n\r\n\t", "\u0085\u009b[0m")
	f.Add(strings.Repeat("słowo ", 500), strings.Repeat("a", 200), strings.Repeat("\n", 50), "…„”")
	f.Fuzz(func(t *testing.T, text, author, header, footer string) {
		cfg := LayoutConfig{Header: header, Footer: footer}
		for _, src := range []Source{SourceDiscord, SourceTip, SourceWeb, SourceAdmin} {
			job := Job{ID: "fuzz:1", Source: src, Author: author, Text: text, CreatedAt: layoutTestTime}
			if src == SourceTip {
				job.Amount, job.Currency = int64(len(text))*101, "PLN"
			}
			out, err := Render(job, cfg)
			if err != nil {
				t.Fatalf("Render(%s): %v", src, err)
			}
			w, err := escposWalk(out)
			if err != nil {
				t.Fatalf("Render(%s): %v", src, err)
			}
			for off := 0; off < len(out); {
				n, err := escposUnitLen(out[off:])
				if err != nil || n+3 > serialMinWindow {
					t.Fatalf("Render(%s): the link cannot pace byte %d (unit of %d bytes): %v", src, off, n, err)
				}
				off += n
			}
			if len(w.cmds) == 0 || w.cmds[len(w.cmds)-1] != "cut" {
				t.Fatalf("Render(%s): commands %v do not end with the cut", src, w.cmds)
			}
			if n := utf8.RuneCountInString(w.text); n > MaxTextRunes+MaxAuthorRunes+2*MaxHeaderRunes+1000 {
				t.Fatalf("Render(%s): %d characters printed", src, n)
			}
		}
		r := NewReceipt().Text(text).DoubleSize(true, true).Text(author).Cut(3)
		out, err := r.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := escposWalk(out); err != nil {
			t.Fatal(err)
		}
	})
}
