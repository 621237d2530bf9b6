package lighting

import (
	"encoding/json"
	"testing"
)

// TestZoneSettingsJSONKeepsNoEffects: "no effect allowed" ([]) must survive a round trip as JSON, apart
// from "every effect allowed" (null), or the dashboard could not show a zone limited to solid colour.
func TestZoneSettingsJSONKeepsNoEffects(t *testing.T) {
	for _, tc := range []struct {
		in   ZoneSettings
		want string
	}{
		{ZoneSettings{}, `null`},
		{ZoneSettings{Effects: []string{}}, `[]`},
		{ZoneSettings{Effects: []string{"Blink"}}, `["Blink"]`},
	} {
		b, err := json.Marshal(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]json.RawMessage
		json.Unmarshal(b, &m)
		if got := string(m["effects"]); got != tc.want {
			t.Errorf("effects of %+v encode as %s, want %s", tc.in, got, tc.want)
		}
		var back ZoneSettings
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if (back.Effects == nil) != (tc.in.Effects == nil) || len(back.Effects) != len(tc.in.Effects) {
			t.Errorf("round trip of %+v gave %+v", tc.in, back)
		}
	}
}
