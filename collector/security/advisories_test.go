package security

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bosaimail/bosaimail_exporter/collector"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/bosaimail/bosaimail_exporter/config"
	"github.com/bosaimail/bosaimail_exporter/internal/fetch"
)

func secFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "security", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// secFeeds is a TLS server playing MyJVN, the NVD API and the KEV catalog
// from recorded payloads; mode switches it into failure behaviours.
type secFeeds struct {
	t    *testing.T
	srv  *httptest.Server
	mu   sync.Mutex
	mode string
	// requests records the query strings seen, per path.
	requests map[string][]string
	apiKeys  []string
}

func newSecFeeds(t *testing.T) *secFeeds {
	f := &secFeeds{t: t, requests: map[string][]string{}}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *secFeeds) setMode(m string) { f.mu.Lock(); f.mode = m; f.mu.Unlock() }

func (f *secFeeds) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	mode := f.mode
	f.requests[r.URL.Path] = append(f.requests[r.URL.Path], r.URL.RawQuery)
	if r.URL.Path == "/nvd" {
		f.apiKeys = append(f.apiKeys, r.Header.Get("apiKey"))
	}
	f.mu.Unlock()
	q := r.URL.Query()
	switch r.URL.Path {
	case "/myjvn":
		if q.Get("method") != "getVulnOverviewList" || q.Get("rangeDatePublished") != "n" {
			http.Error(w, "bad query", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/xml; charset=utf-8")
		switch {
		case mode == "jvn-error":
			// MyJVN reports parameter errors inside an HTTP 200.
			w.Write(secFixture(f.t, "jvn-error.xml"))
		case mode == "jvn-empty" || q.Get("cpeName") != "cpe:/a:apache:http_server":
			w.Write(secFixture(f.t, "jvn-empty.xml"))
		case mode == "truncated":
			w.Write(secFixture(f.t, "jvn-truncated.xml"))
		case q.Get("startItem") == "1" && q.Get("maxCountItem") == "2":
			w.Write(secFixture(f.t, "jvn-page1.xml"))
		case q.Get("startItem") == "3" && q.Get("maxCountItem") == "2":
			w.Write(secFixture(f.t, "jvn-page2.xml"))
		default:
			http.Error(w, "unexpected page "+r.URL.RawQuery, http.StatusBadRequest)
		}
	case "/nvd":
		w.Header().Set("Content-Type", "application/json")
		switch {
		case mode == "rate-limited":
			w.Header().Set("Retry-After", "30")
			http.Error(w, "Request forbidden by administrative rules.", http.StatusForbidden)
		case mode == "truncated":
			w.Write(secFixture(f.t, "nvd-truncated.json"))
		case mode == "html":
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<html><body>503 Service Unavailable</body></html>"))
		case q.Get("virtualMatchString") != "cpe:2.3:a:apache:http_server" && q.Get("virtualMatchString") != "cpe:2.3:a:postfix:postfix":
			w.Write([]byte(`{"resultsPerPage":0,"startIndex":0,"totalResults":0,"format":"NVD_CVE","version":"2.0","vulnerabilities":[]}`))
		case q.Get("startIndex") == "0":
			w.Write(secFixture(f.t, "nvd-page1.json"))
		case q.Get("startIndex") == "3" && (mode == "moving" || mode == "moved-once"):
			// A CVE was published between the two pages: the total moved.
			if mode == "moved-once" {
				f.setMode("")
			}
			w.Write(secFixture(f.t, "nvd-page2-moved.json"))
		case q.Get("startIndex") == "3":
			w.Write(secFixture(f.t, "nvd-page2.json"))
		default:
			http.Error(w, "unexpected page "+r.URL.RawQuery, http.StatusBadRequest)
		}
	case "/kev.json":
		if mode == "kev-empty" {
			w.Write([]byte(`{"catalogVersion":"2026.11.20","count":0,"vulnerabilities":[]}`))
			return
		}
		w.Write(secFixture(f.t, "kev.json"))
	default:
		http.NotFound(w, r)
	}
}

const secInventoryYAML = `
security:
  inventory:
    - {product: httpd, vendor: apache, version: 2.4.58, cpe: "cpe:2.3:a:apache:http_server:2.4.58:*:*:*:*:*:*:*"}
    - {product: postfix, version: 3.7.9, cpe: "cpe:2.3:a:postfix:postfix:3.7.9:*:*:*:*:*:*:*"}
    - {product: dovecot, version: 2.3.21, cpe: "cpe:/a:dovecot:dovecot:2.3.21"}
    - {product: rhel, version: "9.4", cpe: "cpe:2.3:o:redhat:enterprise_linux:9.4:*:*:*:*:*:*:*"}
`

func loadSecConfig(t *testing.T, body string, files map[string]string) *config.Config {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(dir, "bosaimail.yml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func newTestAdvisories(t *testing.T, f *secFeeds, acks string) *securityAdvisories {
	t.Helper()
	u := f.srv.URL
	cfg := loadSecConfig(t, secInventoryYAML+`
  advisories:
    jvn: {enabled: true, url: "`+u+`/myjvn", page_size: 2, request_interval: 1ms}
    nvd: {enabled: true, url: "`+u+`/nvd", page_size: 3, request_interval: 1ms, api_key_file: nvd.key}
    kev: {enabled: true, url: "`+u+`/kev.json"}
    acknowledgements_file: acks.yml
`, map[string]string{"nvd.key": "test-key-123\n", "acks.yml": acks})
	c, err := newSecurityAdvisories(collector.Env{Config: cfg, Now: func() time.Time { return time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	sa := c.(*securityAdvisories)
	sa.client = f.srv.Client()
	return sa
}

func refreshAll(t *testing.T, c *securityAdvisories) []error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return []error{c.jvn.RefreshOnce(ctx), c.nvd.RefreshOnce(ctx), c.kev.RefreshOnce(ctx)}
}

const secAcks = `acknowledgements:
  - id: CVE-2026-20002
    product: postfix
    status: patched
    reason: "postfix 3.7.9 にディストリビューションの修正パッチ (3.7.9-2.el9_4) を適用済み"
    date: 2026-11-21
    by: 運用担当
`

const secWantAdvisories = `
# HELP bosaimail_security_advisories Open (not acknowledged) advisories that apply to the software inventory, by product, severity and source (jvn|nvd).
# TYPE bosaimail_security_advisories gauge
bosaimail_security_advisories{product="dovecot",severity="critical",source="jvn"} 0
bosaimail_security_advisories{product="dovecot",severity="critical",source="nvd"} 0
bosaimail_security_advisories{product="dovecot",severity="high",source="jvn"} 1
bosaimail_security_advisories{product="dovecot",severity="high",source="nvd"} 0
bosaimail_security_advisories{product="dovecot",severity="low",source="jvn"} 0
bosaimail_security_advisories{product="dovecot",severity="low",source="nvd"} 0
bosaimail_security_advisories{product="dovecot",severity="medium",source="jvn"} 0
bosaimail_security_advisories{product="dovecot",severity="medium",source="nvd"} 0
bosaimail_security_advisories{product="dovecot",severity="none",source="jvn"} 0
bosaimail_security_advisories{product="dovecot",severity="none",source="nvd"} 0
bosaimail_security_advisories{product="dovecot",severity="unknown",source="jvn"} 0
bosaimail_security_advisories{product="dovecot",severity="unknown",source="nvd"} 0
bosaimail_security_advisories{product="httpd",severity="critical",source="jvn"} 1
bosaimail_security_advisories{product="httpd",severity="critical",source="nvd"} 1
bosaimail_security_advisories{product="httpd",severity="high",source="jvn"} 0
bosaimail_security_advisories{product="httpd",severity="high",source="nvd"} 0
bosaimail_security_advisories{product="httpd",severity="low",source="jvn"} 0
bosaimail_security_advisories{product="httpd",severity="low",source="nvd"} 0
bosaimail_security_advisories{product="httpd",severity="medium",source="jvn"} 0
bosaimail_security_advisories{product="httpd",severity="medium",source="nvd"} 0
bosaimail_security_advisories{product="httpd",severity="none",source="jvn"} 0
bosaimail_security_advisories{product="httpd",severity="none",source="nvd"} 0
bosaimail_security_advisories{product="httpd",severity="unknown",source="jvn"} 0
bosaimail_security_advisories{product="httpd",severity="unknown",source="nvd"} 0
bosaimail_security_advisories{product="postfix",severity="critical",source="jvn"} 0
bosaimail_security_advisories{product="postfix",severity="critical",source="nvd"} 0
bosaimail_security_advisories{product="postfix",severity="high",source="jvn"} 0
bosaimail_security_advisories{product="postfix",severity="high",source="nvd"} 0
bosaimail_security_advisories{product="postfix",severity="low",source="jvn"} 0
bosaimail_security_advisories{product="postfix",severity="low",source="nvd"} 0
bosaimail_security_advisories{product="postfix",severity="medium",source="jvn"} 0
bosaimail_security_advisories{product="postfix",severity="medium",source="nvd"} 0
bosaimail_security_advisories{product="postfix",severity="none",source="jvn"} 0
bosaimail_security_advisories{product="postfix",severity="none",source="nvd"} 0
bosaimail_security_advisories{product="postfix",severity="unknown",source="jvn"} 0
bosaimail_security_advisories{product="postfix",severity="unknown",source="nvd"} 0
bosaimail_security_advisories{product="rhel",severity="critical",source="jvn"} 0
bosaimail_security_advisories{product="rhel",severity="critical",source="nvd"} 0
bosaimail_security_advisories{product="rhel",severity="high",source="jvn"} 0
bosaimail_security_advisories{product="rhel",severity="high",source="nvd"} 0
bosaimail_security_advisories{product="rhel",severity="low",source="jvn"} 0
bosaimail_security_advisories{product="rhel",severity="low",source="nvd"} 0
bosaimail_security_advisories{product="rhel",severity="medium",source="jvn"} 0
bosaimail_security_advisories{product="rhel",severity="medium",source="nvd"} 0
bosaimail_security_advisories{product="rhel",severity="none",source="jvn"} 0
bosaimail_security_advisories{product="rhel",severity="none",source="nvd"} 0
bosaimail_security_advisories{product="rhel",severity="unknown",source="jvn"} 0
bosaimail_security_advisories{product="rhel",severity="unknown",source="nvd"} 0
`

const secWantRest = `
# HELP bosaimail_security_advisories_acknowledged Advisories that apply to a product but are closed by a recorded acknowledgement, by status.
# TYPE bosaimail_security_advisories_acknowledged gauge
bosaimail_security_advisories_acknowledged{product="postfix",status="patched"} 2
# HELP bosaimail_security_advisory_info One series per open critical or high advisory (at most advisories.max_listed, most severe and newest first), for dashboard tables.
# TYPE bosaimail_security_advisory_info gauge
bosaimail_security_advisory_info{id="CVE-2026-10001",link="https://nvd.nist.gov/vuln/detail/CVE-2026-10001",product="httpd",severity="critical"} 1
bosaimail_security_advisory_info{id="JVNDB-2025-004321",link="https://jvndb.jvn.jp/ja/contents/2025/JVNDB-2025-004321.html",product="dovecot",severity="high"} 1
bosaimail_security_advisory_info{id="JVNDB-2026-012345",link="https://jvndb.jvn.jp/ja/contents/2026/JVNDB-2026-012345.html",product="httpd",severity="critical"} 1
# HELP bosaimail_security_advisory_newest_published_timestamp_seconds Publication time of the newest advisory that applies to a product (acknowledged or not).
# TYPE bosaimail_security_advisory_newest_published_timestamp_seconds gauge
bosaimail_security_advisory_newest_published_timestamp_seconds{product="dovecot"} 1.7488512e+09
bosaimail_security_advisory_newest_published_timestamp_seconds{product="httpd"} 1.79497818e+09
bosaimail_security_advisory_newest_published_timestamp_seconds{product="postfix"} 1.7942796e+09
# HELP bosaimail_security_known_exploited Open advisories of a product whose CVE is in CISA's Known Exploited Vulnerabilities catalog.
# TYPE bosaimail_security_known_exploited gauge
bosaimail_security_known_exploited{product="dovecot"} 1
bosaimail_security_known_exploited{product="httpd"} 1
bosaimail_security_known_exploited{product="postfix"} 0
bosaimail_security_known_exploited{product="rhel"} 0
# HELP bosaimail_security_feed_entries Entries read from an advisory feed in its last good refresh (all products for jvn/nvd, the catalog for kev).
# TYPE bosaimail_security_feed_entries gauge
bosaimail_security_feed_entries{source="jvn"} 4
bosaimail_security_feed_entries{source="kev"} 3
bosaimail_security_feed_entries{source="nvd"} 8
# HELP bosaimail_security_acknowledgements_valid 1 if the acknowledgement file was read and is valid, 0 if not (the last valid content is still used).
# TYPE bosaimail_security_acknowledgements_valid gauge
bosaimail_security_acknowledgements_valid 1
`

var secRestNames = []string{"bosaimail_security_advisories_acknowledged", "bosaimail_security_advisory_info", "bosaimail_security_advisory_newest_published_timestamp_seconds", "bosaimail_security_known_exploited", "bosaimail_security_feed_entries", "bosaimail_security_acknowledgements_valid"}

func TestSecurityAdvisories(t *testing.T) {
	f := newSecFeeds(t)
	c := newTestAdvisories(t, f, secAcks)
	for _, err := range refreshAll(t, c) {
		if err != nil {
			t.Fatal(err)
		}
	}
	// JVN paged with startItem/maxCountItem; NVD paged with startIndex and
	// sent the API key from the file.
	if got := len(f.requests["/myjvn"]); got != 5 {
		t.Errorf("MyJVN requests = %d, want 5 (2 pages for httpd, 1 per other product)", got)
	}
	for _, k := range f.apiKeys {
		if k != "test-key-123" {
			t.Errorf("NVD apiKey header = %q", k)
		}
	}
	col := collector.Adapt(context.Background(), c)
	if err := testutil.CollectAndCompare(col, strings.NewReader(secWantAdvisories), "bosaimail_security_advisories"); err != nil {
		t.Error(err)
	}
	if err := testutil.CollectAndCompare(col, strings.NewReader(secWantRest), secRestNames...); err != nil {
		t.Error(err)
	}
}

// A feed that fails after a good refresh keeps its last result: advisories
// never drop to zero because a download failed.
func TestSecurityAdvisoriesKeepLastGood(t *testing.T) {
	f := newSecFeeds(t)
	c := newTestAdvisories(t, f, secAcks)
	for _, err := range refreshAll(t, c) {
		if err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		mode       string
		jvn, nvd   string // wanted fetch reasons, "" for success
		kev        string
		retryAfter bool
	}{
		{mode: "jvn-error", jvn: fetch.ReasonPayload},
		{mode: "jvn-empty", jvn: fetch.ReasonPayload},
		{mode: "truncated", jvn: fetch.ReasonDecode, nvd: fetch.ReasonDecode},
		{mode: "html", nvd: fetch.ReasonDecode},
		{mode: "rate-limited", nvd: fetch.ReasonRateLimit, retryAfter: true},
		{mode: "kev-empty", kev: fetch.ReasonPayload},
	}
	col := collector.Adapt(context.Background(), c)
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			f.setMode(tt.mode)
			errs := refreshAll(t, c)
			for i, want := range []string{tt.jvn, tt.nvd, tt.kev} {
				if got := fetch.Reason(errs[i]); got != want {
					t.Errorf("source %d: reason %q (%v), want %q", i, got, errs[i], want)
				}
			}
			var ra *fetch.RetryAfterError
			if tt.retryAfter && (!errors.As(errs[1], &ra) || ra.After != 30*time.Second) {
				t.Errorf("NVD rate limit: Retry-After not honoured: %v", errs[1])
			}
			if err := testutil.CollectAndCompare(col, strings.NewReader(secWantAdvisories), "bosaimail_security_advisories"); err != nil {
				t.Error(err)
			}
			if err := testutil.CollectAndCompare(col, strings.NewReader(secWantRest), secRestNames...); err != nil {
				t.Error(err)
			}
			if n := testutil.CollectAndCount(col, "bosaimail_source_up"); n != 3 {
				t.Errorf("source_up series = %d, want 3", n)
			}
		})
	}
}

// A page over max_body_bytes is a too_large failure, found while streaming.
func TestSecurityAdvisoriesBodyLimit(t *testing.T) {
	f := newSecFeeds(t)
	c := newTestAdvisories(t, f, secAcks)
	c.cfg.Advisories.MaxBodyBytes = 1024
	errs := refreshAll(t, c)
	for i, e := range errs {
		if got := fetch.Reason(e); got != fetch.ReasonTooLarge {
			t.Errorf("source %d: reason %q (%v), want too_large", i, got, e)
		}
	}
}

// Acknowledgements close advisories only through a recorded decision; an
// expired one reopens; a broken file keeps the last valid decisions.
func TestSecurityAcknowledgements(t *testing.T) {
	f := newSecFeeds(t)
	c := newTestAdvisories(t, f, secAcks)
	for _, err := range refreshAll(t, c) {
		if err != nil {
			t.Fatal(err)
		}
	}
	ackPath := c.cfg.Advisories.ResolvedAcknowledgementsFile
	write := func(body string, mod time.Time) {
		if err := os.WriteFile(ackPath, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(ackPath, mod, mod); err != nil {
			t.Fatal(err)
		}
	}
	col := collector.Adapt(context.Background(), c)
	// Acknowledge the httpd CVE by its CVE ID: both the JVN and NVD entries close.
	write(secAcks+`  - {id: CVE-2026-10001, status: mitigated, reason: "WAF でスマグリングを遮断", date: 2026-11-22, expires: 2026-12-01}
`, time.Unix(1, 0))
	want := `
# HELP bosaimail_security_advisories_acknowledged Advisories that apply to a product but are closed by a recorded acknowledgement, by status.
# TYPE bosaimail_security_advisories_acknowledged gauge
bosaimail_security_advisories_acknowledged{product="httpd",status="mitigated"} 2
bosaimail_security_advisories_acknowledged{product="postfix",status="patched"} 2
# HELP bosaimail_security_known_exploited Open advisories of a product whose CVE is in CISA's Known Exploited Vulnerabilities catalog.
# TYPE bosaimail_security_known_exploited gauge
bosaimail_security_known_exploited{product="dovecot"} 1
bosaimail_security_known_exploited{product="httpd"} 0
bosaimail_security_known_exploited{product="postfix"} 0
bosaimail_security_known_exploited{product="rhel"} 0
`
	if err := testutil.CollectAndCompare(col, strings.NewReader(want), "bosaimail_security_advisories_acknowledged", "bosaimail_security_known_exploited"); err != nil {
		t.Error(err)
	}
	// A broken file (missing reason) keeps the decisions above and says so.
	write("acknowledgements:\n  - {id: CVE-2026-10002, status: patched, date: 2026-11-23}\n", time.Unix(2, 0))
	if err := testutil.CollectAndCompare(col, strings.NewReader(want), "bosaimail_security_advisories_acknowledged", "bosaimail_security_known_exploited"); err != nil {
		t.Error(err)
	}
	if err := testutil.CollectAndCompare(col, strings.NewReader(`
# HELP bosaimail_security_acknowledgements_valid 1 if the acknowledgement file was read and is valid, 0 if not (the last valid content is still used).
# TYPE bosaimail_security_acknowledgements_valid gauge
bosaimail_security_acknowledgements_valid 0
`), "bosaimail_security_acknowledgements_valid"); err != nil {
		t.Error(err)
	}
	// After the expiry date the advisory is open again.
	write(secAcks+`  - {id: CVE-2026-10001, status: accepted, reason: "更新まで受容", date: 2026-11-01, expires: 2026-11-20}
`, time.Unix(3, 0))
	if err := testutil.CollectAndCompare(col, strings.NewReader(secWantRest), secRestNames...); err != nil {
		t.Error(err)
	}
}

// Without the NVD, a JVN entry (product-level, no version range) stays
// open; the _info list is bounded by max_listed, most severe first.
func TestSecurityAdvisoriesJVNOnly(t *testing.T) {
	f := newSecFeeds(t)
	cfg := loadSecConfig(t, secInventoryYAML+`
  advisories:
    jvn: {enabled: true, url: "`+f.srv.URL+`/myjvn", page_size: 2, request_interval: 1ms}
    kev: {enabled: true, url: "`+f.srv.URL+`/kev.json"}
    max_listed: 1
`, nil)
	col, err := newSecurityAdvisories(collector.Env{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	c := col.(*securityAdvisories)
	c.client = f.srv.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.jvn.RefreshOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.kev.RefreshOnce(ctx); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP bosaimail_security_advisory_info One series per open critical or high advisory (at most advisories.max_listed, most severe and newest first), for dashboard tables.
# TYPE bosaimail_security_advisory_info gauge
bosaimail_security_advisory_info{id="JVNDB-2026-012345",link="https://jvndb.jvn.jp/ja/contents/2026/JVNDB-2026-012345.html",product="httpd",severity="critical"} 1
# HELP bosaimail_security_known_exploited Open advisories of a product whose CVE is in CISA's Known Exploited Vulnerabilities catalog.
# TYPE bosaimail_security_known_exploited gauge
bosaimail_security_known_exploited{product="dovecot"} 1
bosaimail_security_known_exploited{product="httpd"} 1
bosaimail_security_known_exploited{product="postfix"} 0
bosaimail_security_known_exploited{product="rhel"} 0
`
	pc := collector.Adapt(context.Background(), c)
	if err := testutil.CollectAndCompare(pc, strings.NewReader(want), "bosaimail_security_advisory_info", "bosaimail_security_known_exploited"); err != nil {
		t.Error(err)
	}
	out, err := testutil.CollectAndFormat(pc, expfmt.TypeTextPlain, "bosaimail_security_advisories")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		`bosaimail_security_advisories{product="httpd",severity="high",source="jvn"} 1`,
		`bosaimail_security_advisories{product="postfix",severity="medium",source="jvn"} 1`,
	} {
		if !strings.Contains(string(out), line) {
			t.Errorf("missing %s in\n%s", line, out)
		}
	}
}

// The last good results survive a restart through the state directory, so
// advisory series (and their alerts) do not vanish while the first sweep
// runs or fails; another inventory discards them.
func TestSecurityAdvisoriesStateDir(t *testing.T) {
	f := newSecFeeds(t)
	state := t.TempDir()
	build := func(yml string) *securityAdvisories {
		cfg := loadSecConfig(t, yml+`
  advisories:
    jvn: {enabled: true, url: "`+f.srv.URL+`/myjvn", page_size: 2, request_interval: 1ms}
    nvd: {enabled: true, url: "`+f.srv.URL+`/nvd", page_size: 3, request_interval: 1ms}
    kev: {enabled: true, url: "`+f.srv.URL+`/kev.json"}
    acknowledgements_file: acks.yml
`, map[string]string{"acks.yml": secAcks})
		col, err := newSecurityAdvisories(collector.Env{Config: cfg, StateDir: state})
		if err != nil {
			t.Fatal(err)
		}
		c := col.(*securityAdvisories)
		c.client = f.srv.Client()
		return c
	}
	first := build(secInventoryYAML)
	for _, err := range refreshAll(t, first) {
		if err != nil {
			t.Fatal(err)
		}
	}
	// Restart while the feeds are broken.
	f.setMode("truncated")
	second := build(secInventoryYAML)
	pc := collector.Adapt(context.Background(), second)
	if err := testutil.CollectAndCompare(pc, strings.NewReader(secWantAdvisories), "bosaimail_security_advisories"); err != nil {
		t.Error(err)
	}
	if err := testutil.CollectAndCompare(pc, strings.NewReader(secWantRest), secRestNames...); err != nil {
		t.Error(err)
	}
	out, _ := testutil.CollectAndFormat(pc, expfmt.TypeTextPlain, "bosaimail_source_up", "bosaimail_source_last_success_timestamp_seconds")
	if !strings.Contains(string(out), `bosaimail_source_up{collector="security_advisories",source="nvd"} 0`) || !strings.Contains(string(out), `bosaimail_source_last_success_timestamp_seconds{collector="security_advisories",source="nvd"}`) {
		t.Errorf("restored source should be down with its age:\n%s", out)
	}
	// The failing sweep keeps the restored result.
	refreshAll(t, second)
	if err := testutil.CollectAndCompare(pc, strings.NewReader(secWantAdvisories), "bosaimail_security_advisories"); err != nil {
		t.Error(err)
	}
	// Another inventory: the saved JVN/NVD results do not apply.
	third := build(strings.Replace(secInventoryYAML, "2.4.58", "2.4.59", 2))
	if n := testutil.CollectAndCount(collector.Adapt(context.Background(), third), "bosaimail_security_advisories"); n != 0 {
		t.Errorf("results for another inventory restored: %d series", n)
	}
}

// A paged feed whose total changes between pages is read again from its
// first page; if it keeps moving, the refresh fails (the last good result
// stays) instead of mixing two states of the feed.
func TestSecurityAdvisoriesTotalMovesBetweenPages(t *testing.T) {
	f := newSecFeeds(t)
	cfg := loadSecConfig(t, secInventoryYAML+`
  advisories:
    nvd: {enabled: true, url: "`+f.srv.URL+`/nvd", page_size: 3, request_interval: 1ms}
`, nil)
	c, err := newSecurityAdvisories(collector.Env{Config: cfg, StateDir: t.TempDir(), Now: func() time.Time { return time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	sa := c.(*securityAdvisories)
	sa.client = f.srv.Client()
	ctx := context.Background()

	f.setMode("moved-once")
	if err := sa.nvd.RefreshOnce(ctx); err != nil {
		t.Fatalf("a total that moved once: %v, want the product read again", err)
	}
	good, _ := sa.nvd.Snapshot()
	f.mu.Lock()
	var firstPages int
	for _, q := range f.requests["/nvd"] {
		if strings.Contains(q, "apache%3Ahttp_server") && strings.Contains(q, "startIndex=0") {
			firstPages++
		}
	}
	f.mu.Unlock()
	if firstPages != 2 {
		t.Errorf("first page of the moved product read %d times, want 2", firstPages)
	}
	f.setMode("")
	if err := sa.nvd.RefreshOnce(ctx); err != nil {
		t.Fatal(err)
	}
	steady, _ := sa.nvd.Snapshot()
	if len(good.Matched) != len(steady.Matched) {
		t.Errorf("after a re-read %d matches, a steady feed %d", len(good.Matched), len(steady.Matched))
	}

	f.setMode("moving")
	err = sa.nvd.RefreshOnce(ctx)
	if err == nil || fetch.Reason(err) != fetch.ReasonPayload || !strings.Contains(err.Error(), "changed between pages") {
		t.Fatalf("a total that keeps moving: %v", err)
	}
	if kept, _ := sa.nvd.Snapshot(); len(kept.Matched) != len(steady.Matched) {
		t.Error("the last good result was not kept")
	}
}
