package store

import (
	"context"
	"fmt"
	"time"
)

// AuditEntry is one line of the audit log: who changed what.
type AuditEntry struct {
	ID     int64     `json:"id"`
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`  // ≤ 64 bytes
	Action string    `json:"action"` // ≤ 64 bytes, such as "page.set"
	Target string    `json:"target"` // ≤ 200 bytes
	Detail string    `json:"detail"` // ≤ 2000 bytes, may have newlines
}

// Byte limits of an AuditEntry's fields: longer values are cut.
const (
	MaxAuditActorBytes  = 64
	MaxAuditActionBytes = 64
	MaxAuditTargetBytes = 200
	MaxAuditDetailBytes = 2000
	// MaxAuditLimit is the most entries AuditLog returns at once.
	MaxAuditLimit = 500
)

// Audit appends e to the audit log (At zero: now). An audit write never fails for its content: fields
// over their limit are cut at a rune boundary, and invalid UTF-8 and control characters (but newlines in
// Detail) become U+FFFD.
func (db *DB) Audit(ctx context.Context, e AuditEntry) error {
	if e.At.IsZero() {
		e.At = db.now()
	}
	_, err := db.sql.ExecContext(ctx, "INSERT INTO audit_log (created_at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)",
		e.At.UnixMilli(),
		sanitize(e.Actor, MaxAuditActorBytes, false),
		sanitize(e.Action, MaxAuditActionBytes, false),
		sanitize(e.Target, MaxAuditTargetBytes, false),
		sanitize(e.Detail, MaxAuditDetailBytes, true))
	if err != nil {
		return fmt.Errorf("store: write the audit log: %w", err)
	}
	return nil
}

// AuditLog returns up to limit entries (clamped to 1–MaxAuditLimit), newest first, starting after the
// entry beforeID (0: from the newest). To page back, pass the last ID returned.
func (db *DB) AuditLog(ctx context.Context, limit int, beforeID int64) ([]AuditEntry, error) {
	if beforeID < 0 {
		return nil, invalidf("beforeID %d is negative", beforeID)
	}
	limit = min(max(limit, 1), MaxAuditLimit)
	query := "SELECT id, created_at, actor, action, target, detail FROM audit_log ORDER BY id DESC LIMIT ?"
	args := []any{limit}
	if beforeID > 0 {
		query = "SELECT id, created_at, actor, action, target, detail FROM audit_log WHERE id < ? ORDER BY id DESC LIMIT ?"
		args = []any{beforeID, limit}
	}
	rows, err := db.sql.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: read the audit log: %w", err)
	}
	defer rows.Close()
	out := []AuditEntry{}
	for rows.Next() {
		var e AuditEntry
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.Target, &e.Detail); err != nil {
			return nil, fmt.Errorf("store: read the audit log: %w", err)
		}
		e.At = fromMS(at)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: read the audit log: %w", err)
	}
	return out, nil
}

// PruneAudit deletes the entries from before t and returns how many, to keep the log bounded.
func (db *DB) PruneAudit(ctx context.Context, before time.Time) (int64, error) {
	res, err := db.sql.ExecContext(ctx, "DELETE FROM audit_log WHERE created_at < ?", before.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("store: prune the audit log: %w", err)
	}
	return rowsAffected(res)
}
