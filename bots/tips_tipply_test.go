package bots

import (
	"context"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stagelink/stagelink/printer"
	"github.com/zishang520/engine.io/v2/types"
	"github.com/zishang520/socket.io/v2/socket"
)

// tipplyFeed is a stand-in for Tipply's widget feed: a Socket.IO server (zishang520/socket.io v2, as the
// hub runs) whose namespace /tip/<user> hands each joining client to the test.
type tipplyFeed struct {
	url     string
	clients chan *socket.Socket
}

func newTipplyFeed(t *testing.T, user string) *tipplyFeed {
	t.Helper()
	opts := socket.DefaultServerOptions()
	opts.SetServeClient(false)
	opts.SetPerMessageDeflate(&types.PerMessageDeflate{Threshold: 1 << 20})
	io := socket.NewServer(nil, opts)
	feed := &tipplyFeed{clients: make(chan *socket.Socket, 8)}
	io.Of("/tip/"+user, nil).On("connection", func(args ...any) {
		if c, ok := args[0].(*socket.Socket); ok {
			feed.clients <- c
		}
	})
	ts := httptest.NewServer(io.ServeHandler(nil))
	t.Cleanup(func() {
		done := make(chan struct{})
		io.Close(func(error) { close(done) })
		select {
		case <-done:
		case <-time.After(2 * time.Second):
		}
		ts.Close()
	})
	feed.url = ts.URL + "/tip/" + user
	return feed
}

func (f *tipplyFeed) next(t *testing.T) *socket.Socket {
	t.Helper()
	select {
	case c := <-f.clients:
		return c
	case <-time.After(15 * time.Second):
		t.Fatal("the source did not join the feed")
		return nil
	}
}

// emitUntil sends the tips to the feed's newest client until done, every 100 ms, for at most 10 s. A
// source that dialled again (its namespace CONNECT got lost) is a new client.
func (f *tipplyFeed) emitUntil(t *testing.T, c *socket.Socket, done func() bool, tips ...any) *socket.Socket {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !done(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the source did not queue the feed's tips")
		}
		select {
		case c = <-f.clients:
		default:
		}
		for _, tip := range tips {
			c.Emit(TipplyEvent, tip)
		}
	}
	return c
}

// waitJobs polls until the queue holds n jobs and returns them ordered by id.
func waitJobs(t *testing.T, f *tipsFixture, n int) []printer.Job {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		jobs := f.jobs()
		if len(jobs) >= n || time.Now().After(deadline) {
			sort.Slice(jobs, func(i, j int) bool { return jobs[i].ID < jobs[j].ID })
			if len(jobs) != n {
				t.Fatalf("queued %d jobs, want %d: %+v", len(jobs), n, jobs)
			}
			return jobs
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestTipplyFeedTipsPrintOnceAndSurviveReconnects(t *testing.T) {
	feed := newTipplyFeed(t, "u-123")
	f := newTipsFixture(t, TipsConfig{Tipply: TipplyConfig{FeedURL: feed.url}, MinAmount: map[string]int64{"PLN": 200}})
	src, err := NewTipplySource(f.tips, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	src.MinBackoff, src.MaxBackoff, src.ConnectTimeout = 20*time.Millisecond, 100*time.Millisecond, time.Second
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx) }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v, want nil", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Run did not return after its context ended")
		}
	}()

	// socket.io-client-go can drop an event that arrives while it handles the namespace CONNECT (it
	// handles packets concurrently), so the feed sends its tips until they are queued: a tip sent again
	// must print once anyway.
	c := feed.next(t)
	// As the assumed feed sends it: the tip as a JSON text, its message HTML with an emote.
	c = feed.emitUntil(t, c, func() bool { return len(f.jobs()) == 2 },
		`{"id":"t-1","nickname":"Ala","message":"Cze\u015b\u0107 <img src=\"e.png\" alt=\":kappa:\"> &amp; hej\u001b@","amount":500,"email":"ala@example.com"}`,
		map[string]any{"id": 42, "nickname": "Ola", "message": "", "amount": 1000},
		`{"id":"t-small","nickname":"Ela","message":"hi","amount":100}`, // below the minimum
		`not json`,
	)

	c.Disconnect(true) // the feed drops the source; it comes back
	c = feed.next(t)
	feed.emitUntil(t, c, func() bool { return len(f.jobs()) == 3 },
		`{"id":"t-1","nickname":"Ala","message":"again","amount":500}`, // the same tip again
		`{"id":"t-2","nickname":"Iza","message":"po przerwie","amount":250}`)
	jobs := waitJobs(t, f, 3)
	for i := range jobs {
		jobs[i].CreatedAt = time.Time{}
	}
	want := []printer.Job{
		{ID: "tipply:42", Source: printer.SourceTip, Author: "Ola", Amount: 1000, Currency: "PLN"},
		{ID: "tipply:t-1", Source: printer.SourceTip, Author: "Ala", Text: "Cześć :kappa: & hej\x1b@", Amount: 500, Currency: "PLN"},
		{ID: "tipply:t-2", Source: printer.SourceTip, Author: "Iza", Text: "po przerwie", Amount: 250, Currency: "PLN"},
	}
	if diff := cmp.Diff(want, jobs); diff != "" {
		t.Errorf("queued (-want +got):\n%s", diff)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(f.tipsSeen()) < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // onTip follows the job's entry in the queue
	}
	if tips := f.tipsSeen(); len(tips) != 3 {
		t.Errorf("onTip called %d times, want 3", len(tips))
	}
	if data, err := printer.Render(jobs[1], printer.LayoutConfig{}); err != nil || strings.Contains(string(data), "hej\x1b@") || !strings.Contains(string(data), "hej@") {
		t.Errorf("the receipt carries the tip's control bytes or lost its text (err %v): %q", err, data)
	}
}

func TestTipplySourceRetriesUnreachableFeed(t *testing.T) {
	feed := newTipplyFeed(t, "u-1")
	f := newTipsFixture(t, TipsConfig{Tipply: TipplyConfig{FeedURL: strings.Replace(feed.url, "u-1", "nobody", 1)}})
	src, err := NewTipplySource(f.tips, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	src.MinBackoff, src.MaxBackoff = 10*time.Millisecond, 20*time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := src.Run(ctx); err != nil {
		t.Errorf("Run returned %v, want nil", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Run took %s to return after its context ended", d)
	}
}

func TestDecodeTipplyTip(t *testing.T) {
	for _, tt := range []struct {
		name string
		arg  any
		want tipIn
		ok   bool
	}{
		{"json text", `{"id":"a1","nickname":"Jo","message":"<b>hej</b> <IMG alt='LUL' src=x>!","amount":1250}`,
			tipIn{provider: "tipply", id: "a1", sender: "name:Jo", author: "Jo", text: "hej LUL !", amount: 1250, currency: "PLN"}, true},
		{"object with numeric id", map[string]any{"id": float64(7), "nickname": "Jo", "amount": float64(300)},
			tipIn{provider: "tipply", id: "7", sender: "name:Jo", author: "Jo", amount: 300, currency: "PLN"}, true},
		{"fractional amount", `{"id":"a","amount":12.5}`, tipIn{}, false},
		{"no amount", `{"id":"a"}`, tipIn{}, false},
		{"not an object", `[1,2]`, tipIn{}, false},
		{"not json", `tip!`, tipIn{}, false},
		{"no payload", nil, tipIn{}, false},
		{"a number", float64(3), tipIn{}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeTipplyTip(tt.arg, "PLN")
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok %v", err, tt.ok)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(tipIn{})); tt.ok && diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	a, _ := decodeTipplyTip(`{"nickname":"Jo","amount":100}`, "PLN")
	b, _ := decodeTipplyTip(`{"nickname":"Jo","amount":100}`, "PLN")
	c, _ := decodeTipplyTip(`{"nickname":"Jo","amount":200}`, "PLN")
	if a.id == "" || a.id != b.id || a.id == c.id {
		t.Errorf("ids without a tip id: %q %q %q, want one per payload", a.id, b.id, c.id)
	}
}

func TestTipplyBackoff(t *testing.T) {
	var got []time.Duration
	for failures := 1; failures <= 6; failures++ {
		got = append(got, tipplyBackoff(failures, time.Second, 10*time.Second))
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestTipplyConfigValidate(t *testing.T) {
	for _, tt := range []struct {
		cfg TipplyConfig
		ok  bool
	}{
		{TipplyConfig{}, true},
		{TipplyConfig{FeedURL: "https://ws.tipply.pl/tip/abc"}, true},
		{TipplyConfig{FeedURL: "wss://ws.tipply.pl/tip/abc", Currency: "EUR"}, true},
		{TipplyConfig{FeedURL: "ws.tipply.pl/tip/abc"}, false},
		{TipplyConfig{FeedURL: "ftp://ws.tipply.pl/"}, false},
		{TipplyConfig{FeedURL: "https://ws.tipply.pl/", Currency: "zł"}, false},
	} {
		if err := tt.cfg.Validate(); (err == nil) != tt.ok {
			t.Errorf("%+v: Validate() = %v, want ok %v", tt.cfg, err, tt.ok)
		}
	}
	server, nsp, err := splitTipplyFeed("https://ws.tipply.pl/tip/abc?x=1")
	if err != nil || server != "https://ws.tipply.pl?x=1" || nsp != "/tip/abc" {
		t.Errorf("splitTipplyFeed = %q %q %v", server, nsp, err)
	}
}
