package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/stagelink/stagelink/cmd/internal/cli"
)

// healthcheckTimeout bounds `hub healthcheck`'s request: a hub that takes longer is not healthy.
const healthcheckTimeout = 2 * time.Second

// runHealthcheck is `hub healthcheck [-url URL]`: it asks a hub's /healthz and fails unless it answers
// 200, for a container HEALTHCHECK in an image without curl. The URL defaults to this machine's port of
// STAGELINK_ADDR, the hub's own -addr from the environment.
func runHealthcheck(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("hub healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", healthzURL(getenv("STAGELINK_ADDR")), "the hub's liveness endpoint")
	if err := cli.Parse(fs, args, "STAGELINK_HEALTHCHECK_", getenv); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, healthcheckTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *url, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: -url %q: %v", *url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %v", err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: GET %s: %s, want 200 OK", *url, resp.Status)
	}
	return nil
}

// healthzURL is the /healthz of a hub listening on addr (its -addr), reached on loopback when addr
// names no host or every address; http://127.0.0.1:8080/healthz when addr is empty or not host:port.
func healthzURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" {
		host, port = "", "8080"
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/healthz"
}
