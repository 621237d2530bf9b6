package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/stagelink/stagelink/cmd/internal/cli"
)

// config is the load tool's configuration: flags, each with an environment fallback
// STAGELINK_LOADTEST_<FLAG>.
type config struct {
	viewers, clickers, zones int
	rate                     float64
	duration, settle, idle   time.Duration
	hub                      string
	hubs                     int
	redis                    cli.Secret
	hubPID                   int
	hubBin                   string
	bridgeToken              cli.Secret
	deviceDelay              time.Duration
	deviceRate               float64
	dialConcurrency          int
	connectTimeout           time.Duration
	attempts                 int
	json                     bool
	deflate                  bool
	logLevel, hubLogLevel    string
	hubVerbose               bool

	video        bool
	videoViewers int
	videoBitrate int
	apiToken     cli.Secret
}

func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&c.viewers, "viewers", 1000, "viewer connections to open")
	fs.IntVar(&c.clickers, "clickers", 10, "viewers among them that click")
	fs.IntVar(&c.zones, "zones", 2, "zones (one simulated WLED each) the clicks go to")
	fs.Float64Var(&c.rate, "rate", 20, "clicks per second, all clickers together")
	fs.DurationVar(&c.duration, "duration", 20*time.Second, "how long to click")
	fs.DurationVar(&c.settle, "settle", 3*time.Second, "wait after the last click before checking every viewer's final state")
	fs.DurationVar(&c.idle, "idle", 5*time.Second, "idle time with all viewers connected before sampling the hub's memory")
	fs.StringVar(&c.hub, "hub", "", "URL of a running hub on this machine (http://127.0.0.1:PORT); empty: build and start ./cmd/hub")
	fs.IntVar(&c.hubs, "hubs", 1, "hubs to start; 2 or more share -redis behind nginx with the production config (deploy/nginx)")
	fs.Var(&c.redis, "redis", "Redis URL of a loopback Redis for -hubs 2 or more (redis://127.0.0.1:6379/0)")
	fs.IntVar(&c.hubPID, "hub-pid", 0, "process id of the -hub, to measure its memory and CPU")
	fs.StringVar(&c.hubBin, "hub-bin", "", "hub binary to start instead of building ./cmd/hub")
	fs.Var(&c.bridgeToken, "bridge-token", "bridge token of the -hub (prefer STAGELINK_LOADTEST_BRIDGE_TOKEN)")
	fs.DurationVar(&c.deviceDelay, "device-delay", 5*time.Millisecond, "simulated WLED processing time per request (negative: none)")
	fs.Float64Var(&c.deviceRate, "device-rate", 50, "the bridge's requests per second per device (at most 50)")
	fs.IntVar(&c.dialConcurrency, "dial-concurrency", 32, "viewer connections opened at the same time")
	fs.DurationVar(&c.connectTimeout, "connect-timeout", 3*time.Second, "wait for the hub's CONNECT reply before dialling again")
	fs.IntVar(&c.attempts, "attempts", 5, "connection attempts per viewer")
	fs.BoolVar(&c.deflate, "deflate", false, "offer permessage-deflate, as browsers do (the hub compresses nothing below 1 MB)")
	fs.BoolVar(&c.json, "json", false, "also print the report as one JSON line")
	fs.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.hubLogLevel, "hub-log-level", "warn", "log level of the hub this tool starts")
	fs.BoolVar(&c.hubVerbose, "hub-stderr", false, "copy the started hub's log to stderr")
	fs.BoolVar(&c.video, "video", false, "measure video fan-out instead of lights: one WHIP publisher, -video-viewers WHEP viewers, for -duration")
	fs.IntVar(&c.videoViewers, "video-viewers", 50, "WHEP viewers with -video")
	fs.IntVar(&c.videoBitrate, "video-bitrate", 2_000_000, "bit/s of the published H.264 stream with -video")
	fs.Var(&c.apiToken, "api-token", "API token of the -hub, for publishing with -video (prefer STAGELINK_LOADTEST_API_TOKEN)")
	if err := cli.Parse(fs, args, "STAGELINK_LOADTEST_", getenv); err != nil {
		return c, err
	}
	return c, c.validate()
}

func (c config) validate() error {
	var errs []error
	check := func(ok bool, msg string) {
		if !ok {
			errs = append(errs, errors.New(msg))
		}
	}
	check(c.viewers >= 1 && c.viewers <= 50000, "-viewers must be 1–50000")
	check(c.clickers >= 1 && c.clickers <= c.viewers, "-clickers must be 1–viewers")
	check(c.zones >= 1 && c.zones <= 64, "-zones must be 1–64")
	check(c.rate > 0 && c.rate <= 1000, "-rate must be above 0 and at most 1000 clicks/s")
	check(c.duration > 0 && c.duration <= time.Hour, "-duration must be above 0 and at most 1h")
	check(c.rate*c.duration.Seconds() <= 1e6, "-rate × -duration must be at most 1,000,000 clicks")
	check(c.settle >= 0 && c.settle <= 5*time.Minute, "-settle must be 0–5m")
	check(c.idle >= 0 && c.idle <= 5*time.Minute, "-idle must be 0–5m")
	check(c.deviceRate > 0 && c.deviceRate <= 50, "-device-rate must be above 0 and at most 50")
	check(c.deviceDelay <= time.Second, "-device-delay must be at most 1s")
	check(c.dialConcurrency >= 1 && c.dialConcurrency <= 1000, "-dial-concurrency must be 1–1000")
	check(c.connectTimeout > 0 && c.connectTimeout <= time.Minute, "-connect-timeout must be above 0 and at most 1m")
	check(c.attempts >= 1 && c.attempts <= 20, "-attempts must be 1–20")
	if c.hub != "" {
		if err := checkLoopback(c.hub); err != nil {
			errs = append(errs, fmt.Errorf("-hub: %w", err))
		}
		check(c.video || c.bridgeToken != "", "-hub needs -bridge-token (or STAGELINK_LOADTEST_BRIDGE_TOKEN) for the load tool's bridge")
		check(!c.video || c.apiToken != "", "-video with -hub needs -api-token (or STAGELINK_LOADTEST_API_TOKEN) to publish")
		check(c.hubBin == "", "-hub-bin starts a hub: leave out -hub")
	}
	check(c.hubPID >= 0, "-hub-pid must be a process id")
	check(c.hubs >= 1 && c.hubs <= 8, "-hubs must be 1–8")
	if c.hubs > 1 {
		check(c.hub == "", "-hubs starts hubs: leave out -hub")
		check(!c.video, "-hubs measures lights: leave out -video")
		if c.redis == "" {
			errs = append(errs, errors.New("-hubs 2 or more needs -redis (or STAGELINK_LOADTEST_REDIS), for example redis://127.0.0.1:6379/0"))
		} else if err := checkLoopback(strings.Replace(string(c.redis), "redis://", "http://", 1)); err != nil {
			errs = append(errs, fmt.Errorf("-redis: want redis://127.0.0.1:PORT[/DB]: %w", err))
		}
	}
	check(c.videoViewers >= 1 && c.videoViewers <= 2000, "-video-viewers must be 1–2000")
	check(c.videoBitrate >= 100_000 && c.videoBitrate <= 50_000_000, "-video-bitrate must be 100000–50000000")
	return errors.Join(errs...)
}

// checkLoopback accepts only http URLs on a loopback address: the tool never loads another machine.
func checkLoopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return errors.New("want http://127.0.0.1:PORT")
	}
	ip := net.ParseIP(u.Hostname())
	if ip == nil || !ip.IsLoopback() {
		return errors.New("only loopback hubs (127.0.0.1, ::1) are allowed")
	}
	return nil
}

// run is the load tool: it returns after one measured run, or when ctx ends.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseConfig(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	log, err := cli.Logger(stderr, cfg.logLevel)
	if err != nil {
		return err
	}
	wall := time.Now()
	if soft, hard, err := raiseFileLimit(); err != nil {
		log.Warn("open-file limit not raised", "err", err)
	} else if need := uint64(cfg.viewers + 200); soft < need {
		return fmt.Errorf("the open-file limit is %d (hard %d); %d viewers need about %d: raise ulimit -Hn", soft, hard, cfg.viewers, need)
	}

	hubURL, token, pid := strings.TrimSuffix(cfg.hub, "/"), string(cfg.bridgeToken), cfg.hubPID
	if cfg.video {
		token = string(cfg.apiToken)
	}
	var hubs []hubRef // the hubs whose memory and CPU are measured
	if pid > 0 {
		hubs = []hubRef{{hubURL, pid}}
	}
	if cfg.hub == "" {
		bin, cleanup, err := hubBinary(ctx, cfg, log)
		if err != nil {
			return err
		}
		defer cleanup()
		token = randomToken()
		if cfg.hubs > 1 {
			c, err := launchCluster(ctx, cfg, bin, token, stderr, log)
			if err != nil {
				return err
			}
			defer c.stop()
			hubURL, hubs = c.site, c.refs()
		} else {
			h, err := launchHub(ctx, cfg, bin, token, stderr, log)
			if err != nil {
				return err
			}
			defer h.stop()
			hubURL, pid, hubs = h.url, h.pid, []hubRef{{h.url, h.pid}}
		}
	}
	if cfg.video {
		r, err := measureVideo(ctx, cfg, hubURL, token, pid, log)
		if err != nil {
			return err
		}
		r.print(stdout)
		if cfg.json {
			return r.writeJSON(stdout)
		}
		return nil
	}
	r, err := measureHub(ctx, cfg, hubURL, token, hubs, log)
	if err != nil {
		return err
	}
	r.WallSeconds = round2(time.Since(wall).Seconds())
	r.print(stdout)
	if cfg.json {
		return r.writeJSON(stdout)
	}
	return nil
}

// launched is a hub the tool started.
type launched struct {
	*hubProc
	token string
	data  string // its data directory, removed by stop
}

// stop stops the hub and removes its data directory.
func (l launched) stop() {
	l.hubProc.stop()
	os.RemoveAll(l.data)
}

// hubBinary returns -hub-bin, or builds ./cmd/hub into a temporary directory that cleanup removes.
func hubBinary(ctx context.Context, cfg config, log *slog.Logger) (bin string, cleanup func(), err error) {
	if cfg.hubBin != "" {
		return cfg.hubBin, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "loadtest-hub-")
	if err != nil {
		return "", nil, err
	}
	log.Info("building the hub")
	if bin, err = buildHub(ctx, dir); err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	return bin, func() { os.RemoveAll(dir) }, nil
}

// launchHub starts the hub bin on 127.0.0.1 with the bridge and API token, no demo, and rate limits
// loose enough that the tool's clicks, all from 127.0.0.1, are not refused; extra are more flags.
func launchHub(ctx context.Context, cfg config, bin, token string, stderr io.Writer, log *slog.Logger, extra ...string) (launched, error) {
	// The hub's embedded stores (print queue, content) go in a directory of their own, never the
	// working directory.
	data, err := os.MkdirTemp("", "loadtest-data-")
	if err != nil {
		return launched{}, err
	}
	loose := strconv.FormatFloat(max(1000, 10*cfg.rate), 'f', -1, 64)
	burst := strconv.Itoa(int(max(1000, 10*cfg.rate)))
	args := []string{"-addr", "127.0.0.1:0", "-bridge-token", token, "-demo=false", "-log-level", cfg.hubLogLevel,
		"-viewer-rate", loose, "-viewer-burst", burst, "-ip-rate", loose, "-ip-burst", burst,
		"-zone-rate", loose, "-zone-burst", burst,
		"-api-token", token, "-webrtc-udp", "127.0.0.1:0", "-test-pattern=false", "-max-viewers", "5000", "-data", data}
	var also io.Writer
	if cfg.hubVerbose {
		also = stderr
	}
	h, err := startHub(ctx, bin, append(args, extra...), also)
	if err != nil {
		os.RemoveAll(data)
		return launched{}, err
	}
	log.Info("hub started", "url", h.url, "pid", h.pid)
	return launched{h, token, data}, nil
}

// measureHub runs the venue, the viewers and the clicks against the hub at hubURL and reports.
func measureHub(ctx context.Context, cfg config, hubURL, token string, hubs []hubRef, log *slog.Logger) (*report, error) {
	clk := clock{base: time.Now()}
	zones := make([]string, cfg.zones)
	zoneIdx := map[string]int{}
	for i := range zones {
		zones[i] = fmt.Sprintf("loadtest-%d", i)
		zoneIdx[zones[i]] = i
	}
	ven, bc, err := startVenue(venueConfig{hub: hubURL, token: token, zones: zones,
		delay: cfg.deviceDelay, maxRate: cfg.deviceRate}, clk)
	if err != nil {
		return nil, err
	}
	defer ven.close()
	actx, stopAgent := context.WithCancel(ctx)
	agentDone := make(chan error, 1)
	go func() { agentDone <- runAgent(actx, bc, log) }()
	defer func() {
		stopAgent()
		<-agentDone
	}()
	if err := waitOnline(ctx, hubURL, zones, 20*time.Second); err != nil {
		return nil, err
	}

	r := &report{Viewers: cfg.viewers, Zones: cfg.zones, Clickers: cfg.clickers}
	rssBefore := make([]int64, len(hubs))
	for i, h := range hubs {
		if rssBefore[i], err = medianRSS(ctx, h.pid, 5, 200*time.Millisecond); err != nil {
			return nil, fmt.Errorf("hub memory: %w", err)
		}
	}

	log.Info("connecting viewers", "n", cfg.viewers)
	clicks := &clickLog{}
	d := dialer{wsURL: "ws" + strings.TrimPrefix(hubURL, "http") + "/socket.io/?EIO=4&transport=websocket",
		clk: clk, zones: zoneIdx, acks: clicks.ack, connectTimeout: cfg.connectTimeout, deflate: cfg.deflate}
	p := &pool{}
	defer p.close()
	start := time.Now()
	p.connect(ctx, d, cfg.viewers, cfg.dialConcurrency, cfg.attempts, log)
	r.Connected, r.ConnectFailed, r.ConnectRetries = len(p.viewers), p.failed, p.retries.Load()
	r.ConnectSeconds = round2(time.Since(start).Seconds())
	log.Info("viewers connected", "connected", r.Connected, "failed", r.ConnectFailed,
		"retries", r.ConnectRetries, "in", time.Since(start).Round(time.Millisecond), "last_err", p.lastErr)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if r.Connected < cfg.clickers {
		return nil, fmt.Errorf("only %d viewers connected: %v", r.Connected, p.lastErr)
	}

	if err := sleep(ctx, cfg.idle); err != nil {
		return nil, err
	}
	figures := make([]hubFigures, len(hubs))
	var before, after int64
	for i, h := range hubs {
		rssAfter, err := medianRSS(ctx, h.pid, 5, 500*time.Millisecond)
		if err != nil {
			return nil, fmt.Errorf("hub memory: %w", err)
		}
		f := &figures[i]
		f.URL, f.RSSBeforeMB, f.RSSAfterMB = h.url, round2(float64(rssBefore[i])/1024), round2(float64(rssAfter)/1024)
		f.Viewers = r.Connected
		if len(hubs) > 1 {
			if f.Viewers, err = hubViewers(ctx, h.url); err != nil {
				return nil, err
			}
		}
		f.KBPerViewer = round2(float64(rssAfter-rssBefore[i]) / float64(max(1, f.Viewers)))
		before, after = before+rssBefore[i], after+rssAfter
	}
	if len(hubs) > 0 {
		r.RSSBeforeMB, r.RSSAfterMB = round2(float64(before)/1024), round2(float64(after)/1024)
		r.KBPerViewer = round2(float64(after-before) / float64(max(1, r.Connected)))
	}

	log.Info("clicking", "clickers", cfg.clickers, "rate", cfg.rate, "for", cfg.duration)
	hubCPU0 := make([]time.Duration, len(hubs))
	for i, h := range hubs {
		hubCPU0[i], _ = cpuTime(h.pid)
	}
	toolCPU0, _ := cpuTime(os.Getpid())
	clickStart := time.Now()
	plan := clickPlan{clickers: p.viewers[:cfg.clickers], zones: zones, rate: cfg.rate, duration: cfg.duration}
	plan.run(ctx, clicks)
	clicking := time.Since(clickStart)
	r.Duration = round2(clicking.Seconds())
	for i, h := range hubs {
		cpu, _ := cpuTime(h.pid)
		figures[i].CPU = round2(100 * float64(cpu-hubCPU0[i]) / float64(clicking))
		r.HubCPU = round2(r.HubCPU + figures[i].CPU)
	}
	toolCPU1, _ := cpuTime(os.Getpid())
	r.ToolCPU = round2(100 * float64(toolCPU1-toolCPU0) / float64(clicking))

	log.Info("settling", "for", cfg.settle)
	if err := sleep(ctx, cfg.settle); err != nil {
		return nil, err
	}
	var end int64
	for _, h := range hubs {
		kb, err := medianRSS(ctx, h.pid, 3, 200*time.Millisecond)
		if err != nil {
			end = 0
			break
		}
		end += kb
	}
	r.RSSEndMB = round2(float64(end) / 1024)
	if len(hubs) > 1 {
		r.Hubs = figures
	}
	hz, err := hubZones(ctx, hubURL)
	if err != nil {
		return nil, err
	}
	final := make([]hubZone, len(zones))
	for i, id := range zones {
		final[i] = hz[id]
	}
	r.Dropped, err = p.dropped()
	if r.Dropped > 0 {
		log.Warn("viewers dropped by the hub", "n", r.Dropped, "last_err", err)
	}
	p.close()
	r.measure(clicks.all(), ven.arrivals, p.viewers, final)
	return r, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
