package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stagelink/stagelink/printer"
)

// PrintRecord is one print job the hub accepted and what became of it.
type PrintRecord struct {
	ID        string    `json:"id"`     // a printer job id: 1–128 of [A-Za-z0-9._:-]
	Source    string    `json:"source"` // 1–16 printable ASCII bytes: discord, tip, web, admin
	Author    string    `json:"author"`
	Text      string    `json:"text"`
	Amount    int64     `json:"amount,omitempty"`
	Currency  string    `json:"currency,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	State     string    `json:"state"` // queued, printing, printed, failed, cancelled (stored as given, ≤ 16 bytes)
	Reason    string    `json:"reason,omitempty"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// PrintFilter selects print history.
type PrintFilter struct {
	States []string  // only these states; none: all
	Limit  int       // clamped to 1–MaxPrintLimit
	Before time.Time // only jobs created before; zero: from the newest
}

// Print states the store knows of. Others are stored as given.
const (
	PrintQueued    = "queued"
	PrintPrinting  = "printing"
	PrintPrinted   = "printed" // final: SetPrintState never moves a printed job to another state
	PrintFailed    = "failed"
	PrintCancelled = "cancelled"
)

// Limits of print records.
const (
	MaxPrintStateBytes  = 16
	MaxPrintSourceBytes = 16
	MaxCurrencyBytes    = 8
	MaxPrintReasonBytes = 500
	MaxPrintLimit       = 500
	maxPrintFilterState = 16
	printColumns        = "id, source, author, body, amount, currency, created_at, state, reason, updated_at"
)

func checkPrintState(s string) error {
	return asciiToken("print state", s, MaxPrintStateBytes)
}

// validate checks r as a job the hub accepted: the id as printer.ValidateJobID wants it, author and text
// valid UTF-8 within the printer's limits (control characters are kept as given: the receipt layout drops
// them, and the dashboard shows text as text), a known-looking source, state and currency.
func (r PrintRecord) validate() error {
	if err := printer.ValidateJobID(r.ID); err != nil {
		return invalidf("print id %q must be 1 to %d characters of A-Z, a-z, 0-9, \".\", \"_\", \":\" or \"-\", not starting with \".\"",
			clip(r.ID), printer.MaxJobIDLen)
	}
	if err := asciiToken("print source", r.Source, MaxPrintSourceBytes); err != nil {
		return err
	}
	for _, f := range []struct {
		name  string
		value string
		max   int
	}{{"print author", r.Author, printer.MaxAuthorRunes}, {"print text", r.Text, printer.MaxTextRunes}} {
		if !utf8.ValidString(f.value) {
			return invalidf("%s is not valid UTF-8 text", f.name)
		}
		if n := utf8.RuneCountInString(f.value); n > f.max {
			return invalidf("%s is %d characters long; at most %d are allowed", f.name, n, f.max)
		}
	}
	if r.Amount < 0 {
		return invalidf("print amount %d is negative", r.Amount)
	}
	if r.Currency != "" {
		if err := asciiToken("print currency", r.Currency, MaxCurrencyBytes); err != nil {
			return err
		}
	}
	return checkPrintState(r.State)
}

// RecordPrint stores r. When a record with its id exists, the job fields (source, author, text, amount,
// currency, created at) are replaced, and the state, reason and update time follow SetPrintState's rules.
// CreatedAt and UpdatedAt zero mean now; Reason is cut to MaxPrintReasonBytes and cleaned like an audit
// field rather than refused.
func (db *DB) RecordPrint(ctx context.Context, r PrintRecord) error {
	if err := r.validate(); err != nil {
		return err
	}
	now := db.now()
	if r.CreatedAt.IsZero() {
		r.CreatedAt = now
	}
	if r.UpdatedAt.IsZero() {
		r.UpdatedAt = now
	}
	r.Reason = sanitize(r.Reason, MaxPrintReasonBytes, false)
	for attempt := 0; ; attempt++ {
		res, err := db.sql.ExecContext(ctx,
			"UPDATE prints SET source = ?, author = ?, body = ?, amount = ?, currency = ?, created_at = ? WHERE id = ?",
			r.Source, r.Author, r.Text, r.Amount, r.Currency, r.CreatedAt.UnixMilli(), r.ID)
		if err != nil {
			return fmt.Errorf("store: record print %s: %w", r.ID, err)
		}
		n, err := rowsAffected(res)
		if err != nil {
			return err
		}
		if n > 0 {
			return db.setPrintState(ctx, r.ID, r.State, r.Reason, r.UpdatedAt)
		}
		_, err = db.sql.ExecContext(ctx, "INSERT INTO prints ("+printColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			r.ID, r.Source, r.Author, r.Text, r.Amount, r.Currency, r.CreatedAt.UnixMilli(), r.State, r.Reason, r.UpdatedAt.UnixMilli())
		if db.isDuplicate(err) && attempt == 0 {
			continue // recorded by someone else meanwhile: update it instead
		}
		if err != nil {
			return fmt.Errorf("store: record print %s: %w", r.ID, err)
		}
		return nil
	}
}

// SetPrintState records that job id reached state at at (zero: now), with a reason (cut to
// MaxPrintReasonBytes and cleaned, never refused). An update older than the one stored is ignored, and so
// is any update of a printed job: printed is final. ErrNotFound for an unknown id.
func (db *DB) SetPrintState(ctx context.Context, id, state, reason string, at time.Time) error {
	if err := checkPrintState(state); err != nil {
		return err
	}
	if at.IsZero() {
		at = db.now()
	}
	return db.setPrintState(ctx, id, state, sanitize(reason, MaxPrintReasonBytes, false), at)
}

func (db *DB) setPrintState(ctx context.Context, id, state, reason string, at time.Time) error {
	ms := at.UnixMilli()
	res, err := db.sql.ExecContext(ctx,
		"UPDATE prints SET state = ?, reason = ?, updated_at = ? WHERE id = ? AND updated_at <= ? AND state <> ?",
		state, reason, ms, id, ms, PrintPrinted)
	if err != nil {
		return fmt.Errorf("store: set the state of print %s: %w", clip(id), err)
	}
	n, err := rowsAffected(res)
	if err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	var one int
	err = db.sql.QueryRowContext(ctx, "SELECT 1 FROM prints WHERE id = ?", id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return notFoundf("print %q is not in the history", clip(id))
	}
	if err != nil {
		return fmt.Errorf("store: read print %s: %w", clip(id), err)
	}
	db.log.Debug("print state update ignored: older than the stored one, or the job is printed", "id", id, "state", state)
	return nil
}

func scanPrint(row interface{ Scan(...any) error }) (PrintRecord, error) {
	var r PrintRecord
	var created, updated int64
	if err := row.Scan(&r.ID, &r.Source, &r.Author, &r.Text, &r.Amount, &r.Currency, &created, &r.State, &r.Reason, &updated); err != nil {
		return PrintRecord{}, err
	}
	r.CreatedAt, r.UpdatedAt = fromMS(created), fromMS(updated)
	return r, nil
}

// PrintRecord returns the record of job id, or ErrNotFound.
func (db *DB) PrintRecord(ctx context.Context, id string) (PrintRecord, error) {
	r, err := scanPrint(db.sql.QueryRowContext(ctx, "SELECT "+printColumns+" FROM prints WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return PrintRecord{}, notFoundf("print %q is not in the history", clip(id))
	}
	if err != nil {
		return PrintRecord{}, fmt.Errorf("store: read print %s: %w", clip(id), err)
	}
	return r, nil
}

// PrintHistory returns the records f selects, newest first by CreatedAt.
func (db *DB) PrintHistory(ctx context.Context, f PrintFilter) ([]PrintRecord, error) {
	where, args, err := stateFilter(f.States)
	if err != nil {
		return nil, err
	}
	if !f.Before.IsZero() {
		where = append(where, "created_at < ?")
		args = append(args, f.Before.UnixMilli())
	}
	query := "SELECT " + printColumns + " FROM prints"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY created_at DESC, id DESC LIMIT ?"
	args = append(args, min(max(f.Limit, 1), MaxPrintLimit))
	rows, err := db.sql.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: read print history: %w", err)
	}
	defer rows.Close()
	out := []PrintRecord{}
	for rows.Next() {
		r, err := scanPrint(rows)
		if err != nil {
			return nil, fmt.Errorf("store: read print history: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: read print history: %w", err)
	}
	return out, nil
}

// stateFilter returns the WHERE condition for states ("state IN (?, …)" with one placeholder per state)
// and its arguments, or nothing for no states.
func stateFilter(states []string) ([]string, []any, error) {
	if len(states) == 0 {
		return nil, nil, nil
	}
	if len(states) > maxPrintFilterState {
		return nil, nil, invalidf("%d states given; at most %d are allowed", len(states), maxPrintFilterState)
	}
	args := make([]any, len(states))
	for i, s := range states {
		if err := checkPrintState(s); err != nil {
			return nil, nil, err
		}
		args[i] = s
	}
	cond := "state IN (" + strings.TrimSuffix(strings.Repeat("?, ", len(states)), ", ") + ")"
	return []string{cond}, args, nil
}

// CountPrints counts the records by state: of the given states (each in the result, 0 when none), or
// of every state present when none are given.
func (db *DB) CountPrints(ctx context.Context, states ...string) (map[string]int, error) {
	where, args, err := stateFilter(states)
	if err != nil {
		return nil, err
	}
	query := "SELECT state, COUNT(*) FROM prints"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " GROUP BY state"
	rows, err := db.sql.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: count prints: %w", err)
	}
	defer rows.Close()
	out := make(map[string]int, len(states))
	for _, s := range states {
		out[s] = 0
	}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, fmt.Errorf("store: count prints: %w", err)
		}
		out[s] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: count prints: %w", err)
	}
	return out, nil
}

// PrunePrints deletes the records of jobs created before t and returns how many, to keep the history
// bounded.
func (db *DB) PrunePrints(ctx context.Context, before time.Time) (int64, error) {
	res, err := db.sql.ExecContext(ctx, "DELETE FROM prints WHERE created_at < ?", before.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("store: prune print history: %w", err)
	}
	return rowsAffected(res)
}
