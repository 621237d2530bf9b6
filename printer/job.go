// Package printer gets messages onto paper: print jobs and their durable queue (RabbitMQ, or embedded on
// disk), the ESC/POS encoder and receipt layouts for an Epson TM-T88IV, the paced serial link with printer
// status, and a renderer that turns receipts into pictures.
package printer

import "time"

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
