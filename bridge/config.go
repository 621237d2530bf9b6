package bridge

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"

	"gopkg.in/yaml.v3"

	"github.com/stagelink/stagelink/lighting"
)

// Defaults for device entries that leave them out.
const (
	DefaultWLEDMaxRate    = 5.0 // requests/s; an ESP8266 takes about 10 (wled/WLED#661)
	DefaultESPEasyMaxRate = 5.0 // requests/s; ESPEasy serves one client at a time
	maxConfigBytes        = 1 << 20
	maxZones              = 256
)

// Config is the bridge agent's configuration, read from YAML (see README "Bridge config").
type Config struct {
	Hub   string       `yaml:"hub"`
	Token string       `yaml:"token"`
	Name  string       `yaml:"name"`
	Zones []ZoneConfig `yaml:"zones"`
}

// ZoneConfig is one zone and the device that shows it. Exactly one device entry is set.
type ZoneConfig struct {
	ID      string         `yaml:"id"`
	Name    string         `yaml:"name"`
	WLED    *WLEDConfig    `yaml:"wled"`
	ESPEasy *ESPEasyConfig `yaml:"espeasy"`
}

// WLEDConfig drives one segment of a WLED controller over its JSON API.
type WLEDConfig struct {
	URL     string  `yaml:"url"`
	Segment int     `yaml:"segment"`
	MaxRate float64 `yaml:"maxRate"` // requests/s to this device; 0 means DefaultWLEDMaxRate
}

// ESPEasyConfig drives an ESPEasy controller: three PWM GPIOs (r, g, b) for an RGB zone, or one relay GPIO.
type ESPEasyConfig struct {
	URL     string  `yaml:"url"`
	PWM     []int   `yaml:"pwm"`
	Relay   *int    `yaml:"relay"`
	Fade    int     `yaml:"fade"`    // PWM fade in ms; 0 switches at once
	MaxRate float64 `yaml:"maxRate"` // requests/s to this device; 0 means DefaultESPEasyMaxRate
}

var zoneIDPattern = regexp.MustCompile(`^[a-z0-9-]{1,40}$`)

// ParseConfig reads a YAML config strictly: unknown keys, a second document and bad values are errors.
// Defaults are filled in; flags may still override Hub, Token and Name before Validate.
func ParseConfig(r io.Reader) (Config, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxConfigBytes+1))
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	if len(b) > maxConfigBytes {
		return Config{}, fmt.Errorf("config is larger than %d bytes", maxConfigBytes)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var c Config
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return Config{}, errors.New("config: more than one YAML document")
	}
	c.setDefaults()
	return c, nil
}

func (c *Config) setDefaults() {
	for i := range c.Zones {
		z := &c.Zones[i]
		if z.Name == "" {
			z.Name = z.ID
		}
		if z.WLED != nil && z.WLED.MaxRate == 0 {
			z.WLED.MaxRate = DefaultWLEDMaxRate
		}
		if z.ESPEasy != nil && z.ESPEasy.MaxRate == 0 {
			z.ESPEasy.MaxRate = DefaultESPEasyMaxRate
		}
	}
}

// Validate reports every problem in the config, each saying how to fix it.
func (c Config) Validate() error {
	var errs []error
	if c.Hub == "" {
		errs = append(errs, errors.New("hub: set the hub's URL, for example http://127.0.0.1:8080 (key hub, flag -hub)"))
	} else if err := checkURL(c.Hub); err != nil {
		errs = append(errs, fmt.Errorf("hub: %w", err))
	}
	if c.Name == "" {
		errs = append(errs, errors.New("name: give this bridge a name (key name, flag -name)"))
	}
	if len(c.Zones) == 0 {
		errs = append(errs, errors.New("zones: list at least one zone"))
	}
	if len(c.Zones) > maxZones {
		errs = append(errs, fmt.Errorf("zones: at most %d zones per bridge", maxZones))
	}
	seen := map[string]bool{}
	for i, z := range c.Zones {
		where := fmt.Sprintf("zones[%d] (%s)", i, z.ID)
		if !zoneIDPattern.MatchString(z.ID) {
			errs = append(errs, fmt.Errorf("%s: id must be 1–40 of a-z, 0-9 and -", where))
		}
		if seen[z.ID] {
			errs = append(errs, fmt.Errorf("%s: id is used twice", where))
		}
		seen[z.ID] = true
		if len(z.Name) > 64 {
			errs = append(errs, fmt.Errorf("%s: name is longer than 64 bytes", where))
		}
		if err := z.validateDevice(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", where, err))
		}
	}
	return errors.Join(errs...)
}

func (z ZoneConfig) validateDevice() error {
	switch {
	case z.WLED == nil && z.ESPEasy == nil:
		return errors.New("set a device: wled: {url: …} or espeasy: {url: …}")
	case z.WLED != nil && z.ESPEasy != nil:
		return errors.New("set only one device: wled or espeasy")
	case z.WLED != nil:
		w := z.WLED
		if err := checkURL(w.URL); err != nil {
			return fmt.Errorf("wled.url: %w", err)
		}
		if w.Segment < 0 || w.Segment > 31 {
			return errors.New("wled.segment must be 0–31")
		}
		return checkRate("wled", w.MaxRate)
	default:
		e := z.ESPEasy
		if err := checkURL(e.URL); err != nil {
			return fmt.Errorf("espeasy.url: %w", err)
		}
		if (len(e.PWM) == 0) == (e.Relay == nil) {
			return errors.New("espeasy: set either pwm: [r, g, b] or relay: GPIO")
		}
		if e.Relay != nil && !validGPIO(*e.Relay) {
			return errors.New("espeasy.relay must be a GPIO number 0–40")
		}
		if len(e.PWM) != 0 {
			if len(e.PWM) != 3 {
				return errors.New("espeasy.pwm must list three GPIOs: [r, g, b]")
			}
			for _, p := range e.PWM {
				if !validGPIO(p) {
					return errors.New("espeasy.pwm GPIOs must be numbers 0–40")
				}
			}
		}
		if e.Fade < 0 || e.Fade > 60000 {
			return errors.New("espeasy.fade must be 0–60000 ms")
		}
		return checkRate("espeasy", e.MaxRate)
	}
}

// Kind is the zone kind that follows from the device entry.
func (z ZoneConfig) Kind() lighting.Kind {
	switch {
	case z.WLED != nil:
		return lighting.KindPixels
	case z.ESPEasy != nil && z.ESPEasy.Relay != nil:
		return lighting.KindRelay
	default:
		return lighting.KindRGB
	}
}

// DeviceURL is the base URL of the zone's device; zones with the same URL share one device.
func (z ZoneConfig) DeviceURL() string {
	if z.WLED != nil {
		return z.WLED.URL
	}
	return z.ESPEasy.URL
}

func validGPIO(n int) bool { return n >= 0 && n <= 40 }

func checkRate(dev string, r float64) error {
	if !(r > 0 && r <= 50) { // also refuses NaN (YAML .nan)
		return fmt.Errorf("%s.maxRate must be between 0 and 50 requests/s", dev)
	}
	return nil
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL", s)
	}
	return nil
}
