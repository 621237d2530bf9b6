package streaming

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

// TestWHIPToManyViewers publishes H.264 from a pion WHIP client and plays it to 20 WHEP viewers: each
// starts at a keyframe, and what it receives decodes.
func TestWHIPToManyViewers(t *testing.T) {
	checkGoroutines(t)
	hub := startTestHub(t, Config{}, nil)
	pub := newTestPublisher(t, webrtc.MimeTypeH264)
	if status, body := pub.post(t, hub.http.URL+"/whip/live", testToken); status != http.StatusCreated {
		t.Fatalf("WHIP: %d %s", status, body)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var sending sync.WaitGroup
	sending.Go(func() { pub.sendH264(ctx, t) })
	defer func() { cancel(); sending.Wait() }()
	waitFor(t, "the stream to go live", func() bool { return hub.srv.lookup("live").Status().Live })

	viewers := make([]*testViewer, 20)
	for i := range viewers {
		viewers[i] = newTestViewer(t)
		if status, body := viewers[i].join(t, hub.http.URL+"/whep/live"); status != http.StatusCreated {
			t.Fatalf("WHEP viewer %d: %d %s", i, status, body)
		}
	}
	for i, v := range viewers {
		waitFor(t, "60 frames at every viewer", func() bool { return len(v.received()) >= 60 })
		aus := v.received()
		if !isIDR(aus[0]) {
			t.Errorf("viewer %d: the first access unit is not a keyframe with SPS and PPS", i)
		}
		if i == 0 {
			frames, size := decodeWithFFprobe(t, aus)
			if frames != len(aus) || size != "640x360" {
				t.Errorf("ffprobe decoded %d frames of %s, want %d of 640x360", frames, size, len(aus))
			}
		}
	}
	st := hub.srv.lookup("live").Status()
	if st.Viewers != 20 || st.Codec != "H264" || st.Width != 640 || st.Height != 360 || !st.Live {
		t.Errorf("status = %+v, want 20 viewers of live H264 640x360", st)
	}
	waitFor(t, "a bitrate and frame rate", func() bool {
		st := hub.srv.lookup("live").Status()
		return st.Bitrate > 0 && st.FPS > 20
	})

	// Every viewer leaves: half say goodbye with DELETE, half just vanish.
	for i, v := range viewers {
		if i%2 == 0 {
			if status := do(t, http.MethodDelete, hub.http.URL+v.location, ""); status != http.StatusOK {
				t.Fatalf("DELETE %s: %d", v.location, status)
			}
		} else {
			v.conn.Close() // no DTLS close, no DELETE: ICE has to notice
		}
	}
	waitFor(t, "every viewer to be let go", func() bool { return hub.srv.lookup("live").Status().Viewers == 0 })
	if n := hub.srv.viewers.Load(); n != 0 {
		t.Errorf("viewer count = %d after everyone left", n)
	}
	cancel()
	sending.Wait()
	pub.close()
	waitFor(t, "the publication to end", func() bool { return !hub.srv.lookup("live").Status().Live })
	hub.stop()
}

// TestLateViewerStartsAtKeyframe joins a viewer in the middle of a group of pictures of a source that
// ignores keyframe requests (the test pattern, like an IP camera): it gets the cached keyframe first, at
// once, instead of waiting for the next one.
func TestLateViewerStartsAtKeyframe(t *testing.T) {
	hub := startTestHub(t, Config{}, map[string]source{"live": mustTestPattern(t)})
	waitFor(t, "a cached keyframe", func() bool {
		st := hub.srv.lookup("live")
		if st == nil || !st.Status().Live {
			return false
		}
		tr := st.video
		tr.mu.Lock()
		defer tr.mu.Unlock()
		return tr.gopOK && len(tr.gop) > 10
	})
	time.Sleep(400 * time.Millisecond) // well into the 1 s group of pictures

	v := newTestViewer(t)
	if status, body := v.join(t, hub.http.URL+"/whep/live"); status != http.StatusCreated {
		t.Fatalf("WHEP: %d %s", status, body)
	}
	waitFor(t, "30 frames", func() bool { return len(v.received()) >= 30 })
	aus := v.received()
	if !isIDR(aus[0]) {
		t.Fatal("the first access unit is not a keyframe")
	}
	frames, _ := decodeWithFFprobe(t, aus)
	if frames != len(aus) {
		t.Errorf("ffprobe decoded %d of %d frames", frames, len(aus))
	}
	t.Logf("first frame %v after the WHEP POST", v.first)
}

// TestHTTPErrors checks that every bad request gets a clear answer and leaves nothing behind.
func TestHTTPErrors(t *testing.T) {
	checkGoroutines(t)
	hub := startTestHub(t, Config{}, nil)
	base := hub.http.URL
	post := func(path, contentType, token, body string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	garbage := "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\nthis is not SDP\r\n"
	for _, tc := range []struct {
		name, path, ctype, token, body string
		want                           int
		code                           string
	}{
		{"no token", "/whip/live", "application/sdp", "", "v=0", 401, "unauthorized"},
		{"wrong token", "/whip/live", "application/sdp", "nope", "v=0", 401, "unauthorized"},
		{"not SDP", "/whip/live", "application/json", testToken, "{}", 415, "unsupported_media_type"},
		{"bad stream name", "/whip/Live!", "application/sdp", testToken, "v=0", 400, "bad_request"},
		{"garbage SDP", "/whip/live", "application/sdp", testToken, garbage, 400, "bad_sdp"},
		{"not even SDP", "/whip/live", "application/sdp", testToken, "hello", 400, "bad_sdp"},
		{"huge offer", "/whip/live", "application/sdp", testToken, "v=0\r\n" + strings.Repeat("a=x\r\n", 20000), 413, "too_large"},
		{"unknown stream", "/whep/nothing", "application/sdp", "", "v=0", 404, "not_live"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := post(tc.path, tc.ctype, tc.token, tc.body)
			if status != tc.want || !strings.Contains(body, `"code":"`+tc.code+`"`) {
				t.Errorf("got %d %s, want %d with code %s", status, body, tc.want, tc.code)
			}
		})
	}

	// An offer that sends only audio has nothing to publish.
	audioOnly := newTestClient(t)
	track, _ := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "a", "s")
	if _, err := audioOnly.pc.AddTrack(track); err != nil {
		t.Fatal(err)
	}
	if status, body := audioOnly.post(t, base+"/whip/live", testToken); status != http.StatusNotAcceptable {
		t.Errorf("audio-only WHIP: %d %s, want 406", status, body)
	}

	// A second publisher on a busy stream is refused; the first goes on.
	first := newTestPublisher(t, webrtc.MimeTypeVP8)
	if status, body := first.post(t, base+"/whip/live", testToken); status != http.StatusCreated {
		t.Fatalf("first WHIP: %d %s", status, body)
	}
	second := newTestPublisher(t, webrtc.MimeTypeH264)
	if status, body := second.post(t, base+"/whip/live", testToken); status != http.StatusConflict || !strings.Contains(body, "busy") {
		t.Errorf("second WHIP: %d %s, want 409 busy", status, body)
	}

	// A viewer offering only H.264 cannot watch a VP8 stream.
	h264Only := newTestClient(t)
	// The default engine offers VP8 too: keep only H.264 in the offer.
	tr, err := h264Only.pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly})
	if err != nil {
		t.Fatal(err)
	}
	var h264 []webrtc.RTPCodecParameters
	for _, c := range tr.Receiver().GetParameters().Codecs {
		if c.MimeType == webrtc.MimeTypeH264 {
			h264 = append(h264, c)
		}
	}
	if err := tr.SetCodecPreferences(h264); err != nil {
		t.Fatal(err)
	}
	if status, body := h264Only.post(t, base+"/whep/live", ""); status != http.StatusNotAcceptable || !strings.Contains(body, "VP8") {
		t.Errorf("H.264-only viewer of a VP8 stream: %d %s, want 406 naming VP8", status, body)
	}

	for _, tc := range []struct {
		method, path, token string
		want                int
	}{
		{http.MethodDelete, "/whep/live/0123", "", 404},
		{http.MethodDelete, "/whip/live/0123", testToken, 404},
		{http.MethodPatch, first.location, testToken, 405},  // no trickle ICE
		{http.MethodDelete, first.location, "", 401},        // only the token holder ends a publication
		{http.MethodDelete, first.location, testToken, 200}, // ends it
		{http.MethodDelete, first.location, testToken, 404}, // already ended
		{http.MethodGet, "/hls/live/index.m3u8", "", 404},   // not live
		{http.MethodGet, "/api/v1/streams", "", 401},        // publishers' addresses are not public
		{http.MethodGet, "/api/v1/streams", testToken, 200}, //
		{http.MethodPut, "/whep/live", "", 404},             //
	} {
		if got := do(t, tc.method, base+tc.path, tc.token); got != tc.want {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, got, tc.want)
		}
	}
	if hub.srv.lookup("live").Status().Live {
		t.Error("still live after the publisher's DELETE")
	}
	hub.stop()
	for _, c := range []*testClient{audioOnly, first.testClient, second.testClient, h264Only} {
		c.close()
	}
}

// do sends a request without a body and returns the response's status.
func do(t *testing.T, method, url, token string) int {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestAnswerCandidates checks the answer advertises what the configuration asks for: the public IP next
// to the local address, ICE over TCP, and the STUN/TURN servers as Link headers.
func TestAnswerCandidates(t *testing.T) {
	hub := startTestHub(t, Config{
		TCPAddr:    "127.0.0.1:0",
		PublicIPs:  []string{"203.0.113.7"},
		ICEServers: []webrtc.ICEServer{{URLs: []string{"turn:turn.example.com:3478?transport=udp"}, Username: "u", Credential: "p"}},
	}, map[string]source{"live": mustTestPattern(t)})
	waitFor(t, "the test pattern", func() bool { st := hub.srv.lookup("live"); return st != nil && st.Status().Live })
	v := newTestViewer(t)
	if status, body := v.join(t, hub.http.URL+"/whep/live"); status != http.StatusCreated {
		t.Fatalf("WHEP: %d %s", status, body)
	}
	sdp := v.pc.RemoteDescription().SDP
	for _, want := range []string{" 203.0.113.7 ", " 127.0.0.1 ", " tcp ", " udp "} {
		if !strings.Contains(strings.ToLower(sdp), want) {
			t.Errorf("the answer has no candidate with %q:\n%s", want, sdp)
		}
	}
	req, _ := http.NewRequest(http.MethodOptions, hub.http.URL+"/whep/live", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if link := resp.Header.Get("Link"); !strings.Contains(link, `<turn:turn.example.com:3478?transport=udp>; rel="ice-server"; username="u"; credential="p"`) {
		t.Errorf("OPTIONS Link = %q, want the TURN server with its credentials", link)
	}
	waitFor(t, "frames", func() bool { return len(v.received()) > 10 })
}

func mustTestPattern(t *testing.T) *TestPattern {
	t.Helper()
	p, err := NewTestPattern(quietLog())
	if err != nil {
		t.Fatal(err)
	}
	return p
}
