package streaming

import (
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// packet is one RTP packet of a publication, shared read-only by every viewer.
type packet struct {
	seq      uint16
	ts       uint32
	marker   bool
	payload  []byte
	epoch    uint64 // the publication it belongs to: viewers renumber when it changes
	keyframe bool   // the first packet of a keyframe: where a viewer may start
}

// Bounds of a viewer's queue and of the keyframe cache.
const (
	// senderQueue is how many packets a viewer may lag behind: about 2.5 s of a 2 Mbit/s stream. A
	// viewer further behind loses its queue and starts again at the next keyframe.
	senderQueue = 512
	// gopMaxPackets and gopMaxBytes bound the cached group of pictures. A camera with a long keyframe
	// interval outgrows them; joining viewers then wait for its next keyframe.
	gopMaxPackets = 2048
	gopMaxBytes   = 2 << 20
)

var errNoCodec = errors.New("the peer offers no codec this stream can be sent as")

// sharedTrack is one kind of media of a stream, written once per packet and read by every viewer.
// It implements webrtc.TrackLocal: each PeerConnection that binds it gets a sender with a bounded
// queue and a goroutine of its own, so a viewer whose writes stall (pion/ice#971: a full send buffer on
// the shared UDP socket) falls behind alone. For video it keeps the packets since the last keyframe, so
// a joining viewer gets a picture at once even from a camera that ignores keyframe requests.
type sharedTrack struct {
	id, streamID string
	kind         webrtc.RTPCodecType
	codec        webrtc.RTPCodecCapability
	delivery     *delivery // the stream's counters, which outlive the track

	mu       sync.Mutex
	keyframe func()                  // asks the current publisher for a keyframe
	answers  bool                    // the publisher sends a keyframe when asked (WHIP): no burst needed
	senders  map[string]*trackSender // by TrackLocalContext.ID
	pending  map[string]*trackSender // bound, but their PeerConnection is not connected yet
	gop      []*packet               // video: the current group of pictures, from its keyframe on
	gopSize  int
	gopOK    bool // gop starts at a keyframe and is within bounds
	frame    int  // index in gop of the first packet of the newest frame
}

var _ webrtc.TrackLocal = (*sharedTrack)(nil)

// delivery counts the packets a stream's viewers got and lost, for status and metrics.
type delivery struct {
	sent    atomic.Uint64
	dropped atomic.Uint64 // lost by a viewer falling behind, or while it waited for a keyframe
}

func newSharedTrack(kind webrtc.RTPCodecType, codec webrtc.RTPCodecCapability, streamID string, d *delivery) *sharedTrack {
	return &sharedTrack{
		id:       kind.String(),
		streamID: streamID,
		kind:     kind,
		codec:    codec,
		delivery: d,
		senders:  map[string]*trackSender{},
		pending:  map[string]*trackSender{},
	}
}

// ID, RID, StreamID and Kind describe the track to pion.
func (t *sharedTrack) ID() string                { return t.id }
func (t *sharedTrack) RID() string               { return "" }
func (t *sharedTrack) StreamID() string          { return t.streamID }
func (t *sharedTrack) Kind() webrtc.RTPCodecType { return t.kind }

// Bind starts a sender for a PeerConnection that negotiated the track.
func (t *sharedTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	codec, ok := pickCodec(t.codec, ctx.CodecParameters())
	if !ok {
		return webrtc.RTPCodecParameters{}, errNoCodec
	}
	s := &trackSender{
		track:   t,
		ssrc:    uint32(ctx.SSRC()),
		pt:      uint8(codec.PayloadType),
		clock:   t.codec.ClockRate,
		w:       ctx.WriteStream(),
		queue:   make(chan *packet, senderQueue),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		lastSeq: uint16(rand.Uint32()),
		lastTS:  rand.Uint32(),
	}
	t.mu.Lock()
	t.pending[ctx.ID()] = s
	t.mu.Unlock()
	return codec, nil
}

// activate starts sending to the viewer whose sender has ssrc, once its PeerConnection is connected:
// pion drops whatever is written before SRTP is ready, so the cached group of pictures would be lost.
func (t *sharedTrack) activate(ssrc uint32) {
	t.mu.Lock()
	var s *trackSender
	for id, p := range t.pending {
		if p.ssrc == ssrc {
			s = p
			delete(t.pending, id)
			t.senders[id] = s
			break
		}
	}
	if s == nil {
		t.mu.Unlock()
		return
	}
	if t.kind == webrtc.RTPCodecTypeVideo {
		// A publisher that answers keyframe requests sends a fresh keyframe within a round trip; the
		// cached group of pictures is for those that don't (cameras, the test pattern). Chrome was seen
		// to hold frames for seconds after a burst from a browser publisher that had just started.
		if t.gopOK && !t.answers {
			s.burst = append([]*packet(nil), t.gop...)
		} else {
			s.waitKey = true
		}
	}
	t.mu.Unlock()
	if s.waitKey {
		t.requestKeyframe()
	}
	go s.run()
}

// Unbind stops the sender of a PeerConnection that went away.
func (t *sharedTrack) Unbind(ctx webrtc.TrackLocalContext) error {
	t.mu.Lock()
	s := t.senders[ctx.ID()]
	delete(t.senders, ctx.ID())
	delete(t.pending, ctx.ID())
	t.mu.Unlock()
	if s != nil {
		s.close()
	}
	return nil
}

// close stops every sender; the track takes no more packets' worth of work.
func (t *sharedTrack) close() {
	t.mu.Lock()
	senders := t.senders
	t.senders = map[string]*trackSender{}
	t.pending = map[string]*trackSender{}
	t.gop, t.gopSize, t.gopOK = nil, 0, false
	t.mu.Unlock()
	for _, s := range senders {
		s.close()
	}
}

// reset forgets the cached keyframe: a new publication starts.
func (t *sharedTrack) reset() {
	t.mu.Lock()
	t.gop, t.gopSize, t.gopOK, t.frame = nil, 0, false, 0
	t.mu.Unlock()
}

// setKeyframe sets how to ask the current publisher for a keyframe, and whether it answers.
func (t *sharedTrack) setKeyframe(ask func(), answers bool) {
	t.mu.Lock()
	t.keyframe, t.answers = ask, answers
	t.mu.Unlock()
}

func (t *sharedTrack) requestKeyframe() {
	t.mu.Lock()
	ask := t.keyframe
	t.mu.Unlock()
	if ask != nil {
		ask()
	}
}

// write hands p to every viewer without waiting for any: a viewer whose queue is full loses it and
// starts again at the next keyframe.
func (t *sharedTrack) write(p *packet) {
	overflowed := false
	t.mu.Lock()
	if t.kind == webrtc.RTPCodecTypeVideo {
		t.cache(p)
	}
	for _, s := range t.senders {
		select {
		case s.queue <- p:
		default:
			t.delivery.dropped.Add(1)
			if !s.overflow.Swap(true) {
				overflowed = true
			}
		}
	}
	t.mu.Unlock()
	if overflowed {
		t.requestKeyframe()
	}
}

// cache keeps p in the group of pictures. Called with mu held.
func (t *sharedTrack) cache(p *packet) {
	if n := len(t.gop); n == 0 || t.gop[n-1].ts != p.ts {
		t.frame = n
	}
	if p.keyframe {
		// Keep the packets of this frame that came before the keyframe mark (an SEI, say).
		current := t.gop[t.frame:]
		t.gop = append(make([]*packet, 0, 256), current...)
		t.gopSize = 0
		for _, q := range t.gop {
			t.gopSize += len(q.payload)
		}
		t.frame, t.gopOK = 0, true
	}
	if !t.gopOK && !p.keyframe {
		// No keyframe seen yet: keep only the newest frame, in case its keyframe mark is still coming.
		if t.frame > 0 {
			t.gop = append(t.gop[:0], t.gop[t.frame:]...)
			t.frame = 0
		}
	}
	t.gop = append(t.gop, p)
	t.gopSize += len(p.payload)
	if len(t.gop) > gopMaxPackets || t.gopSize > gopMaxBytes {
		t.gop, t.gopSize, t.gopOK, t.frame = t.gop[:0], 0, false, 0
	}
}

// trackSender feeds one viewer's PeerConnection from its queue. It renumbers packets into a sequence
// and timestamp space of its own, so a change of publisher or a lost stretch of queue looks to the
// viewer like one continuous stream.
type trackSender struct {
	track *sharedTrack
	ssrc  uint32
	pt    uint8
	clock uint32
	w     webrtc.TrackLocalWriter
	queue chan *packet
	burst []*packet // the cached group of pictures to send before the queue
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once

	overflow atomic.Bool // the queue overflowed: drop it and wait for a keyframe

	// Owned by run.
	askedAt   time.Time // when this viewer last asked for a keyframe while waiting for one
	waitKey   bool
	synced    bool
	epoch     uint64
	seqOff    uint16
	tsOff     uint32
	lastSeq   uint16
	lastTS    uint32
	lastWrite time.Time
	header    rtp.Header
}

func (s *trackSender) close() {
	s.once.Do(func() { close(s.stop) })
	<-s.done
}

func (s *trackSender) run() {
	defer close(s.done)
	if len(s.burst) > 0 {
		s.sendBurst(s.burst)
		s.burst = nil
	}
	for {
		select {
		case <-s.stop:
			return
		case p := <-s.queue:
			if s.overflow.Load() {
				s.dropQueue(p)
				continue
			}
			s.send(p)
		}
	}
}

// dropQueue empties the queue after an overflow: the viewer starts again at the next keyframe.
func (s *trackSender) dropQueue(p *packet) {
	n := uint64(1)
	for drained := false; !drained; {
		select {
		case <-s.queue:
			n++
		default:
			drained = true
		}
	}
	s.track.delivery.dropped.Add(n)
	s.overflow.Store(false)
	if s.track.kind == webrtc.RTPCodecTypeVideo {
		s.waitKey = true
	}
	s.synced = false
}

// send writes p to the viewer, starting or restarting the numbering where needed.
func (s *trackSender) send(p *packet) {
	if s.waitKey {
		if !p.keyframe {
			s.track.delivery.dropped.Add(1)
			if time.Since(s.askedAt) > keyframeEvery {
				s.askedAt = time.Now() // a request may have been lost: ask again while waiting
				s.track.requestKeyframe()
			}
			return
		}
		s.waitKey = false
		s.synced = false
	}
	if !s.synced || p.epoch != s.epoch {
		if s.synced && s.track.kind == webrtc.RTPCodecTypeVideo && !p.keyframe {
			// A new publication: wait for its first keyframe.
			s.waitKey = true
			s.track.delivery.dropped.Add(1)
			return
		}
		s.rebase(p.seq, p.ts)
		s.epoch = p.epoch
	}
	s.write(p, p.ts+s.tsOff)
}

// rebase makes the packet numbered seq follow the last one this viewer got, and maps timestamp ts to
// the last one advanced by the wall-clock time since.
func (s *trackSender) rebase(seq uint16, ts uint32) {
	advance := uint32(1)
	if !s.lastWrite.IsZero() {
		if d := time.Since(s.lastWrite); d > 0 {
			advance = max(1, uint32(d.Seconds()*float64(s.clock)))
		}
	}
	s.seqOff = s.lastSeq + 1 - seq
	s.tsOff = s.lastTS + advance - ts
	s.synced = true
}

// sendBurst sends a cached group of pictures at once. Its frames get timestamps squeezed together just
// before the newest one's: a viewer's jitter buffer then decodes them as late frames and shows the
// newest at once, instead of playing seconds of old video and keeping that delay.
func (s *trackSender) sendBurst(gop []*packet) {
	newest := gop[len(gop)-1]
	s.rebase(gop[0].seq, newest.ts)
	s.epoch = newest.epoch
	framesAfter := uint32(0)
	outTS := make([]uint32, len(gop))
	for i := len(gop) - 1; i >= 0; i-- {
		if i < len(gop)-1 && gop[i].ts != gop[i+1].ts {
			framesAfter++
		}
		outTS[i] = newest.ts + s.tsOff - framesAfter
	}
	for i, p := range gop {
		select {
		case <-s.stop:
			return
		default:
		}
		s.write(p, outTS[i])
	}
}

func (s *trackSender) write(p *packet, ts uint32) {
	s.header = rtp.Header{
		Version:        2,
		Marker:         p.marker,
		PayloadType:    s.pt,
		SequenceNumber: p.seq + s.seqOff,
		Timestamp:      ts,
		SSRC:           s.ssrc,
	}
	s.lastSeq, s.lastTS, s.lastWrite = s.header.SequenceNumber, ts, time.Now()
	if _, err := s.w.WriteRTP(&s.header, p.payload); err != nil {
		// The PeerConnection is closing; Unbind stops this sender.
		s.track.delivery.dropped.Add(1)
		return
	}
	s.track.delivery.sent.Add(1)
}
