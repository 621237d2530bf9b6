package bots

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stagelink/stagelink/printer"
)

// tipsModerator is a hand-written moderator: admit decides, or everything passes unchanged.
type tipsModerator struct {
	mu    sync.Mutex
	admit func(Message) (Message, error)
	seen  []Message
}

func (m *tipsModerator) Admit(msg Message) (Message, error) {
	m.mu.Lock()
	m.seen = append(m.seen, msg)
	admit := m.admit
	m.mu.Unlock()
	if admit == nil {
		return msg, nil
	}
	return admit(msg)
}

var _ moderator = (*tipsModerator)(nil)

const (
	tipsKofiToken     = "d2f1b5c6-7a8e-4c3b-9f0d-1e2a3b4c5d6e"
	tipsGenericSecret = "0123456789abcdef0123456789abcdef"
)

// tipsFixture is Tips over a real Tracker and DiskQueue in a temporary directory.
type tipsFixture struct {
	t       testing.TB
	tips    *Tips
	tracker *printer.Tracker
	queue   *printer.DiskQueue
	mod     *tipsModerator

	mu   sync.Mutex
	seen []Tip
}

func newTipsFixture(t testing.TB, cfg TipsConfig) *tipsFixture {
	t.Helper()
	log := discardLogger()
	q, err := printer.OpenDiskQueue(printer.DiskQueueConfig{Dir: t.TempDir()}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	f := &tipsFixture{t: t, queue: q, tracker: printer.NewTracker(q, 0, log), mod: &tipsModerator{}}
	if cfg.KofiToken == "" {
		cfg.KofiToken = tipsKofiToken
	}
	f.tips, err = NewTips(cfg, f.tracker, f.mod, func(tip Tip) {
		f.mu.Lock()
		f.seen = append(f.seen, tip)
		f.mu.Unlock()
	}, log)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// post delivers body to the provider's webhook and decodes the answer.
func (f *tipsFixture) post(provider, contentType string, body []byte, header http.Header) (int, tipAnswer) {
	f.t.Helper()
	return serveTip(f.t, f.tips.Handler(), provider, contentType, body, header)
}

func serveTip(t testing.TB, h http.Handler, provider, contentType string, body []byte, header http.Header) (int, tipAnswer) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/webhooks/tips/"+provider, bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var a tipAnswer
	if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
		t.Fatalf("answer %d is not JSON: %q", rec.Code, rec.Body.String())
	}
	if got := rec.Header().Get("Content-Type"); got != "application/json" {
		t.Errorf("answer Content-Type = %q, want application/json", got)
	}
	return rec.Code, a
}

// postKofi delivers data as Ko-fi does: a form with one field, data.
func (f *tipsFixture) postKofi(data string) (int, tipAnswer) {
	f.t.Helper()
	return f.post(ProviderKofi, "application/x-www-form-urlencoded", []byte(url.Values{"data": {data}}.Encode()), nil)
}

// jobs returns the jobs waiting in the queue.
func (f *tipsFixture) jobs() []printer.Job {
	f.t.Helper()
	var jobs []printer.Job
	for _, st := range f.tracker.Pending() {
		job, ok := f.tracker.Job(st.ID)
		if !ok {
			f.t.Fatalf("tracker lists %s but does not know it", st.ID)
		}
		jobs = append(jobs, job)
	}
	return jobs
}

func (f *tipsFixture) tipsSeen() []Tip {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Tip(nil), f.seen...)
}

// kofiDonation is Ko-fi's documented single-donation example (testdata/kofi_donation.json, field for field
// as on https://ko-fi.com/manage/webhooks) with the test's verification token, changed by edit.
func kofiDonation(t testing.TB, edit func(map[string]any)) string {
	t.Helper()
	b, err := os.ReadFile("testdata/kofi_donation.json")
	if err != nil {
		t.Fatal(err)
	}
	if edit == nil {
		return string(b)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func TestKofiDonationPrints(t *testing.T) {
	f := newTipsFixture(t, TipsConfig{})
	code, a := f.postKofi(kofiDonation(t, nil))
	if code != http.StatusOK || !a.OK {
		t.Fatalf("got %d %+v, want 200 ok", code, a)
	}
	const id = "kofi:3a1fac0c-f960-4506-a60e-824979a74e74"
	if a.ID != id || a.Status != string(printer.JobQueued) {
		t.Errorf("got id %q status %q, want %q queued", a.ID, a.Status, id)
	}
	at := time.Date(2024, 12, 26, 12, 32, 57, 0, time.UTC)
	want := []printer.Job{{ID: id, Source: printer.SourceTip, Author: "Jo Example",
		Text: "Good luck with the integration!", Amount: 300, Currency: "USD", CreatedAt: at}}
	if diff := cmp.Diff(want, f.jobs()); diff != "" {
		t.Errorf("queued jobs (-want +got):\n%s", diff)
	}
	wantTips := []Tip{{Provider: "kofi", Author: "Jo Example", Amount: 300, Currency: "USD",
		Text: "Good luck with the integration!", At: at}}
	if diff := cmp.Diff(wantTips, f.tipsSeen()); diff != "" {
		t.Errorf("onTip (-want +got):\n%s", diff)
	}
	if len(f.mod.seen) != 1 || f.mod.seen[0].UserID == "" || strings.Contains(f.mod.seen[0].UserID, "example") {
		t.Errorf("moderator saw %+v, want one message with a hashed user id", f.mod.seen)
	}
}

func TestKofiPrivateMessageLeavesTextOut(t *testing.T) {
	f := newTipsFixture(t, TipsConfig{})
	code, _ := f.postKofi(kofiDonation(t, func(m map[string]any) { m["is_public"] = false }))
	if code != http.StatusOK {
		t.Fatalf("got %d, want 200", code)
	}
	jobs := f.jobs()
	if len(jobs) != 1 || jobs[0].Text != "" || jobs[0].Amount != 300 || jobs[0].Author != "Jo Example" {
		t.Fatalf("queued %+v, want one job with amount and donor but no text", jobs)
	}
	if tips := f.tipsSeen(); len(tips) != 1 || tips[0].Text != "" {
		t.Errorf("onTip got %+v, want one tip without text", tips)
	}
	if len(f.mod.seen) != 1 || f.mod.seen[0].Text != "" {
		t.Errorf("moderator saw %+v, want the private text kept from it too", f.mod.seen)
	}
}

func TestKofiRefusals(t *testing.T) {
	huge := "data=" + strings.Repeat("a", DefaultTipsMaxBody)
	for _, tt := range []struct {
		name        string
		contentType string
		body        string
		wantCode    int
		wantError   string
	}{
		{"bad token", "application/x-www-form-urlencoded",
			url.Values{"data": {kofiDonation(t, func(m map[string]any) { m["verification_token"] = "guess" })}}.Encode(),
			http.StatusUnauthorized, "unauthorized"},
		{"no token", "application/x-www-form-urlencoded",
			url.Values{"data": {kofiDonation(t, func(m map[string]any) { delete(m, "verification_token") })}}.Encode(),
			http.StatusUnauthorized, "unauthorized"},
		{"malformed data", "application/x-www-form-urlencoded", url.Values{"data": {`{"verification_token":`}}.Encode(),
			http.StatusBadRequest, "bad_request"},
		{"data not an object", "application/x-www-form-urlencoded", url.Values{"data": {`"hello"`}}.Encode(),
			http.StatusBadRequest, "bad_request"},
		{"no data field", "application/x-www-form-urlencoded", "other=1", http.StatusBadRequest, "bad_request"},
		{"two data fields", "application/x-www-form-urlencoded", "data=1&data=2", http.StatusBadRequest, "bad_request"},
		{"bad form", "application/x-www-form-urlencoded", "data=%zz", http.StatusBadRequest, "bad_request"},
		{"negative amount", "application/x-www-form-urlencoded",
			url.Values{"data": {kofiDonation(t, func(m map[string]any) { m["amount"] = "-3.00" })}}.Encode(),
			http.StatusBadRequest, "bad_request"},
		{"absurd amount", "application/x-www-form-urlencoded",
			url.Values{"data": {kofiDonation(t, func(m map[string]any) { m["amount"] = "99999999999999.00" })}}.Encode(),
			http.StatusBadRequest, "bad_request"},
		{"no message id", "application/x-www-form-urlencoded",
			url.Values{"data": {kofiDonation(t, func(m map[string]any) { delete(m, "message_id") })}}.Encode(),
			http.StatusBadRequest, "bad_request"},
		{"wrong content type", "application/json", kofiDonation(t, nil), http.StatusUnsupportedMediaType, "unsupported_media_type"},
		{"no content type", "", url.Values{"data": {kofiDonation(t, nil)}}.Encode(), http.StatusUnsupportedMediaType, "unsupported_media_type"},
		{"huge body", "application/x-www-form-urlencoded", huge, http.StatusRequestEntityTooLarge, "too_large"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newTipsFixture(t, TipsConfig{})
			code, a := f.post(ProviderKofi, tt.contentType, []byte(tt.body), nil)
			if code != tt.wantCode || a.OK || a.Error == nil || a.Error.Code != tt.wantError || a.Error.Message == "" {
				t.Errorf("got %d %+v, want %d %s", code, a, tt.wantCode, tt.wantError)
			}
			if jobs := f.jobs(); len(jobs) != 0 {
				t.Errorf("queued %+v, want nothing", jobs)
			}
			if tips := f.tipsSeen(); len(tips) != 0 {
				t.Errorf("onTip got %+v, want nothing", tips)
			}
		})
	}
}

func TestKofiRetryPrintsOnce(t *testing.T) {
	f := newTipsFixture(t, TipsConfig{})
	data := kofiDonation(t, nil)
	for i := range 3 {
		code, a := f.postKofi(data)
		if code != http.StatusOK || !a.OK || a.ID != "kofi:3a1fac0c-f960-4506-a60e-824979a74e74" {
			t.Fatalf("delivery %d: got %d %+v, want 200 with the same id", i, code, a)
		}
	}
	if jobs := f.jobs(); len(jobs) != 1 {
		t.Errorf("queued %d jobs, want 1", len(jobs))
	}
	if tips := f.tipsSeen(); len(tips) != 1 {
		t.Errorf("onTip called %d times, want 1", len(tips))
	}
}

func TestKofiAmountInCurrencyDigits(t *testing.T) {
	f := newTipsFixture(t, TipsConfig{})
	f.postKofi(kofiDonation(t, func(m map[string]any) {
		m["currency"], m["amount"], m["message_id"] = "JPY", "500", "jpy-1"
	}))
	f.postKofi(kofiDonation(t, func(m map[string]any) {
		m["currency"], m["amount"], m["message_id"] = "pln", 12.5, "pln-1" // a number, and lower case
	}))
	var got []string
	for _, j := range f.jobs() {
		got = append(got, fmt.Sprintf("%s %d", j.Currency, j.Amount))
	}
	if diff := cmp.Diff([]string{"JPY 500", "PLN 1250"}, got); diff != "" {
		t.Errorf("amounts (-want +got):\n%s", diff)
	}
}

func TestParseTipAmount(t *testing.T) {
	for _, tt := range []struct {
		in, currency string
		want         int64
		ok           bool
	}{
		{"3.00", "USD", 300, true},
		{"3", "USD", 300, true},
		{"3.5", "EUR", 350, true},
		{"0.01", "PLN", 1, true},
		{"500", "JPY", 500, true},
		{"500.00", "JPY", 500, true},
		{"500.5", "JPY", 0, false},
		{"1.234", "KWD", 1234, true},
		{"3.001", "USD", 0, false},
		{"3.0000", "USD", 300, true},
		{"007.10", "USD", 710, true},
		{"", "USD", 0, false},
		{".5", "USD", 0, false},
		{"-1.00", "USD", 0, false},
		{"+1.00", "USD", 0, false},
		{"1e3", "USD", 0, false},
		{"1,000.00", "USD", 0, false},
		{" 3.00", "USD", 0, false},
		{"3.", "USD", 300, true},
		{"9999999999999", "USD", 0, false},
	} {
		got, err := parseTipAmount(tt.in, tt.currency)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseTipAmount(%q, %s) = %d, %v; want %d, ok %v", tt.in, tt.currency, got, err, tt.want, tt.ok)
		}
	}
}

func TestTipBelowMinimumIsAcknowledgedNotPrinted(t *testing.T) {
	f := newTipsFixture(t, TipsConfig{MinAmount: map[string]int64{"PLN": 500}})
	small := kofiDonation(t, func(m map[string]any) { m["currency"], m["amount"], m["message_id"] = "PLN", "4.99", "small" })
	code, a := f.postKofi(small)
	if code != http.StatusOK || !a.OK || a.Status != tipSkipped || a.Reason != "too_small" {
		t.Errorf("below the minimum: got %d %+v, want 200 skipped too_small", code, a)
	}
	enough := kofiDonation(t, func(m map[string]any) { m["currency"], m["amount"], m["message_id"] = "PLN", "5.00", "enough" })
	if code, a := f.postKofi(enough); code != http.StatusOK || a.Status != string(printer.JobQueued) {
		t.Errorf("at the minimum: got %d %+v, want 200 queued", code, a)
	}
	other := kofiDonation(t, func(m map[string]any) { m["amount"], m["message_id"] = "0.50", "usd" })
	if code, a := f.postKofi(other); code != http.StatusOK || a.Status != string(printer.JobQueued) {
		t.Errorf("a currency without a minimum: got %d %+v, want 200 queued", code, a)
	}
	zero := kofiDonation(t, func(m map[string]any) { m["amount"], m["message_id"] = "0.00", "zero" })
	if code, a := f.postKofi(zero); code != http.StatusOK || a.Reason != "too_small" {
		t.Errorf("zero: got %d %+v, want 200 too_small", code, a)
	}
	var ids []string
	for _, j := range f.jobs() {
		ids = append(ids, j.ID)
	}
	if diff := cmp.Diff([]string{"kofi:enough", "kofi:usd"}, ids); diff != "" {
		t.Errorf("queued (-want +got):\n%s", diff)
	}
}

func TestRefusedTextStillPrintsTheTip(t *testing.T) {
	f := newTipsFixture(t, TipsConfig{})
	f.mod.admit = func(m Message) (Message, error) {
		return Message{}, &Refusal{Code: "blocked_word", Reason: "that word is not allowed"}
	}
	code, a := f.postKofi(kofiDonation(t, nil))
	if code != http.StatusOK || !a.OK {
		t.Fatalf("got %d %+v, want 200 ok", code, a)
	}
	jobs := f.jobs()
	if len(jobs) != 1 || jobs[0].Text != "" || jobs[0].Amount != 300 || jobs[0].Currency != "USD" || jobs[0].Author != "Jo Example" {
		t.Fatalf("queued %+v, want the tip with its amount and donor, without its text", jobs)
	}
	if tips := f.tipsSeen(); len(tips) != 1 || tips[0].Text != "" || tips[0].Amount != 300 {
		t.Errorf("onTip got %+v, want the tip without its text", tips)
	}
}

func TestModerationMayChangeTheWordsOnly(t *testing.T) {
	f := newTipsFixture(t, TipsConfig{})
	f.mod.admit = func(m Message) (Message, error) {
		m.Text, m.Amount, m.JobID = "Good luck!", 1, "other"
		return m, nil
	}
	f.postKofi(kofiDonation(t, nil))
	jobs := f.jobs()
	if len(jobs) != 1 || jobs[0].Text != "Good luck!" || jobs[0].Amount != 300 || jobs[0].ID != "kofi:3a1fac0c-f960-4506-a60e-824979a74e74" {
		t.Errorf("queued %+v, want the moderated text with the tip's own id and amount", jobs)
	}
}

func TestModeratorFailureAsksForRetry(t *testing.T) {
	f := newTipsFixture(t, TipsConfig{})
	f.mod.admit = func(Message) (Message, error) { return Message{}, errors.New("store down") }
	if code, a := f.postKofi(kofiDonation(t, nil)); code != http.StatusServiceUnavailable || a.Error == nil {
		t.Errorf("got %d %+v, want 503", code, a)
	}
	if jobs := f.jobs(); len(jobs) != 0 {
		t.Errorf("queued %+v, want nothing", jobs)
	}
}

func TestQueueErrorAsksForRetry(t *testing.T) {
	f := newTipsFixture(t, TipsConfig{})
	f.queue.Close()
	code, a := f.postKofi(kofiDonation(t, nil))
	if code != http.StatusServiceUnavailable || a.Error == nil || a.Error.Code != "unavailable" {
		t.Errorf("got %d %+v, want 503 unavailable", code, a)
	}
	if tips := f.tipsSeen(); len(tips) != 0 {
		t.Errorf("onTip got %+v, want nothing", tips)
	}
}

func TestTipTextControlBytesNeverReachThePrinter(t *testing.T) {
	f := newTipsFixture(t, TipsConfig{})
	f.postKofi(kofiDonation(t, func(m map[string]any) {
		m["message"] = "A\x1bZZZB\x1d\x56\x00 cut!"
		m["from_name"] = "Jo\x1b@"
	}))
	jobs := f.jobs()
	if len(jobs) != 1 {
		t.Fatalf("queued %d jobs, want 1", len(jobs))
	}
	data, err := printer.Render(jobs[0], printer.LayoutConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte("\x1bZZZ")) || bytes.Contains(data, []byte("\x1d\x56\x00")) || bytes.Contains(data, []byte("Jo\x1b@")) {
		t.Errorf("the receipt carries the tip's control bytes: %q", data)
	}
	if !bytes.Contains(data, []byte("AZZZB")) {
		t.Errorf("the receipt lost the tip's text: %q", data)
	}
	if tips := f.tipsSeen(); len(tips) != 1 || strings.ContainsAny(tips[0].Text+tips[0].Author, "\x1b\x1d\x00") {
		t.Errorf("onTip got %+v, want no control characters", tips)
	}
}

func TestTipsUnknownProvider(t *testing.T) {
	f := newTipsFixture(t, TipsConfig{})
	for _, p := range []string{"streamlabs", "tipply", "generic"} { // generic: no secret set
		if code, a := f.post(p, "application/json", []byte("{}"), nil); code != http.StatusNotFound || a.Error == nil {
			t.Errorf("%s: got %d %+v, want 404", p, code, a)
		}
	}
}

func TestTipsConfigValidate(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  TipsConfig
		want string // in the error; empty: valid
	}{
		{"empty", TipsConfig{}, ""},
		{"all", TipsConfig{KofiToken: "tok", GenericSecret: tipsGenericSecret, MinAmount: map[string]int64{"PLN": 500}, MaxBody: 4096}, ""},
		{"token with spaces", TipsConfig{KofiToken: " tok\n"}, "copy it again"},
		{"short secret", TipsConfig{GenericSecret: "short"}, "openssl rand"},
		{"bad currency", TipsConfig{MinAmount: map[string]int64{"zł": 500}}, "ISO 4217"},
		{"negative minimum", TipsConfig{MinAmount: map[string]int64{"PLN": -1}}, "minor units"},
		{"tiny body", TipsConfig{MaxBody: 10}, "at least 1024"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("Validate() = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestTipsConfigLogsNoSecrets(t *testing.T) {
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("config", "tips", TipsConfig{KofiToken: tipsKofiToken, GenericSecret: tipsGenericSecret})
	if strings.Contains(buf.String(), tipsKofiToken) || strings.Contains(buf.String(), tipsGenericSecret) {
		t.Errorf("log shows a secret: %s", buf.String())
	}
}

func FuzzKofiPayload(f *testing.F) {
	b, err := os.ReadFile("testdata/kofi_donation.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(b), true)
	f.Add(strings.Replace(string(b), `"is_public":true`, `"is_public":false`, 1), true)
	f.Add(strings.Replace(string(b), `"3.00"`, `-1`, 1), true)
	f.Add(strings.Replace(string(b), `"USD"`, `"JPY"`, 1), true)
	f.Add(`{"verification_token":"`+tipsKofiToken+`","message_id":"../../x","amount":"1e9","currency":"\u0000\u0000\u0000"}`, true)
	f.Add("data=%7B%7D&data=", false)
	f.Add("", false)
	fx := newTipsFixture(f, TipsConfig{})
	f.Fuzz(func(t *testing.T, data string, asForm bool) {
		body := data
		if asForm {
			body = url.Values{"data": {data}}.Encode()
		}
		code, a := serveTip(t, fx.tips.Handler(), ProviderKofi, "application/x-www-form-urlencoded", []byte(body), nil)
		checkTipAnswer(t, code, a)
	})
}

// checkTipAnswer fails on a 5xx other than a queue error, and on an answer that breaks the format.
func checkTipAnswer(t *testing.T, code int, a tipAnswer) {
	t.Helper()
	if code >= 500 && (a.Error == nil || a.Error.Code != "queue_full" && a.Error.Code != "unavailable") {
		t.Fatalf("got %d %+v, want no 5xx except a queue error", code, a)
	}
	if a.OK != (code == http.StatusOK) || a.OK == (a.Error != nil) {
		t.Fatalf("got %d %+v: ok and error disagree with the status", code, a)
	}
}

// signGeneric signs body as the generic webhook's format says, at ts.
func signGeneric(secret string, ts time.Time, body string) http.Header {
	stamp := strconv.FormatInt(ts.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(stamp + "." + body))
	return http.Header{
		GenericTimestampHeader: {stamp},
		GenericSignatureHeader: {"sha256=" + hex.EncodeToString(mac.Sum(nil))},
	}
}

const genericBody = `{"id":"sb-1042","name":"Jo","message":"Hello from chat!","amount":1250,"currency":"PLN","timestamp":"2026-01-01T18:30:00Z"}`

func TestGenericTipPrints(t *testing.T) {
	f := newTipsFixture(t, TipsConfig{GenericSecret: tipsGenericSecret})
	code, a := f.post(ProviderGeneric, "application/json", []byte(genericBody), signGeneric(tipsGenericSecret, time.Now(), genericBody))
	if code != http.StatusOK || !a.OK || a.ID != "generic:sb-1042" || a.Status != "queued" {
		t.Fatalf("got %d %+v, want 200 queued generic:sb-1042", code, a)
	}
	at := time.Date(2026, 1, 1, 18, 30, 0, 0, time.UTC)
	want := []printer.Job{{ID: "generic:sb-1042", Source: printer.SourceTip, Author: "Jo", Text: "Hello from chat!",
		Amount: 1250, Currency: "PLN", CreatedAt: at}}
	if diff := cmp.Diff(want, f.jobs()); diff != "" {
		t.Errorf("queued (-want +got):\n%s", diff)
	}
	wantTips := []Tip{{Provider: "generic", Author: "Jo", Amount: 1250, Currency: "PLN", Text: "Hello from chat!", At: at}}
	if diff := cmp.Diff(wantTips, f.tipsSeen()); diff != "" {
		t.Errorf("onTip (-want +got):\n%s", diff)
	}
}

func TestGenericTipWithoutOptionalFields(t *testing.T) {
	f := newTipsFixture(t, TipsConfig{GenericSecret: tipsGenericSecret})
	body := `{"id":"x/1 ü","amount":500,"currency":"JPY"}`
	now := time.Now()
	code, a := f.post(ProviderGeneric, "application/json; charset=utf-8", []byte(body), signGeneric(tipsGenericSecret, now, body))
	if code != http.StatusOK || !strings.HasPrefix(a.ID, "generic:sha256-") {
		t.Fatalf("got %d %+v, want 200 with a hashed id", code, a)
	}
	jobs := f.jobs()
	if len(jobs) != 1 || jobs[0].Author != "Anonymous" || jobs[0].Text != "" || jobs[0].Amount != 500 ||
		!jobs[0].CreatedAt.Equal(time.Unix(now.Unix(), 0)) {
		t.Errorf("queued %+v, want an anonymous ¥500 tip at the signing time", jobs)
	}
}

func TestGenericRefusals(t *testing.T) {
	now := time.Now()
	signed := func(body string) http.Header { return signGeneric(tipsGenericSecret, now, body) }
	for _, tt := range []struct {
		name      string
		body      string
		header    http.Header
		ctype     string
		wantCode  int
		wantError string
	}{
		{"bad signature", genericBody, signGeneric("another secret, long enough", now, genericBody), "", 401, "unauthorized"},
		{"body changed after signing", strings.Replace(genericBody, "1250", "125000", 1), signed(genericBody), "", 401, "unauthorized"},
		{"no signature", genericBody, http.Header{GenericTimestampHeader: {strconv.FormatInt(now.Unix(), 10)}}, "", 401, "unauthorized"},
		{"signature not hex", genericBody, http.Header{GenericTimestampHeader: {strconv.FormatInt(now.Unix(), 10)},
			GenericSignatureHeader: {"sha256=zz"}}, "", 401, "unauthorized"},
		{"no timestamp", genericBody, http.Header{GenericSignatureHeader: signed(genericBody)[GenericSignatureHeader]}, "", 401, "unauthorized"},
		{"stale timestamp", genericBody, signGeneric(tipsGenericSecret, now.Add(-6*time.Minute), genericBody), "", 401, "unauthorized"},
		{"future timestamp", genericBody, signGeneric(tipsGenericSecret, now.Add(6*time.Minute), genericBody), "", 401, "unauthorized"},
		{"unknown field", `{"id":"a","amount":1,"currency":"PLN","private":true}`, nil, "", 400, "bad_request"},
		{"no id", `{"amount":100,"currency":"PLN"}`, nil, "", 400, "bad_request"},
		{"no amount", `{"id":"a","currency":"PLN"}`, nil, "", 400, "bad_request"},
		{"fractional amount", `{"id":"a","amount":12.5,"currency":"PLN"}`, nil, "", 400, "bad_request"},
		{"negative amount", `{"id":"a","amount":-100,"currency":"PLN"}`, nil, "", 400, "bad_request"},
		{"absurd amount", `{"id":"a","amount":100000001,"currency":"PLN"}`, nil, "", 400, "bad_request"},
		{"bad currency", `{"id":"a","amount":100,"currency":"zł"}`, nil, "", 400, "bad_request"},
		{"bad timestamp", `{"id":"a","amount":100,"currency":"PLN","timestamp":"yesterday"}`, nil, "", 400, "bad_request"},
		{"trailing data", `{"id":"a","amount":100,"currency":"PLN"} {}`, nil, "", 400, "bad_request"},
		{"invalid UTF-8", "{\"id\":\"a\",\"amount\":100,\"currency\":\"PLN\",\"message\":\"\xff\"}", nil, "", 400, "bad_request"},
		{"wrong content type", genericBody, nil, "application/x-www-form-urlencoded", 415, "unsupported_media_type"},
		{"huge body", `{"id":"a","amount":100,"currency":"PLN","message":"` + strings.Repeat("a", DefaultTipsMaxBody) + `"}`, nil, "", 413, "too_large"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newTipsFixture(t, TipsConfig{GenericSecret: tipsGenericSecret})
			if tt.header == nil {
				tt.header = signed(tt.body)
			}
			if tt.ctype == "" {
				tt.ctype = "application/json"
			}
			code, a := f.post(ProviderGeneric, tt.ctype, []byte(tt.body), tt.header)
			if code != tt.wantCode || a.OK || a.Error == nil || a.Error.Code != tt.wantError {
				t.Errorf("got %d %+v, want %d %s", code, a, tt.wantCode, tt.wantError)
			}
			if jobs := f.jobs(); len(jobs) != 0 {
				t.Errorf("queued %+v, want nothing", jobs)
			}
		})
	}
}

func TestGenericRetryPrintsOnce(t *testing.T) {
	f := newTipsFixture(t, TipsConfig{GenericSecret: tipsGenericSecret})
	for i := range 3 {
		// A retry is signed again, later: the id alone makes it the same tip.
		h := signGeneric(tipsGenericSecret, time.Now().Add(time.Duration(i)*time.Minute), genericBody)
		if code, a := f.post(ProviderGeneric, "application/json", []byte(genericBody), h); code != http.StatusOK || a.ID != "generic:sb-1042" {
			t.Fatalf("delivery %d: got %d %+v, want 200 generic:sb-1042", i, code, a)
		}
	}
	if jobs := f.jobs(); len(jobs) != 1 {
		t.Errorf("queued %d jobs, want 1", len(jobs))
	}
	if tips := f.tipsSeen(); len(tips) != 1 {
		t.Errorf("onTip called %d times, want 1", len(tips))
	}
}

func FuzzGenericTip(f *testing.F) {
	f.Add(genericBody)
	f.Add(`{"id":"a","amount":1,"currency":"PLN"}`)
	f.Add(`{"id":"a","amount":-1,"currency":"PLN","message":"\u001b@"}`)
	f.Add(`{"id":"` + strings.Repeat("é", 300) + `","amount":9223372036854775807,"currency":"KWD"}`)
	f.Add(`{"id":"a","amount":1e3,"currency":"JPY","timestamp":"0000-01-01T00:00:00Z"}`)
	f.Add(`[]`)
	fx := newTipsFixture(f, TipsConfig{GenericSecret: tipsGenericSecret})
	f.Fuzz(func(t *testing.T, body string) {
		// Signed, so that the fuzzer reaches the decoder behind the signature check.
		code, a := serveTip(t, fx.tips.Handler(), ProviderGeneric, "application/json", []byte(body),
			signGeneric(tipsGenericSecret, time.Now(), body))
		checkTipAnswer(t, code, a)
		if code == http.StatusUnauthorized {
			t.Fatalf("a signed body was refused: %+v", a)
		}
	})
}
