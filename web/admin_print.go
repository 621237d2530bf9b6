package web

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/stagelink/stagelink/lighting"
	"github.com/stagelink/stagelink/printer"
	"github.com/stagelink/stagelink/web/store"
)

// printControl retries and cancels print jobs (PrintHistory).
type printControl interface {
	Cancel(ctx context.Context, id string) error
	Retry(ctx context.Context, job printer.Job) (printer.JobStatus, error)
}

type printsMsg struct {
	OK   bool                `json:"ok"`
	Jobs []store.PrintRecord `json:"jobs"`
}

func (s *Server) recentPrints(ctx context.Context) ([]store.PrintRecord, error) {
	return s.cfg.Content.PrintHistory(ctx, store.PrintFilter{Limit: recentPrints})
}

// adminPrints lists print jobs, newest first, optionally of some states and before a time.
func (s *Server) adminPrints(w http.ResponseWriter, r *http.Request, _ store.Account) {
	q := r.URL.Query()
	f := store.PrintFilter{Limit: 50}
	if v := q.Get("state"); v != "" {
		f.States = strings.Split(v, ",")
	}
	if n, err := strconv.Atoi(q.Get("limit")); err == nil && n > 0 {
		f.Limit = n
	}
	if v := q.Get("before"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			adminFail(w, http.StatusBadRequest, lighting.CodeBadRequest, "before must be an RFC 3339 time")
			return
		}
		f.Before = t
	}
	jobs, err := s.cfg.Content.PrintHistory(r.Context(), f)
	if err != nil {
		s.storeFail(w, r, "listing print jobs", err)
		return
	}
	writeJSON(w, http.StatusOK, printsMsg{OK: true, Jobs: jobs})
}

type adminPrintRequest struct {
	Author string `json:"author"`
	Text   string `json:"text"`
}

// adminPrint prints a message from the dashboard; moderation does not apply to the streamer.
func (s *Server) adminPrint(w http.ResponseWriter, r *http.Request, who store.Account) {
	if s.cfg.Print == nil {
		adminFail(w, http.StatusServiceUnavailable, codeUnavailable, "printing is not set up on this hub")
		return
	}
	var req adminPrintRequest
	if !readJSON(w, r, maxPrintBody, &req) {
		return
	}
	if req.Author == "" {
		req.Author = who.Name
	}
	job := printer.Job{ID: "admin:" + rand.Text(), Source: printer.SourceAdmin, Author: req.Author, Text: req.Text,
		CreatedAt: time.Now().UTC().Truncate(time.Second)}
	ctx, cancel := context.WithTimeout(r.Context(), printSubmitTimeout)
	defer cancel()
	st, _, err := s.cfg.Print.Submit(ctx, job)
	if err != nil {
		writeError(w, printRefusal(err))
		return
	}
	s.audit(r.Context(), who.Name, "print", job.ID, clip(req.Text, 200))
	writeJSON(w, http.StatusAccepted, printAnswer{OK: true, JobStatus: st})
}

// printRefusal maps a print queue error to an answer.
func printRefusal(err error) error {
	switch {
	case errors.Is(err, printer.ErrBadJob), errors.Is(err, printer.ErrBadJobID), errors.Is(err, printer.ErrJobTooLarge):
		return &lighting.Error{Code: lighting.CodeBadRequest, Message: strings.TrimPrefix(err.Error(), "printer: ")}
	case errors.Is(err, printer.ErrQueueFull):
		return &lighting.Error{Code: codeQueueFull, Message: "the print queue is full; try again later", RetryAfter: 30 * time.Second}
	default:
		return &lighting.Error{Code: codeUnavailable, Message: "the print queue is unavailable; try again later", RetryAfter: 5 * time.Second}
	}
}

// printJob is a recorded job as the printer takes it.
func printJob(rec store.PrintRecord) printer.Job {
	return printer.Job{ID: rec.ID, Source: printer.Source(rec.Source), Author: rec.Author, Text: rec.Text,
		Amount: rec.Amount, Currency: rec.Currency, CreatedAt: rec.CreatedAt}
}

func (s *Server) printControl(w http.ResponseWriter) (printControl, bool) {
	pc, ok := s.cfg.Print.(printControl)
	if !ok {
		adminFail(w, http.StatusServiceUnavailable, codeUnavailable, "printing is not set up on this hub")
	}
	return pc, ok
}

// adminPrintRetry queues a failed or cancelled job again, with the same id.
func (s *Server) adminPrintRetry(w http.ResponseWriter, r *http.Request, who store.Account) {
	pc, ok := s.printControl(w)
	if !ok {
		return
	}
	rec, err := s.cfg.Content.PrintRecord(r.Context(), r.PathValue("id"))
	if err != nil {
		s.storeFail(w, r, "reading a print job", err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), printSubmitTimeout)
	defer cancel()
	st, err := pc.Retry(ctx, printJob(rec))
	if err != nil {
		writeError(w, s.printControlRefusal(err))
		return
	}
	s.audit(r.Context(), who.Name, "print.retry", rec.ID, "")
	writeJSON(w, http.StatusAccepted, printAnswer{OK: true, JobStatus: st})
}

// adminPrintCancel cancels a job that has not started printing.
func (s *Server) adminPrintCancel(w http.ResponseWriter, r *http.Request, who store.Account) {
	pc, ok := s.printControl(w)
	if !ok {
		return
	}
	id := r.PathValue("id")
	if _, err := s.cfg.Content.PrintRecord(r.Context(), id); err != nil {
		s.storeFail(w, r, "reading a print job", err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), printSubmitTimeout)
	defer cancel()
	if err := pc.Cancel(ctx, id); err != nil {
		writeError(w, s.printControlRefusal(err))
		return
	}
	s.audit(r.Context(), who.Name, "print.cancel", id, "")
	writeJSON(w, http.StatusOK, okMsg{OK: true})
}

// adminPrintReceipt draws any recorded job's receipt as the printer prints it.
func (s *Server) adminPrintReceipt(w http.ResponseWriter, r *http.Request, _ store.Account) {
	rec, err := s.cfg.Content.PrintRecord(r.Context(), r.PathValue("id"))
	if err != nil {
		s.storeFail(w, r, "reading a print job", err)
		return
	}
	s.drawReceipt(w, printJob(rec))
}

// drawReceipt answers with a picture of job's receipt.
func (s *Server) drawReceipt(w http.ResponseWriter, job printer.Job) {
	data, err := printer.Render(job, s.cfg.PrintLayout)
	if err != nil {
		writeError(w, &lighting.Error{Code: lighting.CodeBadRequest, Message: err.Error()})
		return
	}
	if s.previewer == nil {
		writeError(w, &lighting.Error{Code: codeUnavailable, Message: "receipt pictures are not available"})
		return
	}
	var png bytes.Buffer
	if err := s.previewer.PNG(&png, data); err != nil {
		s.log.Error("drawing a receipt", "job", job.ID, "err", err)
		writeError(w, err)
		return
	}
	writePNG(w, png.Bytes())
}

func (s *Server) adminRefusals(w http.ResponseWriter, r *http.Request, _ store.Account) {
	if s.cfg.Moderation == nil {
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "refusals": []any{}})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "refusals": s.cfg.Moderation.Refusals(maxRefusalsShown)})
}

// clip cuts s to at most n runes, for audit details.
func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// printControlRefusal maps an error of a cancel or retry to an answer.
func (s *Server) printControlRefusal(err error) error {
	switch {
	case errors.Is(err, printer.ErrTooLate):
		return &lighting.Error{Code: codeConflict, Message: "too late: the job is printing or done"}
	case errors.Is(err, printer.ErrNotRetryable):
		return &lighting.Error{Code: codeConflict, Message: "only a failed or cancelled job can be printed again"}
	case errors.Is(err, printer.ErrUnknownJob):
		return &lighting.Error{Code: codeConflict, Message: "this hub has not seen the job yet; try again in a moment"}
	}
	s.log.Warn("print job control", "err", err)
	return printRefusal(err)
}
