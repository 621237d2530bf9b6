package printer

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"sync"
)

// PrintedLog is the agent's durable record of the job ids it has printed, so a job delivered again (the
// queue delivers at least once) is acknowledged instead of printed twice. It is an append-only file of
// ids, one a line, fsynced after each; it keeps the newest Keep ids and rewrites itself when it has grown
// to twice that.
type PrintedLog struct {
	path string
	keep int

	mu    sync.Mutex
	f     *os.File
	ids   map[string]struct{}
	order []string
	lines int // lines in the file
}

// DefaultPrintedKeep is how many printed ids a PrintedLog remembers: far more than can be in flight.
const DefaultPrintedKeep = 100_000

// OpenPrintedLog opens (or creates) the record at path, remembering the newest keep ids (0: the default).
func OpenPrintedLog(path string, keep int) (*PrintedLog, error) {
	if keep <= 0 {
		keep = DefaultPrintedKeep
	}
	l := &PrintedLog{path: path, keep: keep, ids: map[string]struct{}{}}
	if f, err := os.Open(path); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if id := sc.Text(); ValidateJobID(id) == nil { // a line cut by a crash is not an id
				l.remember(id)
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("printed log %s: %w", path, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("printed log: %w", err)
	}
	if err := l.rewrite(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *PrintedLog) remember(id string) {
	if _, ok := l.ids[id]; ok {
		return
	}
	l.ids[id] = struct{}{}
	l.order = append(l.order, id)
	for len(l.order) > l.keep {
		delete(l.ids, l.order[0])
		l.order = l.order[1:]
	}
}

// rewrite writes the remembered ids to a new file and puts it in place of the old one.
func (l *PrintedLog) rewrite() error {
	tmp := l.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("printed log: %w", err)
	}
	w := bufio.NewWriter(f)
	for _, id := range l.order {
		w.WriteString(id + "\n")
	}
	if err := errors.Join(w.Flush(), f.Sync(), f.Close(), os.Rename(tmp, l.path)); err != nil {
		return fmt.Errorf("printed log: %w", err)
	}
	if l.f != nil {
		l.f.Close()
	}
	l.f, err = os.OpenFile(l.path, os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("printed log: %w", err)
	}
	l.order = append([]string(nil), l.order...) // drop the backing array of forgotten ids
	l.lines = len(l.order)
	return nil
}

// Has reports whether id was printed.
func (l *PrintedLog) Has(id string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.ids[id]
	return ok
}

// Add records id as printed, durably, before it returns.
func (l *PrintedLog) Add(id string) error {
	if err := ValidateJobID(id); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.ids[id]; ok {
		return nil
	}
	if _, err := l.f.WriteString(id + "\n"); err != nil {
		return fmt.Errorf("printed log: %w", err)
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("printed log: %w", err)
	}
	l.remember(id)
	if l.lines++; l.lines > 2*l.keep {
		return l.rewrite()
	}
	return nil
}

// Begin records durably that the job id is about to be printed, and reports whether its last print was
// interrupted: Begin was called for id before and the agent did not get as far as the next job, because
// it crashed, the printer failed or the print timed out. Part or all of that receipt may be on paper.
func (l *PrintedLog) Begin(id string) (interrupted bool, err error) {
	if err := ValidateJobID(id); err != nil {
		return false, err
	}
	path := l.path + ".printing"
	last, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return false, fmt.Errorf("printed log: %w", err)
	}
	interrupted = string(last) == id+"\n" // a line cut by a crash matches nothing
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return interrupted, fmt.Errorf("printed log: %w", err)
	}
	_, werr := f.WriteString(id + "\n")
	if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
		return interrupted, fmt.Errorf("printed log: %w", err)
	}
	return interrupted, nil
}

// Close closes the file.
func (l *PrintedLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}
