package deploy

import (
	"bufio"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

type composeFile struct {
	Services map[string]struct {
		Image       string
		Build       any
		Environment map[string]string
		Ports       []string
		Volumes     []string
		Command     []string
		DependsOn   map[string]struct{ Condition string } `yaml:"depends_on"`
		Healthcheck *struct{ Test []string }
	}
	Networks map[string]struct {
		IPAM struct {
			Config []struct{ Subnet string }
		} `yaml:"ipam"`
	}
}

// composeVar is a variable reference in docker-compose.yml: ${NAME}, ${NAME:-default}, ${NAME:?error}.
var composeVar = regexp.MustCompile(`\$\{([A-Z0-9_]+)(:?[-?][^}]*)?\}`)

func readCompose(t *testing.T) (composeFile, string) {
	t.Helper()
	b, err := os.ReadFile("docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return c, string(b)
}

func TestCompose(t *testing.T) {
	c, text := readCompose(t)
	for _, name := range []string{"hub1", "hub2", "nginx", "redis", "mariadb", "rabbitmq"} {
		if _, ok := c.Services[name]; !ok {
			t.Errorf("no service %s", name)
		}
	}
	subnet := ""
	for _, n := range c.Networks {
		for _, cfg := range n.IPAM.Config {
			subnet = cfg.Subnet
		}
	}
	if subnet == "" {
		t.Error("no network with a fixed subnet (the hubs trust it as their proxy's)")
	}
	for _, name := range []string{"redis", "mariadb", "rabbitmq"} {
		if hc := c.Services[name].Healthcheck; hc == nil || len(hc.Test) == 0 {
			t.Errorf("%s has no healthcheck: the hubs wait for it to be healthy", name)
		}
	}
	tests := []struct {
		hub, udp, port, origin string
	}{
		{"hub1", ":8189", "8189:8189/udp", ""},
		{"hub2", ":8190", "8190:8190/udp", "http://hub1:8080"},
	}
	for _, tt := range tests {
		t.Run(tt.hub, func(t *testing.T) {
			s := c.Services[tt.hub]
			if b, _ := s.Build.(map[string]any); b["dockerfile"] != "deploy/docker/hub.Dockerfile" {
				t.Errorf("build %v, want deploy/docker/hub.Dockerfile (whose HEALTHCHECK service_healthy waits for)", s.Build)
			}
			env := s.Environment
			checkHubEnv(t, tt.hub, slices.Collect(maps.Keys(env)))
			for _, k := range []string{"STAGELINK_REDIS", "STAGELINK_MYSQL", "STAGELINK_AMQP", "STAGELINK_PUBLIC_IP"} {
				if env[k] == "" {
					t.Errorf("no %s", k)
				}
			}
			if env["STAGELINK_TRUSTED_PROXIES"] != subnet {
				t.Errorf("STAGELINK_TRUSTED_PROXIES %q, want the network's subnet %q", env["STAGELINK_TRUSTED_PROXIES"], subnet)
			}
			if env["STAGELINK_WEBRTC_UDP"] != tt.udp || !slices.Contains(s.Ports, tt.port) {
				t.Errorf("STAGELINK_WEBRTC_UDP %q, ports %q; want %s published as %s", env["STAGELINK_WEBRTC_UDP"], s.Ports, tt.udp, tt.port)
			}
			if env["STAGELINK_VIDEO_ORIGIN"] != tt.origin {
				t.Errorf("STAGELINK_VIDEO_ORIGIN %q, want %q", env["STAGELINK_VIDEO_ORIGIN"], tt.origin)
			}
			for _, dep := range []string{"redis", "mariadb", "rabbitmq"} {
				if s.DependsOn[dep].Condition != "service_healthy" {
					t.Errorf("depends_on %s: condition %q, want service_healthy", dep, s.DependsOn[dep].Condition)
				}
			}
			for k, v := range env {
				if looksSecret(k) && !composeVar.MatchString(v) {
					t.Errorf("%s=%q is a literal: secrets come from .env as ${VAR:?…}", k, v)
				}
			}
		})
	}
	n := c.Services["nginx"]
	for _, want := range []string{"./nginx/stagelink.conf:/etc/nginx/conf.d/default.conf:ro", "./nginx/tls:/etc/nginx/tls:ro"} {
		if !slices.Contains(n.Volumes, want) {
			t.Errorf("nginx volumes %q, want %s", n.Volumes, want)
		}
	}
	if !slices.Contains(n.Ports, "80:80") || !slices.Contains(n.Ports, "443:443") {
		t.Errorf("nginx ports %q, want 80:80 and 443:443", n.Ports)
	}
	if db := c.Services["mariadb"].Environment; db["MARIADB_DATABASE"] != "stagelink" {
		t.Errorf("MARIADB_DATABASE %q, want stagelink", db["MARIADB_DATABASE"])
	}
	checkComposeSecrets(t, c, text)
}

// optionalSecret is a reference to an optional secret with no default: ${STAGELINK_RTSP:-}.
var optionalSecret = regexp.MustCompile(`^\$\{[A-Z0-9_]+:-\}$`)

// checkComposeSecrets: every value that looks secret is a ${VAR:?…} reference that stops compose when
// .env lacks it (or an optional one without a default); .env.example names exactly the variables used, with placeholders only; .env is ignored.
func checkComposeSecrets(t *testing.T, c composeFile, text string) {
	t.Helper()
	for name, s := range c.Services {
		for k, v := range s.Environment {
			if looksSecret(k) && !strings.Contains(v, ":?") && !optionalSecret.MatchString(v) {
				t.Errorf("%s: %s=%q is not a required ${VAR:?…} reference", name, k, v)
			}
		}
	}
	used := map[string]bool{}
	for _, m := range composeVar.FindAllStringSubmatch(text, -1) {
		used[m[1]] = true
	}
	example := map[string]string{}
	f, err := os.Open(".env.example")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		example[k] = v
		if looksSecret(k) && v != "change-me" && v != "" {
			t.Errorf(".env.example: %s=%q, want the placeholder change-me", k, v)
		}
		if !used[k] {
			t.Errorf(".env.example sets %s, which docker-compose.yml does not use", k)
		}
	}
	for k := range used {
		if _, ok := example[k]; !ok {
			t.Errorf("docker-compose.yml uses ${%s}, which .env.example does not list", k)
		}
	}
	ignore, err := os.ReadFile("../.gitignore")
	if err != nil || !slices.Contains(strings.Split(string(ignore), "\n"), "/deploy/.env") {
		t.Error(".gitignore does not list /deploy/.env")
	}
}
