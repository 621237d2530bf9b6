package web

import (
	"time"

	"github.com/stagelink/stagelink/printer"
)

// TipMsg is the `tip` event: a tip that was just queued for printing, shown live on the viewer page.
type TipMsg struct {
	Author   string    `json:"author"`
	Amount   int64     `json:"amount"`   // minor units
	Currency string    `json:"currency"` // ISO 4217
	Display  string    `json:"display"`  // the amount as printed: "12,50 zł"
	Text     string    `json:"text"`     // empty when the tip was private or its text refused
	At       time.Time `json:"at"`
}

// Tip tells every viewer about a tip, with author and text on one line each, without control characters
// and bounded; the page shows them as text, never as markup.
func (s *Server) Tip(author string, amount int64, currency, text string, at time.Time) {
	display, err := printer.FormatAmount(amount, currency)
	if err != nil {
		s.log.Warn("tip with an amount that cannot be shown", "err", err)
		return
	}
	s.emitEverywhere("/", "tip", TipMsg{
		Author:   pageText(author, printer.MaxAuthorRunes),
		Amount:   amount,
		Currency: currency,
		Display:  display,
		Text:     pageText(text, maxTipTextRunes),
		At:       at,
	})
}

// maxTipTextRunes bounds the text of a tip on the page: a banner, not the receipt.
const maxTipTextRunes = 280
