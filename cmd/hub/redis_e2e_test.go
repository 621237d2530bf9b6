package main

import (
	"crypto/rand"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
)

// redisURL returns the test Redis, or skips: STAGELINK_TEST_REDIS=redis://127.0.0.1:6379/0 (.ci/run sets it).
func redisURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("STAGELINK_TEST_REDIS")
	if u == "" {
		t.Skip("STAGELINK_TEST_REDIS not set: set it to redis://127.0.0.1:6379/0 to run the Redis tests")
	}
	return u
}

func setColor(t *testing.T, hub, zone, color string) int {
	t.Helper()
	return postAPI(t, hub+"/api/v1/zones/"+zone+"/state", `{"color":"`+color+`"}`)
}

// TestRedisVersionsSurviveRestart: with -redis, a restarted hub continues each zone's state and version.
func TestRedisVersionsSurviveRestart(t *testing.T) {
	redis := redisURL(t)
	prefix := "stagelink-test-" + rand.Text()[:8] + ":"
	v := newVenue(t)
	addr := freeAddr(t)
	hubA, hub := startHub(t, "-addr", addr, "-redis", redis, "-redis-prefix", prefix)
	startBridge(t, v.config(t, hub))
	waitOnline(t, hub, 3)
	for _, c := range []string{"#010203", "#040506", "#0a0b0c"} {
		if code := setColor(t, hub, "desk", c); code != http.StatusOK {
			t.Fatalf("set %s: HTTP %d", c, code)
		}
	}
	before := zones(t, hub).Zones[0]

	hubA.stop(t)
	startHub(t, "-addr", addr, "-redis", redis, "-redis-prefix", prefix)
	waitOnline(t, hub, 3) // the bridge reconnects by itself
	after := zones(t, hub).Zones[0]
	if after.Version != before.Version || after.State.Color != "#0a0b0c" {
		t.Fatalf("after restart desk = v%d %s, want v%d #0a0b0c", after.Version, after.State.Color, before.Version)
	}
	if code := setColor(t, hub, "desk", "#ffffff"); code != http.StatusOK {
		t.Fatalf("set after restart: HTTP %d", code)
	}
	if got := zones(t, hub).Zones[0].Version; got != before.Version+1 {
		t.Errorf("version after restart and one set = %d, want %d", got, before.Version+1)
	}
	eventually(t, "the device shows the new colour", func() bool { return v.wledShows("#ffffff") })
}

// TestRedisSharedRateLimits: two hub processes on one Redis share the per-zone limit and the pause of
// community printing.
func TestRedisSharedRateLimits(t *testing.T) {
	redis := redisURL(t)
	prefix := "stagelink-test-" + rand.Text()[:8] + ":"
	v := newVenue(t)
	args := []string{"-addr", "127.0.0.1:0", "-redis", redis, "-redis-prefix", prefix, "-zone-rate", "0.2", "-zone-burst", "3"}
	_, hubA := startHub(t, args...)
	_, hubB := startHub(t, args...)
	startBridge(t, v.config(t, hubA))
	waitOnline(t, hubA, 3)
	waitOnline(t, hubB, 3)

	for i, hub := range []string{hubA, hubB, hubA} {
		if code := setColor(t, hub, "lamp", "#00000"+string(rune('1'+i))); code != http.StatusOK {
			t.Fatalf("set %d: HTTP %d, want 200 within the burst of 3", i, code)
		}
	}
	if code := setColor(t, hubB, "lamp", "#123456"); code != http.StatusTooManyRequests {
		t.Errorf("4th set, on the other hub: HTTP %d, want 429: the burst of 3 is shared", code)
	}

	// Community printing's pause is shared too (and so are its senders' cooldowns: bots/TestSharedModeration).
	if code := postAPI(t, hubA+"/api/v1/print/pause", ""); code != http.StatusOK {
		t.Fatalf("pause printing on hub A: HTTP %d", code)
	}
	req, _ := http.NewRequest(http.MethodGet, hubB+"/api/v1/print/pause", nil)
	req.Header.Set("Authorization", "Bearer e2e-api")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var paused struct{ Paused bool }
	if err := json.NewDecoder(resp.Body).Decode(&paused); err != nil || !paused.Paused {
		t.Errorf("hub B after hub A paused printing: %+v (%v), want paused", paused, err)
	}
}

// postAPI POSTs body with the API token and returns the status.
func postAPI(t *testing.T, url, body string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer e2e-api")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestRedisCluster: three hub processes on one Redis. The bridge is connected to hub A: a command sent to
// hub B reaches the device, a viewer of hub C (the official socket.io-client) sets a colour and sees it
// confirmed, and when hub A stops, the others show its zones offline at once.
func TestRedisCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: end-to-end")
	}
	needNode(t)
	redis := redisURL(t)
	args := []string{"-addr", "127.0.0.1:0", "-redis", redis, "-redis-prefix", "stagelink-test-" + rand.Text()[:8] + ":"}
	v := newVenue(t)
	a, hubA := startHub(t, args...)
	_, hubB := startHub(t, args...)
	_, hubC := startHub(t, args...)
	startBridge(t, v.config(t, hubA))
	for _, hub := range []string{hubA, hubB, hubC} {
		waitOnline(t, hub, 3)
	}

	if code := setColor(t, hubB, "desk", "#102030"); code != http.StatusOK {
		t.Fatalf("set through hub B: HTTP %d", code)
	}
	eventually(t, "the device on hub A's bridge shows hub B's colour", func() bool { return v.wledShows("#102030") })
	eventually(t, "hub C shows it confirmed", func() bool {
		z := zones(t, hubC).Zones[0]
		return z.State.Color == "#102030" && z.Confirmed
	})

	res := runNode(t, "viewer.mjs", "HUB_URL="+hubC, "ZONE=desk", "COLOR=#405060")
	if res["ok"] != true {
		t.Fatalf("viewer.mjs on hub C: %v", res)
	}
	if !v.wledShows("#405060") {
		t.Errorf("WLED shows %v, want hub C's viewer's #405060", v.wled.Snapshot().Segments[0].Colors[0])
	}

	a.stop(t)
	waitOnline(t, hubB, 0)
	waitOnline(t, hubC, 0)
}
