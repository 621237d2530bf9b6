package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// WLED JSON API: https://kno.wled.ge/interfaces/json-api/ (wled/WLED-Docs docs/interfaces/json-api.md).

// wledTransition is the "tt" of every state change, in 100 ms units: 0 switches at once, so a viewer's
// click shows on the video without a fade in between.
const wledTransition = 0

// Limits on what a WLED may announce, so a broken or hostile device cannot make the bridge hoard memory.
const (
	maxEffects       = 1024
	maxEffectNameLen = 64
)

// wledDriver sends zone states to the segments of one WLED controller.
type wledDriver struct {
	conn     *conn
	segments map[string]int // zone → segment id
	fx       []string       // /json/eff as read: index = fx id; nil until read
}

// wledStateRequest is the body of POST /json/state. The master stays on at full brightness; each zone
// is a segment with its own on and bri, so zones on one controller never dim or switch each other.
type wledStateRequest struct {
	On         bool                 `json:"on"`
	Bri        int                  `json:"bri"`
	Seg        []wledSegmentRequest `json:"seg"`
	Transition int                  `json:"tt"`
	UDPN       wledUDPN             `json:"udpn"`
}

type wledUDPN struct {
	NoSync bool `json:"nn"` // do not sync this change to other WLEDs
}

type wledSegmentRequest struct {
	ID  int      `json:"id"`
	On  bool     `json:"on"`
	Bri int      `json:"bri,omitempty"` // omitted when off: WLED takes "bri":0 as off and keeps the old level
	Col [][3]int `json:"col"`
	FX  int      `json:"fx"`
	SX  int      `json:"sx"`
	IX  int      `json:"ix"`
}

// apply sends all updates in one POST /json/state, one segment each.
func (w *wledDriver) apply(ctx context.Context, batch []zoneUpdate) error {
	req := wledStateRequest{On: true, Bri: 255, Transition: wledTransition, UDPN: wledUDPN{NoSync: true}}
	for i := range batch {
		seg, note := w.segment(batch[i])
		batch[i].note = note
		req.Seg = append(req.Seg, seg)
	}
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("encode wled state: %w", err)
	}
	rep, err := w.conn.do(ctx, http.MethodPost, "/json/state", body)
	if err != nil {
		return err
	}
	err = checkWLEDReply(rep, time.Now())
	var rej *rejectedError
	switch {
	case errors.As(err, &rej):
		for i := range batch {
			batch[i].err = err
			batch[i].note = ""
		}
		return nil
	case err != nil:
		return fmt.Errorf("POST /json/state: %w", err)
	}
	for i := range batch {
		batch[i].done = true
	}
	return nil
}

// segment maps one zone state to its segment; note says what could not be shown as asked.
func (w *wledDriver) segment(u zoneUpdate) (wledSegmentRequest, string) {
	st := u.state
	c := st.Color
	seg := wledSegmentRequest{
		ID:  w.segments[u.zone],
		On:  st.On && st.Brightness > 0,
		Col: [][3]int{{int(c.R), int(c.G), int(c.B)}},
		SX:  clamp(st.Speed, 0, 255),
		IX:  clamp(st.Intensity, 0, 255),
	}
	if seg.On {
		seg.Bri = clamp(st.Brightness, 1, 255)
	}
	fx, ok := resolveEffect(w.fx, st.Effect)
	var note string
	if !ok {
		note = fmt.Sprintf("effect %q is not on this device: showing Solid", st.Effect)
	}
	seg.FX = fx
	return seg, note
}

// info reads /json/info and, when asked, the effect list /json/eff.
func (w *wledDriver) info(ctx context.Context, withEffects bool) (DeviceInfo, error) {
	rep, err := w.conn.do(ctx, http.MethodGet, "/json/info", nil)
	if err != nil {
		return DeviceInfo{}, err
	}
	if err := checkWLEDGet(rep, time.Now()); err != nil {
		return DeviceInfo{}, fmt.Errorf("GET /json/info: %w", err)
	}
	inf, err := decodeWLEDInfo(rep.body)
	if err != nil {
		return DeviceInfo{}, fmt.Errorf("GET /json/info: %w", err)
	}
	if !withEffects && w.fx != nil {
		return inf, nil
	}
	rep, err = w.conn.do(ctx, http.MethodGet, "/json/eff", nil)
	if err != nil {
		return DeviceInfo{}, err
	}
	if err := checkWLEDGet(rep, time.Now()); err != nil {
		return DeviceInfo{}, fmt.Errorf("GET /json/eff: %w", err)
	}
	fx, err := decodeWLEDEffects(rep.body)
	if err != nil {
		return DeviceInfo{}, fmt.Errorf("GET /json/eff: %w", err)
	}
	w.fx = fx
	return inf, nil
}

// effects returns the usable effect names of the device, nil until they were read.
func (w *wledDriver) effects() []string {
	if w.fx == nil {
		return nil
	}
	return usableEffects(w.fx)
}

// checkWLEDReply checks the answer to POST /json/state: 200 {"success":true} (or a full state) is
// success, 503 is *BusyError, 400 and 413 are refusals of this request, anything else a failure.
func checkWLEDReply(r reply, now time.Time) error {
	switch r.status {
	case http.StatusOK:
		var v struct {
			Success *bool `json:"success"`
			Error   *int  `json:"error"`
		}
		if err := json.Unmarshal(r.body, &v); err != nil {
			return fmt.Errorf("unexpected reply %s", quoteBody(r.body))
		}
		if v.Error != nil {
			return fmt.Errorf("WLED error %d", *v.Error)
		}
		if v.Success != nil && !*v.Success {
			return errors.New("WLED did not apply the state")
		}
		return nil
	case http.StatusServiceUnavailable:
		return &BusyError{RetryAfter: retryAfter(r.header, now)}
	case http.StatusBadRequest:
		return rejected("WLED rejected the request: %s", wledErrorText(r.body))
	case http.StatusRequestEntityTooLarge:
		return rejected("WLED rejected the request: too large")
	default:
		return fmt.Errorf("HTTP %d %s", r.status, quoteBody(r.body))
	}
}

// checkWLEDGet checks the status of a GET reply; its body is decoded by the caller.
func checkWLEDGet(r reply, now time.Time) error {
	switch r.status {
	case http.StatusOK:
		return nil
	case http.StatusServiceUnavailable:
		return &BusyError{RetryAfter: retryAfter(r.header, now)}
	default:
		return fmt.Errorf("HTTP %d %s", r.status, quoteBody(r.body))
	}
}

func wledErrorText(body []byte) string {
	var v struct {
		Error *int `json:"error"`
	}
	if json.Unmarshal(body, &v) != nil || v.Error == nil {
		return "bad request"
	}
	if *v.Error == 9 {
		return "bad JSON (error 9)"
	}
	return fmt.Sprintf("error %d", *v.Error)
}

// wledInfo is the part of /json/info the bridge uses; usermods add keys of their own, which are ignored.
type wledInfo struct {
	Ver    string `json:"ver"`
	Name   string `json:"name"`
	MAC    string `json:"mac"`
	Uptime int64  `json:"uptime"` // seconds
	LEDs   struct {
		Count int `json:"count"`
	} `json:"leds"`
	WiFi struct {
		Signal json.RawMessage `json:"signal"` // 0–100 %
		RSSI   json.RawMessage `json:"rssi"`   // dBm; in real replies, not in the documented table
	} `json:"wifi"`
}

// decodeWLEDInfo decodes a /json/info reply.
func decodeWLEDInfo(b []byte) (DeviceInfo, error) {
	var v wledInfo
	if err := json.Unmarshal(b, &v); err != nil {
		return DeviceInfo{}, fmt.Errorf("decode info: %w", err)
	}
	if v.Ver == "" {
		return DeviceInfo{}, errors.New("decode info: no version: not a WLED reply")
	}
	if v.Uptime < 0 || v.Uptime > int64(100*365*24*time.Hour/time.Second) {
		return DeviceInfo{}, fmt.Errorf("decode info: uptime %d out of range", v.Uptime)
	}
	inf := DeviceInfo{
		Name:    truncate(v.Name, 64),
		Version: truncate(v.Ver, 32),
		MAC:     truncate(v.MAC, 32),
		LEDs:    v.LEDs.Count,
		RSSI:    rssiOf(v.WiFi.RSSI),
		Uptime:  time.Duration(v.Uptime) * time.Second,
	}
	if n, ok := jsonInt(v.WiFi.Signal); ok {
		inf.Signal = int(min(max(n, 0), 100))
	}
	return inf, nil
}

// rssiOf reads a Wi-Fi RSSI in dBm: 0 (unknown) unless it is a number from -127 to -1. An ESP8266 not
// connected reports 31.
func rssiOf(raw json.RawMessage) int {
	if n, ok := jsonInt(raw); ok && n >= -127 && n < 0 {
		return int(n)
	}
	return 0
}

// decodeWLEDEffects decodes a /json/eff reply: an array of names whose index is the fx id.
func decodeWLEDEffects(b []byte) ([]string, error) {
	var names []string
	if err := json.Unmarshal(b, &names); err != nil {
		return nil, fmt.Errorf("decode effects: %w", err)
	}
	if len(names) == 0 {
		return nil, errors.New("decode effects: empty list")
	}
	if len(names) > maxEffects {
		return nil, fmt.Errorf("decode effects: %d effects, more than %d", len(names), maxEffects)
	}
	for i, n := range names {
		names[i] = truncate(n, maxEffectNameLen)
	}
	return names, nil
}

// usableEffect reports whether an /json/eff entry names an effect ("RSVD" and "-" are placeholders).
func usableEffect(name string) bool {
	return name != "" && name != "RSVD" && name != "-"
}

// usableEffects returns the names a viewer may choose from fx, in fx order, without placeholders or
// repeats.
func usableEffects(fx []string) []string {
	out := make([]string, 0, len(fx))
	for _, n := range fx {
		if usableEffect(n) && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// resolveEffect returns the fx id of name: "" is Solid (0); an exact match wins over a case-insensitive
// one. Not found gives (0, false).
func resolveEffect(fx []string, name string) (int, bool) {
	if name == "" {
		return 0, true
	}
	for i, n := range fx {
		if n == name && usableEffect(n) {
			return i, true
		}
	}
	for i, n := range fx {
		if strings.EqualFold(n, name) && usableEffect(n) {
			return i, true
		}
	}
	return 0, false
}

func clamp(v, lo, hi int) int { return min(max(v, lo), hi) }

// truncate cuts s to at most n bytes, not inside a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// quoteBody shows the start of a reply body in an error message.
func quoteBody(b []byte) string {
	q := fmt.Sprintf("%q", truncate(string(b), 60))
	if len(q) > 100 { // escapes of binary junk
		q = q[:100] + "…"
	}
	return q
}
