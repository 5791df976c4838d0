package probe

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bosaimail/bosaimail_exporter/internal/testkit/collectortest"

	"github.com/bosaimail/bosaimail_exporter/collector"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/bosaimail/bosaimail_exporter/config"
	"github.com/bosaimail/bosaimail_exporter/internal/testkit/testcerts"
)

// The metrics whose values are deterministic; durations are not compared.
var checkGoldenNames = []string{
	"bosaimail_check_up", "bosaimail_check_http_status_code",
	"bosaimail_check_tls_not_after_timestamp_seconds", "bosaimail_check_failures_total",
}

var certNotAfter = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

type tlsFixture struct {
	dir    string
	caFile string
	good   tls.Certificate
	expiry tls.Certificate
	other  tls.Certificate
}

func newTLSFixture(t *testing.T) *tlsFixture {
	t.Helper()
	ca, err := testcerts.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	f := &tlsFixture{dir: t.TempDir()}
	if f.caFile, err = ca.WriteCAFile(f.dir); err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-48 * time.Hour)
	if f.good, err = ca.Leaf([]string{"127.0.0.1", "localhost"}, past, certNotAfter); err != nil {
		t.Fatal(err)
	}
	if f.expiry, err = ca.Leaf([]string{"127.0.0.1"}, past, time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if f.other, err = ca.Leaf([]string{"mail.example.jp"}, past, certNotAfter); err != nil {
		t.Fatal(err)
	}
	return f
}

func tlsServer(t *testing.T, h http.Handler, cert tls.Certificate) *httptest.Server {
	t.Helper()
	s := httptest.NewUnstartedServer(h)
	s.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

// hangingListener accepts connections and never answers.
func hangingListener(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

func runChecks(t *testing.T, yml string, timeout time.Duration) *prometheus.Registry {
	t.Helper()
	return runChecksIn(t, nil, yml, timeout)
}

// runChecksIn builds the checks collector as an exporter whose State is st
// does (nil: none, as a collector built directly).
func runChecksIn(t *testing.T, st *collector.State, yml string, timeout time.Duration) *prometheus.Registry {
	t.Helper()
	cfg, err := config.Parse("test.yml", []byte(yml))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	c, err := newChecksCollector(collector.Env{Config: cfg, State: st})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collector.Adapt(ctx, c))
	return reg
}

func TestHTTPAndTCPChecks(t *testing.T) {
	fx := newTLSFixture(t)
	okJSON := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"ok","queue":{"depth":3},"version":"2.4.1"}`)
	}))
	defer okJSON.Close()
	fail500 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "内部エラー", http.StatusInternalServerError)
	}))
	defer fail500.Close()
	redirect := httptest.NewServer(http.RedirectHandler("/elsewhere", http.StatusFound))
	defer redirect.Close()
	huge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, 1<<20)
		for i := 0; i < 100; i++ { // 100 MB if anyone read it all
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer huge.Close()
	midClose := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "partial")
		hj, _ := w.(http.Hijacker)
		conn, _, _ := hj.Hijack()
		conn.Close()
	}))
	defer midClose.Close()
	good := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }), fx.good)
	expired := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), fx.expiry)
	wrongHost := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), fx.other)
	hang := hangingListener(t)
	closedPort := func() string {
		l, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := l.Addr().String()
		l.Close()
		return addr
	}()

	cases := []struct {
		name, checks, want string
	}{
		{
			name:   "json ok",
			checks: fmt.Sprintf(`{name: c, kind: http, http: {url: %q, expect_json: ['.status == "ok"', '.queue.depth < 100'], fail_if_body_not_matches_regexp: ['"version"']}}`, okJSON.URL),
			want: `
# HELP bosaimail_check_http_status_code HTTP status code of the latest run of an http check (0 if no answer).
# TYPE bosaimail_check_http_status_code gauge
bosaimail_check_http_status_code{check="c",service="s"} 200
# HELP bosaimail_check_up 1 if the latest run of a configured check succeeded, 0 if it failed. critical="true" checks decide whether the service is up.
# TYPE bosaimail_check_up gauge
bosaimail_check_up{check="c",critical="true",kind="http",service="s"} 1
`,
		},
		{
			name:   "json expectation false",
			checks: fmt.Sprintf(`{name: c, kind: http, critical: false, http: {url: %q, expect_json: ['.status == "degraded"']}}`, okJSON.URL),
			want: `
bosaimail_check_failures_total{check="c",reason="body",service="s"} 1
bosaimail_check_http_status_code{check="c",service="s"} 200
bosaimail_check_up{check="c",critical="false",kind="http",service="s"} 0
`,
		},
		{
			name:   "status 500",
			checks: fmt.Sprintf(`{name: c, kind: http, http: {url: %q}}`, fail500.URL),
			want: `
bosaimail_check_failures_total{check="c",reason="status",service="s"} 1
bosaimail_check_http_status_code{check="c",service="s"} 500
bosaimail_check_up{check="c",critical="true",kind="http",service="s"} 0
`,
		},
		{
			name:   "redirect not followed but expected",
			checks: fmt.Sprintf(`{name: c, kind: http, http: {url: %q, follow_redirects: false, valid_status_codes: [302]}}`, redirect.URL),
			want: `
bosaimail_check_http_status_code{check="c",service="s"} 302
bosaimail_check_up{check="c",critical="true",kind="http",service="s"} 1
`,
		},
		{
			name:   "100 MB body is cut at the bound",
			checks: fmt.Sprintf(`{name: c, kind: http, http: {url: %q, max_body_bytes: 65536}}`, huge.URL),
			want: `
bosaimail_check_failures_total{check="c",reason="body",service="s"} 1
bosaimail_check_http_status_code{check="c",service="s"} 200
bosaimail_check_up{check="c",critical="true",kind="http",service="s"} 0
`,
		},
		{
			name:   "connection closed mid-response",
			checks: fmt.Sprintf(`{name: c, kind: http, http: {url: %q}}`, midClose.URL),
			want: `
bosaimail_check_failures_total{check="c",reason="other",service="s"} 1
bosaimail_check_http_status_code{check="c",service="s"} 200
bosaimail_check_up{check="c",critical="true",kind="http",service="s"} 0
`,
		},
		{
			name:   "https valid leaf",
			checks: fmt.Sprintf(`{name: c, kind: http, http: {url: %q, tls_config: {ca_file: %q}}}`, good.URL, fx.caFile),
			want: fmt.Sprintf(`
bosaimail_check_http_status_code{check="c",service="s"} 200
bosaimail_check_tls_not_after_timestamp_seconds{check="c",kind="http",service="s"} %d
bosaimail_check_up{check="c",critical="true",kind="http",service="s"} 1
`, certNotAfter.Unix()),
		},
		{
			name:   "https expired",
			checks: fmt.Sprintf(`{name: c, kind: http, http: {url: %q, tls_config: {ca_file: %q}}}`, expired.URL, fx.caFile),
			want: `
bosaimail_check_failures_total{check="c",reason="tls",service="s"} 1
bosaimail_check_http_status_code{check="c",service="s"} 0
bosaimail_check_up{check="c",critical="true",kind="http",service="s"} 0
`,
		},
		{
			name:   "https wrong host",
			checks: fmt.Sprintf(`{name: c, kind: http, http: {url: %q, tls_config: {ca_file: %q}}}`, wrongHost.URL, fx.caFile),
			want: `
bosaimail_check_failures_total{check="c",reason="tls",service="s"} 1
bosaimail_check_http_status_code{check="c",service="s"} 0
bosaimail_check_up{check="c",critical="true",kind="http",service="s"} 0
`,
		},
		{
			name:   "http server that never answers",
			checks: fmt.Sprintf(`{name: c, kind: http, timeout: 300ms, http: {url: "http://%s/"}}`, hang),
			want: `
bosaimail_check_failures_total{check="c",reason="timeout",service="s"} 1
bosaimail_check_http_status_code{check="c",service="s"} 0
bosaimail_check_up{check="c",critical="true",kind="http",service="s"} 0
`,
		},
		{
			name:   "tcp refused",
			checks: fmt.Sprintf(`{name: c, kind: tcp, tcp: {address: %q}}`, closedPort),
			want: `
bosaimail_check_failures_total{check="c",reason="connect",service="s"} 1
bosaimail_check_up{check="c",critical="true",kind="tcp",service="s"} 0
`,
		},
		{
			name:   "tcp tls valid",
			checks: fmt.Sprintf(`{name: c, kind: tcp, tcp: {address: %q, tls: true, tls_config: {ca_file: %q}}}`, good.Listener.Addr().String(), fx.caFile),
			want: fmt.Sprintf(`
bosaimail_check_tls_not_after_timestamp_seconds{check="c",kind="tcp",service="s"} %d
bosaimail_check_up{check="c",critical="true",kind="tcp",service="s"} 1
`, certNotAfter.Unix()),
		},
		{
			name:   "tcp tls handshake never completes",
			checks: fmt.Sprintf(`{name: c, kind: tcp, timeout: 300ms, tcp: {address: %q, tls: true}}`, hang),
			want: `
bosaimail_check_failures_total{check="c",reason="timeout",service="s"} 1
bosaimail_check_up{check="c",critical="true",kind="tcp",service="s"} 0
`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reg := runChecks(t, "services: [{name: s, checks: ["+tc.checks+"]}]", 5*time.Second)
			want := tc.want
			if !strings.Contains(want, "# HELP") {
				want = collectortest.WithHelp(want)
			}
			if err := testutil.GatherAndCompare(reg, strings.NewReader(want), checkGoldenNames...); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestChecksRespectScrapeDeadline: a scrape deadline shorter than a check's
// own timeout wins, and every check still reports.
func TestChecksRespectScrapeDeadline(t *testing.T) {
	hang := hangingListener(t)
	var checks []string
	for i := 0; i < 20; i++ {
		checks = append(checks, fmt.Sprintf(`{name: c%d, kind: http, timeout: 60s, http: {url: "http://%s/"}}`, i, hang))
	}
	reg := runChecks(t, "services: [{name: s, checks: ["+strings.Join(checks, ",")+"]}]", 400*time.Millisecond)
	begin := time.Now()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(begin); elapsed > 30*time.Second {
		t.Fatalf("gather did not stop at the deadline: %v", elapsed) // generous: catches a hang, not slowness
	}
	ups := 0
	for _, mf := range mfs {
		if mf.GetName() == "bosaimail_check_up" {
			for _, m := range mf.GetMetric() {
				ups++
				if m.GetGauge().GetValue() != 0 {
					t.Errorf("hanging check reported up")
				}
			}
		}
	}
	if ups != 20 {
		t.Fatalf("want 20 check_up series, got %d", ups)
	}
}

func TestHTTPCredentialsFromFiles(t *testing.T) {
	dir := t.TempDir()
	tok := filepath.Join(dir, "token")
	if err := os.WriteFile(tok, []byte("s3cret-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer s3cret-token" || r.Header.Get("X-Tenant") != "pref" {
			http.Error(w, "denied", http.StatusUnauthorized)
		}
	}))
	defer srv.Close()
	reg := runChecks(t, fmt.Sprintf(`services: [{name: s, checks: [{name: c, kind: http, http: {url: %q, bearer_token_file: %q, headers: {X-Tenant: pref}}}]}]`, srv.URL, tok), 5*time.Second)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(collectortest.WithHelp(`bosaimail_check_up{check="c",critical="true",kind="http",service="s"} 1
`)), "bosaimail_check_up"); err != nil {
		t.Error(err)
	}
}

// The one rule for secrets: a relative *_file is the config file's
// directory's (not the process's working directory), it must be readable
// when the config is loaded, and it is read at each use, so a rotated
// password works at the next scrape without a reload.
func TestHTTPSecretFilesRelativeToConfigAndRotated(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("pw", "first-password\n")
	write("token", "first-token\n")
	want := map[string]string{"/basic": "first-password", "/bearer": "first-token"}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if _, pw, ok := r.BasicAuth(); ok {
			got = pw
		}
		if got != want[r.URL.Path] {
			http.Error(w, "denied", http.StatusUnauthorized)
		}
	}))
	defer srv.Close()
	yml := fmt.Sprintf(`services: [{name: s, checks: [
  {name: basic, kind: http, http: {url: "%[1]s/basic", basic_auth: {username: monitor, password_file: pw}}},
  {name: bearer, kind: http, http: {url: "%[1]s/bearer", bearer_token_file: token}}]}]`, srv.URL)
	cfgPath := filepath.Join(dir, "bosaimail.yml")
	write("bosaimail.yml", yml)
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	c, err := newChecksCollector(collector.Env{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	check := func(up string) {
		t.Helper()
		if err := testutil.CollectAndCompare(collectortest.Bounded(c, 5*time.Second), strings.NewReader(collectortest.WithHelp(fmt.Sprintf(`bosaimail_check_up{check="basic",critical="true",kind="http",service="s"} %[1]s
bosaimail_check_up{check="bearer",critical="true",kind="http",service="s"} %[1]s
`, up))), "bosaimail_check_up"); err != nil {
			t.Error(err)
		}
	}
	check("1")
	// Rotated on disk and at the server: no reload needed.
	write("pw", "second-password\n")
	write("token", "second-token\n")
	want = map[string]string{"/basic": "second-password", "/bearer": "second-token"}
	check("1")

	// Unreadable at load: the config is refused, naming the key and path.
	os.Remove(filepath.Join(dir, "pw"))
	_, err = config.Load(cfgPath)
	if err == nil || !strings.Contains(err.Error(), "basic_auth.password_file") || !strings.Contains(err.Error(), filepath.Join(dir, "pw")) {
		t.Errorf("config with a missing password file: %v", err)
	}
}
