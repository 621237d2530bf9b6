package web

import (
	"bytes"
	"os"
	"testing"
)

// TestVendoredClientMatchesLockfile checks that the served socket.io client is the one package-lock.json
// pins (update it with `npm install && npm run vendor` in web/).
func TestVendoredClientMatchesLockfile(t *testing.T) {
	want, err := os.ReadFile("node_modules/socket.io-client/dist/socket.io.min.js")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("web/node_modules is missing (CI runs npm ci): %v", err)
		}
		t.Skip("web/node_modules is missing: run `npm ci` in web/ to check the vendored client")
	}
	got, err := assets.ReadFile("assets/vendor/socket.io.min.js")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("web/assets/vendor/socket.io.min.js differs from node_modules: run `npm run vendor` in web/")
	}
}
