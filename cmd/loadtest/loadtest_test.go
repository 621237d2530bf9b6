package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stagelink/stagelink/deploy/nginxtest"
)

// runReport runs the tool with args and -json, and returns its report and what it printed.
func runReport(t *testing.T, args ...string) (report, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	if err := run(ctx, append(args, "-json"), func(string) string { return "" }, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var r report
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r); err != nil {
		t.Fatalf("last line is not the JSON report: %v\n%s", err, stdout.String())
	}
	return r, stdout.String()
}

// TestRun runs the whole tool against a hub it builds and starts, with a few viewers for a few seconds.
func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts a hub")
	}
	before := runtime.NumGoroutine()
	r, stdout := runReport(t, "-viewers", "20", "-clickers", "4", "-duration", "3s", "-settle", "2s", "-idle", "500ms")
	if r.Connected != 20 {
		t.Errorf("connected = %d, want 20", r.Connected)
	}
	if r.ClicksOK == 0 || r.ReachedDevice == 0 {
		t.Errorf("clicks ok = %d, reached device = %d, want both above 0", r.ClicksOK, r.ReachedDevice)
	}
	if r.ViewersMissingFinal != 0 {
		t.Errorf("viewers missing the final state = %d, want 0\n%s", r.ViewersMissingFinal, stdout)
	}
	if r.Broadcast.N == 0 {
		t.Errorf("no broadcast latency measured\n%s", stdout)
	}
	// Every goroutine the run started ends (a few library timers may take a moment).
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if got := runtime.NumGoroutine(); got > before {
		buf := make([]byte, 1<<20)
		t.Errorf("goroutines = %d after run, want at most %d\n%s", got, before, buf[:runtime.Stack(buf, true)])
	}
}

// TestRunCluster runs the tool against two hubs on the test Redis behind nginx: the viewers spread over
// both, and clicks through either reach the device and every viewer.
func TestRunCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts hubs")
	}
	redis := os.Getenv("STAGELINK_TEST_REDIS")
	if redis == "" {
		t.Skip("STAGELINK_TEST_REDIS not set: set it to redis://127.0.0.1:6379/0 to run the Redis tests")
	}
	nginxtest.Binary(t)
	r, stdout := runReport(t, "-hubs", "2", "-redis", redis, "-viewers", "40", "-clickers", "4", "-duration", "3s", "-settle", "2s", "-idle", "500ms")
	if r.Connected != 40 || len(r.Hubs) != 2 || r.Hubs[0].Viewers+r.Hubs[1].Viewers != 40 {
		t.Errorf("connected %d, hubs %+v: want 40 viewers over 2 hubs", r.Connected, r.Hubs)
	}
	for i, h := range r.Hubs {
		if h.Viewers == 0 || h.RSSAfterMB <= 0 {
			t.Errorf("hub %d: %+v, want viewers and memory measured (nginx spreads viewers over both)", i+1, h)
		}
	}
	if r.ClicksOK == 0 || r.ReachedDevice != r.ClicksOK || r.ViewersMissingFinal != 0 {
		t.Errorf("clicks ok %d, reached device %d, viewers missing the final state %d: want every click on the device and every viewer final\n%s",
			r.ClicksOK, r.ReachedDevice, r.ViewersMissingFinal, stdout)
	}
}

func TestConfigRefusesOtherHosts(t *testing.T) {
	for _, hub := range []string{"http://10.0.0.1:8080", "http://example.com", "https://127.0.0.1:8080", "127.0.0.1:8080"} {
		t.Run(hub, func(t *testing.T) {
			_, err := parseConfig([]string{"-hub", hub, "-bridge-token", "x"}, func(string) string { return "" }, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), "-hub") {
				t.Errorf("parseConfig(-hub %s) = %v, want a -hub error", hub, err)
			}
		})
	}
	if _, err := parseConfig([]string{"-hub", "http://127.0.0.1:8080", "-bridge-token", "x"}, func(string) string { return "" }, &bytes.Buffer{}); err != nil {
		t.Errorf("parseConfig(loopback hub) = %v, want nil", err)
	}
	for _, args := range [][]string{
		{"-hubs", "2"},
		{"-hubs", "2", "-redis", "redis://10.0.0.1:6379/0"},
		{"-hubs", "2", "-redis", "redis://127.0.0.1:6379/0", "-hub", "http://127.0.0.1:8080", "-bridge-token", "x"},
		{"-hubs", "9", "-redis", "redis://127.0.0.1:6379/0"},
	} {
		if _, err := parseConfig(args, func(string) string { return "" }, &bytes.Buffer{}); err == nil {
			t.Errorf("parseConfig(%q) = nil, want an error", args)
		}
	}
	if _, err := parseConfig([]string{"-hubs", "2", "-redis", "redis://127.0.0.1:6379/0"}, func(string) string { return "" }, &bytes.Buffer{}); err != nil {
		t.Errorf("parseConfig(-hubs 2 on a loopback Redis) = %v, want nil", err)
	}
}

func TestRunVideo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts a hub")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	args := []string{"-video", "-video-viewers", "5", "-duration", "2s", "-json"}
	if err := run(ctx, args, func(string) string { return "" }, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var r videoReport
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r); err != nil {
		t.Fatalf("last line is not the JSON report: %v\n%s", err, stdout.String())
	}
	if r.Viewers != 5 || r.StreamMbps < 1 || r.HubCPUPercent <= 0 || r.EgressMbpsPerCPU <= 0 {
		t.Errorf("report = %+v, want 5 viewers of a stream near 2 Mbit/s with CPU and egress measured", r)
	}
}
