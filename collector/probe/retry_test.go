package probe

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/bosaimail/bosaimail_exporter/internal/testkit/collectortest"
)

// flakyServer answers 503 to the first `fail` requests and 200 after; it
// counts every request.
func flakyServer(t *testing.T, fail int64) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= fail {
			http.Error(w, "blip", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// TestCriticalCheckRetry: a critical check that fails is re-probed once in
// the same scrape. One failed probe (a blip) is reported up and counted as
// a recovered retry, never as a failure; two failed probes are down, one
// failed run; a non-critical check is probed once.
func TestCriticalCheckRetry(t *testing.T) {
	names := []string{"bosaimail_check_up", "bosaimail_check_failures_total", "bosaimail_check_retries_total"}
	cases := []struct {
		name     string
		fail     int64 // requests answered 503 before the server recovers
		critical bool
		requests int64 // requests the scrape makes
		want     string
	}{
		{
			name: "one-probe blip", fail: 1, critical: true, requests: 2,
			want: `
bosaimail_check_retries_total{check="c",outcome="recovered",service="s"} 1
bosaimail_check_up{check="c",critical="true",kind="http",service="s"} 1
`,
		},
		{
			name: "confirmed failure", fail: 1000, critical: true, requests: 2,
			want: `
bosaimail_check_failures_total{check="c",reason="status",service="s"} 1
bosaimail_check_retries_total{check="c",outcome="failed",service="s"} 1
bosaimail_check_up{check="c",critical="true",kind="http",service="s"} 0
`,
		},
		{
			name: "healthy: probed once", fail: 0, critical: true, requests: 1,
			want: `
bosaimail_check_up{check="c",critical="true",kind="http",service="s"} 1
`,
		},
		{
			name: "non-critical: no retry", fail: 1, critical: false, requests: 1,
			want: `
bosaimail_check_failures_total{check="c",reason="status",service="s"} 1
bosaimail_check_up{check="c",critical="false",kind="http",service="s"} 0
`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, n := flakyServer(t, tc.fail)
			reg := runChecks(t, fmt.Sprintf(`services: [{name: s, checks: [{name: c, kind: http, critical: %t, http: {url: %q}}]}]`, tc.critical, srv.URL), 5*time.Second)
			if err := testutil.GatherAndCompare(reg, strings.NewReader(collectortest.WithHelp(tc.want)), names...); err != nil {
				t.Error(err)
			}
			if got := n.Load(); got != tc.requests {
				t.Errorf("the scrape made %d requests, want %d", got, tc.requests)
			}
		})
	}
}

// TestRetryStaysInsideScrapeDeadline: a check that hangs until the scrape's
// deadline is not re-probed past it (the scrape would be lost).
func TestRetryStaysInsideScrapeDeadline(t *testing.T) {
	hang := hangingListener(t)
	reg := runChecks(t, fmt.Sprintf(`services: [{name: s, checks: [{name: c, kind: http, timeout: 60s, http: {url: "http://%s/"}}]}]`, hang), 300*time.Millisecond)
	want := `
bosaimail_check_failures_total{check="c",reason="timeout",service="s"} 1
bosaimail_check_up{check="c",critical="true",kind="http",service="s"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(collectortest.WithHelp(want)),
		"bosaimail_check_up", "bosaimail_check_failures_total", "bosaimail_check_retries_total"); err != nil {
		t.Error(err)
	}
}
