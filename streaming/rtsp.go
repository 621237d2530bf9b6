package streaming

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/pion/rtp"
)

// Defaults of RTSPSource's fields.
const (
	rtspReadTimeout = 5 * time.Second
	rtspMinBackoff  = 500 * time.Millisecond
	rtspMaxBackoff  = 30 * time.Second
	rtspStableAfter = 10 * time.Second
	// rtspErrorLogEvery is how often, at most, decode errors of one session are logged.
	rtspErrorLogEvery = 10 * time.Second
)

// RTSPSource pulls H.264 video from an IP camera over RTSP (RFC 2326,
// https://www.rfc-editor.org/rfc/rfc2326; H.264 over RTP is RFC 6184, https://www.rfc-editor.org/rfc/rfc6184)
// and publishes it as a stream. When the camera drops, or sends nothing for ReadTimeout, it ends the
// publication and connects again, waiting longer after each failure.
//
// The video comes interleaved in the RTSP TCP connection, never over UDP: the one outbound connection
// passes NAT and firewalls that drop a camera's UDP, and TCP loses no packets (a lost slice spoils the
// picture until the next keyframe). gortsplib's automatic choice tries UDP first and falls back to TCP
// only after 3 s without packets, which would add those seconds to every reconnect behind NAT.
type RTSPSource struct {
	// ReadTimeout is how long the camera may send no video before it counts as dropped. It also bounds
	// dialling and the wait for each RTSP answer.
	ReadTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait before connecting again: MinBackoff after the first
	// failure, doubled after each further one, at most MaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	// StableAfter is how long a connection must deliver video for the wait to start again at MinBackoff.
	StableAfter time.Duration

	url    *base.URL // with the credentials, which go to the camera only
	remote string    // url without the credentials, for logs and Source.Remote
	log    *slog.Logger
}

// NewRTSPSource returns a source for the camera at rawURL, such as rtsp://user:password@192.168.1.10:554/stream1
// (rtsps:// for RTSP over TLS). The user and password, when given, answer the camera's basic or digest
// authentication. It connects only in Run.
func NewRTSPSource(rawURL string, log *slog.Logger) (*RTSPSource, error) {
	u, err := parseCameraURL(rawURL)
	if err != nil {
		return nil, err
	}
	remote := u.CloneWithoutCredentials().String()
	return &RTSPSource{
		ReadTimeout: rtspReadTimeout,
		MinBackoff:  rtspMinBackoff,
		MaxBackoff:  rtspMaxBackoff,
		StableAfter: rtspStableAfter,
		url:         u,
		remote:      remote,
		log:         log.With("component", "rtsp", "camera", remote),
	}, nil
}

// parseCameraURL checks a camera's URL. Its errors never repeat the URL, which may hold a password.
func parseCameraURL(raw string) (*base.URL, error) {
	const example = "like rtsp://user:password@192.168.1.10:554/stream1"
	if strings.TrimSpace(raw) == "" {
		return nil, errors.New("streaming: the RTSP camera URL is empty: give the camera's stream address, " + example)
	}
	scheme, _, ok := strings.Cut(raw, "://")
	if scheme = strings.ToLower(scheme); !ok || scheme != "rtsp" && scheme != "rtsps" {
		return nil, errors.New("streaming: the RTSP camera URL must start with rtsp:// (or rtsps:// for TLS), " + example)
	}
	u, err := base.ParseURL(raw)
	if err != nil {
		return nil, errors.New("streaming: the RTSP camera URL does not parse: percent-encode special characters " +
			"in the user and password (@ as %40, : as %3A, / as %2F, # as %23), " + example)
	}
	if u.Hostname() == "" {
		return nil, errors.New("streaming: the RTSP camera URL has no host: put the camera's address after rtsp://, " + example)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, errors.New("streaming: the RTSP camera URL's port must be 1-65535 (RTSP's default is 554), " + example)
		}
	}
	return u, nil
}

// String returns the camera's URL without the user and password.
func (s *RTSPSource) String() string { return s.remote }

// LogValue logs the source as the camera's URL without the user and password.
func (s *RTSPSource) LogValue() slog.Value { return slog.StringValue(s.remote) }

// Run publishes the camera's video through publish until ctx ends, connecting again after each failure:
// the camera is unreachable or drops, sends no H.264 or no video for ReadTimeout, or publish refuses
// because another source holds the stream. It returns nil once ctx has ended and the connection and
// publication are closed.
func (s *RTSPSource) Run(ctx context.Context, publish h264Publisher) error {
	minWait, maxWait := orDefault(s.MinBackoff, rtspMinBackoff), orDefault(s.MaxBackoff, rtspMaxBackoff)
	wait := minWait
	for {
		delivered, err := s.session(ctx, publish)
		if ctx.Err() != nil {
			return nil
		}
		if delivered >= orDefault(s.StableAfter, rtspStableAfter) {
			wait = minWait
		}
		s.log.Warn("RTSP camera lost; connecting again", "err", s.redact(err),
			"retry_in", wait, "retry_at", time.Now().Add(wait).Round(time.Millisecond))
		if !sleep(ctx, wait) {
			return nil
		}
		wait = min(max(wait*2, minWait), max(maxWait, minWait))
	}
}

// sleep waits d, or less if ctx ends first; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// redact returns err's text without the URL's user and password, should the error carry the URL.
func (s *RTSPSource) redact(err error) string {
	msg := err.Error()
	if s.url.User == nil {
		return msg
	}
	user := s.url.User.Username()
	pass, _ := s.url.User.Password()
	for _, info := range []string{s.url.User.String(), user + ":" + pass} {
		if info != "" && info != ":" {
			msg = strings.ReplaceAll(msg, info+"@", "REDACTED@")
		}
	}
	return msg
}

// session connects to the camera and publishes its video until the camera drops or ctx ends. It returns
// why it ended and for how long video was written.
func (s *RTSPSource) session(ctx context.Context, publish h264Publisher) (time.Duration, error) {
	readTimeout := orDefault(s.ReadTimeout, rtspReadTimeout)
	errs := &errorTally{log: s.log, every: rtspErrorLogEvery}
	defer errs.flush()
	tcp := gortsplib.ProtocolTCP
	c := &gortsplib.Client{
		Scheme:   s.url.Scheme,
		Host:     s.url.Host,
		Protocol: &tcp, // interleaved: see RTSPSource
		// gortsplib's own check for a silent connection counts in whole seconds and would fire up to a
		// second early; the loop below watches the video itself, to the millisecond.
		ReadTimeout:  readTimeout + time.Second,
		WriteTimeout: readTimeout,
		// gortsplib logs these with the standard logger unless told otherwise.
		OnTransportSwitch: func(err error) { s.log.Debug("RTSP transport switch", "err", err) },
		OnPacketsLost:     func(lost uint64) { errs.add(fmt.Errorf("%d RTP packets lost", lost)) },
		OnDecodeError:     errs.add,
	}
	if err := c.Start(); err != nil {
		return 0, fmt.Errorf("start the RTSP client: %v", err)
	}
	var pub h264Publication
	var wg sync.WaitGroup
	clientErr := make(chan error, 1)
	wg.Go(func() { clientErr <- c.Wait() })
	stopClose := context.AfterFunc(ctx, c.Close) // unblocks Describe, Setup and Play
	defer func() {
		stopClose()
		c.Close() // stops the client's goroutines: no packet callback runs after it returns
		wg.Wait()
		if pub != nil {
			pub.Close()
		}
	}()

	desc, _, err := c.Describe(s.url)
	if err != nil {
		return 0, fmt.Errorf("describe: %v", err)
	}
	var forma *format.H264
	medi := desc.FindFormat(&forma)
	if medi == nil {
		var offered []string
		for _, m := range desc.Medias {
			for _, f := range m.Formats {
				offered = append(offered, f.RTPMap())
			}
		}
		if offered == nil {
			offered = []string{"no media"}
		}
		return 0, fmt.Errorf("the camera sends no H.264 video (it offers %s): set its video encoding to H.264",
			strings.Join(offered, ", "))
	}
	dec, err := forma.CreateDecoder()
	if err != nil {
		return 0, fmt.Errorf("H.264 from the camera: %v", err)
	}
	if _, err := c.Setup(desc.BaseURL, medi, 0, 0); err != nil {
		return 0, fmt.Errorf("setup: %v", err)
	}
	sps, pps := forma.SafeParams()
	p, err := publish(Source{Kind: "rtsp", Remote: s.remote}, sps, pps)
	if err != nil {
		return 0, fmt.Errorf("publish the stream (another source may hold it): %v", err)
	}
	pub = p
	d := &h264Depacketizer{
		dec:       dec,
		pub:       pub,
		clockRate: int64(forma.ClockRate()),
		params:    h264ParamSets{sps: sps, pps: pps},
		errs:      errs,
		start:     time.Now(),
	}
	alive := make(chan struct{}, 1)
	c.OnPacketRTP(medi, forma, func(pkt *rtp.Packet) {
		select {
		case alive <- struct{}{}:
		default:
		}
		pts, ok := c.PacketPTS(medi, pkt)
		d.packet(pkt, pts, ok)
	})
	if _, err := c.Play(nil); err != nil {
		return 0, fmt.Errorf("play: %v", err)
	}
	s.log.Info("pulling H.264 from the RTSP camera", "transport", "TCP")

	timeout := time.NewTimer(readTimeout)
	defer timeout.Stop()
	for {
		select {
		case <-ctx.Done():
			return d.delivered(), ctx.Err()
		case err := <-clientErr:
			return d.delivered(), fmt.Errorf("connection: %v", err)
		case <-alive:
			timeout.Reset(readTimeout)
		case <-timeout.C:
			return d.delivered(), fmt.Errorf("no video for %v", readTimeout)
		}
	}
}

// h264Depacketizer turns one connection's RTP packets into access units written to a publication. Only
// the RTSP client's reader goroutine calls packet.
type h264Depacketizer struct {
	dec       *rtph264.Decoder
	pub       h264Publication
	clockRate int64
	params    h264ParamSets
	errs      *errorTally
	start     time.Time

	started bool // a keyframe has been written

	firstWrite atomic.Int64 // time of the first write after start, in ns; 0 before it
}

// packet decodes one RTP packet, whose presentation time gortsplib gives as pts (ptsOK false before the
// first keyframe or parameter set), and writes the access unit it completes. The access unit gets the
// packet's time: from a camera that sets no RTP marker, the decoder returns each access unit when the
// next one starts, so all its times come one frame late, evenly.
func (d *h264Depacketizer) packet(pkt *rtp.Packet, pts int64, ptsOK bool) {
	au, err := d.dec.Decode(pkt)
	switch {
	case errors.Is(err, rtph264.ErrMorePacketsNeeded),
		// normal when joining a stream in the middle of a fragmented NAL unit
		errors.Is(err, rtph264.ErrNonStartingPacketAndNoPrevious):
		return
	case err != nil:
		d.errs.add(err)
		return
	case !ptsOK:
		return
	}
	au, idr := d.params.fill(au)
	if !d.started {
		// a decoder can use nothing before a keyframe and its parameter sets
		if !idr || d.params.sps == nil || d.params.pps == nil {
			return
		}
		d.started = true
		d.firstWrite.Store(max(int64(time.Since(d.start)), 1))
	}
	d.pub.WriteH264(ticksToDuration(pts, d.clockRate), au)
}

// delivered is how long ago the first access unit was written; 0 if none was.
func (d *h264Depacketizer) delivered() time.Duration {
	first := d.firstWrite.Load()
	if first == 0 {
		return 0
	}
	return time.Since(d.start) - time.Duration(first)
}

// ticksToDuration converts a time in clockRate units without overflowing int64 nanoseconds.
func ticksToDuration(ticks, clockRate int64) time.Duration {
	return time.Duration(ticks/clockRate)*time.Second + time.Duration(ticks%clockRate)*time.Second/time.Duration(clockRate)
}

// h264ParamSets holds the last SPS and PPS of a stream.
type h264ParamSets struct {
	sps, pps []byte
}

// fill takes the SPS and PPS a camera sends in-band (it may change them) and puts the last known ones in
// front of an IDR slice when au lacks them, SPS before PPS, after an access unit delimiter or SEI. It
// reports whether au holds an IDR slice. Empty NAL units are dropped.
func (p *h264ParamSets) fill(au [][]byte) ([][]byte, bool) {
	hasSPS, hasPPS, idr, empty := false, false, false, false
	for _, nalu := range au {
		if len(nalu) == 0 {
			empty = true
			continue
		}
		switch h264.NALUType(nalu[0] & 0x1f) {
		case h264.NALUTypeSPS:
			hasSPS = true
			if !slices.Equal(p.sps, nalu) {
				p.sps = slices.Clone(nalu)
			}
		case h264.NALUTypePPS:
			hasPPS = true
			if !slices.Equal(p.pps, nalu) {
				p.pps = slices.Clone(nalu)
			}
		case h264.NALUTypeIDR:
			idr = true
		}
	}
	needSPS := idr && !hasSPS && p.sps != nil
	needPPS := idr && !hasPPS && p.pps != nil
	if !needSPS && !needPPS && !empty {
		return au, idr
	}
	out := make([][]byte, 0, len(au)+2)
	for _, nalu := range au {
		if len(nalu) == 0 {
			continue
		}
		typ := h264.NALUType(nalu[0] & 0x1f)
		if needSPS && (typ == h264.NALUTypePPS || typ == h264.NALUTypeIDR) {
			out = append(out, p.sps)
			needSPS = false
		}
		if needPPS && typ == h264.NALUTypeIDR {
			out = append(out, p.pps)
			needPPS = false
		}
		out = append(out, nalu)
	}
	return out, idr
}

// errorTally logs a connection's decode errors at debug level, at most once per interval, with how many
// there were since the last line.
type errorTally struct {
	log   *slog.Logger
	every time.Duration

	mu     sync.Mutex
	n      int
	last   error
	logged time.Time
}

func (t *errorTally) add(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.n, t.last = t.n+1, err
	if now := time.Now(); t.logged.IsZero() || now.Sub(t.logged) >= t.every {
		t.logLocked()
		t.logged = now
	}
}

// flush logs the errors not logged yet.
func (t *errorTally) flush() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.n > 0 {
		t.logLocked()
	}
}

func (t *errorTally) logLocked() {
	t.log.Debug("H.264 from the RTSP camera has errors", "count", t.n, "last", t.last)
	t.n, t.last = 0, nil
}
