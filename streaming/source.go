package streaming

import (
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// h264Publication is what a source of H.264 access units (the RTSP puller, the test pattern) writes into
// while it publishes a stream.
type h264Publication interface {
	// WriteH264 takes one access unit: its NAL units without start codes, in decoding order, and its
	// presentation time on the source's clock (any origin, increasing). A keyframe that arrives without
	// SPS and PPS in front of it gets the last ones seen put back in front.
	WriteH264(pts time.Duration, au [][]byte)
	// Close ends the publication: the stream shows as not publishing until the next one.
	Close()
}

// h264Publisher claims a stream for a source of H.264. sps and pps are the parameter sets known before
// the first access unit (from an RTSP camera's SDP); either may be nil. It fails when the stream is busy.
type h264Publisher func(source Source, sps, pps []byte) (h264Publication, error)

// rtpPublication is what a source of RTP (the relay from an origin hub) writes into while it publishes
// a stream: the packets of the video codec and of the Opus audio it claimed the stream with.
type rtpPublication interface {
	writeVideoRTP(pkt *rtp.Packet)
	writeAudioRTP(pkt *rtp.Packet)
	// requestKeyframe asks the source for a keyframe, at most once per keyframeEvery.
	requestKeyframe()
	// Done is closed when the publication ends, whoever ends it.
	Done() <-chan struct{}
	// Close ends the publication: the stream shows as not publishing until the next one.
	Close()
}

// rtpPublisher claims a stream for a source of RTP with its video codec, Opus audio if audio is not nil,
// and keyframe, which asks the source for a keyframe. It fails with ErrBusy when the stream is busy.
type rtpPublisher func(source Source, video webrtc.RTPCodecCapability, audio *webrtc.RTPCodecCapability,
	keyframe func()) (rtpPublication, error)

// Source describes who publishes a stream.
type Source struct {
	Kind   string `json:"kind"`   // "whip", "rtsp", "test-pattern" or "relay"
	Remote string `json:"remote"` // the publisher's address, the camera's URL or the origin's WHEP URL, without credentials
}
