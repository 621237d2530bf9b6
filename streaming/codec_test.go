package streaming

import (
	"testing"

	"github.com/pion/webrtc/v4"
)

func TestKeyframeDetection(t *testing.T) {
	for _, tc := range []struct {
		name    string
		payload []byte
		h264    bool
	}{
		{"IDR slice", []byte{0x65, 0x88}, true},
		{"SPS", []byte{0x67, 0x42}, true},
		{"P slice", []byte{0x41, 0x9a}, false},
		{"STAP-A with SPS", []byte{0x78, 0, 2, 0x67, 0x42, 0, 2, 0x68, 0xce}, true},
		{"STAP-A with SEI only", []byte{0x78, 0, 2, 0x06, 0x05}, false},
		{"STAP-A with a length past the end", []byte{0x78, 0, 9, 0x67}, false},
		{"FU-A start of IDR", []byte{0x7c, 0x85}, true},
		{"FU-A middle of IDR", []byte{0x7c, 0x05}, false},
		{"empty", nil, false},
	} {
		if got := h264Keyframe(tc.payload); got != tc.h264 {
			t.Errorf("h264Keyframe(%s) = %v, want %v", tc.name, got, tc.h264)
		}
	}

	// VP8 (RFC 7741): descriptor with S=1, PID=0, then a keyframe header for 640x360.
	key := []byte{0x10, 0x00, 0x00, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01}
	if k, w, h := vp8Keyframe(key); !k || w != 640 || h != 360 {
		t.Errorf("vp8Keyframe(keyframe) = %v %dx%d, want true 640x360", k, w, h)
	}
	inter := []byte{0x10, 0x01, 0x00, 0x00}
	if k, _, _ := vp8Keyframe(inter); k {
		t.Error("vp8Keyframe(interframe) = true")
	}
	// With the X byte and a 15-bit picture id before the payload header.
	ext := append([]byte{0x90, 0x80, 0x81, 0x23}, key[1:]...)
	if k, w, h := vp8Keyframe(ext); !k || w != 640 || h != 360 {
		t.Errorf("vp8Keyframe(extended keyframe) = %v %dx%d, want true 640x360", k, w, h)
	}
}

func TestPickCodec(t *testing.T) {
	h264 := func(pt webrtc.PayloadType, fmtp string) webrtc.RTPCodecParameters {
		return webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000, SDPFmtpLine: fmtp}, PayloadType: pt}
	}
	offered := []webrtc.RTPCodecParameters{
		h264(97, "packetization-mode=0;profile-level-id=42e01f"),
		h264(98, "packetization-mode=1;profile-level-id=64001f"),
		h264(99, "packetization-mode=1;profile-level-id=42e01f"),
	}
	if c, ok := pickCodec(codecH264, offered); !ok || c.PayloadType != 99 {
		t.Errorf("pickCodec(constrained baseline) = %d %v, want 99", c.PayloadType, ok)
	}
	if c, ok := pickCodec(h264Capability([]byte{0x67, 0x4d, 0x00, 0x28}), offered); !ok || c.PayloadType != 98 {
		t.Errorf("pickCodec(main, not offered) = %d %v, want 98: another profile with packetization mode 1", c.PayloadType, ok)
	}
	if _, ok := pickCodec(codecVP8, offered); ok {
		t.Error("pickCodec(VP8) found a codec in an H.264-only offer")
	}
}

// FuzzPayloads feeds publishers' RTP payloads to the parsers that look inside them: none may panic.
func FuzzPayloads(f *testing.F) {
	for _, seed := range [][]byte{
		{0x65, 0x88}, {0x78, 0, 2, 0x67, 0x42, 0, 2, 0x68, 0xce}, {0x7c, 0x85},
		{0x90, 0x80, 0x81, 0x23, 0x00, 0x00, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01},
		{0x78, 0xff, 0xff}, {0x67, 0x42, 0xc0, 0x1e, 0xd9, 0x00, 0xa0, 0x47, 0xfe, 0xc8},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		h264Keyframe(payload)
		if sps := h264SPS(payload); sps != nil {
			spsSize(sps)
		}
		vp8Keyframe(payload)
		fmtpValue(string(payload), "profile-level-id")
		h264Profile(string(payload))
	})
}
