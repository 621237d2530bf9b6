package store

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestTokens(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *DB) {
		now := fixedClock(db, testTime())
		studio, err := db.CreateToken(ctxT(t), Token{Kind: TokenBridge, Name: "Studio Pi <1>", Hint: "sl_b", CreatedBy: "zoe",
			ID: 99, LastUsedAt: now, RevokedAt: now}, sessionHash("bridge-secret"))
		if err != nil {
			t.Fatal(err)
		}
		want := Token{ID: studio.ID, Kind: TokenBridge, Name: "Studio Pi <1>", Hint: "sl_b", CreatedAt: now, CreatedBy: "zoe"}
		if diff := cmp.Diff(want, studio); diff != "" {
			t.Errorf("CreateToken (-want +got):\n%s", diff)
		}
		later := now.Add(time.Minute)
		bot, err := db.CreateToken(ctxT(t), Token{Kind: TokenAPI, Name: `'; DROP TABLE tokens; --`, CreatedAt: later}, sessionHash("api-secret"))
		if err != nil {
			t.Fatal(err)
		}

		got, err := db.TokenByHash(ctxT(t), TokenBridge, sessionHash("bridge-secret"))
		if err != nil || !cmp.Equal(want, got) {
			t.Errorf("TokenByHash: got %+v, %v, want %+v", got, err, want)
		}
		_, err = db.TokenByHash(ctxT(t), TokenAPI, sessionHash("bridge-secret"))
		wantErrIs(t, err, ErrNotFound)
		_, err = db.TokenByHash(ctxT(t), TokenBridge, sessionHash("wrong"))
		wantErrIs(t, err, ErrNotFound)
		_, err = db.TokenByHash(ctxT(t), TokenBridge, []byte("short"))
		wantErrIs(t, err, ErrInvalid)

		_, err = db.CreateToken(ctxT(t), Token{Kind: TokenAPI, Name: "same secret"}, sessionHash("bridge-secret"))
		wantErrIs(t, err, ErrExists)

		// Touching only moves forward.
		used := now.Add(time.Hour)
		if err := db.TouchToken(ctxT(t), studio.ID, used); err != nil {
			t.Fatal(err)
		}
		if err := db.TouchToken(ctxT(t), studio.ID, now); err != nil {
			t.Fatal(err)
		}
		if err := db.TouchToken(ctxT(t), studio.ID, used); err != nil {
			t.Errorf("touching with the same time: %v", err)
		}
		wantErrIs(t, db.TouchToken(ctxT(t), bot.ID+100, used), ErrNotFound)
		got, _ = db.TokenByHash(ctxT(t), TokenBridge, sessionHash("bridge-secret"))
		if !got.LastUsedAt.Equal(used) {
			t.Errorf("LastUsedAt: got %v, want %v", got.LastUsedAt, used)
		}

		// Revoked tokens are listed but not found; the first revocation time stays.
		revoked := now.Add(2 * time.Hour)
		if err := db.RevokeToken(ctxT(t), studio.ID, revoked); err != nil {
			t.Fatal(err)
		}
		if err := db.RevokeToken(ctxT(t), studio.ID, revoked.Add(time.Hour)); err != nil {
			t.Errorf("revoking again: %v", err)
		}
		wantErrIs(t, db.RevokeToken(ctxT(t), bot.ID+100, revoked), ErrNotFound)
		_, err = db.TokenByHash(ctxT(t), TokenBridge, sessionHash("bridge-secret"))
		wantErrIs(t, err, ErrNotFound)

		list, err := db.Tokens(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		want.LastUsedAt, want.RevokedAt = used, revoked
		wantBot := Token{ID: bot.ID, Kind: TokenAPI, Name: `'; DROP TABLE tokens; --`, CreatedAt: later}
		if diff := cmp.Diff([]Token{wantBot, want}, list); diff != "" {
			t.Errorf("Tokens, newest first (-want +got):\n%s", diff)
		}
	})
}

func TestCreateTokenRefuses(t *testing.T) {
	t.Parallel()
	ok := Token{Kind: TokenAPI, Name: "bot", Hint: "abcd", CreatedBy: "zoe"}
	forEachDB(t, func(t *testing.T, db *DB) {
		for _, tc := range []struct {
			name string
			edit func(tk *Token, hash *[]byte)
			want string
		}{
			{"no kind", func(tk *Token, _ *[]byte) { tk.Kind = "" }, "not a kind"},
			{"unknown kind", func(tk *Token, _ *[]byte) { tk.Kind = "admin" }, "not a kind"},
			{"no name", func(tk *Token, _ *[]byte) { tk.Name = "" }, "token name must not be empty"},
			{"long name", func(tk *Token, _ *[]byte) { tk.Name = strings.Repeat("n", 61) }, "61 characters"},
			{"name with a newline", func(tk *Token, _ *[]byte) { tk.Name = "a\nb" }, "one line"},
			{"long hint", func(tk *Token, _ *[]byte) { tk.Hint = "123456789" }, "9 bytes"},
			{"hint with a space", func(tk *Token, _ *[]byte) { tk.Hint = "a b" }, "printable ASCII"},
			{"long creator", func(tk *Token, _ *[]byte) { tk.CreatedBy = strings.Repeat("c", 65) }, "created by"},
			{"no hash", func(_ *Token, h *[]byte) { *h = nil }, "SHA-256"},
			{"short hash", func(_ *Token, h *[]byte) { *h = (*h)[:16] }, "SHA-256"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				tk, hash := ok, sessionHash("secret")
				tc.edit(&tk, &hash)
				_, err := db.CreateToken(ctxT(t), tk, hash)
				wantErrIs(t, err, ErrInvalid)
				if !strings.Contains(err.Error(), tc.want) {
					t.Errorf("got %q, want it to contain %q", err, tc.want)
				}
				if n := countRows(t, db, "tokens"); n != 0 {
					t.Errorf("a refused CreateToken left %d tokens", n)
				}
			})
		}
	})
}

func TestTokensLimit(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *DB) {
		var first Token
		for i := range MaxActiveTokens {
			tk, err := db.CreateToken(ctxT(t), Token{Kind: TokenAPI, Name: "t" + itoa(i)}, sessionHash(itoa(i)))
			if err != nil {
				t.Fatalf("token %d: %v", i, err)
			}
			if i == 0 {
				first = tk
			}
		}
		_, err := db.CreateToken(ctxT(t), Token{Kind: TokenAPI, Name: "one too many"}, sessionHash("more"))
		wantErrIs(t, err, ErrInvalid)
		// Revoking one makes room.
		if err := db.RevokeToken(ctxT(t), first.ID, time.Time{}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.CreateToken(ctxT(t), Token{Kind: TokenAPI, Name: "now it fits"}, sessionHash("more")); err != nil {
			t.Errorf("after revoking one: %v", err)
		}
	})
}
