package exporter

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bosaimail/bosaimail_exporter/collector"
	"github.com/bosaimail/bosaimail_exporter/internal/testkit/testbin"
)

var update = flag.Bool("update", false, "rewrite docs/metrics.md from the code")

// MetricsReference renders docs/metrics.md from the descriptors every
// collector records, so the reference cannot drift from the code.
func MetricsReference() string {
	var b strings.Builder
	b.WriteString("# Metrics reference\n\n")
	b.WriteString("Generated from the code by `go test ./internal/app/exporter -run TestMetricsReference -update`;\n")
	b.WriteString("`make test` fails when this file and the code disagree.\n\n")
	b.WriteString("Besides these, the exporter exposes `bosaimail_build_info` and the standard `go_*` and `process_*` metrics.\n\n")
	b.WriteString("| metric | type | labels | meaning |\n| --- | --- | --- | --- |\n")
	for _, d := range collector.Descs() {
		if strings.HasPrefix(d.Name, "bosaimail_testonly_") {
			continue
		}
		labels := strings.Join(d.Labels, ", ")
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", d.Name, d.Type, labels, strings.ReplaceAll(d.Help, "|", "\\|"))
	}
	return b.String()
}

func TestMetricsReference(t *testing.T) {
	path := filepath.Join(testbin.RepoRoot(), "docs", "metrics.md")
	want := MetricsReference()
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (generate it with: go test ./internal/app/exporter -run TestMetricsReference -update)", err)
	}
	if string(got) != want {
		t.Fatalf("docs/metrics.md is out of date: run go test ./internal/app/exporter -run TestMetricsReference -update")
	}
}
