package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/pion/webrtc/v4"

	"github.com/stagelink/stagelink/cmd/internal/cli"
	"github.com/stagelink/stagelink/streaming"
	"github.com/stagelink/stagelink/web"
)

// videoConfig is the live camera's part of the hub's configuration.
type videoConfig struct {
	stream      string
	rtsp        cli.Secret
	udp         string
	tcp         string
	publicIPs   string
	iceServers  string
	turnUser    string
	turnCred    cli.Secret
	hls         bool
	maxViewers  int
	testPattern cli.AutoBool
	origin      cli.Secret // an origin hub's URL: this hub is an edge (it may hold a proxy's password)
}

func (c *videoConfig) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.stream, "stream", "live", "name of the stream the viewer page plays (/whip/NAME, /whep/NAME)")
	fs.Var(&c.rtsp, "rtsp", "IP cameras to pull over RTSP (H.264): a URL (rtsp://user:password@host/path) for -stream, or comma-separated NAME=URL for streams of their own")
	fs.StringVar(&c.udp, "webrtc-udp", ":8189", "the one UDP address every WebRTC session shares")
	fs.StringVar(&c.tcp, "webrtc-tcp", "", "also offer ICE over TCP on this address, for viewers whose network blocks UDP")
	fs.StringVar(&c.publicIPs, "public-ip", "", "comma-separated public IPs to advertise besides the local ones (NAT, Kubernetes node)")
	fs.StringVar(&c.iceServers, "ice-servers", "", "comma-separated STUN/TURN URLs handed to browsers and WHIP/WHEP clients (stun:host:3478,turn:host:3478)")
	fs.StringVar(&c.turnUser, "turn-username", "", "username for the TURN servers of -ice-servers")
	fs.Var(&c.turnCred, "turn-credential", "credential for the TURN servers of -ice-servers (prefer the environment)")
	fs.BoolVar(&c.hls, "hls", true, "serve LL-HLS at /hls/NAME/index.m3u8 for H.264 streams, the fallback when WebRTC fails")
	fs.IntVar(&c.maxViewers, "max-viewers", 500, "most WebRTC viewers at once, all streams together")
	fs.Var(&c.testPattern, "test-pattern", "play a test pattern on -stream while nothing else publishes (default: on in demo mode)")
	fs.Var(&c.origin, "video-origin", "make this hub an edge: relay -stream over WHEP from the origin hub at this URL (http://origin-hub:8080, or a public URL whose /whep/ reaches the origin)")
}

// split returns the non-empty comma-separated items of s.
func split(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// streamingConfig turns the flags into the video server's configuration; publishing needs a token that
// apiToken accepts.
func (c videoConfig) streamingConfig(apiToken func(context.Context, string) bool) streaming.Config {
	cfg := streaming.Config{
		UDPAddr:    c.udp,
		TCPAddr:    c.tcp,
		PublicIPs:  split(c.publicIPs),
		MaxViewers: c.maxViewers,
		HLS:        c.hls,
		Authorize: func(r *http.Request) bool {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			return ok && apiToken != nil && apiToken(r.Context(), got)
		},
	}
	for _, u := range split(c.iceServers) {
		s := webrtc.ICEServer{URLs: []string{u}}
		if strings.HasPrefix(u, "turn") {
			s.Username, s.Credential = c.turnUser, string(c.turnCred)
		}
		cfg.ICEServers = append(cfg.ICEServers, s)
	}
	return cfg
}

func (c videoConfig) validate() error {
	var errs []error
	if err := streaming.CheckStreamName(c.stream); err != nil {
		errs = append(errs, fmt.Errorf("-stream: %v", err))
	}
	if c.maxViewers <= 0 {
		errs = append(errs, fmt.Errorf("-max-viewers %d: want at least 1", c.maxViewers))
	}
	if err := c.streamingConfig(nil).Validate(); err != nil {
		errs = append(errs, err)
	}
	if _, err := c.cameras(); err != nil {
		errs = append(errs, err)
	}
	if c.origin != "" {
		if _, err := streaming.NewRelay(string(c.origin), slog.New(slog.DiscardHandler)); err != nil {
			errs = append(errs, fmt.Errorf("-video-origin: %v", err))
		}
		if c.rtsp != "" {
			errs = append(errs, errors.New("-video-origin with -rtsp: an edge relays the origin's stream and pulls no camera; give -rtsp to the origin hub"))
		}
		if c.testPattern.Or(false) {
			errs = append(errs, errors.New("-video-origin with -test-pattern: an edge relays the origin's stream; run the test pattern on the origin hub"))
		}
	}
	return errors.Join(errs...)
}

// cameras reads -rtsp: one URL for -stream, or NAME=URL items separated by commas. Errors never repeat
// a URL, which may hold a password.
func (c videoConfig) cameras() (map[string]string, error) {
	out := map[string]string{}
	for i, item := range split(string(c.rtsp)) {
		stream, url := c.stream, item
		if !strings.HasPrefix(item, "rtsp://") && !strings.HasPrefix(item, "rtsps://") {
			var ok bool
			if stream, url, ok = strings.Cut(item, "="); !ok {
				return nil, fmt.Errorf("-rtsp item %d: want rtsp://… or NAME=rtsp://…", i+1)
			}
			if err := streaming.CheckStreamName(stream); err != nil {
				return nil, fmt.Errorf("-rtsp item %d: %v", i+1, err)
			}
		}
		if _, dup := out[stream]; dup {
			return nil, fmt.Errorf("-rtsp: two cameras for stream %q", stream)
		}
		if _, err := streaming.NewRTSPSource(url, slog.New(slog.DiscardHandler)); err != nil {
			return nil, fmt.Errorf("-rtsp %s: %v", stream, err)
		}
		out[stream] = url
	}
	return out, nil
}

// openVideo builds the video server with its sources: the RTSP camera, the relay from the origin hub
// (-video-origin), and the test pattern when it is on. It returns what viewers are told about the stream in `hello`.
func openVideo(c videoConfig, apiToken func(context.Context, string) bool, demo bool, log *slog.Logger) (*streaming.Server, web.StreamInfo, error) {
	scfg := c.streamingConfig(apiToken)
	srv, err := streaming.New(scfg, log)
	if err != nil {
		return nil, web.StreamInfo{}, err
	}
	cameras, err := c.cameras()
	if err != nil {
		return nil, web.StreamInfo{}, err
	}
	for stream, url := range cameras {
		cam, err := streaming.NewRTSPSource(url, log)
		if err != nil {
			return nil, web.StreamInfo{}, fmt.Errorf("-rtsp %s: %v", stream, err)
		}
		if err := srv.AddSource(stream, cam); err != nil {
			return nil, web.StreamInfo{}, fmt.Errorf("-rtsp %s: %v", stream, err)
		}
	}
	if c.origin != "" {
		relay, err := streaming.NewRelay(string(c.origin), log)
		if err != nil {
			return nil, web.StreamInfo{}, fmt.Errorf("-video-origin: %v", err)
		}
		if err := srv.AddRelay(c.stream, relay); err != nil {
			return nil, web.StreamInfo{}, fmt.Errorf("-stream: %v", err)
		}
		log.Info("edge: relaying the stream from the origin hub", "stream", c.stream, "origin", relay)
	}
	if c.testPattern.Or(demo && c.origin == "") { // an edge's stream is the origin's, even in the demo
		pattern, err := streaming.NewTestPattern(log)
		if err != nil {
			return nil, web.StreamInfo{}, err
		}
		if err := srv.AddSource(c.stream, pattern); err != nil {
			return nil, web.StreamInfo{}, fmt.Errorf("-stream: %v", err)
		}
	}
	info := web.StreamInfo{WHEP: "/whep/" + c.stream}
	for _, ice := range scfg.ICEServers {
		cred, _ := ice.Credential.(string)
		info.ICEServers = append(info.ICEServers, web.ICEServer{URLs: ice.URLs, Username: ice.Username, Credential: cred})
	}
	if c.hls {
		info.HLS = "/hls/" + c.stream + "/index.m3u8"
	}
	return srv, info, nil
}
