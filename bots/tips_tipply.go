package bots

// Tipply (https://tipply.pl) publishes no webhook and no documented API: its alert widget, the page a
// streamer adds to OBS, receives tips over a Socket.IO feed. TipplySource reads that feed like the widget
// does. Everything below about the feed is an ASSUMPTION, taken from a third-party relay that forwards
// Tipply tips to StreamElements (a Node.js script reading the widget's traffic), not from Tipply, and not
// checked against Tipply's servers:
//
//   - ASSUMPTION (address): the feed is the Socket.IO server at https://ws.tipply.pl (path /socket.io/),
//     namespace "/tip/<the streamer's user id from the widget URL>". FeedURL holds both, the namespace as
//     the URL's path, the way socket.io-client's io() reads a URL: "https://ws.tipply.pl/tip/<user id>".
//   - ASSUMPTION (event): each tip arrives as an event named "tip" whose one argument is the tip as a JSON
//     text (a string holding an object); an object argument is taken too.
//   - ASSUMPTION (fields): "id" (the tip's id; string or number), "nickname" (the donor), "amount" (an
//     integer in grosze: 500 is 5,00 zł), "message" (HTML: emotes are <img … alt="name">, which become
//     their alt text; other tags are dropped and entities decoded). Other fields are ignored. A tip with no
//     id gets one from a hash of its payload, so the same tip sent again still prints once.
//   - ASSUMPTION (currency): amounts are PLN (TipplyConfig.Currency overrides it).
//   - ASSUMPTION (privacy): the feed has no private flag; the widget shows every message, so every message
//     prints (after moderation).
//   - RISK (protocol): the third-party relay speaks Engine.IO 3 (Socket.IO 2, "EIO=3"); the client used
//     here (github.com/zishang520/socket.io-client-go v1.1.0) speaks only Engine.IO 4 (Socket.IO v5). If
//     Tipply's server does not accept Engine.IO 4 clients, this source cannot connect, and logs it: it then
//     needs an Engine.IO 3 client behind the same small interface (decodeTipplyTip and Tips.take).
//   - RISK (delivery): socket.io-client-go handles packets concurrently and can lose an event that arrives
//     while it handles the namespace CONNECT (seen in tests against the zishang520 v2 server); a tip sent
//     in the first instant of a connection may be missed. The feed does not send tips again.
//
// Tips from the feed go through the same flow as webhook tips (Tips.take): minimum amount, moderation,
// one job per tip id ("tipply:<id>"). A feed cannot be asked to deliver again, so a tip the queue refuses
// is retried here a few times before it is logged as lost.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/zishang520/engine.io-client-go/transports"
	"github.com/zishang520/engine.io/v2/types"
	sio "github.com/zishang520/socket.io-client-go/socket"
)

// TipplyEvent is the name of the feed's tip event (an assumption: see the top of tips_tipply.go).
const TipplyEvent = "tip"

// TipplyConfig is where TipplySource reads Tipply tips.
type TipplyConfig struct {
	// FeedURL is the widget feed: the Socket.IO server with the namespace as path, such as
	// "https://ws.tipply.pl/tip/<user id>". Empty switches Tipply off.
	FeedURL string
	// Currency is the ISO 4217 code of the feed's amounts; empty means PLN.
	Currency string
}

// Validate checks the configuration and says how to fix it.
func (c TipplyConfig) Validate() error {
	if c.FeedURL != "" {
		if _, _, err := splitTipplyFeed(c.FeedURL); err != nil {
			return err
		}
	}
	if c.Currency != "" && !tipCurrencyOK(c.Currency) {
		return fmt.Errorf("bots: Tipply currency %q must be an upper-case ISO 4217 code like PLN, or empty for PLN", c.Currency)
	}
	return nil
}

// splitTipplyFeed splits a feed URL into the server's URL and the namespace.
func splitTipplyFeed(feed string) (server, nsp string, err error) {
	u, err := url.Parse(feed)
	if err != nil || u.Host == "" || u.User != nil ||
		u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "ws" && u.Scheme != "wss" {
		return "", "", fmt.Errorf("bots: Tipply feed URL %q must be an http(s) or ws(s) URL with a host, like https://ws.tipply.pl/tip/<user id>", feed)
	}
	nsp = u.Path
	if nsp == "" {
		nsp = "/"
	}
	u.Path, u.RawPath, u.Fragment = "", "", ""
	return u.String(), nsp, nil
}

// TipplySource reads tips from a Tipply alert feed and hands them to Tips. It is an adapter: replace it
// when Tipply documents a webhook or its feed changes.
type TipplySource struct {
	tips     *Tips
	log      *slog.Logger
	server   string
	nsp      string
	currency string

	// MinBackoff and MaxBackoff bound the wait between connection attempts.
	MinBackoff, MaxBackoff time.Duration
	// ConnectTimeout bounds the time from dialling to joining the feed's namespace.
	ConnectTimeout time.Duration
	// RetryQueue is how long apart a tip the queue refused is tried again (three times in all).
	RetryQueue time.Duration
}

// tipplyQueueAttempts is how many times a tip from the feed is offered to the queue.
const tipplyQueueAttempts = 3

// tipplyBacklog bounds the tips received and not yet queued.
const tipplyBacklog = 64

// NewTipplySource returns a source for the feed in tips' TipplyConfig. It connects only in Run.
func NewTipplySource(tips *Tips, log *slog.Logger) (*TipplySource, error) {
	cfg := tips.cfg.Tipply
	if cfg.FeedURL == "" {
		return nil, errors.New("bots: no Tipply feed URL is set: copy the alert widget's feed address into the configuration")
	}
	server, nsp, err := splitTipplyFeed(cfg.FeedURL)
	if err != nil {
		return nil, err
	}
	currency := cfg.Currency
	if currency == "" {
		currency = "PLN"
	}
	return &TipplySource{tips: tips, log: log.With("component", "tipply"), server: server, nsp: nsp, currency: currency,
		MinBackoff: time.Second, MaxBackoff: time.Minute, ConnectTimeout: 10 * time.Second, RetryQueue: 5 * time.Second}, nil
}

// Run reads the feed until ctx ends, connecting again with backoff when the connection fails or drops.
func (s *TipplySource) Run(ctx context.Context) error {
	backlog := make(chan tipIn, tipplyBacklog)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.drain(ctx, backlog)
	}()
	defer wg.Wait()

	failures := 0
	for {
		start := time.Now()
		err := s.session(ctx, backlog)
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(start) > time.Minute {
			failures = 0
		}
		failures++
		wait := tipplyBackoff(failures, s.MinBackoff, s.MaxBackoff)
		s.log.Warn("Tipply feed lost; reconnecting", "err", err, "in", wait.Round(time.Millisecond))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// tipplyBackoff is the wait before connection attempt failures+1: MinBackoff doubled for each failure
// after the first, at most MaxBackoff.
func tipplyBackoff(failures int, lo, hi time.Duration) time.Duration {
	d := lo
	for i := 1; i < failures && d < hi; i++ {
		d *= 2
	}
	return max(min(d, hi), lo)
}

// session runs one connection to the feed until it ends, returning why.
func (s *TipplySource) session(ctx context.Context, backlog chan<- tipIn) error {
	opts := sio.DefaultOptions()
	opts.SetReconnection(false) // Run reconnects, with its own backoff
	opts.SetTimeout(s.ConnectTimeout)
	// WebSocket only: the Go client loses messages while upgrading from polling.
	opts.SetTransports(types.NewSet(transports.WebSocket))
	opts.SetForceNew(true)
	conn := sio.NewManager(s.server, opts).Socket(s.nsp, opts)

	ended := make(chan error, 1)
	end := func(err error) {
		select {
		case ended <- err:
		default:
		}
	}
	joined := make(chan struct{})
	var joinOnce sync.Once
	conn.On("connect", func(...any) {
		joinOnce.Do(func() { close(joined) })
		s.log.Info("reading the Tipply feed", "server", s.server)
	})
	conn.On("connect_error", func(args ...any) { end(fmt.Errorf("connect: %v", tipplyFirst(args))) })
	conn.On("disconnect", func(args ...any) { end(fmt.Errorf("disconnected: %v", tipplyFirst(args))) })
	conn.On(TipplyEvent, func(args ...any) {
		in, err := decodeTipplyTip(tipplyFirst(args), s.currency)
		if err != nil {
			s.log.Warn("Tipply tip not understood", "err", err)
			return
		}
		select {
		case backlog <- in:
		default:
			s.log.Error("Tipply tip lost: too many tips waiting for the queue", "tip", in.id, "amount", in.amount)
		}
	})
	conn.Connect()
	// The hub's and other Engine.IO servers can lose the namespace CONNECT of a fresh WebSocket; then
	// nothing else happens, and only a new connection helps.
	joinTimer := time.AfterFunc(s.ConnectTimeout, func() {
		select {
		case <-joined:
		default:
			end(errors.New("the feed did not answer the namespace connect in time"))
		}
	})
	defer joinTimer.Stop()
	var err error
	select {
	case <-ctx.Done():
	case err = <-ended:
	}
	if perr := disconnectTipply(conn); perr != nil {
		s.log.Debug("closing the Tipply feed connection", "err", perr)
	}
	return err
}

// disconnectTipply closes conn. socket.io-client-go v1.1.0 can panic while closing a connection whose
// engine is closing at the same time (its close handler asserts a nil error); that must not take the hub
// down.
func disconnectTipply(conn *sio.Socket) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("socket.io client panicked: %v", r)
		}
	}()
	conn.Disconnect()
	return nil
}

// drain hands tips from the feed to Tips, retrying when the queue refuses them, until ctx ends.
func (s *TipplySource) drain(ctx context.Context, backlog <-chan tipIn) {
	for {
		select {
		case <-ctx.Done():
			return
		case in := <-backlog:
			s.take(ctx, in)
		}
	}
}

func (s *TipplySource) take(ctx context.Context, in tipIn) {
	for attempt := 1; ; attempt++ {
		out, err := s.tips.take(ctx, in)
		if err == nil {
			if out.Duplicate {
				s.log.Info("Tipply tip seen again", "job", out.JobID)
			}
			return
		}
		te := tipFailure(err)
		if te.status < 500 || attempt == tipplyQueueAttempts {
			s.log.Error("Tipply tip not queued", "tip", in.id, "amount", in.amount, "author", in.author, "err", err)
			return
		}
		select {
		case <-ctx.Done():
			s.log.Error("Tipply tip not queued before shutdown", "tip", in.id, "amount", in.amount, "author", in.author, "err", err)
			return
		case <-time.After(s.RetryQueue):
		}
	}
}

// tipplyTip is a tip as the feed sends it (assumed fields: see the top of the file).
type tipplyTip struct {
	ID       json.RawMessage `json:"id"`
	Nickname string          `json:"nickname"`
	Message  string          `json:"message"`
	Amount   json.Number     `json:"amount"`
}

// decodeTipplyTip decodes the tip event's argument: a JSON text holding the tip, or the tip as an object.
func decodeTipplyTip(arg any, currency string) (tipIn, error) {
	var raw []byte
	switch a := arg.(type) {
	case string:
		raw = []byte(a)
	case map[string]any:
		b, err := json.Marshal(a)
		if err != nil {
			return tipIn{}, fmt.Errorf("tip event: %v", err)
		}
		raw = b
	default:
		return tipIn{}, fmt.Errorf("tip event carries %T, not a tip", arg)
	}
	var t tipplyTip
	if err := json.Unmarshal(raw, &t); err != nil {
		return tipIn{}, fmt.Errorf("tip event is not a tip object: %v", err)
	}
	amount, err := t.Amount.Int64()
	if err != nil {
		return tipIn{}, fmt.Errorf("tip amount %q is not a whole number of grosze", tipClip(t.Amount.String(), 32))
	}
	in := tipIn{provider: ProviderTipply, sender: "name:" + t.Nickname, author: t.Nickname,
		text: tipplyText(t.Message), amount: amount, currency: currency}
	var id string
	var n json.Number
	switch {
	case json.Unmarshal(t.ID, &id) == nil && id != "":
	case json.Unmarshal(t.ID, &n) == nil:
		id = n.String()
	default:
		sum := sha256.Sum256(raw)
		id = "payload-" + hex.EncodeToString(sum[:16])
	}
	in.id = id
	return in, nil
}

var (
	tipplyEmote = regexp.MustCompile(`(?is)<img\b[^>]*?\balt\s*=\s*("[^"]*"|'[^']*')[^>]*>`)
	tipplyTag   = regexp.MustCompile(`(?s)<[^>]*>`)
)

// tipplyText turns the feed's HTML message into plain text: emotes become their alt text, other tags go,
// entities are decoded.
func tipplyText(s string) string {
	s = tipplyEmote.ReplaceAllStringFunc(s, func(img string) string {
		alt := tipplyEmote.FindStringSubmatch(img)[1]
		return " " + alt[1:len(alt)-1] + " "
	})
	s = tipplyTag.ReplaceAllString(s, "")
	return strings.Join(strings.Fields(html.UnescapeString(s)), " ")
}

func tipplyFirst(args []any) any {
	if len(args) == 0 {
		return nil
	}
	return args[0]
}
