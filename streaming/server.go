package streaming

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/stun/v3"
	"github.com/pion/webrtc/v4"
	"golang.org/x/sync/errgroup"
)

// Config is what the video server needs from the hub's configuration.
type Config struct {
	// UDPAddr is the one UDP port every WebRTC session shares (ICE UDP mux), such as ":8189".
	UDPAddr string
	// TCPAddr, if set, also offers ICE over TCP on this address, for viewers whose network blocks UDP.
	TCPAddr string
	// PublicIPs are advertised to peers besides the machine's own addresses: the public address of a
	// NAT or a Kubernetes node that forwards the UDP port.
	PublicIPs []string
	// ICEServers are the STUN and TURN servers handed to publishers and viewers.
	ICEServers []webrtc.ICEServer
	// MaxViewers bounds the WebRTC viewers of all streams together; 0 means 500.
	MaxViewers int
	// MaxStreams bounds how many streams exist at once; 0 means 8.
	MaxStreams int
	// HLS turns on the LL-HLS fallback for H.264 streams.
	HLS bool
	// Authorize tells whether a request may publish (WHIP) and read stream details; nil refuses all.
	Authorize func(*http.Request) bool
}

// Validate checks the configuration and says how to fix it.
func (c Config) Validate() error {
	var errs []error
	if _, err := net.ResolveUDPAddr("udp", c.UDPAddr); err != nil || c.UDPAddr == "" {
		errs = append(errs, fmt.Errorf("WebRTC UDP address %q: give host:port or :port, such as :8189", c.UDPAddr))
	}
	if c.TCPAddr != "" {
		if _, err := net.ResolveTCPAddr("tcp", c.TCPAddr); err != nil {
			errs = append(errs, fmt.Errorf("WebRTC TCP address %q: give host:port or :port, or leave it empty", c.TCPAddr))
		}
	}
	for _, ip := range c.PublicIPs {
		if net.ParseIP(ip) == nil {
			errs = append(errs, fmt.Errorf("public IP %q is not an IP address", ip))
		}
	}
	for _, s := range c.ICEServers {
		for _, u := range s.URLs {
			if _, err := stun.ParseURI(u); err != nil {
				errs = append(errs, fmt.Errorf("ICE server %q: %v (use stun:host:port or turn:host:port?transport=udp)", u, err))
			}
		}
	}
	if c.MaxViewers < 0 || c.MaxStreams < 0 {
		errs = append(errs, errors.New("the viewer and stream limits must not be negative"))
	}
	return errors.Join(errs...)
}

// streamName is what a stream may be called: it shows in URLs.
var streamName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

// CheckStreamName says what is wrong with a stream name, if anything.
func CheckStreamName(name string) error {
	if !streamName.MatchString(name) {
		return fmt.Errorf("stream name %q: use 1 to 32 lower-case letters, digits and dashes", name)
	}
	return nil
}

// source is something that publishes a stream by itself: an RTSP camera, the test pattern.
type source interface {
	Run(ctx context.Context, publish h264Publisher) error
}

// Server is the hub's video: WHIP ingest, WHEP playback, HLS, and the sources it pulls.
type Server struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	streams  map[string]*Stream
	sessions map[string]*session
	sources  []pulled
	running  bool

	apis    atomic.Pointer[apis] // set while Run runs
	viewers atomic.Int64
	relayed map[string]bool // streams this hub relays from an origin (AddRelay); fixed once Run starts

	// iceTimeouts are ICE's disconnected and failed timeouts and keepalive interval: a viewer that
	// vanishes is noticed within seconds, not pion's default half minute.
	iceTimeouts [3]time.Duration
}

// pulled is a source Run runs for a stream, with the APIs it may open PeerConnections with.
type pulled struct {
	stream *Stream
	run    func(ctx context.Context, st *Stream, a *apis) error
}

// apis are the pion APIs of ingest and playback; they share one ICE UDP mux.
type apis struct {
	ingest, play *webrtc.API
	udp          net.Addr
}

// New returns a Server. It opens no socket: call Run.
func New(cfg Config, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.MaxViewers == 0 {
		cfg.MaxViewers = 500
	}
	if cfg.MaxStreams == 0 {
		cfg.MaxStreams = 8
	}
	return &Server{
		cfg: cfg, log: log, streams: map[string]*Stream{}, sessions: map[string]*session{},
		iceTimeouts: [3]time.Duration{4 * time.Second, 10 * time.Second, 2 * time.Second},
	}, nil
}

// AddSource has Run keep src publishing stream: an RTSP camera or the test pattern.
func (s *Server) AddSource(stream string, src source) error {
	return s.addPulled(stream, func(ctx context.Context, st *Stream, _ *apis) error {
		return src.Run(ctx, st.h264Publish())
	})
}

// AddRelay has Run keep r relaying stream from its origin hub into the stream of the same name here.
func (s *Server) AddRelay(stream string, r *Relay) error {
	err := s.addPulled(stream, func(ctx context.Context, st *Stream, a *apis) error {
		return r.run(ctx, stream, a.ingest, st.rtpPublish())
	})
	if err == nil {
		s.mu.Lock()
		if s.relayed == nil {
			s.relayed = map[string]bool{}
		}
		s.relayed[stream] = true
		s.mu.Unlock()
	}
	return err
}

// relays reports whether this hub relays stream from an origin hub.
func (s *Server) relays(stream string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.relayed[stream]
}

func (s *Server) addPulled(stream string, run func(ctx context.Context, st *Stream, a *apis) error) error {
	if err := CheckStreamName(stream); err != nil {
		return err
	}
	st, err := s.stream(stream)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running {
		return errors.New("add sources before Run")
	}
	s.sources = append(s.sources, pulled{st, run})
	return nil
}

// Run opens the WebRTC ports, runs the sources, and serves until ctx ends; then it closes every
// session.
func (s *Server) Run(ctx context.Context) error {
	s.mu.Lock()
	s.running = true
	sources := s.sources
	s.mu.Unlock()

	udp, err := net.ListenPacket("udp", s.cfg.UDPAddr)
	if err != nil {
		return fmt.Errorf("WebRTC UDP port: %w", err)
	}
	defer udp.Close()
	var tcp net.Listener
	if s.cfg.TCPAddr != "" {
		if tcp, err = net.Listen("tcp", s.cfg.TCPAddr); err != nil {
			return fmt.Errorf("WebRTC TCP port: %w", err)
		}
		defer tcp.Close()
	}
	a, err := s.newAPIs(udp, tcp)
	if err != nil {
		return err
	}
	s.apis.Store(a)
	s.log.Info("WebRTC listening", "udp", udp.LocalAddr().String(), "tcp", s.cfg.TCPAddr)

	g, ctx := errgroup.WithContext(ctx)
	for _, p := range sources {
		g.Go(func() error { return p.run(ctx, p.stream, a) })
	}
	g.Go(func() error {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case now := <-tick.C:
				for _, st := range s.allStreams() {
					st.sample(now)
				}
			}
		}
	})
	<-ctx.Done()
	err = g.Wait()
	s.apis.Store(nil)
	s.closeAll()
	return err
}

// UDPAddr is the address of the shared WebRTC UDP port while Run runs, or nil.
func (s *Server) UDPAddr() net.Addr {
	if a := s.apis.Load(); a != nil {
		return a.udp
	}
	return nil
}

func (s *Server) newAPIs(udp net.PacketConn, tcp net.Listener) (*apis, error) {
	logs := pionLogs{s.log}
	se := webrtc.SettingEngine{LoggerFactory: logs}
	se.SetICEUDPMux(webrtc.NewICEUDPMux(logs.NewLogger("udpmux"), udp))
	networks := []webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6}
	if tcp != nil {
		se.SetICETCPMux(webrtc.NewICETCPMux(logs.NewLogger("tcpmux"), tcp, 8))
		networks = append(networks, webrtc.NetworkTypeTCP4, webrtc.NetworkTypeTCP6)
	}
	se.SetNetworkTypes(networks)
	if ip, ok := udp.LocalAddr().(*net.UDPAddr); ok && ip.IP.IsLoopback() {
		se.SetIncludeLoopbackCandidate(true) // a hub bound to loopback, as in tests
	}
	if len(s.cfg.PublicIPs) > 0 {
		rule := webrtc.ICEAddressRewriteRule{
			External:        s.cfg.PublicIPs,
			AsCandidateType: webrtc.ICECandidateTypeHost,
			Mode:            webrtc.ICEAddressRewriteAppend,
		}
		if err := se.SetICEAddressRewriteRules(rule); err != nil {
			return nil, fmt.Errorf("public IPs: %w", err)
		}
	}
	se.SetICETimeouts(s.iceTimeouts[0], s.iceTimeouts[1], s.iceTimeouts[2])
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled) // candidates are plain addresses

	ingest, err := newIngestAPI(se)
	if err != nil {
		return nil, err
	}
	play, err := newPlayAPI(se)
	if err != nil {
		return nil, err
	}
	return &apis{ingest: ingest, play: play, udp: udp.LocalAddr()}, nil
}

// newIngestAPI is for publishers: it asks for retransmissions, reports reception, and gives the
// publisher's congestion control transport-wide feedback so a browser raises its bitrate.
func newIngestAPI(se webrtc.SettingEngine) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	if err := registerCodecs(m); err != nil {
		return nil, err
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(m, ir); err != nil {
		return nil, err
	}
	return webrtc.NewAPI(webrtc.WithSettingEngine(se), webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir)), nil
}

// newPlayAPI is for viewers: it answers NACKs (over RTX where negotiated) and sends sender reports, and
// nothing more, since every interceptor costs CPU on every packet of every viewer.
func newPlayAPI(se webrtc.SettingEngine) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	if err := registerCodecs(m); err != nil {
		return nil, err
	}
	ir := &interceptor.Registry{}
	if err := webrtc.ConfigureNack(m, ir); err != nil {
		return nil, err
	}
	if err := webrtc.ConfigureRTCPReports(ir); err != nil {
		return nil, err
	}
	return webrtc.NewAPI(webrtc.WithSettingEngine(se), webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir)), nil
}

// stream returns the stream called name, creating it within the limit.
func (s *Server) stream(name string) (*Stream, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.streams[name]; ok {
		return st, nil
	}
	if len(s.streams) >= s.cfg.MaxStreams {
		return nil, fmt.Errorf("too many streams: at most %d", s.cfg.MaxStreams)
	}
	var newHLS func(bool) hlsOutput
	if s.cfg.HLS {
		log := s.log.With("stream", name)
		newHLS = func(withAudio bool) hlsOutput { return newHLSMuxer(log, withAudio) }
	}
	st := newStream(name, s.log, newHLS)
	s.streams[name] = st
	return st, nil
}

// lookup returns the stream called name if it exists.
func (s *Server) lookup(name string) *Stream {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.streams[name]
}

func (s *Server) allStreams() []*Stream {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Stream, 0, len(s.streams))
	for _, st := range s.streams {
		out = append(out, st)
	}
	return out
}

// Status reports every stream, by name.
func (s *Server) Status() []Status {
	var out []Status
	for _, st := range s.allStreams() {
		out = append(out, st.Status())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (s *Server) closeAll() {
	s.mu.Lock()
	sessions := make([]*session, 0, len(s.sessions))
	for _, v := range s.sessions {
		sessions = append(sessions, v)
	}
	s.mu.Unlock()
	for _, v := range sessions {
		v.close()
	}
}
