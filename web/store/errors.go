package store

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Errors the store returns; test for them with errors.Is. The message of an error that wraps ErrInvalid,
// ErrNotFound or ErrExists is written for the streamer and may be shown to them as it is.
var (
	// ErrNotFound means the row asked for does not exist (or, for sessions and tokens, is expired or
	// revoked).
	ErrNotFound = errors.New("not found")
	// ErrExists means a row with the same unique name, hash or id already exists.
	ErrExists = errors.New("already exists")
	// ErrInvalid means the input was refused before anything was written.
	ErrInvalid = errors.New("invalid input")
	// ErrSchemaNewer means the database was migrated by a newer hub than this one: this hub refuses to
	// use it rather than write to a schema it does not know. Upgrade the hub.
	ErrSchemaNewer = errors.New("database schema is newer than this hub")
)

// storeError is an error of one of the sentinel kinds with a message of its own.
type storeError struct {
	kind error
	msg  string
}

func (e *storeError) Error() string { return e.msg }
func (e *storeError) Unwrap() error { return e.kind }

func invalidf(format string, args ...any) error {
	return &storeError{kind: ErrInvalid, msg: fmt.Sprintf(format, args...)}
}

func notFoundf(format string, args ...any) error {
	return &storeError{kind: ErrNotFound, msg: fmt.Sprintf(format, args...)}
}

func existsf(format string, args ...any) error {
	return &storeError{kind: ErrExists, msg: fmt.Sprintf(format, args...)}
}

// clip shortens user input quoted in a message to a few dozen characters of valid UTF-8.
func clip(s string) string {
	const maxRunes = 40
	cut := false
	if len(s) > utf8.UTFMax*maxRunes {
		s, cut = s[:utf8.UTFMax*maxRunes], true
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	if r := []rune(s); len(r) > maxRunes {
		s, cut = string(r[:maxRunes]), true
	}
	if cut {
		s += "…"
	}
	return s
}
