package bridge

import (
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/stagelink/stagelink/lighting"
)

// architectureExample is the bridge config of ARCHITECTURE.md ("Config"), verbatim.
const architectureExample = `hub: https://live.example.com      # or http://127.0.0.1:8080
token: ""                          # prefer STAGELINK_BRIDGE_TOKEN
name: studio
zones:
  - id: desk                       # [a-z0-9-]+, unique per hub
    name: Desk strip
    wled: {url: http://192.168.1.50, segment: 0, maxRate: 5}   # kind pixels
  - id: lamp
    name: Lamp
    espeasy: {url: http://192.168.1.51, pwm: [12, 13, 14]}      # kind rgb (r, g, b GPIOs)
  - id: disco
    name: Disco ball
    espeasy: {url: http://192.168.1.51, relay: 5}               # kind relay (GPIO)
`

// architectureConfig is what architectureExample parses to.
func architectureConfig() Config {
	return Config{
		Hub:  "https://live.example.com",
		Name: "studio",
		Zones: []ZoneConfig{
			{ID: "desk", Name: "Desk strip", WLED: &WLEDConfig{URL: "http://192.168.1.50", MaxRate: 5}},
			{ID: "lamp", Name: "Lamp", ESPEasy: &ESPEasyConfig{URL: "http://192.168.1.51", PWM: []int{12, 13, 14}, MaxRate: DefaultESPEasyMaxRate}},
			{ID: "disco", Name: "Disco ball", ESPEasy: &ESPEasyConfig{URL: "http://192.168.1.51", Relay: new(5), MaxRate: DefaultESPEasyMaxRate}},
		},
	}
}

func TestParseConfigExamples(t *testing.T) {
	example, err := os.ReadFile("../deploy/bridge.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{
		"ARCHITECTURE.md":            architectureExample,
		"deploy/bridge.example.yaml": string(example),
	} {
		t.Run(name, func(t *testing.T) {
			got, err := ParseConfig(strings.NewReader(text))
			if err != nil {
				t.Fatalf("ParseConfig: %v", err)
			}
			if diff := cmp.Diff(architectureConfig(), got); diff != "" {
				t.Errorf("ParseConfig (-want +got):\n%s", diff)
			}
			if err := got.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
			var kinds []lighting.Kind
			for _, z := range got.Zones {
				kinds = append(kinds, z.Kind())
			}
			if diff := cmp.Diff([]lighting.Kind{lighting.KindPixels, lighting.KindRGB, lighting.KindRelay}, kinds); diff != "" {
				t.Errorf("kinds (-want +got):\n%s", diff)
			}
			if got, want := got.Zones[2].DeviceURL(), got.Zones[1].DeviceURL(); got != want {
				t.Errorf("the relay's device URL %q differs from the lamp's %q", got, want)
			}
		})
	}
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		want    Config
		wantErr string // "" for success; else the error contains it
	}{
		{
			name: "defaults filled",
			yaml: `hub: http://127.0.0.1:8080
name: venue
zones:
  - id: strip
    wled: {url: http://10.0.0.2}
  - id: rgb
    espeasy: {url: http://10.0.0.3, pwm: [1, 2, 3], fade: 250}
`,
			want: Config{Hub: "http://127.0.0.1:8080", Name: "venue", Zones: []ZoneConfig{
				{ID: "strip", Name: "strip", WLED: &WLEDConfig{URL: "http://10.0.0.2", MaxRate: DefaultWLEDMaxRate}},
				{ID: "rgb", Name: "rgb", ESPEasy: &ESPEasyConfig{URL: "http://10.0.0.3", PWM: []int{1, 2, 3}, Fade: 250, MaxRate: DefaultESPEasyMaxRate}},
			}},
		},
		{
			name: "explicit rates kept",
			yaml: "zones: [{id: a, wled: {url: 'http://x', segment: 3, maxRate: 0.5}}, {id: b, espeasy: {url: 'http://y', relay: 0, maxRate: 50}}]",
			want: Config{Zones: []ZoneConfig{
				{ID: "a", Name: "a", WLED: &WLEDConfig{URL: "http://x", Segment: 3, MaxRate: 0.5}},
				{ID: "b", Name: "b", ESPEasy: &ESPEasyConfig{URL: "http://y", Relay: new(0), MaxRate: 50}},
			}},
		},
		{name: "empty", yaml: "", want: Config{}},
		{name: "comment only", yaml: "# nothing\n", want: Config{}},
		{name: "one document marker", yaml: "---\nname: a\n", want: Config{Name: "a"}},
		{name: "unknown top-level key", yaml: "hub: http://x\nhubs: http://y\n", wantErr: "field hubs not found"},
		{name: "unknown zone key", yaml: "zones: [{id: a, colour: red, wled: {url: 'http://x'}}]", wantErr: "field colour not found"},
		{name: "unknown device key", yaml: "zones: [{id: a, wled: {url: 'http://x', seg: 1}}]", wantErr: "field seg not found"},
		{name: "misspelt maxRate", yaml: "zones: [{id: a, wled: {url: 'http://x', maxrate: 1}}]", wantErr: "field maxrate not found"},
		{name: "two documents", yaml: "name: a\n---\nname: b\n", wantErr: "more than one YAML document"},
		{name: "empty second document", yaml: "name: a\n---\n", wantErr: "more than one YAML document"},
		{name: "repeated key", yaml: "name: a\nname: b\n", wantErr: "already defined"},
		{name: "wrong type", yaml: "zones: {id: a}", wantErr: "config:"},
		{name: "pwm not numbers", yaml: "zones: [{id: a, espeasy: {url: 'http://x', pwm: [r, g, b]}}]", wantErr: "config:"},
		{name: "not YAML", yaml: "hub: [", wantErr: "config:"},
		{name: "a list", yaml: "- a\n- b\n", wantErr: "config:"},
		{name: "too large", yaml: "name: a\n" + strings.Repeat("#", maxConfigBytes), wantErr: "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseConfig(strings.NewReader(tt.yaml))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("ParseConfig = %+v, %v; want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseConfig: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseConfig (-want +got):\n%s", diff)
			}
		})
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestParseConfigReadError(t *testing.T) {
	if _, err := ParseConfig(errReader{}); err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("ParseConfig of a failing reader = %v, want the read error", err)
	}
}

func TestConfigValidate(t *testing.T) {
	wled := func(url string, seg int, rate float64) *WLEDConfig {
		return &WLEDConfig{URL: url, Segment: seg, MaxRate: rate}
	}
	pwm := func(pins ...int) *ESPEasyConfig {
		return &ESPEasyConfig{URL: "http://10.0.0.3", PWM: pins, MaxRate: 5}
	}
	relay := func(pin int) *ESPEasyConfig {
		return &ESPEasyConfig{URL: "http://10.0.0.3", Relay: &pin, MaxRate: 5}
	}
	zone := func(id string, w *WLEDConfig, e *ESPEasyConfig) ZoneConfig {
		return ZoneConfig{ID: id, Name: id, WLED: w, ESPEasy: e}
	}
	okWLED := wled("http://10.0.0.2", 0, 5)
	tests := []struct {
		name     string
		change   func(c *Config)
		wantErrs []string // "" none; else each is in the error
	}{
		{name: "example", change: func(*Config) {}},
		{name: "https hub with port and path", change: func(c *Config) { c.Hub = "https://hub.example.com:8443/stagelink" }},
		{name: "longest id", change: func(c *Config) { c.Zones[0].ID = strings.Repeat("a", 40) }},
		{name: "id with digits and dashes", change: func(c *Config) { c.Zones[0].ID = "0-desk-2" }},
		{name: "64-byte name", change: func(c *Config) { c.Zones[0].Name = strings.Repeat("n", 64) }},
		{name: "segment 31", change: func(c *Config) { c.Zones[0].WLED.Segment = 31 }},
		{name: "gpio bounds", change: func(c *Config) { c.Zones[1].ESPEasy.PWM = []int{0, 40, 16} }},
		{name: "fade 60 s", change: func(c *Config) { c.Zones[1].ESPEasy.Fade = 60000 }},
		{name: "smallest rate", change: func(c *Config) { c.Zones[0].WLED.MaxRate = 0.001 }},
		{name: "largest rate", change: func(c *Config) { c.Zones[0].WLED.MaxRate = 50 }},
		{name: "256 zones", change: func(c *Config) {
			c.Zones = nil
			for i := range 256 {
				c.Zones = append(c.Zones, zone(fmt.Sprintf("z%d", i), okWLED, nil))
			}
		}},

		{name: "no hub", change: func(c *Config) { c.Hub = "" }, wantErrs: []string{"hub: set the hub's URL"}},
		{name: "hub not a URL", change: func(c *Config) { c.Hub = "live.example.com" }, wantErrs: []string{`hub: "live.example.com" is not an http(s) URL`}},
		{name: "hub websocket", change: func(c *Config) { c.Hub = "ws://live.example.com" }, wantErrs: []string{"hub:", "not an http(s) URL"}},
		{name: "hub without host", change: func(c *Config) { c.Hub = "http://" }, wantErrs: []string{"hub:"}},
		{name: "hub unparsable", change: func(c *Config) { c.Hub = "http://[::1" }, wantErrs: []string{"hub:"}},
		{name: "no name", change: func(c *Config) { c.Name = "" }, wantErrs: []string{"name: give this bridge a name"}},
		{name: "no zones", change: func(c *Config) { c.Zones = nil }, wantErrs: []string{"zones: list at least one zone"}},
		{name: "too many zones", change: func(c *Config) {
			c.Zones = nil
			for i := range 257 {
				c.Zones = append(c.Zones, zone(fmt.Sprintf("z%d", i), okWLED, nil))
			}
		}, wantErrs: []string{"at most 256 zones"}},
		{name: "empty id", change: func(c *Config) { c.Zones[0].ID = "" }, wantErrs: []string{"zones[0] (): id must be"}},
		{name: "upper-case id", change: func(c *Config) { c.Zones[1].ID = "Lamp" }, wantErrs: []string{"zones[1] (Lamp): id must be 1–40 of a-z, 0-9 and -"}},
		{name: "id with space", change: func(c *Config) { c.Zones[1].ID = "desk lamp" }, wantErrs: []string{"id must be"}},
		{name: "id with newline", change: func(c *Config) { c.Zones[1].ID = "lamp\n" }, wantErrs: []string{"id must be"}},
		{name: "long id", change: func(c *Config) { c.Zones[0].ID = strings.Repeat("a", 41) }, wantErrs: []string{"id must be"}},
		{name: "duplicate id", change: func(c *Config) { c.Zones[2].ID = "desk" }, wantErrs: []string{"zones[2] (desk): id is used twice"}},
		{name: "long name", change: func(c *Config) { c.Zones[0].Name = strings.Repeat("n", 65) }, wantErrs: []string{"name is longer than 64 bytes"}},
		{name: "no device", change: func(c *Config) { c.Zones[0].WLED = nil }, wantErrs: []string{"zones[0] (desk): set a device"}},
		{name: "both devices", change: func(c *Config) { c.Zones[0].ESPEasy = pwm(1, 2, 3) }, wantErrs: []string{"set only one device"}},
		{name: "wled bad URL", change: func(c *Config) { c.Zones[0].WLED.URL = "192.168.1.50" }, wantErrs: []string{"wled.url:", "not an http(s) URL"}},
		{name: "wled no URL", change: func(c *Config) { c.Zones[0].WLED.URL = "" }, wantErrs: []string{"wled.url:"}},
		{name: "wled segment low", change: func(c *Config) { c.Zones[0].WLED.Segment = -1 }, wantErrs: []string{"wled.segment must be 0–31"}},
		{name: "wled segment high", change: func(c *Config) { c.Zones[0].WLED.Segment = 32 }, wantErrs: []string{"wled.segment"}},
		{name: "wled rate zero", change: func(c *Config) { c.Zones[0].WLED.MaxRate = 0 }, wantErrs: []string{"wled.maxRate must be between 0 and 50"}},
		{name: "wled rate negative", change: func(c *Config) { c.Zones[0].WLED.MaxRate = -1 }, wantErrs: []string{"wled.maxRate"}},
		{name: "wled rate high", change: func(c *Config) { c.Zones[0].WLED.MaxRate = 50.5 }, wantErrs: []string{"wled.maxRate"}},
		{name: "wled rate infinite", change: func(c *Config) { c.Zones[0].WLED.MaxRate = math.Inf(1) }, wantErrs: []string{"wled.maxRate"}},
		{name: "wled rate NaN", change: func(c *Config) { c.Zones[0].WLED.MaxRate = math.NaN() }, wantErrs: []string{"wled.maxRate"}},
		{name: "espeasy bad URL", change: func(c *Config) { c.Zones[1].ESPEasy.URL = "ftp://10.0.0.3" }, wantErrs: []string{"espeasy.url:"}},
		{name: "pwm two pins", change: func(c *Config) { c.Zones[1].ESPEasy.PWM = []int{12, 13} }, wantErrs: []string{"espeasy.pwm must list three GPIOs"}},
		{name: "pwm four pins", change: func(c *Config) { c.Zones[1].ESPEasy.PWM = []int{12, 13, 14, 15} }, wantErrs: []string{"three GPIOs"}},
		{name: "pwm one pin", change: func(c *Config) { c.Zones[1].ESPEasy.PWM = []int{12} }, wantErrs: []string{"three GPIOs"}},
		{name: "pwm bad pin", change: func(c *Config) { c.Zones[1].ESPEasy.PWM = []int{12, 41, 14} }, wantErrs: []string{"espeasy.pwm GPIOs must be numbers 0–40"}},
		{name: "pwm negative pin", change: func(c *Config) { c.Zones[1].ESPEasy.PWM = []int{-1, 13, 14} }, wantErrs: []string{"espeasy.pwm GPIOs"}},
		{name: "relay and pwm", change: func(c *Config) { c.Zones[2].ESPEasy.PWM = []int{12, 13, 14} }, wantErrs: []string{"zones[2] (disco): espeasy: set either pwm: [r, g, b] or relay: GPIO"}},
		{name: "neither relay nor pwm", change: func(c *Config) { c.Zones[2].ESPEasy.Relay = nil }, wantErrs: []string{"set either pwm"}},
		{name: "relay bad pin", change: func(c *Config) { c.Zones[2].ESPEasy = relay(41) }, wantErrs: []string{"espeasy.relay must be a GPIO number 0–40"}},
		{name: "fade negative", change: func(c *Config) { c.Zones[1].ESPEasy.Fade = -1 }, wantErrs: []string{"espeasy.fade must be 0–60000 ms"}},
		{name: "fade long", change: func(c *Config) { c.Zones[1].ESPEasy.Fade = 60001 }, wantErrs: []string{"espeasy.fade"}},
		{name: "espeasy rate high", change: func(c *Config) { c.Zones[2].ESPEasy.MaxRate = 51 }, wantErrs: []string{"espeasy.maxRate must be between 0 and 50"}},
		{name: "espeasy rate NaN", change: func(c *Config) { c.Zones[2].ESPEasy.MaxRate = math.NaN() }, wantErrs: []string{"espeasy.maxRate"}},
		{name: "every problem reported", change: func(c *Config) {
			c.Hub, c.Name = "", ""
			c.Zones[0].WLED.Segment = 99
			c.Zones[1].ID = "desk"
		}, wantErrs: []string{"hub:", "name:", "wled.segment", "zones[1] (desk): id is used twice"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := architectureConfig()
			tt.change(&c)
			err := c.Validate()
			if len(tt.wantErrs) == 0 {
				if err != nil {
					t.Errorf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want errors %q", tt.wantErrs)
			}
			for _, want := range tt.wantErrs {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Validate() = %v, want it to contain %q", err, want)
				}
			}
		})
	}
}

// TestParseConfigNaNRate parses the YAML spelling of NaN: it must not pass Validate.
func TestParseConfigNaNRate(t *testing.T) {
	for _, v := range []string{".nan", ".NaN", ".inf", "-.inf"} {
		t.Run(v, func(t *testing.T) {
			c, err := ParseConfig(strings.NewReader("hub: http://h\nname: n\nzones: [{id: a, wled: {url: 'http://x', maxRate: " + v + "}}]"))
			if err != nil {
				return
			}
			if err := c.Validate(); err == nil {
				t.Errorf("maxRate %s: Validate() = nil, want an error (rate %v)", v, c.Zones[0].WLED.MaxRate)
			}
		})
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(architectureExample))
	if b, err := os.ReadFile("../deploy/bridge.example.yaml"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("zones: [{id: a, wled: {url: 'http://x', maxRate: .nan}}]"))
	f.Add([]byte("name: a\n---\nname: b\n"))
	f.Add([]byte("zones: [{id: a, espeasy: {url: 'http://x', pwm: [1, 2, 3], relay: 4}}]"))
	f.Add([]byte("hub: &a http://x\nname: *a\nzones: []"))
	f.Add([]byte("zones: !!map {}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseConfig(strings.NewReader(string(b)))
		if err != nil {
			return
		}
		again, err := ParseConfig(strings.NewReader(string(b)))
		if err != nil {
			t.Fatalf("second ParseConfig failed: %v", err)
		}
		if diff := cmp.Diff(c, again, cmpopts.EquateNaNs()); diff != "" {
			t.Fatalf("ParseConfig is not deterministic (-first +second):\n%s", diff)
		}
		verr := c.Validate()
		verr2 := again.Validate()
		if (verr == nil) != (verr2 == nil) || (verr != nil && verr.Error() != verr2.Error()) {
			t.Fatalf("Validate is not deterministic: %v then %v", verr, verr2)
		}
		if verr != nil {
			return
		}
		// A valid config is one the agent and the hub accept.
		specs := make([]lighting.ZoneSpec, len(c.Zones))
		for i, z := range c.Zones {
			specs[i] = lighting.ZoneSpec{ID: z.ID, Name: z.Name, Kind: z.Kind()}
			if (z.WLED == nil) == (z.ESPEasy == nil) {
				t.Fatalf("zone %q has %v wled and %v espeasy, want exactly one device", z.ID, z.WLED != nil, z.ESPEasy != nil)
			}
			rate := 0.0
			if z.WLED != nil {
				rate = z.WLED.MaxRate
			} else {
				rate = z.ESPEasy.MaxRate
				if z.Kind() == lighting.KindRGB && len(z.ESPEasy.PWM) != 3 {
					t.Fatalf("rgb zone %q has pwm %v", z.ID, z.ESPEasy.PWM)
				}
			}
			if !(rate > 0 && rate <= 50) {
				t.Fatalf("zone %q has maxRate %v", z.ID, rate)
			}
			if u := strings.ToLower(z.DeviceURL()); !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
				t.Fatalf("zone %q has device URL %q", z.ID, u)
			}
		}
		if err := lighting.CheckSpecs(specs); err != nil {
			t.Fatalf("valid config %+v announces zones the hub refuses: %v", c, err)
		}
		if slices.ContainsFunc(specs, func(s lighting.ZoneSpec) bool { return !lighting.ValidZoneID(s.ID) }) {
			t.Fatalf("valid config has an invalid zone id: %+v", specs)
		}
	})
}
