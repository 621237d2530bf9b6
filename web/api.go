package web

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/stagelink/stagelink/lighting"
)

const maxAPIBody = 4096

func (s *Server) routes() {
	eio := releaseOnHijack(s.io.ServeHandler(nil))
	s.mux.Handle("GET /socket.io/", eio)
	s.mux.Handle("POST /socket.io/", eio)
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.HandleFunc("GET /api/v1/zones", s.apiZones)
	s.mux.HandleFunc("POST /api/v1/zones/{id}/state", s.requireToken(s.apiSetZone))
	s.mux.HandleFunc("GET /api/v1/pause", s.apiPaused)
	s.mux.HandleFunc("POST /api/v1/pause", s.requireToken(s.apiPause(true)))
	s.mux.HandleFunc("POST /api/v1/resume", s.requireToken(s.apiPause(false)))
	s.printRoutes()
	if s.cfg.Content != nil {
		s.adminRoutes()
	}
	if s.cfg.TipWebhooks != nil {
		s.mux.Handle("POST /webhooks/tips/{provider}", s.cfg.TipWebhooks)
	}
	if s.cfg.DiscordInteractions != nil {
		s.mux.Handle("POST /discord/interactions", s.cfg.DiscordInteractions)
	}
	if s.cfg.Metrics != nil {
		s.mux.Handle("GET /metrics", s.cfg.Metrics)
	}
	if s.cfg.Video != nil {
		for _, route := range []string{
			"POST /whip/", "PATCH /whip/", "DELETE /whip/", "OPTIONS /whip/",
			"POST /whep/", "PATCH /whep/", "DELETE /whep/", "OPTIONS /whep/",
			"GET /hls/", "GET /api/v1/streams",
		} {
			s.mux.Handle(route, s.cfg.Video)
		}
	}
	s.mux.Handle("GET /", assetHandler())
}

// requireToken guards h with the API bearer token. With no token configured the endpoint is closed.
func (s *Server) requireToken(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || !s.APITokenOK(r.Context(), got) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="stagelink"`)
			writeJSON(w, http.StatusUnauthorized, ackMsg{Error: &errorMsg{Code: "unauthorized", Message: "a valid API token is required (Authorization: Bearer …)"}})
			return
		}
		h(w, r)
	}
}

func (s *Server) apiZones(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, zonesMsg{Zones: s.lights.Zones()})
}

// zoneChange reads the change of POST …/zones/{id}/state, answering the refusal itself when it is bad.
func zoneChange(w http.ResponseWriter, r *http.Request) (lighting.Command, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAPIBody))
	if err != nil {
		writeError(w, &lighting.Error{Code: lighting.CodeBadRequest, Message: "body is larger than 4 KiB"})
		return lighting.Command{}, false
	}
	c, err := lighting.DecodeChange(body)
	if err != nil {
		writeError(w, err)
		return lighting.Command{}, false
	}
	if id := r.PathValue("id"); c.Zone == "" {
		c.Zone = id
	} else if c.Zone != id {
		writeError(w, &lighting.Error{Code: lighting.CodeBadRequest, Message: "the body names another zone than the path"})
		return lighting.Command{}, false
	}
	return c, true
}

func (s *Server) apiSetZone(w http.ResponseWriter, r *http.Request) {
	c, ok := zoneChange(w, r)
	if !ok {
		return
	}
	e, err := s.lights.Set(r.Context(), lighting.Viewer{Name: "api"}, c)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, ackMsg{OK: true, Version: e.Version})
}

type pauseMsg struct {
	Paused bool `json:"paused"`
}

func (s *Server) apiPaused(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, pauseMsg{s.lights.Paused()})
}

func (s *Server) apiPause(p bool) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		s.lights.SetPaused(p)
		writeJSON(w, http.StatusOK, pauseMsg{p})
	}
}

// statusOf maps the contract's error codes to HTTP statuses.
var statusOf = map[lighting.Code]int{
	lighting.CodeBadRequest:  http.StatusBadRequest,
	lighting.CodeUnknownZone: http.StatusNotFound,
	lighting.CodeZoneOffline: http.StatusConflict,
	lighting.CodeRateLimited: http.StatusTooManyRequests,
	lighting.CodePaused:      http.StatusLocked,
	lighting.CodeBlocked:     http.StatusForbidden,
	lighting.CodeInternal:    http.StatusInternalServerError,
	codeNotFound:             http.StatusNotFound,
	codeQueueFull:            http.StatusServiceUnavailable,
	codeUnavailable:          http.StatusServiceUnavailable,
}

func writeError(w http.ResponseWriter, err error) {
	a := refusal(err)
	if a.Error.RetryAfterMs > 0 {
		w.Header().Set("Retry-After", strconv.FormatInt((a.Error.RetryAfterMs+999)/1000, 10))
	}
	writeJSON(w, statusOf[a.Error.Code], a)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
