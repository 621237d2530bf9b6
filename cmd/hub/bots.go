package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/stagelink/stagelink/bots"
	"github.com/stagelink/stagelink/cmd/internal/cli"
	"github.com/stagelink/stagelink/web"
)

// botsConfig is the community's side of printing: moderation, tip webhooks and the Discord bot.
type botsConfig struct {
	mod       bots.ModerationConfig
	blocked   string
	links     string
	tips      bots.TipsConfig
	kofi      cli.Secret
	tipSecret cli.Secret
	tipMin    string
	discord   bots.DiscordConfig
	dToken    cli.Secret
	dGuilds   string
	dMode     string
}

func (b *botsConfig) flags(fs *flag.FlagSet) {
	fs.IntVar(&b.mod.MaxRunes, "print-max-chars", bots.DefaultModerationMaxRunes, "longest message the community may print, in characters")
	fs.StringVar(&b.mod.BlockedWordsFile, "blocked-words", "", "file of blocked words and phrases, one a line (reloaded when it changes)")
	fs.StringVar(&b.links, "links", "refuse", "links in messages: refuse, strip or allow")
	fs.DurationVar(&b.mod.Cooldown, "print-cooldown", 30*time.Second, "least time between two messages of one sender (negative: none)")
	fs.IntVar(&b.mod.DailyCap, "print-daily-cap", 20, "most messages of one sender per day (negative: no cap)")
	fs.StringVar(&b.mod.TimeZone, "timezone", "Europe/Warsaw", "time zone of the daily cap's midnight")
	fs.StringVar(&b.blocked, "blocked-users", "", "comma-separated senders refused from the start (discord:1234, kofi:…)")
	fs.BoolVar(&b.mod.Paused, "print-paused", false, "start with community printing paused")
	fs.Var(&b.kofi, "kofi-token", "Ko-fi webhook verification token (prefer the environment)")
	fs.Var(&b.tipSecret, "tips-secret", "HMAC key of the generic tip webhook, at least 16 characters (prefer the environment)")
	fs.StringVar(&b.tipMin, "tip-min", "", "smallest tip printed per currency, in minor units: PLN=500,EUR=200")
	fs.StringVar(&b.tips.Tipply.FeedURL, "tipply-feed", "", "Tipply alert feed (Socket.IO URL with the namespace path); empty: off")
	fs.Var(&b.dToken, "discord-token", "Discord bot token (prefer the environment)")
	fs.StringVar(&b.discord.ApplicationID, "discord-app-id", "", "Discord application id")
	fs.StringVar(&b.discord.PublicKey, "discord-public-key", "", "Discord application public key (hex), for -discord-mode http")
	fs.StringVar(&b.dGuilds, "discord-guilds", "", "comma-separated Discord servers whose slash commands are registered")
	fs.StringVar(&b.discord.Channel, "discord-channel", "", "Discord channel whose every message is printed (gateway mode; needs the message content intent)")
	fs.StringVar(&b.dMode, "discord-mode", "gateway", "how Discord interactions arrive: gateway, or http (POST /discord/interactions)")
}

// resolve fills the typed configuration from the flags' strings and validates it.
func (b *botsConfig) resolve() error {
	b.mod.Links = bots.LinkPolicy(b.links)
	b.mod.BlockedUsers = splitList(b.blocked)
	b.tips.KofiToken, b.tips.GenericSecret = string(b.kofi), string(b.tipSecret)
	min, err := parseTipMin(b.tipMin)
	if err != nil {
		return err
	}
	b.tips.MinAmount = min
	b.discord.Token = bots.DiscordToken(b.dToken)
	b.discord.Guilds = splitList(b.dGuilds)
	b.discord.Mode = bots.DiscordMode(b.dMode)
	errs := []error{b.mod.Validate(), b.tips.Validate()}
	if b.discord.Token != "" {
		errs = append(errs, b.discord.Validate())
	}
	return errors.Join(errs...)
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// parseTipMin parses "PLN=500,EUR=200".
func parseTipMin(s string) (map[string]int64, error) {
	out := map[string]int64{}
	for _, f := range splitList(s) {
		code, v, ok := strings.Cut(f, "=")
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if !ok || err != nil || n < 0 {
			return nil, fmt.Errorf("-tip-min %q: want CURRENCY=MINOR_UNITS pairs, for example PLN=500,EUR=200", f)
		}
		out[strings.ToUpper(strings.TrimSpace(code))] = n
	}
	return out, nil
}

// community is the running moderation, tip webhooks and Discord bot.
type community struct {
	log     *slog.Logger
	mod     *bots.Moderator
	tips    *bots.Tips
	tipply  *bots.TipplySource
	discord *bots.Discord
}

// openCommunity sets up the parts the configuration asks for; it starts nothing.
func openCommunity(cfg botsConfig, prints *printing, srv func() *web.Server, log *slog.Logger) (*community, error) {
	c := &community{log: log}
	var err error
	if c.mod, err = bots.NewModerator(cfg.mod, log.With("component", "moderation")); err != nil {
		return nil, err
	}
	onTip := func(t bots.Tip) { srv().Tip(t.Author, t.Amount, t.Currency, t.Text, t.At) }
	if c.tips, err = bots.NewTips(cfg.tips, prints.history, c.mod, onTip, log.With("component", "tips")); err != nil {
		return nil, err
	}
	if cfg.tips.Tipply.FeedURL != "" {
		if c.tipply, err = bots.NewTipplySource(c.tips, log.With("component", "tipply")); err != nil {
			return nil, err
		}
	}
	if cfg.discord.Token != "" {
		if c.discord, err = bots.NewDiscord(cfg.discord, prints.history, c.mod, prints.state, log.With("component", "discord")); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// runs returns what must run until the hub stops.
func (c *community) runs() []func(context.Context) error {
	out := []func(context.Context) error{c.mod.Run}
	if c.tipply != nil {
		out = append(out, c.tipply.Run)
	}
	if c.discord != nil {
		// A bot Discord refuses (a revoked token, missing permissions) must not take the lights down.
		out = append(out, func(ctx context.Context) error {
			if err := c.discord.Run(ctx); err != nil {
				c.log.Error("the Discord bot stopped; the rest of the hub goes on", "err", err)
			}
			return nil
		})
	}
	return out
}
