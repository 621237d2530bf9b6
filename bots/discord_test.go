package bots

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stagelink/stagelink/printer"
)

// fakeModerator admits everything unless admit says otherwise.
type fakeModerator struct {
	admit func(m Message) (Message, error)
	calls atomic.Int32
}

func (f *fakeModerator) Admit(m Message) (Message, error) {
	f.calls.Add(1)
	if f.admit != nil {
		return f.admit(m)
	}
	return m, nil
}

// slowDesk is a real tracker whose Submit waits for release first: a slow queue.
type slowDesk struct {
	*printer.Tracker
	release chan struct{}
}

func (s *slowDesk) Submit(ctx context.Context, job printer.Job) (printer.JobStatus, bool, error) {
	select {
	case <-s.release:
	case <-ctx.Done():
		return printer.JobStatus{}, false, ctx.Err()
	}
	return s.Tracker.Submit(ctx, job)
}

var testKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))

const (
	testAppID   = "111000000000000001"
	testGuild   = "222000000000000001"
	testChannel = "333000000000000001"
	testUser    = "444000000000000001"
)

type discordFixture struct {
	fake    *fakeDiscord
	bot     *Discord
	queue   *printer.DiskQueue
	tracker *printer.Tracker
	mod     *fakeModerator
	logs    *syncBuffer
	cancel  context.CancelFunc
	done    chan error
}

// newDiscordFixture returns a bot over a real tracker and disk queue, talking to a fake Discord. edit
// changes the configuration; desk, when not nil, wraps the tracker.
func newDiscordFixture(t *testing.T, edit func(*DiscordConfig), desk func(*printer.Tracker) discordDesk) *discordFixture {
	t.Helper()
	f := &discordFixture{fake: newFakeDiscord(t), mod: &fakeModerator{}, logs: &syncBuffer{}}
	log := slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	q, err := printer.OpenDiskQueue(printer.DiskQueueConfig{Dir: filepath.Join(t.TempDir(), "queue")}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	f.queue = q
	f.tracker = printer.NewTracker(q, 0, log)
	ctx, cancel := context.WithCancel(context.Background())
	trackerDone := make(chan struct{})
	go func() { f.tracker.Run(ctx); close(trackerDone) }()
	t.Cleanup(func() { cancel(); <-trackerDone })

	cfg := DiscordConfig{Token: fakeToken, ApplicationID: testAppID, PublicKey: hex.EncodeToString(testKey.Public().(ed25519.PublicKey)),
		Guilds: []string{testGuild}, Mode: DiscordHTTP}
	if edit != nil {
		edit(&cfg)
	}
	var d discordDesk = f.tracker
	if desk != nil {
		d = desk(f.tracker)
	}
	bot, err := NewDiscord(cfg, d, f.mod, func() string { return "online" }, log)
	if err != nil {
		t.Fatal(err)
	}
	bot.session.Client = f.fake.client()
	bot.sweepEvery = 50 * time.Millisecond
	f.bot = bot
	t.Cleanup(func() {
		if strings.Contains(f.logs.String(), fakeToken) {
			t.Errorf("the log shows the bot token:\n%s", f.logs.String())
		}
	})
	return f
}

// start runs the bot until the test ends (or stop).
func (f *discordFixture) start(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel, f.done = cancel, make(chan error, 1)
	go func() { f.done <- f.bot.Run(ctx) }()
	t.Cleanup(func() { f.stop(t) })
}

func (f *discordFixture) stop(t *testing.T) {
	t.Helper()
	if f.cancel == nil {
		return
	}
	f.cancel()
	f.cancel = nil
	select {
	case err := <-f.done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
}

// post sends body to the interactions endpoint, signed with key at ts.
func (f *discordFixture) post(t *testing.T, body string, key ed25519.PrivateKey, ts time.Time) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/discord/interactions", strings.NewReader(body))
	if key != nil {
		stamp := strconv.FormatInt(ts.Unix(), 10)
		r.Header.Set("X-Signature-Timestamp", stamp)
		r.Header.Set("X-Signature-Ed25519", hex.EncodeToString(ed25519.Sign(key, []byte(stamp+body))))
	}
	w := httptest.NewRecorder()
	f.bot.InteractionsHandler().ServeHTTP(w, r)
	return w
}

// waitState waits for a job to reach a state in the tracker.
func (f *discordFixture) waitState(t *testing.T, id string, want printer.JobState) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if st, _ := f.tracker.Status(id); st.State == want {
			return
		}
		if time.Now().After(deadline) {
			st, _ := f.tracker.Status(id)
			t.Fatalf("job %s: got state %q, want %q", id, st.State, want)
		}
	}
}

func (f *discordFixture) event(t *testing.T, id string, kind printer.EventKind, reason string) {
	t.Helper()
	if err := f.queue.PublishEvent(t.Context(), printer.Event{JobID: id, Kind: kind, Reason: reason, At: time.Now()}); err != nil {
		t.Fatal(err)
	}
}

// commandJSON is a slash command interaction as Discord sends it.
func commandJSON(id, token, name, text string) string {
	opts := "[]"
	if name == "print" {
		opts = fmt.Sprintf(`[{"name": "text", "type": 3, "value": %q}]`, text)
	}
	return fmt.Sprintf(`{"id": %q, "application_id": %q, "type": 2, "token": %q, "version": 1, "guild_id": %q, "channel_id": %q,
		"member": {"nick": "Ala", "roles": [], "user": {"id": %q, "username": "ala", "global_name": "Ala K", "discriminator": "0"}},
		"data": {"id": "555000000000000001", "name": %q, "type": 1, "options": %s}, "locale": "pl"}`,
		id, testAppID, token, testGuild, testChannel, testUser, name, opts)
}

// interactionResponse is what the bot answered, as Discord reads it.
type interactionResponse struct {
	Type int `json:"type"`
	Data *struct {
		Content string `json:"content"`
		Flags   int    `json:"flags"`
	} `json:"data"`
}

func decodeResponse(t *testing.T, b []byte) interactionResponse {
	t.Helper()
	var r interactionResponse
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("response %q: %v", b, err)
	}
	return r
}

// wantReply checks an immediate ephemeral reply (type 4, flags 64) containing want.
func wantReply(t *testing.T, b []byte, want string) {
	t.Helper()
	r := decodeResponse(t, b)
	if r.Type != 4 || r.Data == nil || r.Data.Flags&64 == 0 || !strings.Contains(r.Data.Content, want) {
		t.Errorf("got response %s, want an ephemeral reply (type 4, flags 64) saying %q", b, want)
	}
}

func TestDiscordConfigValidate(t *testing.T) {
	key := strings.Repeat("ab", 32)
	ok := DiscordConfig{Token: "t", ApplicationID: "111", PublicKey: key, Guilds: []string{"222"}, Mode: DiscordHTTP}
	tests := []struct {
		name string
		edit func(c *DiscordConfig)
		want string // "" for valid; else a piece of the message
	}{
		{"valid http", func(c *DiscordConfig) {}, ""},
		{"gateway needs no public key", func(c *DiscordConfig) { c.Mode, c.PublicKey = "", "" }, ""},
		{"channel mode", func(c *DiscordConfig) { c.Mode, c.Channel = DiscordGateway, "333" }, ""},
		{"global commands", func(c *DiscordConfig) { c.Guilds = nil }, ""},
		{"no token", func(c *DiscordConfig) { c.Token = "Bot " }, "Reset Token"},
		{"no application id", func(c *DiscordConfig) { c.ApplicationID = "" }, "Application ID"},
		{"http without key", func(c *DiscordConfig) { c.PublicKey = "" }, "Public Key"},
		{"short key", func(c *DiscordConfig) { c.PublicKey = "abcd" }, "64 hex digits"},
		{"bad guild", func(c *DiscordConfig) { c.Guilds = []string{"my server"} }, "Copy Server ID"},
		{"bad channel", func(c *DiscordConfig) { c.Mode, c.Channel = DiscordGateway, "#general" }, "Copy Channel ID"},
		{"channel over http", func(c *DiscordConfig) { c.Channel = "333" }, "use mode gateway"},
		{"unknown mode", func(c *DiscordConfig) { c.Mode = "webhook" }, "use gateway"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.edit(&c)
			err := c.Validate()
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("got %v, want %q", err, tt.want)
			}
		})
	}
}

func TestDiscordTokenNeverShows(t *testing.T) {
	cfg := DiscordConfig{Token: "s3cret", ApplicationID: "111"}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("config", "discord", cfg, "token", cfg.Token)
	for _, s := range []string{buf.String(), fmt.Sprintf("%v %+v %#v %s", cfg, cfg, cfg, cfg.Token)} {
		if strings.Contains(s, "s3cret") {
			t.Errorf("the token shows: %s", s)
		}
	}
	if !strings.Contains(buf.String(), "[redacted]") {
		t.Errorf("got %s, want the token shown as [redacted]", buf.String())
	}
}

func TestDiscordRegistersCommands(t *testing.T) {
	const guild2 = "222000000000000002"
	f := newDiscordFixture(t, func(c *DiscordConfig) { c.Guilds = append(c.Guilds, guild2) }, nil)
	f.start(t)
	for _, g := range []string{testGuild, guild2} {
		r := f.fake.waitRequest(t, "PUT", "/applications/"+testAppID+"/guilds/"+g+"/commands")
		if r.Auth != "Bot "+fakeToken {
			t.Errorf("Authorization: got %q, want the bot token", r.Auth)
		}
		var cmds []struct {
			Name    string `json:"name"`
			Options []struct {
				Type      int    `json:"type"`
				Name      string `json:"name"`
				Required  bool   `json:"required"`
				MaxLength int    `json:"max_length"`
			} `json:"options"`
			Contexts []int `json:"contexts"`
		}
		if err := json.Unmarshal(r.Body, &cmds); err != nil {
			t.Fatal(err)
		}
		type opt = struct {
			Type      int    `json:"type"`
			Name      string `json:"name"`
			Required  bool   `json:"required"`
			MaxLength int    `json:"max_length"`
		}
		want := []struct {
			Name     string `json:"name"`
			Options  []opt  `json:"options"`
			Contexts []int  `json:"contexts"`
		}{
			{Name: "print", Options: []opt{{Type: 3, Name: "text", Required: true, MaxLength: printer.MaxTextRunes}}, Contexts: []int{0}},
			{Name: "queue", Contexts: []int{0}},
		}
		if diff := cmp.Diff(want, cmds); diff != "" {
			t.Errorf("guild %s commands (-want +got):\n%s", g, diff)
		}
	}
}

func TestDiscordRegistrationFailureStopsRun(t *testing.T) {
	f := newDiscordFixture(t, nil, nil)
	f.fake.setOverride(func(method, path string) (int, string, bool) {
		return http.StatusForbidden, `{"message": "Missing Access", "code": 50001}`, strings.HasSuffix(path, "/commands")
	})
	err := f.bot.Run(t.Context())
	if err == nil || !strings.Contains(err.Error(), "applications.commands") || !strings.Contains(err.Error(), "Missing Access") {
		t.Errorf("Run: got %v, want a registration error saying how to fix it", err)
	}
}

// TestDiscordWaitsForAnUnreachableDiscord: registration that cannot reach Discord (no network) is tried
// again until it works; only Discord refusing ends Run.
func TestDiscordWaitsForAnUnreachableDiscord(t *testing.T) {
	f := newDiscordFixture(t, nil, nil)
	next := f.bot.session.Client.Transport
	var calls atomic.Int32
	f.bot.session.Client = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if calls.Add(1) <= 2 {
			return nil, errors.New("dial tcp: lookup discord.com: no such host")
		}
		return next.RoundTrip(r)
	})}
	f.start(t)
	f.fake.waitRequest(t, "PUT", "/applications/"+testAppID+"/guilds/"+testGuild+"/commands")
	f.logs.waitLog(t, "cannot reach Discord")
}

func TestDiscordInteractionSignature(t *testing.T) {
	f := newDiscordFixture(t, nil, nil)
	_, otherKey, _ := ed25519.GenerateKey(nil)
	ping := `{"id": "1", "application_id": "111000000000000001", "type": 1, "token": "t", "version": 1}`
	now := time.Now()
	tests := []struct {
		name string
		req  func() *http.Request
		want int
	}{
		{"ping", func() *http.Request { return signed(ping, testKey, now) }, http.StatusOK},
		{"no signature", func() *http.Request {
			return httptest.NewRequest("POST", "/discord/interactions", strings.NewReader(ping))
		}, http.StatusUnauthorized},
		{"other key", func() *http.Request { return signed(ping, otherKey, now) }, http.StatusUnauthorized},
		{"old timestamp", func() *http.Request { return signed(ping, testKey, now.Add(-10*time.Minute)) }, http.StatusUnauthorized},
		{"future timestamp", func() *http.Request { return signed(ping, testKey, now.Add(10*time.Minute)) }, http.StatusUnauthorized},
		{"body changed", func() *http.Request {
			r := signed(ping, testKey, now)
			r.Body = io.NopCloser(strings.NewReader(strings.Replace(ping, `"type": 1`, `"type": 2`, 1)))
			return r
		}, http.StatusUnauthorized},
		{"timestamp changed", func() *http.Request {
			r := signed(ping, testKey, now)
			r.Header.Set("X-Signature-Timestamp", strconv.FormatInt(now.Unix()+1, 10))
			return r
		}, http.StatusUnauthorized},
		{"signature not hex", func() *http.Request {
			r := signed(ping, testKey, now)
			r.Header.Set("X-Signature-Ed25519", "zz")
			return r
		}, http.StatusUnauthorized},
		{"GET", func() *http.Request { return httptest.NewRequest("GET", "/discord/interactions", nil) }, http.StatusMethodNotAllowed},
		{"signed garbage", func() *http.Request { return signed("{", testKey, now) }, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			f.bot.InteractionsHandler().ServeHTTP(w, tt.req())
			if w.Code != tt.want {
				t.Errorf("got %d %s, want %d", w.Code, w.Body, tt.want)
			}
			if tt.want == http.StatusOK {
				if diff := cmp.Diff(`{"type":1}`, strings.TrimSpace(w.Body.String())); diff != "" {
					t.Errorf("PONG (-want +got):\n%s", diff)
				}
			}
		})
	}
	if n := f.mod.calls.Load(); n != 0 {
		t.Errorf("moderation ran %d times for pings and refused requests", n)
	}
}

func signed(body string, key ed25519.PrivateKey, ts time.Time) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/discord/interactions", strings.NewReader(body))
	stamp := strconv.FormatInt(ts.Unix(), 10)
	r.Header.Set("X-Signature-Timestamp", stamp)
	r.Header.Set("X-Signature-Ed25519", hex.EncodeToString(ed25519.Sign(key, []byte(stamp+body))))
	return r
}

func TestDiscordHTTPPrint(t *testing.T) {
	f := newDiscordFixture(t, nil, nil)
	f.start(t)
	const id = "1234567890123456789"
	body := commandJSON(id, "tok-1", "print", "cześć z czatu")
	w := f.post(t, body, testKey, time.Now())
	if w.Code != http.StatusOK {
		t.Fatalf("got %d %s, want 200", w.Code, w.Body)
	}
	wantReply(t, w.Body.Bytes(), "Queued: number 1 in line")

	job, ok := f.tracker.Job("discord:" + id)
	at, _ := time.Parse(time.RFC3339Nano, "2024-04-29T18:12:02.167Z") // from the snowflake
	want := printer.Job{ID: "discord:" + id, Source: printer.SourceDiscord, Author: "Ala", Text: "cześć z czatu", CreatedAt: at}
	if !ok {
		t.Fatal("no job queued")
	}
	if diff := cmp.Diff(want, job, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
		t.Errorf("job (-want +got):\n%s", diff)
	}

	// Discord (or an attacker within the signature's lifetime) sends it again: it prints once.
	w = f.post(t, body, testKey, time.Now())
	wantReply(t, w.Body.Bytes(), "Already queued: number 1 in line")
	if n := f.mod.calls.Load(); n != 1 {
		t.Errorf("moderation ran %d times, want once", n)
	}
	d, err := f.queue.Next(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	d.Ack(t.Context())
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if d, err := f.queue.Next(ctx); err == nil {
		t.Errorf("the queue holds %s twice", d.Job.ID)
	}

	// Printed: an ephemeral follow-up with the interaction's token.
	f.event(t, "discord:"+id, printer.EventPrinted, "")
	r := f.fake.waitRequest(t, "POST", "/webhooks/"+testAppID+"/tok-1")
	var msg struct {
		Content string `json:"content"`
		Flags   int    `json:"flags"`
	}
	json.Unmarshal(r.Body, &msg)
	if !strings.Contains(msg.Content, "Printed") || msg.Flags&64 == 0 {
		t.Errorf("follow-up: got %s, want an ephemeral Printed", r.Body)
	}
	// And nothing else: no reply over REST, no second follow-up.
	time.Sleep(100 * time.Millisecond)
	f.fake.noRequest(t, "POST", "/webhooks/")
	f.fake.noRequest(t, "POST", "/interactions/")
}

func TestDiscordHTTPRefused(t *testing.T) {
	f := newDiscordFixture(t, nil, nil)
	f.mod.admit = func(m Message) (Message, error) {
		if m.UserID != "discord:"+testUser || m.Author != "Ala" {
			t.Errorf("moderated %+v, want the sender's id and nickname", m)
		}
		return Message{}, &Refusal{Code: "cooldown", Reason: "You printed a moment ago.", RetryAfter: 90 * time.Second}
	}
	w := f.post(t, commandJSON("1234567890123456789", "tok-1", "print", "hi"), testKey, time.Now())
	wantReply(t, w.Body.Bytes(), "Not printed: You printed a moment ago. Try again in 2 min.")
	if p := f.tracker.Pending(); len(p) != 0 {
		t.Errorf("queued %v after a refusal", p)
	}
}

func TestDiscordHTTPBadText(t *testing.T) {
	f := newDiscordFixture(t, nil, nil)
	w := f.post(t, commandJSON("1234567890123456789", "tok-1", "print", strings.Repeat("x", printer.MaxTextRunes+1)), testKey, time.Now())
	wantReply(t, w.Body.Bytes(), "That can't be printed: text has 2001 characters, at most 2000.")
}

func TestDiscordHTTPDeferred(t *testing.T) {
	release := make(chan struct{})
	f := newDiscordFixture(t, nil, func(tr *printer.Tracker) discordDesk { return &slowDesk{Tracker: tr, release: release} })
	f.bot.deferAfter = 50 * time.Millisecond
	f.start(t)
	start := time.Now()
	w := f.post(t, commandJSON("1234567890123456789", "tok-1", "print", "slow"), testKey, time.Now())
	if took := time.Since(start); took > time.Second {
		t.Errorf("the first reply took %v", took)
	}
	r := decodeResponse(t, w.Body.Bytes())
	if r.Type != 5 || r.Data == nil || r.Data.Flags&64 == 0 {
		t.Fatalf("got %s, want a deferred ephemeral response (type 5, flags 64)", w.Body)
	}
	time.Sleep(50 * time.Millisecond)
	f.fake.noRequest(t, "PATCH", "/webhooks/")
	close(release)
	edit := f.fake.waitRequest(t, "PATCH", "/webhooks/"+testAppID+"/tok-1/messages/@original")
	var msg struct {
		Content string `json:"content"`
	}
	json.Unmarshal(edit.Body, &msg)
	if !strings.Contains(msg.Content, "Queued: number 1 in line") {
		t.Errorf("edited reply: got %s, want the place in line", edit.Body)
	}
}

func TestDiscordHTTPQueue(t *testing.T) {
	f := newDiscordFixture(t, nil, nil)
	if _, _, err := f.tracker.Submit(t.Context(), printer.Job{ID: "web:1", Source: printer.SourceWeb, Author: "x", Text: "first"}); err != nil {
		t.Fatal(err)
	}
	w := f.post(t, commandJSON("1234567890123456789", "tok-1", "queue", ""), testKey, time.Now())
	wantReply(t, w.Body.Bytes(), "You have nothing waiting to print. 1 message is waiting. Printer: online.")
	f.post(t, commandJSON("1234567890123456790", "tok-2", "print", "one"), testKey, time.Now())
	f.post(t, commandJSON("1234567890123456791", "tok-3", "print", "two"), testKey, time.Now())
	w = f.post(t, commandJSON("1234567890123456792", "tok-4", "queue", ""), testKey, time.Now())
	wantReply(t, w.Body.Bytes(), "Your messages are numbers 2, 3 in line. 3 messages are waiting. Printer: online.")
}

func TestDiscordFollowUps(t *testing.T) {
	f := newDiscordFixture(t, nil, nil)
	var later atomic.Int64
	f.bot.now = func() time.Time { return time.Now().Add(time.Duration(later.Load())) }
	f.start(t)
	f.post(t, commandJSON("1234567890123456789", "tok-1", "print", "one"), testKey, time.Now())
	f.post(t, commandJSON("1234567890123456790", "tok-2", "print", "two"), testKey, time.Now())

	f.event(t, "discord:1234567890123456789", printer.EventFailed, "paper jam")
	r := f.fake.waitRequest(t, "POST", "/webhooks/"+testAppID+"/tok-1")
	if !bytes.Contains(r.Body, []byte("could not be printed: paper jam")) {
		t.Errorf("follow-up: got %s, want the reason", r.Body)
	}

	// After 15 minutes the interaction token is dead: the follow-up goes to the channel, naming the sender.
	later.Store(int64(20 * time.Minute))
	f.event(t, "discord:1234567890123456790", printer.EventPrinted, "")
	r = f.fake.waitRequest(t, "POST", "/channels/"+testChannel+"/messages")
	var msg struct {
		Content         string `json:"content"`
		AllowedMentions struct {
			Users []string `json:"users"`
		} `json:"allowed_mentions"`
	}
	json.Unmarshal(r.Body, &msg)
	if msg.Content != "<@"+testUser+"> your /print message was printed." || len(msg.AllowedMentions.Users) != 1 {
		t.Errorf("channel follow-up: got %s", r.Body)
	}
}

func TestDiscordFollowUpsNeverBlock(t *testing.T) {
	f := newDiscordFixture(t, nil, nil)
	// Nothing drains the outbox (Run is not running): settled outcomes beyond it are dropped, not waited on.
	for n := range discordOutbox + 10 {
		id := fmt.Sprintf("discord:%d", n)
		f.bot.watchJob(id, watch{userID: testUser, channelID: testChannel})
		done := make(chan struct{})
		go func() { f.bot.settled(printer.JobStatus{ID: id, State: printer.JobPrinted}); close(done) }()
		select {
		case <-done:
		case <-time.After(time.Second):
			t.Fatalf("follow-up %d blocked", n)
		}
	}
	if got := len(f.bot.outbox); got != discordOutbox {
		t.Errorf("outbox holds %d, want %d", got, discordOutbox)
	}
	f.logs.waitLog(t, "too many follow-ups waiting")
}

// gatewayFixture runs the bot in gateway mode against the fake gateway until it has identified.
// before, when not nil, runs just before the bot starts.
func gatewayFixture(t *testing.T, edit func(*DiscordConfig), before func()) *discordFixture {
	f := newDiscordFixture(t, func(c *DiscordConfig) {
		c.Mode, c.PublicKey = DiscordGateway, ""
		if edit != nil {
			edit(c)
		}
	}, nil)
	if before != nil {
		before()
	}
	f.start(t)
	f.fake.waitIdentified(t, 1)
	f.logs.waitLog(t, "gateway connected")
	return f
}

func TestDiscordGateway(t *testing.T) {
	var baseline int
	f := gatewayFixture(t, nil, func() { baseline = runtime.NumGoroutine() })
	id := f.fake.waitIdentified(t, 1)
	if id.Token != "Bot "+fakeToken || id.Intents != 0 {
		t.Errorf("identify: got %+v, want the bot token and no intents", id)
	}
	f.fake.mu.Lock()
	dialled := f.fake.gatewayURL[0]
	f.fake.mu.Unlock()
	if dialled != "/gateway/?v=9&encoding=json" {
		t.Errorf("dialled %q, want the gateway URL from GET /gateway with v=9&encoding=json", dialled)
	}
	f.fake.waitHeartbeats(t, 1)
	f.fake.sendOp(1, "null") // Discord asks for a heartbeat now
	f.fake.waitHeartbeats(t, 2)

	const iid = "1234567890123456789"
	f.fake.dispatch("INTERACTION_CREATE", commandJSON(iid, "tok-1", "print", "over the gateway"))
	r := f.fake.waitRequest(t, "POST", "/interactions/"+iid+"/tok-1/callback")
	wantReply(t, r.Body, "Queued: number 1 in line")
	if job, _ := f.tracker.Job("discord:" + iid); job.Text != "over the gateway" {
		t.Errorf("job: got %+v", job)
	}

	// A redelivered interaction prints once.
	f.fake.dispatch("INTERACTION_CREATE", commandJSON(iid, "tok-1", "print", "over the gateway"))
	r = f.fake.waitRequest(t, "POST", "/interactions/"+iid+"/tok-1/callback")
	wantReply(t, r.Body, "Already queued")
	if p := f.tracker.Pending(); len(p) != 1 {
		t.Errorf("pending: got %v, want one job", p)
	}

	f.event(t, "discord:"+iid, printer.EventPrinted, "")
	r = f.fake.waitRequest(t, "POST", "/webhooks/"+testAppID+"/tok-1")
	if !bytes.Contains(r.Body, []byte("Printed")) {
		t.Errorf("follow-up: got %s", r.Body)
	}

	// Discord invalidates the session: discordgo identifies again; the bot warns about a second instance.
	f.fake.sendOp(9, "false")
	f.fake.waitIdentified(t, 2)
	f.logs.waitLog(t, "run exactly one gateway instance per token")

	f.stop(t)
	f.bot.session.Client.CloseIdleConnections()
	for deadline := time.Now().Add(5 * time.Second); runtime.NumGoroutine() > baseline && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	if got := runtime.NumGoroutine(); got > baseline {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines after Run returned, %d before:\n%s", got, baseline, buf[:runtime.Stack(buf, true)])
	}
}

func TestDiscordGatewaySecondInstance(t *testing.T) {
	f := gatewayFixture(t, nil, nil)
	f.fake.setOverride(func(method, path string) (int, string, bool) {
		return http.StatusBadRequest, `{"message": "Interaction has already been acknowledged.", "code": 40060}`,
			strings.HasSuffix(path, "/callback")
	})
	f.fake.dispatch("INTERACTION_CREATE", commandJSON("1234567890123456789", "tok-1", "queue", ""))
	f.logs.waitLog(t, "more than one instance runs with this bot token")
}

func TestDiscordGatewayBadToken(t *testing.T) {
	f := newDiscordFixture(t, func(c *DiscordConfig) { c.Mode, c.PublicKey, c.Token = DiscordGateway, "", "wrong" }, nil)
	err := f.bot.Run(t.Context())
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("Run: got %v, want 401 Unauthorized", err)
	}
}

func TestDiscordChannelMode(t *testing.T) {
	f := gatewayFixture(t, func(c *DiscordConfig) { c.Channel = testChannel }, nil)
	if id := f.fake.waitIdentified(t, 1); id.Intents != 1<<9|1<<15 {
		t.Errorf("identify intents: got %d, want GUILD_MESSAGES|MESSAGE_CONTENT", id.Intents)
	}
	message := func(id, channel, author string, bot bool, content string) string {
		return fmt.Sprintf(`{"id": %q, "channel_id": %q, "guild_id": %q, "type": 0, "content": %q, "timestamp": "2025-01-02T03:04:05.000000+00:00",
			"author": {"id": %q, "username": "ala", "global_name": "Ala K", "bot": %v}, "member": {"nick": "", "roles": []}}`,
			id, channel, testGuild, content, author, bot)
	}
	f.fake.dispatch("MESSAGE_CREATE", message("1300000000000000001", testChannel, fakeBotID, true, "my own reply"))
	f.fake.dispatch("MESSAGE_CREATE", message("1300000000000000002", "333000000000000009", testUser, false, "elsewhere"))
	f.fake.dispatch("MESSAGE_CREATE", message("1300000000000000003", testChannel, testUser, false, "print me"))
	f.waitState(t, "discord:1300000000000000003", printer.JobQueued)
	job, _ := f.tracker.Job("discord:1300000000000000003")
	if job.Author != "Ala K" || job.Text != "print me" || !job.CreatedAt.Equal(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Errorf("job: got %+v", job)
	}
	if p := f.tracker.Pending(); len(p) != 1 {
		t.Errorf("pending: got %v, want only the person's message in the channel", p)
	}
	f.event(t, "discord:1300000000000000003", printer.EventPrinted, "")
	f.fake.waitRequest(t, "PUT", "/channels/"+testChannel+"/messages/1300000000000000003/reactions/✅/@me")

	f.mod.admit = func(m Message) (Message, error) {
		return Message{}, &Refusal{Code: "link", Reason: "Links are not printed."}
	}
	f.fake.dispatch("MESSAGE_CREATE", message("1300000000000000004", testChannel, testUser, false, "http://spam"))
	f.fake.waitRequest(t, "PUT", "/channels/"+testChannel+"/messages/1300000000000000004/reactions/❌/@me")
	r := f.fake.waitRequest(t, "POST", "/channels/"+testChannel+"/messages")
	if !bytes.Contains(r.Body, []byte("Links are not printed.")) || !bytes.Contains(r.Body, []byte("1300000000000000004")) {
		t.Errorf("refusal reply: got %s, want the reason, replying to the message", r.Body)
	}
}

// FuzzInteraction: whatever a signed request holds, the endpoint neither panics nor answers 5xx.
func FuzzInteraction(f *testing.F) {
	f.Add(`{"id": "1", "type": 1}`)
	f.Add(commandJSON("1234567890123456789", "tok", "print", "hi"))
	f.Add(commandJSON("1234567890123456789", "tok", "queue", ""))
	f.Add(commandJSON("x/../y", "tok", "print", "\x1b@"))
	f.Add(`{"id": "1", "type": 2, "data": {"name": "print", "options": [{"name": "text", "value": 5}]}}`)
	f.Add(`{"id": "1", "type": 2, "data": {"name": "print", "options": [null, {"name": "text", "type": 1, "options": [{}]}]}, "member": {}}`)
	f.Add(`{"type": 3, "data": {"custom_id": "x"}}`)
	f.Add(`{"type": 2, "data": null, "user": {"id": "5"}}`)
	f.Add(`[]`)
	log := discardLogger()
	// A small queue soon answers "full" without writing: thousands of fsyncs would stall the fuzzer.
	q, err := printer.OpenDiskQueue(printer.DiskQueueConfig{Dir: filepath.Join(f.TempDir(), "queue"), MaxPending: 20}, log)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { q.Close() })
	bot, err := NewDiscord(DiscordConfig{Token: fakeToken, ApplicationID: testAppID, Mode: DiscordHTTP,
		PublicKey: hex.EncodeToString(testKey.Public().(ed25519.PublicKey))}, printer.NewTracker(q, 100, log), &fakeModerator{}, nil, log)
	if err != nil {
		f.Fatal(err)
	}
	bot.deferAfter = 100 * time.Millisecond // a slow disk exercises the deferred reply, without stalling the fuzzer
	bot.session.Client = &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
		return nil, errors.New("no network in fuzzing")
	})}
	f.Fuzz(func(t *testing.T, body string) {
		w := httptest.NewRecorder()
		bot.InteractionsHandler().ServeHTTP(w, signed(body, testKey, time.Now()))
		if w.Code >= 500 {
			t.Errorf("got %d %s for %q", w.Code, w.Body, body)
		}
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestDiscordSweepCatchesMissedOutcomes(t *testing.T) {
	f := newDiscordFixture(t, nil, nil)
	// Printed before the bot subscribed: only the sweep can notice.
	if _, _, err := f.tracker.Submit(t.Context(), printer.Job{ID: "discord:1", Source: printer.SourceDiscord, Author: "Ala", Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	f.event(t, "discord:1", printer.EventPrinted, "")
	f.waitState(t, "discord:1", printer.JobPrinted)
	f.bot.watchJob("discord:1", watch{userID: testUser, channelID: testChannel, appID: testAppID, token: "tok-1", expires: time.Now().Add(time.Hour)})
	f.bot.watchJob("discord:2", watch{userID: testUser, channelID: testChannel})
	f.bot.mu.Lock()
	w := f.bot.watching["discord:2"]
	w.since = time.Now().Add(-25 * time.Hour)
	f.bot.watching["discord:2"] = w
	f.bot.mu.Unlock()
	f.start(t)
	f.fake.waitRequest(t, "POST", "/webhooks/"+testAppID+"/tok-1")
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		f.bot.mu.Lock()
		n := len(f.bot.watching)
		f.bot.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still watching %d jobs, want the day-old one forgotten", n)
		}
	}
}
