package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// TokenKind says what a token opens.
type TokenKind string

// The token kinds.
const (
	TokenBridge TokenKind = "bridge" // a bridge agent connecting to /bridge
	TokenAPI    TokenKind = "api"    // a bearer token for /api/v1 and WHIP publishing
)

// Valid reports whether k is one of the kinds.
func (k TokenKind) Valid() bool { return k == TokenBridge || k == TokenAPI }

// Token is a bridge or API token. The store keeps only the token's SHA-256.
type Token struct {
	ID         int64     `json:"id"`
	Kind       TokenKind `json:"kind"`
	Name       string    `json:"name"` // 1–60 runes, one line
	Hint       string    `json:"hint"` // the token's first 4 characters, to recognise it (≤ 8 printable ASCII bytes)
	CreatedAt  time.Time `json:"createdAt"`
	CreatedBy  string    `json:"createdBy"`
	LastUsedAt time.Time `json:"lastUsedAt,omitzero"`
	RevokedAt  time.Time `json:"revokedAt,omitzero"`
}

// Limits of tokens.
const (
	// MaxActiveTokens bounds the tokens not revoked.
	MaxActiveTokens   = 200
	MaxTokenNameRunes = 60
	MaxTokenHintBytes = 8
	maxTokensListed   = 1000
	tokenColumns      = "id, kind, name, hint, created_at, created_by, last_used_at, revoked_at"
)

func scanToken(row interface{ Scan(...any) error }) (Token, error) {
	var t Token
	var created, used, revoked int64
	if err := row.Scan(&t.ID, &t.Kind, &t.Name, &t.Hint, &created, &t.CreatedBy, &used, &revoked); err != nil {
		return Token{}, err
	}
	t.CreatedAt, t.LastUsedAt, t.RevokedAt = fromMS(created), fromMS(used), fromMS(revoked)
	return t, nil
}

// CreateToken stores a new token with the SHA-256 of its secret: t.Kind, t.Name, t.Hint and t.CreatedBy
// are kept, CreatedAt is now when zero, ID, LastUsedAt and RevokedAt are ignored. ErrExists when the
// hash is taken; ErrInvalid beyond MaxActiveTokens. It returns the token as stored.
func (db *DB) CreateToken(ctx context.Context, t Token, hash []byte) (Token, error) {
	if !t.Kind.Valid() {
		return Token{}, invalidf("token kind %q is not a kind: use bridge or api", clip(string(t.Kind)))
	}
	if err := (textRule{name: "token name", min: 1, max: MaxTokenNameRunes}).check(t.Name); err != nil {
		return Token{}, err
	}
	if t.Hint != "" {
		if err := asciiToken("token hint", t.Hint, MaxTokenHintBytes); err != nil {
			return Token{}, err
		}
	}
	if err := checkActor("created by", t.CreatedBy); err != nil {
		return Token{}, err
	}
	if err := checkHash("token", hash); err != nil {
		return Token{}, err
	}
	t.ID, t.LastUsedAt, t.RevokedAt = 0, time.Time{}, time.Time{}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = db.nowMS()
	}
	t.CreatedAt = fromMS(toMS(t.CreatedAt))
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM tokens WHERE revoked_at = 0").Scan(&n); err != nil {
			return fmt.Errorf("store: count tokens: %w", err)
		}
		if n >= MaxActiveTokens {
			return invalidf("there are %d tokens in use already, the most allowed: revoke some first", n)
		}
		res, err := tx.ExecContext(ctx,
			"INSERT INTO tokens (kind, name, hint, hash, created_at, created_by, last_used_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, 0, 0)",
			string(t.Kind), t.Name, t.Hint, hash, toMS(t.CreatedAt), t.CreatedBy)
		if db.isDuplicate(err) {
			return existsf("this token exists already")
		}
		if err != nil {
			return fmt.Errorf("store: add token: %w", err)
		}
		t.ID, err = res.LastInsertId()
		if err != nil {
			return fmt.Errorf("store: add token: %w", err)
		}
		return nil
	})
	if err != nil {
		return Token{}, err
	}
	return t, nil
}

// Tokens returns the tokens, revoked ones too, newest first (at most the newest 1000).
func (db *DB) Tokens(ctx context.Context) ([]Token, error) {
	rows, err := db.sql.QueryContext(ctx, "SELECT "+tokenColumns+" FROM tokens ORDER BY created_at DESC, id DESC LIMIT ?", maxTokensListed)
	if err != nil {
		return nil, fmt.Errorf("store: read tokens: %w", err)
	}
	defer rows.Close()
	out := []Token{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("store: read tokens: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: read tokens: %w", err)
	}
	return out, nil
}

// TokenByHash returns the token of kind whose secret has SHA-256 hash. ErrNotFound when it is unknown,
// of another kind, or revoked.
func (db *DB) TokenByHash(ctx context.Context, kind TokenKind, hash []byte) (Token, error) {
	if err := checkHash("token", hash); err != nil {
		return Token{}, err
	}
	t, err := scanToken(db.sql.QueryRowContext(ctx,
		"SELECT "+tokenColumns+" FROM tokens WHERE hash = ? AND kind = ? AND revoked_at = 0", hash, string(kind)))
	if errors.Is(err, sql.ErrNoRows) {
		return Token{}, notFoundf("unknown or revoked %s token", clip(string(kind)))
	}
	if err != nil {
		return Token{}, fmt.Errorf("store: read token: %w", err)
	}
	return t, nil
}

// TouchToken records that the token was used at at (zero: now); an earlier time than the one recorded is ignored.
// ErrNotFound when the token does not exist.
func (db *DB) TouchToken(ctx context.Context, id int64, at time.Time) error {
	if at.IsZero() {
		at = db.now()
	}
	ms := at.UnixMilli()
	res, err := db.sql.ExecContext(ctx,
		"UPDATE tokens SET last_used_at = CASE WHEN last_used_at < ? THEN ? ELSE last_used_at END WHERE id = ?", ms, ms, id)
	if err != nil {
		return fmt.Errorf("store: touch token %d: %w", id, err)
	}
	return expectRow(res, "token %d does not exist", id)
}

// RevokeToken revokes the token at at (zero: now); revoking it again keeps the first time. ErrNotFound
// when the token does not exist.
func (db *DB) RevokeToken(ctx context.Context, id int64, at time.Time) error {
	if at.IsZero() {
		at = db.now()
	}
	res, err := db.sql.ExecContext(ctx,
		"UPDATE tokens SET revoked_at = CASE WHEN revoked_at = 0 THEN ? ELSE revoked_at END WHERE id = ?", at.UnixMilli(), id)
	if err != nil {
		return fmt.Errorf("store: revoke token %d: %w", id, err)
	}
	return expectRow(res, "token %d does not exist", id)
}
