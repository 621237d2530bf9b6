package printer

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrBadJob means a job cannot be laid out: no id, an unknown source, or a tip amount that makes no sense.
var ErrBadJob = errors.New("printer: bad job")

// LayoutConfig is what the streamer sets for every receipt. Header and footer are user text: they are
// sanitised like messages and bounded to MaxHeaderRunes.
type LayoutConfig struct {
	Header   string         // printed centred and bold at the top; empty prints nothing
	Footer   string         // printed centred at the bottom; empty prints nothing
	Location *time.Location // time zone of the printed time; nil means UTC

	// Reprint marks the receipt as printed again (ReprintMark under the title) because printing it before
	// was interrupted, so that a reader who finds the first, possibly partial, copy knows.
	Reprint bool
}

// ReprintMark is printed under the title of a receipt printed again after an interrupted print.
const ReprintMark = "PONOWNY WYDRUK"

// layoutTimeFormat is how a job's time is printed.
const layoutTimeFormat = "2006-01-02 15:04"

// Render lays out one job as a complete receipt in ESC/POS: init and code page, the header, a title for
// the source, the author, the amount (tips), the text, the time, the footer, then feed and cut. All user
// text (author, text, header, footer) goes through SanitizeText, so only the encoder's own commands reach
// the printer. It refuses jobs without an id, of an unknown source, or tips with a negative amount or a
// currency code that is not three letters.
func Render(job Job, cfg LayoutConfig) ([]byte, error) {
	if strings.TrimSpace(job.ID) == "" {
		return nil, fmt.Errorf("%w: the job has no id", ErrBadJob)
	}
	var title, byLabel, amount string
	switch job.Source {
	case SourceDiscord:
		title, byLabel = "DISCORD", ""
	case SourceTip:
		title, byLabel = "NAPIWEK", "od: "
		if job.Amount != 0 || job.Currency != "" {
			a, err := FormatAmount(job.Amount, job.Currency)
			if err != nil {
				return nil, fmt.Errorf("%w: job %q: %v", ErrBadJob, job.ID, err)
			}
			amount = a
		}
	case SourceWeb:
		title, byLabel = "WIADOMOŚĆ", ""
	case SourceAdmin:
		title, byLabel = "OD STREAMERA", ""
	default:
		return nil, fmt.Errorf("%w: job %q has unknown source %q (want discord, tip, web or admin)",
			ErrBadJob, job.ID, SanitizeText(string(job.Source), 32))
	}

	loc := cfg.Location
	if loc == nil {
		loc = time.UTC
	}
	r := NewReceipt()
	if h := SanitizeText(cfg.Header, MaxHeaderRunes); h != "" {
		r.Align(AlignCenter).Bold(true).text(h)
		r.Bold(false)
	}
	r.Align(AlignLeft).Line('=')

	r.Align(AlignCenter).DoubleSize(true, true).Bold(true).text(title)
	if amount != "" {
		r.text(amount)
	}
	r.Bold(false).DoubleSize(false, false)
	if cfg.Reprint {
		r.text("*** " + ReprintMark + " ***")
	}
	r.Align(AlignLeft)

	author := SanitizeText(job.Author, MaxAuthorRunes)
	if author != "" {
		r.Bold(true).text(byLabel + author)
		r.Bold(false)
	}
	if text := SanitizeText(job.Text, MaxTextRunes); text != "" {
		r.Feed(1).text(text)
	}
	if !job.CreatedAt.IsZero() {
		r.Feed(1).Align(AlignRight).text(job.CreatedAt.In(loc).Format(layoutTimeFormat))
	}
	r.Align(AlignLeft).Line('=')
	if f := SanitizeText(cfg.Footer, MaxHeaderRunes); f != "" {
		r.Align(AlignCenter).text(f)
		r.Align(AlignLeft)
	}
	r.Feed(2).Cut(0)
	return r.Bytes()
}

// currencyFormat is how one currency writes its amounts.
type currencyFormat struct {
	prefix, suffix string // symbol or code before or after the number
	decimal, group string // decimal and thousands separators
	minorDigits    int    // digits of the minor unit
}

// currencyFormatFor gives the convention used for code. Each currency is printed the way its own
// readers write it, limited to what PC852 can print (it has no € or £ sign):
//
//	PLN  1 234,50 zł   Polish: space groups, decimal comma, "zł" after
//	EUR  1 234,50 EUR  continental European order; the code stands in for the missing €
//	USD  $1,234.50     US: comma groups, decimal point, "$" before
//	GBP  1,234.50 GBP  UK digits; the code stands in for the missing £
//	CZK  1 234,50 Kč   Czech (PC852 has "č")
//	other: 1234.50 XYZ the currency's minor digits (CurrencyDigits: 500 JPY, 1.250 KWD), the code after
func currencyFormatFor(code string) currencyFormat {
	switch code {
	case "PLN":
		return currencyFormat{suffix: " zł", decimal: ",", group: " ", minorDigits: 2}
	case "EUR":
		return currencyFormat{suffix: " EUR", decimal: ",", group: " ", minorDigits: 2}
	case "USD":
		return currencyFormat{prefix: "$", decimal: ".", group: ",", minorDigits: 2}
	case "GBP":
		return currencyFormat{suffix: " GBP", decimal: ".", group: ",", minorDigits: 2}
	case "CZK":
		return currencyFormat{suffix: " Kč", decimal: ",", group: " ", minorDigits: 2}
	}
	return currencyFormat{suffix: " " + code, decimal: ".", minorDigits: CurrencyDigits(code)}
}

// CurrencyDigits is the number of digits of the minor unit of the ISO 4217 currency code: 0 for JPY, 3 for
// KWD, 2 for the rest.
func CurrencyDigits(code string) int {
	switch strings.ToUpper(code) {
	case "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV",
		"XAF", "XOF", "XPF":
		return 0
	case "BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND":
		return 3
	}
	return 2
}

// FormatAmount writes an amount given in minor units (grosze, cents) of the ISO 4217 currency code, the
// way currencyFormatFor describes: FormatAmount(1250, "PLN") is "12,50 zł", FormatAmount(500, "USD")
// "$5.00", FormatAmount(1250, "XYZ") "12.50 XYZ". The code is case-insensitive; it must be three
// letters and the amount must not be negative.
func FormatAmount(minor int64, code string) (string, error) {
	code = strings.ToUpper(code)
	if len(code) != 3 || strings.Trim(code, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
		return "", fmt.Errorf("currency code %q is not three letters (ISO 4217, like PLN)", SanitizeText(code, 16))
	}
	if minor < 0 {
		return "", fmt.Errorf("amount %d is negative", minor)
	}
	f := currencyFormatFor(code)
	digits := strconv.FormatInt(minor, 10)
	if len(digits) <= f.minorDigits {
		digits = strings.Repeat("0", f.minorDigits-len(digits)+1) + digits
	}
	whole, frac := digits[:len(digits)-f.minorDigits], digits[len(digits)-f.minorDigits:]
	if f.group != "" {
		var b strings.Builder
		for i, c := range whole {
			if i > 0 && (len(whole)-i)%3 == 0 {
				b.WriteString(f.group)
			}
			b.WriteRune(c)
		}
		whole = b.String()
	}
	s := whole
	if f.minorDigits > 0 {
		s += f.decimal + frac
	}
	return f.prefix + s + f.suffix, nil
}
