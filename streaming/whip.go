package streaming

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// postWHIP takes a publisher's offer (RFC 9725 §4.2): it negotiates one video codec (H.264 preferred,
// for HLS, then VP8) and Opus audio if offered, claims the stream, and answers 201 with the session's URL.
func (s *Server) postWHIP(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r) {
		unauthorized(w)
		return
	}
	name, offer, ok := readOffer(w, r)
	if !ok {
		return
	}
	a := s.apis.Load()
	if a == nil {
		httpError(w, http.StatusServiceUnavailable, "starting", "the video server is not running")
		return
	}
	st, err := s.stream(name)
	if err != nil {
		httpError(w, http.StatusServiceUnavailable, "too_many_streams", err.Error())
		return
	}
	pc, err := a.ingest.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		s.log.Error("new PeerConnection", "err", err)
		httpError(w, http.StatusInternalServerError, "internal", "could not start a WebRTC session")
		return
	}
	fail := func(status int, code, msg string) {
		pc.Close()
		httpError(w, status, code, msg)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		fail(http.StatusBadRequest, "bad_sdp", "the SDP offer was refused: "+err.Error())
		return
	}
	video, audio, err := chooseIngestCodecs(pc)
	if err != nil {
		fail(http.StatusNotAcceptable, "unsupported_codec", err.Error())
		return
	}

	var videoSSRC atomic.Uint32
	keyframe := func() {
		if ssrc := videoSSRC.Load(); ssrc != 0 {
			_ = pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}})
		}
	}
	var audioCodec *webrtc.RTPCodecCapability
	if audio != nil {
		audioCodec = &audio.RTPCodecCapability
	}
	pub, err := st.publish(Source{Kind: "whip", Remote: r.RemoteAddr}, video.RTPCodecCapability, audioCodec, keyframe)
	if err != nil { // ErrBusy
		fail(http.StatusConflict, "busy", "another source is publishing this stream; DELETE its session or wait until it ends")
		return
	}
	v := s.newSession("whip", st, pc)
	v.pub = pub
	go func() { // a publication taken away ends the session too
		select {
		case <-pub.Done():
			v.close()
		case <-v.closed:
		}
	}()
	pc.OnTrack(func(track *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		switch {
		case track.Kind() == webrtc.RTPCodecTypeVideo && strings.EqualFold(track.Codec().MimeType, video.MimeType):
			if !videoSSRC.CompareAndSwap(0, uint32(track.SSRC())) {
				return // a second video track or simulcast layer: only the first is carried
			}
			pub.requestKeyframe()
			for {
				pkt, _, err := track.ReadRTP()
				if err != nil {
					return
				}
				pub.writeVideoRTP(pkt)
			}
		case track.Kind() == webrtc.RTPCodecTypeAudio && audio != nil:
			for {
				pkt, _, err := track.ReadRTP()
				if err != nil {
					return
				}
				pub.writeAudioRTP(pkt)
			}
		}
	})
	sdp, err := answer(r.Context(), pc)
	if err != nil {
		v.close()
		httpError(w, http.StatusBadRequest, "bad_sdp", "could not answer the offer: "+err.Error())
		return
	}
	s.writeAnswer(w, v, sdp)
}

// chooseIngestCodecs picks, among what a publisher offers, the one video codec it will send and Opus
// audio if offered, and restricts the answer to them. The video codec is the first H.264 (packetization
// mode 1) or VP8 in the offer's order, which is the publisher's preference; only H.264 also goes to HLS.
func chooseIngestCodecs(pc *webrtc.PeerConnection) (video webrtc.RTPCodecParameters, audio *webrtc.RTPCodecParameters, err error) {
	var videoT *webrtc.RTPTransceiver
	for _, t := range pc.GetTransceivers() {
		codecs := t.Receiver().GetParameters().Codecs
		switch t.Kind() {
		case webrtc.RTPCodecTypeVideo:
			if videoT != nil {
				continue
			}
			// The first usable codec in the offer's order: the publisher's preference.
			for _, c := range codecs {
				want := codecVP8
				if isH264(c.RTPCodecCapability) {
					want = codecH264
				}
				if chosen, ok := pickCodec(want, []webrtc.RTPCodecParameters{c}); ok {
					video, videoT = chosen, t
					break
				}
			}
			if videoT != nil {
				if err := t.SetCodecPreferences(withRTX(video, codecs)); err != nil {
					return video, nil, err
				}
			}
		case webrtc.RTPCodecTypeAudio:
			if audio != nil {
				continue
			}
			if c, ok := pickCodec(codecOpus, codecs); ok {
				audio = &c
				if err := t.SetCodecPreferences([]webrtc.RTPCodecParameters{c}); err != nil {
					return video, nil, err
				}
			}
		}
	}
	if videoT == nil {
		return video, nil, errors.New("the offer must send video as H.264 (packetization-mode=1) or VP8")
	}
	return video, audio, nil
}

// withRTX returns c and, if the peer negotiated one, its RTX codec.
func withRTX(c webrtc.RTPCodecParameters, codecs []webrtc.RTPCodecParameters) []webrtc.RTPCodecParameters {
	out := []webrtc.RTPCodecParameters{c}
	for _, x := range codecs {
		if strings.EqualFold(x.MimeType, webrtc.MimeTypeRTX) && fmtpValue(x.SDPFmtpLine, "apt") == strconv.Itoa(int(c.PayloadType)) {
			out = append(out, x)
		}
	}
	return out
}
