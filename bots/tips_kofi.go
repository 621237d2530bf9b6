package bots

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Ko-fi's webhook, as documented on https://ko-fi.com/manage/webhooks (shown only when logged in; the text
// is quoted in full at https://meta.discourse.org/t/255047): Ko-fi POSTs application/x-www-form-urlencoded
// with one field, data, holding the payment as a JSON string:
//
//	{"verification_token":"…","message_id":"…","timestamp":"2024-12-26T12:32:57Z","type":"Donation",
//	 "is_public":true,"from_name":"Jo Example","message":"Good luck with the integration!","amount":"3.00",
//	 "url":"https://ko-fi.com/Home/CoffeeShop?txid=…","email":"jo.example@example.com","currency":"USD",
//	 "is_subscription_payment":false,"is_first_subscription_payment":false,"kofi_transaction_id":"…",
//	 "shop_items":null,"tier_name":null,"shipping":null}
//
// type is Donation, Subscription, Commission or Shop Order; all are payments and all print. The listener
// must answer 200, or Ko-fi retries "a reasonable number of times with the same message_id". A payment
// with is_public false must not show its message. The verification token comes in plain text inside data.

// kofiPayment is the part of Ko-fi's data field that a receipt needs; other fields are ignored, since
// Ko-fi may add more.
type kofiPayment struct {
	VerificationToken string          `json:"verification_token"`
	MessageID         string          `json:"message_id"`
	Timestamp         string          `json:"timestamp"`
	Type              string          `json:"type"`
	IsPublic          *bool           `json:"is_public"`
	FromName          string          `json:"from_name"`
	Message           string          `json:"message"`
	Amount            json.RawMessage `json:"amount"` // documented as a string ("3.00"); a number is taken too
	Email             string          `json:"email"`
	Currency          string          `json:"currency"`
}

// decodeKofi verifies and decodes one Ko-fi delivery.
func (t *Tips) decodeKofi(w http.ResponseWriter, r *http.Request) (tipIn, error) {
	if err := tipContentType(r, "application/x-www-form-urlencoded"); err != nil {
		return tipIn{}, err
	}
	body, err := t.readTipBody(w, r)
	if err != nil {
		return tipIn{}, err
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return tipIn{}, badTip("the body is not a form: " + err.Error())
	}
	if len(form["data"]) != 1 {
		return tipIn{}, badTip("the form must have exactly one data field")
	}
	var p kofiPayment
	dec := json.NewDecoder(bytes.NewReader([]byte(form.Get("data"))))
	if err := dec.Decode(&p); err != nil {
		return tipIn{}, badTip("the data field is not the expected JSON object: " + err.Error())
	}
	if dec.More() {
		return tipIn{}, badTip("the data field has data after the JSON object")
	}
	// Hashing first makes the comparison constant-time whatever the lengths.
	got, want := sha256.Sum256([]byte(p.VerificationToken)), sha256.Sum256([]byte(t.cfg.KofiToken))
	if p.VerificationToken == "" || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
		return tipIn{}, unauthorizedTip("the verification token does not match")
	}
	if p.MessageID == "" {
		return tipIn{}, badTip("message_id is missing")
	}
	in := tipIn{provider: ProviderKofi, id: p.MessageID, author: p.FromName, text: p.Message,
		private: p.IsPublic == nil || !*p.IsPublic, currency: p.Currency}
	in.sender = p.Email
	if in.sender == "" {
		in.sender = "name:" + p.FromName
	}
	p.Currency = strings.ToUpper(strings.TrimSpace(p.Currency))
	if !tipCurrencyOK(p.Currency) {
		return tipIn{}, badTip("currency must be a three-letter ISO 4217 code like USD")
	}
	var amount string
	if json.Unmarshal(p.Amount, &amount) != nil {
		var n json.Number
		if json.Unmarshal(p.Amount, &n) != nil {
			return tipIn{}, badTip("amount must be a decimal number like \"3.00\"")
		}
		amount = n.String()
	}
	if in.amount, err = parseTipAmount(amount, p.Currency); err != nil {
		return tipIn{}, badTip(err.Error())
	}
	// A timestamp Ko-fi garbled does not lose a paid tip: the receipt then shows when it arrived.
	if at, err := time.Parse(time.RFC3339, p.Timestamp); err == nil {
		in.at = at
	}
	return in, nil
}
