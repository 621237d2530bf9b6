package web

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/stagelink/stagelink/lighting"
	"github.com/stagelink/stagelink/web/store"
)

// adminRoutes mounts the dashboard: its page, its JSON API under /admin/api/ (contract in the README) and,
// in New, the /admin Socket.IO namespace.
func (s *Server) adminRoutes() {
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/admin.html"
		assetHandler().ServeHTTP(w, r2)
	})
	s.mux.Handle("GET /admin", page)
	s.mux.Handle("GET /admin/setup", page)
	s.mux.HandleFunc("GET /admin/{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/admin", http.StatusMovedPermanently)
	})

	const mod, adm = store.RoleModerator, store.RoleAdmin
	s.mux.HandleFunc("GET /admin/api/me", s.adminMe)
	s.mux.HandleFunc("POST /admin/api/login", s.adminLogin)
	s.mux.HandleFunc("POST /admin/api/setup", s.adminSetup)
	s.mux.HandleFunc("POST /admin/api/logout", s.authed(mod, s.adminLogout))
	s.mux.HandleFunc("POST /admin/api/password", s.authed(mod, s.adminPassword))

	s.mux.HandleFunc("GET /admin/api/overview", s.authed(mod, s.adminOverview))
	s.mux.HandleFunc("POST /admin/api/pause", s.authed(mod, s.adminPause))
	s.mux.HandleFunc("PUT /admin/api/zones/{id}", s.authed(adm, s.adminZoneSettings))
	s.mux.HandleFunc("POST /admin/api/zones/{id}/state", s.authed(mod, s.adminZoneState))
	s.mux.HandleFunc("GET /admin/api/presets", s.authed(mod, s.adminPresets))
	s.mux.HandleFunc("POST /admin/api/presets", s.authed(adm, s.adminSavePreset))
	s.mux.HandleFunc("DELETE /admin/api/presets/{id}", s.authed(adm, s.adminDeletePreset))
	s.mux.HandleFunc("POST /admin/api/presets/{id}/apply", s.authed(mod, s.adminApplyPreset))
	s.mux.HandleFunc("GET /admin/api/blocks", s.authed(mod, s.adminBlocks))
	s.mux.HandleFunc("POST /admin/api/blocks", s.authed(mod, s.adminAddBlock))
	s.mux.HandleFunc("DELETE /admin/api/blocks", s.authed(mod, s.adminRemoveBlock))

	s.mux.HandleFunc("GET /admin/api/page", s.authed(mod, s.adminPage))
	s.mux.HandleFunc("PUT /admin/api/page", s.authed(adm, s.adminSetPage))

	s.mux.HandleFunc("GET /admin/api/prints", s.authed(mod, s.adminPrints))
	s.mux.HandleFunc("POST /admin/api/prints", s.authed(mod, s.adminPrint))
	s.mux.HandleFunc("POST /admin/api/prints/{id}/retry", s.authed(mod, s.adminPrintRetry))
	s.mux.HandleFunc("POST /admin/api/prints/{id}/cancel", s.authed(mod, s.adminPrintCancel))
	s.mux.HandleFunc("GET /admin/api/prints/{id}/receipt.png", s.authed(mod, s.adminPrintReceipt))
	s.mux.HandleFunc("GET /admin/api/refusals", s.authed(mod, s.adminRefusals))

	s.mux.HandleFunc("GET /admin/api/tokens", s.authed(adm, s.adminTokens))
	s.mux.HandleFunc("POST /admin/api/tokens", s.authed(adm, s.adminCreateToken))
	s.mux.HandleFunc("DELETE /admin/api/tokens/{id}", s.authed(adm, s.adminRevokeToken))
	s.mux.HandleFunc("GET /admin/api/accounts", s.authed(adm, s.adminAccounts))
	s.mux.HandleFunc("POST /admin/api/accounts", s.authed(adm, s.adminCreateAccount))
	s.mux.HandleFunc("DELETE /admin/api/accounts/{id}", s.authed(adm, s.adminDeleteAccount))
	s.mux.HandleFunc("GET /admin/api/audit", s.authed(adm, s.adminAudit))
}

type okMsg struct {
	OK bool `json:"ok"`
}

// readJSON decodes a dashboard request's JSON body of at most limit bytes into v (decodeStrict), and
// answers 400 itself when it cannot.
func readJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) bool {
	if err := decodeStrict(http.MaxBytesReader(w, r.Body, limit), v); err != nil {
		adminFail(w, http.StatusBadRequest, lighting.CodeBadRequest, err.Error())
		return false
	}
	return true
}

// adminFail answers a dashboard request with an error the page can show.
func adminFail(w http.ResponseWriter, status int, code lighting.Code, msg string) {
	writeJSON(w, status, ackMsg{Error: &errorMsg{Code: code, Message: msg}})
}

// adminInternal logs an unexpected failure with the request's context and answers 500.
func (s *Server) adminInternal(w http.ResponseWriter, r *http.Request, doing string, err error) {
	s.log.Error(doing, "path", r.URL.Path, "err", err)
	adminFail(w, http.StatusInternalServerError, lighting.CodeInternal, "something went wrong "+doing+"; try again")
}

// storeFail maps a content store error to an answer: its validation message, not found, exists, or 500.
func (s *Server) storeFail(w http.ResponseWriter, r *http.Request, doing string, err error) {
	switch {
	case errors.Is(err, store.ErrInvalid):
		adminFail(w, http.StatusBadRequest, lighting.CodeBadRequest, strings.TrimPrefix(err.Error(), "store: "))
	case errors.Is(err, store.ErrNotFound):
		adminFail(w, http.StatusNotFound, codeNotFound, "it does not exist (any more)")
	case errors.Is(err, store.ErrExists):
		adminFail(w, http.StatusConflict, codeConflict, "one with that name exists already")
	default:
		s.adminInternal(w, r, doing, err)
	}
}

// audit records who changed what. A failed write is logged, never shown: the change itself succeeded.
func (s *Server) audit(ctx context.Context, actor, action, target, detail string) {
	err := s.cfg.Content.Audit(context.WithoutCancel(ctx), store.AuditEntry{Actor: actor, Action: action, Target: target, Detail: detail})
	if err != nil {
		s.log.Error("writing the audit log", "action", action, "err", err)
	}
	s.activity(activityItem{Kind: "admin", Who: actor, Text: strings.TrimSpace(action + " " + target)})
}
