package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Migrations live in migrations/NNNN_name.sql, numbered from 0001 without gaps, one set for both
// databases. A file holds SQL statements, each ending with ";" at the end of a line; lines starting
// with "--" are comments. Where MySQL and SQLite spell something differently the file says it with a
// placeholder, replaced per database:
//
//	{{AUTO_ID}}        an auto-increment BIGINT primary key column type
//	                   (MySQL: BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY; SQLite: INTEGER PRIMARY KEY
//	                   AUTOINCREMENT, so ids of deleted rows are never reused, as on MySQL)
//	{{TABLE_OPTIONS}}  after a CREATE TABLE's closing parenthesis
//	                   (MySQL: ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin; SQLite: nothing)
//
// Anything else both understand is written as it is: VARCHAR(n) (n characters on MySQL, a plain TEXT
// column on SQLite), TEXT and MEDIUMTEXT, BIGINT and INT, VARBINARY(n) (SQLite stores the bytes as a
// BLOB), CREATE [UNIQUE] INDEX, FOREIGN KEY … ON DELETE CASCADE. Times are BIGINT Unix milliseconds.
//
// Each applied migration is recorded in schema_migrations(version, applied_at). Open applies the
// missing ones in order while holding a lock, so hubs that start at once apply each exactly once:
//
//   - SQLite: one BEGIN IMMEDIATE transaction covers reading the versions, every pending migration and
//     recording them. Other openers wait for the write lock (busy_timeout), and a hub that dies midway
//     leaves nothing behind: SQLite rolls the transaction back.
//   - MySQL: GET_LOCK on one dedicated connection (named after the database, so hubs of other databases
//     on the same server do not wait) is held while reading the versions and applying. MySQL commits
//     every DDL statement on its own, so a migration is applied statement by statement and recorded
//     after its last one. A hub that dies midway leaves the statements it ran, unrecorded, and its
//     connection's death releases the lock; the next start runs that migration again from its first
//     statement and treats "table exists", "duplicate column" and "duplicate key name" as already done
//     (logged as a warning). Migrations must therefore only add things whose re-creation fails with one
//     of those errors, or be safe to run twice.
//
// A database holding a version this hub does not know was migrated by a newer hub: Open refuses it with
// ErrSchemaNewer instead of writing to a schema it does not understand (an old hub left running during
// a rolling upgrade stops at its next start instead of corrupting content). Upgrade the hub.

//go:embed migrations/*.sql
var migrationFiles embed.FS

const (
	migrationDir = "migrations"
	// migrateLockWait is how long a hub waits for another hub's migration (MySQL: GET_LOCK's timeout;
	// SQLite waits its busy timeout).
	migrateLockWait = 60 * time.Second
	// migrateLockPrefix names the MySQL lock; MySQL lock names are at most 64 characters.
	migrateLockPrefix = "stagelink_migrate:"
	maxLockName       = 64
)

// migration is one versioned file, its statements not yet rendered for a database.
type migration struct {
	version    int
	name       string // the file name
	statements []string
}

// migrationVersion returns the version of a migration file named NNNN_name.sql (name of [a-z0-9_]),
// or 0 when the file is not named so.
func migrationVersion(file string) int {
	base, ok := strings.CutSuffix(file, ".sql")
	if !ok || len(base) < 6 || base[4] != '_' {
		return 0
	}
	for i := 0; i < len(base); i++ {
		c := base[i]
		switch {
		case i < 4 && c >= '0' && c <= '9', i == 4:
		case i > 4 && (c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_'):
		default:
			return 0
		}
	}
	v, _ := strconv.Atoi(base[:4])
	return v
}

// loadMigrations reads and checks the migration files in dir of fsys: versions 1…n without gaps, each
// with at least one statement.
func loadMigrations(fsys fs.FS, dir string) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("store: read migrations: %w", err)
	}
	var ms []migration
	for _, e := range entries {
		v := migrationVersion(e.Name())
		if v == 0 || e.IsDir() {
			return nil, fmt.Errorf("store: migration file %q is not named NNNN_name.sql", e.Name())
		}
		if v != len(ms)+1 {
			return nil, fmt.Errorf("store: migration %s: want version %d next (versions start at 1 and have no gaps)", e.Name(), len(ms)+1)
		}
		text, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("store: read migration %s: %w", e.Name(), err)
		}
		stmts, err := splitStatements(string(text))
		if err != nil {
			return nil, fmt.Errorf("store: migration %s: %w", e.Name(), err)
		}
		ms = append(ms, migration{version: v, name: e.Name(), statements: stmts})
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("store: no migrations in %s", dir)
	}
	return ms, nil
}

// splitStatements splits a migration file into its statements.
func splitStatements(text string) ([]string, error) {
	var stmts []string
	var cur []string
	for line := range strings.Lines(text) {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "--") {
			continue
		}
		cur = append(cur, strings.TrimRight(line, "\r\n"))
		if strings.HasSuffix(t, ";") {
			s := strings.TrimSpace(strings.Join(cur, "\n"))
			stmts = append(stmts, strings.TrimSpace(strings.TrimSuffix(s, ";")))
			cur = nil
		}
	}
	if len(cur) > 0 {
		return nil, fmt.Errorf("the last statement does not end with \";\"")
	}
	if len(stmts) == 0 {
		return nil, fmt.Errorf("no statements")
	}
	return stmts, nil
}

// render replaces the placeholders in stmt with kind's spelling; an unknown placeholder is an error.
func render(stmt, kind string) (string, error) {
	mysql := kind == kindMySQL
	r := strings.NewReplacer(
		"{{AUTO_ID}}", pick(mysql, "BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY", "INTEGER PRIMARY KEY AUTOINCREMENT"),
		"{{TABLE_OPTIONS}}", pick(mysql, " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin", ""),
	)
	out := r.Replace(stmt)
	if i := strings.Index(out, "{{"); i >= 0 {
		end := min(len(out), i+40)
		return "", fmt.Errorf("unknown placeholder at %q", out[i:end])
	}
	return out, nil
}

func pick(cond bool, a, b string) string {
	if cond {
		return a
	}
	return b
}

// migrationsTable is created before anything else, outside the numbered migrations.
const migrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version INT NOT NULL PRIMARY KEY,
  applied_at BIGINT NOT NULL
){{TABLE_OPTIONS}}`

// querier is what migrations run on: a MySQL connection holding the lock, or an SQLite transaction.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// migrate brings the schema up to date under the database's lock.
func (db *DB) migrate(ctx context.Context) error {
	ms, err := loadMigrations(migrationFiles, migrationDir)
	if err != nil {
		return err
	}
	return db.migrateSet(ctx, ms)
}

// migrateSet brings the schema up to date with ms under the database's lock.
func (db *DB) migrateSet(ctx context.Context, ms []migration) error {
	if db.kind == kindMySQL {
		return db.migrateMySQL(ctx, ms)
	}
	return db.inTx(ctx, func(tx *sql.Tx) error { return db.applyMigrations(ctx, tx, ms) })
}

// migrateMySQL applies ms while holding a named lock on one connection.
func (db *DB) migrateMySQL(ctx context.Context, ms []migration) (err error) {
	conn, err := db.sql.Conn(ctx)
	if err != nil {
		return fmt.Errorf("store: migrate: connect: %w", err)
	}
	defer conn.Close()
	var dbName string
	if err := conn.QueryRowContext(ctx, "SELECT DATABASE()").Scan(&dbName); err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	lock := migrateLockName(dbName)
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, ?)", lock, int(migrateLockWait.Seconds())).Scan(&got); err != nil {
		return fmt.Errorf("store: migrate: take the lock %s: %w", lock, err)
	}
	if !got.Valid || got.Int64 != 1 {
		return fmt.Errorf("store: migrate: another hub has held the lock %s for %v: is it stuck migrating? (it is released when its connection closes)", lock, migrateLockWait)
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		var released sql.NullInt64
		if rerr := conn.QueryRowContext(rctx, "SELECT RELEASE_LOCK(?)", lock).Scan(&released); rerr != nil || released.Int64 != 1 {
			// The lock lives as long as the session: drop the connection rather than pool it.
			db.log.Warn("could not release the migration lock; closing its connection", "lock", lock, "err", rerr)
			conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}()
	return db.applyMigrations(ctx, conn, ms)
}

// migrateLockName returns the MySQL lock name for database dbName, at most 64 characters.
func migrateLockName(dbName string) string {
	if name := migrateLockPrefix + dbName; len(name) <= maxLockName {
		return name
	}
	return migrateLockPrefix + shortHash(dbName)
}

// applyMigrations records and applies the migrations of ms that q's database lacks. The caller holds
// the migration lock.
func (db *DB) applyMigrations(ctx context.Context, q querier, ms []migration) error {
	create, err := render(migrationsTable, db.kind)
	if err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	if _, err := q.ExecContext(ctx, create); err != nil {
		return fmt.Errorf("store: migrate: create schema_migrations: %w", err)
	}
	applied, err := appliedVersions(ctx, q)
	if err != nil {
		return err
	}
	latest := ms[len(ms)-1].version
	if newest := slices.Max(append(applied, 0)); newest > latest {
		return fmt.Errorf("store: %w: the database has schema version %d, this hub knows up to %d: upgrade the hub (it will not write to a schema it does not know)", ErrSchemaNewer, newest, latest)
	}
	for _, m := range ms {
		if slices.Contains(applied, m.version) {
			continue
		}
		start := time.Now()
		for i, s := range m.statements {
			stmt, err := render(s, db.kind)
			if err != nil {
				return fmt.Errorf("store: migration %s, statement %d: %w", m.name, i+1, err)
			}
			if _, err := q.ExecContext(ctx, stmt); err != nil {
				if db.kind == kindMySQL && alreadyDone(err) {
					db.log.Warn("migration statement had already run (did a hub stop in the middle of this migration?)",
						"migration", m.name, "statement", i+1, "err", err)
					continue
				}
				return fmt.Errorf("store: migration %s, statement %d: %w", m.name, i+1, err)
			}
		}
		if _, err := q.ExecContext(ctx, "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)", m.version, db.now().UnixMilli()); err != nil {
			return fmt.Errorf("store: record migration %s: %w", m.name, err)
		}
		db.log.Info("applied migration", "migration", m.name, "version", m.version, "took", time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// alreadyDone reports whether a MySQL DDL error says the statement's work is already there.
func alreadyDone(err error) bool {
	switch mysqlErrno(err) {
	case mysqlTableExists, mysqlDupColumn, mysqlDupKeyName:
		return true
	}
	return false
}

// appliedVersions lists the versions recorded in schema_migrations.
func appliedVersions(ctx context.Context, q querier) ([]int, error) {
	rows, err := q.QueryContext(ctx, "SELECT version FROM schema_migrations ORDER BY version")
	if err != nil {
		return nil, fmt.Errorf("store: read schema_migrations: %w", err)
	}
	defer rows.Close()
	var vs []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("store: read schema_migrations: %w", err)
		}
		vs = append(vs, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: read schema_migrations: %w", err)
	}
	return vs, nil
}

// SchemaVersion returns the newest migration applied to the database.
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v sql.NullInt64
	if err := db.sql.QueryRowContext(ctx, "SELECT MAX(version) FROM schema_migrations").Scan(&v); err != nil {
		return 0, fmt.Errorf("store: read the schema version: %w", err)
	}
	return int(v.Int64), nil
}
