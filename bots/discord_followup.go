package bots

import (
	"context"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/stagelink/stagelink/printer"
)

// watch is whom to tell when a job is printed or failed.
type watch struct {
	userID    string
	channelID string
	// appID and token reach an interaction's follow-ups until expires; empty for channel messages.
	appID, token string
	expires      time.Time
	// messageID is the channel message the job came from (channel mode).
	messageID string
	since     time.Time
}

// outcome is a follow-up waiting to be sent.
type outcome struct {
	w      watch
	state  printer.JobState // JobPrinted or JobFailed
	reason string           // why it failed or was refused
}

// watchJob remembers whom to tell about job id. Beyond discordMaxWatched jobs the oldest are forgotten.
func (d *Discord) watchJob(id string, w watch) {
	w.since = d.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.watching[id]; !ok && len(d.watching) >= discordMaxWatched {
		oldest, at := "", time.Time{}
		for k, v := range d.watching {
			if oldest == "" || v.since.Before(at) {
				oldest, at = k, v.since
			}
		}
		delete(d.watching, oldest)
		d.log.Warn("discord: too many jobs waiting for a follow-up; forgot the oldest", "job", oldest)
	}
	d.watching[id] = w
}

func (d *Discord) unwatchJob(id string) {
	d.mu.Lock()
	delete(d.watching, id)
	d.mu.Unlock()
}

// takeWatch removes and returns whom to tell about job id.
func (d *Discord) takeWatch(id string) (watch, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	w, ok := d.watching[id]
	delete(d.watching, id)
	return w, ok
}

// follow turns printed and failed jobs into follow-ups, until statuses closes. It never blocks on
// Discord: when the outbox is full the follow-up is dropped with a warning. Every sweepEvery it also asks
// the desk about the jobs it watches, for updates the subscription missed.
func (d *Discord) follow(ctx context.Context, statuses <-chan printer.JobStatus) {
	tick := time.NewTicker(d.sweepEvery)
	defer tick.Stop()
	for {
		select {
		case st, ok := <-statuses:
			if !ok {
				return
			}
			d.settled(st)
		case <-tick.C:
			d.mu.Lock()
			ids := make([]string, 0, len(d.watching))
			for id, w := range d.watching {
				if d.now().Sub(w.since) > discordWatchFor {
					delete(d.watching, id) // the desk forgot it, or it never moved: stop waiting
					continue
				}
				ids = append(ids, id)
			}
			d.mu.Unlock()
			for _, id := range ids {
				if st, ok := d.desk.Status(id); ok {
					d.settled(st)
				}
			}
		case <-ctx.Done():
			return
		}
	}
}

// settled queues the follow-up for a job that was printed or failed, if the bot queued it.
func (d *Discord) settled(st printer.JobStatus) {
	if st.State != printer.JobPrinted && st.State != printer.JobFailed {
		return
	}
	w, ok := d.takeWatch(st.ID)
	if !ok {
		return
	}
	d.post(outcome{w: w, state: st.State, reason: st.Reason})
}

// post queues a follow-up without waiting.
func (d *Discord) post(o outcome) {
	select {
	case d.outbox <- o:
	default:
		d.log.Warn("discord: too many follow-ups waiting; dropped one", "user", o.w.userID, "state", o.state)
	}
}

// send delivers follow-ups one at a time (discordgo waits out REST rate limits), until ctx ends.
func (d *Discord) send(ctx context.Context) {
	for {
		select {
		case o := <-d.outbox:
			d.tell(ctx, o)
		case <-ctx.Done():
			return
		}
	}
}

// tell sends one follow-up: an ephemeral interaction follow-up while the token is valid; later, or for a
// channel message, a reaction or a message in the channel.
func (d *Discord) tell(ctx context.Context, o outcome) {
	ctx, cancel := context.WithTimeout(ctx, discordRequestTimeout)
	defer cancel()
	opt := discordgo.WithContext(ctx)
	var err error
	switch {
	case o.w.token != "" && d.now().Before(o.w.expires):
		i := &discordgo.Interaction{AppID: o.w.appID, Token: o.w.token}
		_, err = d.session.FollowupMessageCreate(i, false, &discordgo.WebhookParams{
			Content: outcomeText(o), Flags: discordgo.MessageFlagsEphemeral,
			AllowedMentions: &discordgo.MessageAllowedMentions{},
		}, opt)
	case o.w.messageID != "":
		emoji := "✅"
		if o.state != printer.JobPrinted {
			emoji = "❌"
		}
		err = d.session.MessageReactionAdd(o.w.channelID, o.w.messageID, emoji, opt)
		if err == nil && o.state != printer.JobPrinted {
			_, err = d.session.ChannelMessageSendComplex(o.w.channelID, &discordgo.MessageSend{
				Content:         outcomeText(o),
				Reference:       &discordgo.MessageReference{MessageID: o.w.messageID, ChannelID: o.w.channelID},
				AllowedMentions: &discordgo.MessageAllowedMentions{},
			}, opt)
		}
	case o.w.channelID != "":
		// The interaction token has expired: say it in the channel, naming the sender. The reason
		// stays private.
		text := "<@" + o.w.userID + "> your /print message was printed."
		if o.state != printer.JobPrinted {
			text = "<@" + o.w.userID + "> your /print message could not be printed."
		}
		_, err = d.session.ChannelMessageSendComplex(o.w.channelID, &discordgo.MessageSend{
			Content:         text,
			AllowedMentions: &discordgo.MessageAllowedMentions{Users: []string{o.w.userID}},
		}, opt)
	}
	if err != nil {
		d.log.Warn("discord: sending a follow-up", "user", o.w.userID, "state", o.state, "err", safeDiscordErr(err))
	}
}

func outcomeText(o outcome) string {
	if o.state == printer.JobPrinted {
		return "Printed! 🧾"
	}
	if o.reason == "" {
		return "Sorry, your message could not be printed."
	}
	return "Sorry, your message could not be printed: " + o.reason
}
