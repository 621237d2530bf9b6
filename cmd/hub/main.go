// Command hub is stagelink's server: the viewer page, Socket.IO for viewers and bridge agents, and the HTTP
// API. With no flags it runs the embedded demo: in-memory state and simulated devices. `hub admin create`
// creates a dashboard account; `hub healthcheck` asks a running hub's /healthz, for container images without
// curl.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "hub:", err)
		os.Exit(1)
	}
}
