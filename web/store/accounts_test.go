package store

import (
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const testHash = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo"

func TestAccountsRoundTrip(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *DB) {
		now := fixedClock(db, testTime())
		if n, err := db.CountAccounts(ctxT(t)); err != nil || n != 0 {
			t.Fatalf("CountAccounts of a fresh database: got %d, %v, want 0", n, err)
		}
		zoe, err := db.CreateAccount(ctxT(t), "Zoe.Admin", RoleAdmin, testHash)
		if err != nil {
			t.Fatal(err)
		}
		want := Account{ID: zoe.ID, Name: "zoe.admin", Role: RoleAdmin, CreatedAt: now}
		if diff := cmp.Diff(want, zoe); diff != "" {
			t.Errorf("CreateAccount (-want +got):\n%s", diff)
		}
		bob, err := db.CreateAccount(ctxT(t), "bob_mod-1", RoleModerator, "$2a$10$abcdefghijklmnopqrstuv")
		if err != nil {
			t.Fatal(err)
		}

		got, hash, err := db.Account(ctxT(t), "ZOE.ADMIN")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" || hash != testHash {
			t.Errorf("Account: got %+v, %q; want %+v, %q", got, hash, want, testHash)
		}
		byID, err := db.AccountByID(ctxT(t), zoe.ID)
		if err != nil || !cmp.Equal(want, byID) {
			t.Errorf("AccountByID: got %+v, %v, want %+v", byID, err, want)
		}
		list, err := db.Accounts(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]Account{bob, want}, list); diff != "" {
			t.Errorf("Accounts, by name (-want +got):\n%s", diff)
		}
		if n, err := db.CountAccounts(ctxT(t)); err != nil || n != 2 {
			t.Errorf("CountAccounts: got %d, %v, want 2", n, err)
		}

		_, err = db.CreateAccount(ctxT(t), "ZOE.admin", RoleModerator, testHash)
		wantErrIs(t, err, ErrExists)

		if err := db.SetRole(ctxT(t), bob.ID, RoleAdmin); err != nil {
			t.Fatal(err)
		}
		if err := db.SetRole(ctxT(t), bob.ID, RoleAdmin); err != nil {
			t.Errorf("SetRole to the role it has: %v", err)
		}
		if got, _ := db.AccountByID(ctxT(t), bob.ID); got.Role != RoleAdmin {
			t.Errorf("after SetRole: role %q, want admin", got.Role)
		}
		if err := db.SetPassword(ctxT(t), bob.ID, "$new$hash"); err != nil {
			t.Fatal(err)
		}
		if _, h, _ := db.Account(ctxT(t), "bob_mod-1"); h != "$new$hash" {
			t.Errorf("after SetPassword: hash %q", h)
		}
		if err := db.SetPassword(ctxT(t), bob.ID, "$new$hash"); err != nil {
			t.Errorf("SetPassword to the hash it has: %v", err)
		}

		if err := db.DeleteAccount(ctxT(t), bob.ID); err != nil {
			t.Fatal(err)
		}
		_, err = db.AccountByID(ctxT(t), bob.ID)
		wantErrIs(t, err, ErrNotFound)
		_, _, err = db.Account(ctxT(t), "bob_mod-1")
		wantErrIs(t, err, ErrNotFound)
		wantErrIs(t, db.DeleteAccount(ctxT(t), bob.ID), ErrNotFound)
		wantErrIs(t, db.SetRole(ctxT(t), bob.ID, RoleModerator), ErrNotFound)
		wantErrIs(t, db.SetPassword(ctxT(t), bob.ID, testHash), ErrNotFound)
		_, _, err = db.Account(ctxT(t), "'; DROP TABLE accounts; --")
		wantErrIs(t, err, ErrNotFound)
		if n := countRows(t, db, "accounts"); n != 1 {
			t.Errorf("accounts: got %d rows, want 1", n)
		}
	})
}

func TestCreateAccountRefuses(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, account string
		role          Role
		hash, want    string
	}{
		{"empty name", "", RoleAdmin, testHash, "must not be empty"},
		{"long name", strings.Repeat("a", 33), RoleAdmin, testHash, "33 characters"},
		{"space", "zoe admin", RoleAdmin, testHash, "may only have"},
		{"non-ASCII", "zoë", RoleAdmin, testHash, "may only have"},
		{"Kelvin sign", "\u212Aate", RoleAdmin, testHash, "may only have"},
		{"injection", "'; DROP TABLE accounts; --", RoleAdmin, testHash, "may only have"},
		{"markup", "<script>", RoleAdmin, testHash, "may only have"},
		{"NUL", "zoe\x00", RoleAdmin, testHash, "may only have"},
		{"unknown role", "zoe", Role("owner"), testHash, "not a role"},
		{"upper-case role", "zoe", Role("ADMIN"), testHash, "not a role"},
		{"empty hash", "zoe", RoleAdmin, "", "password hash must not be empty"},
		{"hash with a space", "zoe", RoleAdmin, "$x$ y", "printable ASCII"},
		{"hash with a newline", "zoe", RoleAdmin, "$x$\n", "printable ASCII"},
		{"long hash", "zoe", RoleAdmin, strings.Repeat("h", 256), "256 bytes"},
	}
	forEachDB(t, func(t *testing.T, db *DB) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				_, err := db.CreateAccount(ctxT(t), tc.account, tc.role, tc.hash)
				wantErrIs(t, err, ErrInvalid)
				if !strings.Contains(err.Error(), tc.want) {
					t.Errorf("got %q, want it to contain %q", err, tc.want)
				}
				if n := countRows(t, db, "accounts"); n != 0 {
					t.Errorf("a refused CreateAccount left %d accounts", n)
				}
			})
		}
		a, err := db.CreateAccount(ctxT(t), strings.Repeat("a", 32), RoleModerator, strings.Repeat("h", 255))
		if err != nil {
			t.Fatalf("the longest name and hash: %v", err)
		}
		wantErrIs(t, db.SetRole(ctxT(t), a.ID, "root"), ErrInvalid)
		wantErrIs(t, db.SetPassword(ctxT(t), a.ID, "bad hash"), ErrInvalid)
		if got, hash, _ := db.Account(ctxT(t), a.Name); got.Role != RoleModerator || hash != strings.Repeat("h", 255) {
			t.Errorf("refused changes changed the account: %+v, %q", got, hash)
		}
	})
}

func TestAccountsLimit(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *DB) {
		for i := range MaxAccounts {
			if _, err := db.CreateAccount(ctxT(t), "user"+itoa(i), RoleModerator, testHash); err != nil {
				t.Fatalf("account %d: %v", i, err)
			}
		}
		_, err := db.CreateAccount(ctxT(t), "onetoomany", RoleModerator, testHash)
		wantErrIs(t, err, ErrInvalid)
		if n, _ := db.CountAccounts(ctxT(t)); n != MaxAccounts {
			t.Errorf("CountAccounts: got %d, want %d", n, MaxAccounts)
		}
	})
}

// sessionHash returns the hash of a made-up session id.
func sessionHash(id string) []byte {
	h := sha256.Sum256([]byte(id))
	return h[:]
}

func TestAccountChangesEndSessions(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *DB) {
		now := fixedClock(db, testTime())
		zoe, err := db.CreateAccount(ctxT(t), "zoe", RoleAdmin, testHash)
		if err != nil {
			t.Fatal(err)
		}
		bob, err := db.CreateAccount(ctxT(t), "bob", RoleModerator, testHash)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []struct {
			id      string
			account int64
		}{{"zoe-laptop", zoe.ID}, {"zoe-phone", zoe.ID}, {"bob-laptop", bob.ID}} {
			err := db.CreateSession(ctxT(t), Session{Hash: sessionHash(s.id), AccountID: s.account, CSRF: "csrf-" + s.id, ExpiresAt: now.Add(time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
		}
		alive := func(id string) bool {
			_, _, err := db.Session(ctxT(t), sessionHash(id), now)
			return err == nil
		}
		if err := db.SetRole(ctxT(t), zoe.ID, RoleModerator); err != nil {
			t.Fatal(err)
		}
		if !alive("zoe-laptop") {
			t.Error("SetRole ended zoe's session")
		}
		if err := db.SetPassword(ctxT(t), zoe.ID, "$new$"); err != nil {
			t.Fatal(err)
		}
		if alive("zoe-laptop") || alive("zoe-phone") || !alive("bob-laptop") {
			t.Errorf("after zoe's SetPassword: zoe's sessions alive %v %v, bob's %v; want false false true",
				alive("zoe-laptop"), alive("zoe-phone"), alive("bob-laptop"))
		}
		if err := db.DeleteAccount(ctxT(t), bob.ID); err != nil {
			t.Fatal(err)
		}
		if n := countRows(t, db, "sessions"); n != 0 {
			t.Errorf("sessions: got %d rows, want 0", n)
		}
	})
}
