package store

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestPrintRecordRoundTrip(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *DB) {
		now := fixedClock(db, testTime())
		r := PrintRecord{
			ID: "tip:kofi:ABC-123", Source: "tip", Author: "Zoë <b>", Amount: 1500, Currency: "PLN",
			// Accepted jobs keep their text as given, control characters included: the receipt layout drops them.
			Text:      "Dzięki! 🎉\r\nline\ttab \x00nul \x1b[1m <script>alert(1)</script> '; DROP TABLE prints; --",
			CreatedAt: now.Add(-time.Minute), State: PrintQueued,
		}
		if err := db.RecordPrint(ctxT(t), r); err != nil {
			t.Fatal(err)
		}
		want := r
		want.CreatedAt, want.UpdatedAt = now.Add(-time.Minute), now
		got, err := db.PrintRecord(ctxT(t), r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("PrintRecord (-want +got):\n%s", diff)
		}
		_, err = db.PrintRecord(ctxT(t), "discord:unknown")
		wantErrIs(t, err, ErrNotFound)

		// Recording the same id again replaces the job fields and moves the state on.
		r2 := PrintRecord{ID: r.ID, Source: "web", Author: "Zoe", Text: "edited", CreatedAt: now, State: PrintPrinting,
			UpdatedAt: now.Add(time.Second)}
		if err := db.RecordPrint(ctxT(t), r2); err != nil {
			t.Fatal(err)
		}
		got, _ = db.PrintRecord(ctxT(t), r.ID)
		want = r2
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("PrintRecord after recording it again (-want +got):\n%s", diff)
		}
		if n := countRows(t, db, "prints"); n != 1 {
			t.Errorf("prints: got %d rows, want 1", n)
		}
	})
}

func TestPrintStateRules(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *DB) {
		t0 := fixedClock(db, testTime())
		state := func() (string, string, time.Time) {
			t.Helper()
			r, err := db.PrintRecord(ctxT(t), "job-1")
			if err != nil {
				t.Fatal(err)
			}
			return r.State, r.Reason, r.UpdatedAt
		}
		if err := db.RecordPrint(ctxT(t), PrintRecord{ID: "job-1", Source: "discord", Author: "a", Text: "hi", State: PrintQueued}); err != nil {
			t.Fatal(err)
		}
		steps := []struct {
			name       string
			state      string
			reason     string
			at         time.Time
			wantState  string
			wantReason string
			wantAt     time.Time
		}{
			{"printing", PrintPrinting, "", t0.Add(time.Second), PrintPrinting, "", t0.Add(time.Second)},
			{"an older update is ignored", PrintQueued, "late", t0, PrintPrinting, "", t0.Add(time.Second)},
			{"failed", PrintFailed, "paper out", t0.Add(2 * time.Second), PrintFailed, "paper out", t0.Add(2 * time.Second)},
			{"same time applies", PrintQueued, "retry", t0.Add(2 * time.Second), PrintQueued, "retry", t0.Add(2 * time.Second)},
			{"printed", PrintPrinted, "", t0.Add(3 * time.Second), PrintPrinted, "", t0.Add(3 * time.Second)},
			{"printed is final: failed", PrintFailed, "late error", t0.Add(4 * time.Second), PrintPrinted, "", t0.Add(3 * time.Second)},
			{"printed is final: queued", PrintQueued, "", t0.Add(5 * time.Second), PrintPrinted, "", t0.Add(3 * time.Second)},
			{"printed is final: printing", PrintPrinting, "", t0.Add(6 * time.Second), PrintPrinted, "", t0.Add(3 * time.Second)},
		}
		for _, s := range steps {
			if err := db.SetPrintState(ctxT(t), "job-1", s.state, s.reason, s.at); err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
			gotState, gotReason, gotAt := state()
			if gotState != s.wantState || gotReason != s.wantReason || !gotAt.Equal(s.wantAt) {
				t.Errorf("%s: got %s %q %v, want %s %q %v", s.name, gotState, gotReason, gotAt, s.wantState, s.wantReason, s.wantAt)
			}
		}
		// A source that retries records the job again: printed stays printed, the job fields follow.
		err := db.RecordPrint(ctxT(t), PrintRecord{ID: "job-1", Source: "discord", Author: "a", Text: "hi again", State: PrintQueued,
			UpdatedAt: t0.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		r, _ := db.PrintRecord(ctxT(t), "job-1")
		if r.State != PrintPrinted || r.Text != "hi again" {
			t.Errorf("after recording a printed job again: state %s, text %q; want printed, hi again", r.State, r.Text)
		}

		wantErrIs(t, db.SetPrintState(ctxT(t), "job-2", PrintPrinted, "", t0), ErrNotFound)
		wantErrIs(t, db.SetPrintState(ctxT(t), "job-1", "", "", t0), ErrInvalid)
		wantErrIs(t, db.SetPrintState(ctxT(t), "job-1", strings.Repeat("s", 17), "", t0), ErrInvalid)

		// Reasons are cleaned and cut, not refused.
		if err := db.RecordPrint(ctxT(t), PrintRecord{ID: "job-3", Source: "web", Author: "a", Text: "x", State: PrintQueued}); err != nil {
			t.Fatal(err)
		}
		if err := db.SetPrintState(ctxT(t), "job-3", PrintFailed, "serial:\x00 "+strings.Repeat("ż", 300), t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		r, _ = db.PrintRecord(ctxT(t), "job-3")
		wantReason := "serial:\uFFFD " + strings.Repeat("ż", (MaxPrintReasonBytes-len("serial:\uFFFD "))/2)
		if r.Reason != wantReason {
			t.Errorf("reason: got %q (%d bytes), want %q", r.Reason, len(r.Reason), wantReason)
		}
	})
}

func TestPrintHistoryAndCounts(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *DB) {
		t0 := fixedClock(db, testTime())
		jobs := []struct {
			id    string
			ago   time.Duration
			state string
		}{
			{"a", 5 * time.Minute, PrintPrinted},
			{"b", 4 * time.Minute, PrintFailed},
			{"c", 3 * time.Minute, PrintPrinted},
			{"d", 2 * time.Minute, PrintQueued},
			{"e", 2 * time.Minute, PrintCancelled}, // same time as d: the id breaks the tie
			{"f", time.Minute, "custom-state"},
		}
		for _, j := range jobs {
			err := db.RecordPrint(ctxT(t), PrintRecord{ID: j.id, Source: "web", Author: "a", Text: "t", CreatedAt: t0.Add(-j.ago), State: j.state})
			if err != nil {
				t.Fatal(err)
			}
		}
		ids := func(rs []PrintRecord) string {
			var b strings.Builder
			for _, r := range rs {
				b.WriteString(r.ID)
			}
			return b.String()
		}
		for _, tc := range []struct {
			name string
			f    PrintFilter
			want string
		}{
			{"all", PrintFilter{Limit: 100}, "fedcba"},
			{"limit", PrintFilter{Limit: 2}, "fe"},
			{"limit 0 is 1", PrintFilter{}, "f"},
			{"negative limit is 1", PrintFilter{Limit: -3}, "f"},
			{"huge limit", PrintFilter{Limit: 1 << 40}, "fedcba"},
			{"states", PrintFilter{States: []string{PrintPrinted, PrintFailed}, Limit: 100}, "cba"},
			{"one state", PrintFilter{States: []string{PrintQueued}, Limit: 100}, "d"},
			{"unknown state", PrintFilter{States: []string{"nope"}, Limit: 100}, ""},
			{"before", PrintFilter{Before: t0.Add(-2 * time.Minute), Limit: 100}, "cba"},
			{"before and states", PrintFilter{Before: t0.Add(-3 * time.Minute), States: []string{PrintPrinted}, Limit: 100}, "a"},
			{"injection state", PrintFilter{States: []string{"x')--"}, Limit: 100}, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, err := db.PrintHistory(ctxT(t), tc.f)
				if err != nil {
					t.Fatal(err)
				}
				if got == nil || ids(got) != tc.want {
					t.Errorf("got %q (%#v), want %q", ids(got), got == nil, tc.want)
				}
			})
		}
		_, err := db.PrintHistory(ctxT(t), PrintFilter{States: []string{"a b"}})
		wantErrIs(t, err, ErrInvalid)
		_, err = db.PrintHistory(ctxT(t), PrintFilter{States: make([]string, 17)})
		wantErrIs(t, err, ErrInvalid)

		counts, err := db.CountPrints(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int{PrintPrinted: 2, PrintFailed: 1, PrintQueued: 1, PrintCancelled: 1, "custom-state": 1}
		if diff := cmp.Diff(want, counts); diff != "" {
			t.Errorf("CountPrints() (-want +got):\n%s", diff)
		}
		counts, err = db.CountPrints(ctxT(t), PrintPrinted, PrintPrinting)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[string]int{PrintPrinted: 2, PrintPrinting: 0}, counts); diff != "" {
			t.Errorf("CountPrints(printed, printing) (-want +got):\n%s", diff)
		}
		_, err = db.CountPrints(ctxT(t), "")
		wantErrIs(t, err, ErrInvalid)

		n, err := db.PrunePrints(ctxT(t), t0.Add(-3*time.Minute))
		if err != nil || n != 2 {
			t.Errorf("PrunePrints: got %d, %v, want 2", n, err)
		}
		if got := countRows(t, db, "prints"); got != 4 {
			t.Errorf("prints after pruning: %d, want 4", got)
		}
	})
}

func TestRecordPrintRefuses(t *testing.T) {
	t.Parallel()
	ok := PrintRecord{ID: "discord:1", Source: "discord", Author: "a", Text: "t", State: PrintQueued}
	forEachDB(t, func(t *testing.T, db *DB) {
		for _, tc := range []struct {
			name string
			edit func(r *PrintRecord)
			want string
		}{
			{"no id", func(r *PrintRecord) { r.ID = "" }, "print id"},
			{"long id", func(r *PrintRecord) { r.ID = strings.Repeat("i", 129) }, "print id"},
			{"id with a space", func(r *PrintRecord) { r.ID = "a b" }, "print id"},
			{"injection id", func(r *PrintRecord) { r.ID = "'; DROP TABLE prints; --" }, "print id"},
			{"dot id", func(r *PrintRecord) { r.ID = ".hidden" }, "print id"},
			{"no source", func(r *PrintRecord) { r.Source = "" }, "print source must not be empty"},
			{"long source", func(r *PrintRecord) { r.Source = strings.Repeat("s", 17) }, "17 bytes"},
			{"long author", func(r *PrintRecord) { r.Author = strings.Repeat("ż", 65) }, "print author is 65 characters"},
			{"author not UTF-8", func(r *PrintRecord) { r.Author = "\xff" }, "print author is not valid UTF-8"},
			{"long text", func(r *PrintRecord) { r.Text = strings.Repeat("t", 2001) }, "print text is 2001 characters"},
			{"text not UTF-8", func(r *PrintRecord) { r.Text = "a\xc3" }, "print text is not valid UTF-8"},
			{"negative amount", func(r *PrintRecord) { r.Amount = -1 }, "negative"},
			{"long currency", func(r *PrintRecord) { r.Currency = "DOGECOINS" }, "9 bytes"},
			{"no state", func(r *PrintRecord) { r.State = "" }, "print state must not be empty"},
			{"long state", func(r *PrintRecord) { r.State = strings.Repeat("s", 17) }, "17 bytes"},
			{"state with a newline", func(r *PrintRecord) { r.State = "a\n" }, "printable ASCII"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := ok
				tc.edit(&r)
				err := db.RecordPrint(ctxT(t), r)
				wantErrIs(t, err, ErrInvalid)
				if !strings.Contains(err.Error(), tc.want) {
					t.Errorf("got %q, want it to contain %q", err, tc.want)
				}
				if n := countRows(t, db, "prints"); n != 0 {
					t.Errorf("a refused RecordPrint left %d records", n)
				}
			})
		}
	})
}

// TestRecordPrintConcurrently records one job from several hubs at once, as a retried webhook delivered
// to two replicas would: every call succeeds and one record remains.
func TestRecordPrintConcurrently(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *DB) {
		const writers = 8
		errs := make(chan error, writers)
		for i := range writers {
			go func() {
				errs <- db.RecordPrint(ctxT(t), PrintRecord{ID: "tip:1", Source: "tip", Author: "a" + itoa(i), Text: "t", State: PrintQueued})
			}()
		}
		for range writers {
			if err := <-errs; err != nil {
				t.Errorf("RecordPrint: %v", err)
			}
		}
		if n := countRows(t, db, "prints"); n != 1 {
			t.Errorf("prints: got %d rows, want 1", n)
		}
	})
}
