package streaming

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/gohlslib/v2"
	"github.com/bluenviron/gohlslib/v2/pkg/codecs"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
)

// LL-HLS settings (RFC 8216bis, https://datatracker.ietf.org/doc/html/draft-pantos-hls-rfc8216bis), tuned
// for sources that send a keyframe every second: the test pattern, OBS or a browser over WHIP, a camera whose
// GOP equals its frame rate.
const (
	// hlsPartDuration is the shortest part, the piece a player fetches at the live edge. gohlslib advertises
	// PART-HOLD-BACK as 2.5 parts, so players stay about half a second behind the newest frame. 200 ms is a
	// whole number of frames at 25, 30 and 60 fps, so parts come out equal (iOS rejects parts under 85 % of
	// the part target); gohlslib stretches it for other frame rates.
	hlsPartDuration = 200 * time.Millisecond
	// hlsSegmentMinDuration: a segment ends at the first IDR at least this long after it began. It sits just
	// under the 1 s keyframe interval so that every keyframe ends a segment even when timestamp jitter puts it
	// a tick early; at exactly 1 s such a segment would run on to the next keyframe, 2 s, and raise
	// EXT-X-TARGETDURATION mid-stream, which iOS treats as an error. Longer GOPs give segments of one GOP.
	hlsSegmentMinDuration = 900 * time.Millisecond
	// hlsSegmentCount is how many segments the playlist keeps: 7, the fewest gohlslib allows for LL-HLS. It
	// sets how far back a player can start (about 7 s), not the latency.
	hlsSegmentCount = 7
	// hlsMaxWait bounds how long a request waits for media that isn't there yet: a blocking playlist reload
	// (_HLS_msn, _HLS_part), a part named by EXT-X-PRELOAD-HINT, or the first playlists before the first
	// segment is complete. gohlslib would wait until the media comes or the muxer closes, and a stalled
	// publisher would hold requests forever. Three target durations of 1 s, with room for a longer first GOP.
	hlsMaxWait = 5 * time.Second
	// hlsMaxPending caps the gohlslib requests in flight per stream, counting those that outlived hlsMaxWait
	// and still wait for media; past it, requests get 503. An LL-HLS player keeps about two open (the next
	// playlist and the next part), so this is room for two thousand players.
	hlsMaxPending = 4096
	// hlsMediaCacheControl is for init files, segments and parts. Their names carry a random prefix per
	// publication and never change content, but they leave the playlist within seconds.
	hlsMediaCacheControl = "public, max-age=60"
	// hlsPlaylistCacheControl is for playlists, which change with every part.
	hlsPlaylistCacheControl = "no-cache"
)

// Why fetch gives no file; ServeHTTP maps each to a status.
var (
	errHLSNotLive = errors.New("stream is not live")
	errHLSBusy    = errors.New("too many requests waiting for this stream")
	errHLSTimeout = errors.New("media not ready yet")
)

// hlsMuxer serves one publication of one stream as LL-HLS with fMP4 segments: an H.264 video track and,
// optionally, an Opus audio track, carried as an audio rendition with its own playlist. It is the fallback for
// viewers whose WebRTC fails; they play /hls/{stream}/index.m3u8. All methods are safe to call concurrently.
type hlsMuxer struct {
	log     *slog.Logger
	muxer   *gohlslib.Muxer
	video   *gohlslib.Track
	audio   *gohlslib.Track // nil without audio
	pending chan struct{}   // one token per gohlslib request in flight, hlsMaxPending at most

	mu       sync.Mutex
	closed   bool
	maxWait  time.Duration // hlsMaxWait, shorter in tests
	started  bool          // the first IDR has been written
	origin   time.Duration // pts of the first IDR, time zero for every track
	handlers sync.WaitGroup

	errMu sync.Mutex
	errs  map[string]int // muxer errors seen, by kind
}

// newHLSMuxer creates the muxer for one publication. withAudio adds an Opus track; set it only when the
// publication sends Opus, or the audio playlist lists fragments without a single sample.
func newHLSMuxer(log *slog.Logger, withAudio bool) *hlsMuxer {
	h := &hlsMuxer{
		log:     log.With("component", "hls"),
		video:   &gohlslib.Track{Codec: &codecs.H264{}, ClockRate: 90000},
		maxWait: hlsMaxWait,
		pending: make(chan struct{}, hlsMaxPending),
		errs:    make(map[string]int),
	}
	tracks := []*gohlslib.Track{h.video}
	if withAudio {
		// WebRTC always negotiates Opus as two channels (RFC 7587), whatever the publisher sends.
		h.audio = &gohlslib.Track{Codec: &codecs.Opus{ChannelCount: 2}, ClockRate: 48000}
		tracks = append(tracks, h.audio)
	}
	h.muxer = &gohlslib.Muxer{
		Tracks:             tracks,
		Variant:            gohlslib.MuxerVariantLowLatency,
		SegmentCount:       hlsSegmentCount,
		SegmentMinDuration: hlsSegmentMinDuration,
		PartMinDuration:    hlsPartDuration,
		OnEncodeError:      func(err error) { h.noteError("encode", err) },
	}
	// Start only checks the settings and allocates: it starts no goroutine and opens nothing, so it belongs
	// here. It fails only on settings fixed above, or if crypto/rand fails, which it can't since Go 1.24.
	if err := h.muxer.Start(); err != nil {
		panic("streaming: gohlslib rejects the LL-HLS settings: " + err.Error())
	}
	return h
}

// WriteH264 writes one access unit: NAL units without start codes, SPS and PPS in front of every IDR. ntp is
// the wall-clock time of the frame (EXT-X-PROGRAM-DATE-TIME); pts is on the source's clock, any origin.
// Access units before the first IDR that carries SPS and PPS are dropped: players can't decode them.
func (h *hlsMuxer) WriteH264(ntp time.Time, pts time.Duration, au [][]byte) {
	au = nonEmpty(au) // gohlslib reads the first byte of every NAL unit
	if len(au) == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	if !h.started {
		var idr, sps, pps bool
		for _, nalu := range au {
			switch h264.NALUType(nalu[0] & 0x1f) {
			case h264.NALUTypeIDR:
				idr = true
			case h264.NALUTypeSPS:
				sps = true
			case h264.NALUTypePPS:
				pps = true
			}
		}
		if !idr || !sps || !pps {
			return
		}
		h.started, h.origin = true, pts
	}
	if err := h.muxer.WriteH264(h.video, ntp, ticks(pts-h.origin, 90000), au); err != nil {
		h.noteError("h264", err)
	}
}

// WriteOpus writes Opus packets that follow each other, the first at pts on the same clock as the video.
// Without an audio track, or before the first IDR, they are dropped.
func (h *hlsMuxer) WriteOpus(ntp time.Time, pts time.Duration, packets [][]byte) {
	packets = nonEmpty(packets)
	if h.audio == nil || len(packets) == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || !h.started {
		return
	}
	if err := h.muxer.WriteOpus(h.audio, ntp, ticks(pts-h.origin, 48000), packets); err != nil {
		h.noteError("opus", err)
	}
}

// ServeHTTP serves index.m3u8 and the playlists, init files, segments and parts it leads to, by file name:
// the caller strips the /hls/{stream}/ prefix. Requests for media that isn't there yet wait at most
// hlsMaxWait, then get 503. After Close every request gets 404.
func (h *hlsMuxer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Players on other origins (the embedded demo, OBS browser sources) read playlists and media.
	w.Header().Set("Access-Control-Allow-Origin", "*")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		hlsError(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := strings.TrimPrefix(r.URL.Path, "/")
	playlist := strings.HasSuffix(name, ".m3u8")
	if strings.Contains(name, "/") || !playlist && !strings.HasSuffix(name, ".mp4") {
		hlsError(w, "no such file", http.StatusNotFound)
		return
	}

	res, err := h.fetch(r.Context(), name, r.URL.RawQuery)
	switch {
	case errors.Is(err, errHLSNotLive):
		hlsError(w, err.Error(), http.StatusNotFound)
		return
	case errors.Is(err, errHLSBusy), errors.Is(err, errHLSTimeout):
		w.Header().Set("Retry-After", "1")
		hlsError(w, err.Error(), http.StatusServiceUnavailable)
		return
	case err != nil: // the client left
		return
	case res.status == 0: // gohlslib writes nothing for a name it doesn't know
		hlsError(w, "no such file", http.StatusNotFound)
		return
	case res.status != http.StatusOK: // 400 for a bad _HLS_msn or _HLS_part, 500 for a muxer error
		hlsError(w, http.StatusText(res.status), res.status)
		return
	}

	// gohlslib's own Cache-Control allows 30 s for index.m3u8, too long when the next publication of the
	// stream brings other codecs, and an hour for media that leaves the playlist in seconds.
	w.Header().Set("Content-Type", res.header.Get("Content-Type"))
	if playlist {
		w.Header().Set("Cache-Control", hlsPlaylistCacheControl)
	} else {
		w.Header().Set("Cache-Control", hlsMediaCacheControl)
	}
	w.Header().Set("Content-Length", strconv.Itoa(res.body.Len()))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		w.Write(res.body.Bytes()) // an error means the client left
	}
}

// fetch runs gohlslib's handler for one file on a goroutine of its own and waits for its answer at most
// h.maxWait. gohlslib waits for missing media on a sync.Cond that neither a deadline nor a client leaving can
// wake; a goroutine left behind ends when the media arrives or at Close, and h.pending caps how many there
// are. The handler writes into an hlsResponse, never into a ResponseWriter whose request may be over.
func (h *hlsMuxer) fetch(ctx context.Context, name, rawQuery string) (*hlsResponse, error) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, errHLSNotLive
	}
	maxWait := h.maxWait
	select {
	case h.pending <- struct{}{}:
	default:
		h.mu.Unlock()
		return nil, errHLSBusy
	}
	h.handlers.Add(1)
	h.mu.Unlock()

	res := &hlsResponse{header: make(http.Header)}
	// A request of our own, so that nothing of the caller's is touched after its ServeHTTP returns.
	req := &http.Request{Method: http.MethodGet, URL: &url.URL{Path: name, RawQuery: rawQuery}, Header: make(http.Header)}
	done := make(chan struct{})
	go func() {
		defer h.handlers.Done()
		defer func() { <-h.pending }()
		defer close(done)
		// net/http would recover a panic in gohlslib's handler; on this goroutine nobody else does.
		defer func() {
			if v := recover(); v != nil {
				h.noteError("handler", fmt.Errorf("panic serving %s: %v", name, v))
				res.status = http.StatusInternalServerError
			}
		}()
		h.muxer.Handle(res, req)
	}()

	timer := time.NewTimer(maxWait)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		return nil, errHLSTimeout
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	// gohlslib answers 500 to requests that Close woke up.
	h.mu.Lock()
	closed := h.closed
	h.mu.Unlock()
	if closed {
		return nil, errHLSNotLive
	}
	return res, nil
}

// Close stops the muxer and waits for the requests it holds, which it answers 404 like any that follow.
// It may be called more than once.
func (h *hlsMuxer) Close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	h.mu.Unlock()

	h.muxer.Close()
	h.handlers.Wait()

	h.errMu.Lock()
	defer h.errMu.Unlock()
	for kind, n := range h.errs {
		if n > 1 {
			h.log.Warn("hls muxer errors repeated", "kind", kind, "count", n)
		}
	}
}

// noteError logs the first muxer error of each kind and counts the rest, so a broken stream logs once per
// kind rather than once per frame. Close reports the counts.
func (h *hlsMuxer) noteError(kind string, err error) {
	h.errMu.Lock()
	defer h.errMu.Unlock()
	h.errs[kind]++
	if h.errs[kind] == 1 {
		h.log.Warn("hls muxer error, later ones of this kind are counted", "kind", kind, "err", err)
	}
}

// hlsResponse keeps what gohlslib's handler writes for one request.
type hlsResponse struct {
	header http.Header
	status int // 0 while nothing is written
	body   bytes.Buffer
}

func (r *hlsResponse) Header() http.Header { return r.header }

func (r *hlsResponse) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *hlsResponse) Write(p []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(p)
}

// hlsError answers with an error that no cache keeps: a part missing now may be there in a moment.
func hlsError(w http.ResponseWriter, msg string, status int) {
	w.Header().Set("Cache-Control", "no-store")
	http.Error(w, msg, status)
}

// ticks converts d into units of a clock that runs at rate Hz, rounded to the nearest unit, without
// overflowing for long streams. Rounding matters: a frame at 30 fps lasts 33.333333 ms, and truncating would
// give durations of 2999 and 3000 units at 90 kHz, which gohlslib reads as jitter and answers with longer parts.
func ticks(d time.Duration, rate int64) int64 {
	frac := int64(d%time.Second) * rate
	half := int64(time.Second / 2)
	if frac < 0 {
		half = -half
	}
	return int64(d/time.Second)*rate + (frac+half)/int64(time.Second)
}

// nonEmpty returns bufs without its empty elements, reusing bufs when none is empty.
func nonEmpty(bufs [][]byte) [][]byte {
	for i, b := range bufs {
		if len(b) == 0 {
			out := append([][]byte(nil), bufs[:i]...)
			for _, b := range bufs[i+1:] {
				if len(b) != 0 {
					out = append(out, b)
				}
			}
			return out
		}
	}
	return bufs
}
