package main

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stagelink/stagelink/lighting"
	"github.com/stagelink/stagelink/web"
)

// startHub serves a hub that accepts the bridge token "t", until the test ends.
func startHub(t *testing.T) string {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	lights := lighting.NewService(lighting.DefaultConfig(), lighting.NewMemoryStore(), lighting.NewMemoryLimiter(), log)
	srv := web.New(web.Config{BridgeTokens: []string{"t"}}, lights, log)
	ts := httptest.NewServer(srv.Handler())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		srv.Close()
		ts.Close()
	})
	return ts.URL
}

// startBridge runs the agent with args until the test ends.
func startBridge(t *testing.T, args ...string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, func(string) string { return "" }, io.Discard) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
}

// TestHeartbeatWhileConnected: with -heartbeat the agent writes the file once connected to its hub, and
// `bridge healthcheck` passes on it; an agent that cannot reach its hub writes none, and the check fails.
// (The timing of the writes is TestHeartbeatWritesWhileHealthy in cmd/internal/cli.)
func TestHeartbeatWhileConnected(t *testing.T) {
	dir := t.TempDir()
	connected, unreachable := filepath.Join(dir, "connected"), filepath.Join(dir, "unreachable")
	startBridge(t, "-config", writeConfig(t, testConfig), "-hub", startHub(t), "-token", "t", "-heartbeat", connected)
	startBridge(t, "-config", writeConfig(t, testConfig), "-heartbeat", unreachable) // hub 127.0.0.1:1

	deadline := time.Now().Add(25 * time.Second) // a hello the hub's engine.io lost is retried after 15 s
	for _, err := os.Stat(connected); err != nil; _, err = os.Stat(connected) {
		if time.Now().After(deadline) {
			t.Fatalf("no heartbeat file after 25 s connected: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	noEnv := func(string) string { return "" }
	if err := run(context.Background(), []string{"healthcheck", "-heartbeat", connected}, noEnv, io.Discard); err != nil {
		t.Errorf("healthcheck of the connected agent: got %v, want nil", err)
	}
	err := run(context.Background(), []string{"healthcheck", "-heartbeat", unreachable}, noEnv, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "no heartbeat file") {
		t.Errorf("healthcheck of the agent without a hub: got %v, want no heartbeat file", err)
	}
}
