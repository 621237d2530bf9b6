package bridge_test

import (
	"context"
	"testing"

	"github.com/stagelink/stagelink/bridge"
	"github.com/stagelink/stagelink/lighting"
)

// TestAgentCheckFollowsTheConnection: Check fails before the hub accepts the bridge, passes while it is
// connected, and fails again once the hub is gone.
func TestAgentCheckFollowsTheConnection(t *testing.T) {
	h := startHub(t, listen(t, "127.0.0.1:0"), lighting.NewMemoryStore())
	v := newVenue(t, h.url, hubToken)
	a, logs := newAgent(t, v.cfg, bridge.DeviceOptions{})
	if err := a.Check(context.Background()); err == nil {
		t.Error("Check before Run = nil, want an error")
	}
	runAgent(t, a)
	waitUntil(t, waitLong, "Check to pass", func() bool { return a.Check(context.Background()) == nil }, logs.String)
	h.stop()
	waitUntil(t, waitLong, "Check to fail after the hub stopped", func() bool { return a.Check(context.Background()) != nil }, logs.String)
}
