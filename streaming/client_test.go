package streaming

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph264"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
)

const testToken = "publish-secret"

// testHub is a video server on loopback, as the hub runs it.
type testHub struct {
	srv  *Server
	http *httptest.Server
	stop func()
}

func startTestHub(t *testing.T, cfg Config, sources map[string]source) *testHub {
	t.Helper()
	return startTestHubWith(t, cfg, testHubOptions{sources: sources})
}

// testHubOptions are what a test hub runs besides its server: sources, relays, and the HTTP address to
// listen on (empty: any free port on loopback).
type testHubOptions struct {
	sources  map[string]source
	relays   map[string]*Relay
	httpAddr string
}

func startTestHubWith(t *testing.T, cfg Config, opts testHubOptions) *testHub {
	t.Helper()
	sources := opts.sources
	if cfg.UDPAddr == "" {
		cfg.UDPAddr = "127.0.0.1:0"
	}
	cfg.Authorize = func(r *http.Request) bool { return r.Header.Get("Authorization") == "Bearer "+testToken }
	srv, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv.iceTimeouts = [3]time.Duration{time.Second, 2 * time.Second, 200 * time.Millisecond}
	for name, src := range sources {
		if err := srv.AddSource(name, src); err != nil {
			t.Fatal(err)
		}
	}
	for name, r := range opts.relays {
		if err := srv.AddRelay(name, r); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	waitFor(t, "the WebRTC port", func() bool { return srv.UDPAddr() != nil })
	h := &testHub{srv: srv, http: httptest.NewUnstartedServer(srv.Handler())}
	if opts.httpAddr != "" {
		h.http.Listener.Close()
		ln, err := net.Listen("tcp", opts.httpAddr)
		if err != nil {
			cancel()
			<-done
			t.Fatal(err)
		}
		h.http.Listener = ln
	}
	h.http.Start()
	var once sync.Once
	h.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
			h.http.Close()
		})
	}
	t.Cleanup(h.stop)
	return h
}

// waitFor polls cond until it holds, failing the test after a generous deadline.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkGoroutines fails the test if goroutines started during it are still running at its end.
func checkGoroutines(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		http.DefaultClient.CloseIdleConnections()
		deadline := time.Now().Add(15 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				t.Errorf("goroutines: %d before, %d after\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

// testClient is a pion PeerConnection on a UDP socket of its own, which a test can close to make the
// client vanish without a goodbye.
type testClient struct {
	pc       *webrtc.PeerConnection
	conn     net.PacketConn
	location string
}

func newTestClient(t *testing.T) *testClient {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logs := pionLogs{slog.New(slog.NewTextHandler(io.Discard, nil))}
	se := webrtc.SettingEngine{LoggerFactory: logs}
	se.SetICEUDPMux(webrtc.NewICEUDPMux(logs.NewLogger("udpmux"), conn))
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(m, ir); err != nil {
		t.Fatal(err)
	}
	api := webrtc.NewAPI(webrtc.WithSettingEngine(se), webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	c := &testClient{pc: pc, conn: conn}
	t.Cleanup(c.close)
	return c
}

func (c *testClient) close() {
	c.pc.Close()
	c.conn.Close()
}

// post sends the client's offer to url and applies the answer. It returns the response's status and,
// for anything but 201, its body.
func (c *testClient) post(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(c.offer(t)))
	req.Header.Set("Content-Type", "application/sdp")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		return resp.StatusCode, string(body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/sdp" {
		t.Errorf("answer Content-Type = %q, want application/sdp", ct)
	}
	c.location = resp.Header.Get("Location")
	if c.location == "" {
		t.Error("201 without a Location")
	}
	if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: string(body)}); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, ""
}

// offer sets and returns the client's offer, with every candidate.
func (c *testClient) offer(t *testing.T) string {
	t.Helper()
	offer, err := c.pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(c.pc)
	if err := c.pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	return c.pc.LocalDescription().SDP
}

// testPublisher publishes the test pattern's H.264 over WHIP in real time.
type testPublisher struct {
	*testClient
	track *webrtc.TrackLocalStaticSample
	plis  *atomic.Int64 // keyframe requests the hub sent
}

func newTestPublisher(t *testing.T, mime string) *testPublisher {
	t.Helper()
	c := newTestClient(t)
	codec := webrtc.RTPCodecCapability{MimeType: mime, ClockRate: 90000}
	if mime == webrtc.MimeTypeH264 {
		codec.SDPFmtpLine = "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"
	}
	track, err := webrtc.NewTrackLocalStaticSample(codec, "video", "test")
	if err != nil {
		t.Fatal(err)
	}
	sender, err := c.pc.AddTrack(track)
	if err != nil {
		t.Fatal(err)
	}
	// Like a browser page that prefers a codec, offer the track's codec first.
	for _, tr := range c.pc.GetTransceivers() {
		var prefs []webrtc.RTPCodecParameters
		for _, p := range tr.Sender().GetParameters().Codecs {
			if p.MimeType == mime {
				prefs = append(prefs, p)
			}
		}
		if err := tr.SetCodecPreferences(prefs); err != nil {
			t.Fatal(err)
		}
	}
	plis := &atomic.Int64{}
	go func() {
		for {
			pkts, _, err := sender.ReadRTCP()
			if err != nil {
				return
			}
			for _, p := range pkts {
				if isKeyframeRequest(p) {
					plis.Add(1)
				}
			}
		}
	}()
	return &testPublisher{testClient: c, track: track, plis: plis}
}

// sendH264 writes the test pattern's access units at 30 frames a second until ctx ends.
func (p *testPublisher) sendH264(ctx context.Context, t *testing.T) {
	clip, err := parseH264Clip(testPatternH264)
	if err != nil {
		t.Error(err)
		return
	}
	tick := time.NewTicker(time.Second / 30)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		var b bytes.Buffer
		for _, n := range clip.aus[i%len(clip.aus)] {
			b.Write([]byte{0, 0, 0, 1})
			b.Write(n)
		}
		if err := p.track.WriteSample(media.Sample{Data: b.Bytes(), Duration: time.Second / 30}); err != nil {
			return
		}
	}
}

// testViewer plays a stream over WHEP and keeps the H.264 access units it receives.
type testViewer struct {
	*testClient
	mu     sync.Mutex
	aus    [][][]byte
	joined time.Time
	first  time.Duration // from the POST to the first complete access unit
	lost   int           // sequence gaps
}

func newTestViewer(t *testing.T) *testViewer {
	t.Helper()
	v := &testViewer{testClient: newTestClient(t)}
	for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
		if _, err := v.pc.AddTransceiverFromKind(kind, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			t.Fatal(err)
		}
	}
	v.pc.OnTrack(func(track *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		if track.Kind() != webrtc.RTPCodecTypeVideo {
			for {
				if _, _, err := track.ReadRTP(); err != nil {
					return
				}
			}
		}
		dec := &rtph264.Decoder{PacketizationMode: 1}
		if err := dec.Init(); err != nil {
			t.Error(err)
			return
		}
		var last uint16
		for n := 0; ; n++ {
			pkt, _, err := track.ReadRTP()
			if err != nil {
				return
			}
			v.mu.Lock()
			if n > 0 && pkt.SequenceNumber != last+1 {
				v.lost++
			}
			last = pkt.SequenceNumber
			v.mu.Unlock()
			au, err := dec.Decode(pkt)
			if err != nil {
				continue
			}
			v.mu.Lock()
			if len(v.aus) == 0 {
				v.first = time.Since(v.joined)
			}
			v.aus = append(v.aus, au)
			v.mu.Unlock()
		}
	})
	return v
}

func (v *testViewer) join(t *testing.T, url string) (int, string) {
	v.joined = time.Now()
	return v.post(t, url, "")
}

func (v *testViewer) received() [][][]byte {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([][][]byte(nil), v.aus...)
}

// isIDR reports whether an access unit is a keyframe a decoder can start at: SPS, PPS and an IDR slice.
func isIDR(au [][]byte) bool {
	var sps, pps, idr bool
	for _, n := range au {
		switch n[0] & 0x1f {
		case naluSPS:
			sps = true
		case naluPPS:
			pps = true
		case naluIDR:
			idr = true
		}
	}
	return sps && pps && idr
}

// decodeWithFFprobe decodes access units with ffprobe and returns how many frames it decoded, failing
// the test on any decoding error. Without ffprobe it skips, except in CI.
func decodeWithFFprobe(t *testing.T, aus [][][]byte) (frames int, size string) {
	t.Helper()
	if _, err := exec.LookPath("ffprobe"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("ffprobe is required in CI to check that received video decodes: install ffmpeg")
		}
		t.Skip("ffprobe not installed: skipping the decode check (apt-get install ffmpeg)")
	}
	var b bytes.Buffer
	for _, au := range aus {
		for _, n := range au {
			b.Write([]byte{0, 0, 0, 1})
			b.Write(n)
		}
	}
	cmd := exec.Command("ffprobe", "-v", "error", "-f", "h264", "-count_frames", "-select_streams", "v:0",
		"-show_entries", "stream=nb_read_frames,width,height", "-of", "csv=p=0", "-")
	cmd.Stdin = &b
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("ffprobe: %v\n%s", err, stderr.String())
	}
	var w, h int
	if _, err := fmt.Sscanf(strings.TrimSpace(string(out)), "%d,%d,%d", &w, &h, &frames); err != nil {
		t.Fatalf("ffprobe printed %q: %v", out, err)
	}
	return frames, fmt.Sprintf("%dx%d", w, h)
}
