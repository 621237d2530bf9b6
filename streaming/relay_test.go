package streaming

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bluenviron/gohlslib/v2/pkg/playlist"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
)

// newTestRelay returns a relay from origin with waits short enough for tests.
func newTestRelay(t *testing.T, origin string) *Relay {
	t.Helper()
	r, err := NewRelay(origin, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	r.ReadTimeout = 2 * time.Second
	r.MinBackoff, r.NotLiveBackoff, r.MaxBackoff = 100*time.Millisecond, 300*time.Millisecond, 500*time.Millisecond
	return r
}

// watchFromKeyframe joins a viewer to hub's stream live, waits for frames access units, and checks the
// first is a keyframe (with SPS and PPS).
func watchFromKeyframe(t *testing.T, hub *testHub, who string, frames int) *testViewer {
	t.Helper()
	v := newTestViewer(t)
	if status, body := v.join(t, hub.http.URL+"/whep/live"); status != http.StatusCreated {
		t.Fatalf("WHEP for %s: %d %s", who, status, body)
	}
	waitFor(t, fmt.Sprintf("%d frames at %s", frames, who), func() bool { return len(v.received()) >= frames })
	if !isIDR(v.received()[0]) {
		t.Errorf("%s: the first access unit is not a keyframe with SPS and PPS", who)
	}
	return v
}

// startPublishing publishes the test pattern's H.264 over WHIP to hub's stream live until the test ends
// or stop is called.
func startPublishing(t *testing.T, hub *testHub) (pub *testPublisher, stop func()) {
	t.Helper()
	pub = newTestPublisher(t, webrtc.MimeTypeH264)
	if status, body := pub.post(t, hub.http.URL+"/whip/live", testToken); status != http.StatusCreated {
		t.Fatalf("WHIP to the origin: %d %s", status, body)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var sending sync.WaitGroup
	sending.Go(func() { pub.sendH264(ctx, t) })
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			sending.Wait()
			pub.close()
		})
	}
	t.Cleanup(stop)
	return pub, stop
}

func liveStatus(hub *testHub) Status {
	if st := hub.srv.lookup("live"); st != nil {
		return st.Status()
	}
	return Status{}
}

// TestRelayFromOrigin: a pion publisher sends H.264 over WHIP to an origin hub; an edge hub relays it.
// A viewer on the edge gets video from a keyframe that decodes, so does a late one, and HLS plays on the
// edge; the edge's keyframe requests reach the publisher; a WHIP publisher on the edge is refused while
// the relay holds the stream; the origin's publisher leaving takes the edge offline, and the next one
// flows to the same edge viewer again.
func TestRelayFromOrigin(t *testing.T) {
	checkGoroutines(t)
	origin := startTestHub(t, Config{}, nil)
	edge := startTestHubWith(t, Config{HLS: true}, testHubOptions{relays: map[string]*Relay{"live": newTestRelay(t, origin.http.URL)}})
	pub, stop := startPublishing(t, origin)
	waitFor(t, "the edge to relay", func() bool { return liveStatus(edge).Live })
	st := liveStatus(edge)
	if want := origin.http.URL + "/whep/live"; st.Source.Kind != "relay" || st.Source.Remote != want {
		t.Errorf("edge source = %+v, want relay from %s", st.Source, want)
	}
	if st.Codec != "H264" || st.Audio {
		t.Errorf("edge status = %+v, want H264 without audio", st)
	}

	v := watchFromKeyframe(t, edge, "the edge viewer", 60)
	if got := liveStatus(origin).Viewers; got != 1 {
		t.Errorf("origin viewers = %d, want 1 (the relay)", got)
	}

	// A late viewer on the edge starts at a keyframe too.
	time.Sleep(400 * time.Millisecond)
	late := watchFromKeyframe(t, edge, "the late edge viewer", 30)
	t.Logf("late edge viewer: first frame %v after its WHEP POST", late.first)

	// A keyframe request on the edge goes up to the origin's publisher as a PLI.
	before := pub.plis.Load()
	waitFor(t, "a PLI at the origin's publisher", func() bool {
		st := edge.srv.lookup("live")
		st.mu.Lock()
		p := st.pub
		st.mu.Unlock()
		if p != nil {
			p.requestKeyframe()
		}
		return pub.plis.Load() > before
	})

	// HLS on the edge.
	waitFor(t, "the edge's HLS playlist", func() bool {
		resp, err := http.Get(edge.http.URL + "/hls/live/index.m3u8")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return false
		}
		pl, err := playlist.Unmarshal(body)
		mv, ok := pl.(*playlist.Multivariant)
		return err == nil && ok && len(mv.Variants) > 0
	})

	// The relay holds the edge's stream: a publisher there is refused.
	busy := newTestPublisher(t, webrtc.MimeTypeH264)
	if status, body := busy.post(t, edge.http.URL+"/whip/live", testToken); status != http.StatusConflict || !strings.Contains(body, "busy") {
		t.Errorf("WHIP on the relaying edge: %d %s, want 409 busy", status, body)
	}
	busy.close()

	// Another relay pulling from the edge is refused: it would relay a relay.
	loop := newTestViewer(t)
	offer := loop.offer(t)
	req, _ := http.NewRequest(http.MethodPost, edge.http.URL+"/whep/live", strings.NewReader(offer))
	req.Header.Set("Content-Type", "application/sdp")
	req.Header.Set(relayHeader, "1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusConflict || !strings.Contains(string(body), "relay_loop") {
		t.Errorf("relay from a relaying edge: %d %s, want 409 relay_loop", resp.StatusCode, body)
	}
	loop.close()

	// The publisher leaves: the edge goes offline; the next publisher reaches the same edge viewer.
	stop()
	waitFor(t, "the edge to go offline", func() bool { return !liveStatus(edge).Live })
	got := len(v.received())
	_, stop2 := startPublishing(t, origin)
	waitFor(t, "the edge to relay again", func() bool { return liveStatus(edge).Live })
	waitFor(t, "30 more frames at the edge viewer", func() bool { return len(v.received()) >= got+30 })
	aus := v.received()
	if !isIDR(aus[got]) {
		t.Error("after the new publisher, the edge viewer's first access unit is not a keyframe")
	}
	if frames, size := decodeWithFFprobe(t, aus); frames != len(aus) || size != "640x360" {
		t.Errorf("ffprobe decoded %d frames of %s, want %d of 640x360", frames, size, len(aus))
	}
	stop2()
	v.close()
	late.close()
	edge.stop()
	origin.stop()
}

// TestRelayWaitsForOrigin: the edge starts before anything publishes at the origin, which answers 404
// not_live; the relay keeps asking and relays as soon as the test pattern starts there. The origin then
// goes away and comes back on the same address, and the edge relays again by itself.
func TestRelayWaitsForOrigin(t *testing.T) {
	checkGoroutines(t)
	addr := freeTCPAddr(t)
	origin := startTestHubWith(t, Config{}, testHubOptions{httpAddr: addr})
	relay := newTestRelay(t, "http://"+addr+"/")
	edge := startTestHubWith(t, Config{}, testHubOptions{relays: map[string]*Relay{"live": relay}})
	time.Sleep(time.Second) // several not_live answers
	if liveStatus(edge).Live {
		t.Fatal("the edge is live with nothing at the origin")
	}
	origin.stop()

	// The origin comes back with the test pattern: the relay picks it up.
	origin = startTestHubWith(t, Config{}, testHubOptions{httpAddr: addr, sources: map[string]source{"live": mustTestPattern(t)}})
	waitFor(t, "the edge to relay the test pattern", func() bool { return liveStatus(edge).Live })
	v := watchFromKeyframe(t, edge, "the edge viewer", 30)

	// The origin goes away: the edge goes offline; it comes back: the edge relays again.
	origin.stop()
	waitFor(t, "the edge to go offline", func() bool { return !liveStatus(edge).Live })
	got := len(v.received())
	origin = startTestHubWith(t, Config{}, testHubOptions{httpAddr: addr, sources: map[string]source{"live": mustTestPattern(t)}})
	waitFor(t, "the edge to relay again", func() bool { return liveStatus(edge).Live })
	waitFor(t, "30 more frames", func() bool { return len(v.received()) >= got+30 })
	if !isIDR(v.received()[got]) {
		t.Error("after the origin came back, the first access unit is not a keyframe")
	}
	v.close()
	edge.stop()
	origin.stop()
}

// TestRelayLoopBetweenEdges: two edges pointed at each other are never live; each refuses the other's
// relay with relay_loop, not not_live, so the mistake shows, while a viewer still hears not_live.
func TestRelayLoopBetweenEdges(t *testing.T) {
	checkGoroutines(t)
	addrA, addrB := freeTCPAddr(t), freeTCPAddr(t)
	a := startTestHubWith(t, Config{}, testHubOptions{httpAddr: addrA, relays: map[string]*Relay{"live": newTestRelay(t, "http://"+addrB)}})
	b := startTestHubWith(t, Config{}, testHubOptions{httpAddr: addrB, relays: map[string]*Relay{"live": newTestRelay(t, "http://"+addrA)}})
	for _, tt := range []struct {
		relay      bool
		status     int
		code, name string
	}{
		{true, http.StatusConflict, "relay_loop", "a relay"},
		{false, http.StatusNotFound, "not_live", "a viewer"},
	} {
		v := newTestViewer(t)
		req, _ := http.NewRequest(http.MethodPost, "http://"+addrA+"/whep/live", strings.NewReader(v.offer(t)))
		req.Header.Set("Content-Type", "application/sdp")
		if tt.relay {
			req.Header.Set(relayHeader, "1")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status || !strings.Contains(string(body), tt.code) {
			t.Errorf("%s asking an edge that relays: %d %s, want %d %s", tt.name, resp.StatusCode, body, tt.status, tt.code)
		}
		v.close()
	}
	a.stop()
	b.stop()
}

// freeTCPAddr returns a loopback address nobody listens on.
func freeTCPAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func TestNewRelayRefusesBadURLs(t *testing.T) {
	for _, tc := range []struct {
		url, want string
	}{
		{"", "empty"},
		{"origin:8080", "http://"},
		{"rtsp://origin/", "http://"},
		{"http:///", "no host"},
		{"http://origin:99999", "port"},
		{"http://origin/hub", "without a path"},
		{"http://origin/?stream=live", "without a path"},
		{"http://origin/#x", "without a path"},
		{"http://user:hunter2@origin/x", "without a path"},
		{"http://user:hunter2@%zz/", "does not parse"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			_, err := NewRelay(tc.url, quietLog())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error mentioning %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the error repeats the password: %v", err)
			}
		})
	}
	for _, tc := range []struct{ url, want string }{
		{"http://origin:8080", "http://origin:8080"},
		{"https://live.example.com/", "https://live.example.com"},
		{"http://user:hunter2@origin-hub/", "http://origin-hub"},
	} {
		r, err := NewRelay(tc.url, quietLog())
		if err != nil {
			t.Errorf("NewRelay(%q): %v", tc.url, err)
			continue
		}
		if got := r.String(); got != tc.want {
			t.Errorf("NewRelay(%q).String() = %q, want %q", tc.url, got, tc.want)
		}
	}
}

func TestRelayBackoff(t *testing.T) {
	ms := time.Millisecond
	b := relayBackoff{min: 500 * ms, notLive: 5 * time.Second, max: 30 * time.Second}
	for i, tc := range []struct {
		notLive bool
		reset   bool
		want    time.Duration
	}{
		{notLive: true, want: 500 * ms},
		{notLive: true, want: time.Second},
		{notLive: true, want: 2 * time.Second},
		{notLive: true, want: 4 * time.Second},
		{notLive: true, want: 5 * time.Second},
		{notLive: true, want: 5 * time.Second},
		{want: 10 * time.Second},
		{want: 20 * time.Second},
		{want: 30 * time.Second},
		{want: 30 * time.Second},
		{notLive: true, want: 5 * time.Second},
		{reset: true, want: 500 * ms},
	} {
		if tc.reset {
			b.reset()
		}
		if got := b.next(tc.notLive); got != tc.want {
			t.Errorf("step %d: got %v, want %v", i, got, tc.want)
		}
	}
}

// TestRelayRetrySynctest runs the relay's retry loop on a fake clock: the waits follow the backoff, a
// session that delivered long enough starts it again, and a failure that repeats is logged once.
func TestRelayRetrySynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs bytes.Buffer
		r, err := NewRelay("http://origin", slog.New(slog.NewTextHandler(&logs, nil)))
		if err != nil {
			t.Fatal(err)
		}
		type result struct {
			delivered time.Duration
			err       error
		}
		refused := errors.New("connection refused")
		notLive := ErrNotLive
		script := []result{
			{0, notLive}, {0, notLive}, {0, notLive}, {0, notLive}, {0, notLive}, {0, notLive},
			{0, refused}, {0, refused},
			{time.Minute, errors.New("no video from the origin for 5s")},
			{0, notLive},
		}
		wantWaits := []time.Duration{
			500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second,
			10 * time.Second, 20 * time.Second,
			500 * time.Millisecond, // after a stable session
			time.Second,
		}
		ctx, cancel := context.WithCancel(t.Context())
		var at []time.Time
		done := make(chan struct{})
		go func() {
			defer close(done)
			r.retry(ctx, r.log, func(context.Context) (time.Duration, error) {
				at = append(at, time.Now())
				if len(at) > len(script) {
					cancel()
					return 0, nil
				}
				res := script[len(at)-1]
				return res.delivered, res.err
			})
		}()
		<-done
		for i, want := range wantWaits {
			if got := at[i+1].Sub(at[i]); got != want {
				t.Errorf("wait %d: got %v, want %v", i, got, want)
			}
		}
		out := logs.String()
		if n := strings.Count(out, "level=INFO"); n != 2 {
			t.Errorf("%d info lines for not_live, want 2 (one per streak):\n%s", n, out)
		}
		if n := strings.Count(out, "level=WARN"); n != 2 {
			t.Errorf("%d warnings, want 2 (connection refused once, the lost session once):\n%s", n, out)
		}
	})
}

// TestRelayFollowsCodecChange: the origin's H.264 publisher is replaced by a VP8 one, which closes the
// origin's WHEP sessions; the relay connects again and the edge carries VP8.
func TestRelayFollowsCodecChange(t *testing.T) {
	checkGoroutines(t)
	origin := startTestHub(t, Config{}, nil)
	edge := startTestHubWith(t, Config{}, testHubOptions{relays: map[string]*Relay{"live": newTestRelay(t, origin.http.URL)}})
	_, stop := startPublishing(t, origin)
	waitFor(t, "the edge to relay H.264", func() bool { st := liveStatus(edge); return st.Live && st.Codec == "H264" })
	stop()

	vp8 := newTestPublisher(t, webrtc.MimeTypeVP8)
	if status, body := vp8.post(t, origin.http.URL+"/whip/live", testToken); status != http.StatusCreated {
		t.Fatalf("VP8 WHIP to the origin: %d %s", status, body)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var sending sync.WaitGroup
	// Not real VP8: frames whose payload descriptor marks a keyframe are enough to carry.
	frame := append([]byte{0x10, 0x00, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01}, make([]byte, 500)...)
	sending.Go(func() { sendSamples(ctx, vp8.track, frame, time.Second/30) })
	waitFor(t, "the edge to relay VP8", func() bool { st := liveStatus(edge); return st.Live && st.Codec == "VP8" })
	cancel()
	sending.Wait()
	vp8.close()
	edge.stop()
	origin.stop()
}

// TestRelayCarriesAudio: a publisher at the origin sends Opus besides H.264; the edge relays both, and
// its viewers get the audio.
func TestRelayCarriesAudio(t *testing.T) {
	checkGoroutines(t)
	origin := startTestHub(t, Config{}, nil)
	edge := startTestHubWith(t, Config{}, testHubOptions{relays: map[string]*Relay{"live": newTestRelay(t, origin.http.URL)}})
	pub := newTestPublisher(t, webrtc.MimeTypeH264)
	opus, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pub.pc.AddTrack(opus); err != nil {
		t.Fatal(err)
	}
	if status, body := pub.post(t, origin.http.URL+"/whip/live", testToken); status != http.StatusCreated {
		t.Fatalf("WHIP to the origin: %d %s", status, body)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var sending sync.WaitGroup
	sending.Go(func() { pub.sendH264(ctx, t) })
	sending.Go(func() { sendSamples(ctx, opus, []byte{0xfc, 0xff, 0xfe}, 20*time.Millisecond) })
	defer func() { cancel(); sending.Wait() }()
	waitFor(t, "the edge to relay video and audio", func() bool { st := liveStatus(edge); return st.Live && st.Audio })

	v := newTestViewer(t)
	var audioPackets atomic.Int64
	v.pc.OnTrack(func(track *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for {
			if _, _, err := track.ReadRTP(); err != nil {
				return
			}
			if track.Kind() == webrtc.RTPCodecTypeAudio {
				audioPackets.Add(1)
			}
		}
	})
	if status, body := v.join(t, edge.http.URL+"/whep/live"); status != http.StatusCreated {
		t.Fatalf("WHEP on the edge: %d %s", status, body)
	}
	waitFor(t, "audio at the edge viewer", func() bool { return audioPackets.Load() >= 20 })
	cancel()
	sending.Wait()
	pub.close()
	v.close()
	edge.stop()
	origin.stop()
}

// sendSamples writes data to track as a sample every d until ctx ends.
func sendSamples(ctx context.Context, track *webrtc.TrackLocalStaticSample, data []byte, d time.Duration) {
	tick := time.NewTicker(d)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if err := track.WriteSample(media.Sample{Data: data, Duration: d}); err != nil {
			return
		}
	}
}
