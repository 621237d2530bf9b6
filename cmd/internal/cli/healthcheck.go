package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"
)

// DefaultHeartbeatMaxAge is how old a heartbeat file may be before `healthcheck` fails: six missed writes.
const DefaultHeartbeatMaxAge = 60 * time.Second

// HeartbeatCheck is `<program> healthcheck [-heartbeat FILE] [-max-age 60s]` of a program that writes a
// Heartbeat: nil if FILE was modified within max-age of now, else an error saying why. Its flags fall
// back to the environment like the program's own (prefix + HEARTBEAT is the variable the program reads
// too), so a container needs no arguments.
func HeartbeatCheck(program string, args []string, prefix string, getenv func(string) string, stderr io.Writer, now time.Time) error {
	fs := flag.NewFlagSet(program+" healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("heartbeat", "", "the heartbeat file the running "+program+" writes (its -heartbeat)")
	maxAge := fs.Duration("max-age", DefaultHeartbeatMaxAge, "how old the file may be")
	if err := Parse(fs, args, prefix, getenv); err != nil {
		return err
	}
	if *path == "" {
		return fmt.Errorf("healthcheck: give the heartbeat file with -heartbeat FILE or %s", EnvName(prefix, "heartbeat"))
	}
	fi, err := os.Stat(*path)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("healthcheck: no heartbeat file %s: the %s has not been healthy since it started, or runs with another -heartbeat", *path, program)
	}
	if err != nil {
		return fmt.Errorf("healthcheck: %v", err)
	}
	if age := now.Sub(fi.ModTime()); age > *maxAge {
		return fmt.Errorf("healthcheck: heartbeat %s is %s old, more than -max-age %s: the %s is unhealthy or stuck", *path, age.Round(time.Second), *maxAge, program)
	}
	return nil
}
