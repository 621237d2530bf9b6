package printer

import (
	"fmt"
	"testing"
	"time"
)

func TestCancelSet(t *testing.T) {
	t0 := time.Date(2026, 5, 1, 20, 0, 0, 0, time.UTC)
	t.Run("RemembersTheLatestRequest", func(t *testing.T) {
		s := newCancelSet(10, time.Hour)
		s.add("a", t0.Add(time.Minute), t0)
		s.add("a", t0, t0) // an older request heard later does not move the time back
		if at, ok := s.get("a", t0); !ok || !at.Equal(t0.Add(time.Minute)) {
			t.Errorf("got %v, %v; want %v", at, ok, t0.Add(time.Minute))
		}
		s.add("a", t0.Add(2*time.Minute), t0)
		if at, _ := s.get("a", t0); !at.Equal(t0.Add(2 * time.Minute)) {
			t.Errorf("got %v, want the later request %v", at, t0.Add(2*time.Minute))
		}
		if _, ok := s.get("b", t0); ok {
			t.Error("got a request for b, want none")
		}
	})
	t.Run("Expires", func(t *testing.T) {
		s := newCancelSet(10, time.Hour)
		s.add("a", t0, t0)
		s.add("b", t0, t0.Add(30*time.Minute))
		if _, ok := s.get("a", t0.Add(time.Hour)); !ok {
			t.Error("a forgotten at the hour, want remembered")
		}
		if _, ok := s.get("a", t0.Add(time.Hour+time.Second)); ok {
			t.Error("a remembered after the hour, want forgotten")
		}
		s.add("c", t0, t0.Add(time.Hour+time.Second)) // forgets a
		if got := s.len(); got != 2 {
			t.Errorf("got %d remembered, want 2 (b and c)", got)
		}
		// Heard again, b is remembered from then.
		s.add("b", t0, t0.Add(80*time.Minute))
		if _, ok := s.get("b", t0.Add(130*time.Minute)); !ok {
			t.Error("b forgotten an hour after it was first heard, want an hour after the last")
		}
	})
	t.Run("Bounded", func(t *testing.T) {
		s := newCancelSet(3, time.Hour)
		for i := range 5 {
			s.add(fmt.Sprint(i), t0, t0)
		}
		for id, want := range map[string]bool{"0": false, "1": false, "2": true, "3": true, "4": true} {
			if _, ok := s.get(id, t0); ok != want {
				t.Errorf("get(%s): got %v, want %v", id, ok, want)
			}
		}
		// The same id asked for again and again stays one entry, and the bookkeeping stays bounded.
		for range 10_000 {
			s.add("4", t0, t0)
		}
		if got, n := s.len(), len(s.fifo)-s.head; got != 3 || n > 2*3+1 {
			t.Errorf("got %d ids and %d entries, want 3 ids and at most 7 entries", got, n)
		}
		if _, ok := s.get("2", t0); !ok {
			t.Error("2 forgotten by requests for another id, want remembered")
		}
	})
}
