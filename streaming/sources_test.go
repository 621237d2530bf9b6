package streaming

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gohlslib/v2/pkg/playlist"
	"github.com/pion/webrtc/v4"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestRTSPCameraToViewers pulls the test pattern from an RTSP camera that sends SPS and PPS only in its
// SDP; a viewer gets a picture, loses the camera, and gets a picture again when it comes back, on the
// same WebRTC session.
func TestRTSPCameraToViewers(t *testing.T) {
	clip, err := parseH264Clip(testPatternH264)
	if err != nil {
		t.Fatal(err)
	}
	cam := startCamera(t, &testCamera{t: t, addr: "127.0.0.1:0", sps: clip.sps, pps: clip.pps,
		frame: func(n int) [][]byte {
			var au [][]byte
			for _, nalu := range clip.aus[n%len(clip.aus)] {
				if typ := nalu[0] & 0x1f; typ != naluSPS && typ != naluPPS { // SDP only, like many cameras
					au = append(au, nalu)
				}
			}
			return au
		}})
	src, err := NewRTSPSource(cam.url(), quietLog())
	if err != nil {
		t.Fatal(err)
	}
	src.ReadTimeout, src.MinBackoff, src.MaxBackoff = 500*time.Millisecond, 50*time.Millisecond, 200*time.Millisecond
	hub := startTestHub(t, Config{HLS: true}, map[string]source{"cam": src})
	stream := func() Status { return hub.srv.lookup("cam").Status() }
	waitFor(t, "the camera to go live", func() bool { return hub.srv.lookup("cam") != nil && stream().Live })
	if st := stream(); st.Source.Kind != "rtsp" || strings.Contains(st.Source.Remote, testCameraPass) {
		t.Errorf("source = %+v, want rtsp without the password", st.Source)
	}

	v := newTestViewer(t)
	if status, body := v.join(t, hub.http.URL+"/whep/cam"); status != http.StatusCreated {
		t.Fatalf("WHEP: %d %s", status, body)
	}
	waitFor(t, "30 frames", func() bool { return len(v.received()) >= 30 })
	if !isIDR(v.received()[0]) {
		t.Fatal("the first access unit is not a keyframe with SPS and PPS put back in front")
	}

	cam.close()
	waitFor(t, "the stream to go offline", func() bool { return !stream().Live })
	before := len(v.received())
	cam.start()
	waitFor(t, "the camera to come back", func() bool { return stream().Live })
	waitFor(t, "30 more frames", func() bool { return len(v.received()) >= before+30 })
	aus := v.received()
	if !isIDR(aus[before]) {
		t.Error("after the camera came back, the first access unit is not a keyframe")
	}
	if frames, size := decodeWithFFprobe(t, aus); frames != len(aus) || size != "640x360" {
		t.Errorf("ffprobe decoded %d frames of %s, want %d of 640x360", frames, size, len(aus))
	}
}

// TestTestPatternGivesWayToWHIP plays the test pattern, over WebRTC and HLS; a WHIP publisher takes
// the stream over and the viewer stays on, and when it leaves the test pattern comes back.
func TestTestPatternGivesWayToWHIP(t *testing.T) {
	hub := startTestHub(t, Config{HLS: true}, map[string]source{"live": mustTestPattern(t)})
	stream := func() Status { return hub.srv.lookup("live").Status() }
	waitFor(t, "the test pattern", func() bool { return hub.srv.lookup("live") != nil && stream().Live })

	v := newTestViewer(t)
	if status, body := v.join(t, hub.http.URL+"/whep/live"); status != http.StatusCreated {
		t.Fatalf("WHEP: %d %s", status, body)
	}
	waitFor(t, "30 frames", func() bool { return len(v.received()) >= 30 })

	// HLS: the multivariant playlist names a media playlist with LL-HLS parts.
	var body []byte
	waitFor(t, "the HLS playlist", func() bool {
		resp, err := http.Get(hub.http.URL + "/hls/live/index.m3u8")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		body, _ = io.ReadAll(resp.Body)
		return resp.StatusCode == http.StatusOK
	})
	pl, err := playlist.Unmarshal(body)
	if err != nil {
		t.Fatalf("index.m3u8: %v\n%s", err, body)
	}
	mv, ok := pl.(*playlist.Multivariant)
	if !ok || len(mv.Variants) == 0 {
		t.Fatalf("index.m3u8 is not a multivariant playlist with a variant:\n%s", body)
	}
	resp, err := http.Get(hub.http.URL + "/hls/live/" + mv.Variants[0].URI)
	if err != nil {
		t.Fatal(err)
	}
	media, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(media), "#EXT-X-PART:") {
		t.Fatalf("media playlist: %d\n%s", resp.StatusCode, media)
	}

	// A publisher takes over; the viewer keeps its session and sees the new source from a keyframe.
	pub := newTestPublisher(t, webrtc.MimeTypeH264)
	if status, body := pub.post(t, hub.http.URL+"/whip/live", testToken); status != http.StatusCreated {
		t.Fatalf("WHIP over the test pattern: %d %s", status, body)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var sending sync.WaitGroup
	sending.Go(func() { pub.sendH264(ctx, t) })
	defer func() { cancel(); sending.Wait() }()
	waitFor(t, "the publisher to take over", func() bool { st := stream(); return st.Live && st.Source.Kind == "whip" })
	before := len(v.received())
	waitFor(t, "frames from the publisher", func() bool { return len(v.received()) >= before+30 })
	if st := stream(); st.Viewers != 1 {
		t.Errorf("viewers = %d after the handover, want the same 1", st.Viewers)
	}

	cancel()
	sending.Wait()
	pub.close()
	waitFor(t, "the test pattern to come back", func() bool {
		st := stream()
		return st.Live && st.Source.Kind == SourceTestPattern
	})
	aus := v.received()
	if frames, _ := decodeWithFFprobe(t, aus); frames != len(aus) {
		t.Errorf("ffprobe decoded %d of %d frames across the handovers", frames, len(aus))
	}
}
