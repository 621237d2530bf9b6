package streaming

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// testPatternH264 is the clip the test pattern loops: 4 s of SMPTE bars at 30 fps in H.264 Annex B,
// constrained baseline, an access unit delimiter before every access unit and SPS and PPS before every
// IDR. testpattern/generate.sh makes it and says how to make it again.
//
//go:embed testpattern/pattern.h264
var testPatternH264 []byte

const (
	testPatternFPS = 30
	// testPatternRetry is how long the test pattern waits before it tries again to claim a busy stream.
	testPatternRetry = time.Second
	// testPatternMaxLag is how far behind its clock the test pattern may fall (the machine was suspended,
	// the process stopped) before it carries on from now instead of sending the missed frames at once.
	testPatternMaxLag = time.Second
)

// The NAL unit types the test pattern looks at (ITU-T H.264, table 7-1).
const (
	naluTypeSlice = 1 // coded slice of a non-IDR picture
	naluTypeIDR   = 5 // coded slice of an IDR picture
	naluTypeSPS   = 7
	naluTypePPS   = 8
	naluTypeAUD   = 9 // access unit delimiter
)

// preemptiblePublication is a publication that can be taken away from its source: when a WHIP publisher
// or a camera claims the stream, Done closes, and the source closes the publication and steps aside.
// Publications may implement it; the test pattern checks.
type preemptiblePublication interface {
	Done() <-chan struct{}
}

// TestPattern is the demo's camera: while nobody else publishes, it plays a looping clip of SMPTE bars
// with "stagelink test pattern" on them, so the hub shows video with no camera attached. It gives the
// stream up to any real publisher and takes it back once the stream is free.
type TestPattern struct {
	clip h264Clip
	log  *slog.Logger
}

// NewTestPattern returns a test pattern ready to Run. It reads the clip embedded in the binary and fails
// only when that clip is broken.
func NewTestPattern(log *slog.Logger) (*TestPattern, error) {
	clip, err := parseH264Clip(testPatternH264)
	if err != nil {
		return nil, fmt.Errorf("test pattern: %v", err)
	}
	return &TestPattern{clip: clip, log: log.With("component", "test-pattern")}, nil
}

// Run plays the test pattern until ctx ends, then closes the publication it holds, if any, and returns
// nil. It claims the stream with publish, as a Source of Kind "test-pattern", and writes an access unit
// every 1/30 s in real time, the clip over and over, with presentation times that keep increasing from
// one loop to the next. While the stream is busy (publish fails) it tries again every second. When the
// publication is taken away (it has a method Done() <-chan struct{} and that channel closes) Run closes
// it and goes back to trying. The access units it writes are shared between loops: the publication must
// not modify them.
func (p *TestPattern) Run(ctx context.Context, publish h264Publisher) error {
	retry := time.NewTimer(0)
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-retry.C:
		}
		pub, err := publish(Source{Kind: "test-pattern"}, p.clip.sps, p.clip.pps)
		if err != nil {
			p.log.Debug("stream busy, trying again later", "err", err)
		} else {
			p.log.Info("playing the test pattern")
			p.play(ctx, pub)
			if ctx.Err() != nil {
				return nil
			}
			p.log.Info("the test pattern gave way to another publisher")
		}
		retry.Reset(testPatternRetry)
	}
}

// play writes the clip into pub, frame n at frame time n after it starts, until ctx ends or pub is taken
// away; then it closes pub.
func (p *TestPattern) play(ctx context.Context, pub h264Publication) {
	defer pub.Close()
	var takenAway <-chan struct{} // nil, never ready, when pub cannot be taken away
	if pp, ok := pub.(preemptiblePublication); ok {
		takenAway = pp.Done()
	}
	tick := time.NewTimer(0)
	defer tick.Stop()
	start := time.Now()
	for n := int64(0); ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-takenAway:
			return
		case <-tick.C:
		}
		pub.WriteH264(frameTime(n), p.clip.aus[n%int64(len(p.clip.aus))])
		wait := time.Until(start.Add(frameTime(n + 1)))
		if wait < -testPatternMaxLag {
			start = time.Now().Add(-frameTime(n + 1))
			wait = 0
		}
		tick.Reset(wait)
	}
}

// frameTime is when frame n of the test pattern is due, counted from frame 0: n/30 s, rounded down to the
// nanosecond, computed without drift and without overflow for centuries.
func frameTime(n int64) time.Duration {
	return time.Duration(n/testPatternFPS)*time.Second + time.Duration(n%testPatternFPS)*time.Second/testPatternFPS
}

// h264Clip is a clip of H.264 cut into access units, ready to be played.
type h264Clip struct {
	sps, pps []byte     // the parameter sets in front of the first IDR
	aus      [][][]byte // each access unit's NAL units, without start codes and without the delimiter
}

// parseH264Clip cuts an H.264 Annex B byte stream (ITU-T H.264, annex B) into access units, where each
// access unit starts with a delimiter. The first access unit must be an IDR with an SPS and a PPS in
// front of it, so that the clip can be played from its start.
func parseH264Clip(annexB []byte) (h264Clip, error) {
	nalus, err := splitAnnexB(annexB)
	if err != nil {
		return h264Clip{}, err
	}
	if naluType(nalus[0]) != naluTypeAUD {
		return h264Clip{}, errors.New("the stream does not start with an access unit delimiter (x264 aud=1)")
	}
	var aus [][][]byte
	for _, nalu := range nalus {
		if naluType(nalu) == naluTypeAUD {
			aus = append(aus, nil)
			continue
		}
		aus[len(aus)-1] = append(aus[len(aus)-1], nalu)
	}
	for i, au := range aus {
		if !hasSlice(au) {
			return h264Clip{}, fmt.Errorf("access unit %d has no slice", i)
		}
		aus[i] = au[:len(au):len(au)] // an append by the publication copies instead of writing into the clip
	}
	clip := h264Clip{aus: aus}
	for _, nalu := range aus[0] {
		switch naluType(nalu) {
		case naluTypeSPS:
			clip.sps = nalu
		case naluTypePPS:
			clip.pps = nalu
		case naluTypeIDR:
			if clip.sps == nil || clip.pps == nil {
				return h264Clip{}, errors.New("the first IDR has no SPS and PPS in front of it (x264 repeat-headers=1)")
			}
			return clip, nil
		case naluTypeSlice:
			return h264Clip{}, errors.New("the first access unit is not an IDR")
		}
	}
	return h264Clip{}, errors.New("the first access unit is not an IDR")
}

// annexBStartCode begins every NAL unit in an Annex B byte stream; a four-byte start code is a zero byte
// followed by this one.
var annexBStartCode = []byte{0, 0, 1}

// splitAnnexB returns the NAL units of an Annex B byte stream, without their start codes and the zero
// bytes around them. The NAL units share annexB's memory.
func splitAnnexB(annexB []byte) ([][]byte, error) {
	i := bytes.Index(annexB, annexBStartCode)
	if i < 0 {
		return nil, errors.New("no start code in the stream")
	}
	if len(bytes.TrimLeft(annexB[:i], "\x00")) > 0 { // leading_zero_8bits may come first, nothing else
		return nil, errors.New("data in front of the first start code")
	}
	var nalus [][]byte
	rest := annexB[i+len(annexBStartCode):]
	for {
		nalu := rest
		next := bytes.Index(rest, annexBStartCode)
		if next >= 0 {
			nalu, rest = rest[:next], rest[next+len(annexBStartCode):]
		}
		nalu = bytes.TrimRight(nalu, "\x00") // trailing_zero_8bits, or the first byte of a four-byte start code
		if len(nalu) == 0 {
			return nil, fmt.Errorf("NAL unit %d is empty", len(nalus))
		}
		if nalu[0]&0x80 != 0 {
			return nil, fmt.Errorf("NAL unit %d has its forbidden_zero_bit set", len(nalus))
		}
		nalus = append(nalus, nalu)
		if next < 0 {
			return nalus, nil
		}
	}
}

// naluType returns the nal_unit_type of a NAL unit that is not empty.
func naluType(nalu []byte) byte { return nalu[0] & 0x1f }

// hasSlice reports whether an access unit holds a coded slice.
func hasSlice(au [][]byte) bool {
	for _, nalu := range au {
		if t := naluType(nalu); t >= naluTypeSlice && t <= naluTypeIDR {
			return true
		}
	}
	return false
}

// TestPatternFrames returns the test pattern's access units (NAL units without start codes, SPS and PPS
// in front of each keyframe) and its frame rate, for tools that publish it themselves, such as the load
// tool. The slices are shared: do not modify them.
func TestPatternFrames() (aus [][][]byte, fps int, err error) {
	clip, err := parseH264Clip(testPatternH264)
	if err != nil {
		return nil, 0, err
	}
	return clip.aus, testPatternFPS, nil
}
