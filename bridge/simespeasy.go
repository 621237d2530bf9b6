package bridge

import (
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
	GitBuild string        // the release, "mega-20230822"
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
	rssi      int // dBm
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
	if cfg.GitBuild == "" {
		cfg.GitBuild = "mega-20230822"
	}
	if cfg.Delay == 0 {
		cfg.Delay = 10 * time.Millisecond
	}
	return &SimESPEasy{cfg: cfg, serve: make(chan struct{}, 1), boot: time.Now(), rssi: -60, pins: map[int]ESPEasyPin{}}
}

// SetRSSI sets the Wi-Fi signal strength the device reports, in dBm (-60 at start).
func (s *SimESPEasy) SetRSSI(dBm int) {
	s.mu.Lock()
	s.rssi = dBm
	s.mu.Unlock()
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

// info answers GET /json the way ESPEasy's handle_json writes it (letscontrolit/ESPEasy
// src/src/WebServer/JSON.cpp): the System and WiFi sections of an ESP8266 with no tasks, one "key":value
// per line, values that look like numbers without quotes, others (booleans too) quoted.
func (s *SimESPEasy) info(w http.ResponseWriter) {
	s.mu.Lock()
	up, rssi := time.Since(s.boot), s.rssi
	s.mu.Unlock()
	host := strings.ReplaceAll(s.cfg.Name, " ", "-")
	system := [][2]string{
		{"Load", "12.10"},
		{"Load LC", "4881"},
		{"Build", strconv.Itoa(s.cfg.Build)},
		{"Git Build", s.cfg.GitBuild},
		{"System Libraries", "ESP82xx Core 2843a5ac, NONOS SDK 2.2.2-dev(38a443e), LWIP: 2.1.2 PUYA support"},
		{"Plugin Count", "47"},
		{"Plugin Description", "[Normal]"},
		{"Build Time", "Aug 22 2023 12:09:47"},
		{"Binary Filename", "ESP_Easy_mega_20230822_normal_ESP8266_4M1M"},
		{"Local Time", "2023-11-04 21:15:12"},
		{"Time Source", "NTP"},
		{"Time Wander", "-0.008"},
		{"Use NTP", "true"},
		{"Unit Number", "0"},
		{"Unit Name", s.cfg.Name},
		{"Uptime", strconv.FormatInt(int64(up/time.Minute), 10)},
		{"Uptime (ms)", strconv.FormatInt(int64(up/time.Millisecond), 10)},
		{"Last Boot Cause", "Cold boot"},
		{"Reset Reason", "External System"},
		{"CPU Eco Mode", "false"},
		{"Heap Max Free Block", "19032"},
		{"Heap Fragmentation", "4"},
		{"Free RAM", "18000"},
		{"Free Stack", "3536"},
		{"ESP Chip Model", "ESP8266"},
		{"Sunrise", "6:58"},
		{"Sunset", "16:31"},
		{"Timezone Offset", "60"},
		{"Latitude", "0.000000"},
		{"Longitude", "0.000000"},
		{"Syslog Log Level", "None"},
		{"Serial Log Level", "None"},
		{"Web Log Level", "None"},
	}
	wifi := [][2]string{
		{"Hostname", host},
		{"IP Config", "DHCP"},
		{"IP Address", "192.168.1.51"},
		{"IP Subnet", "255.255.255.0"},
		{"Gateway", "192.168.1.1"},
		{"STA MAC", "84:F3:EB:DB:3F:CF"},
		{"DNS 1", "192.168.1.1"},
		{"DNS 2", "0.0.0.0"},
		{"SSID", "venue"},
		{"BSSID", "82:22:1D:9A:7F:66"},
		{"Channel", "6"},
		{"Encryption Type", "WPA2/PSK"},
		// Whole seconds and "000", as ESPEasy writes it; at 0 s that is "0000", which is not JSON: a real
		// unit says so in its first second on the network only, so the simulator counts from 1.
		{"Connected msec", strconv.FormatInt(max(int64(up/time.Second), 1), 10) + "000"},
		{"Last Disconnect Reason", "0"},
		{"Last Disconnect Reason str", ""},
		{"Number Reconnects", "0"},
		{"Configured SSID1", "venue"},
		{"Configured SSID2", ""},
		{"Force WiFi B/G", "false"},
		{"Restart WiFi Lost Conn", "false"},
		{"Force WiFi No Sleep", "false"},
		{"Periodical send Gratuitous ARP", "false"},
		{"Connection Failure Threshold", "0"},
		{"Extra WiFi scan loops", "0"},
		{"Use Last Connected AP from RTC", "false"},
		{"RSSI", strconv.Itoa(rssi)},
	}
	var b strings.Builder
	b.WriteString("{\"System\":{\n")
	writeESPEasySection(&b, system)
	b.WriteString(",\n\"WiFi\":{\n")
	writeESPEasySection(&b, wifi)
	b.WriteString(",\n\"Sensors\":[\n],\n\"TTL\":60000\n}")
	writeSimJSON(w, http.StatusOK, []byte(b.String()))
}

// writeESPEasySection writes "key":value pairs as ESPEasy's stream_json_object_values does: one a line,
// the last closing the object.
func writeESPEasySection(b *strings.Builder, kv [][2]string) {
	for i, p := range kv {
		b.WriteString(espeasyJSONPair(p[0], p[1]))
		if i < len(kv)-1 {
			b.WriteString(",\n")
		} else {
			b.WriteString("\n}")
		}
	}
}

// espeasyJSONPair formats a pair as ESPEasy's to_json_object_value: a value that looks like a number goes
// without quotes, any other is quoted with its double quotes turned into single ones and line breaks
// into '^' (ESPEasy escapes nothing).
func espeasyJSONPair(key, value string) string {
	if espeasyNumerical(value) {
		return `"` + key + `":` + value
	}
	value = strings.NewReplacer(`"`, "'", "\n", "^", "\r", "^").Replace(value)
	return `"` + key + `":"` + value + `"`
}

// espeasyNumerical reports whether s is an optionally negative decimal number, as ESPEasy checks it.
func espeasyNumerical(s string) bool {
	s = strings.TrimPrefix(s, "-")
	digits, dot := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !dot && digits > 0 && i < len(s)-1:
			dot = true
		default:
			return false
		}
	}
	return digits > 0
}

func writeSimText(w http.ResponseWriter, s string) {
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte(s))
}
