package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestDashboardInBrowser: the streamer's dashboard in headless Chromium against the hub in demo mode, with
// the first admin made by `hub admin create`. web/tests/admin.mjs logs in (a wrong password first), pauses
// the lights and sees a viewer's click refused in the activity feed, resumes, publishes a title with markup
// that the open viewer page shows live as text, prints a message and loads its receipt picture, checks the
// charts, screenshots the dashboard, and checks that a moderator sees no admin-only control and gets 403
// for PUT /admin/api/page.
func TestDashboardInBrowser(t *testing.T) {
	needBrowser(t)
	dir := t.TempDir()
	const password = "e2e-dashboard-password"
	getenv := func(k string) string {
		if k == "STAGELINK_ADMIN_PASSWORD" {
			return password
		}
		return ""
	}
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := run(ctx, []string{"admin", "create", "-data", dir, "-name", "streamer"}, getenv, strings.NewReader(""), &stdout, &stderr)
	if err != nil {
		t.Fatalf("hub admin create: %v\n%s%s", err, stdout.String(), stderr.String())
	}

	_, hub := startHub(t, "-addr", "127.0.0.1:0", "-demo=true", "-data", dir)
	shot := artifact(t, "dashboard.png")
	res := runNodeFor(t, 240*time.Second, "admin.mjs", "HUB_URL="+hub, "ADMIN_NAME=streamer", "ADMIN_PASSWORD="+password, "SCREENSHOT="+shot)
	if res["ok"] != true {
		t.Fatalf("admin.mjs: %v", res)
	}
	receipt, _ := res["receipt"].(map[string]any)
	if w, _ := receipt["width"].(float64); w <= 0 {
		t.Errorf("the receipt preview is %v pixels wide, want a picture", receipt["width"])
	}
	if put, _ := res["moderatorPut"].(map[string]any); put["code"] != "forbidden" {
		t.Errorf("the moderator's PUT /admin/api/page answered code %v, want forbidden", put["code"])
	}
	t.Logf("wrong password: %q; refusal in the feed: %q", res["wrongLogin"], res["refusal"])
	t.Logf("receipt preview %vx%v; charts %v", receipt["width"], receipt["height"], res["charts"])
	t.Logf("steps (ms): %v; total %v ms", res["timings"], res["totalMs"])
	t.Logf("screenshot of the dashboard: %s", shot)
}
