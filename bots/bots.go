// Package bots brings the community's messages to the printer: the Discord bot (slash commands, over the
// gateway or the HTTP interactions endpoint), tip webhooks (Ko-fi, a generic signed webhook, Tipply), and
// the moderation both go through before a job is queued.
package bots

import (
	"context"
	"time"

	"github.com/stagelink/stagelink/printer"
)

// Message is a request to print from the community, before moderation.
type Message struct {
	// Source is where it came from: printer.SourceDiscord or printer.SourceTip.
	Source printer.Source
	// JobID is the print job's id, derived from the source's own id (an interaction id, a Ko-fi
	// message_id), so a source that delivers it again never prints twice.
	JobID string
	// UserID names the sender stably within the source, for cooldowns, caps and blocks: "discord:1234",
	// "kofi:<sender name or email hash>". Empty for senders that cannot be told apart.
	UserID string
	// Author is the name printed on the receipt.
	Author string
	// Text is the message as sent.
	Text string
	// Amount and Currency are a tip's value, in minor units and ISO 4217; zero for messages.
	Amount   int64
	Currency string
	// At is when the source says it was sent.
	At time.Time
}

// Job turns an admitted message into its print job.
func (m Message) Job() printer.Job {
	return printer.Job{ID: m.JobID, Source: m.Source, Author: m.Author, Text: m.Text, Amount: m.Amount,
		Currency: m.Currency, CreatedAt: m.At}
}

// Refusal is why moderation (or a limit) refused a message, told to the sender and logged for the
// dashboard. It is an error.
type Refusal struct {
	// Code is a stable machine-readable reason: "too_long", "empty", "blocked_word", "link",
	// "cooldown", "daily_cap", "blocked_user", "paused", "too_small".
	Code string
	// Reason is a short sentence for the sender, in English, without the offending text.
	Reason string
	// RetryAfter, when positive, is when the sender may try again (cooldown, daily cap).
	RetryAfter time.Duration
}

func (r *Refusal) Error() string { return "refused: " + r.Reason }

// printDesk is the print queue as the bots see it (printer.Tracker).
type printDesk interface {
	Submit(ctx context.Context, job printer.Job) (st printer.JobStatus, duplicate bool, err error)
	Status(id string) (printer.JobStatus, bool)
}

var _ printDesk = (*printer.Tracker)(nil)

// moderator decides whether a message may be printed (Moderator).
type moderator interface {
	// Admit checks m and, when it may be printed, counts it against the sender's cooldown and daily cap
	// (not for tips: they are paid). It returns the message to print (links stripped, when so configured)
	// or a *Refusal saying why not.
	Admit(m Message) (Message, error)
}
