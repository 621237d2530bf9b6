package bots

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stagelink/stagelink/printer"
	"github.com/stagelink/stagelink/printer/printertest"
)

// paperRig is the venue end of printing for the end-to-end tests: a printer agent taking jobs from q and
// printing over a real serial line (a socat pty pair) to the fake TM-T88IV.
type paperRig struct {
	fake *printer.FakePrinter
}

func startPaperRig(t *testing.T, q printer.Queue) *paperRig {
	t.Helper()
	printertest.NeedSocat(t)
	host, far := printertest.SocatPair(t)
	log := discardLogger()
	port, err := printer.OpenSerial(far, printer.DefaultBaud)
	if err != nil {
		t.Fatal(err)
	}
	fake := printer.NewFakePrinter(port, printer.FakePrinterConfig{}, log)
	sp, err := printer.NewSerialPrinter(host, printer.DefaultBaud, printer.LinkConfig{}, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	printed, err := printer.OpenPrintedLog(filepath.Join(t.TempDir(), "printed.log"), 0)
	if err != nil {
		t.Fatal(err)
	}
	agent := printer.NewAgent(q, sp, printed, printer.LayoutConfig{Header: "e2e"}, log)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 3)
	for _, run := range []func(context.Context) error{fake.Run, sp.Run, agent.Run} {
		go func() { run(ctx); done <- struct{}{} }()
	}
	t.Cleanup(func() {
		cancel()
		for range 3 {
			<-done
		}
		printed.Close()
	})
	return &paperRig{fake: fake}
}

// waitPaper waits until the printer has printed text (in PC852).
func (r *paperRig) waitPaper(t *testing.T, text string) {
	t.Helper()
	want := printer.EncodePC852(text)
	for deadline := time.Now().Add(15 * time.Second); !bytes.Contains(r.fake.Printed(), want); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the printer never printed %q; it has %q", text, printer.DecodePC852(r.fake.Printed()))
		}
	}
}

// TestDiscordPrintEndToEnd: /print over the interactions endpoint → moderation → the queue → the printer
// agent → a real serial line → the fake printer, and the member's follow-up says it printed.
func TestDiscordPrintEndToEnd(t *testing.T) {
	f := newDiscordFixture(t, nil, nil)
	rig := startPaperRig(t, f.queue)
	f.start(t)

	w := f.post(t, commandJSON("1234567890123456789", "tok-e2e", "print", "Zażółć gęślą jaźń z Discorda"), testKey, time.Now())
	wantReply(t, w.Body.Bytes(), "Queued")
	rig.waitPaper(t, "Zażółć gęślą jaźń z Discorda")

	r := f.fake.waitRequest(t, "POST", "/webhooks/"+testAppID+"/tok-e2e")
	var msg struct {
		Content string `json:"content"`
	}
	json.Unmarshal(r.Body, &msg)
	if !strings.Contains(msg.Content, "Printed") {
		t.Errorf("follow-up: got %s, want Printed", r.Body)
	}
	if st := rig.fake.Stats(); st.Dropped != 0 {
		t.Errorf("the printer dropped %d bytes, want 0", st.Dropped)
	}
}

// TestKofiTipEndToEnd: a Ko-fi tip, delivered twice as Ko-fi retries, goes through the queue to a printer
// agent on a real serial line and comes out of the fake printer once, with its amount.
func TestKofiTipEndToEnd(t *testing.T) {
	f := newTipsFixture(t, TipsConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.tracker.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	rig := startPaperRig(t, f.queue)

	for range 2 {
		if code, a := f.postKofi(kofiDonation(t, nil)); code != 200 || !a.OK {
			t.Fatalf("Ko-fi delivery: got %d %+v, want 200 ok", code, a)
		}
	}
	rig.waitPaper(t, "Good luck with the integration!")
	rig.waitPaper(t, "$3.00")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if st, _ := f.tracker.Status("kofi:3a1fac0c-f960-4506-a60e-824979a74e74"); st.State == printer.JobPrinted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the tip never reported printed")
		}
	}
	if code, a := f.postKofi(kofiDonation(t, nil)); code != 200 || a.Status != "printed" {
		t.Errorf("Ko-fi retry after printing: got %d %+v, want 200 with status printed", code, a)
	}
	if p := f.tracker.Pending(); len(p) != 0 {
		t.Errorf("jobs waiting after the retry: %+v, want none", p)
	}
	if n := bytes.Count(rig.fake.Printed(), printer.EncodePC852("Good luck with the integration!")); n != 1 {
		t.Errorf("the tip is on paper %d times, want once", n)
	}
}
