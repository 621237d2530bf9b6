package bots

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/bwmarrin/discordgo"
	"golang.org/x/sync/errgroup"

	"github.com/stagelink/stagelink/printer"
)

// DiscordMode says how the Discord bot receives interactions.
type DiscordMode string

// The ways to receive interactions.
const (
	// DiscordGateway holds a gateway (WebSocket) session: no public URL is needed, but exactly one
	// instance may run per bot token (see Discord).
	DiscordGateway DiscordMode = "gateway"
	// DiscordHTTP receives interactions at the hub's POST /discord/interactions (InteractionsHandler),
	// set as the Interactions Endpoint URL in the Developer Portal; any number of hub replicas may run it.
	DiscordHTTP DiscordMode = "http"
)

// DiscordToken is a bot token. It never shows in logs or in fmt output.
type DiscordToken string

// LogValue implements slog.LogValuer.
func (t DiscordToken) LogValue() slog.Value { return slog.StringValue(t.String()) }

// String returns "[redacted]" (or "" for no token), never the token.
func (t DiscordToken) String() string {
	if t == "" {
		return ""
	}
	return "[redacted]"
}

// GoString is String, for %#v.
func (t DiscordToken) GoString() string { return t.String() }

// DiscordConfig configures the Discord bot.
type DiscordConfig struct {
	// Token is the bot token (Developer Portal → your application → Bot). A "Bot " prefix is optional.
	Token DiscordToken
	// ApplicationID is the application's id (General Information → Application ID).
	ApplicationID string
	// PublicKey is the application's Ed25519 public key in hex (General Information → Public Key); it is
	// needed for the HTTP interactions endpoint.
	PublicKey string
	// Guilds are the servers whose slash commands are registered at start; none registers them globally.
	Guilds []string
	// Channel, when set, turns on channel mode (gateway only): every message posted in this channel is
	// printed. It needs the privileged MESSAGE CONTENT intent, switched on in the Developer Portal
	// (Bot → Privileged Gateway Intents → Message Content Intent); without it messages arrive empty.
	Channel string
	// Mode is DiscordGateway (the default) or DiscordHTTP.
	Mode DiscordMode
}

// LogValue logs the configuration with the token redacted.
func (c DiscordConfig) LogValue() slog.Value {
	return slog.GroupValue(slog.Any("token", c.Token), slog.String("applicationID", c.ApplicationID),
		slog.String("publicKey", c.PublicKey), slog.Any("guilds", c.Guilds), slog.String("channel", c.Channel),
		slog.String("mode", string(c.mode())))
}

func (c DiscordConfig) mode() DiscordMode {
	if c.Mode == "" {
		return DiscordGateway
	}
	return c.Mode
}

// Validate checks the configuration and says how to fix what is wrong.
func (c DiscordConfig) Validate() error {
	var errs []error
	if strings.TrimSpace(strings.TrimPrefix(string(c.Token), "Bot ")) == "" {
		errs = append(errs, errors.New("discord: the bot token is empty: copy it from the Developer Portal (your application → Bot → Reset Token)"))
	}
	if !isSnowflake(c.ApplicationID) {
		errs = append(errs, fmt.Errorf("discord: application id %q is not a Discord id: copy the Application ID from the Developer Portal (General Information)", clipForLog(c.ApplicationID)))
	}
	switch c.mode() {
	case DiscordGateway, DiscordHTTP:
	default:
		errs = append(errs, fmt.Errorf("discord: mode %q is unknown: use gateway (no public URL needed, one instance per bot token) or http (the hub's /discord/interactions endpoint)", clipForLog(string(c.Mode))))
	}
	if c.PublicKey != "" || c.mode() == DiscordHTTP {
		if _, err := parsePublicKey(c.PublicKey); err != nil {
			errs = append(errs, fmt.Errorf("discord: %v: copy the Public Key from the Developer Portal (General Information); the http mode needs it", err))
		}
	}
	for _, g := range c.Guilds {
		if !isSnowflake(g) {
			errs = append(errs, fmt.Errorf("discord: guild id %q is not a Discord id: in Discord turn on Developer Mode, right-click the server and Copy Server ID", clipForLog(g)))
		}
	}
	if c.Channel != "" {
		if !isSnowflake(c.Channel) {
			errs = append(errs, fmt.Errorf("discord: channel id %q is not a Discord id: in Discord turn on Developer Mode, right-click the channel and Copy Channel ID", clipForLog(c.Channel)))
		}
		if c.mode() != DiscordGateway {
			errs = append(errs, errors.New("discord: channel mode reads messages from the gateway: use mode gateway, or leave the channel empty"))
		}
	}
	return errors.Join(errs...)
}

func parsePublicKey(s string) (ed25519.PublicKey, error) {
	b, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("the public key must be %d hex digits", 2*ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(b), nil
}

// isSnowflake reports whether s looks like a Discord id: 1 to 20 decimal digits.
func isSnowflake(s string) bool {
	if s == "" || len(s) > 20 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func clipForLog(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// jobFollower tells the bot what became of the jobs it queued (printer.Tracker).
type jobFollower interface {
	Subscribe(ctx context.Context) <-chan printer.JobStatus
	Pending() []printer.JobStatus
}

// discordDesk is the print desk as the Discord bot uses it (printer.Tracker).
type discordDesk interface {
	printDesk
	jobFollower
}

var _ discordDesk = (*printer.Tracker)(nil)

// Discord is the Discord bot: the slash commands /print text:<message> and /queue, an ephemeral first
// reply within Discord's 3 seconds, and a follow-up when the job is printed or failed. It receives
// interactions over the gateway or at the HTTP interactions endpoint (DiscordConfig.Mode); see
// https://discord.com/developers/docs/interactions/receiving-and-responding.
//
// One instance per bot token in gateway mode: Discord gives every gateway session of a token every
// interaction, so two running instances would both answer (the second answer fails with "already
// acknowledged") and both queue the job. Nothing here can see another host, so this is a rule for
// whoever deploys the bot: run the gateway mode in exactly one process (one hub replica, or a separate
// single-replica deployment), and use the http mode behind several replicas. The bot logs a warning when
// Discord says another session answered an interaction first or when its session is replaced. The job id
// ("discord:<interaction id>") still keeps a job from printing twice on one print queue.
type Discord struct {
	cfg          DiscordConfig
	desk         discordDesk
	mod          moderator
	printerState func() string
	log          *slog.Logger
	session      *discordgo.Session
	publicKey    ed25519.PublicKey // nil: the HTTP endpoint is off

	now           func() time.Time
	deferAfter    time.Duration // how long the first reply waits for the queue before deferring
	submitTimeout time.Duration // how long a job may take to queue
	maxClockSkew  time.Duration // how old a signed HTTP interaction may be
	sweepEvery    time.Duration // how often watched jobs are checked for missed updates

	outbox chan outcome // follow-ups waiting to be sent

	mu       sync.Mutex
	watching map[string]watch // job id → whom to tell when it is printed or failed
	botID    string           // the bot's own user id, from READY
	sessions int              // READY events seen
	stopped  bool             // Run has returned: no more background work
	bg       sync.WaitGroup   // background work (deferred replies)
}

// Defaults for the Discord bot's timing and bounds.
const (
	discordDeferAfter     = 2 * time.Second  // Discord wants the first reply within 3 s
	discordSubmitTimeout  = 10 * time.Second // a deferred reply can wait this long for the queue
	discordMaxClockSkew   = 5 * time.Minute
	discordTokenLifetime  = 15 * time.Minute // an interaction token's validity
	discordOutbox         = 256              // follow-ups waiting to be sent
	discordMaxWatched     = 10_000           // jobs waiting for a follow-up
	discordSweepEvery     = 30 * time.Second
	discordWatchFor       = 24 * time.Hour // how long a job may wait for its follow-up
	discordRequestTimeout = 15 * time.Second
)

// NewDiscord returns the bot. desk is the print queue (a *printer.Tracker), mod the moderation,
// printerState a one-word printer state for /queue ("" when unknown). It opens no connection: Run does.
func NewDiscord(cfg DiscordConfig, desk discordDesk, mod moderator, printerState func() string, log *slog.Logger) (*Discord, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Mode = cfg.mode()
	var key ed25519.PublicKey
	if cfg.PublicKey != "" {
		key, _ = parsePublicKey(cfg.PublicKey)
	}
	token := strings.TrimSpace(strings.TrimPrefix(string(cfg.Token), "Bot "))
	s, err := discordgo.New("Bot " + token)
	if err != nil {
		return nil, fmt.Errorf("discord: %v", err)
	}
	s.StateEnabled = false
	s.Identify.Intents = discordgo.IntentsNone // interactions arrive without intents
	if cfg.Channel != "" {
		s.Identify.Intents = discordgo.IntentsGuildMessages | discordgo.IntentMessageContent
	}
	if printerState == nil {
		printerState = func() string { return "" }
	}
	return &Discord{
		cfg: cfg, desk: desk, mod: mod, printerState: printerState,
		log: log.With("component", "discord"), session: s, publicKey: key,
		now: time.Now, deferAfter: discordDeferAfter, submitTimeout: discordSubmitTimeout,
		maxClockSkew: discordMaxClockSkew, sweepEvery: discordSweepEvery,
		outbox: make(chan outcome, discordOutbox), watching: make(map[string]watch),
	}, nil
}

// Run registers the slash commands, follows the print desk's outcomes to send follow-ups and, in gateway
// mode, holds the gateway session, until ctx ends. Call it once.
func (d *Discord) Run(ctx context.Context) error {
	defer d.stop()
	// Discord unreachable (the network, an outage) is waited out; Discord refusing (a bad token, a
	// missing scope) ends Run, since no retry can fix it.
	for wait := time.Second; ; wait = min(2*wait, 5*time.Minute) {
		err := d.register(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		if _, refused := errors.AsType[*discordgo.RESTError](err); refused {
			return err
		}
		d.log.Warn("discord: cannot reach Discord; trying again", "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
	g, ctx := errgroup.WithContext(ctx)
	statuses := d.desk.Subscribe(ctx)
	g.Go(func() error { d.follow(ctx, statuses); return nil })
	g.Go(func() error { d.send(ctx); return nil })
	if d.cfg.Mode == DiscordGateway {
		g.Go(func() error { return d.runGateway(ctx) })
	}
	return g.Wait()
}

// stop waits for background work and refuses more.
func (d *Discord) stop() {
	d.mu.Lock()
	d.stopped = true
	d.mu.Unlock()
	d.bg.Wait()
}

// goBackground runs f in a goroutine Run waits for. Once Run has returned it runs nothing and reports
// false.
func (d *Discord) goBackground(f func()) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped {
		return false
	}
	d.bg.Add(1)
	go func() {
		defer d.bg.Done()
		f()
	}()
	return true
}

// discordCommands are the slash commands the bot registers.
func discordCommands() []*discordgo.ApplicationCommand {
	minLen := 1
	guildOnly := []discordgo.InteractionContextType{discordgo.InteractionContextGuild}
	return []*discordgo.ApplicationCommand{
		{
			Name: "print", Description: "Print a message on the stream's receipt printer", Contexts: &guildOnly,
			Options: []*discordgo.ApplicationCommandOption{{
				Type: discordgo.ApplicationCommandOptionString, Name: "text", Description: "What to print",
				Required: true, MinLength: &minLen, MaxLength: printer.MaxTextRunes,
			}},
		},
		{Name: "queue", Description: "Where your messages are in the print queue", Contexts: &guildOnly},
	}
}

// register overwrites the application's commands in each configured guild (globally when there is none),
// so that a restart after a change of commands leaves no stale ones.
func (d *Discord) register(ctx context.Context) error {
	guilds := d.cfg.Guilds
	if len(guilds) == 0 {
		guilds = []string{""}
	}
	for _, g := range guilds {
		_, err := d.session.ApplicationCommandBulkOverwrite(d.cfg.ApplicationID, g, discordCommands(), discordgo.WithContext(ctx))
		if err != nil {
			where := "globally"
			if g != "" {
				where = "in guild " + g
			}
			return fmt.Errorf("discord: register the slash commands %s (is the bot invited there with the applications.commands scope?): %w", where, safeDiscordErr(err))
		}
		d.log.Info("discord: slash commands registered", "guild", g)
	}
	return nil
}

// safeDiscordErr drops the request URL from transport errors: interaction and webhook URLs carry tokens.
func safeDiscordErr(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return fmt.Errorf("%s: %v", ue.Op, ue.Err)
	}
	return err
}
