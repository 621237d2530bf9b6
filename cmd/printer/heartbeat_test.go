package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestHeartbeatWhileConnected: with -heartbeat the agent writes the file while its queue is connected
// (the embedded queue at once), and `printer healthcheck` passes on it; an agent whose broker is not
// there writes none, and the check fails. (The timing of the writes is TestHeartbeatWritesWhileHealthy in
// cmd/internal/cli.)
func TestHeartbeatWhileConnected(t *testing.T) {
	dir := t.TempDir()
	connected, unreachable := filepath.Join(dir, "connected"), filepath.Join(dir, "unreachable")
	stop := agent(t, "-data", filepath.Join(dir, "disk"), "-out", filepath.Join(dir, "out.bin"), "-heartbeat", connected)
	defer stop()
	stopBroker := agent(t, "-data", filepath.Join(dir, "broker"), "-out", filepath.Join(dir, "out2.bin"),
		"-amqp", "amqp://guest:guest@127.0.0.1:1/", "-heartbeat", unreachable)
	defer stopBroker()

	waitFor(t, "the heartbeat file", func() bool {
		_, err := os.Stat(connected)
		return err == nil
	})
	time.Sleep(1500 * time.Millisecond) // more than a poll of the agent without a broker
	noEnv := func(string) string { return "" }
	if err := run(context.Background(), []string{"healthcheck", "-heartbeat", connected}, noEnv, io.Discard, io.Discard); err != nil {
		t.Errorf("healthcheck of the connected agent: got %v, want nil", err)
	}
	err := run(context.Background(), []string{"healthcheck", "-heartbeat", unreachable}, noEnv, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "no heartbeat file") {
		t.Errorf("healthcheck of the agent without a broker: got %v, want no heartbeat file", err)
	}
}
