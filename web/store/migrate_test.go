package store

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"
)

func embeddedMigrations(t *testing.T) []migration {
	t.Helper()
	ms, err := loadMigrations(migrationFiles, migrationDir)
	if err != nil {
		t.Fatalf("loadMigrations: %v", err)
	}
	return ms
}

func TestEmbeddedMigrationsRender(t *testing.T) {
	ms := embeddedMigrations(t)
	for i, m := range ms {
		if m.version != i+1 {
			t.Errorf("migration %s: got version %d, want %d", m.name, m.version, i+1)
		}
		for _, kind := range []string{kindMySQL, kindSQLite} {
			for j, s := range m.statements {
				out, err := render(s, kind)
				if err != nil {
					t.Errorf("%s statement %d for %s: %v", m.name, j+1, kind, err)
				}
				if strings.Contains(out, ";") {
					t.Errorf("%s statement %d holds a \";\": statements must end at the end of a line", m.name, j+1)
				}
			}
		}
	}
}

func TestRender(t *testing.T) {
	for _, tc := range []struct {
		kind, in, want string
	}{
		{kindMySQL, "CREATE TABLE t (id {{AUTO_ID}}){{TABLE_OPTIONS}}",
			"CREATE TABLE t (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"},
		{kindSQLite, "CREATE TABLE t (id {{AUTO_ID}}){{TABLE_OPTIONS}}",
			"CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT)"},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			got, err := render(tc.in, tc.kind)
			if err != nil || got != tc.want {
				t.Errorf("render(%q): got %q, %v, want %q", tc.in, got, err, tc.want)
			}
		})
	}
	if _, err := render("CREATE TABLE t (x {{BLOB}})", kindSQLite); err == nil || !strings.Contains(err.Error(), "{{BLOB}}") {
		t.Errorf("render with an unknown placeholder: got %v, want an error naming it", err)
	}
}

func TestLoadMigrationsRefusesBadSets(t *testing.T) {
	ok := &fstest.MapFile{Data: []byte("CREATE TABLE a (x INT);\n")}
	for _, tc := range []struct {
		name string
		fs   fstest.MapFS
		want string
	}{
		{"empty", fstest.MapFS{"m/README": nil}, "not named"},
		{"none", fstest.MapFS{"m": &fstest.MapFile{Mode: 0o755 | 1<<31}}, "no migrations"},
		{"gap", fstest.MapFS{"m/0001_a.sql": ok, "m/0003_c.sql": ok}, "want version 2"},
		{"starts at 2", fstest.MapFS{"m/0002_a.sql": ok}, "want version 1"},
		{"bad name", fstest.MapFS{"m/0001-a.sql": ok}, "not named"},
		{"upper case", fstest.MapFS{"m/0001_A.sql": ok}, "not named"},
		{"unterminated", fstest.MapFS{"m/0001_a.sql": &fstest.MapFile{Data: []byte("CREATE TABLE a (x INT)\n")}}, "does not end"},
		{"only comments", fstest.MapFS{"m/0001_a.sql": &fstest.MapFile{Data: []byte("-- nothing\n")}}, "no statements"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadMigrations(tc.fs, "m")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestSplitStatements(t *testing.T) {
	got, err := splitStatements("-- head\nCREATE TABLE a (\n  x INT -- inline comments stay\n);\n\n  -- between\nCREATE INDEX b ON a (x);\r\n")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"CREATE TABLE a (\n  x INT -- inline comments stay\n)", "CREATE INDEX b ON a (x)"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("statements (-want +got):\n%s", diff)
	}
}

func TestMigrateFreshAndReopen(t *testing.T) {
	t.Parallel()
	latest := len(embeddedMigrations(t))
	forEachConfig(t, func(t *testing.T, cfg Config) {
		var logs logBuffer
		db := openTest(t, cfg, logs.logger())
		if v, err := db.SchemaVersion(ctxT(t)); err != nil || v != latest {
			t.Fatalf("SchemaVersion: got %d, %v, want %d", v, err, latest)
		}
		if got := logs.count("applied migration"); got != latest {
			t.Errorf("first Open applied %d migrations, want %d", got, latest)
		}
		before := migrationRows(t, db)
		if len(before) != latest {
			t.Fatalf("schema_migrations: got %d rows, want %d", len(before), latest)
		}
		db.Close()

		var again logBuffer
		db = openTest(t, cfg, again.logger())
		if got := again.count("applied migration"); got != 0 {
			t.Errorf("reopening applied %d migrations, want none:\n%s", got, again.String())
		}
		if diff := cmp.Diff(before, migrationRows(t, db)); diff != "" {
			t.Errorf("reopening changed schema_migrations (-before +after):\n%s", diff)
		}
	})
}

// migrationRows returns schema_migrations as version → applied_at.
func migrationRows(t *testing.T, db *DB) map[int]int64 {
	t.Helper()
	rows, err := db.sql.QueryContext(ctxT(t), "SELECT version, applied_at FROM schema_migrations")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int]int64{}
	for rows.Next() {
		var v int
		var at int64
		if err := rows.Scan(&v, &at); err != nil {
			t.Fatal(err)
		}
		out[v] = at
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestMigrateConcurrentOpens(t *testing.T) {
	t.Parallel()
	const hubs = 6
	latest := len(embeddedMigrations(t))
	forEachConfig(t, func(t *testing.T, cfg Config) {
		var logs logBuffer
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
		defer cancel()
		start := make(chan struct{})
		errs := make([]error, hubs)
		dbs := make([]*DB, hubs)
		var wg sync.WaitGroup
		for i := range hubs {
			wg.Go(func() {
				<-start
				dbs[i], errs[i] = Open(ctx, cfg, logs.logger().With("hub", i))
			})
		}
		close(start)
		wg.Wait()
		for i, db := range dbs {
			if db != nil {
				defer db.Close()
			}
			if errs[i] != nil {
				t.Errorf("hub %d: Open: %v", i, errs[i])
			}
		}
		if t.Failed() {
			return
		}
		if got := logs.count("applied migration"); got != latest {
			t.Errorf("%d hubs together applied %d migrations, want each of the %d once:\n%s", hubs, got, latest, logs.String())
		}
		if got := len(migrationRows(t, dbs[0])); got != latest {
			t.Errorf("schema_migrations: got %d rows, want %d", got, latest)
		}
		// Every hub can use the database.
		for i, db := range dbs {
			if err := db.Check(ctx); err != nil {
				t.Errorf("hub %d: Check: %v", i, err)
			}
		}
	})
}

func TestMigrateRefusesNewerSchema(t *testing.T) {
	t.Parallel()
	latest := len(embeddedMigrations(t))
	forEachConfig(t, func(t *testing.T, cfg Config) {
		db := openTest(t, cfg, testLogger(t))
		if _, err := db.sql.ExecContext(ctxT(t), "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)", latest+1, 1); err != nil {
			t.Fatal(err)
		}
		before := migrationRows(t, db)
		db.Close()

		_, err := Open(ctxT(t), cfg, testLogger(t))
		wantErrIs(t, err, ErrSchemaNewer)
		if !strings.Contains(err.Error(), "upgrade the hub") {
			t.Errorf("got %q, want it to say to upgrade the hub", err)
		}
		db = openRaw(t, cfg)
		if diff := cmp.Diff(before, migrationRows(t, db)); diff != "" {
			t.Errorf("the refused Open changed schema_migrations (-before +after):\n%s", diff)
		}
	})
}

// openRaw returns a DB on cfg without migrating it.
func openRaw(t *testing.T, cfg Config) *DB {
	t.Helper()
	db := &DB{log: testLogger(t), now: time.Now}
	var err error
	if cfg.MySQL != "" {
		db.kind = kindMySQL
		db.sql, err = openMySQL(cfg.MySQL)
	} else {
		db.kind = kindSQLite
		db.sql, err = openSQLite(cfg.Path)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.sql.Close() })
	return db
}

// TestMigrateStopsMidway runs a migration whose second statement fails, as a hub dying after its first
// statement would leave it, then the repaired migration. SQLite rolls the first statement back; MySQL
// keeps it (DDL commits), and the next run finds it done and goes on.
func TestMigrateStopsMidway(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *DB) {
		var logs logBuffer
		db.log = logs.logger()
		base := embeddedMigrations(t)
		next := len(base) + 1
		broken := append(base[:len(base):len(base)], migration{version: next, name: "test_broken.sql", statements: []string{
			"CREATE TABLE extra_a (id INT NOT NULL PRIMARY KEY){{TABLE_OPTIONS}}",
			"CREATE TABLE extra_b (",
		}})
		if err := db.migrateSet(ctxT(t), broken); err == nil {
			t.Fatal("the broken migration succeeded")
		}
		if v, _ := db.SchemaVersion(ctxT(t)); v != len(base) {
			t.Fatalf("after the failed migration: version %d, want %d", v, len(base))
		}
		_, err := db.sql.ExecContext(ctxT(t), "SELECT COUNT(*) FROM extra_a")
		if kept := err == nil; kept != (db.kind == kindMySQL) {
			t.Fatalf("after the failed migration, extra_a exists: %v, want %v", kept, db.kind == kindMySQL)
		}

		fixed := append(base[:len(base):len(base)], migration{version: next, name: "test_fixed.sql", statements: []string{
			"CREATE TABLE extra_a (id INT NOT NULL PRIMARY KEY){{TABLE_OPTIONS}}",
			"CREATE INDEX extra_a_id ON extra_a (id)",
			"CREATE TABLE extra_b (id INT NOT NULL PRIMARY KEY){{TABLE_OPTIONS}}",
		}})
		if err := db.migrateSet(ctxT(t), fixed); err != nil {
			t.Fatalf("the repaired migration: %v", err)
		}
		if v, _ := db.SchemaVersion(ctxT(t)); v != next {
			t.Errorf("after the repaired migration: version %d, want %d", v, next)
		}
		for _, table := range []string{"extra_a", "extra_b"} {
			countRows(t, db, table)
		}
		wantWarnings := 0
		if db.kind == kindMySQL {
			wantWarnings = 1
		}
		if got := logs.count("had already run"); got != wantWarnings {
			t.Errorf("got %d warnings about statements already run, want %d:\n%s", got, wantWarnings, logs.String())
		}
	})
}

func TestOpenRefusesBadConfig(t *testing.T) {
	_, err := Open(t.Context(), Config{}, nil)
	if err == nil || !strings.Contains(err.Error(), "no database") {
		t.Errorf("Open(Config{}): got %v, want an error saying there is no database", err)
	}
}

func TestOpenUnreachableMySQL(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	// Port 1 on the loopback address refuses connections at once.
	_, err := Open(ctx, Config{MySQL: "u:secret@tcp(127.0.0.1:1)/db"}, nil)
	if err == nil {
		t.Fatal("Open succeeded")
	}
	if !strings.Contains(err.Error(), "connect to mysql") || strings.Contains(err.Error(), "secret") {
		t.Errorf("got %q, want a connect error without the password", err)
	}
	if errors.Is(err, ErrSchemaNewer) {
		t.Errorf("got %v", err)
	}
}
