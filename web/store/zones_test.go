package store

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stagelink/stagelink/lighting"
)

func TestZoneSettingsRoundTrip(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *DB) {
		many := make([]string, MaxZoneEffects)
		for i := range many {
			many[i] = fmt.Sprintf("effect-%03d-ż", i)
		}
		want := map[string]lighting.ZoneSettings{
			"desk":  {Name: "Desk <strip>", Order: -MaxZoneOrder, Effects: []string{"Rainbow", "Solid"}},
			"lamp":  {Order: MaxZoneOrder, Hidden: true},                                            // nil effects: every announced one
			"disco": {Name: `'; DROP TABLE zone_settings; --`, Disabled: true, Effects: []string{}}, // none
			"wall":  {Name: strings.Repeat("ż", MaxZoneNameBytes/2), Effects: many},
		}
		for zone, s := range want {
			if err := db.SetZoneSettings(ctxT(t), zone, s); err != nil {
				t.Fatalf("SetZoneSettings(%s): %v", zone, err)
			}
		}
		got, err := db.ZoneSettings(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ZoneSettings (-want +got):\n%s", diff)
		}
		if got["lamp"].Effects != nil || got["disco"].Effects == nil {
			t.Errorf("got lamp effects %#v and disco effects %#v, want nil and empty", got["lamp"].Effects, got["disco"].Effects)
		}

		// Setting again replaces.
		want["desk"] = lighting.ZoneSettings{Name: "Desk", Order: 3}
		if err := db.SetZoneSettings(ctxT(t), "desk", want["desk"]); err != nil {
			t.Fatal(err)
		}
		if err := db.DeleteZoneSettings(ctxT(t), "wall"); err != nil {
			t.Fatal(err)
		}
		delete(want, "wall")
		got, err = db.ZoneSettings(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ZoneSettings after replacing and deleting (-want +got):\n%s", diff)
		}
		wantErrIs(t, db.DeleteZoneSettings(ctxT(t), "wall"), ErrNotFound)
		wantErrIs(t, db.DeleteZoneSettings(ctxT(t), "Not A Zone"), ErrNotFound)
	})
}

func TestZoneSettingsEmpty(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *DB) {
		got, err := db.ZoneSettings(ctxT(t))
		if err != nil || got == nil || len(got) != 0 {
			t.Errorf("ZoneSettings of a fresh database: got %#v, %v, want an empty map", got, err)
		}
	})
}

func TestSetZoneSettingsRefuses(t *testing.T) {
	t.Parallel()
	tooMany := make([]string, MaxZoneEffects+1)
	for i := range tooMany {
		tooMany[i] = "e"
	}
	cases := []struct {
		name string
		zone string
		s    lighting.ZoneSettings
		want string
	}{
		{"empty zone", "", lighting.ZoneSettings{}, "not a zone id"},
		{"upper-case zone", "Desk", lighting.ZoneSettings{}, "not a zone id"},
		{"zone with a space", "a b", lighting.ZoneSettings{}, "not a zone id"},
		{"long zone", strings.Repeat("a", 41), lighting.ZoneSettings{}, "not a zone id"},
		{"injection zone", `'; DROP TABLE zone_settings; --`, lighting.ZoneSettings{}, "not a zone id"},
		{"long name", "desk", lighting.ZoneSettings{Name: strings.Repeat("ż", 33)}, "zone name is 66 bytes long; at most 64"},
		{"name with a newline", "desk", lighting.ZoneSettings{Name: "a\nb"}, "one line"},
		{"name with a control", "desk", lighting.ZoneSettings{Name: "a\x01"}, "control character"},
		{"name not UTF-8", "desk", lighting.ZoneSettings{Name: "\xff"}, "not valid UTF-8"},
		{"order too high", "desk", lighting.ZoneSettings{Order: MaxZoneOrder + 1}, "out of range"},
		{"order too low", "desk", lighting.ZoneSettings{Order: -MaxZoneOrder - 1}, "out of range"},
		{"too many effects", "desk", lighting.ZoneSettings{Effects: tooMany}, "513 effects"},
		{"empty effect", "desk", lighting.ZoneSettings{Effects: []string{"ok", ""}}, "effect 2 must not be empty"},
		{"long effect", "desk", lighting.ZoneSettings{Effects: []string{strings.Repeat("e", 65)}}, "effect 1 is 65 bytes"},
		{"effect with a newline", "desk", lighting.ZoneSettings{Effects: []string{"a\nb"}}, "one line"},
		{"effect not UTF-8", "desk", lighting.ZoneSettings{Effects: []string{"\xc0\x80"}}, "not valid UTF-8"},
	}
	forEachDB(t, func(t *testing.T, db *DB) {
		stored := lighting.ZoneSettings{Name: "Desk", Order: 1, Effects: []string{"Solid"}}
		if err := db.SetZoneSettings(ctxT(t), "desk", stored); err != nil {
			t.Fatal(err)
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				err := db.SetZoneSettings(ctxT(t), tc.zone, tc.s)
				wantErrIs(t, err, ErrInvalid)
				if !strings.Contains(err.Error(), tc.want) {
					t.Errorf("got %q, want it to contain %q", err, tc.want)
				}
				got, err := db.ZoneSettings(ctxT(t))
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(map[string]lighting.ZoneSettings{"desk": stored}, got); diff != "" {
					t.Errorf("a refused SetZoneSettings changed them (-want +got):\n%s", diff)
				}
			})
		}
	})
}
