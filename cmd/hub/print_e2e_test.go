package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stagelink/stagelink/printer"
	"github.com/stagelink/stagelink/printer/printertest"
)

// printJob posts a print job to the hub's API and returns the job's id.
func printJob(t *testing.T, hub, token, body string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, hub+"/api/v1/print", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		OK bool   `json:"ok"`
		ID string `json:"id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != http.StatusAccepted || !got.OK {
		t.Fatalf("POST /api/v1/print %s: HTTP %d %+v %v, want 202", body, resp.StatusCode, got, err)
	}
	return got.ID
}

// printState returns a job's status as the hub tells it.
func printState(t *testing.T, hub, token, id string) printer.JobState {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, hub+"/api/v1/print/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st printer.JobStatus
	json.NewDecoder(resp.Body).Decode(&st)
	return st.State
}

// TestPrintThroughRabbitMQ: the hub queues jobs in RabbitMQ, a printer agent in another process prints
// them (to a file), and the hub learns from the broker's events that each one printed.
func TestPrintThroughRabbitMQ(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: end-to-end")
	}
	broker := printertest.AMQPURL(t)
	prefix := printertest.RabbitPrefix(t, broker)
	t.Setenv("STAGELINK_AMQP", broker) // the broker URL holds a password: the environment, as in production
	_, hub := startHub(t, "-addr", "127.0.0.1:0", "-amqp-prefix", prefix)
	out := filepath.Join(t.TempDir(), "receipts.bin")
	start(t, "printer", []string{"-amqp-prefix", prefix, "-data", t.TempDir(), "-out", out}, "STAGELINK_PRINTER_AMQP="+broker)

	const n = 20
	ids := make([]string, n)
	for i := range n {
		ids[i] = printJob(t, hub, "e2e-api", fmt.Sprintf(`{"id":"rmq-%02d","author":"e2e","text":"through the broker %02d"}`, i, i))
	}
	eventually(t, "every job printed, as the hub tells it", func() bool {
		for _, id := range ids {
			if printState(t, hub, "e2e-api", id) != printer.JobPrinted {
				return false
			}
		}
		return true
	})
	paper, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if c := bytes.Count(paper, fmt.Appendf(nil, "through the broker %02d", i)); c != 1 {
			t.Errorf("job %d is on the paper %d times, want once", i, c)
		}
	}
	resp, err := http.Get(hub + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"print-queue":{"ok":true`) {
		t.Errorf("/readyz: HTTP %d %s, want 200 with print-queue ok", resp.StatusCode, body)
	}
}

// TestRunPrinterOnSerial: with -printer the hub runs the agent in-process and prints over a real serial
// line (a socat pty pair) to the fake TM-T88IV.
func TestRunPrinterOnSerial(t *testing.T) {
	printertest.NeedSocat(t)
	host, far := printertest.SocatPair(t)
	port, err := printer.OpenSerial(far, printer.DefaultBaud)
	if err != nil {
		t.Fatal(err)
	}
	fake := printer.NewFakePrinter(port, printer.FakePrinterConfig{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	fctx, stopFake := context.WithCancel(context.Background())
	fakeDone := make(chan struct{})
	go func() { fake.Run(fctx); close(fakeDone) }()
	defer func() { stopFake(); <-fakeDone }()

	h := runHub(t, []string{"-addr", "127.0.0.1:0", "-data", t.TempDir(), "-demo=false", "-printer", host, "-print-footer", "dziękujemy"},
		map[string]string{"STAGELINK_API_TOKEN": "serial-api"})
	hub := h.url
	id := printJob(t, hub, "serial-api", `{"author":"Żaneta","text":"na papierze"}`)
	eventually(t, "the job printed on the serial printer", func() bool { return printState(t, hub, "serial-api", id) == printer.JobPrinted })
	paper := fake.Printed()
	for _, want := range []string{"na papierze", "dziękujemy"} {
		if !bytes.Contains(paper, printer.EncodePC852(want)) {
			t.Errorf("the printer got %q, want it to contain %q in PC852", paper, want)
		}
	}
	h.stop(t)
}

// TestPrintBrokerRefuses: a broker that refuses the hub's credentials leaves the hub serving: /readyz says
// the print queue is down, and a print job is refused with 503 and Retry-After instead of hanging.
func TestPrintBrokerRefuses(t *testing.T) {
	broker := printertest.AMQPURL(t)
	u, err := url.Parse(broker)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword("stagelink-nobody", "wrong-s3cret")
	h := runHub(t, []string{"-addr", "127.0.0.1:0", "-data", t.TempDir(), "-demo=false", "-amqp-prefix", "stagelink.test.refused"},
		map[string]string{"STAGELINK_API_TOKEN": "refused-api", "STAGELINK_AMQP": u.String()})
	defer h.stop(t)

	resp, err := http.Get(h.url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), `"print-queue":{"ok":false`) {
		t.Errorf("/readyz: HTTP %d %s, want 503 with print-queue not ok", resp.StatusCode, body)
	}
	if strings.Contains(string(body), "s3cret") {
		t.Errorf("/readyz: %s shows the broker password", body)
	}
	req, _ := http.NewRequest(http.MethodPost, h.url+"/api/v1/print", strings.NewReader(`{"text":"nobody hears"}`))
	req.Header.Set("Authorization", "Bearer refused-api")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), "unavailable") {
		t.Errorf("POST /api/v1/print: HTTP %d %s (Retry-After %q), want 503 unavailable with Retry-After",
			resp.StatusCode, body, resp.Header.Get("Retry-After"))
	}
}

// TestRunKofiTip: a Ko-fi tip reaches the hub's webhook in demo mode, is printed by the demo printer
// (through the real paced link to the fake TM-T88IV), and a retry from Ko-fi prints nothing more.
func TestRunKofiTip(t *testing.T) {
	h := runHub(t, []string{"-addr", "127.0.0.1:0", "-data", t.TempDir(), "-tip-min", "USD=100"},
		map[string]string{"STAGELINK_API_TOKEN": "tip-api", "STAGELINK_KOFI_TOKEN": "kofi-secret-token"})
	defer h.stop(t)
	data := `{"verification_token":"kofi-secret-token","message_id":"3a1fac0c-f960-4506-a60e-824979a74e74",` +
		`"timestamp":"2026-11-22T12:32:57Z","type":"Donation","is_public":true,"from_name":"Jo Example",` +
		`"message":"Powodzenia!","amount":"3.00","currency":"USD","kofi_transaction_id":"00000000-1111-2222-3333-444444444444"}`
	post := func(token string) int {
		body := url.Values{"data": {strings.Replace(data, "kofi-secret-token", token, 1)}}.Encode()
		resp, err := http.Post(h.url+"/webhooks/tips/kofi", "application/x-www-form-urlencoded", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("wrong-token"); code != http.StatusUnauthorized {
		t.Errorf("a wrong verification token: got HTTP %d, want 401", code)
	}
	for range 2 { // Ko-fi retries with the same message_id
		if code := post("kofi-secret-token"); code != http.StatusOK {
			t.Fatalf("the tip: got HTTP %d, want 200", code)
		}
	}
	id := "kofi:3a1fac0c-f960-4506-a60e-824979a74e74"
	eventually(t, "the tip printed", func() bool { return printState(t, h.url, "tip-api", id) == printer.JobPrinted })
	for seq, want := range map[int]int{1: http.StatusOK, 2: http.StatusNotFound} {
		resp, err := http.Get(fmt.Sprintf("%s/demo/printer/%d.png", h.url, seq))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("demo receipt %d: got HTTP %d, want %d (the tip prints once)", seq, resp.StatusCode, want)
		}
	}
}
