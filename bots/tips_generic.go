package bots

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The generic tip webhook lets any service (Streamer.bot, a shop, a script) post tips, signed with a
// shared secret (TipsConfig.GenericSecret, from the environment; make one with `openssl rand -hex 32`).
//
//	POST /webhooks/tips/generic
//	Content-Type: application/json
//	X-Stagelink-Timestamp: 1767225600
//	X-Stagelink-Signature: sha256=<hex>
//
//	{"id":"sb-1042","name":"Jo","message":"Hello from chat!","amount":1250,"currency":"PLN",
//	 "timestamp":"2026-01-01T00:00:00Z"}
//
// Headers:
//   - X-Stagelink-Timestamp: when the request was signed, in Unix seconds (decimal digits). Requests more
//     than 5 minutes before or after the hub's clock are refused, so a captured request cannot be replayed
//     later.
//   - X-Stagelink-Signature: "sha256=" and the lower- or upper-case hex HMAC-SHA256, keyed with the
//     secret, of the timestamp header's value, a dot, and the body exactly as sent:
//     HMAC-SHA256(secret, timestamp + "." + body).
//
// Body, a JSON object (at most TipsConfig.MaxBody bytes, valid UTF-8; unknown fields are refused):
//   - id (string, required): the sender's own id of the tip. The same id is the same tip: sending it again
//     (a retry) answers 200 and prints nothing more.
//   - amount (integer, required): in minor units of the currency (1250 is 12,50 zł; JPY has none: 500 is
//     ¥500); not negative, at most a million in major units. Below TipsConfig.MinAmount the tip is
//     acknowledged and not printed (status "skipped", reason "too_small").
//   - currency (string, required): ISO 4217 code, such as PLN, EUR, USD.
//   - name (string): the donor as printed; "Anonymous" when empty.
//   - message (string): the text to print; moderation may leave it out, and the tip still prints.
//   - timestamp (string, RFC 3339): when the tip was made; the signing time when absent.
//
// Answers, all JSON: 200 {"ok":true,"id":"generic:sb-1042","status":"queued"} (status "printed" when
// already printed, or "skipped" with a reason); otherwise {"ok":false,"error":{"code","message"}} with 400
// bad_request (malformed body), 401 unauthorized (bad signature, timestamp missing or too far from now), 413
// too_large, 415 unsupported_media_type (not application/json), or 503 queue_full / unavailable with a
// Retry-After header: send the same request again (re-signed if more than 5 minutes passed).
//
// From a shell, with OpenSSL (checked with 3.0) and curl:
//
//	secret=…   # the hub's generic tip secret (TipsConfig.GenericSecret)
//	body='{"id":"sb-1042","name":"Jo","message":"Hello from chat!","amount":1250,"currency":"PLN"}'
//	ts=$(date +%s)
//	sig=$(printf '%s.%s' "$ts" "$body" | openssl dgst -sha256 -hmac "$secret" -r | cut -d' ' -f1)
//	curl -sS https://live.example.com/webhooks/tips/generic \
//	  -H 'Content-Type: application/json' \
//	  -H "X-Stagelink-Timestamp: $ts" \
//	  -H "X-Stagelink-Signature: sha256=$sig" \
//	  --data-binary "$body"

// Headers of the generic webhook.
const (
	GenericTimestampHeader = "X-Stagelink-Timestamp"
	GenericSignatureHeader = "X-Stagelink-Signature"
)

// GenericMaxSkew is how far a generic webhook's timestamp may be from the hub's clock.
const GenericMaxSkew = 5 * time.Minute

// maxGenericIDLen bounds a generic tip's id.
const maxGenericIDLen = 200

// genericTip is the body of the generic webhook.
type genericTip struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Message   string `json:"message"`
	Amount    *int64 `json:"amount"`
	Currency  string `json:"currency"`
	Timestamp string `json:"timestamp"`
}

// decodeGeneric verifies and decodes one generic webhook delivery.
func (t *Tips) decodeGeneric(w http.ResponseWriter, r *http.Request) (tipIn, error) {
	if err := tipContentType(r, "application/json"); err != nil {
		return tipIn{}, err
	}
	body, err := t.readTipBody(w, r)
	if err != nil {
		return tipIn{}, err
	}
	signedAt, err := verifyGeneric([]byte(t.cfg.GenericSecret), r.Header, body, time.Now())
	if err != nil {
		return tipIn{}, err
	}
	if !utf8.Valid(body) {
		return tipIn{}, badTip("the body is not valid UTF-8")
	}
	var g genericTip
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&g); err != nil {
		return tipIn{}, badTip("the body is not the expected JSON object: " + err.Error())
	}
	if dec.More() {
		return tipIn{}, badTip("the body has data after the JSON object")
	}
	switch {
	case g.ID == "" || len(g.ID) > maxGenericIDLen:
		return tipIn{}, badTip(fmt.Sprintf("id must be 1 to %d bytes", maxGenericIDLen))
	case g.Amount == nil:
		return tipIn{}, badTip("amount is missing: give it in minor units (1250 for 12,50 zł)")
	case !tipCurrencyOK(g.Currency):
		return tipIn{}, badTip("currency must be an upper-case ISO 4217 code like PLN")
	}
	in := tipIn{provider: ProviderGeneric, id: g.ID, sender: g.Name, author: g.Name, text: g.Message,
		amount: *g.Amount, currency: g.Currency, at: signedAt}
	if g.Timestamp != "" {
		if in.at, err = time.Parse(time.RFC3339, g.Timestamp); err != nil {
			return tipIn{}, badTip("timestamp must be RFC 3339, like 2026-01-01T18:30:00Z")
		}
	}
	return in, nil
}

// verifyGeneric checks a generic webhook's timestamp and signature over body and returns when it was
// signed.
func verifyGeneric(secret []byte, h http.Header, body []byte, now time.Time) (time.Time, error) {
	ts := h.Get(GenericTimestampHeader)
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || ts == "" || ts[0] < '0' || ts[0] > '9' {
		return time.Time{}, unauthorizedTip(GenericTimestampHeader + " must be the signing time in Unix seconds")
	}
	sig, ok := strings.CutPrefix(h.Get(GenericSignatureHeader), "sha256=")
	got, err := hex.DecodeString(sig)
	if !ok || err != nil || len(got) != sha256.Size {
		return time.Time{}, unauthorizedTip(GenericSignatureHeader + " must be sha256= and the hex HMAC-SHA256 of timestamp.body")
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(ts))
	mac.Write([]byte("."))
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return time.Time{}, unauthorizedTip("the signature does not match")
	}
	at := time.Unix(sec, 0)
	if d := now.Sub(at); d > GenericMaxSkew || d < -GenericMaxSkew {
		return time.Time{}, unauthorizedTip(fmt.Sprintf("the timestamp is more than %s from the hub's clock: sign each request when sending it", GenericMaxSkew))
	}
	return at, nil
}
