package bots

import (
	"context"
	"strings"

	"github.com/bwmarrin/discordgo"

	"github.com/stagelink/stagelink/printer"
)

// onMessageCreate is channel mode: a message posted in the configured channel, by a person, is
// moderated and queued as job "discord:<message id>"; the outcome comes back as a reaction (✅ printed,
// ❌ refused or failed, with a short reply saying why). Messages arrive with their text only when the
// privileged MESSAGE CONTENT intent is switched on in the Developer Portal.
func (d *Discord) onMessageCreate(_ *discordgo.Session, mc *discordgo.MessageCreate) {
	m := mc.Message
	if m == nil || m.ChannelID != d.cfg.Channel || m.Author == nil || m.Author.Bot || m.Author.System || m.WebhookID != "" {
		return
	}
	if m.Type != discordgo.MessageTypeDefault && m.Type != discordgo.MessageTypeReply {
		return
	}
	d.mu.Lock()
	self := m.Author.ID == d.botID
	d.mu.Unlock()
	if self {
		return
	}
	if strings.TrimSpace(m.Content) == "" {
		if len(m.Attachments) == 0 && len(m.Embeds) == 0 && len(m.StickerItems) == 0 {
			d.log.Warn("discord: a channel message arrived without text: switch on the Message Content Intent in the Developer Portal (Bot → Privileged Gateway Intents)",
				"message", m.ID)
		}
		return
	}
	nick := ""
	if m.Member != nil {
		nick = m.Member.Nick
	}
	msg := Message{
		Source: printer.SourceDiscord, JobID: "discord:" + m.ID, UserID: "discord:" + m.Author.ID,
		Author: displayName(m.Author, nick), Text: m.Content, At: m.Timestamp,
	}
	if msg.At.IsZero() {
		msg.At = snowflakeTime(m.ID, d.now())
	}
	w := watch{userID: m.Author.ID, channelID: m.ChannelID, messageID: m.ID}
	d.goBackground(func() {
		if _, ok := d.desk.Status(msg.JobID); ok {
			return // seen already (a replayed event): its outcome is on its way
		}
		admitted, err := d.mod.Admit(msg)
		if err != nil {
			d.post(outcome{w: w, state: printer.JobFailed, reason: d.refusalReason(msg, err)})
			return
		}
		d.watchJob(admitted.JobID, w)
		ctx, cancel := context.WithTimeout(context.Background(), d.submitTimeout)
		defer cancel()
		if _, _, err := d.desk.Submit(ctx, admitted.Job()); err != nil {
			d.unwatchJob(admitted.JobID)
			d.log.Warn("discord: queueing a channel message", "job", admitted.JobID, "err", err)
			d.post(outcome{w: w, state: printer.JobFailed, reason: "the printer can't take messages right now"})
		}
	})
}
