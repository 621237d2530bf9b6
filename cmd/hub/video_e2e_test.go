package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The video tests run web/tests/video.mjs and hls.mjs: headless Chromium publishes and plays through the
// hub binary over WHIP, WHEP and LL-HLS on loopback. Delays are logged as measurements, not asserted
// beyond what can't flake (see the scripts).

// needBrowser skips a browser test without node and Chromium, and fails it in CI.
func needBrowser(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: browser")
	}
	needNode(t)
	_, err := os.Stat("/usr/bin/chromium")
	need(t, "Debian's chromium", err == nil)
}

// artifact is where a test writes a file to look at: STAGELINK_TEST_ARTIFACTS if set, else a temp dir.
func artifact(t *testing.T, name string) string {
	t.Helper()
	if dir := os.Getenv("STAGELINK_TEST_ARTIFACTS"); dir != "" {
		return filepath.Join(dir, name)
	}
	return filepath.Join(t.TempDir(), name)
}

// TestVideoInBrowser: a canvas showing the time as a barcode is published over WHIP and played on the
// viewer page over WHEP, which reads the barcode back: glass-to-glass delay, time to first frame. Then
// publish.html goes live with the fake camera and viewers, new and old, get its frames.
func TestVideoInBrowser(t *testing.T) {
	needBrowser(t)
	_, hub := startHub(t, "-addr", "127.0.0.1:0")
	shot := artifact(t, "video.png")
	res := runNodeFor(t, 120*time.Second, "video.mjs", "HUB_URL="+hub, "API_TOKEN=e2e-api", "SCREENSHOT="+shot)
	if res["ok"] != true {
		t.Fatalf("video.mjs: %v", res)
	}
	g2g, _ := res["g2g"].(map[string]any)
	t.Logf("glass-to-glass over WebRTC (%v, %v frames read, %v unreadable): median %v ms, p95 %v ms, min %v ms, max %v ms",
		res["codec"], res["samples"], res["rejected"], g2g["median"], g2g["p95"], g2g["min"], g2g["max"])
	t.Logf("first frame shown %v ms after the player's WHEP POST (decoded by %v ms); the player's own delay estimate %v ms",
		res["firstFrameMs"], res["firstDecodedMs"], res["viewerDelayMs"])
	t.Logf("publish.html sent %v from the fake camera; a new viewer showed its first frame %v ms after its POST; the first viewer plays it too (its states since the change, ms:state: %v)",
		res["publisherCodec"], res["firstFrameMs2"], res["modes"])
	t.Logf("screenshot: %s", shot)
}

// TestHLSFallbackInBrowser: with every WHEP POST refused, the viewer page plays the test pattern over
// LL-HLS by itself, and goes back to WebRTC once WHEP works again.
func TestHLSFallbackInBrowser(t *testing.T) {
	needBrowser(t)
	_, hub := startHub(t, "-addr", "127.0.0.1:0", "-test-pattern=true")
	shot := artifact(t, "hls.png")
	res := runNodeFor(t, 120*time.Second, "hls.mjs", "HUB_URL="+hub, "SCREENSHOT="+shot)
	if res["ok"] != true {
		t.Fatalf("hls.mjs: %v", res)
	}
	if l, ok := res["limitation"]; ok {
		t.Logf("LIMITATION: %v", l)
	}
	t.Logf("MSE plays H.264: %v; native HLS: %q; hls.js used: %v", res["mseH264"], res["nativeHLS"], res["hlsJs"])
	t.Logf("switched to HLS %v ms after load (hls.js latency %v ms); back to WebRTC %v ms after WHEP was let through",
		res["switchToHlsMs"], res["hlsLatencyMs"], res["switchBackMs"])
	t.Logf("screenshot: %s", shot)
}
