package streaming

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
)

// connectTimeout bounds how long a session may take to connect after its answer: a client that posts
// an offer and never follows up holds nothing for long.
const connectTimeout = 20 * time.Second

// session is one WHIP publisher's or WHEP viewer's PeerConnection, known by the resource URL it was
// given.
type session struct {
	id     string
	kind   string // "whip" or "whep"
	srv    *Server
	stream *Stream
	pc     *webrtc.PeerConnection
	pub    *publication // whip only
	once   sync.Once
	closed chan struct{}
}

func newSessionID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *Server) newSession(kind string, st *Stream, pc *webrtc.PeerConnection) *session {
	v := &session{id: newSessionID(), kind: kind, srv: s, stream: st, pc: pc, closed: make(chan struct{})}
	s.mu.Lock()
	s.sessions[v.id] = v
	s.mu.Unlock()
	pc.OnConnectionStateChange(func(state webrtc.PeerConnectionState) {
		switch state {
		case webrtc.PeerConnectionStateConnected:
			for _, sender := range pc.GetSenders() {
				track, ok := sender.Track().(*sharedTrack)
				if enc := sender.GetParameters().Encodings; ok && len(enc) > 0 {
					track.activate(uint32(enc[0].SSRC))
				}
			}
		case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
			v.close()
		}
	})
	go func() {
		t := time.NewTimer(connectTimeout)
		defer t.Stop()
		select {
		case <-t.C:
			if pc.ConnectionState() != webrtc.PeerConnectionStateConnected {
				s.log.Info("session never connected", "kind", kind, "stream", st.name)
				v.close()
			}
		case <-v.closed:
		}
	}()
	return v
}

// session returns the session with id of kind on stream, if there is one.
func (s *Server) session(kind, stream, id string) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.sessions[id]; ok && v.kind == kind && v.stream.name == stream {
		return v
	}
	return nil
}

// close ends the session: its PeerConnection, its publication, its place among the viewers.
func (v *session) close() {
	v.once.Do(func() {
		close(v.closed)
		v.srv.mu.Lock()
		delete(v.srv.sessions, v.id)
		v.srv.mu.Unlock()
		if v.kind == "whep" {
			v.stream.mu.Lock()
			if _, ok := v.stream.viewers[v]; ok {
				delete(v.stream.viewers, v)
				v.srv.viewers.Add(-1)
			}
			v.stream.mu.Unlock()
		}
		if v.pub != nil {
			v.pub.end()
		}
		if err := v.pc.Close(); err != nil {
			v.srv.log.Debug("closing a PeerConnection", "err", err)
		}
	})
}

// answer completes an offer/answer exchange: it sets the local answer and waits for ICE gathering,
// which with host candidates on a shared port takes no time; the answer then holds every candidate, so
// the client needs no trickle ICE.
func answer(ctx context.Context, pc *webrtc.PeerConnection) (string, error) {
	ans, err := pc.CreateAnswer(nil)
	if err != nil {
		return "", err
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(ans); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	select {
	case <-gathered:
	case <-ctx.Done():
		return "", errors.New("gathering ICE candidates took too long")
	}
	return pc.LocalDescription().SDP, nil
}
