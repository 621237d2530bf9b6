package store

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestSessions(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *DB) {
		now := fixedClock(db, testTime())
		zoe, err := db.CreateAccount(ctxT(t), "Zoe", RoleAdmin, testHash)
		if err != nil {
			t.Fatal(err)
		}
		s := Session{Hash: sessionHash("a"), AccountID: zoe.ID, CSRF: "Zm9vYmFy-_", ExpiresAt: now.Add(time.Hour)}
		if err := db.CreateSession(ctxT(t), s); err != nil {
			t.Fatal(err)
		}
		want := s
		want.CreatedAt = now
		gotS, gotA, err := db.Session(ctxT(t), s.Hash, now)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, gotS); diff != "" {
			t.Errorf("Session (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(zoe, gotA); diff != "" {
			t.Errorf("Session's account (-want +got):\n%s", diff)
		}

		// Expiry: alive until the millisecond before ExpiresAt.
		for _, tc := range []struct {
			at    time.Time
			alive bool
		}{
			{s.ExpiresAt.Add(-time.Millisecond), true},
			{s.ExpiresAt, false},
			{s.ExpiresAt.Add(time.Hour), false},
		} {
			_, _, err := db.Session(ctxT(t), s.Hash, tc.at)
			if alive := err == nil; alive != tc.alive {
				t.Errorf("Session at %v: got %v, want alive %v", tc.at, err, tc.alive)
			}
			if err != nil {
				wantErrIs(t, err, ErrNotFound)
			}
		}
		_, _, err = db.Session(ctxT(t), sessionHash("unknown"), now)
		wantErrIs(t, err, ErrNotFound)

		err = db.CreateSession(ctxT(t), s)
		wantErrIs(t, err, ErrExists)
		err = db.CreateSession(ctxT(t), Session{Hash: sessionHash("b"), AccountID: zoe.ID + 100, CSRF: "x", ExpiresAt: now.Add(time.Hour)})
		wantErrIs(t, err, ErrNotFound)

		if err := db.DeleteSession(ctxT(t), s.Hash); err != nil {
			t.Fatal(err)
		}
		_, _, err = db.Session(ctxT(t), s.Hash, now)
		wantErrIs(t, err, ErrNotFound)
		if err := db.DeleteSession(ctxT(t), s.Hash); err != nil {
			t.Errorf("deleting a deleted session: %v", err)
		}
	})
}

func TestDeleteExpiredSessions(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *DB) {
		now := fixedClock(db, testTime())
		a, err := db.CreateAccount(ctxT(t), "zoe", RoleAdmin, testHash)
		if err != nil {
			t.Fatal(err)
		}
		for i, expires := range []time.Duration{-time.Hour, -time.Millisecond, 0, time.Millisecond, time.Hour} {
			s := Session{Hash: sessionHash(itoa(i)), AccountID: a.ID, CSRF: "x", CreatedAt: now.Add(-2 * time.Hour), ExpiresAt: now.Add(expires)}
			if err := db.CreateSession(ctxT(t), s); err != nil {
				t.Fatal(err)
			}
		}
		n, err := db.DeleteExpiredSessions(ctxT(t), now)
		if err != nil || n != 3 {
			t.Errorf("DeleteExpiredSessions: got %d, %v, want 3", n, err)
		}
		if got := countRows(t, db, "sessions"); got != 2 {
			t.Errorf("sessions left: got %d, want 2", got)
		}
		n, err = db.DeleteExpiredSessions(ctxT(t), now)
		if err != nil || n != 0 {
			t.Errorf("DeleteExpiredSessions again: got %d, %v, want 0", n, err)
		}
	})
}

func TestCreateSessionRefuses(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *DB) {
		now := fixedClock(db, testTime())
		a, err := db.CreateAccount(ctxT(t), "zoe", RoleAdmin, testHash)
		if err != nil {
			t.Fatal(err)
		}
		ok := Session{Hash: sessionHash("x"), AccountID: a.ID, CSRF: "csrf", ExpiresAt: now.Add(time.Hour)}
		for _, tc := range []struct {
			name string
			edit func(s *Session)
			want string
		}{
			{"no hash", func(s *Session) { s.Hash = nil }, "SHA-256"},
			{"short hash", func(s *Session) { s.Hash = s.Hash[:31] }, "not 31 bytes"},
			{"long hash", func(s *Session) { s.Hash = append(s.Hash, 0) }, "not 33 bytes"},
			{"no CSRF", func(s *Session) { s.CSRF = "" }, "CSRF token must not be empty"},
			{"CSRF with a space", func(s *Session) { s.CSRF = "a b" }, "printable ASCII"},
			{"CSRF with markup", func(s *Session) { s.CSRF = "<script>\"" }, ""},
			{"long CSRF", func(s *Session) { s.CSRF = strings.Repeat("c", 129) }, "129 bytes"},
			{"expired at creation", func(s *Session) { s.ExpiresAt = now }, "expire after"},
			{"no expiry", func(s *Session) { s.ExpiresAt = time.Time{} }, "expire after"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				s := ok
				s.Hash = append([]byte(nil), ok.Hash...)
				tc.edit(&s)
				err := db.CreateSession(ctxT(t), s)
				if tc.want == "" { // printable ASCII without spaces: accepted
					if err != nil {
						t.Errorf("got %v, want it accepted", err)
					}
					db.DeleteSession(ctxT(t), s.Hash)
					return
				}
				wantErrIs(t, err, ErrInvalid)
				if !strings.Contains(err.Error(), tc.want) {
					t.Errorf("got %q, want it to contain %q", err, tc.want)
				}
				if n := countRows(t, db, "sessions"); n != 0 {
					t.Errorf("a refused CreateSession left %d sessions", n)
				}
			})
		}
		_, _, err = db.Session(ctxT(t), []byte("short"), now)
		wantErrIs(t, err, ErrInvalid)
		wantErrIs(t, db.DeleteSession(ctxT(t), nil), ErrInvalid)
	})
}
