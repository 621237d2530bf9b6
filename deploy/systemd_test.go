package deploy

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// unit is a systemd unit file: section → key → values (a key may repeat).
type unit map[string]map[string][]string

func readUnit(t *testing.T, path string) unit {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u := unit{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s: %q is no key=value in a section", path, line)
			}
			u[section][k] = append(u[section][k], v)
		}
	}
	return u
}

// get is the last value of key in section, and whether it is set.
func (u unit) get(section, key string) (string, bool) {
	vs := u[section][key]
	if len(vs) == 0 {
		return "", false
	}
	return vs[len(vs)-1], true
}

// hardening is what both agents' units set, and to what.
var hardening = map[string]string{
	"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
	"ProtectKernelTunables": "yes", "ProtectKernelModules": "yes", "ProtectKernelLogs": "yes",
	"ProtectControlGroups": "yes", "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
	"LockPersonality": "yes", "MemoryDenyWriteExecute": "yes", "RestrictNamespaces": "yes",
	"SystemCallArchitectures": "native", "CapabilityBoundingSet": "", "DynamicUser": "yes",
	"Restart": "always",
}

func TestSystemdUnits(t *testing.T) {
	tests := []struct {
		kind  string
		extra map[string]string
		flags []string // in ExecStart, each a flag of cmd/<kind>
	}{
		{kind: "bridge", extra: map[string]string{"PrivateDevices": "yes", "LoadCredential": "bridge.yaml:/etc/stagelink/bridge.yaml"},
			flags: []string{"-config", "-heartbeat"}},
		{kind: "printer", extra: map[string]string{"SupplementaryGroups": "dialout", "StateDirectory": "stagelink-printer", "DevicePolicy": "closed"},
			flags: []string{"-data", "-heartbeat"}},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			u := readUnit(t, filepath.Join("systemd", "stagelink-"+tt.kind+".service"))
			for k, want := range hardening {
				if got, ok := u.get("Service", k); !ok || got != want {
					t.Errorf("%s=%q (set: %v), want %q", k, got, ok, want)
				}
			}
			for k, want := range tt.extra {
				if got, _ := u.get("Service", k); got != want {
					t.Errorf("%s=%q, want %q", k, got, want)
				}
			}
			for _, k := range []string{"StartLimitIntervalSec", "StartLimitBurst"} {
				if _, ok := u.get("Unit", k); !ok {
					t.Errorf("[Unit] has no %s", k)
				}
			}
			if v, _ := u.get("Service", "RestartSec"); v == "" {
				t.Error("no RestartSec")
			}
			if v, _ := u.get("Service", "EnvironmentFile"); v != "/etc/stagelink/"+tt.kind+".env" {
				t.Errorf("EnvironmentFile=%q, want /etc/stagelink/%s.env (install.sh creates it)", v, tt.kind)
			}
			if v, _ := u.get("Install", "WantedBy"); v != "multi-user.target" {
				t.Errorf("WantedBy=%q, want multi-user.target", v)
			}
			if tt.kind == "printer" && len(u["Service"]["DeviceAllow"]) == 0 {
				t.Error("no DeviceAllow: DevicePolicy=closed hides the serial port")
			}
			checkExecStart(t, u, tt.kind, tt.flags)
		})
	}
}

// checkExecStart: the binary install.sh installs, the heartbeat in the RuntimeDirectory, and flags the
// agent has (its run.go declares them: a string search, cheaper than building it).
func checkExecStart(t *testing.T, u unit, kind string, flags []string) {
	t.Helper()
	exec, _ := u.get("Service", "ExecStart")
	words := strings.Fields(exec)
	if len(words) == 0 || words[0] != "/usr/local/bin/stagelink-"+kind {
		t.Fatalf("ExecStart=%q, want /usr/local/bin/stagelink-%s (where install.sh puts it)", exec, kind)
	}
	rt, _ := u.get("Service", "RuntimeDirectory")
	if i := slices.Index(words, "-heartbeat"); i < 0 || i+1 >= len(words) || words[i+1] != "%t/"+rt+"/heartbeat" {
		t.Errorf("ExecStart=%q, want -heartbeat %%t/%s/heartbeat (RuntimeDirectory)", exec, rt)
	}
	if kind == "printer" && !strings.Contains(exec, "-data %S/stagelink-printer") {
		t.Errorf("ExecStart=%q, want -data %%S/stagelink-printer: printed.log in the StateDirectory", exec)
	}
	src, err := os.ReadFile(filepath.Join("..", "cmd", kind, "run.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range flags {
		if !slices.Contains(words, f) {
			t.Errorf("ExecStart=%q has no %s", exec, f)
		}
		if !strings.Contains(string(src), `"`+strings.TrimPrefix(f, "-")+`"`) {
			t.Errorf("ExecStart uses %s, which cmd/%s/run.go does not declare", f, kind)
		}
	}
}

// TestSystemdAnalyzeVerify runs `systemd-analyze verify` on each unit. verify insists that ExecStart's
// binary exists, so the units are copied into a temporary directory with ExecStart pointing at an
// executable stub there; it reports unknown keys and bad values as warnings with exit status 0, so any
// output fails the test.
func TestSystemdAnalyzeVerify(t *testing.T) {
	analyze := requireTool(t, "systemd-analyze")
	dir := t.TempDir()
	paths, _ := filepath.Glob(filepath.Join("systemd", "*.service"))
	if len(paths) != 2 {
		t.Fatalf("units %q, want the bridge's and the printer's", paths)
	}
	var units []string
	for _, p := range paths {
		name := filepath.Base(p)
		bin := filepath.Join(dir, strings.TrimSuffix(name, ".service"))
		if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		text := strings.Replace(string(b), "ExecStart=/usr/local/bin/"+filepath.Base(bin), "ExecStart="+bin, 1)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		units = append(units, filepath.Join(dir, name))
	}
	cmd := exec.Command(analyze, append([]string{"verify", "--man=no"}, units...)...)
	out, err := cmd.CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
