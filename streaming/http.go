package streaming

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// maxSDPBytes bounds an offer. Browsers' offers are 3–8 KiB; OBS's are smaller.
const maxSDPBytes = 64 << 10

// Handler serves WHIP (RFC 9725) at /whip/{stream}, WHEP at /whep/{stream}, LL-HLS at
// /hls/{stream}/, and the streams' status at /api/v1/streams.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /whip/{stream}", s.postWHIP)
	mux.HandleFunc("POST /whep/{stream}", s.postWHEP)
	for _, kind := range []string{"whip", "whep"} {
		mux.HandleFunc("OPTIONS /"+kind+"/{stream}", s.options)
		mux.HandleFunc("DELETE /"+kind+"/{stream}/{id}", s.deleteSession(kind))
		mux.HandleFunc("PATCH /"+kind+"/{stream}/{id}", s.patchSession(kind))
		mux.HandleFunc("/"+kind+"/", func(w http.ResponseWriter, r *http.Request) {
			httpError(w, http.StatusNotFound, "not_found", "no such WebRTC resource: POST an SDP offer to /"+kind+"/{stream}")
		})
	}
	mux.HandleFunc("GET /hls/{stream}/{file}", s.getHLS)
	mux.HandleFunc("HEAD /hls/{stream}/{file}", s.getHLS)
	mux.HandleFunc("GET /api/v1/streams", s.getStatus)
	return cors(mux)
}

// cors lets WHIP/WHEP clients and HLS players on other origins use the endpoints, as RFC 9725 §4.2
// expects of a WHIP endpoint.
func cors(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Access-Control-Expose-Headers", "Location, Link, Retry-After")
		h.ServeHTTP(w, r)
	})
}

func (s *Server) options(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Access-Control-Allow-Methods", "POST, DELETE, OPTIONS")
	w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
	w.Header().Set("Accept-Post", "application/sdp")
	w.Header().Set("Allow", "POST, OPTIONS")
	for _, link := range s.iceLinks() {
		w.Header().Add("Link", link) // RFC 9725 §4.6: a client may ask for the ICE servers before its offer
	}
	w.WriteHeader(http.StatusNoContent)
}

// errorBody is how every stagelink API says no.
type errorBody struct {
	OK    bool `json:"ok"`
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func httpError(w http.ResponseWriter, status int, code, message string) {
	var b errorBody
	b.Error.Code, b.Error.Message = code, message
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(b)
}

// readOffer reads an SDP offer from a WHIP or WHEP POST and names the stream, or answers the error
// itself and returns ok false.
func readOffer(w http.ResponseWriter, r *http.Request) (stream, offer string, ok bool) {
	stream = r.PathValue("stream")
	if !streamName.MatchString(stream) {
		httpError(w, http.StatusBadRequest, "bad_request", "a stream name is 1 to 32 lower-case letters, digits and dashes")
		return "", "", false
	}
	if ct := r.Header.Get("Content-Type"); !strings.EqualFold(strings.TrimSpace(strings.Split(ct, ";")[0]), "application/sdp") {
		httpError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "send the SDP offer with Content-Type: application/sdp")
		return "", "", false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSDPBytes))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		httpError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("an SDP offer is at most %d bytes", maxSDPBytes))
		return "", "", false
	case err != nil:
		httpError(w, http.StatusBadRequest, "bad_request", "reading the offer: "+err.Error())
		return "", "", false
	case !strings.HasPrefix(string(body), "v=0"):
		httpError(w, http.StatusBadRequest, "bad_sdp", "the body is not an SDP offer (it must start with v=0)")
		return "", "", false
	}
	return stream, string(body), true
}

// writeAnswer sends the 201 Created of RFC 9725 §4.2: the answer, and the session's URL in Location.
func (s *Server) writeAnswer(w http.ResponseWriter, v *session, sdp string) {
	w.Header().Set("Content-Type", "application/sdp")
	w.Header().Set("Location", "/"+v.kind+"/"+v.stream.name+"/"+v.id)
	w.Header().Set("Cache-Control", "no-store")
	for _, link := range s.iceLinks() {
		w.Header().Add("Link", link)
	}
	w.WriteHeader(http.StatusCreated)
	io.WriteString(w, sdp)
}

// iceLinks gives the configured STUN and TURN servers as RFC 9725 §4.6 Link headers.
func (s *Server) iceLinks() []string {
	var out []string
	for _, srv := range s.cfg.ICEServers {
		for _, u := range srv.URLs {
			link := "<" + u + `>; rel="ice-server"`
			if cred, ok := srv.Credential.(string); ok && srv.Username != "" {
				link += fmt.Sprintf(`; username=%q; credential=%q; credential-type="password"`, srv.Username, cred)
			}
			out = append(out, link)
		}
	}
	return out
}

func (s *Server) authorized(r *http.Request) bool {
	return s.cfg.Authorize != nil && s.cfg.Authorize(r)
}

func (s *Server) deleteSession(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if kind == "whip" && !s.authorized(r) {
			unauthorized(w)
			return
		}
		v := s.session(kind, r.PathValue("stream"), r.PathValue("id"))
		if v == nil {
			httpError(w, http.StatusNotFound, "not_found", "no such session; it may have ended already")
			return
		}
		v.close()
		w.WriteHeader(http.StatusOK)
	}
}

// patchSession refuses trickle ICE and ICE restarts: answers carry every candidate at once
// (RFC 9725 §4.3.1 lets a server answer 405).
func (s *Server) patchSession(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", "DELETE")
		httpError(w, http.StatusMethodNotAllowed, "method_not_allowed",
			"trickle ICE is not supported: the answer carries every candidate; start a new session to restart")
	}
}

func unauthorized(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="stagelink"`)
	httpError(w, http.StatusUnauthorized, "unauthorized", "publishing needs the API token: Authorization: Bearer <token>")
}

func (s *Server) getHLS(w http.ResponseWriter, r *http.Request) {
	st := s.lookup(r.PathValue("stream"))
	var out hlsOutput
	if st != nil {
		st.mu.Lock()
		out = st.hls
		st.mu.Unlock()
	}
	if out == nil {
		httpError(w, http.StatusNotFound, "not_live", "no HLS for this stream: it is not live, or not H.264")
		return
	}
	r2 := r.Clone(r.Context())
	r2.URL.Path = "/" + r.PathValue("file")
	out.ServeHTTP(w, r2)
}

func (s *Server) getStatus(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r) {
		unauthorized(w)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(struct {
		Streams []Status `json:"streams"`
	}{s.Status()})
}
