package bots

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/stagelink/stagelink/printer"
)

// Links are found in the printable text (printer.SanitizeText), so that characters the printer drops,
// such as zero-width spaces, cannot hide one. The text is cut into chunks at spaces and at the brackets,
// quotes and markdown markers around links ("<https://…>", "[label](https://…)", "**example.com**",
// "||spoiler.gg||"); a chunk, without punctuation at its ends, is a link when it
//   - has a scheme: "https://…", "http://…", "hxxp://…", "steam://…" (anything before "://");
//   - holds "www." and a label: "www.example";
//   - or holds a domain with a common top-level domain (isLinkTLD), with whatever around it: "discord.gg/abc",
//     "bit.ly/x", "jan@example.com", "przykład.pl", "a.b.example.com.evil".
//
// Domains spelt with spaces or brackets ("example . com", "example[.]com"), bare IP addresses and uncommon
// top-level domains are not caught: they are rare, and catching them would refuse ordinary text.

// hasLink reports whether s, printable text, holds a link.
func hasLink(s string) bool {
	for i := 0; i < len(s); {
		chunk, next := nextChunk(s, i)
		if chunk != "" && isLink(chunk) {
			return true
		}
		i = next
	}
	return false
}

// stripLinks takes the links out of s, printable text: a markdown link whose target is a link becomes its
// label, Discord's <https://…> goes with its brackets, and the spaces and line breaks left behind are
// tidied.
func stripLinks(s string) string {
	s = unwrapMarkdownLinks(s)
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		chunk, next := nextChunk(s, i)
		if chunk == "" || !isLink(chunk) {
			out = append(out, s[i:next]...)
			i = next
			continue
		}
		out = append(out, s[i:next-len(chunk)]...) // the delimiter before the chunk, if any
		if next < len(s) && s[next] == '>' && len(out) > 0 && out[len(out)-1] == '<' {
			out = out[:len(out)-1]
			next++
		}
		if next < len(s) && s[next] == ' ' && (len(out) == 0 || out[len(out)-1] == ' ' || out[len(out)-1] == '\n') {
			next++
		}
		i = next
	}
	lines := strings.Split(string(out), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.TrimSpace(printer.SanitizeText(strings.Join(lines, "\n"), 0))
}

// nextChunk returns the chunk of s that starts at or after i, after at most one delimiter, and where the
// scan goes on. chunk is empty when s[i] is a delimiter followed by another.
func nextChunk(s string, i int) (chunk string, next int) {
	if r, size := utf8.DecodeRuneInString(s[i:]); isLinkDelim(r) {
		i += size
	}
	j := i
	for j < len(s) {
		r, size := utf8.DecodeRuneInString(s[j:])
		if isLinkDelim(r) {
			break
		}
		j += size
	}
	return s[i:j], j
}

// isLinkDelim reports whether r separates chunks that may be links.
func isLinkDelim(r rune) bool {
	return unicode.IsSpace(r) || strings.ContainsRune("<>()[]{}\"'`|*~,;", r)
}

// isLink reports whether chunk, free of delimiters, is or holds a link.
func isLink(chunk string) bool {
	c := strings.ToLower(strings.Trim(chunk, ".:!?_-"))
	if i := strings.Index(c, "://"); i >= 0 && i+3 < len(c) {
		return true
	}
	// Anything else that reads as a domain: "www." and a label, or a label and a common top-level domain,
	// in any run of letters, digits, hyphens and dots ("jan@example.com", "zobacz:example.com",
	// "example.com/path", "a..b.com").
	for _, run := range strings.FieldsFunc(c, func(r rune) bool { return !isLabelRune(r) && r != '.' }) {
		labels := strings.Split(run, ".")
		for i := 1; i < len(labels); i++ {
			if !isDomainLabel(labels[i-1]) || !isDomainLabel(labels[i]) {
				continue
			}
			if labels[i-1] == "www" || isLinkTLD(labels[i]) {
				return true
			}
		}
	}
	return false
}

func isLabelRune(r rune) bool { return r == '-' || unicode.IsLetter(r) || unicode.IsDigit(r) }

// isDomainLabel reports whether l can be one label of a domain name, internationalised ones included;
// hyphens at its ends, which no domain has, are overlooked rather than let a link through.
func isDomainLabel(l string) bool {
	l = strings.Trim(l, "-")
	return l != "" && utf8.RuneCountInString(l) <= 63
}

// isLinkTLD reports whether a bare domain ending in tld counts as a link: the generic domains, those of
// the countries the stream is watched from, and those link shorteners and invites use. Domains that are
// also common words after a missing space ("to", "no", "is", "it", "in", "at", "be") are left out; "co" stays
// because of t.co and co.uk.
func isLinkTLD(tld string) bool {
	switch tld {
	case "com", "net", "org", "edu", "gov", "info", "biz", "xyz", "app", "dev", "io", "ai", "gg", "tv", "fm",
		"me", "co", "ly", "gl", "sh", "cc", "ws", "tk", "su", "link", "site", "online", "shop", "store", "top",
		"club", "live", "pl", "eu", "de", "uk", "ru", "ua", "cz", "sk":
		return true
	}
	return strings.HasPrefix(tld, "xn--")
}

// unwrapMarkdownLinks turns every markdown link "[label](target)" whose target is a link into its label.
func unwrapMarkdownLinks(s string) string {
	var b strings.Builder
	for {
		open := strings.IndexByte(s, '[')
		if open < 0 {
			break
		}
		rest := s[open+1:]
		end := strings.IndexAny(rest, "[]\n")
		if end < 0 || rest[end] != ']' || !strings.HasPrefix(rest[end+1:], "(") {
			b.WriteString(s[:open+1])
			s = rest
			continue
		}
		target := rest[end+2:]
		closing := strings.IndexAny(target, ")\n")
		if closing < 0 || target[closing] != ')' || !hasLink(target[:closing]) {
			b.WriteString(s[:open+1])
			s = rest
			continue
		}
		b.WriteString(s[:open])
		b.WriteString(rest[:end])
		s = target[closing+1:]
	}
	b.WriteString(s)
	return b.String()
}
