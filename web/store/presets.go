package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"

	"github.com/stagelink/stagelink/lighting"
)

// Preset is a named light state for one or many zones.
type Preset struct {
	ID        int64              `json:"id"`
	Name      string             `json:"name"`     // 1–60 runes, one line, unique ignoring case
	Commands  []lighting.Command `json:"commands"` // 1–64, each a command lighting.DecodeCommand accepts
	CreatedAt time.Time          `json:"createdAt"`
	CreatedBy string             `json:"createdBy"`
}

// Limits of presets.
const (
	MaxPresets           = 200
	MaxPresetNameRunes   = 60
	MaxPresetCommands    = 64
	maxPresetCommandJSON = MaxPresetCommands * lighting.MaxCommandSize
)

// Validate checks the preset's name, creator and commands: each command must have its zone set, be one
// that lighting.DecodeCommand accepts (it is encoded and decoded again to make sure), and keep
// brightness, speed and intensity within 0–255. Whether a zone takes a field is checked when the preset
// is applied (lighting's Check). Errors wrap ErrInvalid.
func (p Preset) Validate() error {
	_, err := p.check()
	return err
}

// check validates p and returns its commands as DecodeCommand reads them back.
func (p Preset) check() ([]lighting.Command, error) {
	if err := (textRule{name: "preset name", min: 1, max: MaxPresetNameRunes, trimmed: true}).check(p.Name); err != nil {
		return nil, err
	}
	if err := checkActor("created by", p.CreatedBy); err != nil {
		return nil, err
	}
	if len(p.Commands) == 0 {
		return nil, invalidf("preset %q has no commands: add at least one", clip(p.Name))
	}
	if len(p.Commands) > MaxPresetCommands {
		return nil, invalidf("preset %q has %d commands; at most %d are allowed", clip(p.Name), len(p.Commands), MaxPresetCommands)
	}
	out := make([]lighting.Command, len(p.Commands))
	for i, c := range p.Commands {
		if c.Zone == "" {
			return nil, invalidf("command %d of preset %q names no zone", i+1, clip(p.Name))
		}
		raw, err := json.Marshal(c)
		if err != nil {
			return nil, invalidf("command %d of preset %q cannot be encoded: %v", i+1, clip(p.Name), err)
		}
		d, err := lighting.DecodeCommand(raw)
		if err != nil {
			msg := err.Error()
			if le, ok := errors.AsType[*lighting.Error](err); ok {
				msg = le.Message
			}
			return nil, invalidf("command %d of preset %q: %s", i+1, clip(p.Name), msg)
		}
		for _, f := range []struct {
			name string
			v    *int
		}{{"brightness", d.Brightness}, {"speed", d.Speed}, {"intensity", d.Intensity}} {
			if f.v != nil && (*f.v < 0 || *f.v > 255) {
				return nil, invalidf("command %d of preset %q: %s must be from 0 to 255", i+1, clip(p.Name), f.name)
			}
		}
		out[i] = d
	}
	return out, nil
}

// presetKey is the form of a preset name that must be unique: NFC-normalised and case-folded.
func presetKey(name string) string {
	return cases.Fold().String(norm.NFC.String(name))
}

const presetColumns = "id, name, commands, created_at, created_by"

func scanPreset(row interface{ Scan(...any) error }) (Preset, error) {
	var p Preset
	var commands string
	var created int64
	if err := row.Scan(&p.ID, &p.Name, &commands, &created, &p.CreatedBy); err != nil {
		return Preset{}, err
	}
	if err := json.Unmarshal([]byte(commands), &p.Commands); err != nil {
		return Preset{}, fmt.Errorf("store: read the commands of preset %d: %w", p.ID, err)
	}
	p.Commands = nonNil(p.Commands)
	p.CreatedAt = fromMS(created)
	return p, nil
}

// Presets returns every preset, by name ignoring case.
func (db *DB) Presets(ctx context.Context) ([]Preset, error) {
	rows, err := db.sql.QueryContext(ctx, "SELECT "+presetColumns+" FROM presets ORDER BY name_key, id")
	if err != nil {
		return nil, fmt.Errorf("store: read presets: %w", err)
	}
	defer rows.Close()
	out := []Preset{}
	for rows.Next() {
		p, err := scanPreset(rows)
		if err != nil {
			return nil, fmt.Errorf("store: read presets: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: read presets: %w", err)
	}
	return out, nil
}

// Preset returns the preset with id, or ErrNotFound.
func (db *DB) Preset(ctx context.Context, id int64) (Preset, error) {
	return db.preset(ctx, db.sql, id)
}

func (db *DB) preset(ctx context.Context, q querier, id int64) (Preset, error) {
	p, err := scanPreset(q.QueryRowContext(ctx, "SELECT "+presetColumns+" FROM presets WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return Preset{}, notFoundf("preset %d does not exist", id)
	}
	if err != nil {
		return Preset{}, fmt.Errorf("store: read preset %d: %w", id, err)
	}
	return p, nil
}

// SavePreset validates p and stores it. ID 0 inserts a new preset, created now by p.CreatedBy; another
// ID replaces that preset's name and commands (ErrNotFound if it is gone), keeping when and by whom it
// was created. A name another preset has, ignoring case, is ErrExists; more than MaxPresets is
// ErrInvalid. It returns the preset as stored.
func (db *DB) SavePreset(ctx context.Context, p Preset) (Preset, error) {
	commands, err := p.check()
	if err != nil {
		return Preset{}, err
	}
	raw, err := json.Marshal(commands)
	if err != nil {
		return Preset{}, fmt.Errorf("store: encode preset commands: %w", err)
	}
	if len(raw) > maxPresetCommandJSON {
		return Preset{}, invalidf("the commands of preset %q are too large", clip(p.Name))
	}
	now := db.nowMS()
	var saved Preset
	err = db.inTx(ctx, func(tx *sql.Tx) error {
		id := p.ID
		if id == 0 {
			var n int
			if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM presets").Scan(&n); err != nil {
				return fmt.Errorf("store: count presets: %w", err)
			}
			if n >= MaxPresets {
				return invalidf("there are %d presets already, the most allowed: delete some first", n)
			}
			res, err := tx.ExecContext(ctx,
				"INSERT INTO presets (name, name_key, commands, created_at, created_by, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
				p.Name, presetKey(p.Name), string(raw), toMS(now), p.CreatedBy, toMS(now))
			if db.isDuplicate(err) {
				return existsf("a preset named %q already exists", clip(p.Name))
			}
			if err != nil {
				return fmt.Errorf("store: add preset: %w", err)
			}
			if id, err = res.LastInsertId(); err != nil {
				return fmt.Errorf("store: add preset: %w", err)
			}
		} else {
			res, err := tx.ExecContext(ctx, "UPDATE presets SET name = ?, name_key = ?, commands = ?, updated_at = ? WHERE id = ?",
				p.Name, presetKey(p.Name), string(raw), toMS(now), id)
			if db.isDuplicate(err) {
				return existsf("another preset is named %q already", clip(p.Name))
			}
			if err != nil {
				return fmt.Errorf("store: save preset %d: %w", id, err)
			}
			if err := expectRow(res, "preset %d does not exist", id); err != nil {
				return err
			}
		}
		saved, err = db.preset(ctx, tx, id)
		return err
	})
	if err != nil {
		return Preset{}, err
	}
	return saved, nil
}

// DeletePreset deletes the preset with id; ErrNotFound if there is none.
func (db *DB) DeletePreset(ctx context.Context, id int64) error {
	res, err := db.sql.ExecContext(ctx, "DELETE FROM presets WHERE id = ?", id)
	if err != nil {
		return fmt.Errorf("store: delete preset %d: %w", id, err)
	}
	return expectRow(res, "preset %d does not exist", id)
}
