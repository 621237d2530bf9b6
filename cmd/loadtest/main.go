// Command loadtest measures a stagelink hub under many viewers: it opens raw Socket.IO connections,
// clicks lights at a controlled rate, and reports click→device latency (at a simulated WLED driven by the
// real bridge agent), broadcast delivery latency, whether every viewer ends with the final state, and the
// hub's memory per idle viewer.
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
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}
