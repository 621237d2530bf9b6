package bridge

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stagelink/stagelink/lighting"
)

// SimWLEDConfig describes a simulated WLED. Zero fields take the defaults given.
type SimWLEDConfig struct {
	Name     string        // "WLED"
	Version  string        // "0.15.3"; from "16" on, overload is answered with a bare 503 as 16.x does
	MAC      string        // "a0b1c2d3e4f5": 12 lowercase hex digits
	LEDs     int           // 30
	Segments []int         // segment lengths in order; one segment of all LEDs
	Effects  []string      // SimWLEDEffects()
	Delay    time.Duration // processing time of a request, 20 ms (negative: none); a request arriving meanwhile is busy
	MaxBody  int           // request body limit, 10240 bytes as on an ESP8266; larger bodies get 413
	OnChange func()        // called after what the device shows changed, outside its lock
}

// SimWLED is an http.Handler serving the WLED JSON API (wled/WLED-Docs docs/interfaces/json-api.md) from
// a simulated controller: it keeps its state (3 colours per segment), records what it received, and
// answers a request that arrives while another is in progress as an overloaded WLED does: 0.15 with
// 503 {"error":3} and Retry-After: 1, 16.x with a bare 503 (a real 16.x first queues up to 6; the
// simulator is stricter, so any overlap shows). Safe for concurrent use.
type SimWLED struct {
	cfg SimWLEDConfig
	rec simRecorder

	mu    sync.Mutex
	boot  time.Time
	rssi  int // dBm
	on    bool
	bri   int
	trans int
	segs  []simSegment
}

type simSegment struct {
	start, stop int
	on          bool
	bri         int
	col         [3][3]int
	fx, sx, ix  int
	pal         int
}

// SimWLEDEffects returns the start of a real WLED effect list (0.15), including an unusable "RSVD".
func SimWLEDEffects() []string {
	return []string{"Solid", "Blink", "Breathe", "Wipe", "Wipe Random", "Random Colors", "Sweep", "Dynamic",
		"Colorloop", "Rainbow", "Scan", "Scan Dual", "Fade", "Theater", "Theater Rainbow", "Running", "Saw",
		"Twinkle", "Dissolve", "Dissolve Rnd", "Sparkle", "Sparkle Dark", "Sparkle+", "Strobe",
		"Strobe Rainbow", "Strobe Mega", "Blink Rainbow", "Android", "Chase", "Chase Random", "Chase Rainbow",
		"Chase Flash", "Chase Flash Rnd", "Rainbow Runner", "Colorful", "Traffic Light", "Sweep Random",
		"Chase 2", "Aurora", "Stream", "Scanner", "Lighthouse", "Fireworks", "Rain", "Tetrix", "Fire Flicker",
		"Gradient", "Loading", "Rolling Balls", "Fairy", "Two Dots", "Fairytwinkle", "Running Dual", "RSVD",
		"Chase 3", "Tri Wipe", "Tri Fade", "Lightning", "ICU", "Multi Comet"}
}

// simWLEDPalettes returns the start of WLED's palette list: the simulator serves a small /json/pal.
func simWLEDPalettes() []string {
	return []string{"Default", "* Random Cycle", "* Color 1", "* Colors 1&2", "* Color Gradient",
		"* Colors Only", "Party", "Cloud", "Lava", "Ocean", "Forest", "Rainbow"}
}

// NewSimWLED returns a simulated WLED that has just booted.
func NewSimWLED(cfg SimWLEDConfig) *SimWLED {
	if cfg.Name == "" {
		cfg.Name = "WLED"
	}
	if cfg.Version == "" {
		cfg.Version = "0.15.3"
	}
	if cfg.MAC == "" {
		cfg.MAC = "a0b1c2d3e4f5"
	}
	if cfg.LEDs <= 0 {
		cfg.LEDs = 30
	}
	if len(cfg.Segments) == 0 {
		cfg.Segments = []int{cfg.LEDs}
	}
	if len(cfg.Effects) == 0 {
		cfg.Effects = SimWLEDEffects()
	}
	if cfg.Delay == 0 {
		cfg.Delay = 20 * time.Millisecond
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 10 << 10
	}
	s := &SimWLED{cfg: cfg, rssi: -55}
	s.reset()
	return s
}

// SetRSSI sets the Wi-Fi signal strength the device reports, in dBm (-55 at start); its wifi.signal
// follows as WLED computes it.
func (s *SimWLED) SetRSSI(dBm int) {
	s.mu.Lock()
	s.rssi = dBm
	s.mu.Unlock()
}

// reset puts the device in its boot state. The caller holds mu or owns s alone.
func (s *SimWLED) reset() {
	s.boot = time.Now()
	s.on, s.bri, s.trans = true, 128, 7
	s.segs = s.segs[:0]
	start := 0
	for _, n := range s.cfg.Segments {
		s.segs = append(s.segs, simSegment{
			start: start, stop: start + n, on: true, bri: 255,
			col: [3][3]int{{255, 160, 0}}, sx: 128, ix: 128,
		})
		start += n
	}
}

// Reboot simulates a restart: the uptime starts again from 0 and the state is the boot state.
func (s *SimWLED) Reboot() {
	s.mu.Lock()
	s.reset()
	s.mu.Unlock()
	s.changed()
}

// Stats returns the request counters.
func (s *SimWLED) Stats() SimStats { return s.rec.statsNow() }

// Requests returns the last requests received, oldest first.
func (s *SimWLED) Requests() []SimRequest { return s.rec.requests() }

// WLEDSnapshot is what a simulated WLED shows.
type WLEDSnapshot struct {
	Name     string
	On       bool
	Bri      int
	Segments []WLEDSegmentSnapshot
}

// WLEDSegmentSnapshot is one segment of a WLEDSnapshot. Start and Stop are LED indexes (stop exclusive).
type WLEDSegmentSnapshot struct {
	ID, Start, Stop int
	On              bool
	Bri             int
	Colors          [3]lighting.Color
	Effect          string
	FX              int
	Speed           int
	Intensity       int
}

// Snapshot returns what the device shows now.
func (s *SimWLED) Snapshot() WLEDSnapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := WLEDSnapshot{Name: s.cfg.Name, On: s.on, Bri: s.bri}
	for i, g := range s.segs {
		ss := WLEDSegmentSnapshot{ID: i, Start: g.start, Stop: g.stop, On: g.on, Bri: g.bri,
			FX: g.fx, Speed: g.sx, Intensity: g.ix}
		for j, c := range g.col {
			ss.Colors[j] = lighting.Color{R: uint8(c[0]), G: uint8(c[1]), B: uint8(c[2])}
		}
		if g.fx < len(s.cfg.Effects) {
			ss.Effect = s.cfg.Effects[g.fx]
		}
		snap.Segments = append(snap.Segments, ss)
	}
	return snap
}

func (s *SimWLED) changed() {
	if s.cfg.OnChange != nil {
		s.cfg.OnChange()
	}
}

// ServeHTTP implements http.Handler.
func (s *SimWLED) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	overlap := s.rec.begin(r)
	defer s.rec.end()
	body, tooLarge := readSimBody(r, s.cfg.MaxBody)
	s.rec.record(r, body)
	if overlap {
		s.busy(w)
		return
	}
	simWork(r.Context(), s.cfg.Delay)

	path := r.URL.Path
	if path != "/json" && !strings.HasPrefix(path, "/json/") {
		http.Error(w, "Not Found", http.StatusNotFound)
		return
	}
	switch r.Method {
	case http.MethodPost:
		if !strings.EqualFold(mediaType(r.Header.Get("Content-Type")), "application/json") {
			http.Error(w, "Not Found", http.StatusNotFound) // AsyncJsonWebHandler only takes JSON
			return
		}
		if tooLarge {
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			return
		}
		s.post(w, body)
	case http.MethodGet:
		s.get(w, path)
	default:
		http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
	}
}

// busy answers like an overloaded WLED: 0.15 sends 503 {"error":3} with Retry-After: 1, 16.x a bare 503.
func (s *SimWLED) busy(w http.ResponseWriter) {
	if simMajor(s.cfg.Version) >= 16 {
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Retry-After", "1")
	writeSimJSON(w, http.StatusServiceUnavailable, []byte(`{"error":3}`))
}

func (s *SimWLED) get(w http.ResponseWriter, path string) {
	s.mu.Lock()
	var v any
	switch path {
	case "/json":
		v = struct {
			State    simWLEDState `json:"state"`
			Info     simWLEDInfo  `json:"info"`
			Effects  []string     `json:"effects"`
			Palettes []string     `json:"palettes"`
		}{s.stateJSON(), s.infoJSON(), s.cfg.Effects, simWLEDPalettes()}
	case "/json/state":
		v = s.stateJSON()
	case "/json/info":
		v = s.infoJSON()
	case "/json/si":
		v = struct {
			State simWLEDState `json:"state"`
			Info  simWLEDInfo  `json:"info"`
		}{s.stateJSON(), s.infoJSON()}
	case "/json/eff":
		v = s.cfg.Effects
	case "/json/pal":
		v = simWLEDPalettes()
	}
	s.mu.Unlock()
	if v == nil {
		writeSimJSON(w, http.StatusNotImplemented, []byte(`{"error":4}`))
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeSimJSON(w, http.StatusOK, b)
}

// post applies a partial state, as POST /json/state does.
func (s *SimWLED) post(w http.ResponseWriter, body []byte) {
	var root map[string]json.RawMessage
	if err := json.Unmarshal(body, &root); err != nil || root == nil {
		writeSimJSON(w, http.StatusBadRequest, []byte(`{"error":9}`))
		return
	}
	s.mu.Lock()
	s.on, s.bri = applyOnBri(root, s.on, s.bri)
	if n, ok := simInt(root["transition"]); ok {
		s.trans = clamp(n, 0, 65535)
	}
	s.applySegments(root["seg"])
	var verbose bool
	_ = json.Unmarshal(root["v"], &verbose)
	var b []byte
	if verbose {
		b, _ = json.Marshal(s.stateJSON())
	}
	s.mu.Unlock()
	s.changed()
	if verbose {
		writeSimJSON(w, http.StatusOK, b)
		return
	}
	writeSimJSON(w, http.StatusOK, []byte(`{"success":true}`))
}

// applyOnBri applies "bri" then "on" the way WLED does: bri 0 switches off and keeps the old level,
// a bri > 0 switches on, and "on" (true, false or "t" to toggle) has the last word.
func applyOnBri(obj map[string]json.RawMessage, on bool, bri int) (bool, int) {
	if n, ok := simInt(obj["bri"]); ok {
		n = clamp(n, 0, 255)
		if n > 0 {
			bri = n
		}
		on = n > 0
	}
	if raw, ok := obj["on"]; ok {
		var b bool
		var t string
		switch {
		case json.Unmarshal(raw, &b) == nil:
			on = b
		case json.Unmarshal(raw, &t) == nil && t == "t":
			on = !on
		}
	}
	return on, bri
}

// applySegments applies "seg": an array of segment objects (id from "id", else the array index) or one
// object (id from "id", else segment 0). Unknown ids are ignored.
func (s *SimWLED) applySegments(raw json.RawMessage) {
	if len(raw) == 0 {
		return
	}
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) != nil {
		list = []json.RawMessage{raw}
	}
	for i, item := range list {
		var obj map[string]json.RawMessage
		if json.Unmarshal(item, &obj) != nil || obj == nil {
			continue
		}
		id := i
		if n, ok := simInt(obj["id"]); ok {
			id = n
		}
		if id < 0 || id >= len(s.segs) {
			continue
		}
		g := &s.segs[id]
		g.on, g.bri = applyOnBri(obj, g.on, g.bri)
		setSimColors(&g.col, obj["col"])
		if n, ok := simInt(obj["fx"]); ok && n >= 0 && n < len(s.cfg.Effects) {
			g.fx = n
		}
		if n, ok := simInt(obj["sx"]); ok {
			g.sx = clamp(n, 0, 255)
		}
		if n, ok := simInt(obj["ix"]); ok {
			g.ix = clamp(n, 0, 255)
		}
		if n, ok := simInt(obj["pal"]); ok && n >= 0 && n < len(simWLEDPalettes()) {
			g.pal = n
		}
	}
}

// setSimColors applies "col": up to 3 entries, each [r,g,b], [r,g,b,w] or "RRGGBB"/"RRGGBBWW"; an entry
// that is empty or malformed leaves that colour as it was.
func setSimColors(col *[3][3]int, raw json.RawMessage) {
	var entries []json.RawMessage
	if json.Unmarshal(raw, &entries) != nil {
		return
	}
	for i, e := range entries[:min(len(entries), 3)] {
		var nums []json.RawMessage
		var hexs string
		switch {
		case json.Unmarshal(e, &nums) == nil && len(nums) >= 3:
			var c [3]int
			ok := true
			for j := range c {
				n, isNum := simInt(nums[j])
				ok = ok && isNum
				c[j] = clamp(n, 0, 255)
			}
			if ok {
				col[i] = c
			}
		case json.Unmarshal(e, &hexs) == nil && (len(hexs) == 6 || len(hexs) == 8):
			if b, err := hex.DecodeString(hexs[:6]); err == nil {
				col[i] = [3]int{int(b[0]), int(b[1]), int(b[2])}
			}
		}
	}
}

// simInt reads a JSON number as WLED's ArduinoJson does: fractions are cut off; other types are absent.
func simInt(raw json.RawMessage) (int, bool) {
	var f float64
	if len(raw) == 0 || json.Unmarshal(raw, &f) != nil || math.IsNaN(f) {
		return 0, false
	}
	return int(max(min(f, 1<<30), -1<<30)), true
}

// simMajor returns the major number of a version such as "0.15.3" or "16.0.0".
func simMajor(v string) int {
	n, _ := strconv.Atoi(strings.SplitN(v, ".", 2)[0])
	return n
}

// readSimBody reads at most limit bytes of the request body; tooLarge is set when there was more.
func readSimBody(r *http.Request, limit int) (body []byte, tooLarge bool) {
	if r.Body == nil {
		return nil, false
	}
	if r.ContentLength > int64(limit) {
		return nil, true
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, int64(limit)+1))
	if err != nil {
		return b, false
	}
	if len(b) > limit {
		return b[:limit], true
	}
	return b, false
}

func mediaType(ct string) string {
	t, _, _ := strings.Cut(ct, ";")
	return strings.TrimSpace(t)
}

func writeSimJSON(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = io.Copy(w, bytes.NewReader(b))
}
