package store

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stagelink/stagelink/lighting"
)

func ptr[T any](v T) *T { return &v }

func red(zone string) lighting.Command {
	return lighting.Command{Zone: zone, On: ptr(true), Color: &lighting.Color{R: 255}, Brightness: ptr(200)}
}

func TestPresetsRoundTrip(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *DB) {
		now := fixedClock(db, testTime())
		party := Preset{Name: "Party", CreatedBy: "alice", Commands: []lighting.Command{
			red("desk"),
			{Zone: "wall", Effect: ptr("Rainbow <fast>"), Speed: ptr(255), Intensity: ptr(0)},
			{Zone: "disco", On: ptr(false)},
			{Zone: "solid", Effect: ptr("")},
		}}
		saved, err := db.SavePreset(ctxT(t), party)
		if err != nil {
			t.Fatalf("SavePreset: %v", err)
		}
		if saved.ID == 0 {
			t.Fatal("SavePreset returned ID 0")
		}
		want := party
		want.ID, want.CreatedAt = saved.ID, now
		if diff := cmp.Diff(want, saved); diff != "" {
			t.Errorf("SavePreset returned (-want +got):\n%s", diff)
		}
		got, err := db.Preset(ctxT(t), saved.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Preset (-want +got):\n%s", diff)
		}

		// Updating keeps the id and who created it and when.
		fixedClock(db, testTime().Add(time.Hour))
		update := Preset{ID: saved.ID, Name: "PARTY", CreatedBy: "bob", Commands: []lighting.Command{red("lamp")}}
		updated, err := db.SavePreset(ctxT(t), update)
		if err != nil {
			t.Fatalf("SavePreset(update): %v", err)
		}
		want = Preset{ID: saved.ID, Name: "PARTY", Commands: update.Commands, CreatedAt: now, CreatedBy: "alice"}
		if diff := cmp.Diff(want, updated); diff != "" {
			t.Errorf("SavePreset(update) returned (-want +got):\n%s", diff)
		}

		if err := db.DeletePreset(ctxT(t), saved.ID); err != nil {
			t.Fatal(err)
		}
		_, err = db.Preset(ctxT(t), saved.ID)
		wantErrIs(t, err, ErrNotFound)
		wantErrIs(t, db.DeletePreset(ctxT(t), saved.ID), ErrNotFound)
		_, err = db.SavePreset(ctxT(t), update)
		wantErrIs(t, err, ErrNotFound)
		if n := countRows(t, db, "presets"); n != 0 {
			t.Errorf("updating a deleted preset left %d rows, want 0", n)
		}

		// Ids are not reused after a delete.
		again, err := db.SavePreset(ctxT(t), party)
		if err != nil {
			t.Fatal(err)
		}
		if again.ID <= saved.ID {
			t.Errorf("a new preset got id %d, want more than the deleted %d", again.ID, saved.ID)
		}
	})
}

func TestPresetsOrderAndUniqueNames(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *DB) {
		names := append([]string{"gamma", "Beta", "alpha", "Ärger", "Straße"}, injections()...)
		for _, name := range names {
			if _, err := db.SavePreset(ctxT(t), Preset{Name: name, Commands: []lighting.Command{red("desk")}}); err != nil {
				t.Fatalf("SavePreset(%q): %v", name, err)
			}
		}
		list, err := db.Presets(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range list {
			got = append(got, p.Name)
		}
		// By case-folded name, in byte order.
		want := []string{`" OR "1"="1`, "% _ \\% \\_", `'; DROP TABLE accounts; --`, `<img src=x onerror=alert(1)>`,
			`<script>alert(1)</script>`, `\'; SELECT SLEEP(5); --`, "alpha", "Beta", "gamma", `Robert'); DROP TABLE presets;--`,
			"Straße", "{{AUTO_ID}}", "Ärger"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Presets order (-want +got):\n%s", diff)
		}

		for _, dup := range []string{"ALPHA", "beta", "äRGER", "STRASSE", "strasse"} {
			_, err := db.SavePreset(ctxT(t), Preset{Name: dup, Commands: []lighting.Command{red("desk")}})
			wantErrIs(t, err, ErrExists)
		}
		// Renaming onto another preset's name is refused; a change of case of its own name is not.
		alpha := list[6]
		if alpha.Name != "alpha" {
			t.Fatalf("list[6] is %q", alpha.Name)
		}
		alpha.Name = "GAMMA"
		_, err = db.SavePreset(ctxT(t), alpha)
		wantErrIs(t, err, ErrExists)
		alpha.Name = "Alpha"
		if _, err := db.SavePreset(ctxT(t), alpha); err != nil {
			t.Errorf("renaming alpha to Alpha: %v", err)
		}
		if n := countRows(t, db, "presets"); n != len(names) {
			t.Errorf("presets: got %d rows, want %d", n, len(names))
		}
	})
}

func TestSavePresetRefuses(t *testing.T) {
	t.Parallel()
	many := make([]lighting.Command, MaxPresetCommands+1)
	for i := range many {
		many[i] = red("desk")
	}
	cases := []struct {
		name string
		p    Preset
		want string
	}{
		{"no name", Preset{Commands: []lighting.Command{red("desk")}}, "preset name must not be empty"},
		{"blank name", Preset{Name: "  ", Commands: []lighting.Command{red("desk")}}, "blank"},
		{"trailing space", Preset{Name: "party ", Commands: []lighting.Command{red("desk")}}, "start or end with a space"},
		{"long name", Preset{Name: strings.Repeat("ż", 61), Commands: []lighting.Command{red("desk")}}, "61 characters"},
		{"name with a newline", Preset{Name: "a\nb", Commands: []lighting.Command{red("desk")}}, "one line"},
		{"name not UTF-8", Preset{Name: "\xff", Commands: []lighting.Command{red("desk")}}, "UTF-8"},
		{"long creator", Preset{Name: "x", CreatedBy: strings.Repeat("c", 65), Commands: []lighting.Command{red("desk")}}, "created by"},
		{"no commands", Preset{Name: "x"}, "no commands"},
		{"too many commands", Preset{Name: "x", Commands: many}, "65 commands"},
		{"no zone", Preset{Name: "x", Commands: []lighting.Command{red("desk"), {On: ptr(true)}}}, "command 2 of preset \"x\" names no zone"},
		{"bad zone", Preset{Name: "x", Commands: []lighting.Command{red("Desk Lamp")}}, "command 1 of preset \"x\": \"zone\" must be"},
		{"injection zone", Preset{Name: "x", Commands: []lighting.Command{red("'; DROP TABLE presets; --")}}, "\"zone\" must be"},
		{"nothing to change", Preset{Name: "x", Commands: []lighting.Command{{Zone: "desk"}}}, "nothing to change"},
		{"brightness too high", Preset{Name: "x", Commands: []lighting.Command{{Zone: "desk", Brightness: ptr(256)}}}, "brightness must be from 0 to 255"},
		{"negative speed", Preset{Name: "x", Commands: []lighting.Command{{Zone: "desk", Speed: ptr(-1)}}}, "speed must be from 0 to 255"},
		{"long effect", Preset{Name: "x", Commands: []lighting.Command{{Zone: "desk", Effect: ptr(strings.Repeat("e", 65))}}}, "\"effect\" must be at most 64 bytes"},
	}
	forEachDB(t, func(t *testing.T, db *DB) {
		stored, err := db.SavePreset(ctxT(t), Preset{Name: "keep", Commands: []lighting.Command{red("desk")}})
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				for _, id := range []int64{0, stored.ID} {
					p := tc.p
					p.ID = id
					_, err := db.SavePreset(ctxT(t), p)
					wantErrIs(t, err, ErrInvalid)
					if !strings.Contains(err.Error(), tc.want) {
						t.Errorf("got %q, want it to contain %q", err, tc.want)
					}
				}
				list, err := db.Presets(ctxT(t))
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff([]Preset{stored}, list); diff != "" {
					t.Errorf("a refused SavePreset changed the presets (-want +got):\n%s", diff)
				}
			})
		}
	})
}

func TestPresetsLimit(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *DB) {
		for i := range MaxPresets {
			if _, err := db.SavePreset(ctxT(t), Preset{Name: "p" + itoa(i), Commands: []lighting.Command{red("desk")}}); err != nil {
				t.Fatalf("preset %d: %v", i, err)
			}
		}
		_, err := db.SavePreset(ctxT(t), Preset{Name: "one too many", Commands: []lighting.Command{red("desk")}})
		wantErrIs(t, err, ErrInvalid)
		if n := countRows(t, db, "presets"); n != MaxPresets {
			t.Errorf("presets: got %d, want %d", n, MaxPresets)
		}
	})
}

// TestPresetNameFoldsLonger stores names whose case-folded key is three times as long as the name (the
// most folding lengthens a rune), which the key column must hold.
func TestPresetNameFoldsLonger(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *DB) {
		for _, r := range []string{"\u0390", "\uFB03"} { // ΐ → ΐ, ﬃ → ffi
			name := strings.Repeat(r, MaxPresetNameRunes)
			if got := len([]rune(presetKey(name))); got != 3*MaxPresetNameRunes {
				t.Fatalf("the key of %q has %d runes, want %d", name, got, 3*MaxPresetNameRunes)
			}
			p, err := db.SavePreset(ctxT(t), Preset{Name: name, Commands: []lighting.Command{red("desk")}})
			if err != nil {
				t.Fatalf("SavePreset(%q): %v", name, err)
			}
			if p.Name != name {
				t.Errorf("got name %q, want %q", p.Name, name)
			}
		}
	})
}
