package web

import (
	"bytes"
	"context"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stagelink/stagelink/bots"
	"github.com/stagelink/stagelink/lighting"
	"github.com/stagelink/stagelink/printer"
)

// printFixture is a hub whose print API feeds a real Tracker over a real embedded queue.
type printFixture struct {
	*apiFixture
	queue *printer.DiskQueue
}

func newPrintHub(t *testing.T, qcfg printer.DiskQueueConfig) *printFixture {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	qcfg.Dir = filepath.Join(t.TempDir(), "queue")
	q, err := printer.OpenDiskQueue(qcfg, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	tr := printer.NewTracker(q, 0, log)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { tr.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	f := newAPIHub(t, Config{APIToken: testAPIToken, Print: tr, PrintLayout: printer.LayoutConfig{Header: "test"}}, lighting.DefaultConfig())
	return &printFixture{apiFixture: f, queue: q}
}

func TestAPIPrintRefusesBadInput(t *testing.T) {
	f := newPrintHub(t, printer.DiskQueueConfig{})
	long := strings.Repeat("ą", printer.MaxTextRunes+1)
	tests := []struct {
		name, token, body string
		status            int
		code              string
	}{
		{"no token", "", `{"text":"hi"}`, http.StatusUnauthorized, "unauthorized"},
		{"wrong token", "nope", `{"text":"hi"}`, http.StatusUnauthorized, "unauthorized"},
		{"not JSON", testAPIToken, `hello`, http.StatusBadRequest, "bad_request"},
		{"unknown field", testAPIToken, `{"text":"hi","colour":"red"}`, http.StatusBadRequest, "bad_request"},
		{"two objects", testAPIToken, `{"text":"hi"}{"text":"again"}`, http.StatusBadRequest, "bad_request"},
		{"empty text", testAPIToken, `{"text":"  "}`, http.StatusBadRequest, "bad_request"},
		{"only control bytes", testAPIToken, `{"text":"\u001b\u001d"}`, http.StatusBadRequest, "bad_request"},
		{"text too long", testAPIToken, `{"text":"` + long + `"}`, http.StatusBadRequest, "bad_request"},
		{"invalid UTF-8", testAPIToken, "{\"text\":\"a\xff\"}", http.StatusBadRequest, "bad_request"},
		{"unknown source", testAPIToken, `{"text":"hi","source":"fax"}`, http.StatusBadRequest, "bad_request"},
		{"bad id", testAPIToken, `{"id":"a b","text":"hi"}`, http.StatusBadRequest, "bad_request"},
		{"amount without tip", testAPIToken, `{"text":"hi","amount":100,"currency":"PLN"}`, http.StatusBadRequest, "bad_request"},
		{"tip without currency", testAPIToken, `{"text":"hi","source":"tip","amount":100}`, http.StatusBadRequest, "bad_request"},
		{"negative tip", testAPIToken, `{"text":"hi","source":"tip","amount":-1,"currency":"PLN"}`, http.StatusBadRequest, "bad_request"},
		{"huge body", testAPIToken, `{"text":"` + strings.Repeat("a", maxPrintBody) + `"}`, http.StatusBadRequest, "bad_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, http.MethodPost, f.url+"/api/v1/print", tt.token, tt.body)
			if resp.StatusCode != tt.status {
				t.Fatalf("got HTTP %d %s, want %d", resp.StatusCode, body, tt.status)
			}
			if got := decodeJSON[ackMsg](t, body); got.OK || got.Error == nil || string(got.Error.Code) != tt.code {
				t.Errorf("got %s, want error code %s", body, tt.code)
			}
		})
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if d, err := f.queue.Next(ctx); err == nil {
		t.Errorf("the queue holds job %s after only bad requests, want it empty", d.Job.ID)
	}
}

func TestAPIPrint(t *testing.T) {
	f := newPrintHub(t, printer.DiskQueueConfig{})
	resp, body := do(t, http.MethodPost, f.url+"/api/v1/print", testAPIToken,
		`{"id":"order-7","source":"tip","author":"Ala","text":"Dzięki! 🎉","amount":1250,"currency":"PLN"}`)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST: got HTTP %d %s, want 202", resp.StatusCode, body)
	}
	got := decodeJSON[printAnswer](t, body)
	if !got.OK || got.ID != "api:order-7" || got.State != printer.JobQueued {
		t.Errorf("POST: got %s, want ok, id api:order-7, status queued", body)
	}
	if loc := resp.Header.Get("Location"); loc != "/api/v1/print/api:order-7" {
		t.Errorf("Location: got %q, want /api/v1/print/api:order-7", loc)
	}

	// The same id again is not queued twice.
	resp, body = do(t, http.MethodPost, f.url+"/api/v1/print", testAPIToken,
		`{"id":"order-7","source":"tip","author":"Ala","text":"Dzięki! 🎉","amount":1250,"currency":"PLN"}`)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("POST again: got HTTP %d %s, want 200 (already queued)", resp.StatusCode, body)
	}
	d, err := f.queue.Next(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if d.Job.ID != "api:order-7" || d.Job.Source != printer.SourceTip || d.Job.Amount != 1250 || d.Job.CreatedAt.IsZero() {
		t.Errorf("queued job: got %+v, want api:order-7, a tip of 1250 with a time", d.Job)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if d2, err := f.queue.Next(ctx); err == nil {
		t.Errorf("the queue holds %s a second time", d2.Job.ID)
	}

	// The receipt picture, as the printer will print it.
	resp, body = do(t, http.MethodGet, f.url+"/api/v1/print/api:order-7/receipt.png", testAPIToken, "")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("receipt: got HTTP %d %s, want 200 image/png", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	img, err := png.Decode(bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatalf("receipt: %v", err)
	}
	if w := img.Bounds().Dx(); w != 576 {
		t.Errorf("receipt: got %d dots wide, want 576", w)
	}

	// The agent reports the job printed: the status follows.
	status := func() string {
		resp, body := do(t, http.MethodGet, f.url+"/api/v1/print/api:order-7", testAPIToken, "")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET status: got HTTP %d %s, want 200", resp.StatusCode, body)
		}
		return string(decodeJSON[printer.JobStatus](t, body).State)
	}
	if got := status(); got != "queued" {
		t.Errorf("status before printing: got %s, want queued", got)
	}
	if err := d.Ack(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := f.queue.PublishEvent(t.Context(), printer.Event{JobID: "api:order-7", Kind: printer.EventPrinted, At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "status printed", func() bool { return status() == "printed" })

	for _, path := range []string{"/api/v1/print/api:nope", "/api/v1/print/api:nope/receipt.png"} {
		if resp, body := do(t, http.MethodGet, f.url+path, testAPIToken, ""); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: got HTTP %d %s, want 404", path, resp.StatusCode, body)
		}
		if resp, _ := do(t, http.MethodGet, f.url+path, "", ""); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET %s without a token: got HTTP %d, want 401", path, resp.StatusCode)
		}
	}
}

func TestAPIPrintQueueFull(t *testing.T) {
	f := newPrintHub(t, printer.DiskQueueConfig{MaxPending: 1})
	if resp, body := do(t, http.MethodPost, f.url+"/api/v1/print", testAPIToken, `{"text":"one"}`); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("first job: got HTTP %d %s, want 202", resp.StatusCode, body)
	}
	resp, body := do(t, http.MethodPost, f.url+"/api/v1/print", testAPIToken, `{"text":"two"}`)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("second job: got HTTP %d %s (Retry-After %q), want 503 with Retry-After", resp.StatusCode, body, resp.Header.Get("Retry-After"))
	}
	if got := decodeJSON[ackMsg](t, body); got.Error == nil || got.Error.Code != codeQueueFull {
		t.Errorf("second job: got %s, want code queue_full", body)
	}
}

func TestAPIPrintNotSetUp(t *testing.T) {
	f := newAPIHub(t, Config{APIToken: testAPIToken}, lighting.DefaultConfig())
	if resp, body := do(t, http.MethodPost, f.url+"/api/v1/print", testAPIToken, `{"text":"hi"}`); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("POST: got HTTP %d %s, want 503", resp.StatusCode, body)
	}
	if resp, _ := do(t, http.MethodGet, f.url+"/demo/printer/1.png", "", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("demo receipt without a demo printer: got HTTP %d, want 404", resp.StatusCode)
	}
}

// eventually polls cond for up to 5 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestAPIPrintPauseAndRefusals(t *testing.T) {
	mod, err := bots.NewModerator(bots.ModerationConfig{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	f := newAPIHub(t, Config{APIToken: testAPIToken, Moderation: mod}, lighting.DefaultConfig())
	for _, step := range []struct {
		method, path string
		want         bool
	}{
		{http.MethodGet, "/api/v1/print/pause", false},
		{http.MethodPost, "/api/v1/print/pause", true},
		{http.MethodGet, "/api/v1/print/pause", true},
		{http.MethodPost, "/api/v1/print/resume", false},
	} {
		resp, body := do(t, step.method, f.url+step.path, testAPIToken, "")
		if got := decodeJSON[pauseMsg](t, body); resp.StatusCode != http.StatusOK || got.Paused != step.want {
			t.Errorf("%s %s: got HTTP %d %s, want paused %v", step.method, step.path, resp.StatusCode, body, step.want)
		}
		if resp, _ := do(t, step.method, f.url+step.path, "", ""); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s %s without a token: got HTTP %d, want 401", step.method, step.path, resp.StatusCode)
		}
	}
	if _, err := mod.Admit(bots.Message{Source: printer.SourceDiscord, JobID: "discord:1", UserID: "discord:9", Author: "x", Text: "see https://spam.example"}); err == nil {
		t.Fatal("a link was admitted")
	}
	resp, body := do(t, http.MethodGet, f.url+"/api/v1/print/refusals", testAPIToken, "")
	got := decodeJSON[struct{ Refusals []bots.RefusalRecord }](t, body)
	if resp.StatusCode != http.StatusOK || len(got.Refusals) != 1 || got.Refusals[0].Code != "link" || got.Refusals[0].JobID != "discord:1" {
		t.Errorf("refusals: got HTTP %d %s, want one link refusal of discord:1", resp.StatusCode, body)
	}
}
