package streaming

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// The codecs stagelink carries. Video is H.264 (packetization mode 1, so large NAL units fragment) or VP8;
// audio is Opus. Payload types follow the ones browsers use, which keeps SDP easy to read; they are only
// defaults, since each PeerConnection negotiates its own.
var (
	codecH264 = webrtc.RTPCodecCapability{
		MimeType:    webrtc.MimeTypeH264,
		ClockRate:   90000,
		SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
	}
	codecVP8  = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}
	codecOpus = webrtc.RTPCodecCapability{
		MimeType:    webrtc.MimeTypeOpus,
		ClockRate:   48000,
		Channels:    2,
		SDPFmtpLine: "minptime=10;useinbandfec=1",
	}
)

// videoFeedback is the RTCP feedback every video codec offers: NACK for retransmissions, PLI for
// keyframes. No transport-cc or REMB on playback: the hub does not adapt the bitrate per viewer.
var videoFeedback = []webrtc.RTCPFeedback{
	{Type: webrtc.TypeRTCPFBNACK},
	{Type: webrtc.TypeRTCPFBNACK, Parameter: "pli"},
	{Type: webrtc.TypeRTCPFBCCM, Parameter: "fir"},
}

// registerCodecs puts the codecs stagelink carries into m: every H.264 profile browsers and cameras
// commonly use (a camera's high profile is forwarded as it is, so viewers must be able to negotiate it),
// VP8, each with RTX for retransmissions and videoFeedback, and Opus.
func registerCodecs(m *webrtc.MediaEngine) error {
	type entry struct {
		pt   webrtc.PayloadType
		mime string
		fmtp string
	}
	video := []entry{
		{96, webrtc.MimeTypeVP8, ""},
		{102, webrtc.MimeTypeH264, "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f"},
		{106, webrtc.MimeTypeH264, "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"},
		{112, webrtc.MimeTypeH264, "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=4d001f"},
		{116, webrtc.MimeTypeH264, "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=64001f"},
	}
	for _, e := range video {
		codec := webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{
				MimeType: e.mime, ClockRate: 90000, SDPFmtpLine: e.fmtp, RTCPFeedback: videoFeedback,
			},
			PayloadType: e.pt,
		}
		rtx := webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{
				MimeType: webrtc.MimeTypeRTX, ClockRate: 90000, SDPFmtpLine: fmt.Sprintf("apt=%d", e.pt),
			},
			PayloadType: e.pt + 1,
		}
		for _, c := range []webrtc.RTPCodecParameters{codec, rtx} {
			if err := m.RegisterCodec(c, webrtc.RTPCodecTypeVideo); err != nil {
				return err
			}
		}
	}
	return m.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: codecOpus, PayloadType: 111},
		webrtc.RTPCodecTypeAudio)
}

// fmtpValue returns the value of key in an SDP fmtp line ("a=1;b=2"), or "".
func fmtpValue(line, key string) string {
	for _, kv := range strings.Split(line, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if ok && strings.EqualFold(k, key) {
			return v
		}
	}
	return ""
}

// pickCodec chooses, among the codecs a peer negotiated, the one to send want as. For H.264 the
// packetization mode must match, and the same profile is preferred; a different profile is still taken,
// since every browser decodes the profiles it offers whatever the profile-level-id says. RTX and other
// codecs are skipped.
func pickCodec(want webrtc.RTPCodecCapability, offered []webrtc.RTPCodecParameters) (webrtc.RTPCodecParameters, bool) {
	var fallback *webrtc.RTPCodecParameters
	for i, c := range offered {
		if !strings.EqualFold(c.MimeType, want.MimeType) {
			continue
		}
		if !strings.EqualFold(want.MimeType, webrtc.MimeTypeH264) {
			return c, true
		}
		if fmtpValue(c.SDPFmtpLine, "packetization-mode") != fmtpValue(want.SDPFmtpLine, "packetization-mode") {
			continue
		}
		if h264Profile(c.SDPFmtpLine) == h264Profile(want.SDPFmtpLine) {
			return c, true
		}
		if fallback == nil {
			fallback = &offered[i]
		}
	}
	if fallback != nil {
		return *fallback, true
	}
	return webrtc.RTPCodecParameters{}, false
}

// isH264 reports whether c is H.264.
func isH264(c webrtc.RTPCodecCapability) bool {
	return strings.EqualFold(c.MimeType, webrtc.MimeTypeH264)
}

// h264Profile is the profile part of an fmtp line's profile-level-id (profile_idc and constraint flags,
// without the level), lower case; 42e0 is constrained baseline.
func h264Profile(fmtp string) string {
	id := strings.ToLower(fmtpValue(fmtp, "profile-level-id"))
	if len(id) != 6 {
		return "42e0" // RFC 6184: absent means constrained baseline
	}
	return id[:4]
}

// h264Capability describes an H.264 stream whose SPS is sps: its profile-level-id comes from the SPS,
// so viewers negotiate the profile the camera really sends.
func h264Capability(sps []byte) webrtc.RTPCodecCapability {
	c := codecH264
	if len(sps) >= 4 {
		c.SDPFmtpLine = "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=" + hex.EncodeToString(sps[1:4])
	}
	return c
}

// spsSize returns the picture size an H.264 SPS announces.
func spsSize(sps []byte) (width, height int, ok bool) {
	var s h264.SPS
	if err := s.Unmarshal(sps); err != nil {
		return 0, 0, false
	}
	return s.Width(), s.Height(), true
}

// NAL unit types of RFC 6184 that keyframe detection needs.
const (
	naluIDR   = 5
	naluSPS   = 7
	naluPPS   = 8
	naluAUD   = 9
	naluSTAPA = 24
	naluFUA   = 28
)

// h264NALUs calls fn with each NAL unit an H.264 RTP payload (RFC 6184) carries whole: the payload
// itself, or each unit of a STAP-A. A FU-A fragment carries none. It stops when fn returns true.
func h264NALUs(payload []byte, fn func(nalu []byte) bool) {
	if len(payload) < 1 {
		return
	}
	switch payload[0] & 0x1f {
	case naluFUA:
	case naluSTAPA:
		for p := payload[1:]; len(p) > 2; {
			n := int(p[0])<<8 | int(p[1])
			if n == 0 || len(p) < 2+n || fn(p[2:2+n]) {
				return
			}
			p = p[2+n:]
		}
	default:
		fn(payload)
	}
}

// h264Keyframe reports whether an H.264 RTP payload starts a keyframe: an IDR slice's first fragment,
// or an SPS, which encoders send right in front of an IDR.
func h264Keyframe(payload []byte) bool {
	if len(payload) >= 2 && payload[0]&0x1f == naluFUA {
		return payload[1]&0x80 != 0 && payload[1]&0x1f == naluIDR
	}
	key := false
	h264NALUs(payload, func(nalu []byte) bool {
		t := nalu[0] & 0x1f
		key = t == naluIDR || t == naluSPS
		return key
	})
	return key
}

// h264SPS returns the SPS an H.264 RTP payload carries whole (alone or in a STAP-A), or nil.
func h264SPS(payload []byte) []byte {
	var sps []byte
	h264NALUs(payload, func(nalu []byte) bool {
		if nalu[0]&0x1f == naluSPS {
			sps = nalu
		}
		return sps != nil
	})
	return sps
}

// vp8Keyframe reports whether a VP8 RTP payload (RFC 7741) starts a keyframe, and if so the picture size
// its frame header gives.
func vp8Keyframe(payload []byte) (key bool, width, height int) {
	if len(payload) < 1 {
		return false, 0, 0
	}
	start, pid := payload[0]&0x10 != 0, payload[0]&0x07
	i := 1
	if payload[0]&0x80 != 0 { // X: extension byte follows
		if len(payload) < 2 {
			return false, 0, 0
		}
		x := payload[1]
		i = 2
		if x&0x80 != 0 { // I: picture id, one or two bytes
			if len(payload) <= i {
				return false, 0, 0
			}
			if payload[i]&0x80 != 0 {
				i++
			}
			i++
		}
		if x&0x40 != 0 { // L: TL0PICIDX
			i++
		}
		if x&0x30 != 0 { // T or K: one byte
			i++
		}
	}
	if !start || pid != 0 || len(payload) <= i || payload[i]&0x01 != 0 {
		return false, 0, 0
	}
	// A keyframe's header: 3-byte frame tag, start code 9d 01 2a, 14-bit width, 14-bit height.
	h := payload[i:]
	if len(h) >= 10 && h[3] == 0x9d && h[4] == 0x01 && h[5] == 0x2a {
		width = int(h[6]) | int(h[7]&0x3f)<<8
		height = int(h[8]) | int(h[9]&0x3f)<<8
	}
	return true, width, height
}

// isKeyframeRequest reports whether a viewer's RTCP packet asks for a keyframe.
func isKeyframeRequest(p rtcp.Packet) bool {
	switch p.(type) {
	case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
		return true
	}
	return false
}
