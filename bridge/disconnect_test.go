package bridge

import (
	"strings"
	"testing"

	sio "github.com/zishang520/socket.io-client-go/socket"
)

// TestDisconnectSurvivesTheClientsPanic: socket.io-client-go v1.1.0 can panic inside Disconnect; the
// agent turns that into an error instead of crashing.
func TestDisconnectSurvivesTheClientsPanic(t *testing.T) {
	err := disconnect(func() *sio.Socket { panic("interface conversion: interface is nil, not error") })
	if err == nil || !strings.Contains(err.Error(), "interface is nil") {
		t.Errorf("disconnect = %v, want the panic as an error", err)
	}
	if err := disconnect(func() *sio.Socket { return nil }); err != nil {
		t.Errorf("disconnect without a panic = %v, want nil", err)
	}
}
