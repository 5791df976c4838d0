package report

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/bosaimail/bosaimail_exporter/internal/testkit/reporttest"
)

var jstAt = reporttest.JST

func TestMain(m *testing.M) {
	code := m.Run()
	reporttest.Stop()
	os.Exit(code)
}

// octoberReport builds the report of the scenario's October.
func octoberReport(t *testing.T, opts Options) (*Report, error) {
	t.Helper()
	url := reporttest.Start(t)
	q, err := NewQuerier(url, nil, time.Minute, 256<<20)
	if err != nil {
		t.Fatal(err)
	}
	if opts.Month.IsZero() {
		opts.Month = jstAt(2026, 10, 1, 0, 0, 0)
	}
	if opts.Selector == "" {
		opts.Selector = `job="bosaimail"`
	}
	if opts.MergeWindow == 0 {
		opts.MergeWindow = 5 * time.Minute
	}
	opts.Target, opts.MaxOutages, opts.AntivirusMaxAge = 0.995, 3, 24*time.Hour
	opts.SystemName = "対象システム"
	opts.Now = func() time.Time { return jstAt(2026, 11, 5, 9, 0, 0) }
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	return Build(ctx, q, opts)
}
