package main

import (
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/bosaimail/bosaimail_exporter/internal/testkit/reporttest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	reporttest.Stop()
	os.Exit(code)
}

func november5() time.Time { return reporttest.JST(2026, 11, 5, 9, 0, 0) }

func files(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

func exemptions(t *testing.T, name string) string {
	return filepath.Join(reporttest.RepoRoot(t), "testdata/report", name)
}

// TestReport runs the command against the real Prometheus of the scenario.
func TestReport(t *testing.T) {
	url := reporttest.Start(t)
	out := t.TempDir()
	// The flag repeats for the replicas of an HA pair (here the same
	// server twice: the figures do not change).
	code := run([]string{"--prometheus.url", url, "--prometheus.url", url, "--month", "2026-10", "--out", out, "--format", "xlsx, md", "--exemptions", exemptions(t, "exemptions.yml")}, november5)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	want := []string{"bosaimail-report-2026-10.md", "bosaimail-report-2026-10.xlsx"}
	if got := files(t, out); !reflect.DeepEqual(got, want) {
		t.Fatalf("wrote %v, want %v", got, want)
	}
	f, err := excelize.OpenFile(filepath.Join(out, want[1]))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// The exemption file was applied: mail's 契約稼働率 of the month
	// (免責適用後, the first mail row).
	rows, _ := f.GetRows("稼働実績")
	found := false
	for _, r := range rows {
		if len(r) > 10 && r[0] == "mail" && !found {
			found = true
			if r[10] != "99.850%" {
				t.Errorf("mail contractual availability %q, want 99.850%%", r[10])
			}
		}
	}
	if !found {
		t.Errorf("no mail row in 稼働実績: %v", rows)
	}

	// Without --month: the previous month of "now".
	out2 := t.TempDir()
	if code := run([]string{"--prometheus.url", url, "--out", out2, "--format", "csv"}, november5); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if got := files(t, out2); len(got) == 0 || got[0][:len("bosaimail-report-2026-10-")] != "bosaimail-report-2026-10-" {
		t.Errorf("wrote %v", got)
	}
}

// TestFailures: each bad input fails with exit 1 or 2 and writes nothing.
func TestFailures(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		needProm bool
		code     int
	}{
		{"unreachable prometheus", []string{"--prometheus.url", "http://127.0.0.1:1", "--month", "2026-10", "--prometheus.timeout", "5s"}, false, 1},
		{"malformed exemption file", []string{"--prometheus.url", "http://127.0.0.1:1", "--month", "2026-10", "--exemptions", "EXEMPT:exemptions-malformed.yml"}, false, 1},
		{"missing exemption file", []string{"--exemptions", "/nonexistent.yml"}, false, 2},
		{"bad month", []string{"--month", "2026-13"}, false, 1},
		{"bad format", []string{"--month", "2026-10", "--format", "xlsx,pdf"}, false, 1},
		{"bad target", []string{"--month", "2026-10", "--availability.target", "99.5"}, false, 1},
		{"unknown flag", []string{"--montht", "2026-10"}, false, 2},
		{"month without data", []string{"--prometheus.url", "PROM", "--month", "2026-06"}, true, 1},
		{"exemption matching nothing", []string{"--prometheus.url", "PROM", "--month", "2026-10", "--exemptions", "EXEMPT:exemptions-nomatch.yml"}, true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := t.TempDir()
			args := []string{"--out", out}
			for _, a := range tt.args {
				switch {
				case a == "PROM":
					a = reporttest.Start(t)
				case len(a) > 7 && a[:7] == "EXEMPT:":
					a = exemptions(t, a[7:])
				}
				args = append(args, a)
			}
			if code := run(args, november5); code != tt.code {
				t.Errorf("exit %d, want %d", code, tt.code)
			}
			if got := files(t, out); len(got) != 0 {
				t.Errorf("left files behind: %v", got)
			}
		})
	}
}
