package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/stagelink/stagelink/lighting"
)

// Limits of lighting.ZoneSettings.
const (
	MaxZoneNameBytes   = 64
	MaxZoneEffects     = 512
	MaxEffectNameBytes = 64
	MaxZoneOrder       = 1_000_000 // Order is within ±MaxZoneOrder
)

// ValidateZoneSettings checks settings for zone: the zone must pass lighting.ValidZoneID; Name at most
// MaxZoneNameBytes, one line ("" keeps the bridge's name); Order within ±MaxZoneOrder; Effects nil
// (every announced effect) or at most MaxZoneEffects names of 1–MaxEffectNameBytes bytes, one line.
func ValidateZoneSettings(zone string, s lighting.ZoneSettings) error {
	if !lighting.ValidZoneID(zone) {
		return invalidf("zone %q is not a zone id: 1 to 40 characters a-z, 0-9 or \"-\"", clip(zone))
	}
	if err := (textRule{name: "zone name", max: MaxZoneNameBytes, bytes: true}).check(s.Name); err != nil {
		return err
	}
	if s.Order < -MaxZoneOrder || s.Order > MaxZoneOrder {
		return invalidf("zone order %d is out of range: use a number from %d to %d", s.Order, -MaxZoneOrder, MaxZoneOrder)
	}
	if len(s.Effects) > MaxZoneEffects {
		return invalidf("the zone lists %d effects; at most %d are allowed", len(s.Effects), MaxZoneEffects)
	}
	for i, e := range s.Effects {
		if err := (textRule{name: fmt.Sprintf("effect %d", i+1), min: 1, max: MaxEffectNameBytes, bytes: true}).check(e); err != nil {
			return err
		}
	}
	return nil
}

// ZoneSettings returns the settings of every zone that has some, by zone id.
func (db *DB) ZoneSettings(ctx context.Context) (map[string]lighting.ZoneSettings, error) {
	rows, err := db.sql.QueryContext(ctx, "SELECT zone, name, sort_order, hidden, disabled, effects FROM zone_settings")
	if err != nil {
		return nil, fmt.Errorf("store: read zone settings: %w", err)
	}
	defer rows.Close()
	out := map[string]lighting.ZoneSettings{}
	for rows.Next() {
		var zone string
		var s lighting.ZoneSettings
		var effects sql.NullString
		if err := rows.Scan(&zone, &s.Name, &s.Order, &s.Hidden, &s.Disabled, &effects); err != nil {
			return nil, fmt.Errorf("store: read zone settings: %w", err)
		}
		if effects.Valid {
			if err := json.Unmarshal([]byte(effects.String), &s.Effects); err != nil {
				return nil, fmt.Errorf("store: read the effects of zone %s: %w", zone, err)
			}
			s.Effects = nonNil(s.Effects)
		}
		out[zone] = s
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: read zone settings: %w", err)
	}
	return out, nil
}

// SetZoneSettings validates s (see ValidateZoneSettings) and stores it for zone, replacing what was
// there. Effects nil and Effects empty stay different: nil allows every announced effect, empty none.
func (db *DB) SetZoneSettings(ctx context.Context, zone string, s lighting.ZoneSettings) error {
	if err := ValidateZoneSettings(zone, s); err != nil {
		return err
	}
	var effects sql.NullString
	if s.Effects != nil {
		b, err := json.Marshal(s.Effects)
		if err != nil {
			return fmt.Errorf("store: encode effects: %w", err)
		}
		effects = sql.NullString{String: string(b), Valid: true}
	}
	_, err := db.sql.ExecContext(ctx, db.upsert("zone_settings", []string{"zone"},
		"name", "sort_order", "hidden", "disabled", "effects", "updated_at"),
		zone, s.Name, s.Order, s.Hidden, s.Disabled, effects, db.now().UnixMilli())
	if err != nil {
		return fmt.Errorf("store: save the settings of zone %s: %w", zone, err)
	}
	return nil
}

// DeleteZoneSettings forgets zone's settings, so the zone shows as its bridge announces it. ErrNotFound
// when it has none.
func (db *DB) DeleteZoneSettings(ctx context.Context, zone string) error {
	res, err := db.sql.ExecContext(ctx, "DELETE FROM zone_settings WHERE zone = ?", zone)
	if err != nil {
		return fmt.Errorf("store: delete the settings of zone %s: %w", clip(zone), err)
	}
	return expectRow(res, "zone %q has no settings", clip(zone))
}
