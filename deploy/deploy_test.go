package deploy

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// requireTool returns the path of an external program a test needs. Without it the test is skipped,
// except in CI (CI=true, as .ci/run sets), where a missing tool is a failure.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not installed, and CI=true: install it (.ci/run does)", name)
	}
	t.Skipf("%s is not installed: skipping (CI=true makes this a failure)", name)
	return ""
}

// documentedFlag is a backquoted flag name in the first cell of a table row: | `-redis` | …
var documentedFlag = regexp.MustCompile("`-([a-z0-9-]+)`")

// hubEnv returns the environment variables of the hub's flags, read from README.md's flag tables in
// "Hub configuration" and "Community printing": the hub's own tests (cmd/hub TestREADMEDocumentsEveryFlag)
// keep those tables equal to its flags, so this needs neither a build nor a run of the hub.
func hubEnv(t *testing.T) map[string]bool {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	env := map[string]bool{}
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "## ") {
			in = line == "## Hub configuration" || strings.HasPrefix(line, "## Community printing")
			continue
		}
		if !in || !strings.HasPrefix(line, "| `-") {
			continue
		}
		first := strings.SplitN(line, "|", 3)[1]
		for _, m := range documentedFlag.FindAllStringSubmatch(first, -1) {
			env[envName(m[1])] = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(env) < 40 {
		t.Fatalf("read %d hub flags from README.md, want the whole tables (has the section been renamed?)", len(env))
	}
	return env
}

// envName is the hub's environment variable of flag name (as cmd/internal/cli.EnvName).
func envName(flag string) string {
	return "STAGELINK_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// checkHubEnv fails the test for every STAGELINK_ name in names that is not a hub flag's variable.
func checkHubEnv(t *testing.T, where string, names []string) {
	t.Helper()
	valid := hubEnv(t)
	for _, n := range names {
		if strings.HasPrefix(n, "STAGELINK_") && !valid[n] {
			t.Errorf("%s sets %s, which is no hub flag's variable (README.md \"Hub configuration\")", where, n)
		}
	}
}
