package streaming

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph264"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// Errors a publisher or viewer is told about.
var (
	// ErrBusy means another source already publishes the stream.
	ErrBusy = errors.New("another source is already publishing this stream")
	// ErrNotLive means nothing publishes the stream.
	ErrNotLive = errors.New("the stream is not live")
)

// SourceTestPattern is the kind of the demo's test pattern: any other source takes the stream from it.
const SourceTestPattern = "test-pattern"

// SourceRelay is the kind of a relay from an origin hub (see Relay).
const SourceRelay = "relay"

// keyframeEvery bounds how often a publisher is asked for a keyframe, however many viewers ask.
const keyframeEvery = 500 * time.Millisecond

// hlsOutput is where a publication's H.264 goes for the HLS fallback.
type hlsOutput interface {
	WriteH264(ntp time.Time, pts time.Duration, au [][]byte)
	WriteOpus(ntp time.Time, pts time.Duration, packets [][]byte)
	http.Handler
	Close()
}

// Stream is one live camera: at most one publication at a time, the shared tracks its viewers read,
// and the HLS output.
type Stream struct {
	name   string
	log    *slog.Logger
	newHLS func(withAudio bool) hlsOutput // nil: no HLS

	mu      sync.Mutex
	pub     *publication
	video   *sharedTrack
	audio   *sharedTrack
	epoch   uint64
	viewers map[*session]struct{}
	hls     hlsOutput
	rate    rateSample
	sent    delivery
}

func newStream(name string, log *slog.Logger, newHLS func(withAudio bool) hlsOutput) *Stream {
	return &Stream{name: name, log: log, newHLS: newHLS, viewers: map[*session]struct{}{}}
}

// publication is one source's time on a stream.
type publication struct {
	stream   *Stream
	source   Source
	epoch    uint64
	since    time.Time
	video    *sharedTrack
	audio    *sharedTrack
	hls      hlsOutput
	keyframe func() // asks the source for a keyframe; nil if it can't
	done     chan struct{}
	once     sync.Once

	askMu         sync.Mutex
	lastAsk       time.Time
	askPending    bool         // a keyframe request waits for keyframeEvery to pass
	started       atomic.Int64 // unix nanoseconds of the first video packet, for HLS audio
	bytes         atomic.Uint64
	frames        atomic.Uint64
	width, height atomic.Int32

	// Owned by the video writer's goroutine.
	lastVideoTS uint32
	depay       *rtph264.Decoder // RTP → access units for HLS (WHIP H.264)
	extTS       int64            // unwrapped RTP timestamp for HLS, from the first video packet
	lastTS      uint32           // the previous video packet's RTP timestamp, for unwrapping
	haveTS      bool
	videoStart  time.Time // arrival of the first video packet: HLS time 0

	// Owned by the audio writer's goroutine.
	audioExt   int64 // unwrapped RTP timestamp, 48 kHz, from the first audio packet
	audioLast  uint32
	audioStart time.Duration // HLS time of the first audio packet, by arrival
	haveAudio  bool

	// Owned by the WriteH264 caller: an access-unit source.
	pay      *rtph264.Encoder
	tsBase   uint32
	sps, pps []byte
}

// publish makes source the stream's publisher, with the given video codec and, if audio is not nil,
// Opus audio. The test pattern gives way to any other source; anything else publishing makes it fail
// with ErrBusy. keyframe, if not nil, asks the source for a keyframe.
func (s *Stream) publish(source Source, video webrtc.RTPCodecCapability, audio *webrtc.RTPCodecCapability,
	keyframe func()) (*publication, error) {
	s.mu.Lock()
	old := s.pub
	if old != nil && (old.source.Kind != SourceTestPattern || source.Kind == SourceTestPattern) {
		s.mu.Unlock()
		return nil, ErrBusy
	}
	s.epoch++
	p := &publication{
		stream: s, source: source, epoch: s.epoch, since: time.Now(),
		keyframe: keyframe, done: make(chan struct{}),
	}
	// Viewers keep their PeerConnections across publications of the same codecs; anything else needs
	// a new negotiation, so they are let go and reconnect.
	var drop []*session
	var stale []*sharedTrack
	sameAudio := (audio == nil) == (s.audio == nil) && (audio == nil || sameCodec(*audio, s.audio.codec))
	if s.video == nil || !sameCodec(video, s.video.codec) || !sameAudio {
		for v := range s.viewers {
			drop = append(drop, v)
		}
		stale = append(stale, s.video, s.audio)
		s.video = newSharedTrack(webrtc.RTPCodecTypeVideo, video, s.name, &s.sent)
		s.audio = nil
		if audio != nil {
			s.audio = newSharedTrack(webrtc.RTPCodecTypeAudio, *audio, s.name, &s.sent)
		}
	}
	s.video.reset()
	// A relay passes keyframe requests on to its origin, but what publishes there may ignore them (a
	// camera, the test pattern): joining viewers get the cached group of pictures, as from those.
	s.video.setKeyframe(p.requestKeyframe, keyframe != nil && source.Kind != SourceRelay)
	p.video, p.audio = s.video, s.audio
	if s.hls != nil {
		s.hls.Close()
		s.hls = nil
	}
	if s.newHLS != nil && isH264(video) {
		s.hls = s.newHLS(audio != nil)
		p.hls = s.hls
	}
	s.pub = p
	s.rate = rateSample{}
	s.mu.Unlock()

	if old != nil {
		s.log.Info("stream taken from the test pattern", "stream", s.name, "source", source.Kind)
		old.end()
	}
	for _, v := range drop {
		v.close()
	}
	for _, t := range stale {
		if t != nil {
			t.close()
		}
	}
	s.log.Info("publishing", "stream", s.name, "source", source.Kind, "remote", source.Remote, "codec", video.MimeType)
	return p, nil
}

// sameCodec reports whether viewers negotiated for a can receive b without a new negotiation. For H.264
// the profile may differ: browsers' decoders take a new SPS in-band, whatever profile the SDP named.
func sameCodec(a, b webrtc.RTPCodecCapability) bool {
	if !strings.EqualFold(a.MimeType, b.MimeType) || a.ClockRate != b.ClockRate {
		return false
	}
	return !isH264(a) || fmtpValue(a.SDPFmtpLine, "packetization-mode") == fmtpValue(b.SDPFmtpLine, "packetization-mode")
}

// Done is closed when the publication ends, whoever ends it.
func (p *publication) Done() <-chan struct{} { return p.done }

// Close ends the publication. The stream's viewers stay connected and see the next publication of the
// same codec.
func (p *publication) Close() { p.end() }

func (p *publication) end() {
	p.once.Do(func() {
		s := p.stream
		s.mu.Lock()
		if s.pub == p {
			s.pub = nil
			if s.hls != nil {
				s.hls.Close()
				s.hls = nil
			}
		}
		s.mu.Unlock()
		close(p.done)
		s.log.Info("publishing ended", "stream", s.name, "source", p.source.Kind)
	})
}

// requestKeyframe asks the publisher for a keyframe, at most once per keyframeEvery. A request that comes
// too soon is not dropped but sent when the interval is up: the keyframe that answered the earlier one
// may already have gone by the viewer that asks now, and a browser publisher sends no keyframe unasked.
func (p *publication) requestKeyframe() {
	if p.keyframe == nil {
		return
	}
	p.askMu.Lock()
	defer p.askMu.Unlock()
	if p.askPending {
		return
	}
	wait := keyframeEvery - time.Since(p.lastAsk)
	if wait <= 0 {
		p.lastAsk = time.Now()
		p.keyframe()
		return
	}
	p.askPending = true
	time.AfterFunc(wait, func() {
		p.askMu.Lock()
		p.askPending, p.lastAsk = false, time.Now()
		p.askMu.Unlock()
		select {
		case <-p.done:
		default:
			p.keyframe()
		}
	})
}

// writeVideoRTP takes a packet of the publication's video from a WebRTC publisher.
func (p *publication) writeVideoRTP(pkt *rtp.Packet) {
	if len(pkt.Payload) == 0 {
		return // padding, a bandwidth probe
	}
	key := false
	if isH264(p.video.codec) {
		key = h264Keyframe(pkt.Payload)
		if sps := h264SPS(pkt.Payload); sps != nil {
			p.noteSPS(sps)
		}
		p.toHLS(pkt)
	} else {
		var w, h int
		if key, w, h = vp8Keyframe(pkt.Payload); key && w > 0 {
			p.width.Store(int32(w))
			p.height.Store(int32(h))
		}
	}
	p.writeVideo(pkt.SequenceNumber, pkt.Timestamp, pkt.Marker, pkt.Payload, key)
}

func (p *publication) writeVideo(seq uint16, ts uint32, marker bool, payload []byte, key bool) {
	p.bytes.Add(uint64(len(payload)))
	if ts != p.lastVideoTS || p.frames.Load() == 0 {
		p.frames.Add(1)
		p.lastVideoTS = ts
	}
	p.video.write(&packet{seq: seq, ts: ts, marker: marker, payload: payload, epoch: p.epoch, keyframe: key})
}

// writeAudioRTP takes a packet of the publication's Opus audio.
func (p *publication) writeAudioRTP(pkt *rtp.Packet) {
	if p.audio == nil || len(pkt.Payload) == 0 {
		return
	}
	p.bytes.Add(uint64(len(pkt.Payload)))
	p.audio.write(&packet{seq: pkt.SequenceNumber, ts: pkt.Timestamp, marker: pkt.Marker, payload: pkt.Payload, epoch: p.epoch})
	p.audioToHLS(pkt)
}

// audioToHLS feeds Opus to the HLS output. Audio and video RTP clocks start at unrelated values, so
// audio is placed on the video's timeline by when its first packet arrived, then follows its own clock.
func (p *publication) audioToHLS(pkt *rtp.Packet) {
	start := p.started.Load()
	if p.hls == nil || start == 0 {
		return // HLS time starts with the first video packet
	}
	if !p.haveAudio {
		p.haveAudio, p.audioLast = true, pkt.Timestamp
		p.audioStart = time.Since(time.Unix(0, start))
	}
	p.audioExt += int64(int32(pkt.Timestamp - p.audioLast))
	p.audioLast = pkt.Timestamp
	pts := p.audioStart + time.Duration(p.audioExt)*time.Second/48000
	if pts >= 0 {
		p.hls.WriteOpus(time.Now(), pts, [][]byte{pkt.Payload})
	}
}

func (p *publication) noteSPS(sps []byte) {
	if w, h, ok := spsSize(sps); ok {
		p.width.Store(int32(w))
		p.height.Store(int32(h))
	}
}

// toHLS gathers a WebRTC publisher's H.264 packets into access units for the HLS output.
func (p *publication) toHLS(pkt *rtp.Packet) {
	if p.hls == nil {
		return
	}
	if p.depay == nil {
		p.depay = &rtph264.Decoder{PacketizationMode: 1}
		if err := p.depay.Init(); err != nil {
			return
		}
	}
	if !p.haveTS {
		p.lastTS, p.haveTS = pkt.Timestamp, true
		p.videoStart = time.Now()
		p.started.Store(p.videoStart.UnixNano())
	}
	p.extTS += int64(int32(pkt.Timestamp - p.lastTS))
	p.lastTS = pkt.Timestamp
	au, err := p.depay.Decode(pkt)
	if err != nil {
		return // more packets needed, or a lost one: the decoder starts over at the next access unit
	}
	p.hls.WriteH264(time.Now(), time.Duration(p.extTS)*time.Second/90000, au)
}

// WriteH264 takes an access unit from a source of H.264 (the RTSP puller, the test pattern):
// it puts SPS and PPS in front of keyframes that lack them, packs it into RTP for viewers, and feeds
// the HLS output.
func (p *publication) WriteH264(pts time.Duration, au [][]byte) {
	idr, hasSPS, hasPPS := false, false, false
	for _, n := range au {
		if len(n) == 0 {
			return
		}
		switch n[0] & 0x1f {
		case naluIDR:
			idr = true
		case naluSPS:
			hasSPS = true
			p.sps = append(p.sps[:0], n...)
			p.noteSPS(n)
		case naluPPS:
			hasPPS = true
			p.pps = append(p.pps[:0], n...)
		}
	}
	if idr && (!hasSPS || !hasPPS) && p.sps != nil && p.pps != nil {
		full := make([][]byte, 0, len(au)+2)
		if !hasSPS {
			full = append(full, p.sps)
		}
		if !hasPPS {
			full = append(full, p.pps)
		}
		au = append(full, au...)
	}
	if p.pay == nil {
		p.pay = &rtph264.Encoder{PayloadType: 96, PayloadMaxSize: 1200, PacketizationMode: 1}
		if err := p.pay.Init(); err != nil {
			return
		}
		p.tsBase = uint32(time.Now().UnixNano())
	}
	pkts, err := p.pay.Encode(au)
	if err != nil {
		return
	}
	ts := p.tsBase + uint32(pts*90000/time.Second)
	for i, pkt := range pkts {
		p.writeVideo(pkt.SequenceNumber, ts, pkt.Marker, pkt.Payload, idr && i == 0)
	}
	if p.hls != nil {
		p.hls.WriteH264(time.Now(), pts, au)
	}
}

// h264Publish returns the h264Publisher of a stream, for the RTSP puller and the test pattern.
func (s *Stream) h264Publish() h264Publisher {
	return func(source Source, sps, pps []byte) (h264Publication, error) {
		codec := codecH264
		if sps != nil {
			codec = h264Capability(sps)
		}
		p, err := s.publish(source, codec, nil, nil)
		if err != nil {
			return nil, err
		}
		if sps != nil {
			p.sps = append([]byte(nil), sps...)
			p.noteSPS(sps)
		}
		if pps != nil {
			p.pps = append([]byte(nil), pps...)
		}
		return p, nil
	}
}

// rtpPublish returns the rtpPublisher of a stream, for the relay.
func (s *Stream) rtpPublish() rtpPublisher {
	return func(source Source, video webrtc.RTPCodecCapability, audio *webrtc.RTPCodecCapability, keyframe func()) (rtpPublication, error) {
		p, err := s.publish(source, video, audio, keyframe)
		if err != nil {
			return nil, err
		}
		return p, nil
	}
}

// Status is what a stream is doing, for the dashboard, /metrics and the API.
type Status struct {
	Name    string    `json:"name"`
	Live    bool      `json:"live"`
	Source  *Source   `json:"source,omitempty"`
	Since   time.Time `json:"since,omitzero"`
	Codec   string    `json:"codec,omitempty"` // "H264" or "VP8"
	Audio   bool      `json:"audio"`
	Width   int       `json:"width,omitempty"`
	Height  int       `json:"height,omitempty"`
	Bitrate int       `json:"bitrate"` // bit/s over the last sampled second
	FPS     float64   `json:"fps"`
	Viewers int       `json:"viewers"`
	Sent    uint64    `json:"sent"`    // packets sent to viewers since the hub started
	Dropped uint64    `json:"dropped"` // packets viewers lost by falling behind or waiting for a keyframe
	HLS     bool      `json:"hls"`
}

// rateSample is the last second's bitrate and frame rate of a publication.
type rateSample struct {
	at      time.Time
	bytes   uint64
	frames  uint64
	bitrate int
	fps     float64
}

// sample updates the stream's bitrate and frame rate; the server calls it about once a second.
func (s *Stream) sample(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pub == nil {
		return
	}
	bytes, frames := s.pub.bytes.Load(), s.pub.frames.Load()
	if !s.rate.at.IsZero() {
		if d := now.Sub(s.rate.at).Seconds(); d > 0 {
			s.rate.bitrate = int(float64(bytes-s.rate.bytes) * 8 / d)
			s.rate.fps = float64(frames-s.rate.frames) / d
		}
	}
	s.rate.at, s.rate.bytes, s.rate.frames = now, bytes, frames
}

// Status reports what the stream is doing.
func (s *Stream) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Status{Name: s.name, Viewers: len(s.viewers), Sent: s.sent.sent.Load(), Dropped: s.sent.dropped.Load()}
	p := s.pub
	if p == nil {
		return st
	}
	src := p.source
	st.Live, st.Source, st.Since = true, &src, p.since
	st.Codec = codecName(p.video.codec)
	st.Audio = p.audio != nil
	st.Width, st.Height = int(p.width.Load()), int(p.height.Load())
	st.Bitrate, st.FPS = s.rate.bitrate, s.rate.fps
	st.HLS = p.hls != nil
	return st
}

func codecName(c webrtc.RTPCodecCapability) string {
	if isH264(c) {
		return "H264"
	}
	return "VP8"
}
