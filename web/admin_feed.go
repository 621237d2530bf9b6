package web

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zishang520/socket.io/v2/socket"

	"github.com/stagelink/stagelink/lighting"
	"github.com/stagelink/stagelink/printer"
	"github.com/stagelink/stagelink/web/store"
)

// The /admin namespace feeds open dashboards: `state` when anything in it changed (at most once a
// second), `activity` in batches, `series` every minute, `prints` when a job changed, `page` when the
// page did. Nothing is computed while no dashboard is open.
const (
	feedStateEvery    = time.Second
	feedActivityEvery = 250 * time.Millisecond
	feedSeriesEvery   = time.Minute
	maxActivity       = 200
	recentPrints      = 50
)

// activityItem is one line of the dashboard's activity feed.
type activityItem struct {
	At   time.Time     `json:"at"`
	Kind string        `json:"kind"` // light, refused, print, admin
	Who  string        `json:"who,omitempty"`
	IP   string        `json:"ip,omitempty"`
	Zone string        `json:"zone,omitempty"`
	Text string        `json:"text,omitempty"`
	Code lighting.Code `json:"code,omitempty"`
}

type activityMsg struct {
	Items []activityItem `json:"items"`
}

// feed is the dashboards' side of the server: who is connected and what waits to be sent.
type feed struct {
	sockets atomic.Int64
	wake    chan struct{} // something in `state` changed: send it soon

	mu      sync.Mutex
	recent  []activityItem // the last maxActivity, oldest first, for a dashboard that connects
	pending []activityItem // not yet sent
	prints  bool           // a print job changed since the last `prints`
}

func newFeed() *feed { return &feed{wake: make(chan struct{}, 1)} }

// kick asks for a `state` soon.
func (f *feed) kick() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

func (f *feed) add(it activityItem) {
	if it.At.IsZero() {
		it.At = time.Now()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.recent) == maxActivity {
		copy(f.recent, f.recent[1:])
		f.recent = f.recent[:maxActivity-1]
	}
	f.recent = append(f.recent, it)
	if f.sockets.Load() > 0 && len(f.pending) < maxActivity {
		f.pending = append(f.pending, it)
	}
}

// activity adds a line to the dashboards' activity feed.
func (s *Server) activity(it activityItem) { s.feed.add(it) }

// printsChanged marks the dashboards' print list stale.
func (s *Server) printsChanged() {
	s.feed.mu.Lock()
	s.feed.prints = true
	s.feed.mu.Unlock()
}

// authAdmin admits a dashboard socket whose handshake carries a valid session cookie from this site.
func (s *Server) authAdmin(sock *socket.Socket, next func(*socket.ExtendedError)) {
	h := http.Header(sock.Handshake().Headers)
	// Go keeps a request's Host out of its Header: read it from the handshake's request, or every browser
	// (which sends Origin) would look cross-site.
	r := &http.Request{Header: h, Host: sock.Request().Request().Host}
	if s.cfg.Content == nil || !sameOrigin(r) {
		next(socket.NewExtendedError("unauthorized", nil))
		return
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		next(socket.NewExtendedError("unauthorized", nil))
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sess, who, err := s.sessionByID(ctx, c.Value)
	if err != nil {
		next(socket.NewExtendedError("unauthorized", nil))
		return
	}
	sock.Join(accountRoom(who.ID), sessionRoom(sess.Hash))
	s.feed.sockets.Add(1)
	s.metrics.AddDashboardSessions(1)
	sock.On("disconnect", func(...any) {
		s.feed.sockets.Add(-1)
		s.metrics.AddDashboardSessions(-1)
	})
	next(nil)
}

// onAdmin sends a dashboard that connected everything it shows.
func (s *Server) onAdmin(args ...any) {
	sock, ok := args[0].(*socket.Socket)
	if !ok {
		return
	}
	sock.Join(everyone)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sock.Emit("state", s.dashboardState(ctx))
	sock.Emit("series", s.series())
	s.feed.mu.Lock()
	recent := append([]activityItem(nil), s.feed.recent...)
	s.feed.mu.Unlock()
	sock.Emit("activity", activityMsg{Items: recent})
	if p := s.currentPage(); p != nil {
		sock.Emit("page", p)
	}
	if jobs, err := s.recentPrints(ctx); err == nil {
		sock.Emit("prints", printsMsg{OK: true, Jobs: jobs})
	}
}

// dashboardState is the `state` event and GET /admin/api/overview.
type dashboardState struct {
	Viewers int64                 `json:"viewers"`
	Paused  pausedMsg             `json:"paused"`
	Zones   []lighting.ZoneDetail `json:"zones"`
	Streams any                   `json:"streams"`
	Printer *printer.PrinterState `json:"printer"`
	Queue   queueMsg              `json:"queue"`
	Blocks  []store.Block         `json:"blocks"`
}

type queueMsg struct {
	Depth  *int           `json:"depth"` // nil: unknown
	Counts map[string]int `json:"counts"`
}

func (s *Server) dashboardState(ctx context.Context) dashboardState {
	st := dashboardState{
		Viewers: s.viewers.Load(),
		Paused:  s.pausedNow(),
		Zones:   s.lights.AdminZones(),
		Streams: []any{},
		Blocks:  []store.Block{},
	}
	if s.cfg.Streams != nil {
		st.Streams = s.cfg.Streams()
	}
	if s.cfg.PrinterStatus != nil {
		if p, ok := s.cfg.PrinterStatus(); ok {
			st.Printer = &p
		}
	}
	if s.cfg.PrintQueueDepth != nil {
		if n, ok := s.cfg.PrintQueueDepth(); ok {
			st.Queue.Depth = &n
		}
	}
	if c, err := s.cfg.Content.CountPrints(ctx, "queued", "printing", "failed"); err == nil {
		st.Queue.Counts = c
	}
	if bs := s.blocks.Load(); bs != nil {
		st.Blocks = *bs
	}
	return st
}

func (s *Server) adminOverview(w http.ResponseWriter, r *http.Request, _ store.Account) {
	writeJSON(w, http.StatusOK, s.dashboardState(r.Context()))
}

// series is the charts' data: the last hour, one point a minute.
func (s *Server) series() Series { return s.history.Series() }

// runFeed sends the dashboards what changed until ctx ends.
func (s *Server) runFeed(ctx context.Context) {
	nsp := s.io.Of("/admin", nil)
	stateT := time.NewTicker(feedStateEvery)
	actT := time.NewTicker(feedActivityEvery)
	seriesT := time.NewTicker(feedSeriesEvery)
	defer stateT.Stop()
	defer actT.Stop()
	defer seriesT.Stop()
	var last []byte
	for {
		select {
		case <-ctx.Done():
			return
		case <-seriesT.C:
			if s.feed.sockets.Load() > 0 {
				nsp.Local().Emit("series", s.series())
			}
			continue
		case <-actT.C:
			s.sendActivity(ctx, nsp)
			continue
		case <-s.feed.wake:
		case <-stateT.C:
		}
		if s.feed.sockets.Load() == 0 {
			last = nil
			continue
		}
		// The state holds numbers that move (stream bitrate, last seen), so it goes out when it differs
		// from what was sent: about once a second while a stream is live, at once after an action.
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		b, err := json.Marshal(s.dashboardState(sctx))
		cancel()
		if err != nil || bytes.Equal(b, last) {
			continue
		}
		last = b
		nsp.Local().Emit("state", json.RawMessage(b))
	}
}

// sendActivity sends the activity gathered since the last batch, and the print list if a job changed.
func (s *Server) sendActivity(ctx context.Context, nsp socket.Namespace) {
	s.feed.mu.Lock()
	items, prints := s.feed.pending, s.feed.prints
	s.feed.pending, s.feed.prints = nil, false
	s.feed.mu.Unlock()
	if len(items) > 0 {
		nsp.Local().Emit("activity", activityMsg{Items: items})
	}
	if prints && s.feed.sockets.Load() > 0 {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if jobs, err := s.recentPrints(sctx); err == nil {
			nsp.Local().Emit("prints", printsMsg{OK: true, Jobs: jobs})
		}
		s.feed.kick() // the queue counts changed too
	}
}

// activityObserver turns viewers' commands into activity lines.
type activityObserver struct{ f *feed }

var _ lighting.Observer = activityObserver{}

func (o activityObserver) Command(v lighting.Viewer, c lighting.Command, _ lighting.Entry, err error) {
	it := activityItem{Kind: "light", Who: v.Name, IP: v.IP, Zone: c.Zone, Text: describeCommand(c)}
	if err != nil {
		it.Kind, it.Code = "refused", lighting.ErrorCode(err)
	}
	o.f.add(it)
}

func (activityObserver) Confirmed(string, int64, time.Duration) {}

// describeCommand says in a few words what a viewer's command set, for the activity feed.
func describeCommand(c lighting.Command) string {
	var parts []string
	if c.On != nil {
		if *c.On {
			parts = append(parts, "on")
		} else {
			parts = append(parts, "off")
		}
	}
	if c.Color != nil {
		parts = append(parts, c.Color.String())
	}
	if c.Brightness != nil {
		parts = append(parts, "brightness "+strconv.Itoa(*c.Brightness))
	}
	if c.Effect != nil {
		parts = append(parts, "effect "+*c.Effect)
	}
	if c.Speed != nil {
		parts = append(parts, "speed "+strconv.Itoa(*c.Speed))
	}
	if c.Intensity != nil {
		parts = append(parts, "intensity "+strconv.Itoa(*c.Intensity))
	}
	return strings.Join(parts, ", ")
}

// followPrints marks the dashboards' print list stale whenever the print history changed.
func (s *Server) followPrints(ctx context.Context, changed <-chan struct{}) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-changed:
			s.printsChanged()
		}
	}
}
