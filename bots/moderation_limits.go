package bots

import (
	"context"
	"fmt"
	"time"
)

// pruneEvery is how often, at most, Admit forgets senders whose cooldown and day are over.
const pruneEvery = time.Minute

// senderState is what the Moderator remembers of one sender for cooldowns and daily caps.
type senderState struct {
	last     time.Time // when their last message was admitted
	dayStart time.Time // start of the day count belongs to
	count    int       // messages admitted that day
}

// count checks userID's cooldown and daily cap at now and, when both allow it, counts one message: in
// the shared state when there is one, else (or when it fails) in m's memory.
func (m *Moderator) count(userID string, now time.Time) *Refusal {
	dayStart := startOfDay(now, m.loc)
	if m.shared != nil {
		ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
		defer cancel()
		nextDay := nextDay(dayStart, m.loc)
		// The count outlives its day by an hour, for hubs whose clocks differ a little.
		rule, wait, err := m.shared.Count(ctx, userID, dayStart.Format(time.DateOnly), m.cfg.Cooldown, m.cfg.DailyCap, nextDay.Sub(now)+time.Hour)
		if err != nil {
			m.sharedFailed(err)
			return m.countLocal(userID, now, dayStart)
		}
		m.sharedWorks()
		switch rule {
		case "cooldown":
			return cooldownRefusal(wait)
		case "daily_cap":
			return dailyCapRefusal(m.cfg.DailyCap, nextDay.Sub(now))
		}
		return nil
	}
	return m.countLocal(userID, now, dayStart)
}

// countLocal is count in m's memory.
func (m *Moderator) countLocal(userID string, now, dayStart time.Time) *Refusal {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pruneLocked(now, dayStart)
	s := m.senders[userID]
	if s == nil {
		s = &senderState{}
	}
	if !s.dayStart.Equal(dayStart) {
		s.dayStart, s.count = dayStart, 0
	}
	if cd := m.cfg.Cooldown; cd > 0 && !s.last.IsZero() {
		if wait := s.last.Add(cd).Sub(now); wait > 0 {
			return cooldownRefusal(wait)
		}
	}
	if limit := m.cfg.DailyCap; limit > 0 && s.count >= limit {
		return dailyCapRefusal(limit, nextDay(dayStart, m.loc).Sub(now))
	}
	s.last = now
	s.count++
	m.senders[userID] = s
	return nil
}

func cooldownRefusal(wait time.Duration) *Refusal {
	return &Refusal{Code: "cooldown", RetryAfter: wait,
		Reason: fmt.Sprintf("You are sending messages too fast: wait %s before the next one.", seconds(wait))}
}

func dailyCapRefusal(limit int, retryAfter time.Duration) *Refusal {
	return &Refusal{Code: "daily_cap", RetryAfter: retryAfter,
		Reason: fmt.Sprintf("You have sent today's %d messages; try again tomorrow.", limit)}
}

// pruneLocked forgets, at most every pruneEvery, the senders whose cooldown is over and whose count
// belongs to an earlier day: remembering them changes nothing.
func (m *Moderator) pruneLocked(now, dayStart time.Time) {
	if !m.lastPrune.IsZero() && now.Sub(m.lastPrune) < pruneEvery {
		return
	}
	m.lastPrune = now
	for id, s := range m.senders {
		if s.dayStart.Before(dayStart) && !now.Before(s.last.Add(max(m.cfg.Cooldown, 0))) {
			delete(m.senders, id)
		}
	}
}

// startOfDay is midnight of t's day in loc.
func startOfDay(t time.Time, loc *time.Location) time.Time {
	y, mo, d := t.In(loc).Date()
	return time.Date(y, mo, d, 0, 0, 0, 0, loc)
}

// nextDay is the start of the day after the one starting at dayStart (23 or 25 hours later across a
// daylight saving change).
func nextDay(dayStart time.Time, loc *time.Location) time.Time {
	y, mo, d := dayStart.In(loc).Date()
	return time.Date(y, mo, d+1, 0, 0, 0, 0, loc)
}

// seconds says d in whole seconds, rounded up: "1 second", "12 seconds".
func seconds(d time.Duration) string {
	n := int64((d + time.Second - 1) / time.Second)
	if n == 1 {
		return "1 second"
	}
	return fmt.Sprintf("%d seconds", n)
}
