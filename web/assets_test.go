package web

import (
	"bytes"
	"os"
	"testing"
)

// TestVendoredClientsMatchLockfile checks that the served client libraries are the ones package-lock.json
// pins (update them with `npm install && npm run vendor` in web/).
func TestVendoredClientsMatchLockfile(t *testing.T) {
	for _, f := range []struct{ installed, served string }{
		{"node_modules/socket.io-client/dist/socket.io.min.js", "assets/vendor/socket.io.min.js"},
		{"node_modules/hls.js/dist/hls.light.min.js", "assets/vendor/hls.light.min.js"},
	} {
		want, err := os.ReadFile(f.installed)
		if err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("web/node_modules is incomplete (CI runs npm ci): %v", err)
			}
			t.Skip("web/node_modules is missing: run `npm ci` in web/ to check the vendored clients")
		}
		got, err := assets.ReadFile(f.served)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("web/%s differs from %s: run `npm run vendor` in web/", f.served, f.installed)
		}
	}
}
