package probe

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/bosaimail/bosaimail_exporter/collector"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bosaimail/bosaimail_exporter/config"
	"github.com/bosaimail/bosaimail_exporter/internal/testkit/testcerts"
)

// benchChecks measures one scrape's worth of checks: the collector's own
// work plus the checks, without the HTTP exposition.
func benchChecks(b *testing.B, yml string) {
	cfg, err := config.Parse("bench.yml", []byte(yml))
	if err != nil {
		b.Fatal(err)
	}
	c, err := newChecksCollector(collector.Env{Config: cfg})
	if err != nil {
		b.Fatal(err)
	}
	ch := make(chan prometheus.Metric, 1024)
	done := make(chan struct{})
	go func() {
		for range ch {
		}
		close(done)
	}()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := c.Update(ctx, ch); err != nil {
			b.Fatal(err)
		}
		cancel()
	}
	b.StopTimer()
	close(ch)
	<-done
}

func BenchmarkHTTPCheck(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, `{"status":"ok"}`) }))
	defer srv.Close()
	benchChecks(b, fmt.Sprintf(`services: [{name: s, checks: [{name: c, kind: http, http: {url: %q, expect_json: ['.status == "ok"']}}]}]`, srv.URL))
}

func BenchmarkHTTPSCheck(b *testing.B) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }))
	defer srv.Close()
	benchChecks(b, fmt.Sprintf(`services: [{name: s, checks: [{name: c, kind: http, http: {url: %q, tls_config: {insecure_skip_verify: true}}}]}]`, srv.URL))
}

// BenchmarkHTTPSCheckVerified verifies the served chain against a CA file,
// as a production check does (a full handshake each time).
func BenchmarkHTTPSCheckVerified(b *testing.B) {
	ca, err := testcerts.NewCA()
	if err != nil {
		b.Fatal(err)
	}
	leaf, err := ca.Leaf([]string{"127.0.0.1"}, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil {
		b.Fatal(err)
	}
	caFile, err := ca.WriteCAFile(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{leaf}, SessionTicketsDisabled: true}
	srv.StartTLS()
	defer srv.Close()
	benchChecks(b, fmt.Sprintf(`services: [{name: s, checks: [{name: c, kind: http, http: {url: %q, tls_config: {ca_file: %q}}}]}]`, srv.URL, caFile))
}

func BenchmarkTCPCheck(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	benchChecks(b, fmt.Sprintf(`services: [{name: s, checks: [{name: c, kind: tcp, tcp: {address: %q}}]}]`, srv.Listener.Addr().String()))
}
