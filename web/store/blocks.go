package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Block is a viewer the moderators blocked, by display name or by address.
type Block struct {
	Kind   string    `json:"kind"`  // BlockName or BlockIP
	Value  string    `json:"value"` // as stored: see BlockValue
	Reason string    `json:"reason,omitempty"`
	By     string    `json:"by"`
	At     time.Time `json:"at"`
}

// Block kinds.
const (
	BlockName = "name" // a display name, compared ignoring case
	BlockIP   = "ip"   // an IPv4 or IPv6 address
)

// Limits of blocks.
const (
	MaxBlocks           = 10000
	MaxBlockNameRunes   = 32
	MaxBlockReasonRunes = 200
)

// BlockValue returns value as a block of kind stores and compares it: a name (1–32 runes, one line, no
// space at either end) lower-cased with strings.ToLower; an address (IPv4 or IPv6, no zone) in net/netip's
// canonical form, an IPv4-mapped IPv6 address as IPv4. Use it to look a viewer up in Blocks.
func BlockValue(kind, value string) (string, error) {
	switch kind {
	case BlockName:
		if err := (textRule{name: "blocked name", min: 1, max: MaxBlockNameRunes, trimmed: true}).check(value); err != nil {
			return "", err
		}
		return strings.ToLower(value), nil
	case BlockIP:
		a, err := netip.ParseAddr(value)
		if err != nil || a.Zone() != "" {
			return "", invalidf("%q is not an IP address", clip(value))
		}
		return a.Unmap().String(), nil
	default:
		return "", invalidf("block kind %q is not a kind: use name or ip", clip(kind))
	}
}

// Blocks returns every block, newest first.
func (db *DB) Blocks(ctx context.Context) ([]Block, error) {
	rows, err := db.sql.QueryContext(ctx, "SELECT kind, value, reason, blocked_by, created_at FROM blocks ORDER BY created_at DESC, kind, value")
	if err != nil {
		return nil, fmt.Errorf("store: read blocks: %w", err)
	}
	defer rows.Close()
	out := []Block{}
	for rows.Next() {
		var b Block
		var at int64
		if err := rows.Scan(&b.Kind, &b.Value, &b.Reason, &b.By, &at); err != nil {
			return nil, fmt.Errorf("store: read blocks: %w", err)
		}
		b.At = fromMS(at)
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: read blocks: %w", err)
	}
	return out, nil
}

// AddBlock blocks b.Value of b.Kind (stored as BlockValue returns it), with a reason (≤ 200 runes, one
// line), by b.By, at b.At (zero: now). Blocking what is blocked already changes nothing and is not an
// error. ErrInvalid beyond MaxBlocks.
func (db *DB) AddBlock(ctx context.Context, b Block) error {
	value, err := BlockValue(b.Kind, b.Value)
	if err != nil {
		return err
	}
	if err := (textRule{name: "block reason", max: MaxBlockReasonRunes}).check(b.Reason); err != nil {
		return err
	}
	if err := checkActor("blocked by", b.By); err != nil {
		return err
	}
	if b.At.IsZero() {
		b.At = db.now()
	}
	return db.inTx(ctx, func(tx *sql.Tx) error {
		var n int
		err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM blocks WHERE kind = ? AND value = ?", b.Kind, value).Scan(&n)
		if err != nil {
			return fmt.Errorf("store: read blocks: %w", err)
		}
		if n > 0 {
			return nil // blocked already
		}
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM blocks").Scan(&n); err != nil {
			return fmt.Errorf("store: count blocks: %w", err)
		}
		if n >= MaxBlocks {
			return invalidf("there are %d blocks already, the most allowed: remove some first", n)
		}
		_, err = tx.ExecContext(ctx, "INSERT INTO blocks (kind, value, reason, blocked_by, created_at) VALUES (?, ?, ?, ?, ?)",
			b.Kind, value, b.Reason, b.By, b.At.UnixMilli())
		if db.isDuplicate(err) {
			return nil // blocked meanwhile by another hub
		}
		if err != nil {
			return fmt.Errorf("store: add block: %w", err)
		}
		return nil
	})
}

// RemoveBlock lifts the block of value (in any form BlockValue accepts) of kind. ErrNotFound when there
// is none.
func (db *DB) RemoveBlock(ctx context.Context, kind, value string) error {
	v, err := BlockValue(kind, value)
	if err != nil {
		return err
	}
	res, err := db.sql.ExecContext(ctx, "DELETE FROM blocks WHERE kind = ? AND value = ?", kind, v)
	if err != nil {
		return fmt.Errorf("store: remove block: %w", err)
	}
	return expectRow(res, "%s %q is not blocked", kind, v)
}
