package deploy

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction, its continuation lines joined.
type instruction struct {
	line int    // where it starts
	cmd  string // upper case: FROM, RUN, …
	args string
}

// stage is a FROM and the instructions after it.
type stage struct {
	image, name string
	body        []instruction
}

// parseDockerfile splits text into instructions: comments and blank lines are dropped (also inside a
// continuation, as Docker does), lines ending in a backslash continue.
func parseDockerfile(text string) []instruction {
	var out []instruction
	var cur *instruction
	for i, raw := range strings.Split(text, "\n") {
		line := strings.TrimSpace(raw)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cont := strings.HasSuffix(line, "\\")
		line = strings.TrimSpace(strings.TrimSuffix(line, "\\"))
		if cur == nil {
			cmd, args, _ := strings.Cut(line, " ")
			cur = &instruction{line: i + 1, cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)}
		} else {
			cur.args += " " + line
		}
		if !cont {
			out = append(out, *cur)
			cur = nil
		}
	}
	if cur != nil {
		out = append(out, *cur)
	}
	return out
}

// stages groups instructions by FROM: FROM [--platform=…] IMAGE [AS NAME].
func stages(ins []instruction) []stage {
	var out []stage
	for _, in := range ins {
		if in.cmd == "FROM" {
			var words []string
			for _, w := range strings.Fields(in.args) {
				if !strings.HasPrefix(w, "--") {
					words = append(words, w)
				}
			}
			s := stage{image: words[0]}
			if len(words) == 3 && strings.EqualFold(words[1], "AS") {
				s.name = words[2]
			}
			out = append(out, s)
			continue
		}
		if len(out) > 0 {
			out[len(out)-1].body = append(out[len(out)-1].body, in)
		}
	}
	return out
}

// execForm returns the JSON array that follows the options (--interval=… and such) and an optional
// keyword (CMD in HEALTHCHECK) in args, or nil if args is in shell form.
func execForm(args, keyword string) []string {
	for strings.HasPrefix(args, "--") {
		_, args, _ = strings.Cut(args, " ")
		args = strings.TrimSpace(args)
	}
	args = strings.TrimSpace(strings.TrimPrefix(args, keyword))
	var v []string
	if json.Unmarshal([]byte(args), &v) != nil {
		return nil
	}
	return v
}

// pinned reports whether an image reference names a tag other than latest, or a digest.
func pinned(image string) bool {
	if strings.Contains(image, "@sha256:") {
		return true
	}
	name := image[strings.LastIndex(image, "/")+1:]
	_, tag, ok := strings.Cut(name, ":")
	return ok && tag != "" && tag != "latest"
}

var goBuildTarget = regexp.MustCompile(`go build .*\s(\./cmd/[a-z]+)\b`)

func TestDockerfiles(t *testing.T) {
	tests := []struct {
		bin    string
		expose []string
		volume bool
		env    string // the environment the healthcheck reads, if any
	}{
		{bin: "hub", expose: []string{"8080/tcp", "8189/udp", "8189/tcp"}, volume: true},
		{bin: "bridge", env: "STAGELINK_BRIDGE_HEARTBEAT"},
		{bin: "printer", volume: true, env: "STAGELINK_PRINTER_HEARTBEAT"},
	}
	for _, tt := range tests {
		t.Run(tt.bin, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("docker", tt.bin+".Dockerfile"))
			if err != nil {
				t.Fatal(err)
			}
			ss := stages(parseDockerfile(string(b)))
			if len(ss) < 2 || ss[0].name == "" {
				t.Fatalf("%d stages, the first named %q: want a named build stage and a final one", len(ss), ss[0].name)
			}
			names := map[string]bool{}
			for i, s := range ss {
				if !pinned(s.image) {
					t.Errorf("FROM %s: pin a tag other than latest (or a digest)", s.image)
				}
				if i == len(ss)-1 && names[s.image] {
					t.Errorf("the final stage is FROM the stage %s, want a runtime image", s.image)
				}
				for _, in := range s.body {
					checkInstruction(t, in, names)
				}
				names[s.name] = true
			}
			final := map[string][]instruction{}
			for _, in := range ss[len(ss)-1].body {
				final[in.cmd] = append(final[in.cmd], in)
			}
			checkFinalStage(t, tt.bin, final)
			var expose []string
			for _, in := range final["EXPOSE"] {
				expose = append(expose, strings.Fields(in.args)...)
			}
			if !slices.Equal(expose, tt.expose) {
				t.Errorf("EXPOSE %q, want %q", expose, tt.expose)
			}
			if hasVolume := slices.ContainsFunc(final["VOLUME"], func(in instruction) bool { return strings.Contains(in.args, `"/data"`) }); hasVolume != tt.volume {
				t.Errorf("VOLUME /data: %v, want %v", hasVolume, tt.volume)
			}
			if tt.env != "" && !slices.ContainsFunc(final["ENV"], func(in instruction) bool { return strings.Contains(in.args, tt.env+"=") }) {
				t.Errorf("no ENV %s: the healthcheck has no heartbeat file to read", tt.env)
			}
		})
	}
}

// checkInstruction checks a build-stage instruction: COPY --from names an earlier stage, go build is
// static, stripped and builds a package of this repository.
func checkInstruction(t *testing.T, in instruction, earlier map[string]bool) {
	t.Helper()
	for _, w := range strings.Fields(in.args) {
		if from, ok := strings.CutPrefix(w, "--from="); ok && in.cmd == "COPY" && !earlier[from] {
			t.Errorf("line %d: COPY --from=%s names no earlier stage", in.line, from)
		}
	}
	if in.cmd != "RUN" || !strings.Contains(in.args, "go build") {
		return
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", `-ldflags="-s -w"`} {
		if !strings.Contains(in.args, want) {
			t.Errorf("line %d: go build without %s", in.line, want)
		}
	}
	m := goBuildTarget.FindStringSubmatch(in.args)
	if m == nil {
		t.Errorf("line %d: go build of no ./cmd/… package", in.line)
	} else if fi, err := os.Stat(filepath.Join("..", m[1])); err != nil || !fi.IsDir() {
		t.Errorf("line %d: go build %s: no such package directory in the repository", in.line, m[1])
	}
}

// checkFinalStage: a non-root USER, the binary as an exec-form ENTRYPOINT copied from the build, and a
// HEALTHCHECK that runs its healthcheck subcommand.
func checkFinalStage(t *testing.T, bin string, final map[string][]instruction) {
	t.Helper()
	users := final["USER"]
	if len(users) == 0 {
		t.Error("the final stage has no USER: it would run as root")
	} else if u := users[len(users)-1].args; u == "root" || u == "0" || strings.HasPrefix(u, "0:") || strings.HasPrefix(u, "root:") {
		t.Errorf("USER %s, want a non-root user (65532:65532, nonroot)", u)
	}
	if !slices.ContainsFunc(final["COPY"], func(in instruction) bool { return strings.HasSuffix(in.args, " /"+bin) }) {
		t.Errorf("the final stage copies no /%s", bin)
	}
	if len(final["ENTRYPOINT"]) != 1 || !slices.Equal(execForm(final["ENTRYPOINT"][0].args, ""), []string{"/" + bin}) {
		t.Errorf("ENTRYPOINT %v, want exactly one, [\"/%s\"] (exec form: signals reach the program)", final["ENTRYPOINT"], bin)
	}
	hc := final["HEALTHCHECK"]
	if len(hc) != 1 {
		t.Fatalf("%d HEALTHCHECKs, want 1", len(hc))
	}
	if got := execForm(hc[0].args, "CMD"); len(got) < 2 || got[0] != "/"+bin || got[1] != "healthcheck" {
		t.Errorf("HEALTHCHECK %q, want CMD [\"/%s\", \"healthcheck\", …] in exec form (distroless has no shell)", hc[0].args, bin)
	}
}

func TestParseDockerfile(t *testing.T) {
	text := "# syntax=docker/dockerfile:1\nFROM a:1 AS build\nRUN x \\\n  # a comment inside\n  y \\\n  z\n\nFROM b:2\nUSER 1:1\n"
	got := parseDockerfile(text)
	want := []instruction{{2, "FROM", "a:1 AS build"}, {3, "RUN", "x y z"}, {8, "FROM", "b:2"}, {9, "USER", "1:1"}}
	if !slices.Equal(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	for image, want := range map[string]bool{"golang:1.26-bookworm": true, "nginx": false, "x/y:latest": false, "localhost:5000/y": false, "a@sha256:00": true} {
		if got := pinned(image); got != want {
			t.Errorf("pinned(%q) = %v, want %v", image, got, want)
		}
	}
}

func TestDockerignore(t *testing.T) {
	b, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	for _, want := range []string{".git", "web/node_modules", "data", "bin"} {
		if !slices.Contains(lines, want) {
			t.Errorf(".dockerignore does not exclude %s", want)
		}
	}
	for _, needed := range []string{"go.mod", "go.sum", "cmd", "web", "web/assets", "*.go", "**/*.go"} {
		if slices.Contains(lines, needed) {
			t.Errorf(".dockerignore excludes %s, which the images build from", needed)
		}
	}
}
