package web

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zishang520/engine.io/v2/types"
	"github.com/zishang520/socket.io-go-parser/v2/parser"
	"github.com/zishang520/socket.io/v2/socket"

	"github.com/stagelink/stagelink/lighting"
	"github.com/stagelink/stagelink/printer"
	"github.com/stagelink/stagelink/web/store"
)

// Config is what the web layer needs from the hub's configuration.
type Config struct {
	BridgeTokens []string   // tokens a bridge may present on /bridge
	APIToken     string     // bearer token for /api/v1; empty disables the token-guarded endpoints
	Stream       StreamInfo // told to viewers in `hello`
	Checks       []Check    // dependencies /readyz reports
	// TrustedProxies are the reverse proxies (nginx) whose X-Forwarded-For tells a client's address, for
	// per-address rate limits and blocks; from anyone else the header is ignored.
	TrustedProxies []netip.Prefix
	// Adapter carries Socket.IO broadcasts and disconnects to the other hubs of a cluster (the Redis
	// adapter); nil keeps them in this process. Each hub sends its own viewers the light state it keeps
	// in step with the cluster (lighting.Service.Join), so those broadcasts stay local.
	Adapter socket.AdapterConstructor

	Print       PrintDesk            // print jobs for /api/v1/print; nil answers that printing is not set up
	PrintLayout printer.LayoutConfig // header and footer of receipt pictures

	Moderation          Moderation   // the community's pause switch and refusals; nil: not configured
	TipWebhooks         http.Handler // POST /webhooks/tips/{provider}; nil: not configured (404)
	DiscordInteractions http.Handler // POST /discord/interactions; nil: not configured (404)
	Video               http.Handler // WHIP, WHEP, HLS and /api/v1/streams; nil: no video (404)
	Metrics             http.Handler // GET /metrics (Prometheus); nil: 404

	// Content holds the page, accounts, tokens, presets, blocks, audit log and print history; the
	// dashboard needs it. Nil leaves /admin off (tests of other parts).
	Content    *store.DB
	SetupToken string           // one-time token of the first-admin link; "" when accounts exist
	Limiter    lighting.Limiter // login attempts (shared across hubs with Redis); nil: in memory

	// What the dashboard shows beside lights and print jobs; each may be nil.
	Streams      func() any         // the streams' status
	PrinterState func() (any, bool) // the printer's state, false when unknown

	// PrintQueueDepth tells how many print jobs wait, for /metrics and the dashboard's charts; nil or
	// ok false: not reported. PrinterStatus tells how the printer is, for /metrics; nil or ok false: not
	// reported. Both are called at every scrape and every 10 s: they must be cheap and must not block.
	PrintQueueDepth func() (n int, ok bool)
	PrinterStatus   func() (st printer.PrinterState, ok bool)
}

// StreamInfo says where viewers find the video.
type StreamInfo struct {
	WHEP       string      `json:"whep"`                 // WHEP endpoint; empty: no video
	HLS        string      `json:"hls"`                  // LL-HLS playlist; empty: no HLS
	ICEServers []ICEServer `json:"iceServers,omitempty"` // STUN/TURN servers for the viewer's RTCPeerConnection
}

// ICEServer is one STUN or TURN server, shaped like the browser's RTCIceServer.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// Check is one dependency that /readyz reports.
type Check struct {
	Name  string
	Check func(context.Context) error
}

// maxEventBytes bounds one Engine.IO message. A bridge hello with many WLED zones and their effect lists is
// the largest thing anyone sends; viewer events are checked against a much smaller bound of their own.
const maxEventBytes = 256 << 10

// Server serves the hub's HTTP routes and Socket.IO namespaces.
type Server struct {
	cfg     Config
	lights  *lighting.Service
	log     *slog.Logger
	io      *socket.Server
	mux     *http.ServeMux
	viewers atomic.Int64
	bridges atomic.Int64
	demo    DemoDevices
	paper   DemoPrinter
	closing atomic.Bool
	handler http.Handler // mux behind observeRequests
	metrics *Metrics
	history *History

	// The dashboard's.
	feed      *feed
	page      atomic.Pointer[store.Page]    // what viewers are shown; nil until read
	blocks    atomic.Pointer[[]store.Block] // as last read
	limiter   lighting.Limiter
	argon     argonParams
	dummyHash string // checked against for unknown names, so they take as long as wrong passwords
	tokenUse  tokenUse

	previewer *printer.Previewer // nil if the fonts could not be loaded
}

// New returns a Server. It opens no socket: mount Handler and call Run.
func New(cfg Config, lights *lighting.Service, log *slog.Logger) *Server {
	s := &Server{cfg: cfg, lights: lights, log: log, mux: http.NewServeMux(), feed: newFeed(), limiter: cfg.Limiter, argon: defaultArgon}
	s.metrics = newMetrics(metricSources{viewers: s.viewers.Load, bridges: s.bridges.Load, zones: lights.Zones,
		queueDepth: cfg.PrintQueueDepth, printer: cfg.PrinterStatus})
	s.history = newHistory(s.viewers.Load, cfg.PrintQueueDepth)
	s.handler = s.observeRequests(s.mux)
	if s.limiter == nil {
		s.limiter = lighting.NewMemoryLimiter()
	}
	s.dummyHash = hashPassword(rand.Text(), s.argon)
	lights.Observe(observers{activityObserver{s.feed}, lightObserver{s.metrics, s.history}})
	if h, ok := cfg.Print.(*PrintHistory); ok {
		h.count = s.metrics.PrintJob // set before anything runs
	}
	if p, err := printer.NewPreviewer(); err != nil {
		log.Error("receipt pictures unavailable", "err", err)
	} else {
		s.previewer = p
	}

	opts := socket.DefaultServerOptions()
	opts.SetMaxHttpBufferSize(maxEventBytes)
	opts.SetPingInterval(25 * time.Second)
	opts.SetPingTimeout(20 * time.Second)
	opts.SetServeClient(false)
	opts.SetParser(strictParser{parser.NewParser()})
	// engine.io v2.5.0 starts reading a new WebSocket before it listens for packets, so the first packet
	// of a WebSocket-only client (its namespace CONNECT) can be lost; such a connection is closed when it
	// joined no namespace in time, and the client reconnects. Shorter timeouts (5 s) closed connected
	// clients under load in our tests, so this stays at the library's default.
	opts.SetConnectTimeout(45 * time.Second)
	// With per-message deflate unset, engine.io v2.5.0 writes broadcasts as pre-encoded frames and returns
	// after the first one of a batch (transports/websocket.go), losing the rest: FACTS.md's lost bursts.
	// Setting it, with a threshold no event reaches, takes the path that writes every packet.
	opts.SetPerMessageDeflate(&types.PerMessageDeflate{Threshold: 1 << 20})
	if cfg.Adapter != nil {
		opts.SetAdapter(cfg.Adapter)
	}
	s.io = socket.NewServer(nil, opts)
	viewers := s.io.Of("/", nil)
	viewers.Use(s.prepareViewer)
	viewers.On("connection", s.onViewer)
	bridges := s.io.Of("/bridge", nil)
	bridges.Use(s.authBridge)
	bridges.Use(s.prepareBridge)
	bridges.On("connection", s.onBridge)
	if cfg.Content != nil {
		dash := s.io.Of("/admin", nil)
		dash.Use(s.authAdmin)
		dash.On("connection", s.onAdmin)
	}

	s.routes()
	return s
}

// Handler returns the HTTP handler for every route, which gives each request an id and logs and counts it.
func (s *Server) Handler() http.Handler { return s.handler }

// Run broadcasts light changes and the viewer count, and keeps the dashboard's charts, until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { s.history.Run(ctx) })
	go s.countViewers(ctx)
	if s.demo != nil {
		go s.runDemo(ctx)
	}
	if s.paper != nil {
		go s.runDemoPrinter(ctx)
	}
	if s.cfg.Content != nil {
		go s.syncContent(ctx)
		go s.runFeed(ctx)
		if h, ok := s.cfg.Print.(interface{ Changed() <-chan struct{} }); ok {
			go s.followPrints(ctx, h.Changed())
		}
	}
	return s.lights.Run(ctx, broadcaster{s})
}

// Close disconnects every Socket.IO client; http.Server.Shutdown leaves hijacked connections open.
func (s *Server) Close() {
	s.closing.Store(true)
	done := make(chan struct{})
	s.io.Close(func(error) { close(done) })
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
}

// countViewers broadcasts the viewer count, of every hub in a cluster, when it changed, at most once a
// second.
func (s *Server) countViewers(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	last := int64(-1)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.lights.SetViewers(s.viewers.Load())
		if n := s.lights.Viewers(); n != last {
			last = n
			s.io.Of("/", nil).Local().Emit("viewers", viewersMsg{Count: n})
		}
	}
}

type viewersMsg struct {
	Count int64 `json:"count"`
}

type lightsMsg struct {
	Zones []lighting.Update `json:"zones"`
}

type zonesMsg struct {
	Zones []lighting.Zone `json:"zones"`
}

// broadcaster sends the Service's broadcasts to this hub's viewers.
type broadcaster struct{ s *Server }

var _ lighting.Broadcaster = broadcaster{}

func (b broadcaster) Lights(u []lighting.Update) {
	b.s.io.Of("/", nil).Local().Emit("lights", lightsMsg{u})
}
func (b broadcaster) Zones(z []lighting.Zone) { b.s.io.Of("/", nil).Local().Emit("zones", zonesMsg{z}) }

// observers hears commands for several observers.
type observers []lighting.Observer

func (o observers) Command(v lighting.Viewer, c lighting.Command, e lighting.Entry, err error) {
	for _, x := range o {
		x.Command(v, c, e, err)
	}
}

func (o observers) Confirmed(zone string, version int64, latency time.Duration) {
	for _, x := range o {
		x.Confirmed(zone, version, latency)
	}
}

// tokenOK compares a presented token with the accepted ones in constant time.
func tokenOK(got string, want ...string) bool {
	ok := 0
	for _, w := range want {
		if w != "" {
			ok |= subtle.ConstantTimeCompare([]byte(got), []byte(w))
		}
	}
	return ok == 1
}
