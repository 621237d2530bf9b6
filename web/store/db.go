package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Config selects the database.
type Config struct {
	MySQL string // go-sql-driver DSN (user:pass@tcp(host:3306)/db); empty selects SQLite at Path
	Path  string // SQLite file, for example data/content.db (directories are created)
}

// Validate checks the configuration without connecting; its messages say how to fix it.
func (c Config) Validate() error {
	if c.MySQL != "" {
		cfg, err := mysql.ParseDSN(c.MySQL)
		if err != nil {
			return fmt.Errorf("store: -mysql is not a valid DSN (want user:password@tcp(host:3306)/database): %v", redactDSNError(err, c.MySQL))
		}
		if cfg.DBName == "" {
			return errors.New("store: -mysql names no database: end the DSN with /<database>, as in user:password@tcp(host:3306)/stagelink")
		}
		if cfg.MultiStatements {
			return errors.New("store: -mysql sets multiStatements=true: remove it (the store never needs it, and it makes SQL injection worse)")
		}
		return nil
	}
	if c.Path == "" {
		return errors.New("store: no database: give -mysql a DSN, or a data directory for the embedded SQLite file")
	}
	if strings.ContainsRune(c.Path, 0) {
		return errors.New("store: the SQLite path has a NUL byte")
	}
	return nil
}

// redactDSNError keeps a DSN's password out of a parse error (the driver does not quote the DSN today,
// but an error message is no place to trust for that).
func redactDSNError(err error, dsn string) string {
	msg := err.Error()
	if at := strings.LastIndex(dsn, "@"); at > 0 {
		if colon := strings.Index(dsn[:at], ":"); colon >= 0 && colon+1 < at {
			msg = strings.ReplaceAll(msg, dsn[colon+1:at], "xxxxx")
		}
	}
	return msg
}

// LogValue implements slog.LogValuer: the DSN is logged with its password replaced by "xxxxx".
func (c Config) LogValue() slog.Value {
	if c.MySQL == "" {
		return slog.GroupValue(slog.String("kind", kindSQLite), slog.String("path", c.Path))
	}
	cfg, err := mysql.ParseDSN(c.MySQL)
	if err != nil {
		return slog.GroupValue(slog.String("kind", kindMySQL), slog.String("dsn", "(unparsable DSN)"))
	}
	if cfg.Passwd != "" {
		cfg.Passwd = "xxxxx"
	}
	return slog.GroupValue(slog.String("kind", kindMySQL), slog.String("dsn", cfg.FormatDSN()))
}

const (
	kindMySQL  = "mysql"
	kindSQLite = "sqlite"
)

// Pool settings. MariaDB closes connections idle for wait_timeout (8 hours by default, often less behind
// proxies and in managed databases): recycling them well before keeps database/sql from handing out a
// dead one. SQLite writers queue for the file lock for up to sqliteBusyTimeout.
const (
	mysqlMaxOpen      = 20
	mysqlMaxIdle      = 5
	mysqlMaxLifetime  = 3 * time.Minute
	mysqlMaxIdleTime  = time.Minute
	mysqlDialTimeout  = 10 * time.Second
	sqliteMaxOpen     = 8
	sqliteBusyTimeout = 10 * time.Second
)

// DB is the content store. It is safe for concurrent use.
type DB struct {
	sql  *sql.DB
	kind string
	log  *slog.Logger
	now  func() time.Time
}

// Open connects to the database cfg selects, applies the migrations this hub has and the database lacks
// (under a lock, so hubs starting at once apply each exactly once), and returns when the schema is
// current. A database migrated by a newer hub is refused with ErrSchemaNewer. log may be nil.
func Open(ctx context.Context, cfg Config, log *slog.Logger) (*DB, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	db := &DB{log: log.With("component", "store"), now: time.Now}
	var err error
	if cfg.MySQL != "" {
		db.kind = kindMySQL
		db.sql, err = openMySQL(cfg.MySQL)
	} else {
		db.kind = kindSQLite
		db.sql, err = openSQLite(cfg.Path)
	}
	if err != nil {
		return nil, err
	}
	if err := db.sql.PingContext(ctx); err != nil {
		db.sql.Close()
		return nil, fmt.Errorf("store: connect to %s: %w", db.kind, err)
	}
	if err := db.migrate(ctx); err != nil {
		db.sql.Close()
		return nil, err
	}
	return db, nil
}

// openMySQL returns a pool for dsn. Whatever the DSN says, connections use utf8mb4 with the binary
// collation (so MySQL compares text as SQLite does), report matched rather than changed rows (so an
// UPDATE that changes nothing still finds its row), and run in strict mode unless the DSN sets sql_mode.
func openMySQL(dsn string) (*sql.DB, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("store: -mysql: %s", redactDSNError(err, dsn))
	}
	if err := cfg.Apply(mysql.Charset("utf8mb4", "utf8mb4_bin")); err != nil {
		return nil, fmt.Errorf("store: -mysql: %w", err)
	}
	cfg.ClientFoundRows = true
	if cfg.Timeout == 0 {
		cfg.Timeout = mysqlDialTimeout
	}
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	if _, ok := cfg.Params["sql_mode"]; !ok {
		cfg.Params["sql_mode"] = "'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'"
	}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("store: -mysql: %w", err)
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(mysqlMaxOpen)
	db.SetMaxIdleConns(mysqlMaxIdle)
	db.SetConnMaxLifetime(mysqlMaxLifetime)
	db.SetConnMaxIdleTime(mysqlMaxIdleTime)
	return db, nil
}

// openSQLite returns a pool for the SQLite file at path, creating its directory and the file (readable by
// its owner only: it holds password hashes). Every connection waits up to sqliteBusyTimeout for the write
// lock, runs in WAL mode with foreign keys on, and begins transactions with BEGIN IMMEDIATE, so writers
// (other hubs' migrations included) queue instead of failing with SQLITE_BUSY halfway through.
func openSQLite(path string) (*sql.DB, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("store: sqlite path %q: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o750); err != nil {
		return nil, fmt.Errorf("store: create the directory of the database: %w", err)
	}
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: open the database file: %w", err)
	}
	f.Close()
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", sqliteBusyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Set("_txlock", "immediate")
	u := url.URL{Scheme: "file", Path: abs, RawQuery: q.Encode()}
	db := sql.OpenDB(sqliteConnector{dsn: u.String()})
	db.SetMaxOpenConns(sqliteMaxOpen)
	db.SetMaxIdleConns(sqliteMaxOpen)
	return db, nil
}

// sqliteConnector opens modernc.org/sqlite connections without going through database/sql's driver
// registry.
type sqliteConnector struct{ dsn string }

func (c sqliteConnector) Connect(context.Context) (driver.Conn, error) {
	return (&sqlite.Driver{}).Open(c.dsn)
}

func (c sqliteConnector) Driver() driver.Driver { return &sqlite.Driver{} }

// Close closes the pool.
func (db *DB) Close() error { return db.sql.Close() }

// Kind returns "mysql" or "sqlite".
func (db *DB) Kind() string { return db.kind }

// Check reports whether the database answers: for /readyz. It pings and reads the schema version.
func (db *DB) Check(ctx context.Context) error {
	if err := db.sql.PingContext(ctx); err != nil {
		return fmt.Errorf("store: %s: ping: %w", db.kind, err)
	}
	var v sql.NullInt64
	if err := db.sql.QueryRowContext(ctx, "SELECT MAX(version) FROM schema_migrations").Scan(&v); err != nil {
		return fmt.Errorf("store: %s: read the schema version: %w", db.kind, err)
	}
	return nil
}

// inTx runs fn in a transaction and commits when fn returns nil. On MySQL a transaction chosen as a
// deadlock victim is run again (up to three times in all).
func (db *DB) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := db.tryTx(ctx, fn)
		if err == nil || attempt == 3 || !db.isDeadlock(err) {
			return err
		}
	}
}

func (db *DB) tryTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// MySQL error numbers (https://mariadb.com/kb/en/mariadb-error-code-reference/) and SQLite extended result
// codes (https://www.sqlite.org/rescode.html) the store acts on.
const (
	mysqlTableExists = 1050
	mysqlDupColumn   = 1060
	mysqlDupKeyName  = 1061
	mysqlDupEntry    = 1062
	mysqlDeadlock    = 1213
	mysqlNoParentRow = 1452
	sqliteUnique     = sqlite3.SQLITE_CONSTRAINT_UNIQUE
	sqlitePrimaryKey = sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	sqliteForeignKey = sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
)

func mysqlErrno(err error) uint16 {
	if e, ok := errors.AsType[*mysql.MySQLError](err); ok {
		return e.Number
	}
	return 0
}

func sqliteCode(err error) int {
	if e, ok := errors.AsType[*sqlite.Error](err); ok {
		return e.Code()
	}
	return 0
}

// isDuplicate reports whether err is a unique or primary key violation.
func (db *DB) isDuplicate(err error) bool {
	if db.kind == kindMySQL {
		return mysqlErrno(err) == mysqlDupEntry
	}
	c := sqliteCode(err)
	return c == sqliteUnique || c == sqlitePrimaryKey
}

// isMissingParent reports whether err is a foreign key violation: the referenced row does not exist.
func (db *DB) isMissingParent(err error) bool {
	if db.kind == kindMySQL {
		return mysqlErrno(err) == mysqlNoParentRow
	}
	return sqliteCode(err) == sqliteForeignKey
}

func (db *DB) isDeadlock(err error) bool {
	return db.kind == kindMySQL && mysqlErrno(err) == mysqlDeadlock
}

// toMS stores a time as Unix milliseconds; the zero time is 0.
func toMS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// fromMS reads a time stored by toMS, in UTC.
func fromMS(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// nowMS returns the current time as stored: truncated to the millisecond, in UTC.
func (db *DB) nowMS() time.Time { return fromMS(db.now().UnixMilli()) }

// rowsAffected returns how many rows res matched (MySQL connections report matched rows, see openMySQL).
func rowsAffected(res sql.Result) (int64, error) {
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("store: rows affected: %w", err)
	}
	return n, nil
}

// expectRow returns ErrNotFound with the message when res matched no row.
func expectRow(res sql.Result, format string, args ...any) error {
	n, err := rowsAffected(res)
	if err != nil {
		return err
	}
	if n == 0 {
		return notFoundf(format, args...)
	}
	return nil
}

// shortHash names a thing after the SHA-256 of s, for identifiers with a length limit.
func shortHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:8])
}
