package streaming

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// Defaults of Relay's fields.
const (
	relayReadTimeout    = 5 * time.Second
	relayMinBackoff     = 500 * time.Millisecond
	relayNotLiveBackoff = 5 * time.Second
	relayMaxBackoff     = 30 * time.Second
	relayStableAfter    = 10 * time.Second
	relayHTTPTimeout    = 10 * time.Second
	// relayDeleteTimeout bounds the DELETE that ends a session at the origin: it is a courtesy, and the
	// origin closes a silent session by itself.
	relayDeleteTimeout = 2 * time.Second
)

// relayHeader marks a relay's WHEP request, so that a hub relaying a stream refuses to feed another
// relay of it: a -video-origin that reaches an edge (through a load balancer, or the edge itself) would
// otherwise make relays feed each other with nothing at the start of the chain.
const relayHeader = "Stagelink-Relay"

// errRelayLoop means the origin URL reached a hub that relays the stream itself.
var errRelayLoop = errors.New("the origin URL reaches a hub that relays this stream itself: point it at the origin hub " +
	"(its own address, or a URL whose /whep/ the proxy sends to the origin)")

// Relay pulls a stream from an origin hub over WHEP (a WHEP client: pion, recvonly video and audio, one
// offer with every candidate) and publishes it into the stream of the same name on this hub, whose
// viewers and HLS get it as from any publisher. Keyframe requests of this hub's viewers go to the origin
// as PLIs. The relay counts as one viewer at the origin.
//
// While the origin has nothing live (404 not_live) the relay asks again, waiting MinBackoff and twice as
// long after each refusal, up to NotLiveBackoff; after any other failure up to MaxBackoff. A session that
// fails, disconnects or brings no video for ReadTimeout ends the publication (the stream shows offline),
// is DELETEd at the origin, and the relay connects again.
type Relay struct {
	// ReadTimeout is how long the origin may send no video before the session counts as lost. It also
	// bounds the wait for the first video packet.
	ReadTimeout time.Duration
	// MinBackoff is the wait after the first failure; it doubles after each further one, up to
	// NotLiveBackoff while the origin says the stream is not live and up to MaxBackoff otherwise.
	MinBackoff, NotLiveBackoff, MaxBackoff time.Duration
	// StableAfter is how long a session must deliver video for the wait to start again at MinBackoff.
	StableAfter time.Duration
	// HTTPTimeout bounds the offer's POST, answer included.
	HTTPTimeout time.Duration

	origin *url.URL      // scheme and host only
	user   *url.Userinfo // for basic authentication at the origin (a proxy in front of it), never logged
	remote string        // origin without credentials, for logs and Source.Remote
	log    *slog.Logger
}

// NewRelay returns a relay from the hub at origin, such as http://origin-hub:8080 or
// https://live.example.com: http or https, a host, and no path but "/". A user and password in it go to
// the origin as basic authentication and are never logged. It connects only when the server runs it
// (Server.AddRelay).
func NewRelay(origin string, log *slog.Logger) (*Relay, error) {
	u, err := parseOriginURL(origin)
	if err != nil {
		return nil, err
	}
	user := u.User
	u.User = nil
	remote := u.String()
	return &Relay{
		ReadTimeout:    relayReadTimeout,
		MinBackoff:     relayMinBackoff,
		NotLiveBackoff: relayNotLiveBackoff,
		MaxBackoff:     relayMaxBackoff,
		StableAfter:    relayStableAfter,
		HTTPTimeout:    relayHTTPTimeout,
		origin:         u,
		user:           user,
		remote:         remote,
		log:            log.With("component", "relay", "origin", remote),
	}, nil
}

// parseOriginURL checks an origin hub's URL. Its errors never repeat the URL, which may hold a password.
func parseOriginURL(raw string) (*url.URL, error) {
	const example = "like http://origin-hub:8080 or https://live.example.com"
	if strings.TrimSpace(raw) == "" {
		return nil, errors.New("streaming: the origin URL is empty: give the origin hub's address, " + example)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("streaming: the origin URL does not parse: percent-encode special characters in a user and password, " + example)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, errors.New("streaming: the origin URL must start with http:// or https://, " + example)
	}
	if u.Hostname() == "" {
		return nil, errors.New("streaming: the origin URL has no host, " + example)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, errors.New("streaming: the origin URL's port must be 1-65535, " + example)
		}
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.Opaque != "" {
		return nil, errors.New("streaming: the origin URL must be the hub's root, without a path or query (the relay adds /whep/STREAM), " + example)
	}
	u.Path, u.RawPath = "", ""
	return u, nil
}

// String returns the origin's URL without the user and password.
func (r *Relay) String() string { return r.remote }

// LogValue logs the relay as the origin's URL without the user and password.
func (r *Relay) LogValue() slog.Value { return slog.StringValue(r.remote) }

// run relays stream until ctx ends, with PeerConnections from api, publishing through publish. It
// returns nil once ctx has ended and the session and publication are closed.
func (r *Relay) run(ctx context.Context, stream string, api *webrtc.API, publish rtpPublisher) error {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	log := r.log.With("stream", stream)
	r.retry(ctx, log, func(ctx context.Context) (time.Duration, error) {
		return r.session(ctx, client, stream, api, publish, log)
	})
	return nil
}

// retry calls attempt until ctx ends, waiting after each failure as Relay says. attempt returns how long
// it delivered video and why it ended. A failure is logged when it differs from the one before, so a
// relay waiting for the origin to go live, or for the origin to come back, writes one line, not one per
// attempt.
func (r *Relay) retry(ctx context.Context, log *slog.Logger, attempt func(context.Context) (time.Duration, error)) {
	b := relayBackoff{
		min:     orDefault(r.MinBackoff, relayMinBackoff),
		notLive: orDefault(r.NotLiveBackoff, relayNotLiveBackoff),
		max:     orDefault(r.MaxBackoff, relayMaxBackoff),
	}
	stable := orDefault(r.StableAfter, relayStableAfter)
	last := ""
	for {
		delivered, err := attempt(ctx)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			err = errors.New("the session ended")
		}
		if delivered > 0 {
			last = "" // a session that worked: its end is news
		}
		if delivered >= stable {
			b.reset()
		}
		notLive := errors.Is(err, ErrNotLive)
		wait := b.next(notLive)
		level := slog.LevelWarn
		switch {
		case err.Error() == last:
			level = slog.LevelDebug
		case notLive:
			level = slog.LevelInfo
		}
		last = err.Error()
		log.Log(ctx, level, "relay not connected; trying again", "err", last, "retry_in", wait)
		if !sleep(ctx, wait) {
			return
		}
	}
}

// relayBackoff is the wait before a relay's next attempt.
type relayBackoff struct {
	min, notLive, max time.Duration
	wait              time.Duration
}

// next returns the wait after a failure: min after the first, doubled after each further one, at most
// notLive when the origin said the stream is not live and at most max otherwise.
func (b *relayBackoff) next(notLive bool) time.Duration {
	limit := b.max
	if notLive {
		limit = b.notLive
	}
	b.wait = min(max(b.wait*2, b.min), max(limit, b.min))
	return b.wait
}

// reset starts the waits again at min.
func (b *relayBackoff) reset() { b.wait = 0 }

// session opens one WHEP session at the origin and publishes what it brings until it fails or ctx ends.
// It returns how long it delivered video and why it ended (nil when ctx ended).
func (r *Relay) session(ctx context.Context, client *http.Client, stream string, api *webrtc.API,
	publish rtpPublisher, log *slog.Logger) (delivered time.Duration, err error) {
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return 0, fmt.Errorf("new PeerConnection: %v", err)
	}
	var (
		readers  sync.WaitGroup
		pub      rtpPublication
		location *url.URL
		started  time.Time
	)
	defer func() {
		pc.Close() // ends the readers' ReadRTP
		readers.Wait()
		if pub != nil {
			pub.Close()
		}
		if location != nil {
			r.delete(client, location, log)
		}
	}()
	since := func() time.Duration {
		if started.IsZero() {
			return 0
		}
		return time.Since(started)
	}

	tracks := make(chan *webrtc.TrackRemote, 4)
	pc.OnTrack(func(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		select {
		case tracks <- t:
		default: // more tracks than offered: not carried
		}
	})
	lost := make(chan webrtc.PeerConnectionState, 1)
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		switch s {
		case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateDisconnected, webrtc.PeerConnectionStateClosed:
			select {
			case lost <- s:
			default:
			}
		}
	})
	for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
		if _, err := pc.AddTransceiverFromKind(kind, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			return 0, fmt.Errorf("add a %s transceiver: %v", kind, err)
		}
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return 0, fmt.Errorf("create the offer: %v", err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		return 0, fmt.Errorf("set the offer: %v", err)
	}
	gatherTimeout := time.NewTimer(5 * time.Second)
	select {
	case <-gathered:
		gatherTimeout.Stop()
	case <-ctx.Done():
		gatherTimeout.Stop()
		return 0, nil
	case <-gatherTimeout.C:
		return 0, errors.New("gathering ICE candidates took too long")
	}

	answer, loc, err := r.post(ctx, client, stream, pc.LocalDescription().SDP)
	location = loc
	if err != nil {
		if ctx.Err() != nil {
			return 0, nil
		}
		return 0, err
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		return 0, fmt.Errorf("the origin's answer was refused: %v", err)
	}
	var audio *webrtc.RTPCodecCapability
	if answerSendsOpus(answer) {
		opus := codecOpus
		audio = &opus
	}

	readTimeout := orDefault(r.ReadTimeout, relayReadTimeout)
	silence := time.NewTimer(readTimeout)
	defer silence.Stop()
	alive := make(chan struct{}, 1)
	ended := make(chan error, 2)
	read := func(t *webrtc.TrackRemote, write func(*rtp.Packet), video bool) {
		readers.Go(func() {
			for {
				pkt, _, err := t.ReadRTP()
				if err != nil {
					select {
					case ended <- fmt.Errorf("the origin's %s track ended: %v", t.Kind(), err):
					default:
					}
					return
				}
				write(pkt)
				if video {
					select {
					case alive <- struct{}{}:
					default:
					}
				}
			}
		})
	}
	var pending *webrtc.TrackRemote // audio that came before the video
	var taken <-chan struct{}       // nil until published
	for {
		select {
		case <-ctx.Done():
			return since(), nil
		case s := <-lost:
			return since(), fmt.Errorf("the connection to the origin is %s", s)
		case err := <-ended:
			return since(), err
		case <-taken:
			return since(), errors.New("the publication was taken away")
		case <-silence.C:
			if pub == nil {
				return 0, fmt.Errorf("no video from the origin within %v", readTimeout)
			}
			return since(), fmt.Errorf("no video from the origin for %v", readTimeout)
		case <-alive:
			silence.Reset(readTimeout)
		case t := <-tracks:
			switch {
			case t.Kind() == webrtc.RTPCodecTypeAudio && pub == nil:
				pending = t
			case t.Kind() == webrtc.RTPCodecTypeAudio && audio != nil:
				read(t, pub.writeAudioRTP, false)
			case t.Kind() == webrtc.RTPCodecTypeVideo && pub == nil:
				ssrc := uint32(t.SSRC())
				keyframe := func() {
					_ = pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}})
				}
				codec := t.Codec().RTPCodecCapability
				p, err := publish(Source{Kind: SourceRelay, Remote: r.remote + "/whep/" + stream}, codec, audio, keyframe)
				if err != nil {
					return 0, fmt.Errorf("publish the stream (another source may hold it): %w", err)
				}
				pub, taken, started = p, p.Done(), time.Now()
				read(t, pub.writeVideoRTP, true)
				pub.requestKeyframe() // viewers kept from an earlier publication wait for one
				if pending != nil && audio != nil {
					read(pending, pub.writeAudioRTP, false)
				}
				log.Info("relaying the origin's stream", "codec", codecName(codec), "audio", audio != nil)
			}
		}
	}
}

// post sends the offer to the origin's WHEP endpoint and returns its answer and the session's URL. The
// answer's size is bounded like an offer's. A stream the origin has not live is ErrNotLive.
func (r *Relay) post(ctx context.Context, client *http.Client, stream, offer string) (answer string, location *url.URL, err error) {
	ctx, cancel := context.WithTimeout(ctx, orDefault(r.HTTPTimeout, relayHTTPTimeout))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.origin.JoinPath("whep", stream).String(), strings.NewReader(offer))
	if err != nil {
		return "", nil, fmt.Errorf("WHEP request: %v", err)
	}
	req.Header.Set("Content-Type", "application/sdp")
	req.Header.Set("Accept", "application/sdp")
	req.Header.Set(relayHeader, "1")
	r.authenticate(req)
	resp, err := client.Do(req)
	if err != nil {
		return "", nil, fmt.Errorf("POST the offer to the origin: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxSDPBytes+1))
	if err != nil {
		return "", nil, fmt.Errorf("reading the origin's answer: %v", err)
	}
	if resp.StatusCode != http.StatusCreated {
		var e errorBody
		_ = json.Unmarshal(body, &e)
		switch {
		case resp.StatusCode == http.StatusNotFound && e.Error.Code == "not_live":
			return "", nil, fmt.Errorf("the origin has no stream %q live: %w", stream, ErrNotLive)
		case resp.StatusCode == http.StatusConflict && e.Error.Code == "relay_loop":
			return "", nil, errRelayLoop
		case e.Error.Message != "":
			return "", nil, fmt.Errorf("the origin answered %s: %s", resp.Status, truncate(e.Error.Message, 200))
		default:
			return "", nil, fmt.Errorf("the origin answered %s (is it a stagelink hub?)", resp.Status)
		}
	}
	if loc := resp.Header.Get("Location"); loc != "" {
		if location, err = resp.Request.URL.Parse(loc); err != nil {
			return "", nil, errors.New("the origin's Location does not parse")
		}
	}
	switch {
	case len(body) > maxSDPBytes:
		return "", location, fmt.Errorf("the origin's answer is over %d bytes", maxSDPBytes)
	case !strings.HasPrefix(string(body), "v=0"):
		return "", location, errors.New("the origin's answer is not SDP")
	case location == nil:
		return "", nil, errors.New("the origin answered 201 without a Location")
	}
	return string(body), location, nil
}

// delete ends the session at location, best effort: the origin closes a session that goes silent anyway.
func (r *Relay) delete(client *http.Client, location *url.URL, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), relayDeleteTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, location.String(), nil)
	if err != nil {
		return
	}
	r.authenticate(req)
	resp, err := client.Do(req)
	if err != nil {
		log.Debug("DELETE of the session at the origin", "err", err)
		return
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
}

// authenticate adds the origin URL's user and password to a request for the origin's host.
func (r *Relay) authenticate(req *http.Request) {
	if r.user == nil || req.URL.Host != r.origin.Host {
		return
	}
	pass, _ := r.user.Password()
	req.SetBasicAuth(r.user.Username(), pass)
}

// answerSendsOpus reports whether the origin's answer sends Opus audio: an audio section that sends, has
// a track and names Opus.
func answerSendsOpus(answer string) bool {
	desc := webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer} // a copy: pion's own is shared
	parsed, err := desc.Unmarshal()
	if err != nil {
		return false
	}
	for _, m := range parsed.MediaDescriptions {
		if m.MediaName.Media != "audio" || m.MediaName.Port.Value == 0 {
			continue
		}
		// pion answers sendonly even with no track to send: a track shows as its SSRC and msid.
		_, sendonly := m.Attribute("sendonly")
		_, sendrecv := m.Attribute("sendrecv")
		_, ssrc := m.Attribute("ssrc")
		_, msid := m.Attribute("msid")
		if !sendonly && !sendrecv || !ssrc && !msid {
			continue
		}
		for _, a := range m.Attributes {
			if a.Key == "rtpmap" && strings.Contains(strings.ToLower(a.Value), "opus/") {
				return true
			}
		}
	}
	return false
}

// truncate shortens s to at most n bytes, at a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
