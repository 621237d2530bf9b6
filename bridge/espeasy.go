package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/stagelink/stagelink/lighting"
)

// ESPEasy commands: https://espeasy.readthedocs.io/en/latest/Reference/Command.html (letscontrolit/ESPEasy).

// espeasyMaxDuty is full scale of ESPEasy's PWM command.
const espeasyMaxDuty = 1023

// espeasyZone is what one zone drives on an ESPEasy: three PWM GPIOs (r, g, b) or one relay GPIO.
type espeasyZone struct {
	pwm   []int
	relay int
	fade  int // ms; 0 switches at once
}

// espeasyDriver sends zone states to one ESPEasy controller, one command per request, one at a time.
type espeasyDriver struct {
	conn  *conn
	zones map[string]espeasyZone
}

// apply sends each zone's commands in turn. A transport failure stops the batch; the zones already sent
// stay done.
func (e *espeasyDriver) apply(ctx context.Context, batch []zoneUpdate) error {
	for i := range batch {
		u := &batch[i]
		z := e.zones[u.zone]
		for _, cmd := range espeasyCommands(z, u.state) {
			err := e.command(ctx, cmd)
			var rej *rejectedError
			if errors.As(err, &rej) {
				u.err = err
				break
			}
			if err != nil {
				return err
			}
		}
		if u.err == nil {
			u.done = true
		}
	}
	return nil
}

// espeasyCommands returns the commands that show st on z.
func espeasyCommands(z espeasyZone, st lighting.State) []string {
	if len(z.pwm) == 0 {
		v := 0
		if st.On {
			v = 1
		}
		return []string{fmt.Sprintf("GPIO,%d,%d", z.relay, v)}
	}
	c := st.Color
	cmds := make([]string, 0, 3)
	for i, ch := range []uint8{c.R, c.G, c.B} {
		d := duty(ch, st)
		if z.fade > 0 {
			cmds = append(cmds, fmt.Sprintf("PWM,%d,%d,%d", z.pwm[i], d, z.fade))
		} else {
			cmds = append(cmds, fmt.Sprintf("PWM,%d,%d", z.pwm[i], d))
		}
	}
	return cmds
}

// duty maps one colour channel at the state's brightness to 0–1023, rounding to nearest; off is 0.
func duty(ch uint8, st lighting.State) int {
	if !st.On {
		return 0
	}
	b := clamp(st.Brightness, 0, 255)
	return (int(ch)*b*espeasyMaxDuty + 255*255/2) / (255 * 255)
}

// command sends GET /control?cmd=… and checks the answer, which has status 200 even for errors.
func (e *espeasyDriver) command(ctx context.Context, cmd string) error {
	path := "/control?cmd=" + url.QueryEscape(cmd)
	rep, err := e.conn.do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	if err := checkESPEasyReply(rep); err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	return nil
}

// checkESPEasyReply checks a /control answer: pin state JSON (`{"log":…,"pin":12,…}`) or "OK" is success;
// other text ("Command unknown: …") is a refusal; 403 means this bridge's IP is not allowed.
func checkESPEasyReply(r reply) error {
	switch r.status {
	case http.StatusOK:
	case http.StatusForbidden:
		return errors.New("ESPEasy refused this bridge's IP (403): allow it under Tools → Advanced → Allowed IP range")
	default:
		return fmt.Errorf("HTTP %d %s", r.status, quoteBody(r.body))
	}
	return parseESPEasyReply(r.body)
}

// espeasyPinState is ESPEasy's answer to a GPIO or PWM command.
type espeasyPinState struct {
	Log    string `json:"log"`
	Plugin int    `json:"plugin"`
	Pin    *int   `json:"pin"`
	Mode   string `json:"mode"`
	State  int    `json:"state"`
}

// parseESPEasyReply parses the body of a /control answer.
func parseESPEasyReply(b []byte) error {
	s := bytes.TrimSpace(b)
	switch {
	case len(s) > 0 && s[0] == '{':
		var v espeasyPinState
		if err := json.Unmarshal(s, &v); err != nil {
			return rejected("ESPEasy: unexpected reply %s", quoteBody(s))
		}
		if v.Pin == nil {
			return rejected("ESPEasy: reply names no pin %s", quoteBody(s))
		}
		return nil
	case strings.EqualFold(string(s), "OK"):
		return nil
	case len(s) == 0:
		return rejected("ESPEasy: empty reply")
	default:
		return rejected("ESPEasy: %s", truncate(strings.TrimSpace(strings.ToValidUTF8(string(s), "?")), 80))
	}
}

// info reads GET /json (System and WiFi). ESPEasy has no effects.
func (e *espeasyDriver) info(ctx context.Context, _ bool) (DeviceInfo, error) {
	rep, err := e.conn.do(ctx, http.MethodGet, "/json", nil)
	if err != nil {
		return DeviceInfo{}, err
	}
	switch rep.status {
	case http.StatusOK:
	case http.StatusForbidden:
		return DeviceInfo{}, checkESPEasyReply(rep)
	default:
		return DeviceInfo{}, fmt.Errorf("GET /json: HTTP %d", rep.status)
	}
	inf, err := decodeESPEasyInfo(rep.body)
	if err != nil {
		return DeviceInfo{}, fmt.Errorf("GET /json: %w", err)
	}
	return inf, nil
}

func (e *espeasyDriver) effects() []string { return nil }

// espeasyInfo is the part of ESPEasy's /json the bridge uses (letscontrolit/ESPEasy
// src/src/WebServer/JSON.cpp handle_json, labels from src/src/Helpers/StringProvider.cpp). ESPEasy writes
// every value that looks like a number without quotes, and older builds quote every value, so each field is
// read leniently: a missing or malformed one is left zero.
type espeasyInfo struct {
	System struct {
		Build    json.RawMessage `json:"Build"`       // 20116, or "20116 - Mega"
		GitBuild json.RawMessage `json:"Git Build"`   // the release: "mega-20230822"
		UnitName json.RawMessage `json:"Unit Name"`   // a number when it looks like one
		Uptime   json.RawMessage `json:"Uptime"`      // minutes
		UptimeMS json.RawMessage `json:"Uptime (ms)"` // newer builds
	} `json:"System"`
	WiFi struct {
		RSSI json.RawMessage `json:"RSSI"` // dBm
	} `json:"WiFi"`
}

// decodeESPEasyInfo decodes ESPEasy's GET /json. ESPEasy reports no signal quality, only the RSSI.
func decodeESPEasyInfo(b []byte) (DeviceInfo, error) {
	var v espeasyInfo
	if err := json.Unmarshal(b, &v); err != nil {
		return DeviceInfo{}, fmt.Errorf("decode info: %w", err)
	}
	const maxUptime = 100 * 365 * 24 * time.Hour
	var up time.Duration
	if ms, ok := jsonInt(v.System.UptimeMS); ok && ms >= 0 && ms < int64(maxUptime/time.Millisecond) {
		up = time.Duration(ms) * time.Millisecond
	} else if m, ok := jsonInt(v.System.Uptime); ok && m >= 0 && m < int64(maxUptime/time.Minute) {
		up = time.Duration(m) * time.Minute
	}
	version := jsonText(v.System.GitBuild)
	if version == "" {
		version = jsonText(v.System.Build)
	}
	return DeviceInfo{
		Name:    truncate(jsonText(v.System.UnitName), 64),
		Version: truncate(version, 32),
		RSSI:    rssiOf(v.WiFi.RSSI),
		Uptime:  up,
	}, nil
}

// jsonInt reads a JSON integer, also when it is quoted ("12") as some ESPEasy builds do, or written with a
// fraction (cut off). It fails for anything else and for numbers beyond ±2^53.
func jsonInt(raw json.RawMessage) (int64, bool) {
	s := strings.TrimSpace(string(raw))
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = strings.TrimSpace(s[1 : len(s)-1])
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.Abs(f) > 1<<53 {
		return 0, false
	}
	return int64(f), true
}

// jsonText reads a JSON string, or the text of a number or boolean; "" for null, objects, arrays and
// malformed values. Surrounding spaces are trimmed.
func jsonText(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	switch c := raw[0]; {
	case c == '"':
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return ""
		}
		return strings.TrimSpace(s)
	case c == '-' || (c >= '0' && c <= '9') || string(raw) == "true" || string(raw) == "false":
		if !json.Valid(raw) {
			return ""
		}
		return string(raw)
	}
	return ""
}
