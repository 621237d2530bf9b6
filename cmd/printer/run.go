package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/stagelink/stagelink/cmd/internal/cli"
	"github.com/stagelink/stagelink/printer"
)

// envPrefix starts the environment variable of each flag: STAGELINK_PRINTER_AMQP for -amqp.
const envPrefix = "STAGELINK_PRINTER_"

// config is the agent's configuration: flags, each with an environment fallback STAGELINK_PRINTER_<FLAG>.
type config struct {
	amqp      cli.Secret
	prefix    string
	data      string
	serial    string
	baud      int
	out       string
	preview   string
	header    string
	footer    string
	level     string
	heartbeat string
}

func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("printer", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Var(&c.amqp, "amqp", "RabbitMQ URL (amqp://user:password@host:5672/); empty: the embedded queue in -data")
	fs.StringVar(&c.prefix, "amqp-prefix", "stagelink.print", "start of the broker's names: PREFIX.jobs, PREFIX.dead, PREFIX.dlx, PREFIX.events")
	fs.StringVar(&c.data, "data", "./data", "directory of the embedded queue and of the record of printed jobs")
	fs.StringVar(&c.serial, "serial", "", "serial device of the printer, for example /dev/ttyUSB0")
	fs.IntVar(&c.baud, "baud", printer.DefaultBaud, "serial speed (the printer's DIP switches)")
	fs.StringVar(&c.out, "out", "", "append the ESC/POS bytes of each receipt to this file instead of a printer")
	fs.StringVar(&c.preview, "preview", "", "draw the receipt of this job (JSON) as a PNG on stdout, then exit")
	fs.StringVar(&c.header, "header", "", "text at the top of every receipt")
	fs.StringVar(&c.footer, "footer", "", "text at the bottom of every receipt")
	fs.StringVar(&c.level, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.heartbeat, "heartbeat", "", "write this file every 10 s while connected to the queue, for `printer healthcheck`")
	if err := cli.Parse(fs, args, envPrefix, getenv); err != nil {
		return c, err
	}
	if c.preview == "" && (c.serial == "") == (c.out == "") {
		return c, errors.New("say where receipts go: -serial DEVICE or -out FILE (or draw one with -preview JOB.json)")
	}
	return c, nil
}

// run is the printer agent, or `printer healthcheck …`.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "healthcheck" {
		return cli.HeartbeatCheck("printer", args[1:], envPrefix, getenv, stderr, time.Now())
	}
	cfg, err := parseConfig(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	layout := printer.LayoutConfig{Header: cfg.header, Footer: cfg.footer}
	if cfg.preview != "" {
		return preview(cfg.preview, layout, stdout)
	}
	log, err := cli.Logger(stderr, cfg.level)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.data, 0o700); err != nil {
		return err
	}
	printed, err := printer.OpenPrintedLog(filepath.Join(cfg.data, "printed.log"), 0)
	if err != nil {
		return err
	}
	defer printed.Close()

	g, gctx := errgroup.WithContext(ctx)
	var (
		queue printer.Queue
		check func(context.Context) error // nil while the queue is connected
	)
	if cfg.amqp != "" {
		q, err := printer.NewRabbitQueue(printer.RabbitQueueConfig{URL: string(cfg.amqp), Prefix: cfg.prefix}, log)
		if err != nil {
			return err
		}
		g.Go(func() error { return q.Run(gctx) })
		queue, check = q, q.Check
	} else {
		q, err := printer.OpenDiskQueue(printer.DiskQueueConfig{Dir: filepath.Join(cfg.data, "queue")}, log)
		if err != nil {
			return err
		}
		defer q.Close()
		queue, check = q, q.Check
	}
	if cfg.heartbeat != "" {
		hb := cli.Heartbeat{Path: cfg.heartbeat, Check: check, Log: log.With("component", "heartbeat")}
		g.Go(func() error { return hb.Run(gctx) })
	}

	var out printer.Sink
	if cfg.out != "" {
		out = fileSink(cfg.out)
	} else {
		// The link logs every status change; a missing device is retried, not fatal.
		p, err := printer.NewSerialPrinter(cfg.serial, cfg.baud, printer.LinkConfig{}, log, nil)
		if err != nil {
			return err
		}
		g.Go(func() error { return p.Run(gctx) })
		out = p
	}
	agent := printer.NewAgent(queue, out, printed, layout, log.With("component", "agent"))
	g.Go(func() error { return agent.Run(gctx) })
	log.Info("printer agent running", "serial", cfg.serial, "out", cfg.out, "broker", cfg.amqp != "")
	if err := g.Wait(); err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}

// fileSink appends receipts to a file, synced after each, for people without a printer.
type fileSink string

func (f fileSink) Print(_ context.Context, data []byte) error {
	file, err := os.OpenFile(string(f), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := file.Write(data); err != nil {
		file.Close()
		return err
	}
	return errors.Join(file.Sync(), file.Close())
}

// preview draws the receipt of the job in path as a PNG.
func preview(path string, layout printer.LayoutConfig, stdout io.Writer) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if len(b) > printer.MaxJobBytes {
		return fmt.Errorf("%s is larger than %d bytes", path, printer.MaxJobBytes)
	}
	var job printer.Job
	if err := json.Unmarshal(b, &job); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	data, err := printer.Render(job, layout)
	if err != nil {
		return err
	}
	p, err := printer.NewPreviewer()
	if err != nil {
		return err
	}
	return p.PNG(stdout, data)
}
