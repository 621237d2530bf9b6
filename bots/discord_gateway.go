package bots

import (
	"context"
	"errors"
	"fmt"

	"github.com/bwmarrin/discordgo"
)

// runGateway holds the gateway session (https://discord.com/developers/docs/events/gateway) until ctx
// ends: discordgo identifies, heartbeats, resumes and reconnects; the bot answers INTERACTION_CREATE
// (and MESSAGE_CREATE in channel mode). Interactions arrive over the gateway only while the application
// has no Interactions Endpoint URL set in the Developer Portal.
func (d *Discord) runGateway(ctx context.Context) error {
	s := d.session
	handlers := []func(){
		s.AddHandler(d.onReady),
		s.AddHandler(d.onInteractionCreate),
	}
	if d.cfg.Channel != "" {
		handlers = append(handlers, s.AddHandler(d.onMessageCreate))
	}
	defer func() {
		for _, remove := range handlers {
			remove()
		}
	}()
	if err := s.Open(); err != nil {
		return fmt.Errorf("discord: connect to the gateway: %v", safeDiscordErr(err))
	}
	d.log.Info("discord: gateway connected", "channelMode", d.cfg.Channel != "")
	<-ctx.Done()
	if err := s.Close(); err != nil {
		d.log.Warn("discord: closing the gateway", "err", err)
	}
	return nil
}

// onReady notes the bot's own id and warns when a session replaces an earlier one.
func (d *Discord) onReady(_ *discordgo.Session, r *discordgo.Ready) {
	d.mu.Lock()
	d.sessions++
	n := d.sessions
	if r.User != nil {
		d.botID = r.User.ID
	}
	d.mu.Unlock()
	if n > 1 {
		d.log.Warn("discord: the gateway started a new session (the old one was invalidated or could not resume); "+
			"if this repeats, check that no other instance runs with this bot token: run exactly one gateway instance per token",
			"sessions", n)
	}
}

// onInteractionCreate answers an interaction that came over the gateway, replying over REST.
func (d *Discord) onInteractionCreate(s *discordgo.Session, ic *discordgo.InteractionCreate) {
	if ic.Interaction == nil || ic.Type != discordgo.InteractionApplicationCommand {
		return
	}
	i := ic.Interaction
	d.goBackground(func() {
		d.answer(i, func(resp *discordgo.InteractionResponse) {
			ctx, cancel := context.WithTimeout(context.Background(), discordRequestTimeout)
			defer cancel()
			err := s.InteractionRespond(i, resp, discordgo.WithContext(ctx))
			if err == nil {
				return
			}
			if re, ok := errors.AsType[*discordgo.RESTError](err); ok && re.Message != nil &&
				re.Message.Code == discordgo.ErrCodeInteractionHasAlreadyBeenAcknowledged {
				d.log.Warn("discord: another session answered this interaction first: more than one instance runs with this bot token; stop all but one gateway instance",
					"interaction", i.ID)
				return
			}
			d.log.Warn("discord: replying to an interaction", "interaction", i.ID, "err", safeDiscordErr(err))
		})
	})
}
