package bots

import (
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"
)

// maxBlockedWordsFile is the largest blocked words file read.
const maxBlockedWordsFile = 4 << 20

// parseBlockedWords reads a blocked words file: UTF-8 text, one word or phrase per line; empty lines and
// lines starting with '#' are skipped; a trailing '*' makes an entry match the words it starts. It
// returns the numbers of the lines it could not use: a '*' elsewhere, or nothing to match.
func parseBlockedWords(text string) (list *wordList, badLines []int) {
	list = &wordList{}
	text = strings.TrimPrefix(text, "\uFEFF")
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		prefix := strings.HasSuffix(line, "*")
		line = strings.TrimSuffix(line, "*")
		words := foldWords(line)
		if strings.Contains(line, "*") || len(words) == 0 {
			badLines = append(badLines, n+1)
			continue
		}
		list.add(&blockedEntry{words: words, prefix: prefix})
	}
	return list, badLines
}

// loadBlockedWords reads and parses the blocked words file at path.
func loadBlockedWords(path string) (list *wordList, stamp fileStamp, badLines []int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fileStamp{}, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fileStamp{}, nil, err
	}
	stamp = stampOf(fi)
	if fi.IsDir() {
		return nil, stamp, nil, fmt.Errorf("%s is a directory, not a file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxBlockedWordsFile+1))
	switch {
	case err != nil:
		return nil, stamp, nil, err
	case len(data) > maxBlockedWordsFile:
		return nil, stamp, nil, fmt.Errorf("%s is larger than %d MiB", path, maxBlockedWordsFile>>20)
	case !utf8.Valid(data):
		return nil, stamp, nil, fmt.Errorf("%s is not UTF-8 text", path)
	}
	list, badLines = parseBlockedWords(string(data))
	return list, stamp, badLines, nil
}

// fileStamp tells versions of a file apart by modification time and size.
type fileStamp struct {
	modTime int64 // Unix nanoseconds
	size    int64
}

func stampOf(fi os.FileInfo) fileStamp {
	return fileStamp{modTime: fi.ModTime().UnixNano(), size: fi.Size()}
}
