package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// testMySQLEnv names the variable holding the MySQL/MariaDB DSN the tests create their databases on.
const testMySQLEnv = "STAGELINK_TEST_MYSQL"

// forEachDB runs fn on a fresh SQLite database and, when STAGELINK_TEST_MYSQL is set, on a fresh MySQL
// database, as the subtests "sqlite" and "mysql".
func forEachDB(t *testing.T, fn func(t *testing.T, db *DB)) {
	t.Helper()
	forEachConfig(t, func(t *testing.T, cfg Config) {
		fn(t, openTest(t, cfg, testLogger(t)))
	})
}

// forEachConfig is forEachDB for tests that open the database themselves.
func forEachConfig(t *testing.T, fn func(t *testing.T, cfg Config)) {
	t.Helper()
	for _, kind := range []string{kindSQLite, kindMySQL} {
		t.Run(kind, func(t *testing.T) {
			fn(t, freshConfig(t, kind))
		})
	}
}

// freshConfig returns the configuration of an empty database of kind, removed when the test ends: an
// SQLite file in t.TempDir(), or a database stagelink_test_<random> created on the server
// STAGELINK_TEST_MYSQL names (never a shared one: other tests use that server at the same time).
func freshConfig(t *testing.T, kind string) Config {
	t.Helper()
	if kind == kindSQLite {
		return Config{Path: filepath.Join(t.TempDir(), "data", "content.db")}
	}
	dsn := os.Getenv(testMySQLEnv)
	if dsn == "" {
		t.Skipf("%s not set: set it to a MySQL or MariaDB DSN such as root@tcp(127.0.0.1:3306)/test to run the store's tests on MySQL too", testMySQLEnv)
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("%s: %v", testMySQLEnv, err)
	}
	admin := openAdmin(t, cfg)
	name := "stagelink_test_" + randomHex(t, 8)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The name is made here of hex digits: identifiers cannot be query parameters.
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	cfg.DBName = name
	return Config{MySQL: cfg.FormatDSN()}
}

// openAdmin connects to the server of cfg without a database, closed when the test ends.
func openAdmin(t *testing.T, cfg *mysql.Config) *sql.DB {
	t.Helper()
	c := cfg.Clone()
	c.DBName = ""
	conn, err := mysql.NewConnector(c)
	if err != nil {
		t.Fatalf("%s: %v", testMySQLEnv, err)
	}
	db := sql.OpenDB(conn)
	t.Cleanup(func() { db.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		t.Fatalf("%s: cannot reach the server: %v", testMySQLEnv, err)
	}
	return db
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// openTest opens cfg, closed when the test ends.
func openTest(t testing.TB, cfg Config, log *slog.Logger) *DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	db, err := Open(ctx, cfg, log)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// testLogger logs warnings and errors to the test's output.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// logBuffer collects log lines from many goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// count returns how many log lines contain s.
func (b *logBuffer) count(s string) int {
	n := 0
	for line := range strings.Lines(b.String()) {
		if strings.Contains(line, s) {
			n++
		}
	}
	return n
}

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// fixedClock sets db's clock to a fixed time and returns it.
func fixedClock(db *DB, at time.Time) time.Time {
	db.now = func() time.Time { return at }
	return at.Truncate(time.Millisecond).UTC()
}

// testTime returns an arbitrary instant with a millisecond part, in a zone other than UTC.
func testTime() time.Time {
	return time.Date(2025, 3, 14, 15, 9, 26, 535_897_932, time.FixedZone("CET", 3600))
}

// ctxT returns a context for one test step.
func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// countRows returns how many rows table has; table is a constant of the test.
func countRows(t *testing.T, db *DB, table string) int {
	t.Helper()
	var n int
	if err := db.sql.QueryRowContext(ctxT(t), "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// injections returns hostile strings that must be stored and shown as the text they are.
func injections() []string {
	return []string{
		`'; DROP TABLE accounts; --`,
		`" OR "1"="1`,
		`<script>alert(1)</script>`,
		`<img src=x onerror=alert(1)>`,
		`Robert'); DROP TABLE presets;--`,
		`\'; SELECT SLEEP(5); --`,
		"% _ \\% \\_",
		"{{AUTO_ID}}",
	}
}

// wantErrIs fails the test unless errors.Is(err, target).
func wantErrIs(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("got error %v, want one that is %v", err, target)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
