package main

import (
	"context"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/bosaimail/bosaimail_exporter/internal/app/report"
	"github.com/bosaimail/bosaimail_exporter/internal/exemption"
)

// readLedger reads the 障害票 of the month's contract year and, unless an
// exemption file was given, the exemptions approved in the ledger.
func readLedger(ctx context.Context, url, tokenFile string, month time.Time, yearStart time.Month, ex *exemption.File, timeout time.Duration) ([]report.LedgerIncident, *exemption.File, error) {
	c := &report.LedgerClient{URL: url, Client: &http.Client{Timeout: timeout}, MaxBytes: 64 << 20}
	if tokenFile != "" {
		b, err := os.ReadFile(tokenFile)
		if err != nil {
			return nil, nil, err
		}
		c.Token = strings.TrimSpace(string(b))
	}
	from, to := report.LedgerYear(month, yearStart)
	incs, err := c.Incidents(ctx, from, to)
	if err != nil {
		return nil, nil, err
	}
	if incs == nil {
		incs = []report.LedgerIncident{}
	}
	if ex == nil {
		if ex, err = c.Exemptions(ctx); err != nil {
			return nil, nil, err
		}
	}
	return incs, ex, nil
}
