package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/stagelink/stagelink/bridge"
	"github.com/stagelink/stagelink/cmd/internal/cli"
)

// loadConfig reads the YAML file named by -config and lets -hub, -token and -name (or their environment
// variables STAGELINK_BRIDGE_HUB, …) override it.
func loadConfig(args []string, getenv func(string) string, stderr io.Writer) (bridge.Config, string, error) {
	fs := flag.NewFlagSet("bridge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "bridge.yaml", "YAML config file")
	hub := fs.String("hub", "", "hub URL, overrides the file's hub")
	var token cli.Secret
	fs.Var(&token, "token", "bridge token, overrides the file's token (prefer STAGELINK_BRIDGE_TOKEN)")
	name := fs.String("name", "", "bridge name, overrides the file's name")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	if err := cli.Parse(fs, args, "STAGELINK_BRIDGE_", getenv); err != nil {
		return bridge.Config{}, "", err
	}
	f, err := os.Open(*path)
	if err != nil {
		return bridge.Config{}, "", fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	cfg, err := bridge.ParseConfig(f)
	if err != nil {
		return bridge.Config{}, "", fmt.Errorf("%s: %w", *path, err)
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
		return bridge.Config{}, "", fmt.Errorf("%s:\n%w", *path, err)
	}
	return cfg, *level, nil
}

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	cfg, level, err := loadConfig(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	log, err := cli.Logger(stderr, level)
	if err != nil {
		return err
	}
	log.Info("bridge starting", "name", cfg.Name, "hub", cfg.Hub, "zones", len(cfg.Zones), "version", bridge.Version)
	agent, err := bridge.NewAgent(cfg, bridge.DeviceOptions{Log: log})
	if err != nil {
		return err
	}
	return agent.Run(ctx)
}
