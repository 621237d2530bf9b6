package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/pion/logging"
	"github.com/pion/webrtc/v4"

	"github.com/stagelink/stagelink/deploy/nginxtest"
)

// TestVideoEdge runs two hub processes: an origin playing the test pattern and an edge with
// -video-origin. A pion WHEP viewer on the edge gets the pattern's H.264 from a keyframe, the edge reports
// the stream as relayed, and serves it over HLS too.
func TestVideoEdge(t *testing.T) {
	_, origin := startHub(t, "-addr", "127.0.0.1:0", "-test-pattern=true")
	_, edge := startHub(t, "-addr", "127.0.0.1:0", "-video-origin", origin)

	eventually(t, "the edge to relay the stream", func() bool {
		src := streamSource(t, edge, "live")
		return src != nil && src.Kind == "relay" && src.Remote == origin+"/whep/live"
	})

	v := newWHEPViewer(t)
	v.watch(t, edge+"/whep/live")
	eventually(t, "video packets at the edge viewer", func() bool { return v.packets() >= 100 })
	if !v.startedAtKeyframe() {
		t.Error("the edge viewer's first video packet does not start a keyframe (SPS or IDR)")
	}

	eventually(t, "the edge's HLS playlist", func() bool {
		resp, err := http.Get(edge + "/hls/live/index.m3u8")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// TestVideoEdgeBehindNginx: an origin hub plays the test pattern, two edge hubs relay it, and viewers
// reach them through nginx with the production config: WHEP goes to whichever hub nginx picks, and
// every viewer gets the pattern from a keyframe, on the origin and on the edges.
func TestVideoEdgeBehindNginx(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: end-to-end")
	}
	_, origin := startHub(t, "-addr", "127.0.0.1:0", "-test-pattern=true")
	_, edgeB := startHub(t, "-addr", "127.0.0.1:0", "-video-origin", origin)
	_, edgeC := startHub(t, "-addr", "127.0.0.1:0", "-video-origin", origin)
	hubs := []string{origin, edgeB, edgeC}
	var addrs []string
	for _, h := range hubs {
		addrs = append(addrs, strings.TrimPrefix(h, "http://"))
	}
	ngx := nginxtest.Start(t, nginxtest.Options{Hubs: addrs, Origin: addrs[0]})
	for _, edge := range hubs[1:] {
		eventually(t, "the edges to relay the stream", func() bool {
			src := streamSource(t, edge, "live")
			return src != nil && src.Kind == "relay"
		})
	}

	var viewers []*whepViewer
	for range 6 { // each a new client without nginx's cookie: nginx spreads them over the hubs
		v := newWHEPViewer(t)
		v.watchWith(t, ngx.Client, ngx.URL+"/whep/live")
		viewers = append(viewers, v)
	}
	for i, v := range viewers {
		eventually(t, fmt.Sprintf("video packets at viewer %d", i), func() bool { return v.packets() >= 100 })
		if !v.startedAtKeyframe() {
			t.Errorf("viewer %d's first video packet does not start a keyframe (SPS or IDR)", i)
		}
	}
	var counts []int
	onEdges := 0
	for i, h := range hubs {
		n := streamViewers(t, h, "live")
		if i > 0 {
			onEdges += n
		}
		counts = append(counts, n)
	}
	if onEdges == 0 {
		t.Errorf("WebRTC viewers per hub (origin, edge, edge) = %v: nginx sent none of 6 to an edge", counts)
	}
	t.Logf("WebRTC viewers per hub (origin incl. 2 relays, edge, edge): %v", counts)
}

// streamViewers returns the WebRTC viewers of stream on hub, from /api/v1/streams.
func streamViewers(t *testing.T, hub, stream string) int {
	t.Helper()
	var body struct {
		Streams []struct {
			Name    string `json:"name"`
			Viewers int    `json:"viewers"`
		} `json:"streams"`
	}
	getStreams(t, hub, &body)
	for _, s := range body.Streams {
		if s.Name == stream {
			return s.Viewers
		}
	}
	return 0
}

// getStreams decodes hub's /api/v1/streams into body.
func getStreams(t *testing.T, hub string, body any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, hub+"/api/v1/streams", nil)
	req.Header.Set("Authorization", "Bearer e2e-api")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(body); err != nil {
		t.Fatalf("/api/v1/streams: %v", err)
	}
}

type streamSourceInfo struct {
	Kind   string `json:"kind"`
	Remote string `json:"remote"`
}

// streamSource returns who publishes stream on hub, from /api/v1/streams; nil while it is not live.
func streamSource(t *testing.T, hub, stream string) *streamSourceInfo {
	t.Helper()
	var body struct {
		Streams []struct {
			Name   string            `json:"name"`
			Live   bool              `json:"live"`
			Source *streamSourceInfo `json:"source"`
		} `json:"streams"`
	}
	getStreams(t, hub, &body)
	for _, s := range body.Streams {
		if s.Name == stream && s.Live {
			return s.Source
		}
	}
	return nil
}

// whepViewer is a pion WHEP client on loopback that counts the video packets it gets.
type whepViewer struct {
	pc *webrtc.PeerConnection

	mu    sync.Mutex
	n     int
	first []byte // the first video packet's payload
}

func newWHEPViewer(t *testing.T) *whepViewer {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logs := logging.NewDefaultLoggerFactory()
	logs.DefaultLogLevel = logging.LogLevelDisabled
	se := webrtc.SettingEngine{LoggerFactory: logs}
	se.SetICEUDPMux(webrtc.NewICEUDPMux(logs.NewLogger("udpmux"), conn))
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	pc, err := webrtc.NewAPI(webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close(); conn.Close() })
	v := &whepViewer{pc: pc}
	for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
		if _, err := pc.AddTransceiverFromKind(kind, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			t.Fatal(err)
		}
	}
	pc.OnTrack(func(track *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for {
			pkt, _, err := track.ReadRTP()
			if err != nil {
				return
			}
			if track.Kind() != webrtc.RTPCodecTypeVideo || len(pkt.Payload) == 0 {
				continue
			}
			v.mu.Lock()
			if v.n == 0 {
				v.first = pkt.Payload
			}
			v.n++
			v.mu.Unlock()
		}
	})
	return v
}

// watch sends the viewer's offer to url and applies the answer.
func (v *whepViewer) watch(t *testing.T, url string) {
	t.Helper()
	v.watchWith(t, http.DefaultClient, url)
}

// watchWith is watch through client c.
func (v *whepViewer) watchWith(t *testing.T, c *http.Client, url string) {
	t.Helper()
	offer, err := v.pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(v.pc)
	if err := v.pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	resp, err := c.Post(url, "application/sdp", strings.NewReader(v.pc.LocalDescription().SDP))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("WHEP %s: %d %s", url, resp.StatusCode, answer)
	}
	if err := v.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: string(answer)}); err != nil {
		t.Fatal(err)
	}
}

func (v *whepViewer) packets() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.n
}

// startedAtKeyframe reports whether the first video packet starts an H.264 keyframe (RFC 6184): an SPS
// or IDR alone, in a STAP-A, or the first fragment of an IDR.
func (v *whepViewer) startedAtKeyframe() bool {
	v.mu.Lock()
	p := v.first
	v.mu.Unlock()
	if len(p) < 2 {
		return false
	}
	const sps, idr, stapA, fuA = 7, 5, 24, 28
	switch p[0] & 0x1f {
	case sps, idr:
		return true
	case stapA:
		return len(p) > 3 && (p[3]&0x1f == sps || p[3]&0x1f == idr)
	case fuA:
		return p[1]&0x80 != 0 && p[1]&0x1f == idr
	}
	return false
}
