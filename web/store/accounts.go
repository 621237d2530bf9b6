package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Role is what an account may do on the dashboard.
type Role string

// The roles.
const (
	RoleAdmin     Role = "admin"     // everything, accounts and tokens included
	RoleModerator Role = "moderator" // moderation: print queue, blocks, pausing
)

// Valid reports whether r is one of the roles.
func (r Role) Valid() bool { return r == RoleAdmin || r == RoleModerator }

// Account is a dashboard account.
type Account struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"` // 1–32 of [a-z0-9._-]
	Role      Role      `json:"role"`
	CreatedAt time.Time `json:"createdAt"`
}

// Limits of accounts.
const (
	MaxAccounts          = 100
	MaxAccountNameLen    = 32
	MaxPasswordHashBytes = 255
)

// AccountName returns name as accounts store it: 1 to 32 characters of [A-Za-z0-9._-], lower-cased.
// Anything else is ErrInvalid (before lower-casing, so that no other character, such as the Kelvin sign
// U+212A, can turn into an ASCII letter).
func AccountName(name string) (string, error) {
	if name == "" {
		return "", invalidf("account name must not be empty")
	}
	if len(name) > MaxAccountNameLen {
		return "", invalidf("account name is %d characters long; at most %d are allowed", len(name), MaxAccountNameLen)
	}
	b := []byte(name)
	for i, c := range b {
		switch {
		case c >= 'A' && c <= 'Z':
			b[i] = c + 'a' - 'A'
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
		default:
			return "", invalidf("account name %q may only have letters a-z, digits, \".\", \"_\" and \"-\"", clip(name))
		}
	}
	return string(b), nil
}

func checkRole(r Role) error {
	if !r.Valid() {
		return invalidf("role %q is not a role: use admin or moderator", clip(string(r)))
	}
	return nil
}

func checkPasswordHash(h string) error {
	return asciiToken("password hash", h, MaxPasswordHashBytes)
}

// CreateAccount adds an account with a password hash (the caller hashes; the store keeps the PHC string
// as given: 1–255 printable ASCII bytes). The name may be in any case and is stored lower case. ErrExists
// when the name is taken; ErrInvalid beyond MaxAccounts.
func (db *DB) CreateAccount(ctx context.Context, name string, role Role, passwordHash string) (Account, error) {
	name, err := AccountName(name)
	if err != nil {
		return Account{}, err
	}
	if err := checkRole(role); err != nil {
		return Account{}, err
	}
	if err := checkPasswordHash(passwordHash); err != nil {
		return Account{}, err
	}
	a := Account{Name: name, Role: role, CreatedAt: db.nowMS()}
	err = db.inTx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM accounts").Scan(&n); err != nil {
			return fmt.Errorf("store: count accounts: %w", err)
		}
		if n >= MaxAccounts {
			return invalidf("there are %d accounts already, the most allowed: delete some first", n)
		}
		res, err := tx.ExecContext(ctx, "INSERT INTO accounts (name, role, password_hash, created_at) VALUES (?, ?, ?, ?)",
			a.Name, string(a.Role), passwordHash, toMS(a.CreatedAt))
		if db.isDuplicate(err) {
			return existsf("an account named %q already exists", a.Name)
		}
		if err != nil {
			return fmt.Errorf("store: add account: %w", err)
		}
		a.ID, err = res.LastInsertId()
		if err != nil {
			return fmt.Errorf("store: add account: %w", err)
		}
		return nil
	})
	if err != nil {
		return Account{}, err
	}
	return a, nil
}

// Account returns the account named name (in any case) with its password hash. ErrNotFound when there is
// none, also for a name no account could have.
func (db *DB) Account(ctx context.Context, name string) (Account, string, error) {
	key, err := AccountName(name)
	if err != nil {
		return Account{}, "", notFoundf("there is no account named %q", clip(name))
	}
	var a Account
	var hash string
	var created int64
	err = db.sql.QueryRowContext(ctx, "SELECT id, name, role, password_hash, created_at FROM accounts WHERE name = ?", key).
		Scan(&a.ID, &a.Name, &a.Role, &hash, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return Account{}, "", notFoundf("there is no account named %q", key)
	}
	if err != nil {
		return Account{}, "", fmt.Errorf("store: read account %s: %w", key, err)
	}
	a.CreatedAt = fromMS(created)
	return a, hash, nil
}

// AccountByID returns the account with id, or ErrNotFound.
func (db *DB) AccountByID(ctx context.Context, id int64) (Account, error) {
	var a Account
	var created int64
	err := db.sql.QueryRowContext(ctx, "SELECT id, name, role, created_at FROM accounts WHERE id = ?", id).
		Scan(&a.ID, &a.Name, &a.Role, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return Account{}, notFoundf("account %d does not exist", id)
	}
	if err != nil {
		return Account{}, fmt.Errorf("store: read account %d: %w", id, err)
	}
	a.CreatedAt = fromMS(created)
	return a, nil
}

// Accounts returns every account, by name.
func (db *DB) Accounts(ctx context.Context) ([]Account, error) {
	rows, err := db.sql.QueryContext(ctx, "SELECT id, name, role, created_at FROM accounts ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("store: read accounts: %w", err)
	}
	defer rows.Close()
	out := []Account{}
	for rows.Next() {
		var a Account
		var created int64
		if err := rows.Scan(&a.ID, &a.Name, &a.Role, &created); err != nil {
			return nil, fmt.Errorf("store: read accounts: %w", err)
		}
		a.CreatedAt = fromMS(created)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: read accounts: %w", err)
	}
	return out, nil
}

// CountAccounts returns how many accounts there are (0: the dashboard offers to create the first).
func (db *DB) CountAccounts(ctx context.Context) (int, error) {
	var n int
	if err := db.sql.QueryRowContext(ctx, "SELECT COUNT(*) FROM accounts").Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count accounts: %w", err)
	}
	return n, nil
}

// SetPassword replaces the account's password hash and deletes its sessions, so that every browser
// signed in as it must sign in again. ErrNotFound when the account is gone.
func (db *DB) SetPassword(ctx context.Context, id int64, passwordHash string) error {
	if err := checkPasswordHash(passwordHash); err != nil {
		return err
	}
	return db.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE accounts SET password_hash = ? WHERE id = ?", passwordHash, id)
		if err != nil {
			return fmt.Errorf("store: set the password of account %d: %w", id, err)
		}
		if err := expectRow(res, "account %d does not exist", id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM sessions WHERE account_id = ?", id); err != nil {
			return fmt.Errorf("store: end the sessions of account %d: %w", id, err)
		}
		return nil
	})
}

// SetRole changes the account's role. ErrNotFound when the account is gone. (Keeping at least one admin
// is the caller's rule.)
func (db *DB) SetRole(ctx context.Context, id int64, role Role) error {
	if err := checkRole(role); err != nil {
		return err
	}
	res, err := db.sql.ExecContext(ctx, "UPDATE accounts SET role = ? WHERE id = ?", string(role), id)
	if err != nil {
		return fmt.Errorf("store: set the role of account %d: %w", id, err)
	}
	return expectRow(res, "account %d does not exist", id)
}

// DeleteAccount deletes the account and its sessions. ErrNotFound when it is gone.
func (db *DB) DeleteAccount(ctx context.Context, id int64) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM sessions WHERE account_id = ?", id); err != nil {
			return fmt.Errorf("store: end the sessions of account %d: %w", id, err)
		}
		res, err := tx.ExecContext(ctx, "DELETE FROM accounts WHERE id = ?", id)
		if err != nil {
			return fmt.Errorf("store: delete account %d: %w", id, err)
		}
		if err := expectRow(res, "account %d does not exist", id); err != nil {
			return err
		}
		return nil
	})
}
