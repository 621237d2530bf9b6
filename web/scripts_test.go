package web

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestDashboardScriptHelpers runs the unit tests of the dashboard's JavaScript helpers
// (tests/admin-util.test.mjs: formatting, link checks, the page editor's limits) with Node's test runner.
// They need no node_modules and no browser.
func TestDashboardScriptHelpers(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("node is missing (CI installs it: see .ci/run)")
		}
		t.Skip("node is missing: install Node.js to run the dashboard's script tests")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, node, "--test", "tests/admin-util.test.mjs").CombinedOutput()
	if err != nil {
		t.Fatalf("node --test tests/admin-util.test.mjs: %v\n%s", err, out)
	}
}
