package cli

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestHeartbeatCheck(t *testing.T) {
	dir := t.TempDir()
	fresh := filepath.Join(dir, "fresh")
	stale := filepath.Join(dir, "stale")
	for _, p := range []string{fresh, stale} {
		if err := os.WriteFile(p, []byte("x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	if err := os.Chtimes(stale, now, now.Add(-2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string // "" for success
	}{
		{name: "fresh", args: []string{"-heartbeat", fresh}},
		{name: "fresh from the environment", env: map[string]string{"STAGELINK_BRIDGE_HEARTBEAT": fresh}},
		{name: "stale", args: []string{"-heartbeat", stale}, wantErr: "old, more than -max-age 1m0s"},
		{name: "stale within a longer max-age", args: []string{"-heartbeat", stale, "-max-age", "3m"}},
		{name: "max-age from the environment", args: []string{"-heartbeat", stale}, env: map[string]string{"STAGELINK_BRIDGE_MAX_AGE": "1s"}, wantErr: "more than -max-age 1s"},
		{name: "missing", args: []string{"-heartbeat", filepath.Join(dir, "none")}, wantErr: "no heartbeat file"},
		{name: "no file given", wantErr: "STAGELINK_BRIDGE_HEARTBEAT"},
		{name: "bad max-age", args: []string{"-heartbeat", fresh, "-max-age", "soon"}, wantErr: "invalid value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := HeartbeatCheck("bridge", tt.args, "STAGELINK_BRIDGE_", func(k string) string { return tt.env[k] }, io.Discard, now)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("got %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("got %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}
