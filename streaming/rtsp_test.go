package streaming

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/liberrors"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/google/go-cmp/cmp"
	"github.com/pion/rtp"
)

// A constrained-baseline 640x360 SPS and its PPS, from bluenviron/mediacommon v2.9.3
// pkg/codecs/h264/dts_extractor_test.go (MIT).
var (
	testSPS = []byte{0x67, 0x42, 0xc0, 0x1e, 0x8c, 0x8d, 0x40, 0x50, 0x17, 0xfc, 0xb0, 0x0f, 0x08, 0x84, 0x6a}
	testPPS = []byte{0x68, 0xce, 0x3c, 0x80}
)

const (
	testCameraUser = "admin"
	testCameraPass = "s3cret-Pa55"
	// testFrameEvery is the test camera's frame interval; every testGOP-th frame is an IDR.
	testFrameEvery = 10 * time.Millisecond
	testFrameTicks = 900 // testFrameEvery at H.264's 90 kHz RTP clock
	testGOP        = 10
)

// testFrame returns frame n of the test camera: an IDR slice big enough to take several RTP packets, or
// a small non-IDR slice, both carrying n as 8 decimal digits after the slice header. The bytes hold no
// zero, so nothing in them looks like an Annex-B start code. No SPS or PPS goes in-band.
func testFrame(n int) [][]byte {
	head, size := []byte{0x41, 0x9a}, 200
	if n%testGOP == 0 {
		head, size = []byte{0x65, 0x88}, 3000
	}
	nalu := append(head, fmt.Sprintf("%08d", n)...)
	nalu = append(nalu, bytes.Repeat([]byte{0xab}, size-len(nalu))...)
	return [][]byte{nalu}
}

// frameNumber reads the frame number testFrame put in au's slice; -1 if there is none.
func frameNumber(au [][]byte) int {
	for _, nalu := range au {
		if typ := h264.NALUType(nalu[0] & 0x1f); (typ == h264.NALUTypeIDR || typ == h264.NALUTypeNonIDR) && len(nalu) >= 10 {
			if n, err := strconv.Atoi(string(nalu[2:10])); err == nil {
				return n
			}
		}
	}
	return -1
}

// testCamera is an RTSP server on 127.0.0.1 that serves one stream, fed with testFrame from a goroutine,
// and asks for testCameraUser's password. It can stop and start again on the same port.
type testCamera struct {
	t    *testing.T
	addr string
	h265 bool // offer H.265 instead of H.264
	// frame and sps/pps replace testFrame and the test SPS/PPS when set: real video for end-to-end tests.
	frame    func(n int) [][]byte
	sps, pps []byte

	mu     sync.Mutex
	server *gortsplib.Server
	stream atomic.Pointer[gortsplib.ServerStream] // nil while the camera starts or closes
	stop   chan struct{}
	fed    sync.WaitGroup
	paused atomic.Bool
}

func startTestCamera(t *testing.T, h265 bool) *testCamera {
	t.Helper()
	return startCamera(t, &testCamera{t: t, addr: "127.0.0.1:0", h265: h265})
}

func startCamera(t *testing.T, c *testCamera) *testCamera {
	t.Helper()
	c.start()
	t.Cleanup(c.close)
	return c
}

// url is the camera's stream URL with the credentials in it.
func (c *testCamera) url() string {
	return "rtsp://" + testCameraUser + ":" + testCameraPass + "@" + c.addr + "/cam"
}

// start starts the server, on the port it had before if it ran already.
func (c *testCamera) start() {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	server := &gortsplib.Server{Handler: c, RTSPAddress: c.addr}
	// The port was just closed: allow the system a moment to let it go.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		err := server.Start()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("start the test camera on %s: %v", c.addr, err)
		}
	}
	c.addr = server.NetListener().Addr().String()
	sps, pps := testSPS, testPPS
	if c.sps != nil {
		sps, pps = c.sps, c.pps
	}
	var forma format.Format = &format.H264{PayloadTyp: 96, PacketizationMode: 1, SPS: sps, PPS: pps}
	if c.h265 {
		forma = &format.H265{PayloadTyp: 96}
	}
	desc := &description.Session{Medias: []*description.Media{{Type: description.MediaTypeVideo, Formats: []format.Format{forma}}}}
	stream := &gortsplib.ServerStream{Server: server, Desc: desc}
	if err := stream.Initialize(); err != nil {
		server.Close()
		c.t.Fatalf("test camera stream: %v", err)
	}
	c.server, c.stop = server, make(chan struct{})
	c.stream.Store(stream)
	if !c.h265 {
		c.fed.Add(1)
		go c.feed(stream, desc.Medias[0], c.stop)
	}
}

// feed writes a frame every testFrameEvery until stop closes, except while the camera is paused.
func (c *testCamera) feed(stream *gortsplib.ServerStream, medi *description.Media, stop <-chan struct{}) {
	defer c.fed.Done()
	enc, err := medi.Formats[0].(*format.H264).CreateEncoder()
	if err != nil {
		c.t.Errorf("test camera encoder: %v", err)
		return
	}
	frame := testFrame
	if c.frame != nil {
		frame = c.frame
	}
	tick := time.NewTicker(testFrameEvery)
	defer tick.Stop()
	for n := 1; ; n++ {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		if c.paused.Load() {
			continue
		}
		pkts, err := enc.Encode(frame(n))
		if err != nil {
			c.t.Errorf("encode frame %d: %v", n, err)
			return
		}
		for _, pkt := range pkts {
			pkt.Timestamp = 12345 + uint32(n*testFrameTicks)
			_ = stream.WritePacketRTP(medi, pkt)
		}
	}
}

// close stops the feed, drops every client and closes the port. It does nothing if the camera is closed.
func (c *testCamera) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.server == nil {
		return
	}
	close(c.stop)
	c.fed.Wait()
	c.stream.Swap(nil).Close()
	c.server.Close()
	c.server = nil
}

// serve answers a DESCRIBE or SETUP: 401 without the right credentials, 404 while there is no stream.
func (c *testCamera) serve(conn *gortsplib.ServerConn, req *base.Request) (*base.Response, *gortsplib.ServerStream, error) {
	if !conn.VerifyCredentials(req, testCameraUser, testCameraPass) {
		return &base.Response{StatusCode: base.StatusUnauthorized}, nil, liberrors.ErrServerAuth{}
	}
	stream := c.stream.Load()
	if stream == nil {
		return &base.Response{StatusCode: base.StatusNotFound}, nil, nil
	}
	return &base.Response{StatusCode: base.StatusOK}, stream, nil
}

// OnDescribe implements gortsplib.ServerHandlerOnDescribe.
func (c *testCamera) OnDescribe(ctx *gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	return c.serve(ctx.Conn, ctx.Request)
}

// OnSetup implements gortsplib.ServerHandlerOnSetup.
func (c *testCamera) OnSetup(ctx *gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	return c.serve(ctx.Conn, ctx.Request)
}

// OnPlay implements gortsplib.ServerHandlerOnPlay.
func (c *testCamera) OnPlay(*gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	return &base.Response{StatusCode: base.StatusOK}, nil
}

// funcPublication is an h264Publication whose methods call its function fields.
type funcPublication struct {
	writeH264 func(pts time.Duration, au [][]byte)
	close     func()
}

func (p funcPublication) WriteH264(pts time.Duration, au [][]byte) { p.writeH264(pts, au) }
func (p funcPublication) Close()                                   { p.close() }

// publications records what a source publishes; its publish refuses the first refuse calls.
type publications struct {
	mu     sync.Mutex
	refuse int
	calls  int
	pubs   []*recordedPublication
}

type recordedPublication struct {
	source      Source
	sps, pps    []byte
	aus         []writtenAU
	closed      bool
	afterClosed int // writes after Close
}

type writtenAU struct {
	pts time.Duration
	au  [][]byte
}

func (r *publications) publish(source Source, sps, pps []byte) (h264Publication, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if r.calls <= r.refuse {
		return nil, errors.New("stream busy: a WHIP publisher holds it")
	}
	p := &recordedPublication{source: source, sps: sps, pps: pps}
	r.pubs = append(r.pubs, p)
	return funcPublication{
		writeH264: func(pts time.Duration, au [][]byte) {
			r.mu.Lock()
			defer r.mu.Unlock()
			if p.closed {
				p.afterClosed++
			}
			p.aus = append(p.aus, writtenAU{pts, au})
		},
		close: func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			p.closed = true
		},
	}, nil
}

// snapshot returns the publish calls so far and copies of the publications.
func (r *publications) snapshot() (int, []recordedPublication) {
	r.mu.Lock()
	defer r.mu.Unlock()
	pubs := make([]recordedPublication, len(r.pubs))
	for i, p := range r.pubs {
		pubs[i] = *p
		pubs[i].aus = append([]writtenAU(nil), p.aus...)
	}
	return r.calls, pubs
}

// has reports whether publication i exists, is open or closed as wanted, and has at least aus writes.
func (r *publications) has(i, aus int, closed bool) bool {
	_, pubs := r.snapshot()
	return len(pubs) > i && len(pubs[i].aus) >= aus && pubs[i].closed == closed
}

// logSink collects a logger's JSON lines.
type logSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logSink) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// records returns the logged records whose message is msg.
func (l *logSink) records(t *testing.T, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(l.String()) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

const lostMsg = "RTSP camera lost; connecting again"

// newTestSource returns a source for rawURL with short timeouts, logging at debug level into the sink.
func newTestSource(t *testing.T, rawURL string) (*RTSPSource, *logSink) {
	t.Helper()
	logs := &logSink{}
	src, err := NewRTSPSource(rawURL, slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatalf("NewRTSPSource: %v", err)
	}
	src.ReadTimeout = 500 * time.Millisecond
	src.MinBackoff, src.MaxBackoff = 20*time.Millisecond, 80*time.Millisecond
	t.Cleanup(func() {
		if strings.Contains(logs.String(), testCameraPass) {
			t.Errorf("the logs hold the camera's password:\n%s", logs)
		}
	})
	return src, logs
}

// runSource runs src until the returned stop is called or the test ends. stop cancels Run and waits
// for it to return.
func runSource(t *testing.T, src *RTSPSource, pubs *publications) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, pubs.publish) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: got %v, want nil after cancel", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return after its context was cancelled")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// eventually polls cond for up to 10 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// checkFlow checks a publication's writes: the first is an IDR with the test SPS and PPS in front, every
// IDR has them in front, frames come in order with increasing times, and nothing came after Close.
func checkFlow(t *testing.T, p recordedPublication) {
	t.Helper()
	if p.afterClosed > 0 {
		t.Errorf("%d writes after Close", p.afterClosed)
	}
	if len(p.aus) == 0 {
		t.Fatal("no access unit written")
	}
	if first := p.aus[0].au; len(first) < 3 || h264.NALUType(first[len(first)-1][0]&0x1f) != h264.NALUTypeIDR {
		t.Errorf("first access unit: got NAL unit types %v, want SPS, PPS, IDR", h264Types(first))
	}
	for i, w := range p.aus {
		if h264.IsRandomAccess(w.au) {
			if diff := cmp.Diff([][]byte{testSPS, testPPS}, w.au[:min(2, len(w.au))]); diff != "" {
				t.Errorf("access unit %d (frame %d) is an IDR without SPS and PPS in front (-want +got):\n%s", i, frameNumber(w.au), diff)
			}
		}
		if i == 0 {
			continue
		}
		prev := p.aus[i-1]
		if frameNumber(w.au) <= frameNumber(prev.au) {
			t.Errorf("access unit %d: frame %d after frame %d", i, frameNumber(w.au), frameNumber(prev.au))
		}
		if w.pts <= prev.pts {
			t.Errorf("access unit %d: pts %v after %v", i, w.pts, prev.pts)
		}
	}
}

func h264Types(au [][]byte) []h264.NALUType {
	var out []h264.NALUType
	for _, nalu := range au {
		out = append(out, h264.NALUType(nalu[0]&0x1f))
	}
	return out
}

func TestRTSPSourcePublishesFromTheFirstKeyframe(t *testing.T) {
	cam := startTestCamera(t, false)
	src, _ := newTestSource(t, cam.url())
	pubs := &publications{}
	runSource(t, src, pubs)

	eventually(t, "30 access units", func() bool { return pubs.has(0, 30, false) })
	_, got := pubs.snapshot()
	p := got[0]
	if want := (Source{Kind: "rtsp", Remote: "rtsp://" + cam.addr + "/cam"}); p.source != want {
		t.Errorf("source: got %+v, want %+v", p.source, want)
	}
	if diff := cmp.Diff([][]byte{testSPS, testPPS}, [][]byte{p.sps, p.pps}); diff != "" {
		t.Errorf("parameter sets from the SDP (-want +got):\n%s", diff)
	}
	checkFlow(t, p)
}

func TestRTSPSourceReconnectsWhenTheCameraDrops(t *testing.T) {
	cam := startTestCamera(t, false)
	src, logs := newTestSource(t, cam.url())
	pubs := &publications{}
	runSource(t, src, pubs)

	eventually(t, "video from the camera", func() bool { return pubs.has(0, 10, false) })
	cam.close()
	eventually(t, "the publication to close", func() bool { return pubs.has(0, 10, true) })
	eventually(t, "an attempt to fail while the camera is down", func() bool { return len(logs.records(t, lostMsg)) >= 2 })
	cam.start()
	eventually(t, "video from the camera back", func() bool { return pubs.has(1, 10, false) })

	_, got := pubs.snapshot()
	for i, p := range got {
		checkFlow(t, p)
		if i < len(got)-1 && !p.closed {
			t.Errorf("publication %d is still open", i)
		}
	}
}

func TestRTSPSourceReconnectsWhenVideoStops(t *testing.T) {
	cam := startTestCamera(t, false)
	src, logs := newTestSource(t, cam.url())
	pubs := &publications{}
	runSource(t, src, pubs)

	eventually(t, "video from the camera", func() bool { return pubs.has(0, 10, false) })
	cam.paused.Store(true) // the connection stays up, the video stops
	eventually(t, "the publication to close", func() bool { return pubs.has(0, 10, true) })
	if recs := logs.records(t, lostMsg); len(recs) == 0 || !strings.Contains(fmt.Sprint(recs[0]["err"]), "no video") {
		t.Errorf("the stop was not logged as no video:\n%s", logs)
	}
	cam.paused.Store(false)
	eventually(t, "video again", func() bool { return pubs.has(1, 10, false) })
	_, got := pubs.snapshot()
	checkFlow(t, got[0])
	checkFlow(t, got[1])
}

func TestRTSPSourceRetriesABusyStream(t *testing.T) {
	cam := startTestCamera(t, false)
	src, logs := newTestSource(t, cam.url())
	pubs := &publications{refuse: 2}
	runSource(t, src, pubs)

	eventually(t, "video after two refusals", func() bool { return pubs.has(0, 10, false) })
	calls, got := pubs.snapshot()
	if calls != 3 || len(got) != 1 {
		t.Errorf("got %d publish calls and %d publications, want 3 and 1", calls, len(got))
	}
	busy := 0
	for _, rec := range logs.records(t, lostMsg) {
		if strings.Contains(fmt.Sprint(rec["err"]), "stream busy") {
			busy++
		}
	}
	if busy != 2 {
		t.Errorf("got %d busy failures logged, want 2:\n%s", busy, logs)
	}
	checkFlow(t, got[0])
}

func TestRTSPSourceRetriesACameraWithoutH264(t *testing.T) {
	cam := startTestCamera(t, true)
	src, logs := newTestSource(t, cam.url())
	pubs := &publications{}
	stop := runSource(t, src, pubs)

	eventually(t, "two failures", func() bool { return len(logs.records(t, lostMsg)) >= 2 })
	stop()
	if err := fmt.Sprint(logs.records(t, lostMsg)[0]["err"]); !strings.Contains(err, "set its video encoding to H.264") {
		t.Errorf("got error %q, want it to ask for H.264", err)
	}
	if calls, _ := pubs.snapshot(); calls != 0 {
		t.Errorf("got %d publish calls, want 0", calls)
	}
}

func TestRTSPSourceBacksOffFromAnUnreachableCamera(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	src, logs := newTestSource(t, "rtsp://"+testCameraUser+":"+testCameraPass+"@"+addr+"/cam")
	pubs := &publications{}
	stop := runSource(t, src, pubs)

	eventually(t, "five failures", func() bool { return len(logs.records(t, lostMsg)) >= 5 })
	stop()
	var waits []time.Duration
	for _, rec := range logs.records(t, lostMsg)[:5] {
		ns, _ := rec["retry_in"].(float64)
		waits = append(waits, time.Duration(ns))
		if _, ok := rec["retry_at"]; !ok {
			t.Errorf("failure logged without retry_at: %v", rec)
		}
	}
	want := []time.Duration{20 * time.Millisecond, 40 * time.Millisecond, 80 * time.Millisecond, 80 * time.Millisecond, 80 * time.Millisecond}
	if diff := cmp.Diff(want, waits); diff != "" {
		t.Errorf("waits between attempts (-want +got):\n%s", diff)
	}
	if calls, _ := pubs.snapshot(); calls != 0 {
		t.Errorf("got %d publish calls, want 0", calls)
	}
}

func TestRTSPSourceLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	cam := startTestCamera(t, false)
	src, _ := newTestSource(t, cam.url())
	pubs := &publications{}
	stop := runSource(t, src, pubs)

	eventually(t, "video from the camera", func() bool { return pubs.has(0, 10, false) })
	stop()
	if !pubs.has(0, 10, true) {
		t.Error("the publication is open after Run returned")
	}
	cam.close()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := runtime.NumGoroutine(); got > before {
		buf := make([]byte, 1<<20)
		t.Errorf("got %d goroutines after Run returned, want at most %d:\n%s", got, before, buf[:runtime.Stack(buf, true)])
	}
}

func TestNewRTSPSourceRefusesBadURLs(t *testing.T) {
	for _, tc := range []struct{ name, url, want string }{
		{"empty", " ", "is empty"},
		{"http", "http://admin:hunter22@cam.local/stream", "must start with rtsp://"},
		{"no scheme", "admin:hunter22@cam.local/stream", "must start with rtsp://"},
		{"no host", "rtsp://admin:hunter22@/stream", "has no host"},
		{"bad port", "rtsp://admin:hunter22@cam.local:99999/stream", "port must be"},
		{"port not a number", "rtsp://admin:hunter22@cam.local:5x4/stream", "does not parse"},
		{"bad escape", "rtsp://admin:hunter22%zz@cam.local/stream", "does not parse"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewRTSPSource(tc.url, slog.New(slog.DiscardHandler))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error saying %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "hunter22") {
				t.Errorf("the error repeats the password: %v", err)
			}
		})
	}
}

func TestRTSPSourceHidesTheCredentials(t *testing.T) {
	src, err := NewRTSPSource("rtsps://admin:hunter22@cam.local:322/live?ch=1", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	const want = "rtsps://cam.local:322/live?ch=1"
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "camera", src)
	for what, got := range map[string]string{
		"String":   src.String(),
		"%v":       fmt.Sprintf("%v", src),
		"LogValue": buf.String(),
		"redact":   src.redact(errors.New("GET rtsps://admin:hunter22@cam.local:322/live failed")),
	} {
		if strings.Contains(got, "hunter22") {
			t.Errorf("%s: got %q, which holds the password", what, got)
		}
		if what != "redact" && !strings.Contains(got, want) {
			t.Errorf("%s: got %q, want it to hold %q", what, got, want)
		}
	}
}

func TestH264ParamSetsFill(t *testing.T) {
	var (
		aud    = []byte{0x09, 0xf0}
		sei    = []byte{0x06, 0x05, 0x01, 0xaa}
		idr    = []byte{0x65, 0x88, 0x01}
		slice  = []byte{0x41, 0x9a, 0x01}
		newSPS = []byte{0x67, 0x42, 0xc0, 0x1f, 0x01}
		newPPS = []byte{0x68, 0xce, 0x3c, 0x81}
	)
	for _, tc := range []struct {
		name             string
		sps, pps         []byte // known before
		au, want         [][]byte
		wantIDR          bool
		wantSPS, wantPPS []byte // known after
	}{
		{"IDR alone gets both", testSPS, testPPS, [][]byte{idr}, [][]byte{testSPS, testPPS, idr}, true, testSPS, testPPS},
		{"after the delimiter and SEI", testSPS, testPPS, [][]byte{aud, sei, idr}, [][]byte{aud, sei, testSPS, testPPS, idr}, true, testSPS, testPPS},
		{"in-band ones replace the known", testSPS, testPPS, [][]byte{newSPS, newPPS, idr}, [][]byte{newSPS, newPPS, idr}, true, newSPS, newPPS},
		{"missing SPS goes before the PPS", testSPS, testPPS, [][]byte{newPPS, idr}, [][]byte{testSPS, newPPS, idr}, true, testSPS, newPPS},
		{"missing PPS goes after the SPS", testSPS, testPPS, [][]byte{newSPS, idr}, [][]byte{newSPS, testPPS, idr}, true, newSPS, testPPS},
		{"non-IDR untouched", testSPS, testPPS, [][]byte{slice}, [][]byte{slice}, false, testSPS, testPPS},
		{"in-band on a non-IDR kept", nil, nil, [][]byte{newSPS, newPPS, slice}, [][]byte{newSPS, newPPS, slice}, false, newSPS, newPPS},
		{"nothing known", nil, nil, [][]byte{idr}, [][]byte{idr}, true, nil, nil},
		{"empty NAL unit dropped", testSPS, testPPS, [][]byte{{}, slice}, [][]byte{slice}, false, testSPS, testPPS},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := h264ParamSets{sps: tc.sps, pps: tc.pps}
			got, idr := p.fill(tc.au)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("access unit (-want +got):\n%s", diff)
			}
			if idr != tc.wantIDR {
				t.Errorf("IDR: got %v, want %v", idr, tc.wantIDR)
			}
			if diff := cmp.Diff([][]byte{tc.wantSPS, tc.wantPPS}, [][]byte{p.sps, p.pps}); diff != "" {
				t.Errorf("known SPS, PPS (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTicksToDuration(t *testing.T) {
	for _, tc := range []struct {
		ticks int64
		want  time.Duration
	}{
		{0, 0},
		{900, 10 * time.Millisecond},
		{90000*48*3600 + 45000, 48*time.Hour + 500*time.Millisecond}, // past int64 nanoseconds if multiplied first
		{-900, -10 * time.Millisecond},
	} {
		if got := ticksToDuration(tc.ticks, 90000); got != tc.want {
			t.Errorf("ticksToDuration(%d, 90000): got %v, want %v", tc.ticks, got, tc.want)
		}
	}
}

func TestH264DepacketizerStartsAtAKeyframeWithParameterSets(t *testing.T) {
	forma := &format.H264{PayloadTyp: 96, PacketizationMode: 1}
	enc, err := forma.CreateEncoder()
	if err != nil {
		t.Fatal(err)
	}
	dec, err := forma.CreateDecoder()
	if err != nil {
		t.Fatal(err)
	}
	pubs := &publications{}
	pub, _ := pubs.publish(Source{}, nil, nil)
	logs := &logSink{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d := &h264Depacketizer{dec: dec, pub: pub, clockRate: 90000, errs: &errorTally{log: log, every: time.Hour}, start: time.Now()}
	send := func(n int, au [][]byte) {
		t.Helper()
		pkts, err := enc.Encode(au)
		if err != nil {
			t.Fatal(err)
		}
		for _, pkt := range pkts {
			pkt.Timestamp = uint32(n * testFrameTicks)
			d.packet(pkt, int64(n*testFrameTicks), true) // as if gortsplib timed every packet
		}
	}

	send(1, testFrame(1))                                          // before any keyframe
	send(10, testFrame(10))                                        // a keyframe, but no SPS and PPS known yet
	send(11, testFrame(11))                                        // after a keyframe that could not be used
	send(20, append([][]byte{testSPS, testPPS}, testFrame(20)...)) // in-band parameter sets
	send(21, testFrame(21))
	send(30, testFrame(30)) // the in-band ones are put back in front
	// a fragment whose start never came: a decode error, logged and skipped
	d.packet(&rtp.Packet{Header: rtp.Header{Timestamp: 31 * testFrameTicks, SequenceNumber: 1}, Payload: []byte{0x7c, 0x05, 0xab}}, 31*testFrameTicks, true)
	send(32, testFrame(32))
	d.errs.flush()

	_, got := pubs.snapshot()
	var frames []int
	for _, w := range got[0].aus {
		frames = append(frames, frameNumber(w.au))
		if want := time.Duration(frameNumber(w.au)) * testFrameEvery; w.pts != want {
			t.Errorf("frame %d: pts %v, want %v", frameNumber(w.au), w.pts, want)
		}
	}
	if diff := cmp.Diff([]int{20, 21, 30, 32}, frames); diff != "" {
		t.Errorf("frames written (-want +got):\n%s", diff)
	}
	checkFlow(t, got[0])
	if recs := logs.records(t, "H.264 from the RTSP camera has errors"); len(recs) != 1 || recs[0]["level"] != "DEBUG" {
		t.Errorf("got decode error records %v, want one at debug level", recs)
	}
}
