package bots

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bwmarrin/discordgo"

	"github.com/stagelink/stagelink/printer"
)

// respondFunc sends the first reply to an interaction: in the HTTP response, or over REST.
type respondFunc func(resp *discordgo.InteractionResponse)

// answer handles an application command. It calls respond exactly once before it returns, within the
// bot's deferAfter; work that takes longer goes on in the background and edits the reply.
func (d *Discord) answer(i *discordgo.Interaction, respond respondFunc) {
	data, ok := i.Data.(discordgo.ApplicationCommandInteractionData)
	if i.Type != discordgo.InteractionApplicationCommand || !ok {
		respond(ephemeral("This bot only answers /print and /queue."))
		return
	}
	user, nick := interactionUser(i)
	if user == nil || user.ID == "" {
		respond(ephemeral("Sorry, I can't tell who sent this."))
		return
	}
	switch data.Name {
	case "print":
		d.answerPrint(i, user, nick, stringOption(data.Options, "text"), respond)
	case "queue":
		respond(ephemeral(d.queueText("discord:" + user.ID)))
	default:
		respond(ephemeral("This bot only answers /print and /queue."))
	}
}

// answerPrint moderates and queues a /print.
func (d *Discord) answerPrint(i *discordgo.Interaction, user *discordgo.User, nick, text string, respond respondFunc) {
	m := Message{
		Source: printer.SourceDiscord, JobID: "discord:" + i.ID, UserID: "discord:" + user.ID,
		Author: displayName(user, nick), Text: text, At: snowflakeTime(i.ID, d.now()),
	}
	// A redelivered interaction is answered from the desk, not moderated again: the retry must neither
	// print twice nor count against the sender's cooldown.
	if st, ok := d.desk.Status(m.JobID); ok && st.State != printer.JobFailed {
		respond(ephemeral(d.duplicateText(st)))
		return
	}
	admitted, err := d.mod.Admit(m)
	if err != nil {
		respond(ephemeral(d.refusalText(m, err)))
		return
	}
	d.watchJob(admitted.JobID, watch{
		userID: user.ID, channelID: i.ChannelID, appID: d.cfg.ApplicationID, token: i.Token,
		expires: d.now().Add(discordTokenLifetime - time.Minute),
	})

	reply := make(chan string, 1)
	answered, deferred := make(chan struct{}), make(chan struct{})
	submit := func() {
		ctx, cancel := context.WithTimeout(context.Background(), d.submitTimeout)
		defer cancel()
		reply <- d.submit(ctx, admitted)
	}
	if !d.goBackground(func() {
		submit()
		select {
		case <-answered:
		case <-deferred:
			d.editReply(i.Token, <-reply)
		}
	}) {
		submit() // shutting down: no deferred reply, answer as soon as the queue does
		respond(ephemeral(<-reply))
		return
	}
	timer := time.NewTimer(d.deferAfter)
	defer timer.Stop()
	select {
	case text := <-reply:
		respond(ephemeral(text))
		close(answered)
	case <-timer.C:
		// The queue is slow: tell Discord the answer is coming, then edit it in.
		respond(&discordgo.InteractionResponse{
			Type: discordgo.InteractionResponseDeferredChannelMessageWithSource,
			Data: &discordgo.InteractionResponseData{Flags: discordgo.MessageFlagsEphemeral},
		})
		close(deferred)
	}
}

// submit queues an admitted message and says how it went.
func (d *Discord) submit(ctx context.Context, m Message) string {
	st, dup, err := d.desk.Submit(ctx, m.Job())
	if err != nil {
		d.unwatchJob(m.JobID)
		switch {
		case errors.Is(err, printer.ErrBadJob), errors.Is(err, printer.ErrBadJobID):
			return "That can't be printed: " + strings.TrimPrefix(strings.TrimPrefix(err.Error(), "printer: queue job "+m.JobID+": "), printer.ErrBadJob.Error()+": ") + "."
		case errors.Is(err, printer.ErrQueueFull):
			return "The print queue is full right now. Try again in a few minutes."
		default:
			d.log.Warn("discord: queueing a message", "job", m.JobID, "err", err)
			return "The printer can't take messages right now. Try again later."
		}
	}
	if dup {
		return d.duplicateText(st)
	}
	if pos, _ := d.position(m.JobID); pos > 0 {
		return fmt.Sprintf("Queued: number %d in line. I'll tell you when it's printed.", pos)
	}
	return "Queued. I'll tell you when it's printed."
}

// editReply replaces a deferred reply's "thinking…" with text.
func (d *Discord) editReply(token, text string) {
	ctx, cancel := context.WithTimeout(context.Background(), discordRequestTimeout)
	defer cancel()
	i := &discordgo.Interaction{AppID: d.cfg.ApplicationID, Token: token}
	if _, err := d.session.InteractionResponseEdit(i, &discordgo.WebhookEdit{Content: &text}, discordgo.WithContext(ctx)); err != nil {
		d.log.Warn("discord: editing a deferred reply", "err", safeDiscordErr(err))
	}
}

func (d *Discord) duplicateText(st printer.JobStatus) string {
	switch st.State {
	case printer.JobPrinted:
		return "Already printed."
	case printer.JobFailed:
		return "That one could not be printed: " + st.Reason
	}
	if pos, _ := d.position(st.ID); pos > 0 {
		return fmt.Sprintf("Already queued: number %d in line.", pos)
	}
	return "Already queued."
}

func (d *Discord) refusalText(m Message, err error) string {
	return "Not printed: " + d.refusalReason(m, err)
}

// refusalReason says why moderation refused m, for the sender.
func (d *Discord) refusalReason(m Message, err error) string {
	r, ok := errors.AsType[*Refusal](err)
	if !ok {
		d.log.Warn("discord: moderation failed", "job", m.JobID, "err", err)
		return "I can't take messages right now. Try again later."
	}
	text := r.Reason
	if r.RetryAfter > 0 {
		text += fmt.Sprintf(" Try again in %s.", roundDuration(r.RetryAfter))
	}
	return text
}

// queueText answers /queue for user: their places in line, the queue's length and the printer's state.
func (d *Discord) queueText(userID string) string {
	pending := d.desk.Pending()
	var mine []string
	d.mu.Lock()
	for n, st := range pending {
		if w, ok := d.watching[st.ID]; ok && "discord:"+w.userID == userID {
			mine = append(mine, fmt.Sprint(n+1))
		}
	}
	d.mu.Unlock()
	var b strings.Builder
	switch len(mine) {
	case 0:
		b.WriteString("You have nothing waiting to print.")
	case 1:
		fmt.Fprintf(&b, "Your message is number %s in line.", mine[0])
	default:
		fmt.Fprintf(&b, "Your messages are numbers %s in line.", strings.Join(mine, ", "))
	}
	switch len(pending) {
	case 0:
		b.WriteString(" The queue is empty.")
	case 1:
		b.WriteString(" 1 message is waiting.")
	default:
		fmt.Fprintf(&b, " %d messages are waiting.", len(pending))
	}
	if s := d.printerState(); s != "" {
		fmt.Fprintf(&b, " Printer: %s.", s)
	}
	return b.String()
}

// position returns a job's place in line (from 1; 0 when it is not waiting) and the line's length.
func (d *Discord) position(id string) (pos, total int) {
	pending := d.desk.Pending()
	for n, st := range pending {
		if st.ID == id {
			return n + 1, len(pending)
		}
	}
	return 0, len(pending)
}

func ephemeral(text string) *discordgo.InteractionResponse {
	return &discordgo.InteractionResponse{
		Type: discordgo.InteractionResponseChannelMessageWithSource,
		Data: &discordgo.InteractionResponseData{Content: text, Flags: discordgo.MessageFlagsEphemeral,
			AllowedMentions: &discordgo.MessageAllowedMentions{}},
	}
}

// interactionUser returns who sent an interaction and their server nickname.
func interactionUser(i *discordgo.Interaction) (*discordgo.User, string) {
	if i.Member != nil && i.Member.User != nil {
		return i.Member.User, i.Member.Nick
	}
	return i.User, ""
}

// displayName is the name printed on the receipt: the server nickname, else the global name, else the
// username, cut to what a receipt takes.
func displayName(u *discordgo.User, nick string) string {
	name := nick
	if strings.TrimSpace(name) == "" {
		name = u.GlobalName
	}
	if strings.TrimSpace(name) == "" {
		name = u.Username
	}
	name = strings.ToValidUTF8(name, "")
	if utf8.RuneCountInString(name) > printer.MaxAuthorRunes {
		name = string([]rune(name)[:printer.MaxAuthorRunes])
	}
	return name
}

// stringOption returns the string value of the option called name.
func stringOption(opts []*discordgo.ApplicationCommandInteractionDataOption, name string) string {
	for _, o := range opts {
		if o != nil && o.Name == name {
			if s, ok := o.Value.(string); ok {
				return s
			}
		}
	}
	return ""
}

// snowflakeTime is when a Discord id was made, or def when id is not one.
func snowflakeTime(id string, def time.Time) time.Time {
	if !isSnowflake(id) {
		return def
	}
	t, err := discordgo.SnowflakeTimestamp(id)
	if err != nil {
		return def
	}
	return t
}

func roundDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int((d+time.Second-1)/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int((d+time.Minute-1)/time.Minute))
	default:
		return fmt.Sprintf("%d h", int((d+time.Hour-1)/time.Hour))
	}
}
