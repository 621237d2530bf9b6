package bots

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/stagelink/stagelink/printer"
)

// The tip providers, as they appear in the webhook path and in job ids ("kofi:<message_id>").
const (
	ProviderKofi    = "kofi"
	ProviderGeneric = "generic"
	ProviderTipply  = "tipply"
)

// DefaultTipsMaxBody bounds a webhook body when TipsConfig.MaxBody is zero.
const DefaultTipsMaxBody = 64 << 10

const (
	// maxTipMajor refuses absurd amounts: a million in the currency's major unit.
	maxTipMajor = 1_000_000
	// tipSubmitTimeout bounds how long a delivery waits for the queue (a broker reconnecting).
	tipSubmitTimeout = 5 * time.Second
	// tipAnonymous is printed for a tip without a donor name.
	tipAnonymous = "Anonymous"
)

// TipsConfig configures the tip webhooks. Empty secrets leave their provider switched off (its webhook
// answers 404).
type TipsConfig struct {
	// KofiToken is the verification token from Ko-fi (More → API → Webhooks → Advanced).
	KofiToken string
	// GenericSecret is the HMAC-SHA256 key of the generic webhook (see the format in tips_generic.go).
	GenericSecret string
	// MinAmount is the smallest tip printed, per ISO 4217 currency code, in minor units: {"PLN": 500}
	// prints tips from 5,00 zł. Smaller tips are acknowledged but not printed. Currencies not listed have
	// no minimum.
	MinAmount map[string]int64
	// MaxBody bounds a webhook body in bytes; zero means DefaultTipsMaxBody.
	MaxBody int64
	// Tipply is the Tipply alert feed, read by TipplySource.
	Tipply TipplyConfig
}

// LogValue implements slog.LogValuer: it says which providers are set up without logging their secrets.
func (c TipsConfig) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Bool("kofi", c.KofiToken != ""),
		slog.Bool("generic", c.GenericSecret != ""),
		slog.Bool("tipply", c.Tipply.FeedURL != ""),
		slog.Any("minAmount", c.MinAmount),
		slog.Int64("maxBody", c.MaxBody),
	)
}

// minGenericSecret is the shortest generic webhook key accepted.
const minGenericSecret = 16

// Validate checks the configuration and says how to fix it.
func (c TipsConfig) Validate() error {
	if c.KofiToken != strings.TrimSpace(c.KofiToken) {
		return errors.New("bots: the Ko-fi verification token has spaces around it: copy it again from Ko-fi (More → API → Webhooks → Advanced)")
	}
	if c.GenericSecret != "" && len(c.GenericSecret) < minGenericSecret {
		return fmt.Errorf("bots: the generic tip webhook secret is %d bytes, at least %d are needed: make one with `openssl rand -hex 32`",
			len(c.GenericSecret), minGenericSecret)
	}
	for code, min := range c.MinAmount {
		if !tipCurrencyOK(code) {
			return fmt.Errorf("bots: minimum tip amount for %q: the currency must be an upper-case ISO 4217 code like PLN", code)
		}
		if min < 0 {
			return fmt.Errorf("bots: minimum tip amount for %s is negative: give it in minor units (500 for 5,00 zł) or leave it out", code)
		}
	}
	if c.MaxBody < 0 || c.MaxBody > 0 && c.MaxBody < 1<<10 {
		return fmt.Errorf("bots: tip webhook body limit %d is too small: use at least 1024 bytes, or 0 for %d", c.MaxBody, DefaultTipsMaxBody)
	}
	return c.Tipply.Validate()
}

// Tip is a tip as the viewer page shows it live.
type Tip struct {
	Provider string    `json:"provider"`
	Author   string    `json:"author"`
	Amount   int64     `json:"amount"`   // in minor units
	Currency string    `json:"currency"` // ISO 4217
	Text     string    `json:"text"`     // empty when the donor kept it private or moderation refused it
	At       time.Time `json:"at"`
}

// Tips takes tips from tipping services and queues them as receipts: Ko-fi and the generic signed
// webhook over HTTP (Handler), Tipply over its alert feed (TipplySource). Every tip goes the same way:
// verified, decoded, checked against the minimum amount, moderated (a refused text is left out, the tip
// still prints: the donor paid), submitted once per provider id, and announced with onTip.
type Tips struct {
	cfg   TipsConfig
	desk  printDesk
	mod   moderator
	onTip func(Tip)
	log   *slog.Logger
	mux   *http.ServeMux
}

// NewTips returns the tip webhooks over desk and mod. onTip, if not nil, is called once for every tip
// newly queued (not for a delivery repeated by its provider); it must not block.
func NewTips(cfg TipsConfig, desk printDesk, mod moderator, onTip func(Tip), log *slog.Logger) (*Tips, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if desk == nil || mod == nil {
		return nil, errors.New("bots: tips need a print desk and a moderator")
	}
	if cfg.MaxBody == 0 {
		cfg.MaxBody = DefaultTipsMaxBody
	}
	if onTip == nil {
		onTip = func(Tip) {}
	}
	t := &Tips{cfg: cfg, desk: desk, mod: mod, onTip: onTip, log: log.With("component", "tips")}
	t.mux = http.NewServeMux()
	t.mux.HandleFunc("POST /webhooks/tips/{provider}", t.serveWebhook)
	return t, nil
}

// Handler serves POST /webhooks/tips/{provider} for the providers set up: kofi and generic. Mount it
// under that pattern.
func (t *Tips) Handler() http.Handler { return t.mux }

func (t *Tips) serveWebhook(w http.ResponseWriter, r *http.Request) {
	var (
		in  tipIn
		err error
	)
	switch p := r.PathValue("provider"); {
	case p == ProviderKofi && t.cfg.KofiToken != "":
		in, err = t.decodeKofi(w, r)
	case p == ProviderGeneric && t.cfg.GenericSecret != "":
		in, err = t.decodeGeneric(w, r)
	default:
		err = &tipError{http.StatusNotFound, "not_found", "no tip webhook is set up for this provider", 0}
	}
	if err != nil {
		t.writeError(w, r, err)
		return
	}
	out, err := t.take(r.Context(), in)
	if err != nil {
		t.writeError(w, r, err)
		return
	}
	writeTipJSON(w, http.StatusOK, tipAnswer{OK: true, ID: out.JobID, Status: out.Status, Reason: out.Reason})
}

// tipIn is one tip as its provider delivered it, verified and decoded.
type tipIn struct {
	provider string
	id       string // the provider's own id of the tip
	sender   string // what tells the sender apart (an e-mail, a name); hashed into Message.UserID
	author   string
	text     string
	private  bool // the donor asked to keep the text off screen (Ko-fi is_public:false)
	amount   int64
	currency string
	at       time.Time
}

// tipOutcome is what became of a tip.
type tipOutcome struct {
	JobID     string
	Status    string // a printer.JobState, or tipSkipped
	Reason    string // why it was skipped
	Duplicate bool
}

// tipSkipped is the status of a tip acknowledged but not printed.
const tipSkipped = "skipped"

// take runs one decoded tip through the minimum, moderation and the print desk.
func (t *Tips) take(ctx context.Context, in tipIn) (tipOutcome, error) {
	in.currency = strings.ToUpper(strings.TrimSpace(in.currency))
	if !tipCurrencyOK(in.currency) {
		return tipOutcome{}, badTip("currency must be a three-letter ISO 4217 code like PLN")
	}
	if in.amount < 0 {
		return tipOutcome{}, badTip("amount is negative")
	}
	if max := maxTipMinor(in.currency); in.amount > max {
		return tipOutcome{}, badTip(fmt.Sprintf("amount is more than %d %s", maxTipMajor, in.currency))
	}
	if in.id == "" {
		return tipOutcome{}, badTip("the tip has no id")
	}
	jobID := tipJobID(in.provider, in.id)
	if st, ok := t.desk.Status(jobID); ok && st.State != printer.JobFailed {
		return tipOutcome{JobID: jobID, Status: string(st.State), Duplicate: true}, nil
	}
	if min := t.cfg.MinAmount[in.currency]; in.amount == 0 || in.amount < min {
		t.log.Info("tip not printed", "job", jobID, "code", "too_small", "amount", in.amount, "currency", in.currency, "min", min)
		return tipOutcome{JobID: jobID, Status: tipSkipped, Reason: "too_small"}, nil
	}
	if in.at.IsZero() {
		in.at = time.Now()
	}
	msg := Message{Source: printer.SourceTip, JobID: jobID, UserID: tipUserID(in.provider, in.sender),
		Author: tipAuthor(in.author), Amount: in.amount, Currency: in.currency, At: in.at.UTC().Truncate(time.Second)}
	if !in.private {
		msg.Text = in.text
	}
	job := msg.Job()
	admitted, err := t.mod.Admit(msg)
	var refusal *Refusal
	switch {
	case errors.As(err, &refusal):
		// The donor paid: the tip prints, without the text.
		t.log.Info("tip text refused; printing the tip without it", "job", jobID, "code", refusal.Code, "user", msg.UserID)
		job.Text = ""
	case err != nil:
		return tipOutcome{}, fmt.Errorf("bots: moderating tip %s: %w", jobID, err)
	default:
		// Moderation may change the words (links stripped), not what identifies the tip or its amount.
		job.Author, job.Text = tipAuthor(admitted.Author), admitted.Text
	}
	ctx, cancel := context.WithTimeout(ctx, tipSubmitTimeout)
	defer cancel()
	st, dup, err := t.desk.Submit(ctx, job)
	if job.Text != "" && (errors.Is(err, printer.ErrBadJob) || errors.Is(err, printer.ErrJobTooLarge)) {
		t.log.Info("tip text cannot be printed; printing the tip without it", "job", jobID, "err", err)
		job.Text = ""
		st, dup, err = t.desk.Submit(ctx, job)
	}
	if err != nil {
		return tipOutcome{}, err
	}
	if !dup {
		t.log.Info("tip queued", "job", jobID, "amount", job.Amount, "currency", job.Currency, "withText", job.Text != "")
		t.onTip(Tip{Provider: in.provider, Author: tipViewerText(job.Author), Amount: job.Amount, Currency: job.Currency,
			Text: tipViewerText(job.Text), At: job.CreatedAt})
	}
	return tipOutcome{JobID: jobID, Status: string(st.State), Duplicate: dup}, nil
}

// tipJobID derives the job id from the provider's id: "kofi:<message_id>", or a hash of the id when it
// has characters a job id cannot hold or is too long.
func tipJobID(provider, id string) string {
	jobID := provider + ":" + id
	if printer.ValidateJobID(jobID) != nil {
		sum := sha256.Sum256([]byte(id))
		jobID = provider + ":sha256-" + hex.EncodeToString(sum[:16])
	}
	return jobID
}

// tipUserID names the sender stably without keeping their e-mail or name: "kofi:<hash>".
func tipUserID(provider, sender string) string {
	sender = strings.ToLower(strings.TrimSpace(sender))
	if sender == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(provider + "\x00" + sender))
	return provider + ":" + hex.EncodeToString(sum[:8])
}

// tipAuthor is the donor name as printed: at most MaxAuthorRunes characters, Anonymous when empty.
func tipAuthor(name string) string {
	name = strings.TrimSpace(strings.ToValidUTF8(name, "?"))
	if utf8.RuneCountInString(name) > printer.MaxAuthorRunes {
		name = string([]rune(name)[:printer.MaxAuthorRunes-1]) + "…"
	}
	if strings.TrimSpace(printer.SanitizeText(name, 0)) == "" {
		return tipAnonymous
	}
	return name
}

// tipViewerText drops control characters (but not line breaks) from text shown to viewers.
func tipViewerText(s string) string {
	return strings.Map(func(r rune) rune {
		if r != '\n' && (unicode.IsControl(r) || r == utf8.RuneError) {
			return -1
		}
		return r
	}, s)
}

// tipCurrencyOK reports whether code is three upper-case letters.
func tipCurrencyOK(code string) bool {
	if len(code) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if code[i] < 'A' || code[i] > 'Z' {
			return false
		}
	}
	return true
}

// maxTipMinor is the largest amount accepted in code's minor units.
func maxTipMinor(code string) int64 {
	m := int64(maxTipMajor)
	for range printer.CurrencyDigits(code) {
		m *= 10
	}
	return m
}

// parseTipAmount turns a decimal amount such as "3.00" into minor units of code: "3.5" USD is 350,
// "500" JPY is 500. It refuses signs, exponents, separators, and more fractional digits than the
// currency has (unless they are zeros).
func parseTipAmount(s, code string) (int64, error) {
	digits := printer.CurrencyDigits(code)
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || !tipDigits(whole) || !tipDigits(frac) {
		return 0, fmt.Errorf("amount %q is not a decimal number like 3.00", tipClip(s, 32))
	}
	if len(frac) > digits {
		if strings.Trim(frac[digits:], "0") != "" {
			return 0, fmt.Errorf("amount %q has more decimals than %s has", tipClip(s, 32), code)
		}
		frac = frac[:digits]
	}
	frac += strings.Repeat("0", digits-len(frac))
	whole = strings.TrimLeft(whole, "0")
	if len(whole) > 12 {
		return 0, fmt.Errorf("amount %q is too large", tipClip(s, 32))
	}
	n, err := strconv.ParseInt("0"+whole+frac, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("amount %q is not a decimal number like 3.00", tipClip(s, 32))
	}
	return n, nil
}

func tipDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// tipClip shortens outside input quoted in an error message.
func tipClip(s string, n int) string {
	s = strings.ToValidUTF8(s, "?")
	if utf8.RuneCountInString(s) > n {
		return string([]rune(s)[:n]) + "…"
	}
	return s
}

// tipContentType answers whether r's Content-Type is want (parameters such as charset ignored).
func tipContentType(r *http.Request, want string) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != want {
		return &tipError{http.StatusUnsupportedMediaType, "unsupported_media_type", "the body must be " + want, 0}
	}
	return nil
}

// readTipBody reads r's body up to the configured bound.
func (t *Tips) readTipBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, t.cfg.MaxBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return nil, &tipError{http.StatusRequestEntityTooLarge, "too_large",
			fmt.Sprintf("the body is larger than %d bytes", tooBig.Limit), 0}
	case err != nil:
		return nil, badTip("reading the body: " + err.Error())
	}
	return b, nil
}

// tipError is a refusal of a delivery, answered to the provider.
type tipError struct {
	status     int
	code       string
	message    string
	retryAfter time.Duration
}

func (e *tipError) Error() string { return e.code + ": " + e.message }

func badTip(msg string) *tipError { return &tipError{http.StatusBadRequest, "bad_request", msg, 0} }

func unauthorizedTip(msg string) *tipError {
	return &tipError{http.StatusUnauthorized, "unauthorized", msg, 0}
}

// tipFailure maps an error from decoding or taking a tip to its answer. Queue errors answer 503 so that
// the provider delivers the tip again later.
func tipFailure(err error) *tipError {
	var te *tipError
	switch {
	case errors.As(err, &te):
		return te
	case errors.Is(err, printer.ErrBadJob), errors.Is(err, printer.ErrBadJobID), errors.Is(err, printer.ErrJobTooLarge):
		return badTip(err.Error())
	case errors.Is(err, printer.ErrQueueFull):
		return &tipError{http.StatusServiceUnavailable, "queue_full", "the print queue is full; try again later", 30 * time.Second}
	default:
		return &tipError{http.StatusServiceUnavailable, "unavailable", "the print queue is unavailable; try again later", 5 * time.Second}
	}
}

// tipAnswer is the JSON answer to a webhook delivery.
type tipAnswer struct {
	OK     bool          `json:"ok"`
	ID     string        `json:"id,omitempty"`
	Status string        `json:"status,omitempty"`
	Reason string        `json:"reason,omitempty"`
	Error  *tipErrorBody `json:"error,omitempty"`
}

type tipErrorBody struct {
	Code         string `json:"code"`
	Message      string `json:"message"`
	RetryAfterMs int64  `json:"retryAfterMs,omitempty"`
}

func (t *Tips) writeError(w http.ResponseWriter, r *http.Request, err error) {
	te := tipFailure(err)
	if te.status >= 500 {
		t.log.Warn("tip not taken", "provider", r.PathValue("provider"), "err", err)
	} else {
		t.log.Info("tip delivery refused", "provider", r.PathValue("provider"), "status", te.status, "err", te.message)
	}
	if te.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(te.retryAfter/time.Second)))
	}
	writeTipJSON(w, te.status, tipAnswer{Error: &tipErrorBody{Code: te.code, Message: te.message, RetryAfterMs: te.retryAfter.Milliseconds()}})
}

func writeTipJSON(w http.ResponseWriter, status int, v tipAnswer) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
