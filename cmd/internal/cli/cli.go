// Package cli holds what the stagelink programs share at their edge: flags that fall back to environment
// variables, the logger, and the heartbeat file with its healthcheck for the agents that serve no HTTP.
package cli

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// Parse parses args into fs, refuses positional arguments, and then fills unset flags from the
// environment (see EnvFallback): the order every stagelink program reads its configuration in.
func Parse(fs *flag.FlagSet, args []string, prefix string, getenv func(string) string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return EnvFallback(fs, prefix, getenv)
}

// EnvFallback sets every flag of fs that the command line left unset from the environment variable
// prefix + the flag's name in upper case with dashes as underscores (-bridge-token → STAGELINK_BRIDGE_TOKEN
// for prefix "STAGELINK_"). Call it after fs.Parse: flags win.
func EnvFallback(fs *flag.FlagSet, prefix string, getenv func(string) string) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		name := EnvName(prefix, f.Name)
		if v := getenv(name); v != "" {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s=%q: %v", name, v, e)
			}
		}
	})
	return err
}

// EnvName is the environment variable that backs flag name.
func EnvName(prefix, name string) string {
	return prefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// Logger returns a text logger on w at level ("debug", "info", "warn" or "error").
func Logger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: use debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

// Secret is a string that never shows in logs or flag defaults.
type Secret string

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value {
	if s == "" {
		return slog.StringValue("")
	}
	return slog.StringValue("[redacted]")
}

// String implements flag.Value.
func (s *Secret) String() string {
	if s == nil || *s == "" {
		return ""
	}
	return "[redacted]"
}

// Set implements flag.Value.
func (s *Secret) Set(v string) error { *s = Secret(v); return nil }

// AutoBool is a boolean flag that remembers whether it was set, for defaults that depend on other flags.
type AutoBool struct {
	Value, IsSet bool
}

// String implements flag.Value.
func (b *AutoBool) String() string {
	if b == nil || !b.IsSet {
		return "auto"
	}
	return fmt.Sprint(b.Value)
}

// Set implements flag.Value.
func (b *AutoBool) Set(v string) error {
	switch strings.ToLower(v) {
	case "1", "t", "true", "on", "yes":
		b.Value = true
	case "0", "f", "false", "off", "no":
		b.Value = false
	default:
		return fmt.Errorf("%q is not a boolean", v)
	}
	b.IsSet = true
	return nil
}

// IsBoolFlag lets -name stand for -name=true.
func (b *AutoBool) IsBoolFlag() bool { return true }

// Or returns the value when set, otherwise def.
func (b AutoBool) Or(def bool) bool {
	if b.IsSet {
		return b.Value
	}
	return def
}
