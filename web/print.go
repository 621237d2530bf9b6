package web

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/stagelink/stagelink/bots"
	"github.com/stagelink/stagelink/lighting"
	"github.com/stagelink/stagelink/printer"
)

// PrintDesk takes print jobs and tells what became of them (printer.Tracker).
type PrintDesk interface {
	Submit(ctx context.Context, job printer.Job) (st printer.JobStatus, duplicate bool, err error)
	Status(id string) (printer.JobStatus, bool)
	Job(id string) (printer.Job, bool)
}

var _ PrintDesk = (*printer.Tracker)(nil)

// Error codes of the print API, beside the contract's bad_request and internal.
const (
	codeNotFound    lighting.Code = "not_found"
	codeQueueFull   lighting.Code = "queue_full"
	codeUnavailable lighting.Code = "unavailable"
)

const (
	// maxPrintBody bounds a print request: MaxTextRunes characters, each up to 4 bytes, JSON-escaped.
	maxPrintBody = 32 << 10
	// printSubmitTimeout bounds how long a request waits for the queue (a broker reconnecting).
	printSubmitTimeout = 5 * time.Second
	// apiJobPrefix namespaces the ids API callers choose, so they never collide with the bots' ids.
	apiJobPrefix = "api:"
)

// printRequest is the body of POST /api/v1/print.
type printRequest struct {
	ID       string         `json:"id"`     // the caller's own id, for retries; a random one if empty
	Source   printer.Source `json:"source"` // default admin
	Author   string         `json:"author"`
	Text     string         `json:"text"`
	Amount   int64          `json:"amount"`
	Currency string         `json:"currency"`
}

// printAnswer is the answer to POST /api/v1/print.
type printAnswer struct {
	OK bool `json:"ok"`
	printer.JobStatus
}

// Moderation is the community's printing as the API controls it (bots.Moderator).
type Moderation interface {
	SetPaused(paused bool)
	Paused() bool
	Refusals(max int) []bots.RefusalRecord
}

var _ Moderation = (*bots.Moderator)(nil)

// maxRefusalsShown bounds GET /api/v1/print/refusals.
const maxRefusalsShown = 200

func (s *Server) printRoutes() {
	s.mux.HandleFunc("POST /api/v1/print", s.requireToken(s.apiPrint))
	s.mux.HandleFunc("GET /api/v1/print/{id}", s.requireToken(s.apiPrintStatus))
	s.mux.HandleFunc("GET /api/v1/print/{id}/receipt.png", s.requireToken(s.apiPrintReceipt))
	s.mux.HandleFunc("GET /demo/printer/{seq}", s.demoReceipt)
	s.mux.HandleFunc("GET /api/v1/print/pause", s.requireToken(s.apiPrintPaused))
	s.mux.HandleFunc("POST /api/v1/print/pause", s.requireToken(s.apiPrintPause(true)))
	s.mux.HandleFunc("POST /api/v1/print/resume", s.requireToken(s.apiPrintPause(false)))
	s.mux.HandleFunc("GET /api/v1/print/refusals", s.requireToken(s.apiPrintRefusals))
}

// apiPrintPaused tells whether the community's messages are paused (the API's own jobs still print).
func (s *Server) apiPrintPaused(w http.ResponseWriter, _ *http.Request) {
	if s.cfg.Moderation == nil {
		writeError(w, &lighting.Error{Code: codeUnavailable, Message: "community printing is not set up on this hub"})
		return
	}
	writeJSON(w, http.StatusOK, pauseMsg{s.cfg.Moderation.Paused()})
}

func (s *Server) apiPrintPause(p bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Moderation == nil {
			writeError(w, &lighting.Error{Code: codeUnavailable, Message: "community printing is not set up on this hub"})
			return
		}
		s.cfg.Moderation.SetPaused(p)
		s.requestLog(r).Info("community printing", "paused", p)
		writeJSON(w, http.StatusOK, pauseMsg{p})
	}
}

// apiPrintRefusals lists the latest messages moderation refused, newest first.
func (s *Server) apiPrintRefusals(w http.ResponseWriter, _ *http.Request) {
	if s.cfg.Moderation == nil {
		writeError(w, &lighting.Error{Code: codeUnavailable, Message: "community printing is not set up on this hub"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"refusals": s.cfg.Moderation.Refusals(maxRefusalsShown)})
}

func (s *Server) apiPrint(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Print == nil {
		writeError(w, &lighting.Error{Code: codeUnavailable, Message: "printing is not set up on this hub"})
		return
	}
	var req printRequest
	if err := decodeStrict(http.MaxBytesReader(w, r.Body, maxPrintBody), &req); err != nil {
		writeError(w, &lighting.Error{Code: lighting.CodeBadRequest, Message: err.Error()})
		return
	}
	job := printer.Job{ID: apiJobPrefix + req.ID, Source: req.Source, Author: req.Author, Text: req.Text,
		Amount: req.Amount, Currency: req.Currency, CreatedAt: time.Now().UTC().Truncate(time.Second)}
	if req.ID == "" {
		job.ID = apiJobPrefix + rand.Text()
	}
	if job.Source == "" {
		job.Source = printer.SourceAdmin
	}
	ctx, cancel := context.WithTimeout(r.Context(), printSubmitTimeout)
	defer cancel()
	st, dup, err := s.cfg.Print.Submit(ctx, job)
	switch {
	case errors.Is(err, printer.ErrBadJob), errors.Is(err, printer.ErrBadJobID), errors.Is(err, printer.ErrJobTooLarge):
		writeError(w, &lighting.Error{Code: lighting.CodeBadRequest, Message: err.Error()})
	case errors.Is(err, printer.ErrQueueFull):
		writeError(w, &lighting.Error{Code: codeQueueFull, Message: "the print queue is full; try again later", RetryAfter: 30 * time.Second})
	case err != nil:
		s.requestLog(r).Warn("print job not queued", "job", job.ID, "err", err)
		writeError(w, &lighting.Error{Code: codeUnavailable, Message: "the print queue is unavailable; try again later", RetryAfter: 5 * time.Second})
	case dup:
		writeJSON(w, http.StatusOK, printAnswer{OK: true, JobStatus: st})
	default:
		s.requestLog(r).Info("print job queued", "job", job.ID, "source", job.Source)
		w.Header().Set("Location", "/api/v1/print/"+job.ID)
		writeJSON(w, http.StatusAccepted, printAnswer{OK: true, JobStatus: st})
	}
}

func (s *Server) apiPrintStatus(w http.ResponseWriter, r *http.Request) {
	st, ok := s.printStatus(r.PathValue("id"))
	if !ok {
		writeError(w, &lighting.Error{Code: codeNotFound, Message: "this hub knows no print job with that id"})
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) printStatus(id string) (printer.JobStatus, bool) {
	if s.cfg.Print == nil {
		return printer.JobStatus{}, false
	}
	return s.cfg.Print.Status(id)
}

// apiPrintReceipt draws the receipt of a job submitted through this hub, as the printer will print it.
func (s *Server) apiPrintReceipt(w http.ResponseWriter, r *http.Request) {
	var job printer.Job
	ok := s.cfg.Print != nil
	if ok {
		job, ok = s.cfg.Print.Job(r.PathValue("id"))
	}
	if !ok {
		writeError(w, &lighting.Error{Code: codeNotFound, Message: "this hub knows no print job with that id"})
		return
	}
	s.drawReceipt(w, job)
}

// decodeStrict decodes one JSON object, refusing invalid UTF-8 (which encoding/json would quietly replace),
// unknown fields and trailing data.
func decodeStrict(r io.Reader, v any) error {
	body, err := io.ReadAll(r)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return fmt.Errorf("body is larger than %d bytes", tooBig.Limit)
		}
		return errors.New("reading the body: " + err.Error())
	}
	if !utf8.Valid(body) {
		return errors.New("body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errors.New("body is not the expected JSON object: " + err.Error())
	}
	if dec.More() {
		return errors.New("body has data after the JSON object")
	}
	return nil
}

func writePNG(w http.ResponseWriter, png []byte) {
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "private, max-age=3600")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Write(png)
}
