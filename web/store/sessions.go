package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Session is a signed-in dashboard browser. Its cookie holds a random id; the store keeps only the id's
// SHA-256 (Hash, 32 bytes), so a leaked database signs nobody in.
type Session struct {
	Hash      []byte
	AccountID int64
	CSRF      string // the session's CSRF token: 1–128 printable ASCII bytes
	CreatedAt time.Time
	ExpiresAt time.Time
}

// MaxCSRFBytes bounds a session's CSRF token.
const MaxCSRFBytes = 128

func checkHash(what string, h []byte) error {
	if len(h) != sha256.Size {
		return invalidf("%s hash must be a SHA-256 (%d bytes), not %d bytes", what, sha256.Size, len(h))
	}
	return nil
}

// CreateSession stores s (CreatedAt zero: now). ExpiresAt must come after CreatedAt. ErrNotFound when the
// account does not exist; ErrExists when the hash is taken.
func (db *DB) CreateSession(ctx context.Context, s Session) error {
	if err := checkHash("session", s.Hash); err != nil {
		return err
	}
	if err := asciiToken("CSRF token", s.CSRF, MaxCSRFBytes); err != nil {
		return err
	}
	if s.CreatedAt.IsZero() {
		s.CreatedAt = db.nowMS()
	}
	if !s.ExpiresAt.After(s.CreatedAt) {
		return invalidf("a session must expire after it is created")
	}
	_, err := db.sql.ExecContext(ctx,
		"INSERT INTO sessions (hash, account_id, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
		s.Hash, s.AccountID, s.CSRF, toMS(s.CreatedAt), toMS(s.ExpiresAt))
	switch {
	case db.isMissingParent(err):
		return notFoundf("account %d does not exist", s.AccountID)
	case db.isDuplicate(err):
		return existsf("a session with this id exists already")
	case err != nil:
		return fmt.Errorf("store: add session: %w", err)
	}
	return nil
}

// Session returns the session with hash and its account, if it expires after now. ErrNotFound when it
// is unknown or expired.
func (db *DB) Session(ctx context.Context, hash []byte, now time.Time) (Session, Account, error) {
	if err := checkHash("session", hash); err != nil {
		return Session{}, Account{}, err
	}
	var s Session
	var a Account
	var created, expires, accountCreated int64
	err := db.sql.QueryRowContext(ctx, `SELECT s.hash, s.account_id, s.csrf, s.created_at, s.expires_at, a.id, a.name, a.role, a.created_at
		FROM sessions s JOIN accounts a ON a.id = s.account_id
		WHERE s.hash = ? AND s.expires_at > ?`, hash, now.UnixMilli()).
		Scan(&s.Hash, &s.AccountID, &s.CSRF, &created, &expires, &a.ID, &a.Name, &a.Role, &accountCreated)
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, Account{}, notFoundf("no such session, or it has expired: sign in again")
	}
	if err != nil {
		return Session{}, Account{}, fmt.Errorf("store: read session: %w", err)
	}
	s.CreatedAt, s.ExpiresAt, a.CreatedAt = fromMS(created), fromMS(expires), fromMS(accountCreated)
	return s, a, nil
}

// DeleteSession deletes the session with hash (signing out). Deleting a session that does not exist is
// not an error.
func (db *DB) DeleteSession(ctx context.Context, hash []byte) error {
	if err := checkHash("session", hash); err != nil {
		return err
	}
	if _, err := db.sql.ExecContext(ctx, "DELETE FROM sessions WHERE hash = ?", hash); err != nil {
		return fmt.Errorf("store: delete session: %w", err)
	}
	return nil
}

// DeleteExpiredSessions deletes the sessions that expired at or before now and returns how many.
func (db *DB) DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error) {
	res, err := db.sql.ExecContext(ctx, "DELETE FROM sessions WHERE expires_at <= ?", now.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("store: delete expired sessions: %w", err)
	}
	return rowsAffected(res)
}
