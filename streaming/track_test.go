package streaming

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// fakeBinding is a viewer's end of a track: it records what is written, or blocks while stuck.
type fakeBinding struct {
	id    string
	ssrc  webrtc.SSRC
	stuck chan struct{} // while open, writes block

	mu      sync.Mutex
	headers []rtp.Header
}

func (b *fakeBinding) CodecParameters() []webrtc.RTPCodecParameters {
	return []webrtc.RTPCodecParameters{{RTPCodecCapability: codecH264, PayloadType: 102}}
}
func (b *fakeBinding) HeaderExtensions() []webrtc.RTPHeaderExtensionParameter { return nil }
func (b *fakeBinding) SSRC() webrtc.SSRC                                      { return b.ssrc }
func (b *fakeBinding) SSRCRetransmission() webrtc.SSRC                        { return 0 }
func (b *fakeBinding) SSRCForwardErrorCorrection() webrtc.SSRC                { return 0 }
func (b *fakeBinding) WriteStream() webrtc.TrackLocalWriter                   { return b }
func (b *fakeBinding) ID() string                                             { return b.id }
func (b *fakeBinding) RTCPReader() interceptor.RTCPReader                     { return nil }

func (b *fakeBinding) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	if b.stuck != nil {
		<-b.stuck
	}
	b.mu.Lock()
	b.headers = append(b.headers, *h)
	b.mu.Unlock()
	return len(payload), nil
}

func (b *fakeBinding) Write(p []byte) (int, error) { return len(p), nil }

func (b *fakeBinding) written() []rtp.Header {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]rtp.Header(nil), b.headers...)
}

func bind(t *testing.T, tr *sharedTrack, b *fakeBinding) {
	t.Helper()
	if _, err := tr.Bind(b); err != nil {
		t.Fatal(err)
	}
	tr.activate(uint32(b.ssrc))
	t.Cleanup(func() { tr.Unbind(b) })
}

// frame writes one video frame of n packets with timestamp ts; key marks a keyframe.
func frame(tr *sharedTrack, seq *uint16, ts uint32, n int, key bool) {
	for i := range n {
		*seq++
		tr.write(&packet{seq: *seq, ts: ts, marker: i == n-1, payload: []byte{0x41, byte(i)}, epoch: 1, keyframe: key && i == 0})
	}
}

// TestStuckViewerDelaysNoOne writes far more packets than a viewer's queue holds while one viewer's
// writes block: write never waits, the other viewer gets every packet in order, and the stuck one, once
// it moves again, resumes at a keyframe.
func TestStuckViewerDelaysNoOne(t *testing.T) {
	var d delivery
	tr := newSharedTrack(webrtc.RTPCodecTypeVideo, codecH264, "test", &d)
	var asks atomic.Int32
	tr.setKeyframe(func() { asks.Add(1) }, true)
	stuck := &fakeBinding{id: "stuck", ssrc: 1, stuck: make(chan struct{})}
	fine := &fakeBinding{id: "fine", ssrc: 2}
	bind(t, tr, stuck)
	bind(t, tr, fine)
	var unstick sync.Once
	t.Cleanup(func() { unstick.Do(func() { close(stuck.stuck) }) }) // before the Unbinds

	// Three queues' worth of packets, at the pace the fine viewer takes them.
	var seq uint16
	total := 0
	for f := range 3 * senderQueue / 10 { // 10 packets a frame, a keyframe every 30 frames
		frame(tr, &seq, uint32(f*3000), 10, f%30 == 0)
		total += 10
		waitFor(t, "the fine viewer to keep up", func() bool { return len(fine.written()) == total })
	}
	got := fine.written()
	for i := 1; i < len(got); i++ {
		if got[i].SequenceNumber != got[i-1].SequenceNumber+1 {
			t.Fatalf("the fine viewer's packet %d has sequence %d after %d", i, got[i].SequenceNumber, got[i-1].SequenceNumber)
		}
	}
	if asks.Load() == 0 {
		t.Error("the overflowing viewer asked for no keyframe")
	}
	if d.dropped.Load() == 0 {
		t.Error("no packets counted as dropped for the stuck viewer")
	}

	// Unstuck, the viewer finishes the write it was blocked in, drops its stale queue, and resumes at the
	// next keyframe with numbering that follows on.
	unstick.Do(func() { close(stuck.stuck) })
	for f := range 60 {
		frame(tr, &seq, uint32((1000+f)*3000), 10, f%30 == 0)
		time.Sleep(time.Millisecond) // a live source's pace, roughly: not a queue's worth at once
	}
	waitFor(t, "the unstuck viewer to resume", func() bool { return len(stuck.written()) > 100 })
	after := stuck.written()
	for i := 1; i < len(after); i++ {
		if after[i].SequenceNumber != after[i-1].SequenceNumber+1 || after[i].Timestamp < after[i-1].Timestamp {
			t.Fatalf("after resuming, packet %d: seq %d ts %d follows seq %d ts %d", i,
				after[i].SequenceNumber, after[i].Timestamp, after[i-1].SequenceNumber, after[i-1].Timestamp)
		}
	}
}

// TestJoinBurstSqueezesTimestamps joins a viewer mid-group: it gets the group from its keyframe, with the
// old frames' timestamps squeezed just below the newest, then live packets at their natural spacing.
func TestJoinBurstSqueezesTimestamps(t *testing.T) {
	var d delivery
	tr := newSharedTrack(webrtc.RTPCodecTypeVideo, codecH264, "test", &d)
	var seq uint16
	frame(tr, &seq, 0, 3, false) // before any keyframe: not cached
	for f := range 10 {
		frame(tr, &seq, uint32((1+f)*3000), 2, f == 0)
	}
	v := &fakeBinding{id: "late", ssrc: 7}
	bind(t, tr, v)
	waitFor(t, "the cached group", func() bool { return len(v.written()) == 20 })
	frame(tr, &seq, 11*3000, 2, false)
	waitFor(t, "a live frame", func() bool { return len(v.written()) == 22 })

	got := v.written()
	if got[0].SequenceNumber+21 != got[21].SequenceNumber {
		t.Errorf("sequence numbers are not continuous: first %d, last %d", got[0].SequenceNumber, got[21].SequenceNumber)
	}
	newest, oldest := got[19].Timestamp, got[0].Timestamp
	if spread := newest - oldest; spread != 9 {
		t.Errorf("the 10 cached frames span %d ticks, want 9 (one tick apart)", spread)
	}
	if live := got[20].Timestamp - newest; live != 3000 {
		t.Errorf("the first live frame is %d ticks after the newest cached one, want 3000", live)
	}
	for _, h := range got {
		if h.SSRC != 7 || h.PayloadType != 102 {
			t.Fatalf("header %+v: want the viewer's SSRC 7 and payload type 102", h)
		}
	}
}
