package streaming

import "time"

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

// Source describes who publishes a stream.
type Source struct {
	Kind   string `json:"kind"`   // "whip", "rtsp" or "test-pattern"
	Remote string `json:"remote"` // the publisher's address or the camera's URL without credentials
}
