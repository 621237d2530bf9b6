package streaming

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gohlslib/v2"
	"github.com/bluenviron/gohlslib/v2/pkg/codecs"
	"github.com/bluenviron/gohlslib/v2/pkg/playlist"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/google/go-cmp/cmp"
)

// hlsTestClip returns the access units of testdata/hls.h264, made with
//
//	ffmpeg -f lavfi -i testsrc2=size=320x180:rate=30 -t 3 -c:v libx264 -profile:v baseline -pix_fmt yuv420p \
//	  -tune zerolatency -b:v 150k -maxrate 150k -bufsize 150k \
//	  -x264-params keyint=30:min-keyint=30:scenecut=0:aud=1:repeat-headers=1 \
//	  -f h264 streaming/testdata/hls.h264
//
// 90 frames at 30 fps in constrained baseline (no B-frames), an IDR with SPS and PPS in front every second,
// an access unit delimiter before every frame. The delimiters are dropped, as RTP depacketizers do.
func hlsTestClip(t *testing.T) [][][]byte {
	t.Helper()
	stream, err := os.ReadFile("testdata/hls.h264")
	if err != nil {
		t.Fatal(err)
	}
	// AnnexB.Unmarshal decodes one access unit (50 NAL units at most), so cut the stream at the delimiters
	// first. Emulation prevention keeps 00 00 01 out of NAL units, so each 00 00 01 09 starts a delimiter.
	var starts []int
	for i := 0; ; {
		j := bytes.Index(stream[i:], []byte{0, 0, 1, byte(h264.NALUTypeAccessUnitDelimiter)})
		if j < 0 {
			break
		}
		start := i + j
		if start > 0 && stream[start-1] == 0 { // a four-byte start code
			start--
		}
		starts = append(starts, start)
		i += j + 4
	}
	var aus [][][]byte
	for k, start := range starts {
		end := len(stream)
		if k+1 < len(starts) {
			end = starts[k+1]
		}
		var au h264.AnnexB
		if err := au.Unmarshal(stream[start:end]); err != nil {
			t.Fatalf("access unit %d: %v", k, err)
		}
		var nalus [][]byte
		for _, nalu := range au {
			if h264.NALUType(nalu[0]&0x1f) != h264.NALUTypeAccessUnitDelimiter {
				nalus = append(nalus, nalu)
			}
		}
		aus = append(aus, nalus)
	}
	if len(aus) != 90 {
		t.Fatalf("got %d access units, want 90", len(aus))
	}
	return aus
}

// hlsFrame is the duration of one frame of the clip.
const hlsFrame = time.Second / 30

// hlsWrite writes frames from..to-1 of the clip played in a loop, without waiting between them.
func hlsWrite(h *hlsMuxer, aus [][][]byte, epoch time.Time, from, to int) {
	for i := from; i < to; i++ {
		pts := time.Duration(i) * hlsFrame
		h.WriteH264(epoch.Add(pts), pts, aus[i%len(aus)])
	}
}

// hlsFixture is a muxer served over real HTTP under /hls/cam/.
type hlsFixture struct {
	h      *hlsMuxer
	srv    *httptest.Server
	index  string // URL of index.m3u8
	client *http.Client
}

// newHLSFixture starts the fixture. When the test ends, the muxer and the server close and the goroutines
// must be back to what they were before.
func newHLSFixture(t *testing.T, withAudio bool) *hlsFixture {
	t.Helper()
	hlsCheckGoroutines(t)
	h := newHLSMuxer(slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})), withAudio)
	srv := httptest.NewServer(http.StripPrefix("/hls/cam/", h))
	t.Cleanup(srv.Close) // after h.Close, which answers the requests it holds
	t.Cleanup(h.Close)
	return &hlsFixture{h: h, srv: srv, index: srv.URL + "/hls/cam/index.m3u8", client: srv.Client()}
}

// hlsCheckGoroutines fails the test when, after its cleanups, more goroutines run than before it.
func hlsCheckGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		for deadline := time.Now().Add(10 * time.Second); runtime.NumGoroutine() > before && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
		if got := runtime.NumGoroutine(); got > before {
			buf := make([]byte, 1<<20)
			t.Errorf("%d goroutines after the test, %d before:\n%s", got, before, buf[:runtime.Stack(buf, true)])
		}
	})
}

// hlsResult is one HTTP response with its body read.
type hlsResult struct {
	status int
	header http.Header
	body   []byte
}

// do sends one request; ref is resolved against index.m3u8's URL.
func (f *hlsFixture) do(t *testing.T, method, ref string) hlsResult {
	t.Helper()
	r, err := f.try(t.Context(), method, ref)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// try is do for goroutines other than the test's.
func (f *hlsFixture) try(ctx context.Context, method, ref string) (hlsResult, error) {
	base, err := url.Parse(f.index)
	if err != nil {
		return hlsResult{}, err
	}
	u, err := base.Parse(ref)
	if err != nil {
		return hlsResult{}, err
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return hlsResult{}, err
	}
	res, err := f.client.Do(req)
	if err != nil {
		return hlsResult{}, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return hlsResult{}, fmt.Errorf("%s %s: %w", method, ref, err)
	}
	return hlsResult{status: res.StatusCode, header: res.Header, body: body}, nil
}

// setMaxWait sets how long requests wait for media from now on.
func (f *hlsFixture) setMaxWait(d time.Duration) {
	f.h.mu.Lock()
	defer f.h.mu.Unlock()
	f.h.maxWait = d
}

// waitPending waits until n requests are in gohlslib, counting those that gave up and still wait there.
func (f *hlsFixture) waitPending(t *testing.T, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); len(f.h.pending) != n; {
		if time.Now().After(deadline) {
			t.Fatalf("got %d requests in gohlslib, want %d", len(f.h.pending), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// get fetches ref and checks that it is served with wantType, the CORS header and cacheControl.
func (f *hlsFixture) get(t *testing.T, ref, wantType, cacheControl string) []byte {
	t.Helper()
	r := f.do(t, http.MethodGet, ref)
	if r.status != http.StatusOK || len(r.body) == 0 {
		t.Fatalf("GET %s: got %d with %d bytes, want 200 with a body: %s", ref, r.status, len(r.body), r.body)
	}
	got := map[string]string{
		"Content-Type":                r.header.Get("Content-Type"),
		"Cache-Control":               r.header.Get("Cache-Control"),
		"Access-Control-Allow-Origin": r.header.Get("Access-Control-Allow-Origin"),
	}
	want := map[string]string{
		"Content-Type":                wantType,
		"Cache-Control":               cacheControl,
		"Access-Control-Allow-Origin": "*",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GET %s headers (-want +got):\n%s", ref, diff)
	}
	return r.body
}

// mediaPlaylist fetches and parses a media playlist.
func (f *hlsFixture) mediaPlaylist(t *testing.T, ref string) *playlist.Media {
	t.Helper()
	body := f.get(t, ref, "application/vnd.apple.mpegurl", hlsPlaylistCacheControl)
	pl, err := playlist.Unmarshal(body)
	if err != nil {
		t.Fatalf("media playlist: %v\n%s", err, body)
	}
	media, ok := pl.(*playlist.Media)
	if !ok {
		t.Fatalf("got %T, want a media playlist:\n%s", pl, body)
	}
	return media
}

// checkNoMuxerErrors fails the test if gohlslib reported an error.
func (f *hlsFixture) checkNoMuxerErrors(t *testing.T) {
	t.Helper()
	f.h.errMu.Lock()
	defer f.h.errMu.Unlock()
	if len(f.h.errs) != 0 {
		t.Errorf("muxer errors by kind: %v, want none", f.h.errs)
	}
}

// hlsMediaSegments returns the segments of pl that aren't gaps.
func hlsMediaSegments(pl *playlist.Media) []*playlist.MediaSegment {
	var segs []*playlist.MediaSegment
	for _, seg := range pl.Segments {
		if !seg.Gap {
			segs = append(segs, seg)
		}
	}
	return segs
}

func TestHLSMuxerServesLLHLS(t *testing.T) {
	aus := hlsTestClip(t)
	f := newHLSFixture(t, false)
	epoch := time.Date(2025, 6, 1, 20, 0, 0, 0, time.UTC)
	hlsWrite(f.h, aus, epoch, 0, 90)

	body := f.get(t, "index.m3u8", "application/vnd.apple.mpegurl", hlsPlaylistCacheControl)
	pl, err := playlist.Unmarshal(body)
	if err != nil {
		t.Fatalf("index.m3u8: %v\n%s", err, body)
	}
	mv, ok := pl.(*playlist.Multivariant)
	if !ok || len(mv.Variants) != 1 {
		t.Fatalf("index.m3u8: got %#v, want a multivariant playlist with one variant:\n%s", pl, body)
	}
	v := mv.Variants[0]
	if v.Resolution != "320x180" || len(v.Codecs) != 1 || !strings.HasPrefix(v.Codecs[0], "avc1.42") {
		t.Errorf("variant: got resolution %q, codecs %q, want 320x180 and constrained baseline avc1.42…",
			v.Resolution, v.Codecs)
	}

	media := f.mediaPlaylist(t, v.URI)
	if media.ServerControl == nil || !media.ServerControl.CanBlockReload || media.PartInf == nil {
		t.Fatalf("media playlist: got server control %+v, part inf %+v, want CAN-BLOCK-RELOAD and EXT-X-PART-INF",
			media.ServerControl, media.PartInf)
	}
	segs := hlsMediaSegments(media)
	parts := media.Parts
	for _, seg := range segs {
		parts = append(parts, seg.Parts...)
	}
	// Keyframes at 0, 1 and 2 s: two whole segments, the third one is still being written.
	if len(segs) != 2 || len(parts) == 0 || media.Map == nil || media.PreloadHint == nil {
		t.Fatalf("media playlist: got %d segments, %d parts, map %+v, preload hint %+v, "+
			"want 2 segments, parts, EXT-X-MAP and EXT-X-PRELOAD-HINT", len(segs), len(parts), media.Map, media.PreloadHint)
	}
	if media.TargetDuration != 1 || media.PartInf.PartTarget != 200*time.Millisecond {
		t.Errorf("got target duration %d s, part target %v, want 1 s and 200ms",
			media.TargetDuration, media.PartInf.PartTarget)
	}

	f.get(t, media.Map.URI, "video/mp4", hlsMediaCacheControl)
	f.get(t, segs[0].URI, "video/mp4", hlsMediaCacheControl)
	f.get(t, parts[0].URI, "video/mp4", hlsMediaCacheControl)

	head := f.do(t, http.MethodHead, "index.m3u8")
	if length := head.header.Get("Content-Length"); head.status != http.StatusOK || len(head.body) != 0 ||
		length != strconv.Itoa(len(body)) {
		t.Errorf("HEAD index.m3u8: got %d, %d bytes, Content-Length %q, want 200, no body, Content-Length %d",
			head.status, len(head.body), length, len(body))
	}

	t.Run("blocking reload", func(t *testing.T) {
		// Ask for the next part of the segment being written: the request waits for it.
		next := fmt.Sprintf("?_HLS_msn=%d&_HLS_part=%d", media.MediaSequence+len(media.Segments), len(media.Parts))
		f.waitPending(t, 0)
		type result struct {
			r   hlsResult
			err error
		}
		done := make(chan result, 1)
		go func() {
			r, err := f.try(t.Context(), http.MethodGet, v.URI+next)
			done <- result{r, err}
		}()
		f.waitPending(t, 1)
		select {
		case <-done:
			t.Fatal("the blocking reload returned before the part it asks for was written")
		default:
		}
		hlsWrite(f.h, aus, epoch, 90, 180)
		var res result
		select {
		case res = <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("the blocking reload didn't return once its part was written")
		}
		if res.err != nil || res.r.status != http.StatusOK {
			t.Fatalf("blocking reload: got %d, %v, want 200", res.r.status, res.err)
		}
		later, err := playlist.Unmarshal(res.r.body)
		if err != nil {
			t.Fatalf("blocking reload: %v", err)
		}
		if got, was := len(hlsMediaSegments(later.(*playlist.Media))), len(segs); got <= was {
			t.Errorf("after the blocking reload: got %d segments, want more than %d", got, was)
		}
	})

	t.Run("errors", func(t *testing.T) {
		tests := []struct {
			name, method, ref string
			want              int
		}{
			{"post", http.MethodPost, "index.m3u8", http.StatusMethodNotAllowed},
			{"options", http.MethodOptions, "index.m3u8", http.StatusMethodNotAllowed},
			{"unknown segment", http.MethodGet, "nope_seg1.mp4", http.StatusNotFound},
			{"unknown playlist", http.MethodGet, "nope.m3u8", http.StatusNotFound},
			{"other extension", http.MethodGet, "index.txt", http.StatusNotFound},
			{"subdirectory", http.MethodGet, "x/index.m3u8", http.StatusNotFound},
			{"bad _HLS_msn", http.MethodGet, v.URI + "?_HLS_msn=x", http.StatusBadRequest},
			{"_HLS_part without _HLS_msn", http.MethodGet, v.URI + "?_HLS_part=1", http.StatusBadRequest},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := f.do(t, tt.method, tt.ref)
				if r.status != tt.want {
					t.Errorf("%s %s: got %d, want %d", tt.method, tt.ref, r.status, tt.want)
				}
				if got := r.header.Get("Access-Control-Allow-Origin"); got != "*" {
					t.Errorf("Access-Control-Allow-Origin: got %q, want *", got)
				}
				if tt.want == http.StatusMethodNotAllowed && r.header.Get("Allow") != "GET, HEAD" {
					t.Errorf("Allow: got %q, want GET, HEAD", r.header.Get("Allow"))
				}
			})
		}
	})

	f.checkNoMuxerErrors(t)
	f.h.Close()
	f.h.Close() // idempotent
	for _, ref := range []string{"index.m3u8", v.URI, media.Map.URI, segs[0].URI, parts[0].URI} {
		r := f.do(t, http.MethodGet, ref)
		if r.status != http.StatusNotFound || strings.TrimSpace(string(r.body)) != "stream is not live" {
			t.Errorf("GET %s after Close: got %d %q, want 404 stream is not live", ref, r.status, r.body)
		}
	}
	// Writes after Close are ignored.
	hlsWrite(f.h, aus, epoch, 180, 210)
}

func TestHLSMuxerBoundsWaits(t *testing.T) {
	aus := hlsTestClip(t)
	f := newHLSFixture(t, false)
	epoch := time.Now()

	// Frames before the first keyframe are dropped: with only those there is no playlist yet, and the
	// request for it gives up.
	hlsWrite(f.h, aus, epoch, 1, 30)
	f.setMaxWait(50 * time.Millisecond)
	r := f.do(t, http.MethodGet, "index.m3u8")
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Fatalf("index.m3u8 without a keyframe: got %d, Retry-After %q, want 503 with Retry-After",
			r.status, r.header.Get("Retry-After"))
	}

	hlsWrite(f.h, aus, epoch, 30, 120)
	f.setMaxWait(hlsMaxWait)
	media := f.mediaPlaylist(t, "video1_stream.m3u8")
	if segs := hlsMediaSegments(media); len(segs) != 2 {
		t.Fatalf("got %d segments, want 2, the first keyframe at 1 s", len(segs))
	}
	// A part that is a whole segment away is never written, as the publisher stalls.
	f.setMaxWait(50 * time.Millisecond)
	r = f.do(t, http.MethodGet, fmt.Sprintf("video1_stream.m3u8?_HLS_msn=%d&_HLS_part=0",
		media.MediaSequence+len(media.Segments)+1))
	if r.status != http.StatusServiceUnavailable {
		t.Fatalf("blocking reload for a part never written: got %d, want 503", r.status)
	}
	f.waitPending(t, 1) // the one that gave up

	// Only so many requests may wait at once, counting those that gave up.
	free := cap(f.h.pending) - 1
	for range free {
		f.h.pending <- struct{}{}
	}
	r = f.do(t, http.MethodGet, media.Map.URI)
	if r.status != http.StatusServiceUnavailable || !strings.Contains(string(r.body), "too many requests") {
		t.Errorf("with every slot taken: got %d %q, want 503 too many requests", r.status, r.body)
	}
	for range free {
		<-f.h.pending
	}

	f.checkNoMuxerErrors(t)
	// Close wakes the request that gave up; the goroutine check at the end sees it gone.
}

func TestHLSMuxerPlayback(t *testing.T) {
	aus := hlsTestClip(t)
	wantSPS := aus[0][0]
	if h264.NALUType(wantSPS[0]&0x1f) != h264.NALUTypeSPS {
		t.Fatalf("the clip starts with NAL unit type %d, want SPS", wantSPS[0]&0x1f)
	}
	// A 20 ms Opus packet of silence, as WebRTC sends with DTX.
	silence := []byte{0xf8, 0xff, 0xfe}

	for _, withAudio := range []bool{false, true} {
		name := "video"
		if withAudio {
			name = "video and audio"
		}
		t.Run(name, func(t *testing.T) {
			f := newHLSFixture(t, withAudio)

			// The publisher: the clip in a loop, the first 1.2 s at once so that the playlists are there,
			// then in real time, since a player follows the live edge.
			stop, stopped := make(chan struct{}), make(chan struct{})
			go func() {
				defer close(stopped)
				tick := time.NewTicker(hlsFrame)
				defer tick.Stop()
				epoch := time.Now()
				var audioPTS time.Duration
				for i := 0; ; i++ {
					hlsWrite(f.h, aus, epoch, i, i+1)
					for pts := time.Duration(i+1) * hlsFrame; withAudio && audioPTS < pts; audioPTS += 20 * time.Millisecond {
						f.h.WriteOpus(epoch.Add(audioPTS), audioPTS, [][]byte{silence})
					}
					if i < 36 {
						continue
					}
					select {
					case <-stop:
						return
					case <-tick.C:
					}
				}
			}()
			defer func() { close(stop); <-stopped }()

			var (
				mu         sync.Mutex
				codecsSeen []string
				sps        []byte
				videoAUs   int
				idrs       int
				lastPTS    int64 = -1
				opus       int
				decodeErrs []error
			)
			c := &gohlslib.Client{
				URI:                       f.index,
				HTTPClient:                f.client,
				OnDownloadPrimaryPlaylist: func(string) {},
				OnDownloadStreamPlaylist:  func(string) {},
				OnDownloadSegment:         func(string) {},
				OnDownloadPart:            func(string) {},
				OnDecodeError: func(err error) {
					mu.Lock()
					defer mu.Unlock()
					decodeErrs = append(decodeErrs, err)
				},
			}
			c.OnTracks = func(tracks []*gohlslib.Track) error {
				mu.Lock()
				defer mu.Unlock()
				for _, track := range tracks {
					switch codec := track.Codec.(type) {
					case *codecs.H264:
						codecsSeen = append(codecsSeen, "h264")
						sps = codec.SPS
						c.OnDataH26x(track, func(pts, _ int64, au [][]byte) {
							mu.Lock()
							defer mu.Unlock()
							if pts <= lastPTS {
								t.Errorf("pts %d after %d, want increasing", pts, lastPTS)
							}
							lastPTS = pts
							videoAUs++
							for _, nalu := range au {
								if h264.NALUType(nalu[0]&0x1f) == h264.NALUTypeIDR {
									idrs++
								}
							}
						})
					case *codecs.Opus:
						codecsSeen = append(codecsSeen, "opus")
						c.OnDataOpus(track, func(_ int64, packets [][]byte) {
							mu.Lock()
							defer mu.Unlock()
							opus += len(packets)
						})
					default:
						codecsSeen = append(codecsSeen, "other")
					}
				}
				return nil
			}
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			defer c.Close()

			// A second of video holds a keyframe wherever the player starts.
			enough := func() bool {
				mu.Lock()
				defer mu.Unlock()
				return videoAUs >= 40 && idrs >= 1 && (!withAudio || opus >= 25)
			}
			for deadline := time.Now().Add(30 * time.Second); !enough(); {
				if time.Now().After(deadline) {
					mu.Lock()
					defer mu.Unlock()
					t.Fatalf("after 30 s the player got %d access units, %d IDRs, %d Opus packets, tracks %v, "+
						"decode errors %v", videoAUs, idrs, opus, codecsSeen, decodeErrs)
				}
				time.Sleep(20 * time.Millisecond)
			}

			mu.Lock()
			defer mu.Unlock()
			wantCodecs := []string{"h264"}
			if withAudio {
				wantCodecs = append(wantCodecs, "opus")
			}
			if diff := cmp.Diff(wantCodecs, codecsSeen); diff != "" {
				t.Errorf("tracks (-want +got):\n%s", diff)
			}
			if !bytes.Equal(sps, wantSPS) {
				t.Errorf("the player's SPS: got %x, want the clip's %x", sps, wantSPS)
			}
			if len(decodeErrs) != 0 {
				t.Errorf("decode errors: %v", decodeErrs)
			}
			f.checkNoMuxerErrors(t)
		})
	}
}

func TestTicks(t *testing.T) {
	tests := []struct {
		d    time.Duration
		rate int64
		want int64
	}{
		{0, 90000, 0},
		{time.Second / 30, 90000, 3000},
		{1500 * time.Millisecond, 48000, 72000},
		{-time.Second / 30, 90000, -3000},
		{2 * time.Second / 30, 90000, 6000},
		{time.Second / 3, 48000, 16000},
		{500*time.Microsecond - 1, 1000, 0},
		{500 * time.Microsecond, 1000, 1},
		{-500 * time.Microsecond, 1000, -1},
		// 100 days in nanoseconds times 90 000 overflows int64: divide first.
		{100 * 24 * time.Hour, 90000, 100 * 24 * 3600 * 90000},
	}
	for _, tt := range tests {
		if got := ticks(tt.d, tt.rate); got != tt.want {
			t.Errorf("ticks(%v, %d): got %d, want %d", tt.d, tt.rate, got, tt.want)
		}
	}
}

func TestNonEmpty(t *testing.T) {
	tests := []struct {
		in, want [][]byte
	}{
		{nil, nil},
		{[][]byte{{1}, {2}}, [][]byte{{1}, {2}}},
		{[][]byte{{}, {1}, nil, {2}, {}}, [][]byte{{1}, {2}}},
		{[][]byte{{}}, nil},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, nonEmpty(tt.in)); diff != "" {
			t.Errorf("nonEmpty(%v) (-want +got):\n%s", tt.in, diff)
		}
	}
}
