package store

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestBlockValue(t *testing.T) {
	for _, tc := range []struct {
		kind, in, want string
	}{
		{BlockName, "TrollFace", "trollface"},
		{BlockName, "ŻÓŁW ΣΟΦΊΑ", "żółw σοφία"},
		{BlockName, "a b", "a b"},
		{BlockName, `'; DROP TABLE blocks; --`, `'; drop table blocks; --`},
		{BlockName, strings.Repeat("Ż", 32), strings.Repeat("ż", 32)},
		{BlockIP, "192.0.2.1", "192.0.2.1"},
		{BlockIP, "2001:DB8:0:0:0:0:0:1", "2001:db8::1"},
		{BlockIP, "::ffff:192.0.2.1", "192.0.2.1"},
		{BlockIP, "::1", "::1"},
	} {
		got, err := BlockValue(tc.kind, tc.in)
		if err != nil || got != tc.want {
			t.Errorf("BlockValue(%s, %q): got %q, %v, want %q", tc.kind, tc.in, got, err, tc.want)
		}
	}
	for _, tc := range []struct {
		kind, in, want string
	}{
		{"email", "a@example.com", "not a kind"},
		{"", "x", "not a kind"},
		{BlockName, "", "must not be empty"},
		{BlockName, strings.Repeat("x", 33), "33 characters"},
		{BlockName, "a\nb", "one line"},
		{BlockName, " troll", "space"},
		{BlockName, "troll ", "space"},
		{BlockName, "tr\x00oll", "control character"},
		{BlockName, "\xff", "UTF-8"},
		{BlockIP, "300.1.1.1", "not an IP address"},
		{BlockIP, "192.0.2.0/24", "not an IP address"},
		{BlockIP, "fe80::1%eth0", "not an IP address"},
		{BlockIP, "example.com", "not an IP address"},
		{BlockIP, "", "not an IP address"},
		{BlockIP, " 192.0.2.1", "not an IP address"},
	} {
		_, err := BlockValue(tc.kind, tc.in)
		wantErrIs(t, err, ErrInvalid)
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("BlockValue(%q, %q): got %q, want it to contain %q", tc.kind, tc.in, err, tc.want)
		}
	}
}

func TestBlocks(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *DB) {
		now := fixedClock(db, testTime())
		adds := []Block{
			{Kind: BlockName, Value: "TrollFace", Reason: "spam <script>alert(1)</script>", By: "bob", At: now.Add(-time.Hour)},
			{Kind: BlockIP, Value: "2001:DB8::1", By: "zoe"},
			{Kind: BlockName, Value: `'; DROP TABLE blocks; --`, By: "zoe", At: now.Add(-time.Minute)},
		}
		for _, b := range adds {
			if err := db.AddBlock(ctxT(t), b); err != nil {
				t.Fatalf("AddBlock(%+v): %v", b, err)
			}
		}
		want := []Block{
			{Kind: BlockIP, Value: "2001:db8::1", By: "zoe", At: now},
			{Kind: BlockName, Value: `'; drop table blocks; --`, By: "zoe", At: now.Add(-time.Minute)},
			{Kind: BlockName, Value: "trollface", Reason: "spam <script>alert(1)</script>", By: "bob", At: now.Add(-time.Hour)},
		}
		got, err := db.Blocks(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Blocks, newest first (-want +got):\n%s", diff)
		}

		// Adding again, in another spelling, is not an error and changes nothing.
		if err := db.AddBlock(ctxT(t), Block{Kind: BlockName, Value: "TROLLFACE", Reason: "again", By: "eve"}); err != nil {
			t.Errorf("AddBlock again: %v", err)
		}
		if err := db.AddBlock(ctxT(t), Block{Kind: BlockIP, Value: "2001:db8:0::1", By: "eve"}); err != nil {
			t.Errorf("AddBlock again: %v", err)
		}
		if got, _ := db.Blocks(ctxT(t)); !cmp.Equal(want, got) {
			t.Errorf("adding a block again changed the blocks:\n%s", cmp.Diff(want, got))
		}

		if err := db.RemoveBlock(ctxT(t), BlockName, "trollFACE"); err != nil {
			t.Fatal(err)
		}
		if err := db.RemoveBlock(ctxT(t), BlockIP, "2001:0db8::0001"); err != nil {
			t.Fatal(err)
		}
		wantErrIs(t, db.RemoveBlock(ctxT(t), BlockName, "trollface"), ErrNotFound)
		wantErrIs(t, db.RemoveBlock(ctxT(t), BlockIP, "192.0.2.1"), ErrNotFound)
		wantErrIs(t, db.RemoveBlock(ctxT(t), "email", "x"), ErrInvalid)
		got, _ = db.Blocks(ctxT(t))
		if diff := cmp.Diff(want[1:2], got); diff != "" {
			t.Errorf("Blocks after removing two (-want +got):\n%s", diff)
		}
	})
}

func TestAddBlockRefuses(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *DB) {
		for _, tc := range []struct {
			name string
			b    Block
			want string
		}{
			{"bad kind", Block{Kind: "user", Value: "x"}, "not a kind"},
			{"bad address", Block{Kind: BlockIP, Value: "1.2.3"}, "not an IP address"},
			{"long name", Block{Kind: BlockName, Value: strings.Repeat("n", 33)}, "33 characters"},
			{"long reason", Block{Kind: BlockName, Value: "x", Reason: strings.Repeat("r", 201)}, "block reason is 201"},
			{"reason with a newline", Block{Kind: BlockName, Value: "x", Reason: "a\nb"}, "one line"},
			{"long by", Block{Kind: BlockName, Value: "x", By: strings.Repeat("b", 65)}, "blocked by"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				err := db.AddBlock(ctxT(t), tc.b)
				wantErrIs(t, err, ErrInvalid)
				if !strings.Contains(err.Error(), tc.want) {
					t.Errorf("got %q, want it to contain %q", err, tc.want)
				}
				if n := countRows(t, db, "blocks"); n != 0 {
					t.Errorf("a refused AddBlock left %d blocks", n)
				}
			})
		}
	})
}

func TestBlocksLimit(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *DB) {
		// Fill up with multi-row INSERTs: one row a statement takes seconds on MySQL.
		const batch = 500
		for start := 0; start < MaxBlocks; start += batch {
			args := make([]any, 0, batch)
			for i := start; i < start+batch; i++ {
				args = append(args, "n"+itoa(i))
			}
			query := "INSERT INTO blocks (kind, value, reason, blocked_by, created_at) VALUES " +
				strings.TrimSuffix(strings.Repeat("('name', ?, '', '', 1), ", batch), ", ")
			if _, err := db.sql.ExecContext(ctxT(t), query, args...); err != nil {
				t.Fatal(err)
			}
		}
		err := db.AddBlock(ctxT(t), Block{Kind: BlockName, Value: "one too many"})
		wantErrIs(t, err, ErrInvalid)
		if err := db.AddBlock(ctxT(t), Block{Kind: BlockName, Value: "N0"}); err != nil {
			t.Errorf("adding a block that exists, at the limit: %v", err)
		}
		if n := countRows(t, db, "blocks"); n != MaxBlocks {
			t.Errorf("blocks: got %d, want %d", n, MaxBlocks)
		}
	})
}
