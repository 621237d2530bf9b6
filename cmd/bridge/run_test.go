package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testConfig = `hub: http://127.0.0.1:1
name: studio
zones:
  - id: desk
    wled: {url: http://127.0.0.1:2}
`

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "bridge.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadConfigOverrides(t *testing.T) {
	path := writeConfig(t, testConfig)
	env := map[string]string{"STAGELINK_BRIDGE_TOKEN": "from-env", "STAGELINK_BRIDGE_NAME": "env-name", "STAGELINK_BRIDGE_HEARTBEAT": "/run/hb"}
	cfg, opts, err := loadConfig([]string{"-config", path, "-hub", "http://hub.local:8080", "-name", "flag-name"},
		func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Hub != "http://hub.local:8080" || cfg.Token != "from-env" || cfg.Name != "flag-name" || opts != (options{"info", "/run/hb"}) {
		t.Errorf("got hub %q token %q name %q options %+v, want the flag's hub, the env token, the flag's name, info and the env heartbeat",
			cfg.Hub, cfg.Token, cfg.Name, opts)
	}
}

func TestRunRefusesBadConfig(t *testing.T) {
	tests := []struct {
		name, config string
		args         []string
		want         string
	}{
		{"missing file", "", []string{"-config", "/nonexistent/bridge.yaml"}, "no such file"},
		{"broken YAML", "hub: [", nil, "config"},
		{"unknown key", testConfig + "colour: red\n", nil, "colour"},
		{"invalid zone", strings.Replace(testConfig, "id: desk", "id: Desk!", 1), nil, "id must be"},
		{"bad hub flag", testConfig, []string{"-hub", "ftp://x"}, "hub"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			if tt.config != "" {
				args = append([]string{"-config", writeConfig(t, tt.config)}, args...)
			}
			err := run(context.Background(), args, func(string) string { return "" }, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("run = %v, want an error mentioning %q", err, tt.want)
			}
		})
	}
}
