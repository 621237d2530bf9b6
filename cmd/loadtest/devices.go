package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/stagelink/stagelink/bridge"
)

// arrivals records when each colour first reached a device, timestamped as the request arrives.
type arrivals struct {
	clk clock

	mu    sync.Mutex
	first map[uint32]time.Duration
	posts int
}

// wrap timestamps POST /json/state requests, decodes the segment colour from the body, and hands the
// request on to the simulated WLED.
func (a *arrivals) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		at := a.clk.now()
		if r.Method == http.MethodPost && r.URL.Path == "/json/state" {
			body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
			if err == nil {
				a.note(body, at)
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		next.ServeHTTP(w, r)
	})
}

// note records the colour of a WLED state body: {"seg":[{"col":[[r,g,b]]}]}.
func (a *arrivals) note(body []byte, at time.Duration) {
	var req struct {
		Seg []struct {
			Col [][]int `json:"col"`
		} `json:"seg"`
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.posts++
	if json.Unmarshal(body, &req) != nil {
		return
	}
	for _, s := range req.Seg {
		if len(s.Col) == 0 || len(s.Col[0]) < 3 {
			continue
		}
		c := s.Col[0]
		key := uint32(c[0]&0xff)<<16 | uint32(c[1]&0xff)<<8 | uint32(c[2]&0xff)
		if _, ok := a.first[key]; !ok {
			a.first[key] = at
		}
	}
}

// firstArrival returns when colour c first reached the device.
func (a *arrivals) firstArrival(c uint32) (time.Duration, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	at, ok := a.first[c]
	return at, ok
}

func (a *arrivals) requests() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.posts
}

// venue is the simulated venue: one simulated WLED per zone on a loopback listener, driven by the real
// bridge agent connected to the hub.
type venue struct {
	zones    []string
	arrivals []*arrivals
	servers  []*http.Server
	wg       sync.WaitGroup
}

// venueConfig sets up the venue.
type venueConfig struct {
	hub, token string
	zones      []string
	delay      time.Duration // SimWLED processing time; negative: none
	maxRate    float64       // the bridge's requests/s per device
}

// startVenue starts the devices and serves them; run drives them with the bridge agent.
func startVenue(cfg venueConfig, clk clock) (*venue, bridge.Config, error) {
	v := &venue{zones: cfg.zones}
	bc := bridge.Config{Hub: cfg.hub, Token: cfg.token, Name: "loadtest"}
	for _, id := range cfg.zones {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			v.close()
			return nil, bc, fmt.Errorf("device listener: %w", err)
		}
		arr := &arrivals{clk: clk, first: map[uint32]time.Duration{}}
		sim := bridge.NewSimWLED(bridge.SimWLEDConfig{Name: id, Delay: cfg.delay})
		srv := &http.Server{Handler: arr.wrap(sim), ReadHeaderTimeout: 5 * time.Second}
		v.arrivals = append(v.arrivals, arr)
		v.servers = append(v.servers, srv)
		v.wg.Add(1)
		go func() {
			defer v.wg.Done()
			srv.Serve(ln)
		}()
		bc.Zones = append(bc.Zones, bridge.ZoneConfig{ID: id, Name: id,
			WLED: &bridge.WLEDConfig{URL: "http://" + ln.Addr().String(), MaxRate: cfg.maxRate}})
	}
	if err := bc.Validate(); err != nil {
		v.close()
		return nil, bc, fmt.Errorf("bridge config: %w", err)
	}
	return v, bc, nil
}

// runAgent runs the bridge agent until ctx ends.
func runAgent(ctx context.Context, bc bridge.Config, log *slog.Logger) error {
	agent, err := bridge.NewAgent(bc, bridge.DeviceOptions{Log: log})
	if err != nil {
		return err
	}
	agent.MinBackoff, agent.MaxBackoff = 100*time.Millisecond, 2*time.Second
	if err := agent.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// close stops the devices' servers and waits for them.
func (v *venue) close() {
	for _, s := range v.servers {
		s.Close()
	}
	v.wg.Wait()
}

// hubZone is a zone as GET /api/v1/zones shows it.
type hubZone struct {
	ID        string `json:"id"`
	Online    bool   `json:"online"`
	Version   int64  `json:"version"`
	Confirmed bool   `json:"confirmed"`
}

// hubZones reads GET /api/v1/zones.
func hubZones(ctx context.Context, hubURL string) (map[string]hubZone, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, hubURL+"/api/v1/zones", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("zones: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("zones: %s", resp.Status)
	}
	var body struct {
		Zones []hubZone `json:"zones"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body); err != nil {
		return nil, fmt.Errorf("zones: %w", err)
	}
	out := map[string]hubZone{}
	for _, z := range body.Zones {
		out[z.ID] = z
	}
	return out, nil
}

// waitOnline polls the hub until every zone is online, or timeout.
func waitOnline(ctx context.Context, hubURL string, zones []string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		got, err := hubZones(ctx, hubURL)
		last = err
		if err == nil {
			missing := ""
			for _, id := range zones {
				if !got[id].Online {
					missing = id
					break
				}
			}
			if missing == "" {
				return nil
			}
			last = fmt.Errorf("zone %s is not online", missing)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the bridge's zones: %w", last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
