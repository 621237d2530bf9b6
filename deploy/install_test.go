package deploy

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const installScript = "pi/install.sh"

func TestInstallScriptSyntax(t *testing.T) {
	sh := requireTool(t, "sh")
	if out, err := exec.Command(sh, "-n", installScript).CombinedOutput(); err != nil {
		t.Errorf("sh -n %s: %v\n%s", installScript, err, out)
	}
	shellcheck := requireTool(t, "shellcheck")
	if out, err := exec.Command(shellcheck, "--shell=sh", installScript).CombinedOutput(); err != nil {
		t.Errorf("shellcheck %s: %v\n%s", installScript, err, out)
	}
}

// installRun is install.sh run into a temporary root with systemctl stubbed by a script that logs its
// arguments.
type installRun struct {
	root, tmp     string
	systemctlLog  string
	binary, other string // two different binaries
	config        string
}

func newInstallRun(t *testing.T) *installRun {
	t.Helper()
	requireTool(t, "sh")
	tmp := t.TempDir()
	r := &installRun{root: filepath.Join(tmp, "root"), tmp: tmp, systemctlLog: filepath.Join(tmp, "systemctl.log"),
		binary: filepath.Join(tmp, "bridge-armv7"), other: filepath.Join(tmp, "bridge-new"), config: filepath.Join(tmp, "bridge.yaml")}
	stub := "#!/bin/sh\necho \"$*\" >>" + r.systemctlLog + "\n"
	for path, text := range map[string]string{r.binary: "v1", r.other: "v2", r.config: "hub: http://hub\n", filepath.Join(tmp, "systemctl"): stub} {
		if err := os.WriteFile(path, []byte(text), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// run runs install.sh with args after --root, returning its combined output.
func (r *installRun) run(t *testing.T, wantOK bool, args ...string) string {
	t.Helper()
	cmd := exec.Command("sh", append([]string{installScript, "--root", r.root}, args...)...)
	cmd.Env = append(os.Environ(), "SYSTEMCTL="+filepath.Join(r.tmp, "systemctl"))
	out, err := cmd.CombinedOutput()
	if (err == nil) != wantOK {
		t.Fatalf("install.sh %q: %v, want success %v\n%s", args, err, wantOK, out)
	}
	return string(out)
}

// file returns the content and mode of a file under the root.
func (r *installRun) file(t *testing.T, path string) (string, os.FileMode) {
	t.Helper()
	full := filepath.Join(r.root, path)
	b, err := os.ReadFile(full)
	if err != nil {
		t.Fatalf("installed file: %v", err)
	}
	fi, _ := os.Stat(full)
	return string(b), fi.Mode().Perm()
}

func TestInstallScript(t *testing.T) {
	r := newInstallRun(t)
	r.run(t, true, "bridge", r.binary, r.config)
	unit, _ := os.ReadFile("systemd/stagelink-bridge.service")
	files := []struct {
		path, content string
		mode          os.FileMode
	}{
		{"usr/local/bin/stagelink-bridge", "v1", 0o755},
		{"etc/stagelink/bridge.yaml", "hub: http://hub\n", 0o640},
		{"etc/systemd/system/stagelink-bridge.service", string(unit), 0o644},
	}
	for _, f := range files {
		if got, mode := r.file(t, f.path); got != f.content || mode != f.mode {
			t.Errorf("%s: %q mode %o, want %q mode %o", f.path, got, mode, f.content, f.mode)
		}
	}
	env, mode := r.file(t, "etc/stagelink/bridge.env")
	if mode != 0o600 || !strings.Contains(env, "STAGELINK_BRIDGE_TOKEN=change-me") {
		t.Errorf("bridge.env %q mode %o, want a placeholder token, mode 600", env, mode)
	}
	log, _ := os.ReadFile(r.systemctlLog)
	if want := "--root=" + r.root + " enable stagelink-bridge\n"; string(log) != want {
		t.Errorf("systemctl ran with %q, want %q: below another root, enable offline and start nothing", log, want)
	}

	// The operator sets the token and edits the config; a second run (an upgrade) keeps both.
	if err := os.WriteFile(filepath.Join(r.root, "etc/stagelink/bridge.env"), []byte("STAGELINK_BRIDGE_TOKEN=real\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(r.root, "etc/stagelink/bridge.yaml"), []byte("edited\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	out := r.run(t, true, "--no-start", "bridge", r.other, r.config)
	if bin, _ := r.file(t, "usr/local/bin/stagelink-bridge"); bin != "v2" {
		t.Errorf("binary %q after the upgrade, want v2", bin)
	}
	if cfg, _ := r.file(t, "etc/stagelink/bridge.yaml"); cfg != "edited\n" || !strings.Contains(out, "kept") {
		t.Errorf("config %q after a second run (output %q), want the edited one kept", cfg, out)
	}
	if env, _ := r.file(t, "etc/stagelink/bridge.env"); env != "STAGELINK_BRIDGE_TOKEN=real\n" {
		t.Errorf("bridge.env %q after a second run, want the operator's", env)
	}
	if log2, _ := os.ReadFile(r.systemctlLog); !bytes.Equal(log2, log) {
		t.Errorf("--no-start ran systemctl: %q", log2[len(log):])
	}
	r.run(t, true, "--force", "--no-start", "bridge", r.binary, r.config)
	if cfg, _ := r.file(t, "etc/stagelink/bridge.yaml"); cfg != "hub: http://hub\n" {
		t.Errorf("config %q after --force, want the new one", cfg)
	}
	if env, _ := r.file(t, "etc/stagelink/bridge.env"); env != "STAGELINK_BRIDGE_TOKEN=real\n" {
		t.Errorf("bridge.env %q after --force, want the operator's: --force never touches secrets", env)
	}

	r.run(t, true, "--no-start", "printer", r.binary)
	if env, mode := r.file(t, "etc/stagelink/printer.env"); mode != 0o600 || !strings.Contains(env, "STAGELINK_PRINTER_AMQP=") || !strings.Contains(env, "STAGELINK_PRINTER_SERIAL=") {
		t.Errorf("printer.env %q mode %o, want the broker and serial placeholders, mode 600", env, mode)
	}
	if _, mode := r.file(t, "usr/local/bin/stagelink-printer"); mode != 0o755 {
		t.Errorf("printer binary mode %o, want 755", mode)
	}
}

func TestInstallScriptRefuses(t *testing.T) {
	r := newInstallRun(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown agent", []string{"hub", r.binary}, "want bridge or printer"},
		{"missing binary", []string{"bridge", filepath.Join(r.tmp, "none"), r.config}, "no binary"},
		{"bridge without config", []string{"bridge", r.binary}, "no config"},
		{"printer with config", []string{"printer", r.binary, r.config}, "no config file"},
		{"unknown option", []string{"--fast", "bridge", r.binary, r.config}, "unknown option"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if out := r.run(t, false, tt.args...); !strings.Contains(out, tt.want) {
				t.Errorf("output %q, want %q in it", out, tt.want)
			}
		})
	}
}
