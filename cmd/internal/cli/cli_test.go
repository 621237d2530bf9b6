package cli

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// flags is a FlagSet like a program's, with one flag of each kind the programs use.
type flags struct {
	fs       *flag.FlagSet
	addr     *string
	port     *int
	wait     *time.Duration
	debug    *bool
	token    Secret
	demo     AutoBool
	apiToken Secret
}

func newFlags() *flags {
	f := &flags{fs: flag.NewFlagSet("test", flag.ContinueOnError)}
	f.fs.SetOutput(io.Discard)
	f.addr = f.fs.String("addr", ":8080", "")
	f.port = f.fs.Int("port", 1, "")
	f.wait = f.fs.Duration("wait", time.Second, "")
	f.debug = f.fs.Bool("debug", false, "")
	f.fs.Var(&f.token, "bridge-token", "")
	f.fs.Var(&f.demo, "demo", "")
	f.fs.Var(&f.apiToken, "api-token", "")
	return f
}

// values is what a test compares after parsing.
type values struct {
	Addr        string
	Port        int
	Wait        time.Duration
	Debug       bool
	BridgeToken Secret
	Demo        AutoBool
	APIToken    Secret
}

func (f *flags) values() values {
	return values{*f.addr, *f.port, *f.wait, *f.debug, f.token, f.demo, f.apiToken}
}

func TestEnvFallback(t *testing.T) {
	defaults := values{Addr: ":8080", Port: 1, Wait: time.Second}
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    values
		wantErr []string // each in the error
	}{
		{name: "nothing", want: defaults},
		{
			name: "env sets unset flags",
			env: map[string]string{
				"STAGELINK_ADDR": "127.0.0.1:0", "STAGELINK_PORT": "9", "STAGELINK_WAIT": "3s", "STAGELINK_DEBUG": "true",
				"STAGELINK_BRIDGE_TOKEN": "s3cret", "STAGELINK_DEMO": "off", "STAGELINK_API_TOKEN": "a",
			},
			want: values{Addr: "127.0.0.1:0", Port: 9, Wait: 3 * time.Second, Debug: true, BridgeToken: "s3cret", Demo: AutoBool{IsSet: true}, APIToken: "a"},
		},
		{
			name: "flags win",
			args: []string{"-addr", ":1", "-port=2", "-debug=false", "-bridge-token", "flag-token", "-demo"},
			env:  map[string]string{"STAGELINK_ADDR": ":3", "STAGELINK_PORT": "4", "STAGELINK_DEBUG": "true", "STAGELINK_BRIDGE_TOKEN": "env-token", "STAGELINK_DEMO": "false"},
			want: values{Addr: ":1", Port: 2, Wait: time.Second, BridgeToken: "flag-token", Demo: AutoBool{Value: true, IsSet: true}},
		},
		{
			name: "a flag set to its default still wins",
			args: []string{"-addr", ":8080"},
			env:  map[string]string{"STAGELINK_ADDR": ":9"},
			want: defaults,
		},
		{
			name: "empty env is unset",
			env:  map[string]string{"STAGELINK_ADDR": "", "STAGELINK_PORT": ""},
			want: defaults,
		},
		{
			name: "other prefixes ignored",
			env:  map[string]string{"ADDR": ":1", "STAGELINK_BRIDGE_ADDR": ":2", "stagelink_addr": ":3"},
			want: defaults,
		},
		{
			name:    "bad int",
			env:     map[string]string{"STAGELINK_PORT": "eighty"},
			wantErr: []string{"STAGELINK_PORT", `"eighty"`},
		},
		{
			name:    "bad duration",
			env:     map[string]string{"STAGELINK_WAIT": "5"},
			wantErr: []string{"STAGELINK_WAIT="},
		},
		{
			name:    "bad bool",
			env:     map[string]string{"STAGELINK_DEBUG": "maybe"},
			wantErr: []string{"STAGELINK_DEBUG"},
		},
		{
			name:    "bad auto bool",
			env:     map[string]string{"STAGELINK_DEMO": "sometimes"},
			wantErr: []string{"STAGELINK_DEMO", "not a boolean"},
		},
		{
			name: "a bad value of a flag given on the command line is not read",
			args: []string{"-port", "5"},
			env:  map[string]string{"STAGELINK_PORT": "eighty"},
			want: values{Addr: ":8080", Port: 5, Wait: time.Second},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFlags()
			if err := f.fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			var asked []string
			getenv := func(k string) string {
				asked = append(asked, k)
				return tt.env[k]
			}
			err := EnvFallback(f.fs, "STAGELINK_", getenv)
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatalf("EnvFallback = nil, want an error naming %q", tt.wantErr)
				}
				for _, want := range tt.wantErr {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("EnvFallback = %v, want it to contain %q", err, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("EnvFallback: %v", err)
			}
			if diff := cmp.Diff(tt.want, f.values()); diff != "" {
				t.Errorf("values (-want +got):\n%s", diff)
			}
			for _, k := range asked {
				if !strings.HasPrefix(k, "STAGELINK_") {
					t.Errorf("asked for %q, outside the prefix", k)
				}
			}
		})
	}
}

// TestEnvFallbackQuotesValue checks that a bad value is quoted in the error, so that control characters
// from the environment cannot forge log lines. (Secret.Set accepts any value, so a secret never shows here.)
func TestEnvFallbackQuotesValue(t *testing.T) {
	f := newFlags()
	err := EnvFallback(f.fs, "STAGELINK_", func(k string) string {
		if k == "STAGELINK_PORT" {
			return "1\n2"
		}
		return ""
	})
	if err == nil || !strings.Contains(err.Error(), `"1\n2"`) {
		t.Errorf("EnvFallback = %v, want the value quoted", err)
	}
}

func TestEnvName(t *testing.T) {
	tests := []struct{ prefix, name, want string }{
		{"STAGELINK_", "addr", "STAGELINK_ADDR"},
		{"STAGELINK_", "bridge-token", "STAGELINK_BRIDGE_TOKEN"},
		{"STAGELINK_BRIDGE_", "hub", "STAGELINK_BRIDGE_HUB"},
		{"STAGELINK_", "log-level", "STAGELINK_LOG_LEVEL"},
		{"STAGELINK_", "a-b-c", "STAGELINK_A_B_C"},
		{"", "x", "X"},
	}
	for _, tt := range tests {
		if got := EnvName(tt.prefix, tt.name); got != tt.want {
			t.Errorf("EnvName(%q, %q) = %q, want %q", tt.prefix, tt.name, got, tt.want)
		}
	}
}

func TestLogger(t *testing.T) {
	tests := []struct {
		level string
		want  []string // the messages that show, of debug, info, warn, error
	}{
		{"debug", []string{"d", "i", "w", "e"}},
		{"info", []string{"i", "w", "e"}},
		{"INFO", []string{"i", "w", "e"}},
		{"warn", []string{"w", "e"}},
		{"error", []string{"e"}},
	}
	for _, tt := range tests {
		t.Run(tt.level, func(t *testing.T) {
			var buf bytes.Buffer
			log, err := Logger(&buf, tt.level)
			if err != nil {
				t.Fatalf("Logger(%q): %v", tt.level, err)
			}
			log.Debug("d")
			log.Info("i")
			log.Warn("w")
			log.Error("e")
			var got []string
			for line := range strings.Lines(buf.String()) {
				_, msg, _ := strings.Cut(line, " msg=")
				got = append(got, strings.Fields(msg)[0])
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("messages logged (-want +got):\n%s\n%s", diff, buf.String())
			}
		})
	}
	for _, bad := range []string{"", "verbose", "warning!", "trace"} {
		if _, err := Logger(io.Discard, bad); err == nil || !strings.Contains(err.Error(), "use debug, info, warn or error") {
			t.Errorf("Logger(%q) = %v, want an error saying which levels exist", bad, err)
		}
	}
}

func TestSecretNeverPrinted(t *testing.T) {
	const value = "hunter2-token"
	s := Secret(value)

	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	log.Info("start", "token", s, "ptr", &s, "group", slog.GroupValue(slog.Any("token", s)))
	jbuf := bytes.Buffer{}
	slog.New(slog.NewJSONHandler(&jbuf, nil)).Info("start", "token", s)

	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	var usage bytes.Buffer
	fs.SetOutput(&usage)
	flagSecret := Secret(value)
	fs.Var(&flagSecret, "token", "the token")
	fs.PrintDefaults()

	for name, out := range map[string]string{
		"String":        s.String(),
		"fmt %v of ptr": fmt.Sprintf("%v", &s),
		"fmt %s of ptr": fmt.Sprintf("%s", &s),
		"text log":      buf.String(),
		"JSON log":      jbuf.String(),
		"flag usage":    usage.String(),
		"flag value":    fs.Lookup("token").Value.String(),
	} {
		if strings.Contains(out, value) {
			t.Errorf("%s shows the secret: %q", name, out)
		}
	}
	if !strings.Contains(buf.String(), "token=[redacted]") {
		t.Errorf("text log %q, want token=[redacted]", buf.String())
	}
	if got := s.String(); got != "[redacted]" {
		t.Errorf("String() = %q, want [redacted]", got)
	}
	if got := s.LogValue().String(); got != "[redacted]" {
		t.Errorf("LogValue() = %q, want [redacted]", got)
	}

	var empty Secret
	if got := empty.String(); got != "" {
		t.Errorf("String() of an empty secret = %q, want empty: an unset secret is worth knowing", got)
	}
	if got := empty.LogValue().String(); got != "" {
		t.Errorf("LogValue() of an empty secret = %q, want empty", got)
	}
	var nilSecret *Secret
	if got := nilSecret.String(); got != "" {
		t.Errorf("String() of a nil *Secret = %q, want empty", got)
	}

	// Set keeps the value for the program.
	var set Secret
	if err := set.Set(value); err != nil || string(set) != value {
		t.Errorf("Set(%q) = %v, value %q", value, err, string(set))
	}
}

func TestAutoBool(t *testing.T) {
	tests := []struct {
		args      []string
		want      AutoBool
		wantStr   string
		wantOrT   bool // Or(true)
		wantOrF   bool // Or(false)
		wantError bool
	}{
		{args: nil, want: AutoBool{}, wantStr: "auto", wantOrT: true, wantOrF: false},
		{args: []string{"-demo"}, want: AutoBool{Value: true, IsSet: true}, wantStr: "true", wantOrT: true, wantOrF: true},
		{args: []string{"-demo=false"}, want: AutoBool{IsSet: true}, wantStr: "false", wantOrT: false, wantOrF: false},
		{args: []string{"-demo=on"}, want: AutoBool{Value: true, IsSet: true}, wantStr: "true", wantOrT: true, wantOrF: true},
		{args: []string{"-demo=NO"}, want: AutoBool{IsSet: true}, wantStr: "false", wantOrT: false, wantOrF: false},
		{args: []string{"-demo=Yes"}, want: AutoBool{Value: true, IsSet: true}, wantStr: "true", wantOrT: true, wantOrF: true},
		{args: []string{"-demo=0"}, want: AutoBool{IsSet: true}, wantStr: "false", wantOrT: false, wantOrF: false},
		{args: []string{"-demo=t"}, want: AutoBool{Value: true, IsSet: true}, wantStr: "true", wantOrT: true, wantOrF: true},
		{args: []string{"-demo=auto"}, wantError: true},
		{args: []string{"-demo="}, wantError: true},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			var b AutoBool
			fs.Var(&b, "demo", "")
			err := fs.Parse(tt.args)
			if tt.wantError {
				if err == nil {
					t.Errorf("Parse(%q) = nil, want an error", tt.args)
				}
				if b.IsSet {
					t.Errorf("a refused value set the flag: %+v", b)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.args, err)
			}
			if b != tt.want {
				t.Errorf("got %+v, want %+v", b, tt.want)
			}
			if got := b.String(); got != tt.wantStr {
				t.Errorf("String() = %q, want %q", got, tt.wantStr)
			}
			if got := b.Or(true); got != tt.wantOrT {
				t.Errorf("Or(true) = %v, want %v", got, tt.wantOrT)
			}
			if got := b.Or(false); got != tt.wantOrF {
				t.Errorf("Or(false) = %v, want %v", got, tt.wantOrF)
			}
		})
	}
	var nilBool *AutoBool
	if got := nilBool.String(); got != "auto" {
		t.Errorf("String() of a nil *AutoBool = %q, want auto", got)
	}
	if !(&AutoBool{}).IsBoolFlag() {
		t.Error("IsBoolFlag() = false, want true so that -demo alone means true")
	}
}
