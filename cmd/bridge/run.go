package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/stagelink/stagelink/bridge"
	"github.com/stagelink/stagelink/cmd/internal/cli"
)

// envPrefix starts the environment variable of each flag: STAGELINK_BRIDGE_TOKEN for -token.
const envPrefix = "STAGELINK_BRIDGE_"

// options are the agent's flags beside its config file.
type options struct {
	level     string // -log-level
	heartbeat string // -heartbeat: the file written while connected, or empty
}

// loadConfig reads the YAML file named by -config and lets -hub, -token and -name (or their environment
// variables STAGELINK_BRIDGE_HUB, …) override it.
func loadConfig(args []string, getenv func(string) string, stderr io.Writer) (bridge.Config, options, error) {
	fs := flag.NewFlagSet("bridge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "bridge.yaml", "YAML config file")
	hub := fs.String("hub", "", "hub URL, overrides the file's hub")
	var token cli.Secret
	fs.Var(&token, "token", "bridge token, overrides the file's token (prefer STAGELINK_BRIDGE_TOKEN)")
	name := fs.String("name", "", "bridge name, overrides the file's name")
	var opts options
	fs.StringVar(&opts.level, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&opts.heartbeat, "heartbeat", "", "write this file every 10 s while connected to the hub, for `bridge healthcheck`")
	if err := cli.Parse(fs, args, envPrefix, getenv); err != nil {
		return bridge.Config{}, opts, err
	}
	f, err := os.Open(*path)
	if err != nil {
		return bridge.Config{}, opts, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	cfg, err := bridge.ParseConfig(f)
	if err != nil {
		return bridge.Config{}, opts, fmt.Errorf("%s: %w", *path, err)
	}
	if *hub != "" {
		cfg.Hub = *hub
	}
	if token != "" {
		cfg.Token = string(token)
	}
	if *name != "" {
		cfg.Name = *name
	}
	if err := cfg.Validate(); err != nil {
		return bridge.Config{}, opts, fmt.Errorf("%s:\n%w", *path, err)
	}
	return cfg, opts, nil
}

// run is the bridge agent, or `bridge healthcheck …`.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "healthcheck" {
		return cli.HeartbeatCheck("bridge", args[1:], envPrefix, getenv, stderr, time.Now())
	}
	cfg, opts, err := loadConfig(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	log, err := cli.Logger(stderr, opts.level)
	if err != nil {
		return err
	}
	log.Info("bridge starting", "name", cfg.Name, "hub", cfg.Hub, "zones", len(cfg.Zones), "version", bridge.Version)
	agent, err := bridge.NewAgent(cfg, bridge.DeviceOptions{Log: log})
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return agent.Run(gctx) })
	if opts.heartbeat != "" {
		hb := cli.Heartbeat{Path: opts.heartbeat, Check: agent.Check, Log: log.With("component", "heartbeat")}
		g.Go(func() error { return hb.Run(gctx) })
	}
	return g.Wait()
}
