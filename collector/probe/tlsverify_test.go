package probe

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bosaimail/bosaimail_exporter/collector"
	"github.com/bosaimail/bosaimail_exporter/internal/testkit/testcerts"
)

func parsedChain(t *testing.T, c tls.Certificate) []*x509.Certificate {
	t.Helper()
	var out []*x509.Certificate
	for _, der := range c.Certificate {
		x, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, x)
	}
	return out
}

// A chain verified once is not verified again for the same name and
// roots, but its validity dates are checked on every use, and anything
// else (name, roots, another chain) is a full verification.
func TestChainMemo(t *testing.T) {
	ca, err := testcerts.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	other, err := testcerts.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	notAfter := now.Add(24 * time.Hour)
	leaf, err := ca.Leaf([]string{"mail.example.jp"}, now.Add(-time.Hour), notAfter)
	if err != nil {
		t.Fatal(err)
	}
	leaf2, err := ca.Leaf([]string{"mail.example.jp"}, now.Add(-time.Hour), notAfter)
	if err != nil {
		t.Fatal(err)
	}
	chain, chain2 := parsedChain(t, leaf), parsedChain(t, leaf2)
	roots := ca.Pool()
	m := &ChainMemo{}
	step := func(name string, certs []*x509.Certificate, host string, pool *x509.CertPool, at time.Time, wantErr string, wantFull int64) {
		t.Helper()
		before := m.full.Load()
		err := m.verify(certs, host, pool, at)
		switch {
		case wantErr == "" && err != nil:
			t.Errorf("%s: %v", name, err)
		case wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)):
			t.Errorf("%s: err = %v, want %q", name, err, wantErr)
		}
		if wantErr != "" {
			var ve *tls.CertificateVerificationError
			if !errors.As(err, &ve) {
				t.Errorf("%s: %T is not a tls.CertificateVerificationError", name, err)
			}
		}
		if got := m.full.Load() - before; got != wantFull {
			t.Errorf("%s: %d full verifications, want %d", name, got, wantFull)
		}
	}
	step("first sight", chain, "mail.example.jp", roots, now, "", 1)
	for i := range 5 {
		step(fmt.Sprintf("again %d", i), chain, "mail.example.jp", roots, now.Add(time.Duration(i)*time.Hour), "", 0)
	}
	step("after the leaf expired", chain, "mail.example.jp", roots, notAfter.Add(time.Second), "expired", 1)
	step("before the leaf is valid", chain, "mail.example.jp", roots, now.Add(-2*time.Hour), "expired or is not yet valid", 1)
	step("valid again", chain, "mail.example.jp", roots, now, "", 1)
	step("another name", chain, "www.example.jp", roots, now, "valid for mail.example.jp, not www.example.jp", 1)
	step("another name again", chain, "www.example.jp", roots, now, "valid for mail.example.jp, not www.example.jp", 1)
	step("other roots", chain, "mail.example.jp", other.Pool(), now, "unknown authority", 1)
	step("another leaf for the name", chain2, "mail.example.jp", roots, now, "", 1)
	step("leaf without its intermediates", chain[:1], "mail.example.jp", roots, now, "", 1)
	step("no certificate", nil, "mail.example.jp", roots, now, "no certificate", 0)
}

// Through real handshakes: repeated https checks of one server verify its
// chain once, through the memo their exporter's State owns, and the
// certificate served is still read every time.
func TestHTTPSChecksReuseVerifiedChain(t *testing.T) {
	fx := newTLSFixture(t)
	srv := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }), fx.good)
	yml := fmt.Sprintf(`services: [{name: s, checks: [{name: c, kind: http, http: {url: %q, tls_config: {ca_file: %q}}}]}]`, srv.URL, fx.caFile)
	st := collector.NewState(nil)
	t.Cleanup(st.Close)
	memo := SharedChainMemo(collector.Env{State: st})
	reg := runChecksIn(t, st, yml, 30*time.Second)
	for i := range 3 {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		up, notAfter := -1.0, 0.0
		for _, mf := range mfs {
			switch mf.GetName() {
			case "bosaimail_check_up":
				up = mf.GetMetric()[0].GetGauge().GetValue()
			case "bosaimail_check_tls_not_after_timestamp_seconds":
				notAfter = mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		if up != 1 || notAfter != float64(certNotAfter.Unix()) {
			t.Fatalf("scrape %d: up %v, not after %v", i, up, notAfter)
		}
	}
	// The State's memo is new: one full verification in all, none if the
	// checks verified through a memo of their own.
	if got := memo.full.Load(); got != 1 {
		t.Errorf("%d full verifications over 3 scrapes, want 1", got)
	}
}
