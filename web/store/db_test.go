package store

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string // "" for valid
	}{
		{"sqlite", Config{Path: "data/content.db"}, ""},
		{"mysql", Config{MySQL: "user:pw@tcp(db:3306)/stagelink"}, ""},
		{"mysql wins over path", Config{MySQL: "user:pw@tcp(db:3306)/stagelink", Path: "data/content.db"}, ""},
		{"nothing", Config{}, "no database"},
		{"no database name", Config{MySQL: "user:pw@tcp(db:3306)/"}, "names no database"},
		{"not a DSN", Config{MySQL: "mysql://user:pw@db/stagelink"}, "not a valid DSN"},
		{"multi statements", Config{MySQL: "user:pw@tcp(db:3306)/stagelink?multiStatements=true"}, "multiStatements"},
		{"NUL in path", Config{Path: "data/\x00.db"}, "NUL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("got %v, want nil", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestConfigLogValueRedactsPassword(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string
	}{
		{"mysql", Config{MySQL: "hub:s3cret-pw@tcp(db.example:3306)/stagelink?timeout=5s"}, []string{"kind=mysql", "hub:xxxxx@tcp(db.example:3306)/stagelink"}},
		{"unparsable", Config{MySQL: "hub:s3cret-pw@db.example/stagelink"}, []string{"kind=mysql", "unparsable"}},
		{"sqlite", Config{Path: "data/content.db"}, []string{"kind=sqlite", "path=data/content.db"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			slog.New(slog.NewTextHandler(&buf, nil)).Info("open", "store", tc.cfg)
			got := buf.String()
			if strings.Contains(got, "s3cret") {
				t.Errorf("the log shows the password: %s", got)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("got %s, want it to contain %q", got, w)
				}
			}
		})
	}
	if err := (Config{MySQL: "hub:s3cret-pw@db.example/stagelink"}).Validate(); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("Validate: got %v, want an error without the password", err)
	}
}

func TestOpenSQLiteCreatesPrivateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "content.db")
	db := openTest(t, Config{Path: path}, testLogger(t))
	if got := db.Kind(); got != "sqlite" {
		t.Errorf("Kind: got %q, want sqlite", got)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got&0o077 != 0 {
		t.Errorf("the database file has mode %v, want no access for group and others", got)
	}
	var mode string
	if err := db.sql.QueryRowContext(ctxT(t), "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode: got %q, %v, want wal", mode, err)
	}
	var fk int
	if err := db.sql.QueryRowContext(ctxT(t), "PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
		t.Errorf("foreign_keys: got %d, %v, want 1", fk, err)
	}
}

func TestOpenSQLiteOddPath(t *testing.T) {
	// "?" and "#" end a path in a URI and "%" starts an escape: the path must survive as a file name.
	dir := filepath.Join(t.TempDir(), "odd ?#% dir")
	path := filepath.Join(dir, "content?.db")
	openTest(t, Config{Path: path}, testLogger(t))
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the database is not at %q: %v", path, err)
	}
}

func TestCheckAndKind(t *testing.T) {
	t.Parallel()
	forEachConfig(t, func(t *testing.T, cfg Config) {
		db := openTest(t, cfg, testLogger(t))
		want := "sqlite"
		if cfg.MySQL != "" {
			want = "mysql"
		}
		if got := db.Kind(); got != want {
			t.Errorf("Kind: got %q, want %q", got, want)
		}
		if err := db.Check(ctxT(t)); err != nil {
			t.Errorf("Check: %v", err)
		}
		db.Close()
		if err := db.Check(ctxT(t)); err == nil {
			t.Error("Check after Close: got nil, want an error")
		}
	})
}

func TestMySQLSessionSettings(t *testing.T) {
	t.Parallel()
	cfg := freshConfig(t, kindMySQL)
	db := openTest(t, cfg, testLogger(t))
	var charset, collation, mode string
	err := db.sql.QueryRowContext(ctxT(t), "SELECT @@character_set_connection, @@collation_connection, @@sql_mode").Scan(&charset, &collation, &mode)
	if err != nil {
		t.Fatal(err)
	}
	if charset != "utf8mb4" || collation != "utf8mb4_bin" || !strings.Contains(mode, "STRICT_ALL_TABLES") {
		t.Errorf("got charset %s, collation %s, sql_mode %s; want utf8mb4, utf8mb4_bin, strict", charset, collation, mode)
	}
	var tableCollation string
	err = db.sql.QueryRowContext(ctxT(t),
		"SELECT table_collation FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'accounts'").Scan(&tableCollation)
	if err != nil || tableCollation != "utf8mb4_bin" {
		t.Errorf("accounts table collation: got %q, %v, want utf8mb4_bin", tableCollation, err)
	}
}
