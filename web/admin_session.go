package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/stagelink/stagelink/lighting"
	"github.com/stagelink/stagelink/web/store"
)

// Cookies and lifetimes of dashboard sessions.
const (
	sessionCookie = "stagelink_session" // the session id; the store keeps its SHA-256
	loginCookie   = "stagelink_login"   // the login form's CSRF token, before there is a session
	csrfHeader    = "X-CSRF-Token"
	sessionTTL    = 12 * time.Hour
	loginTTL      = time.Hour
	maxAdminBody  = 16 << 10
)

// Login attempts are limited per client address and per account name, so neither one address guessing
// many names nor many addresses guessing one name gets far. With -redis the limits hold across hubs.
var (
	loginIPRate   = lighting.Rate{PerSecond: 1.0 / 6, Burst: 10} // 10 at once, then one every 6 s
	loginNameRate = lighting.Rate{PerSecond: 1.0 / 30, Burst: 5} // 5 at once, then one every 30 s
)

// Error codes of the dashboard API, beside the contract's bad_request, rate_limited and internal.
const (
	codeUnauthorized lighting.Code = "unauthorized"
	codeForbidden    lighting.Code = "forbidden"
	codeCSRF         lighting.Code = "csrf"
	codeConflict     lighting.Code = "conflict"
	codeGone         lighting.Code = "gone"
)

// adminHandler serves one dashboard request on behalf of a logged-in account.
type adminHandler func(w http.ResponseWriter, r *http.Request, who store.Account)

// authed guards h: a valid session whose account has at least role, and for anything but GET and HEAD a
// matching CSRF token from the same origin.
func (s *Server) authed(role store.Role, h adminHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess, who, err := s.session(r)
		if err != nil {
			adminFail(w, http.StatusUnauthorized, codeUnauthorized, "log in first (the session is missing or expired)")
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if !sameOrigin(r) || !tokenOK(r.Header.Get(csrfHeader), sess.CSRF) {
				adminFail(w, http.StatusForbidden, codeCSRF, "the request lacks this session's CSRF token; reload the dashboard")
				return
			}
		}
		if role == store.RoleAdmin && who.Role != store.RoleAdmin {
			adminFail(w, http.StatusForbidden, codeForbidden, "only an admin may do this")
			return
		}
		h(w, r, who)
	}
}

// session returns the session a request's cookie names, if it is valid.
func (s *Server) session(r *http.Request) (store.Session, store.Account, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || len(c.Value) > 100 {
		return store.Session{}, store.Account{}, store.ErrNotFound
	}
	return s.sessionByID(r.Context(), c.Value)
}

func (s *Server) sessionByID(ctx context.Context, id string) (store.Session, store.Account, error) {
	sum := sha256.Sum256([]byte(id))
	return s.cfg.Content.Session(ctx, sum[:], time.Now())
}

// sameOrigin refuses requests a browser marks as coming from another site. Requests without an Origin
// (non-browser clients) pass: they still need the CSRF token, which only the dashboard can read.
func sameOrigin(r *http.Request) bool {
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && strings.EqualFold(u.Host, r.Host)
}

// secureRequest reports whether the browser reached the hub over TLS, directly or through a proxy.
func secureRequest(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

func setCookie(w http.ResponseWriter, r *http.Request, name, value, path string, ttl time.Duration) {
	c := &http.Cookie{Name: name, Value: value, Path: path, HttpOnly: true, Secure: secureRequest(r),
		SameSite: http.SameSiteLaxMode, MaxAge: int(ttl / time.Second)}
	if ttl <= 0 {
		c.MaxAge = -1
	}
	http.SetCookie(w, c)
}

type meMsg struct {
	OK      bool          `json:"ok"`
	Account store.Account `json:"account"`
	CSRF    string        `json:"csrf"`
}

type loggedOutMsg struct {
	OK        bool      `json:"ok"`
	Error     *errorMsg `json:"error"`
	LoginCSRF string    `json:"loginCsrf"`
	Setup     bool      `json:"setup"` // no account exists yet
}

// adminMe tells the dashboard who is logged in, or hands it what it needs to log in.
func (s *Server) adminMe(w http.ResponseWriter, r *http.Request) {
	if sess, who, err := s.session(r); err == nil {
		writeJSON(w, http.StatusOK, meMsg{OK: true, Account: who, CSRF: sess.CSRF})
		return
	}
	token := rand.Text()
	setCookie(w, r, loginCookie, token, "/admin/api/", loginTTL)
	n, err := s.cfg.Content.CountAccounts(r.Context())
	if err != nil {
		s.log.Error("counting accounts", "err", err)
	}
	writeJSON(w, http.StatusUnauthorized, loggedOutMsg{
		Error:     &errorMsg{Code: codeUnauthorized, Message: "log in first"},
		LoginCSRF: token, Setup: err == nil && n == 0,
	})
}

// loginCSRFOK checks the login form's token against its cookie.
func loginCSRFOK(r *http.Request) bool {
	c, err := r.Cookie(loginCookie)
	return err == nil && sameOrigin(r) && tokenOK(r.Header.Get(csrfHeader), c.Value)
}

type loginRequest struct {
	Name     string `json:"name"`
	Password string `json:"password"`
}

// adminLogin checks a name and password and starts a session.
func (s *Server) adminLogin(w http.ResponseWriter, r *http.Request) {
	if !loginCSRFOK(r) {
		adminFail(w, http.StatusForbidden, codeCSRF, "the login form is stale; reload the page")
		return
	}
	var req loginRequest
	if !readJSON(w, r, maxAdminBody, &req) {
		return
	}
	name := strings.ToLower(strings.TrimSpace(req.Name))
	if len(name) > 64 { // no account has such a name; keep the limiter's key short
		name = name[:64]
	}
	if err := s.loginAllowed(r.Context(), s.clientIP(r.RemoteAddr, r.Header), name); err != nil {
		writeError(w, err)
		return
	}
	who, hash, err := s.cfg.Content.Account(r.Context(), name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.adminInternal(w, r, "reading an account", err)
		return
	}
	if err != nil {
		// Hash anyway, so an unknown name takes as long as a wrong password.
		hash = s.dummyHash
	}
	ok, herr := checkPassword(hash, req.Password)
	if herr != nil {
		s.log.Error("account has a malformed password hash", "account", name)
	}
	if err != nil || !ok {
		s.audit(r.Context(), name, "login.failed", "", "from "+s.clientIP(r.RemoteAddr, r.Header))
		adminFail(w, http.StatusUnauthorized, codeUnauthorized, "wrong name or password")
		return
	}
	s.startSession(w, r, who)
}

// loginAllowed spends one login attempt from the client's address and one for the name.
func (s *Server) loginAllowed(ctx context.Context, ip, name string) error {
	for _, c := range []struct {
		key  string
		rate lighting.Rate
	}{{"login-ip:" + ip, loginIPRate}, {"login-name:" + name, loginNameRate}} {
		ok, wait, err := s.limiter.Allow(ctx, c.key, c.rate)
		if err != nil {
			s.log.Error("login rate limiter", "err", err)
			return &lighting.Error{Code: codeUnavailable, Message: "logging in is unavailable; try again shortly"}
		}
		if !ok {
			return &lighting.Error{Code: lighting.CodeRateLimited, Message: "too many login attempts; wait a little", RetryAfter: wait}
		}
	}
	return nil
}

// startSession creates a session for who and answers like /admin/api/me.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, who store.Account) {
	id := rand.Text() + rand.Text()
	sum := sha256.Sum256([]byte(id))
	now := time.Now()
	sess := store.Session{Hash: sum[:], AccountID: who.ID, CSRF: rand.Text(), CreatedAt: now, ExpiresAt: now.Add(sessionTTL)}
	if err := s.cfg.Content.CreateSession(r.Context(), sess); err != nil {
		s.adminInternal(w, r, "creating a session", err)
		return
	}
	setCookie(w, r, sessionCookie, id, "/", sessionTTL)
	setCookie(w, r, loginCookie, "", "/admin/api/", 0)
	s.audit(r.Context(), who.Name, "login", "", "from "+s.clientIP(r.RemoteAddr, r.Header))
	writeJSON(w, http.StatusOK, meMsg{OK: true, Account: who, CSRF: sess.CSRF})
}

// adminLogout ends the session.
func (s *Server) adminLogout(w http.ResponseWriter, r *http.Request, who store.Account) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		sum := sha256.Sum256([]byte(c.Value))
		if err := s.cfg.Content.DeleteSession(r.Context(), sum[:]); err != nil {
			s.adminInternal(w, r, "ending a session", err)
			return
		}
		s.io.Of("/admin", nil).In(sessionRoom(sum[:])).DisconnectSockets(true)
	}
	setCookie(w, r, sessionCookie, "", "/", 0)
	s.audit(r.Context(), who.Name, "logout", "", "")
	writeJSON(w, http.StatusOK, okMsg{OK: true})
}

type setupRequest struct {
	Token    string `json:"token"`
	Name     string `json:"name"`
	Password string `json:"password"`
}

// adminSetup creates the first admin through the one-time link the hub printed at its first start.
func (s *Server) adminSetup(w http.ResponseWriter, r *http.Request) {
	if !loginCSRFOK(r) {
		adminFail(w, http.StatusForbidden, codeCSRF, "the setup form is stale; reload the page")
		return
	}
	var req setupRequest
	if !readJSON(w, r, maxAdminBody, &req) {
		return
	}
	if err := s.loginAllowed(r.Context(), s.clientIP(r.RemoteAddr, r.Header), "setup"); err != nil {
		writeError(w, err)
		return
	}
	if s.cfg.SetupToken == "" || subtle.ConstantTimeCompare([]byte(req.Token), []byte(s.cfg.SetupToken)) != 1 {
		adminFail(w, http.StatusUnauthorized, codeUnauthorized, "this setup link is not valid; use the one the hub printed, or `hub admin create`")
		return
	}
	if n, err := s.cfg.Content.CountAccounts(r.Context()); err != nil {
		s.adminInternal(w, r, "counting accounts", err)
		return
	} else if n > 0 {
		adminFail(w, http.StatusGone, codeGone, "an account exists already: log in")
		return
	}
	if err := checkNewPassword(req.Password); err != nil {
		adminFail(w, http.StatusBadRequest, lighting.CodeBadRequest, err.Error())
		return
	}
	who, err := s.cfg.Content.CreateAccount(r.Context(), req.Name, store.RoleAdmin, hashPassword(req.Password, s.argon))
	if err != nil {
		s.storeFail(w, r, "creating the first admin", err)
		return
	}
	s.audit(r.Context(), who.Name, "account.create", who.Name, "first admin, through the setup link")
	s.startSession(w, r, who)
}

type passwordRequest struct {
	Current string `json:"current"`
	New     string `json:"new"`
}

// adminPassword changes the logged-in account's password. Every session of the account ends; this one
// starts again.
func (s *Server) adminPassword(w http.ResponseWriter, r *http.Request, who store.Account) {
	var req passwordRequest
	if !readJSON(w, r, maxAdminBody, &req) {
		return
	}
	if err := s.loginAllowed(r.Context(), s.clientIP(r.RemoteAddr, r.Header), who.Name); err != nil {
		writeError(w, err)
		return
	}
	_, hash, err := s.cfg.Content.Account(r.Context(), who.Name)
	if err != nil {
		s.storeFail(w, r, "reading an account", err)
		return
	}
	if ok, _ := checkPassword(hash, req.Current); !ok {
		adminFail(w, http.StatusForbidden, codeForbidden, "the current password is wrong")
		return
	}
	if err := checkNewPassword(req.New); err != nil {
		adminFail(w, http.StatusBadRequest, lighting.CodeBadRequest, err.Error())
		return
	}
	if err := s.cfg.Content.SetPassword(r.Context(), who.ID, hashPassword(req.New, s.argon)); err != nil {
		s.storeFail(w, r, "changing a password", err)
		return
	}
	s.audit(r.Context(), who.Name, "account.password", who.Name, "")
	s.io.Of("/admin", nil).To(accountRoom(who.ID)).DisconnectSockets(true)
	s.startSession(w, r, who)
}
