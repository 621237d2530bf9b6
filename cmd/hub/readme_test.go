package main

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestREADMEDocumentsEveryFlag: the flag tables of README.md ("Hub configuration", "Community printing")
// list exactly the hub's flags. deploy's tests check the manifests' STAGELINK_* variables against those
// tables, which this keeps honest.
func TestREADMEDocumentsEveryFlag(t *testing.T) {
	var usage bytes.Buffer
	if _, err := parseConfig([]string{"-h"}, func(string) string { return "" }, &usage); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("parseConfig(-h) = %v, want flag.ErrHelp", err)
	}
	var flags []string
	for _, m := range regexp.MustCompile(`(?m)^  -([a-z0-9-]+)`).FindAllStringSubmatch(usage.String(), -1) {
		flags = append(flags, m[1])
	}

	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for _, section := range strings.Split(string(readme), "\n## ")[1:] {
		if !strings.HasPrefix(section, "Hub configuration\n") && !strings.HasPrefix(section, "Community printing") {
			continue
		}
		for _, line := range strings.Split(section, "\n") {
			if !strings.HasPrefix(line, "| `-") {
				continue
			}
			for _, m := range regexp.MustCompile("`-([a-z0-9-]+)`").FindAllStringSubmatch(strings.Split(line, "|")[1], -1) {
				documented = append(documented, m[1])
			}
		}
	}
	slices.Sort(flags)
	slices.Sort(documented)
	if diff := cmp.Diff(flags, slices.Compact(documented)); diff != "" {
		t.Errorf("hub flags (-) and README.md's flag tables (+) differ:\n%s", diff)
	}
}
