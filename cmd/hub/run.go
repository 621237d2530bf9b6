package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"github.com/zishang520/socket.io/v2/socket"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"github.com/stagelink/stagelink/bots"
	"github.com/stagelink/stagelink/bridge"
	"github.com/stagelink/stagelink/cmd/internal/cli"
	"github.com/stagelink/stagelink/lighting"
	"github.com/stagelink/stagelink/printer"
	"github.com/stagelink/stagelink/web"
	"github.com/stagelink/stagelink/web/store"
)

// config is the hub's configuration: flags, each with an environment fallback STAGELINK_<FLAG>.
type config struct {
	addr           string
	metricsAddr    string
	redis          cli.Secret
	mysql          cli.Secret
	redisPrefix    string
	trustedProxies string
	bridgeToken    cli.Secret
	apiToken       cli.Secret
	demo           cli.AutoBool
	paused         bool
	logLevel       string
	lights         lighting.Config

	data        string
	amqp        cli.Secret
	amqpPrefix  string
	printer     string
	baud        int
	printHeader string
	printFooter string
	bots        botsConfig
	video       videoConfig
}

func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	c := config{lights: lighting.DefaultConfig()}
	fs := flag.NewFlagSet("hub", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.addr, "addr", ":8080", "HTTP listen address: page, Socket.IO, API")
	fs.StringVar(&c.metricsAddr, "metrics-addr", "", "serve /metrics here only, not on -addr (for example :9090, reached by Prometheus but not by the public)")
	fs.Var(&c.redis, "redis", "Redis URL (redis://…) for shared state and rate limits; empty keeps them in memory")
	fs.StringVar(&c.redisPrefix, "redis-prefix", "stagelink:", "prefix of every Redis key, to share one Redis")
	fs.Var(&c.mysql, "mysql", "MySQL DSN (user:password@tcp(host:3306)/db) for content and accounts; empty: SQLite in -data")
	fs.StringVar(&c.trustedProxies, "trusted-proxies", "", "comma-separated addresses or CIDRs of reverse proxies (nginx) whose X-Forwarded-For names the client")
	fs.Var(&c.bridgeToken, "bridge-token", "token bridge agents present on /bridge (prefer the environment)")
	fs.Var(&c.apiToken, "api-token", "bearer token for /api/v1 (prefer the environment)")
	fs.Var(&c.demo, "demo", "run simulated devices (default: on when no bridge token is configured)")
	fs.BoolVar(&c.paused, "paused", false, "start with viewer commands paused")
	fs.Float64Var(&c.lights.ViewerRate.PerSecond, "viewer-rate", c.lights.ViewerRate.PerSecond, "commands per second per viewer connection")
	fs.IntVar(&c.lights.ViewerRate.Burst, "viewer-burst", c.lights.ViewerRate.Burst, "burst per viewer connection")
	fs.Float64Var(&c.lights.IPRate.PerSecond, "ip-rate", c.lights.IPRate.PerSecond, "commands per second per client IP")
	fs.IntVar(&c.lights.IPRate.Burst, "ip-burst", c.lights.IPRate.Burst, "burst per client IP")
	fs.Float64Var(&c.lights.ZoneRate.PerSecond, "zone-rate", c.lights.ZoneRate.PerSecond, "commands per second per zone")
	fs.IntVar(&c.lights.ZoneRate.Burst, "zone-burst", c.lights.ZoneRate.Burst, "burst per zone")
	fs.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.data, "data", "./data", "directory of the embedded stores: print queue, record of printed jobs")
	fs.Var(&c.amqp, "amqp", "RabbitMQ URL (amqp://user:password@host:5672/) for print jobs; empty: the embedded queue in -data")
	fs.StringVar(&c.amqpPrefix, "amqp-prefix", "stagelink.print", "prefix of the RabbitMQ queue and exchange names")
	fs.StringVar(&c.printer, "printer", "", "serial device of a printer on this machine (/dev/ttyUSB0): runs the printer agent in-process")
	fs.IntVar(&c.baud, "baud", printer.DefaultBaud, "speed of -printer (the printer's DIP switches)")
	fs.StringVar(&c.printHeader, "print-header", "", "text at the top of every receipt")
	fs.StringVar(&c.printFooter, "print-footer", "", "text at the bottom of every receipt")
	c.bots.flags(fs)
	c.video.flags(fs)
	if err := cli.Parse(fs, args, "STAGELINK_", getenv); err != nil {
		return c, err
	}
	c.lights.Paused = c.paused
	return c, errors.Join(c.bots.resolve(), c.validate(), c.video.validate())
}

func (c config) validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.addr); err != nil {
		errs = append(errs, fmt.Errorf("-addr %q: want host:port, for example :8080", c.addr))
	}
	if _, _, err := net.SplitHostPort(c.metricsAddr); c.metricsAddr != "" && err != nil {
		errs = append(errs, fmt.Errorf("-metrics-addr %q: want host:port, for example :9090, or nothing for /metrics on -addr", c.metricsAddr))
	}
	if _, err := web.ParseTrustedProxies(c.trustedProxies); err != nil {
		errs = append(errs, fmt.Errorf("-trusted-proxies: %v", err))
	}
	if c.redis != "" {
		if _, err := redis.ParseURL(string(c.redis)); err != nil {
			errs = append(errs, errors.New("-redis: want redis://[user:password@]host:port[/db]"))
		}
	}
	if c.mysql != "" {
		if err := contentConfig(c.mysql, c.data).Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := c.lights.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.data == "" {
		errs = append(errs, errors.New("-data: want a directory for the embedded stores, for example ./data"))
	}
	if c.amqp != "" {
		if err := (printer.RabbitQueueConfig{URL: string(c.amqp), Prefix: c.amqpPrefix}).Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if c.printer != "" {
		if c.baud <= 0 {
			errs = append(errs, fmt.Errorf("-baud %d: want the printer's speed, for example %d", c.baud, printer.DefaultBaud))
		}
	}
	return errors.Join(errs...)
}

// run is the hub: it returns when ctx ends (after a graceful shutdown) or a part fails.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "admin" {
		return runAdmin(ctx, args[1:], getenv, stdin, stdout, stderr)
	}
	if len(args) > 0 && args[0] == "healthcheck" {
		return runHealthcheck(ctx, args[1:], getenv, stderr)
	}
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

	var (
		states        lighting.Store   = lighting.NewMemoryStore()
		limiter       lighting.Limiter = lighting.NewMemoryLimiter()
		checks        []web.Check
		bus           lighting.Bus // nil: this hub is alone
		socketAdapter socket.AdapterConstructor
		rdb           *redis.Client // nil without -redis
	)
	if cfg.redis != "" {
		rdb, err = lighting.OpenRedis(string(cfg.redis))
		if err != nil {
			return err
		}
		defer rdb.Close()
		states = lighting.NewRedisStore(rdb, cfg.redisPrefix)
		limiter = lighting.NewRedisLimiter(rdb, cfg.redisPrefix)
		bus = lighting.NewRedisBus(rdb, cfg.redisPrefix)
		var closeAdapter func()
		socketAdapter, closeAdapter, err = web.RedisAdapter(ctx, string(cfg.redis), cfg.redisPrefix, log.With("component", "socket.io-redis"))
		if err != nil {
			return err
		}
		defer closeAdapter()
		checks = append(checks, web.Check{Name: "redis", Check: func(ctx context.Context) error { return rdb.Ping(ctx).Err() }})
		log.Info("state in Redis", "addr", rdb.Options().Addr)
	} else {
		log.Info("state in memory (no -redis)")
	}

	content, err := store.Open(ctx, contentConfig(cfg.mysql, cfg.data), log.With("component", "content"))
	if err != nil {
		return err
	}
	defer content.Close()
	checks = append(checks, web.Check{Name: "content", Check: content.Check})

	demo := cfg.demo.Or(cfg.bridgeToken == "")
	prints, err := openPrinting(cfg, demo, log)
	if err != nil {
		return err
	}
	defer prints.close()
	checks = append(checks, prints.check)
	prints.history = web.NewPrintHistory(prints.tracker, content, log.With("component", "print-history"))

	var srv *web.Server
	community, err := openCommunity(cfg.bots, prints, func() *web.Server { return srv }, log)
	if err != nil {
		return err
	}
	if rdb != nil {
		community.mod.Share(bots.NewRedisModeration(rdb, cfg.redisPrefix))
	}

	lights := lighting.NewService(cfg.lights, states, limiter, log.With("component", "lighting"))
	if bus != nil {
		id := hubID()
		lights.Join(bus, id)
		checks = append(checks, web.Check{Name: "cluster", Check: lights.ClusterCheck})
		log.Info("in a cluster with the hubs sharing this Redis and prefix", "hub", id)
	}
	proxies, _ := web.ParseTrustedProxies(cfg.trustedProxies) // validated with the flags
	wcfg := web.Config{TrustedProxies: proxies, Adapter: socketAdapter, APIToken: string(cfg.apiToken), Checks: checks, Print: prints.history, PrintLayout: prints.layout,
		Moderation: community.mod, TipWebhooks: community.tips.Handler(), Content: content, Limiter: limiter,
		PrinterStatus: prints.tracker.Printer, PrintQueueDepth: prints.depth}
	if community.discord != nil && cfg.bots.discord.Mode == bots.DiscordHTTP {
		wcfg.DiscordInteractions = community.discord.InteractionsHandler()
	}
	if cfg.bridgeToken != "" {
		wcfg.BridgeTokens = append(wcfg.BridgeTokens, string(cfg.bridgeToken))
	}
	var demoToken string
	if demo {
		demoToken = rand.Text()
		wcfg.BridgeTokens = append(wcfg.BridgeTokens, demoToken)
		if wcfg.APIToken == "" {
			// The demo's API (print jobs, lights) needs a token too: one for this run, told on stdout.
			wcfg.APIToken = rand.Text()
			fmt.Fprintf(stdout, "demo API token (for this run): %s\n", wcfg.APIToken)
		}
	}
	apiToken := func(ctx context.Context, token string) bool { return srv.APITokenOK(ctx, token) }
	video, streamInfo, err := openVideo(cfg.video, apiToken, demo, log.With("component", "video"))
	if err != nil {
		return err
	}
	wcfg.Video, wcfg.Stream = video.Handler(), streamInfo
	wcfg.Streams = func() any { return video.Status() }
	metrics := prometheus.NewRegistry()
	metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), video)
	metricsHandler := promhttp.HandlerFor(metrics, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)})
	if cfg.metricsAddr == "" {
		wcfg.Metrics = metricsHandler
	}
	if n, err := content.CountAccounts(ctx); err != nil {
		return err
	} else if n == 0 {
		wcfg.SetupToken = rand.Text()
	}
	srv = web.New(wcfg, lights, log.With("component", "web"))
	metrics.MustRegister(srv.Metrics())
	if prints.demo != nil {
		srv.SetDemoPrinter(prints.demo)
	}

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	url := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "stagelink hub listening on %s\n", url)
	if wcfg.SetupToken != "" {
		fmt.Fprintf(stdout, "no dashboard account yet: create the first admin at %s/admin/setup#%s (or run `hub admin create`)\n", url, wcfg.SetupToken)
	}

	var metricsLn net.Listener
	if cfg.metricsAddr != "" {
		if metricsLn, err = net.Listen("tcp", cfg.metricsAddr); err != nil {
			ln.Close()
			return err
		}
		fmt.Fprintf(stdout, "metrics on http://%s/metrics\n", metricsLn.Addr())
	}

	g, gctx := errgroup.WithContext(ctx)
	if demo {
		d := bridge.NewDemo(url, demoToken, log.With("venue", "demo"))
		srv.SetDemo(d)
		g.Go(func() error { return d.Run(gctx) })
		log.Info("demo: simulated WLED and ESPEasy devices driven by an in-process bridge")
	}
	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	g.Go(func() error {
		if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	g.Go(func() error { return srv.Run(gctx) })
	g.Go(func() error { return prints.run(gctx) })
	g.Go(func() error { return video.Run(gctx) })
	for _, run := range community.runs() {
		g.Go(func() error { return run(gctx) })
	}
	var ms *http.Server // /metrics on -metrics-addr
	if metricsLn != nil {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", metricsHandler)
		ms = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: hs.ErrorLog}
		g.Go(func() error {
			if err := ms.Serve(metricsLn); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		})
	}
	g.Go(func() error {
		<-gctx.Done()
		log.Info("shutting down")
		srv.Close()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if ms != nil {
			ms.Close()
		}
		return hs.Shutdown(sctx)
	})
	return g.Wait()
}

// hubID names this process among the hubs of a cluster: the host name (a pod's name under Kubernetes)
// and a random suffix, since a restarted hub is a new member.
func hubID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "hub"
	}
	if len(host) > 40 {
		host = host[:40]
	}
	return host + "-" + strings.ToLower(rand.Text()[:6])
}
