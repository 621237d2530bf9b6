package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/zishang520/socket.io/v2/socket"

	"github.com/stagelink/stagelink/lighting"
	"github.com/stagelink/stagelink/web/store"
)

// touchEvery bounds how often a token's last use is written.
const touchEvery = time.Minute

// tokenUse remembers when each token's last use was written, so a busy API client costs no writes.
type tokenUse struct {
	mu   sync.Mutex
	last map[int64]time.Time
}

func (u *tokenUse) due(id int64, now time.Time) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.last == nil {
		u.last = map[int64]time.Time{}
	}
	if now.Sub(u.last[id]) < touchEvery {
		return false
	}
	if len(u.last) > 10_000 {
		clear(u.last)
	}
	u.last[id] = now
	return true
}

// storedToken returns the id of the dashboard-issued token of kind equal to secret, or false.
func (s *Server) storedToken(ctx context.Context, kind store.TokenKind, secret string) (int64, bool) {
	if s.cfg.Content == nil || secret == "" || len(secret) > 200 {
		return 0, false
	}
	sum := sha256.Sum256([]byte(secret))
	t, err := s.cfg.Content.TokenByHash(ctx, kind, sum[:])
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.log.Error("looking up a token", "kind", kind, "err", err)
		}
		return 0, false
	}
	if now := time.Now(); s.tokenUse.due(t.ID, now) {
		if err := s.cfg.Content.TouchToken(context.WithoutCancel(ctx), t.ID, now); err != nil {
			s.log.Warn("recording a token's use", "err", err)
		}
	}
	return t.ID, true
}

// APITokenOK reports whether secret is the configured API token or an API token the dashboard issued and
// nobody revoked. WHIP publishing asks it too.
func (s *Server) APITokenOK(ctx context.Context, secret string) bool {
	if tokenOK(secret, s.cfg.APIToken) {
		return true
	}
	_, ok := s.storedToken(ctx, store.TokenAPI, secret)
	return ok
}

// tokenRoom is the Socket.IO room of the bridges that connected with a dashboard-issued token, so that
// revoking it disconnects them.
func tokenRoom(id int64) socket.Room { return socket.Room("token:" + strconv.FormatInt(id, 10)) }

// sessionRoom is the room of one session's dashboard sockets, so that logging out closes them.
func sessionRoom(hash []byte) socket.Room { return socket.Room("session:" + hex.EncodeToString(hash)) }

// accountRoom is the room of an account's dashboard sockets.
func accountRoom(id int64) socket.Room { return socket.Room("account:" + strconv.FormatInt(id, 10)) }

type tokensMsg struct {
	OK     bool          `json:"ok"`
	Tokens []store.Token `json:"tokens"`
}

func (s *Server) adminTokens(w http.ResponseWriter, r *http.Request, _ store.Account) {
	ts, err := s.cfg.Content.Tokens(r.Context())
	if err != nil {
		s.storeFail(w, r, "listing tokens", err)
		return
	}
	writeJSON(w, http.StatusOK, tokensMsg{OK: true, Tokens: ts})
}

type newTokenRequest struct {
	Kind store.TokenKind `json:"kind"`
	Name string          `json:"name"`
}

type newTokenMsg struct {
	OK     bool        `json:"ok"`
	Token  store.Token `json:"token"`
	Secret string      `json:"secret"` // shown once: the store keeps only its hash
}

// adminCreateToken issues a bridge or API token. Its secret is in this answer and nowhere else.
func (s *Server) adminCreateToken(w http.ResponseWriter, r *http.Request, who store.Account) {
	var req newTokenRequest
	if !readJSON(w, r, maxAdminBody, &req) {
		return
	}
	if req.Kind != store.TokenBridge && req.Kind != store.TokenAPI {
		adminFail(w, http.StatusBadRequest, lighting.CodeBadRequest, `kind must be "bridge" or "api"`)
		return
	}
	secret := "sl" + string(req.Kind[0]) + "_" + rand.Text() + rand.Text()
	sum := sha256.Sum256([]byte(secret))
	t, err := s.cfg.Content.CreateToken(r.Context(), store.Token{Kind: req.Kind, Name: req.Name, Hint: secret[len(secret)-6:],
		CreatedAt: time.Now(), CreatedBy: who.Name}, sum[:])
	if err != nil {
		s.storeFail(w, r, "creating a token", err)
		return
	}
	s.audit(r.Context(), who.Name, "token.create", string(t.Kind)+" "+t.Name, "")
	writeJSON(w, http.StatusCreated, newTokenMsg{OK: true, Token: t, Secret: secret})
}

// adminRevokeToken revokes a token and disconnects the bridges that use it.
func (s *Server) adminRevokeToken(w http.ResponseWriter, r *http.Request, who store.Account) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		adminFail(w, http.StatusNotFound, codeNotFound, "no such token")
		return
	}
	if err := s.cfg.Content.RevokeToken(r.Context(), id, time.Now()); err != nil {
		s.storeFail(w, r, "revoking a token", err)
		return
	}
	s.io.Of("/bridge", nil).In(tokenRoom(id)).DisconnectSockets(true)
	s.audit(r.Context(), who.Name, "token.revoke", strconv.FormatInt(id, 10), "")
	writeJSON(w, http.StatusOK, okMsg{OK: true})
}

type accountsMsg struct {
	OK       bool            `json:"ok"`
	Accounts []store.Account `json:"accounts"`
}

func (s *Server) adminAccounts(w http.ResponseWriter, r *http.Request, _ store.Account) {
	as, err := s.cfg.Content.Accounts(r.Context())
	if err != nil {
		s.storeFail(w, r, "listing accounts", err)
		return
	}
	writeJSON(w, http.StatusOK, accountsMsg{OK: true, Accounts: as})
}

type newAccountRequest struct {
	Name     string     `json:"name"`
	Password string     `json:"password"`
	Role     store.Role `json:"role"`
}

type accountMsg struct {
	OK      bool          `json:"ok"`
	Account store.Account `json:"account"`
}

func (s *Server) adminCreateAccount(w http.ResponseWriter, r *http.Request, who store.Account) {
	var req newAccountRequest
	if !readJSON(w, r, maxAdminBody, &req) {
		return
	}
	if req.Role != store.RoleAdmin && req.Role != store.RoleModerator {
		adminFail(w, http.StatusBadRequest, lighting.CodeBadRequest, `role must be "admin" or "moderator"`)
		return
	}
	if err := checkNewPassword(req.Password); err != nil {
		adminFail(w, http.StatusBadRequest, lighting.CodeBadRequest, err.Error())
		return
	}
	a, err := s.cfg.Content.CreateAccount(r.Context(), req.Name, req.Role, hashPassword(req.Password, s.argon))
	if err != nil {
		s.storeFail(w, r, "creating an account", err)
		return
	}
	s.audit(r.Context(), who.Name, "account.create", a.Name, string(a.Role))
	writeJSON(w, http.StatusCreated, accountMsg{OK: true, Account: a})
}

// adminDeleteAccount deletes another account and disconnects its dashboards.
func (s *Server) adminDeleteAccount(w http.ResponseWriter, r *http.Request, who store.Account) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		adminFail(w, http.StatusNotFound, codeNotFound, "no such account")
		return
	}
	if id == who.ID {
		adminFail(w, http.StatusBadRequest, lighting.CodeBadRequest, "you cannot delete your own account")
		return
	}
	a, err := s.cfg.Content.AccountByID(r.Context(), id)
	if err == nil {
		err = s.cfg.Content.DeleteAccount(r.Context(), id)
	}
	if err != nil {
		s.storeFail(w, r, "deleting an account", err)
		return
	}
	s.io.Of("/admin", nil).In(accountRoom(id)).DisconnectSockets(true)
	s.audit(r.Context(), who.Name, "account.delete", a.Name, "")
	writeJSON(w, http.StatusOK, okMsg{OK: true})
}

type auditMsg struct {
	OK      bool               `json:"ok"`
	Entries []store.AuditEntry `json:"entries"`
}

func (s *Server) adminAudit(w http.ResponseWriter, r *http.Request, _ store.Account) {
	before, _ := strconv.ParseInt(r.URL.Query().Get("before"), 10, 64)
	es, err := s.cfg.Content.AuditLog(r.Context(), 100, max(before, 0))
	if err != nil {
		s.storeFail(w, r, "reading the audit log", err)
		return
	}
	writeJSON(w, http.StatusOK, auditMsg{OK: true, Entries: es})
}
