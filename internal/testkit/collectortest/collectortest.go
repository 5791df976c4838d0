// Package collectortest holds what the tests of several collector areas
// share: configs built through the real config code, golden-text helpers
// and an isolated AWS environment.
package collectortest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bosaimail/bosaimail_exporter/collector"
	"github.com/bosaimail/bosaimail_exporter/config"
	"github.com/bosaimail/bosaimail_exporter/internal/awsclient"
)

// ChecksConfig parses checks (each a YAML mapping at zero indent) of one
// service through the real config code, so defaults and validation apply as
// in production.
func ChecksConfig(t testing.TB, checks ...string) *config.Config {
	t.Helper()
	var b strings.Builder
	b.WriteString("services:\n  - name: delivery\n    checks:\n")
	for _, chk := range checks {
		for i, line := range strings.Split(strings.TrimSpace(chk), "\n") {
			if i == 0 {
				b.WriteString("      - " + line + "\n")
			} else {
				b.WriteString("        " + line + "\n")
			}
		}
	}
	path := filepath.Join(t.TempDir(), "bosaimail.yml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("config:\n%s\n%v", b.String(), err)
	}
	return cfg
}

// Bounded lets prometheus/testutil collect one of our collectors, each
// collection bounded by timeout like a scrape.
func Bounded(c collector.Collector, timeout time.Duration) prometheus.Collector {
	return bounded{c: c, timeout: timeout}
}

type bounded struct {
	c       collector.Collector
	timeout time.Duration
}

func (a bounded) Describe(chan<- *prometheus.Desc) {}
func (a bounded) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), a.timeout)
	defer cancel()
	_ = a.c.Update(ctx, ch)
}

// WithHelp adds the HELP/TYPE lines of the metrics named to a bare sample
// list, so each case states only its samples.
func WithHelp(samples string) string {
	var b strings.Builder
	for _, d := range collector.Descs() {
		if !strings.Contains(samples, d.Name+"{") {
			continue
		}
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", d.Name, d.Help, d.Name, d.Type)
		for _, line := range strings.Split(samples, "\n") {
			if strings.HasPrefix(line, d.Name+"{") {
				b.WriteString(line + "\n")
			}
		}
	}
	return b.String()
}

// IsolateAWS gives the AWS SDK's default credential chain these static keys
// from the environment and nothing else: no shared files or profile of the
// machine running the tests, and no instance metadata service (a test
// never reaches an address other than 127.0.0.1).
// The test is skipped in a build without the AWS sources (-tags noaws).
func IsolateAWS(t *testing.T, keyID, secret string) {
	t.Helper()
	if !awsclient.Enabled {
		t.Skip("AWS sources are not in this build (-tags noaws)")
	}
	t.Setenv("AWS_ACCESS_KEY_ID", keyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CA_BUNDLE", "")
}
