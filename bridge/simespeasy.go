package bridge

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// SimESPEasyConfig describes a simulated ESPEasy. Zero fields take the defaults given.
type SimESPEasyConfig struct {
	Name     string        // unit name, "ESP-Easy"
	Build    int           // 20116
	Delay    time.Duration // processing time of a request, 10 ms (negative: none)
	OnChange func()        // called after a pin changed, outside the device's lock
}

// SimESPEasy is an http.Handler serving ESPEasy's /control?cmd=… (GPIO and PWM) and /json from a
// simulated controller. Like the real one it serves one client at a time: overlapping requests wait.
// Safe for concurrent use.
type SimESPEasy struct {
	cfg   SimESPEasyConfig
	rec   simRecorder
	serve chan struct{} // one client at a time: a semaphore of 1

	mu        sync.Mutex
	boot      time.Time
	pins      map[int]ESPEasyPin
	forbidden bool
}

// ESPEasyPin is one GPIO of a simulated ESPEasy as its commands left it.
type ESPEasyPin struct {
	Pin   int
	Mode  string // "output" (GPIO) or "PWM"
	State int    // 0/1, or the PWM duty 0–1023
	Fade  int    // ms of the last PWM fade
}

// ESPEasySnapshot is what a simulated ESPEasy shows: every pin a command set, by pin number.
type ESPEasySnapshot struct {
	Name string
	Pins []ESPEasyPin
}

// NewSimESPEasy returns a simulated ESPEasy that has just booted.
func NewSimESPEasy(cfg SimESPEasyConfig) *SimESPEasy {
	if cfg.Name == "" {
		cfg.Name = "ESP-Easy"
	}
	if cfg.Build == 0 {
		cfg.Build = 20116
	}
	if cfg.Delay == 0 {
		cfg.Delay = 10 * time.Millisecond
	}
	return &SimESPEasy{cfg: cfg, serve: make(chan struct{}, 1), boot: time.Now(), pins: map[int]ESPEasyPin{}}
}

// SetForbidden makes the device refuse every request with 403, as when the bridge's IP is outside its
// allowed range.
func (s *SimESPEasy) SetForbidden(v bool) {
	s.mu.Lock()
	s.forbidden = v
	s.mu.Unlock()
}

// Reboot simulates a restart: uptime from 0, every pin back to off.
func (s *SimESPEasy) Reboot() {
	s.mu.Lock()
	s.boot = time.Now()
	clear(s.pins)
	s.mu.Unlock()
	s.changed()
}

// Stats returns the request counters.
func (s *SimESPEasy) Stats() SimStats { return s.rec.statsNow() }

// Requests returns the last requests received, oldest first.
func (s *SimESPEasy) Requests() []SimRequest { return s.rec.requests() }

// Snapshot returns the pins as the device drives them now.
func (s *SimESPEasy) Snapshot() ESPEasySnapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := ESPEasySnapshot{Name: s.cfg.Name}
	for _, p := range slices.Sorted(maps.Keys(s.pins)) {
		snap.Pins = append(snap.Pins, s.pins[p])
	}
	return snap
}

func (s *SimESPEasy) changed() {
	if s.cfg.OnChange != nil {
		s.cfg.OnChange()
	}
}

// ServeHTTP implements http.Handler.
func (s *SimESPEasy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.rec.begin(r)
	defer s.rec.end()
	body, _ := readSimBody(r, 4096)
	s.rec.record(r, body)
	select {
	case s.serve <- struct{}{}:
		defer func() { <-s.serve }()
	case <-r.Context().Done():
		return
	}
	simWork(r.Context(), s.cfg.Delay)

	s.mu.Lock()
	forbidden := s.forbidden
	s.mu.Unlock()
	if forbidden {
		http.Error(w, "", http.StatusForbidden)
		return
	}
	switch r.URL.Path {
	case "/control":
		s.control(w, r.URL.Query().Get("cmd"))
	case "/json":
		s.info(w)
	default:
		http.Error(w, "Not Found", http.StatusNotFound)
	}
}

// control runs one command. ESPEasy answers 200 whatever happens: pin state JSON for GPIO and PWM,
// text otherwise.
func (s *SimESPEasy) control(w http.ResponseWriter, cmd string) {
	args := strings.Split(cmd, ",")
	for i := range args {
		args[i] = strings.TrimSpace(args[i])
	}
	nums := make([]int, 0, len(args)-1)
	for _, a := range args[1:] {
		n, err := strconv.Atoi(a)
		if err != nil {
			writeSimText(w, "Invalid parameter: "+a)
			return
		}
		nums = append(nums, n)
	}
	var p ESPEasyPin
	var log string
	switch name := strings.ToLower(args[0]); {
	case name == "gpio" && len(nums) == 2 && validGPIO(nums[0]) && (nums[1] == 0 || nums[1] == 1):
		p = ESPEasyPin{Pin: nums[0], Mode: "output", State: nums[1]}
		log = fmt.Sprintf("GPIO : port#%d: set to %d", p.Pin, p.State)
	case name == "pwm" && len(nums) >= 2 && len(nums) <= 4 && validGPIO(nums[0]) && nums[1] >= 0 && nums[1] <= espeasyMaxDuty:
		p = ESPEasyPin{Pin: nums[0], Mode: "PWM", State: nums[1]}
		log = fmt.Sprintf("PWM  : port#%d: set to %d", p.Pin, p.State)
		if len(nums) >= 3 {
			p.Fade = max(nums[2], 0)
			log += fmt.Sprintf(" with duration %d ms", p.Fade)
		}
	case name == "gpio" || name == "pwm":
		writeSimText(w, "Invalid parameters")
		return
	default:
		writeSimText(w, "Command unknown: "+cmd)
		return
	}
	s.mu.Lock()
	s.pins[p.Pin] = p
	s.mu.Unlock()
	s.changed()
	// Byte for byte what ESPEasy's getPinStateJSON writes: the log cut to chars 7–32.
	log = log[7:min(len(log), 32)]
	reply := fmt.Sprintf("{\n\"log\": \"%s\",\n\"plugin\": 1,\n\"pin\": %d,\n\"mode\": \"%s\",\n\"state\": %d\n}\n",
		log, p.Pin, p.Mode, p.State)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(reply))
}

// simESPEasyJSON is the System and WiFi part of ESPEasy's /json.
type simESPEasyJSON struct {
	System struct {
		Build      int    `json:"Build"`
		UnitNumber int    `json:"Unit Number"`
		UnitName   string `json:"Unit Name"`
		Uptime     int64  `json:"Uptime"`
		UptimeMS   int64  `json:"Uptime (ms)"`
		FreeRAM    int    `json:"Free RAM"`
	} `json:"System"`
	WiFi struct {
		Hostname  string `json:"Hostname"`
		IPAddress string `json:"IP Address"`
		RSSI      int    `json:"RSSI"`
	} `json:"WiFi"`
	Sensors []struct{} `json:"Sensors"`
	TTL     int        `json:"TTL"`
}

func (s *SimESPEasy) info(w http.ResponseWriter) {
	var v simESPEasyJSON
	s.mu.Lock()
	up := time.Since(s.boot)
	s.mu.Unlock()
	v.System.Build = s.cfg.Build
	v.System.UnitName = s.cfg.Name
	v.System.Uptime = int64(up / time.Minute)
	v.System.UptimeMS = int64(up / time.Millisecond)
	v.System.FreeRAM = 18000
	v.WiFi.Hostname = s.cfg.Name
	v.WiFi.IPAddress = "127.0.0.1"
	v.WiFi.RSSI = -60
	v.Sensors = []struct{}{}
	v.TTL = 60000
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeSimJSON(w, http.StatusOK, b)
}

func writeSimText(w http.ResponseWriter, s string) {
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte(s))
}
