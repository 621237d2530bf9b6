package bots

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/stagelink/stagelink/printer"
)

// LinkPolicy says what moderation does with links in a message.
type LinkPolicy string

// The link policies.
const (
	// LinksRefuse refuses messages with a link (the default).
	LinksRefuse LinkPolicy = "refuse"
	// LinksStrip prints messages with their links taken out.
	LinksStrip LinkPolicy = "strip"
	// LinksAllow prints links as they are.
	LinksAllow LinkPolicy = "allow"
)

// Defaults of ModerationConfig's zero fields.
const (
	DefaultModerationMaxRunes = 500
	DefaultModerationCooldown = 30 * time.Second
	DefaultModerationDailyCap = 20
	DefaultModerationTimeZone = "Europe/Warsaw"
)

// ModerationConfig tunes the Moderator. Zero fields take the defaults.
type ModerationConfig struct {
	// MaxRunes is the most characters a message may have as printed, emoji counted as their printed
	// names (default 500, at most printer.MaxTextRunes).
	MaxRunes int
	// BlockedWordsFile is a UTF-8 text file of blocked words and phrases, one a line, empty means none.
	// Lines starting with '#' are comments; an entry ending in '*' also blocks the words it starts
	// ("kurw*"). Matching ignores case, diacritics, repeated letters, look-alike and leet characters and
	// letters written apart (moderation_words.go says exactly how). Run reloads the file when it changes.
	BlockedWordsFile string
	// Links says what to do with links: LinksRefuse (default), LinksStrip or LinksAllow.
	Links LinkPolicy
	// Cooldown is the least time between two admitted messages of one sender (default 30s; negative
	// turns it off). Tips have none.
	Cooldown time.Duration
	// DailyCap is the most admitted messages of one sender per day (default 20; negative turns it off).
	// Tips have none.
	DailyCap int
	// TimeZone is the IANA name of the zone whose midnight starts a new day for DailyCap (default
	// Europe/Warsaw).
	TimeZone string
	// BlockedUsers are the Message.UserIDs refused from the start ("discord:1234").
	BlockedUsers []string
	// Paused starts with printing paused.
	Paused bool
}

func (c ModerationConfig) withDefaults() ModerationConfig {
	if c.MaxRunes == 0 {
		c.MaxRunes = DefaultModerationMaxRunes
	}
	if c.Links == "" {
		c.Links = LinksRefuse
	}
	if c.Cooldown == 0 {
		c.Cooldown = DefaultModerationCooldown
	}
	if c.DailyCap == 0 {
		c.DailyCap = DefaultModerationDailyCap
	}
	if c.TimeZone == "" {
		c.TimeZone = DefaultModerationTimeZone
	}
	return c
}

// Validate says what is wrong with c, after defaults, and how to fix it.
func (c ModerationConfig) Validate() error {
	c = c.withDefaults()
	var errs []error
	if c.MaxRunes < 1 || c.MaxRunes > printer.MaxTextRunes {
		errs = append(errs, fmt.Errorf("bots: moderation max length %d out of range: use 1–%d characters (0 means %d)",
			c.MaxRunes, printer.MaxTextRunes, DefaultModerationMaxRunes))
	}
	switch c.Links {
	case LinksRefuse, LinksStrip, LinksAllow:
	default:
		errs = append(errs, fmt.Errorf("bots: moderation links policy %q unknown: use refuse, strip or allow", c.Links))
	}
	if _, err := time.LoadLocation(c.TimeZone); err != nil {
		errs = append(errs, fmt.Errorf("bots: moderation time zone %q: %v: use an IANA name such as %s "+
			"(the system needs its time zone database, or the program must import time/tzdata)",
			c.TimeZone, err, DefaultModerationTimeZone))
	}
	for i, u := range c.BlockedUsers {
		if strings.TrimSpace(u) == "" {
			errs = append(errs, fmt.Errorf("bots: blocked user %d is empty: remove it or give a user id such as discord:1234", i+1))
		}
	}
	return errors.Join(errs...)
}

// Moderator decides whether a message may be printed: the content rules (length, blocked words, links),
// blocked users, the pause switch, and per-sender cooldowns and daily caps. Every refusal is logged and
// kept for the dashboard (Refusals). It is safe for concurrent use.
type Moderator struct {
	cfg ModerationConfig // with defaults
	loc *time.Location
	log *slog.Logger

	mu         sync.Mutex
	paused     bool
	blocked    map[string]struct{}
	words      *wordList // never nil; replaced whole on reload
	wordsStamp fileStamp // of the file the words came from
	senders    map[string]*senderState
	lastPrune  time.Time
	refusals   refusalRing
	running    bool
	shared     sharedModeration // nil: the pause and the sender counts are this process's alone (Share)
	// pendingPause is a pause set while shared failed: written there once it answers, so that the
	// operator's last word wins over what the shared state held before.
	pendingPause *bool
	sharedDown   atomic.Bool // shared fails: logged once when it starts failing, once when it answers
}

var _ moderator = (*Moderator)(nil)

// NewModerator checks cfg and reads the blocked words file, if any; a missing or bad file is an error
// here, while Run keeps the last good list. It starts nothing: Run follows the file.
func NewModerator(cfg ModerationConfig, log *slog.Logger) (*Moderator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	loc, err := time.LoadLocation(cfg.TimeZone)
	if err != nil {
		return nil, err // Validate loaded it already
	}
	m := &Moderator{
		cfg:      cfg,
		loc:      loc,
		log:      log.With("component", "moderation"),
		paused:   cfg.Paused,
		blocked:  make(map[string]struct{}, len(cfg.BlockedUsers)),
		words:    &wordList{},
		senders:  make(map[string]*senderState),
		refusals: refusalRing{max: maxRefusalRecords},
	}
	for _, u := range cfg.BlockedUsers {
		m.blocked[strings.TrimSpace(u)] = struct{}{}
	}
	if cfg.BlockedWordsFile != "" {
		list, stamp, badLines, err := loadBlockedWords(cfg.BlockedWordsFile)
		if err != nil {
			return nil, fmt.Errorf("bots: blocked words file: %v: create it (UTF-8, one word or phrase per line) or leave the setting empty", err)
		}
		m.words, m.wordsStamp = list, stamp
		m.logLoaded(cfg.BlockedWordsFile, list, badLines)
	}
	return m, nil
}

// Admit checks msg in this order: pause, blocked sender, empty, too long, blocked words, links, cooldown,
// daily cap, and returns a *Refusal with the first rule msg breaks. An admitted message counts against its
// sender's cooldown and daily cap, except for tips (paid) and senders without a UserID. With LinksStrip
// the returned message's text is the printable text without its links; otherwise msg is returned as it is.
// Tips with no printable text are admitted: they print without one.
func (m *Moderator) Admit(msg Message) (Message, error) {
	paused := m.Paused()
	m.mu.Lock()
	_, blocked := m.blocked[msg.UserID]
	words := m.words
	m.mu.Unlock()

	switch {
	case paused:
		return Message{}, m.refuse(msg, "paused", "Printing is paused right now; try again later.", 0)
	case blocked && msg.UserID != "":
		return Message{}, m.refuse(msg, "blocked_user", "You are not allowed to print messages here.", 0)
	}

	out, r := m.checkContent(msg, words)
	if r != nil {
		return Message{}, m.refuse(msg, r.Code, r.Reason, 0)
	}
	if msg.Source == printer.SourceTip || msg.UserID == "" {
		return out, nil
	}
	if r := m.count(msg.UserID, time.Now()); r != nil {
		return Message{}, m.refuse(msg, r.Code, r.Reason, r.RetryAfter)
	}
	return out, nil
}

// checkContent applies the rules about the text itself and returns the message to print.
func (m *Moderator) checkContent(msg Message, words *wordList) (Message, *Refusal) {
	printed, tooLong := "", false
	if utf8.RuneCountInString(msg.Text) > printer.MaxTextRunes {
		// Bounded work; the job could not be queued anyway (printer.Job.Validate).
		printed, tooLong = printer.SanitizeText(msg.Text, printer.MaxTextRunes), true
	} else {
		printed = printer.SanitizeText(msg.Text, 0)
	}
	if strings.TrimSpace(printed) == "" {
		if msg.Source == printer.SourceTip {
			return msg, nil
		}
		return msg, &Refusal{Code: "empty", Reason: "Your message has nothing printable in it."}
	}
	if tooLong || utf8.RuneCountInString(printed) > m.cfg.MaxRunes {
		return msg, &Refusal{Code: "too_long", Reason: fmt.Sprintf(
			"Your message is too long: at most %d characters, emoji counted as their names.", m.cfg.MaxRunes)}
	}
	if words.matches(msg.Text) || words.matches(printed) {
		return msg, blockedWordRefusal()
	}
	switch m.cfg.Links {
	case LinksRefuse:
		if hasLink(printed) {
			return msg, &Refusal{Code: "link", Reason: "Links are not allowed " +
				"(if that was not meant as a link, put a space after the dot)."}
		}
	case LinksStrip:
		if hasLink(printed) {
			stripped := stripLinks(printed)
			// Taking a link out can join what was around it into another ("x.<https://a.pl>com").
			for range 3 {
				if !hasLink(stripped) {
					break
				}
				stripped = stripLinks(stripped)
			}
			if hasLink(stripped) {
				return msg, &Refusal{Code: "link", Reason: "Links are not allowed."}
			}
			if strings.TrimSpace(stripped) == "" {
				return msg, &Refusal{Code: "link", Reason: "Your message was only a link, and links are not printed."}
			}
			if words.matches(stripped) { // taking links out can bring spelt-out letters together
				return msg, blockedWordRefusal()
			}
			msg.Text = stripped
		}
	}
	return msg, nil
}

func blockedWordRefusal() *Refusal {
	return &Refusal{Code: "blocked_word", Reason: "Your message contains a word that is not allowed."}
}

// refuse logs a refusal, keeps it for the dashboard and returns it.
func (m *Moderator) refuse(msg Message, code, reason string, retryAfter time.Duration) *Refusal {
	rec := RefusalRecord{
		At:      time.Now(),
		Source:  msg.Source,
		JobID:   clipLine(msg.JobID, 100),
		UserID:  clipLine(msg.UserID, 100),
		Author:  clipLine(msg.Author, printer.MaxAuthorRunes),
		Code:    code,
		Reason:  reason,
		Excerpt: clipLine(msg.Text, refusalExcerptRunes),
	}
	m.mu.Lock()
	m.refusals.add(rec)
	m.mu.Unlock()
	m.log.Info("message refused", "code", code, "source", msg.Source, "user", rec.UserID, "job", rec.JobID)
	return &Refusal{Code: code, Reason: reason, RetryAfter: retryAfter}
}

// clipLine makes outside text safe to show on one line of the dashboard: printable, at most max runes.
func clipLine(s string, max int) string {
	return strings.ReplaceAll(printer.SanitizeText(s, max), "\n", " ")
}

// sharedTimeout bounds each request to the shared state: a slow Redis must not hold up a Discord reply.
const sharedTimeout = 500 * time.Millisecond

// Share makes m keep the pause switch and the senders' cooldowns and daily counts in s, shared by every
// hub of a cluster (RedisModeration). Call it before m is used. If s fails, m goes on with what it knows
// itself: printing keeps working while Redis is away.
func (m *Moderator) Share(s sharedModeration) { m.shared = s }

// SetPaused pauses or resumes printing, on every hub when shared: while paused every message is refused
// with "paused". If the shared state cannot be written, the pause holds on this hub at once and is
// written there as soon as it answers.
func (m *Moderator) SetPaused(paused bool) {
	m.mu.Lock()
	if m.paused != paused {
		m.log.Info("printing paused", "paused", paused)
	}
	m.paused = paused
	m.pendingPause = nil
	m.mu.Unlock()
	if m.shared == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
	defer cancel()
	if err := m.shared.SetPaused(ctx, paused); err != nil {
		m.mu.Lock()
		m.pendingPause = &paused
		m.mu.Unlock()
		m.sharedFailed(err)
		return
	}
	m.sharedWorks()
}

// Paused reports whether printing is paused: the shared switch once anyone has set it, else (or while it
// cannot be read) this hub's.
func (m *Moderator) Paused() bool {
	if m.shared == nil {
		m.mu.Lock()
		defer m.mu.Unlock()
		return m.paused
	}
	ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
	defer cancel()
	m.mu.Lock()
	pending := m.pendingPause
	m.mu.Unlock()
	if pending != nil {
		if err := m.shared.SetPaused(ctx, *pending); err != nil {
			m.sharedFailed(err)
			return *pending
		}
		m.mu.Lock()
		if m.pendingPause == pending {
			m.pendingPause = nil
		}
		m.mu.Unlock()
		m.sharedWorks()
		return *pending
	}
	paused, set, err := m.shared.Paused(ctx)
	if err != nil {
		m.sharedFailed(err)
	} else {
		m.sharedWorks()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err == nil && set {
		m.paused = paused
	}
	return m.paused
}

// sharedFailed logs that the shared state fails, once until it answers again.
func (m *Moderator) sharedFailed(err error) {
	if !m.sharedDown.Swap(true) {
		m.log.Warn("shared moderation state unreachable: this hub goes on with its own pause and sender counts", "err", err)
	}
}

// sharedWorks logs that the shared state answers again after failing.
func (m *Moderator) sharedWorks() {
	if m.sharedDown.Swap(false) {
		m.log.Info("shared moderation state reachable again")
	}
}

// Block refuses every further message of userID (a Message.UserID such as "discord:1234"). An empty id
// is ignored: senders without an id cannot be told apart.
func (m *Moderator) Block(userID string) {
	if userID == "" {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.blocked[userID] = struct{}{}
	m.log.Info("user blocked", "user", userID)
}

// Unblock lets userID print again.
func (m *Moderator) Unblock(userID string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.blocked[userID]; ok {
		delete(m.blocked, userID)
		m.log.Info("user unblocked", "user", userID)
	}
}

// Blocked returns the blocked user ids, sorted.
func (m *Moderator) Blocked() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	ids := make([]string, 0, len(m.blocked))
	for id := range m.blocked {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// logLoaded reports a newly loaded blocked words list.
func (m *Moderator) logLoaded(path string, list *wordList, badLines []int) {
	m.log.Info("blocked words loaded", "file", path, "entries", list.entries)
	if len(badLines) > 0 {
		m.log.Warn("blocked words file has lines with nothing to match or a '*' before the end; they are skipped",
			"file", path, "lines", badLines[:min(len(badLines), 20)])
	}
}
