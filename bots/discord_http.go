package bots

import (
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/bwmarrin/discordgo"
)

// maxInteractionBody bounds an interaction request's body; real ones are a few kilobytes.
const maxInteractionBody = 1 << 20

// InteractionsHandler returns the handler for POST /discord/interactions, the application's Interactions
// Endpoint URL: it checks Discord's Ed25519 signature (X-Signature-Ed25519 over X-Signature-Timestamp and
// the body, 401 when it is bad, missing or old), answers PING, and answers /print and /queue in the HTTP
// response (type 4, ephemeral) or, when the queue is slow, with a deferred response (type 5) that is
// edited later. See https://discord.com/developers/docs/interactions/overview#setting-up-an-endpoint.
// It needs DiscordConfig.PublicKey; without it every request gets 404.
func (d *Discord) InteractionsHandler() http.Handler { return http.HandlerFunc(d.serveInteraction) }

func (d *Discord) serveInteraction(w http.ResponseWriter, r *http.Request) {
	if d.publicKey == nil {
		http.Error(w, "the Discord interactions endpoint is not configured", http.StatusNotFound)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxInteractionBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			http.Error(w, "request too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "could not read the request", http.StatusBadRequest)
		return
	}
	if !d.verifySignature(r.Header, body) {
		http.Error(w, "invalid request signature", http.StatusUnauthorized)
		return
	}
	var i discordgo.Interaction
	if err := json.Unmarshal(body, &i); err != nil {
		http.Error(w, "not an interaction", http.StatusBadRequest)
		return
	}
	switch i.Type {
	case discordgo.InteractionPing:
		writeInteractionResponse(w, &discordgo.InteractionResponse{Type: discordgo.InteractionResponsePong})
	case discordgo.InteractionApplicationCommand:
		d.answer(&i, func(resp *discordgo.InteractionResponse) { writeInteractionResponse(w, resp) })
	default:
		http.Error(w, "unsupported interaction type", http.StatusBadRequest)
	}
}

// verifySignature checks Discord's signature of a request and that it is recent: a captured request
// cannot be replayed after maxClockSkew (and within it, the job id keeps it from printing twice).
func (d *Discord) verifySignature(h http.Header, body []byte) bool {
	sig, err := hex.DecodeString(h.Get("X-Signature-Ed25519"))
	if err != nil || len(sig) != ed25519.SignatureSize {
		return false
	}
	ts := h.Get("X-Signature-Timestamp")
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return false
	}
	if age := d.now().Sub(time.Unix(secs, 0)); age > d.maxClockSkew || age < -d.maxClockSkew {
		return false
	}
	msg := make([]byte, 0, len(ts)+len(body))
	msg = append(append(msg, ts...), body...)
	return ed25519.Verify(d.publicKey, msg, sig)
}

func writeInteractionResponse(w http.ResponseWriter, resp *discordgo.InteractionResponse) {
	b, err := json.Marshal(resp)
	if err != nil {
		http.Error(w, "could not encode the response", http.StatusInternalServerError)
		return
	}
	// With its length set the response is complete once flushed, before a deferred reply's edit is sent.
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Write(b)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
}
