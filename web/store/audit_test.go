package store

import (
	"database/sql"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

func TestAudit(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *DB) {
		now := fixedClock(db, testTime())
		entries := []AuditEntry{
			{Actor: "zoe", Action: "page.set", Target: "page", Detail: "title: Party\nlinks: 2"},
			{Actor: "bob", Action: "block.add", Target: `'; DROP TABLE audit_log; --`, Detail: "<script>alert(1)</script>", At: now.Add(-time.Hour)},
			{Actor: "zoe", Action: "token.revoke", Target: "token 3"},
		}
		for _, e := range entries {
			if err := db.Audit(ctxT(t), e); err != nil {
				t.Fatal(err)
			}
		}
		got, err := db.AuditLog(ctxT(t), 10, 0)
		if err != nil {
			t.Fatal(err)
		}
		var want []AuditEntry
		for i := len(entries) - 1; i >= 0; i-- {
			e := entries[i]
			e.ID = got[len(entries)-1-i].ID
			if e.At.IsZero() {
				e.At = now
			}
			e.At = e.At.Truncate(time.Millisecond).UTC()
			want = append(want, e)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("AuditLog (-want +got):\n%s", diff)
		}
		if !(got[0].ID > got[1].ID && got[1].ID > got[2].ID) {
			t.Errorf("ids not newest first: %d %d %d", got[0].ID, got[1].ID, got[2].ID)
		}

		// Paging.
		page, err := db.AuditLog(ctxT(t), 2, 0)
		if err != nil || len(page) != 2 || page[1].ID != got[1].ID {
			t.Fatalf("first page: got %+v, %v", page, err)
		}
		page, err = db.AuditLog(ctxT(t), 2, page[1].ID)
		if err != nil || len(page) != 1 || page[0].ID != got[2].ID {
			t.Errorf("second page: got %+v, %v, want the oldest entry", page, err)
		}
		page, err = db.AuditLog(ctxT(t), 2, got[2].ID)
		if err != nil || len(page) != 0 || page == nil {
			t.Errorf("past the oldest: got %#v, %v, want an empty list", page, err)
		}
		for _, limit := range []int{0, -5, 1} {
			page, err := db.AuditLog(ctxT(t), limit, 0)
			if err != nil || len(page) != 1 {
				t.Errorf("limit %d: got %d entries, %v, want 1", limit, len(page), err)
			}
		}
		_, err = db.AuditLog(ctxT(t), 10, -1)
		wantErrIs(t, err, ErrInvalid)

		n, err := db.PruneAudit(ctxT(t), now.Add(-time.Minute))
		if err != nil || n != 1 {
			t.Errorf("PruneAudit: got %d, %v, want the entry an hour old", n, err)
		}
		if got := countRows(t, db, "audit_log"); got != 2 {
			t.Errorf("audit_log after pruning: %d rows, want 2", got)
		}
	})
}

func TestAuditLimitClamp(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *DB) {
		// Write more than MaxAuditLimit entries in one transaction, which is quicker on MySQL.
		err := db.inTx(ctxT(t), func(tx *sql.Tx) error {
			for i := range MaxAuditLimit + 10 {
				if _, err := tx.ExecContext(ctxT(t), "INSERT INTO audit_log (created_at, actor, action, target, detail) VALUES (?, 'a', 'b', 'c', 'd')", i+1); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		got, err := db.AuditLog(ctxT(t), 1_000_000, 0)
		if err != nil || len(got) != MaxAuditLimit {
			t.Errorf("AuditLog(1e6): got %d entries, %v, want %d", len(got), err, MaxAuditLimit)
		}
	})
}

func TestAuditCutsAndCleans(t *testing.T) {
	t.Parallel()
	long := func(n int) string { return strings.Repeat("ż", n) } // 2 bytes a rune
	cases := []struct {
		name string
		in   AuditEntry
		want AuditEntry
	}{
		{"at the limits", AuditEntry{Actor: long(32), Action: long(32), Target: long(100), Detail: long(1000)},
			AuditEntry{Actor: long(32), Action: long(32), Target: long(100), Detail: long(1000)}},
		{"one byte over, mid-rune", AuditEntry{Actor: "a" + long(32), Action: "a" + long(32), Target: "a" + long(100), Detail: "a" + long(1000)},
			AuditEntry{Actor: "a" + long(31), Action: "a" + long(31), Target: "a" + long(99), Detail: "a" + long(999)}},
		{"four-byte runes", AuditEntry{Actor: strings.Repeat("🎉", 20)}, AuditEntry{Actor: strings.Repeat("🎉", 16)}},
		{"huge", AuditEntry{Detail: strings.Repeat("x", 10<<20)}, AuditEntry{Detail: strings.Repeat("x", MaxAuditDetailBytes)}},
		{"invalid UTF-8", AuditEntry{Actor: "a\xffb", Detail: "\xc3"}, AuditEntry{Actor: "a\uFFFDb", Detail: "\uFFFD"}},
		{"controls", AuditEntry{Action: "a\x00b\x1b", Target: "t\nu\r", Detail: "line\nline\tx\r"},
			AuditEntry{Action: "a\uFFFDb\uFFFD", Target: "t\uFFFDu\uFFFD", Detail: "line\nline\uFFFDx\uFFFD"}},
		{"invalid byte at the cut", AuditEntry{Actor: strings.Repeat("a", 62) + "\xff\xff"}, AuditEntry{Actor: strings.Repeat("a", 62)}},
		{"injection", AuditEntry{Actor: `'; DROP TABLE audit_log; --`, Detail: "<script>alert(1)</script>"},
			AuditEntry{Actor: `'; DROP TABLE audit_log; --`, Detail: "<script>alert(1)</script>"}},
	}
	forEachDB(t, func(t *testing.T, db *DB) {
		at := fixedClock(db, testTime())
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				if err := db.Audit(ctxT(t), tc.in); err != nil {
					t.Fatalf("Audit: %v", err)
				}
				got, err := db.AuditLog(ctxT(t), 1, 0)
				if err != nil || len(got) != 1 {
					t.Fatalf("AuditLog: %d entries, %v", len(got), err)
				}
				want := tc.want
				want.ID, want.At = got[0].ID, at
				if diff := cmp.Diff(want, got[0]); diff != "" {
					t.Errorf("stored entry (-want +got):\n%s", diff)
				}
				for _, s := range []string{got[0].Actor, got[0].Action, got[0].Target, got[0].Detail} {
					if !utf8.ValidString(s) {
						t.Errorf("stored %q is not valid UTF-8", s)
					}
				}
			})
		}
	})
}

func TestSanitize(t *testing.T) {
	for _, tc := range []struct {
		in        string
		max       int
		multiline bool
		want      string
	}{
		{"", 10, false, ""},
		{"abc", 3, false, "abc"},
		{"abcd", 3, false, "abc"},
		{"ab\xff", 4, false, "ab"},       // U+FFFD does not fit
		{"ab\xff", 5, false, "ab\uFFFD"}, // it does
		{"a\nb", 10, true, "a\nb"},
		{"a\nb", 10, false, "a\uFFFDb"},
		{"ż", 1, false, ""},
	} {
		if got := sanitize(tc.in, tc.max, tc.multiline); got != tc.want {
			t.Errorf("sanitize(%q, %d, %v): got %q, want %q", tc.in, tc.max, tc.multiline, got, tc.want)
		}
	}
}
