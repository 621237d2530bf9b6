// Package printer gets messages onto paper: print jobs and their durable queue (RabbitMQ, or embedded on
// disk), the ESC/POS encoder and receipt layouts for an Epson TM-T88IV, the paced serial link with printer
// status, and a renderer that turns receipts into pictures.
package printer

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Source says where a print job came from.
type Source string

// The sources of print jobs.
const (
	SourceDiscord Source = "discord"
	SourceTip     Source = "tip"
	SourceWeb     Source = "web"
	SourceAdmin   Source = "admin"
)

// Job is one receipt to print. ID is derived from the source's own id (a Discord interaction id, a tip id)
// so a source that retries never prints twice.
type Job struct {
	ID        string    `json:"id"`
	Source    Source    `json:"source"`
	Author    string    `json:"author"`
	Text      string    `json:"text"`
	Amount    int64     `json:"amount,omitempty"`   // tips: in minor units (grosze, cents)
	Currency  string    `json:"currency,omitempty"` // tips: ISO 4217, "PLN"
	CreatedAt time.Time `json:"createdAt"`
}

// Validate checks a job from outside (the HTTP API, a bot, a webhook) before it is queued, so that bad input
// is refused with a reason instead of being cut or replaced on paper: a valid id, a known source, an author
// and a text within MaxAuthorRunes and MaxTextRunes, both valid UTF-8, and for tips a sensible amount and
// currency. Control characters are not refused here: the layout drops them.
func (j Job) Validate() error {
	if err := ValidateJobID(j.ID); err != nil {
		return err
	}
	switch j.Source {
	case SourceDiscord, SourceTip, SourceWeb, SourceAdmin:
	default:
		return fmt.Errorf("%w: unknown source %q (want discord, tip, web or admin)", ErrBadJob, clipQueueForLog(string(j.Source)))
	}
	for _, f := range []struct {
		name  string
		value string
		max   int
	}{{"author", j.Author, MaxAuthorRunes}, {"text", j.Text, MaxTextRunes}} {
		if !utf8.ValidString(f.value) {
			return fmt.Errorf("%w: %s is not valid UTF-8", ErrBadJob, f.name)
		}
		if n := utf8.RuneCountInString(f.value); n > f.max {
			return fmt.Errorf("%w: %s has %d characters, at most %d", ErrBadJob, f.name, n, f.max)
		}
	}
	if strings.TrimSpace(SanitizeText(j.Text, 0)) == "" && j.Source != SourceTip {
		return fmt.Errorf("%w: text is empty", ErrBadJob)
	}
	if j.Source == SourceTip {
		if _, err := FormatAmount(j.Amount, j.Currency); err != nil {
			return fmt.Errorf("%w: %v", ErrBadJob, err)
		}
	} else if j.Amount != 0 || j.Currency != "" {
		return fmt.Errorf("%w: only tips have an amount and a currency", ErrBadJob)
	}
	return nil
}
