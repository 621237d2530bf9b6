package streaming

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/pion/webrtc/v4"
)

// postWHEP takes a viewer's offer: it adds the stream's shared tracks to a new PeerConnection and answers
// 201 with the session's URL. A viewer that joins gets the cached keyframe and what followed it at once.
func (s *Server) postWHEP(w http.ResponseWriter, r *http.Request) {
	name, offer, ok := readOffer(w, r)
	if !ok {
		return
	}
	a := s.apis.Load()
	if a == nil {
		httpError(w, http.StatusServiceUnavailable, "starting", "the video server is not running")
		return
	}
	// Before not_live: two edges relaying from each other are never live, and must hear why.
	if r.Header.Get(relayHeader) != "" && s.relays(name) {
		httpError(w, http.StatusConflict, "relay_loop", "this hub relays stream "+name+" itself: relay from the origin hub")
		return
	}
	st := s.lookup(name)
	if st == nil || !st.Status().Live {
		httpError(w, http.StatusNotFound, "not_live", "stream "+name+" is not live")
		return
	}
	if s.viewers.Add(1) > int64(s.cfg.MaxViewers) {
		s.viewers.Add(-1)
		w.Header().Set("Retry-After", "10")
		httpError(w, http.StatusServiceUnavailable, "too_many_viewers", "the video server is full; try again soon or watch over HLS")
		return
	}
	counted := true
	defer func() {
		if counted {
			s.viewers.Add(-1)
		}
	}()

	pc, err := a.play.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		s.log.Error("new PeerConnection", "err", err)
		httpError(w, http.StatusInternalServerError, "internal", "could not start a WebRTC session")
		return
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		pc.Close()
		httpError(w, http.StatusBadRequest, "bad_sdp", "the SDP offer was refused: "+err.Error())
		return
	}
	// The session joins the stream's viewers before it takes the tracks, under the stream's lock: a new
	// publication of another codec either happens before (and these are its tracks) or lets it go.
	v := s.newSession("whep", st, pc)
	st.mu.Lock()
	video, audio, live := st.video, st.audio, st.pub != nil
	if live {
		st.viewers[v] = struct{}{}
		counted = false
	}
	st.mu.Unlock()
	if !live {
		v.close()
		httpError(w, http.StatusNotFound, "not_live", "stream "+name+" is not live")
		return
	}
	if err := addTracks(pc, video, audio); err != nil {
		v.close()
		status, code := http.StatusBadRequest, "bad_sdp"
		if errors.Is(err, errNoCodec) {
			status, code = http.StatusNotAcceptable, "unsupported_codec"
		}
		httpError(w, status, code, err.Error())
		return
	}
	sdp, err := answer(r.Context(), pc)
	if err != nil {
		v.close()
		httpError(w, http.StatusBadRequest, "bad_sdp", "could not answer the offer: "+err.Error())
		return
	}
	s.writeAnswer(w, v, sdp)
}

// addTracks adds a stream's shared tracks to a viewer's PeerConnection, into the transceivers its
// offer opened, and drains RTCP from each sender: without a reader, NACKs and PLIs go unanswered.
func addTracks(pc *webrtc.PeerConnection, video, audio *sharedTrack) error {
	hasVideo := false
	for _, t := range pc.GetTransceivers() {
		if t.Kind() == webrtc.RTPCodecTypeVideo {
			hasVideo = true
		}
	}
	if !hasVideo {
		return errors.New("the offer must receive video (a recvonly video m-line)")
	}
	for _, track := range []*sharedTrack{video, audio} {
		if track == nil {
			continue
		}
		sender, err := pc.AddTrack(track)
		if err != nil {
			return err
		}
		if _, ok := pickCodec(track.codec, sender.GetParameters().Codecs); !ok {
			if track.kind == webrtc.RTPCodecTypeAudio {
				_ = pc.RemoveTrack(sender)
				continue // no Opus: the viewer watches without sound
			}
			return fmt.Errorf("%w: this stream is %s, and the offer has no %s (for H.264: packetization-mode=1)",
				errNoCodec, codecName(track.codec), codecName(track.codec))
		}
		go func() {
			for {
				pkts, _, err := sender.ReadRTCP()
				if err != nil {
					return
				}
				for _, p := range pkts {
					if isKeyframeRequest(p) {
						track.requestKeyframe()
					}
				}
			}
		}()
	}
	return nil
}
