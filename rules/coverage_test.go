// Package rules holds the generated Prometheus rules (from mixin/) and the
// test that keeps every alert and recording rule covered.
package rules

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestEveryRuleIsCovered: every alert has a runbook section (its
// runbook_url anchor) and a promtool test, and every recording rule is
// exercised by a promtool test, so a rule cannot be added untested.
func TestEveryRuleIsCovered(t *testing.T) {
	read := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	tests, err := filepath.Glob("tests/*.yaml")
	if err != nil || len(tests) == 0 {
		t.Fatalf("no promtool tests: %v", err)
	}
	var all strings.Builder
	for _, f := range tests {
		all.WriteString(read(f))
	}
	testText := all.String()
	runbooks := read("../docs/runbooks.md")

	alerts := regexp.MustCompile(`(?m)^\s*- alert: "?([A-Za-z0-9_]+)"?`).FindAllStringSubmatch(read("bosaimail_alerts.yaml"), -1)
	records := regexp.MustCompile(`(?m)^\s*record: "?([a-zA-Z0-9_:]+)"?`).FindAllStringSubmatch(read("bosaimail_rules.yaml"), -1)
	if len(alerts) == 0 || len(records) == 0 {
		t.Fatal("no alerts or recording rules found: run make mixin")
	}
	for _, m := range alerts {
		name := m[1]
		if !regexp.MustCompile(`(?m)^## ` + name + `$`).MatchString(runbooks) {
			t.Errorf("alert %s has no section in docs/runbooks.md", name)
		}
		if !regexp.MustCompile(`(?m)alertname: "?` + name + `"?\s*$`).MatchString(testText) {
			t.Errorf("alert %s has no promtool test in rules/tests", name)
		}
	}
	for _, m := range records {
		if !strings.Contains(testText, m[1]) {
			t.Errorf("recording rule %s is not exercised by a promtool test in rules/tests", m[1])
		}
	}
}
