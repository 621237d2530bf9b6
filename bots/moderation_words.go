package bots

import (
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Blocked words are matched on whole words after folding both the list and the message the same way
// (foldWords), so that the usual ways around a word filter still match:
//   - case, compatibility forms and diacritics: "KURWA", "ｋｕｒｗａ", "𝐤𝐮𝐫𝐰𝐚", "kurwą", "żółw" = "zolw"
//     (NFKD, marks dropped, 'ł' read as 'l');
//   - invisible characters inside a word, which the printer drops too: "ku\u200Brwa";
//   - Cyrillic and Greek letters that look like Latin ones: "kurwа" with a Cyrillic 'а';
//   - digits and symbols standing in for letters, in words that have a letter: 0=o 1=i 3=e 4=a 5=s 7=t
//     @=a $=s ("kurw4", "a$$"); numbers alone stay numbers, so a list may block "1488";
//   - repeated letters: a letter of the blocked word matches one or more of it ("kuuurwaaa"), but never
//     fewer ("as" is not "ass");
//   - letters written apart: single characters in a row ("k.u.r.w.a", "k u r w a", "k-u-r-w-a") are joined,
//     and blocked words are searched anywhere inside such a run.
//
// An entry ending in '*' also matches every word that starts with it ("kurw*" blocks "kurwy", "kurwiarz"),
// which Polish, with its many endings, needs. A phrase ("spam eggs") matches the same words in a row,
// whatever separates them. Letters split into groups ("ku rwa") or a word glued to a non-blocked one are
// not caught: whole-word matching is what keeps "Scunthorpe" printable.

// foldedWord is a word as matched: its letters with each run of one letter kept once, and the runs'
// lengths ("kuurwa": letters "kurwa", runs 1 2 1 1 1).
type foldedWord struct {
	letters []rune
	runs    []int
	spelt   bool // joined from characters written apart: blocked words are searched inside it
}

// foldWords cuts s into folded words.
func foldWords(s string) []foldedWord {
	s = norm.NFKD.String(s)
	var (
		words []foldedWord
		cur   []rune // the word being read
		apart []rune // single characters read in a row
	)
	flushApart := func() {
		if len(apart) > 0 {
			words = append(words, newFoldedWord(apart, len(apart) > 1))
			apart = apart[:0]
		}
	}
	endWord := func() {
		switch len(cur) {
		case 0:
			return
		case 1:
			apart = append(apart, cur[0])
		default:
			flushApart()
			words = append(words, newFoldedWord(cur, false))
		}
		cur = cur[:0]
	}
	for _, r := range s {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			endWord()
			continue
		case unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf, unicode.Cc):
			continue // marks, invisible and control characters: dropped, as on paper
		}
		r = foldRune(unicode.ToLower(r))
		if unicode.IsLetter(r) || unicode.IsDigit(r) || r == '@' || r == '$' {
			cur = append(cur, r)
		} else {
			endWord()
		}
	}
	endWord()
	flushApart()
	return words
}

// newFoldedWord reads digits and symbols as letters when rs has a letter, and collapses repeated letters.
func newFoldedWord(rs []rune, spelt bool) foldedWord {
	number := true
	for _, r := range rs {
		if !unicode.IsDigit(r) {
			number = false
			break
		}
	}
	w := foldedWord{spelt: spelt}
	for _, r := range rs {
		if !number {
			r = leetRune(r)
		}
		if n := len(w.letters); n > 0 && w.letters[n-1] == r {
			w.runs[n-1]++
			continue
		}
		w.letters = append(w.letters, r)
		w.runs = append(w.runs, 1)
	}
	return w
}

// foldRune maps a lower-case letter to the Latin letter it is read as: letters NFKD does not decompose,
// and Cyrillic and Greek look-alikes.
func foldRune(r rune) rune {
	switch r {
	case 'ł', 'ƚ':
		return 'l'
	case 'đ', 'ð':
		return 'd'
	case 'ø':
		return 'o'
	case 'ı':
		return 'i'
	case 'ħ':
		return 'h'
	// Cyrillic
	case 'а':
		return 'a'
	case 'в':
		return 'b'
	case 'е':
		return 'e'
	case 'і':
		return 'i'
	case 'ј':
		return 'j'
	case 'к':
		return 'k'
	case 'м':
		return 'm'
	case 'н':
		return 'h'
	case 'о':
		return 'o'
	case 'р':
		return 'p'
	case 'с':
		return 'c'
	case 'т':
		return 't'
	case 'у':
		return 'y'
	case 'х':
		return 'x'
	case 'ѕ':
		return 's'
	case 'ԁ':
		return 'd'
	// Greek
	case 'α':
		return 'a'
	case 'β':
		return 'b'
	case 'ε':
		return 'e'
	case 'ι':
		return 'i'
	case 'κ':
		return 'k'
	case 'ν':
		return 'v'
	case 'ο':
		return 'o'
	case 'ρ':
		return 'p'
	case 'τ':
		return 't'
	case 'υ':
		return 'u'
	case 'χ':
		return 'x'
	}
	return r
}

// leetRune reads a digit or symbol standing in for a letter as that letter.
func leetRune(r rune) rune {
	switch r {
	case '0':
		return 'o'
	case '1':
		return 'i'
	case '3':
		return 'e'
	case '4', '@':
		return 'a'
	case '5', '$':
		return 's'
	case '7':
		return 't'
	}
	return r
}

// covers reports whether the message's word t is the blocked word w: the same letters, each repeated at
// least as often; with prefix, t only has to start with w.
func covers(t, w foldedWord, prefix bool) bool {
	if len(t.letters) < len(w.letters) || !prefix && len(t.letters) != len(w.letters) {
		return false
	}
	for i := range w.letters {
		if t.letters[i] != w.letters[i] || t.runs[i] < w.runs[i] {
			return false
		}
	}
	return true
}

// blockedEntry is one line of the blocked words file: a word or a phrase.
type blockedEntry struct {
	words  []foldedWord
	prefix bool // its last word matches every word that starts with it
}

// matchesAt reports whether the message's words from i on are e.
func (e *blockedEntry) matchesAt(ws []foldedWord, i int) bool {
	if i+len(e.words) > len(ws) {
		return false
	}
	for j, w := range e.words {
		if !covers(ws[i+j], w, e.prefix && j == len(e.words)-1) {
			return false
		}
	}
	return true
}

// wordList is a parsed blocked words file. The zero value blocks nothing.
type wordList struct {
	entries  int
	byFirst  map[string][]*blockedEntry // by the letters of their first word; all but single-word prefixes
	prefixes map[string][]*blockedEntry // single-word prefix entries, by their letters
	longest  int                        // most letters of a single-word entry
}

func (l *wordList) add(e *blockedEntry) {
	if l.byFirst == nil {
		l.byFirst = make(map[string][]*blockedEntry)
		l.prefixes = make(map[string][]*blockedEntry)
	}
	l.entries++
	key := string(e.words[0].letters)
	if len(e.words) == 1 {
		l.longest = max(l.longest, len(e.words[0].letters))
		if e.prefix {
			l.prefixes[key] = append(l.prefixes[key], e)
			return
		}
	}
	l.byFirst[key] = append(l.byFirst[key], e)
}

// matches reports whether s holds a blocked word or phrase.
func (l *wordList) matches(s string) bool {
	if l.entries == 0 {
		return false
	}
	ws := foldWords(s)
	for i, w := range ws {
		if l.matchesAt(ws, i) || w.spelt && l.matchesInside(w) {
			return true
		}
	}
	return false
}

// matchesAt reports whether an entry starts at the message's word i.
func (l *wordList) matchesAt(ws []foldedWord, i int) bool {
	w := ws[i]
	for _, e := range l.byFirst[string(w.letters)] {
		if e.matchesAt(ws, i) {
			return true
		}
	}
	for k := 1; k <= min(len(w.letters), l.longest); k++ {
		for _, e := range l.prefixes[string(w.letters[:k])] {
			if covers(w, e.words[0], true) {
				return true
			}
		}
	}
	return false
}

// matchesInside reports whether a single-word entry appears anywhere inside w, letters written apart.
func (l *wordList) matchesInside(w foldedWord) bool {
	for i := range w.letters {
		for k := 1; k <= min(len(w.letters)-i, l.longest); k++ {
			sub := foldedWord{letters: w.letters[i : i+k], runs: w.runs[i : i+k]}
			key := string(sub.letters)
			for _, e := range l.byFirst[key] {
				if len(e.words) == 1 && covers(sub, e.words[0], false) {
					return true
				}
			}
			for _, e := range l.prefixes[key] {
				if covers(sub, e.words[0], false) {
					return true
				}
			}
		}
	}
	return false
}
