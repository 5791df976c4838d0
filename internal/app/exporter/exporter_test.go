package exporter

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	_ "github.com/bosaimail/bosaimail_exporter/collector/all"
	"github.com/bosaimail/bosaimail_exporter/internal/testkit/testbin"
)

func writeConfig(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

func doScrape(t *testing.T, e *Exporter, timeoutHeader string) string {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	if timeoutHeader != "" {
		req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", timeoutHeader)
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape status %d: %s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

func newExporter(t *testing.T, cfgPath string) *Exporter {
	t.Helper()
	e, err := New(Options{ConfigFile: cfgPath, StateDir: t.TempDir(), Collectors: []string{"checks"}, Static: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

func TestReloadKeepsOldConfigOnError(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer up.Close()
	p := filepath.Join(t.TempDir(), "bosaimail.yml")
	writeConfig(t, p, fmt.Sprintf("services: [{name: delivery, checks: [{name: web, kind: http, http: {url: %q}}]}]\n", up.URL))
	e := newExporter(t, p)
	out := doScrape(t, e, "")
	if !strings.Contains(out, `bosaimail_check_up{check="web",critical="true",kind="http",service="delivery"} 1`) ||
		!strings.Contains(out, "bosaimail_config_last_reload_successful 1") {
		t.Fatalf("first scrape:\n%s", out)
	}

	writeConfig(t, p, "services: [{name: delivery, checks: [{name: web, kind: htp}]}]\n")
	if err := e.Reload(); err == nil || !strings.Contains(err.Error(), "bosaimail.yml:1:") {
		t.Fatalf("bad config accepted or error without location: %v", err)
	}
	out = doScrape(t, e, "")
	if !strings.Contains(out, `bosaimail_check_up{check="web",critical="true",kind="http",service="delivery"} 1`) ||
		!strings.Contains(out, "bosaimail_config_last_reload_successful 0") {
		t.Fatalf("old config not kept after failed reload:\n%s", out)
	}

	writeConfig(t, p, fmt.Sprintf("services: [{name: registration, checks: [{name: web, kind: http, http: {url: %q}}]}]\n", up.URL))
	if err := e.Reload(); err != nil {
		t.Fatal(err)
	}
	out = doScrape(t, e, "")
	if !strings.Contains(out, `service="registration"`) || strings.Contains(out, `service="delivery"`) ||
		!strings.Contains(out, "bosaimail_config_last_reload_successful 1") {
		t.Fatalf("new config not applied:\n%s", out)
	}
}

func TestScrapeTimeout(t *testing.T) {
	e := &Exporter{opts: Options{TimeoutOffset: 500 * time.Millisecond, DefaultTimeout: 10 * time.Second, MaxTimeout: 120 * time.Second}}
	cases := map[string]time.Duration{
		"":     9500 * time.Millisecond,
		"15":   14500 * time.Millisecond,
		"0.4":  200 * time.Millisecond, // offset larger than the timeout: half of it
		"abc":  9500 * time.Millisecond,
		"-3":   9500 * time.Millisecond,
		"9999": 119500 * time.Millisecond,
	}
	for h, want := range cases {
		hdr := http.Header{}
		if h != "" {
			hdr.Set("X-Prometheus-Scrape-Timeout-Seconds", h)
		}
		if got := e.ScrapeTimeout(hdr); got != want {
			t.Errorf("header %q: got %v, want %v", h, got, want)
		}
	}
}

// TestScrapeHonoursPrometheusTimeout: checks whose own timeout is long are
// cut at the deadline Prometheus announced, and reported down.
func TestScrapeHonoursPrometheusTimeout(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	p := filepath.Join(t.TempDir(), "bosaimail.yml")
	writeConfig(t, p, fmt.Sprintf("services: [{name: delivery, checks: [{name: web, kind: http, timeout: 5m, http: {url: 'http://%s/'}}]}]\n", l.Addr()))
	e := newExporter(t, p)
	out := doScrape(t, e, "1")
	if !strings.Contains(out, `bosaimail_check_up{check="web",critical="true",kind="http",service="delivery"} 0`) ||
		!strings.Contains(out, `bosaimail_check_failures_total{check="web",reason="timeout",service="delivery"} 1`) {
		t.Fatalf("hanging check not reported as timeout:\n%s", out)
	}
}

// TestPromtoolCheckMetrics runs the real promtool over a real scrape.
func TestPromtoolCheckMetrics(t *testing.T) {
	promtool := testbin.Path(t, "promtool")
	up := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, `{"status":"ok"}`) }))
	defer up.Close()
	p := filepath.Join(t.TempDir(), "bosaimail.yml")
	writeConfig(t, p, fmt.Sprintf(`services:
  - name: delivery
    checks:
      - {name: web, kind: http, http: {url: %q, tls_config: {insecure_skip_verify: true}, expect_json: ['.status == "ok"']}}
      - {name: web-down, kind: tcp, critical: false, tcp: {address: "127.0.0.1:1"}}
`, up.URL))
	static := prometheus.NewRegistry()
	e, err := New(Options{ConfigFile: p, StateDir: t.TempDir(), Collectors: []string{"checks"}, Static: static})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	out := doScrape(t, e, "5")
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(out)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil || strings.TrimSpace(stderr.String()) != "" {
		t.Fatalf("promtool check metrics: %v\n%s\n--- scrape ---\n%s", err, stderr.String(), out)
	}
}

// TestMaxRequests: with --web.max-requests 1, a scrape that arrives while
// another is still running its checks is answered 503 and counted; the next
// one after it is served again.
func TestMaxRequests(t *testing.T) {
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case entered <- struct{}{}:
		default:
		}
		<-release
	}))
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	defer slow.Close()
	defer unblock() // before slow.Close, which waits for handlers
	p := filepath.Join(t.TempDir(), "bosaimail.yml")
	writeConfig(t, p, fmt.Sprintf("services: [{name: delivery, checks: [{name: web, kind: http, http: {url: %q}}]}]\n", slow.URL))
	static := prometheus.NewRegistry()
	e, err := New(Options{ConfigFile: p, StateDir: t.TempDir(), Collectors: []string{"checks"}, Static: static, MaxRequests: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)

	first := make(chan string)
	go func() {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		first <- fmt.Sprint(rec.Code)
	}()
	<-entered // the first scrape is inside its check
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "--web.max-requests") {
		t.Fatalf("second scrape: %d %s", rec.Code, rec.Body)
	}
	unblock() // let the first check answer
	if code := <-first; code != "200" {
		t.Fatalf("first scrape: %s", code)
	}
	out := doScrape(t, e, "")
	if !strings.Contains(out, "bosaimail_exporter_scrapes_rejected_total 1") {
		t.Fatalf("rejection not counted:\n%s", out)
	}
}
