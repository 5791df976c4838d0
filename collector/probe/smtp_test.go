package probe

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bosaimail/bosaimail_exporter/internal/testkit/collectortest"

	"github.com/bosaimail/bosaimail_exporter/collector"

	"github.com/emersion/go-smtp"
	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/bosaimail/bosaimail_exporter/internal/testkit/mailtest"
)

// goSMTPServer runs an in-process go-smtp server (a real SMTP server
// implementation) for TLS variants mailpit cannot be bent into.
func goSMTPServer(t testing.TB, tlsConf *tls.Config, implicit bool) string {
	t.Helper()
	s := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return nopSession{}, nil }))
	s.Domain = "localhost"
	s.TLSConfig = tlsConf
	s.ReadTimeout, s.WriteTimeout = 10*time.Second, 10*time.Second
	var l net.Listener
	var err error
	if implicit {
		l, err = tls.Listen("tcp", "127.0.0.1:0", tlsConf)
	} else {
		l, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	return l.Addr().String()
}

type nopSession struct{}

func (nopSession) Reset()                               {}
func (nopSession) Logout() error                        { return nil }
func (nopSession) Mail(string, *smtp.MailOptions) error { return nil }
func (nopSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (nopSession) Data(r io.Reader) error               { _, err := io.Copy(io.Discard, r); return err }

func TestProbeSMTP(t *testing.T) {
	t.Parallel()
	valid := mailtest.ValidCert(t)
	expired := mailtest.NewCert(t, time.Now().Add(-60*24*time.Hour), time.Now().Add(-24*time.Hour), "127.0.0.1", "localhost")
	wrongHost := mailtest.NewCert(t, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour), "mail.example.jp")
	caFile := mailtest.CAFile(t, valid)

	plain := mailtest.StartMailpit(t, mailtest.MailpitOptions{AllowedRecipients: `^box@example\.jp$`})
	secure := mailtest.StartMailpit(t, mailtest.MailpitOptions{Cert: valid, SMTPAuth: true})
	badPW := filepath.Join(t.TempDir(), "bad")
	os.WriteFile(badPW, []byte("wrong"), 0o600)

	expiredAddr := goSMTPServer(t, mailtest.ServerTLS(expired), false)
	wrongHostAddr := goSMTPServer(t, mailtest.ServerTLS(wrongHost), false)
	implicitAddr := goSMTPServer(t, mailtest.ServerTLS(valid), true)
	// One memo for the table, as one exporter's checks share theirs.
	chains := &ChainMemo{}

	greet554 := mailtest.ScriptedServer(t, func(c net.Conn) {
		mailtest.Lines(c, "554 5.7.1 no service for you")
	})
	dropAfterEHLO := mailtest.ScriptedServer(t, func(c net.Conn) {
		mailtest.Lines(c, "220 mx.example.jp ESMTP")
		bufio.NewReader(c).ReadString('\n')
	})
	stall := mailtest.ScriptedServer(t, func(c net.Conn) {
		mailtest.Lines(c, "220 mx.example.jp ESMTP")
		io.Copy(io.Discard, c) // reads EHLO, never answers
	})
	endless := mailtest.ScriptedServer(t, func(c net.Conn) {
		// A multi-line greeting that never ends: each line is short, so
		// only the dialog's byte bound stops it.
		line := []byte(strings.Repeat("220-mx.example.jp ESMTP\r\n", 1000))
		for {
			if _, err := c.Write(line); err != nil {
				return
			}
		}
	})
	refused := mailtest.FreePort(t)

	for _, tc := range []struct {
		name     string
		yaml     string
		reason   string // "" = up
		phases   []string
		notAfter time.Time
	}{
		{
			name:   "plain dialog up",
			yaml:   "smtp: {address: {plain}, tls: none, require_extensions: [SIZE]}",
			phases: []string{"connect", "banner", "ehlo", "quit"},
		},
		{
			name:   "envelope accepted",
			yaml:   "smtp: {address: {plain}, tls: none, mail_from: canary@example.jp, rcpt_to: [box@example.jp]}",
			phases: []string{"connect", "banner", "ehlo", "envelope", "quit"},
		},
		{
			name:   "recipient rejected",
			yaml:   "smtp: {address: {plain}, tls: none, mail_from: canary@example.jp, rcpt_to: [other@example.jp]}",
			reason: ReasonRcpt,
		},
		{
			name:   "missing extension",
			yaml:   "smtp: {address: {plain}, tls: none, require_extensions: [X-NOPE]}",
			reason: ReasonExtension,
		},
		{
			name:   "starttls required but not offered",
			yaml:   "smtp: {address: {plain}, tls: starttls}",
			reason: ReasonStartTLS,
		},
		{
			name:     "starttls with auth and envelope up",
			yaml:     "smtp: {address: {secure}, tls: starttls, tls_config: {ca_file: {ca}}, require_extensions: [AUTH], auth: {username: canary, password_file: {pw}}, mail_from: canary@example.jp, rcpt_to: [box@example.jp]}",
			phases:   []string{"connect", "banner", "ehlo", "starttls", "auth", "envelope", "quit"},
			notAfter: valid.Leaf.NotAfter,
		},
		{
			name:   "SIZE below min_message_size",
			yaml:   "smtp: {address: {plain}, tls: none, min_message_size: 1000000000}",
			reason: ReasonExtension,
		},
		{
			name:   "AUTH LOGIN up",
			yaml:   "smtp: {address: {secure}, tls: starttls, tls_config: {ca_file: {ca}}, auth: {username: canary, password_file: {pw}, mechanism: login}}",
			phases: []string{"connect", "banner", "ehlo", "starttls", "auth", "quit"},
		},
		{
			name:   "wrong password",
			yaml:   "smtp: {address: {secure}, tls: starttls, tls_config: {ca_file: {ca}}, auth: {username: canary, password_file: {badpw}}}",
			reason: ReasonAuth,
		},
		{
			name:   "expired certificate after STARTTLS",
			yaml:   "smtp: {address: {expired}, tls: starttls, tls_config: {ca_file: {ca}}}",
			reason: ReasonTLS,
		},
		{
			name:   "certificate for another host",
			yaml:   "smtp: {address: {wronghost}, tls: starttls, tls_config: {ca_file: {ca}}}",
			reason: ReasonTLS,
		},
		{
			name:     "implicit TLS up",
			yaml:     "smtp: {address: {implicit}, tls: implicit, tls_config: {ca_file: {ca}}}",
			phases:   []string{"connect", "tls", "banner", "ehlo", "quit"},
			notAfter: valid.Leaf.NotAfter,
		},
		{
			name:   "greeting 554",
			yaml:   "smtp: {address: {greet554}, tls: none}",
			reason: ReasonBanner,
		},
		{
			name:   "connection dropped after EHLO",
			yaml:   "smtp: {address: {drop}, tls: none}",
			reason: ReasonEHLO,
		},
		{
			name:   "server stalls mid-dialog",
			yaml:   "timeout: 500ms\nsmtp: {address: {stall}, tls: none}",
			reason: ReasonTimeout,
		},
		{
			name:   "connection refused",
			yaml:   "smtp: {address: {refused}, tls: none}",
			reason: ReasonConnect,
		},
		{
			// Cut at the dialog's byte bound long before the deadline.
			name:   "multi-line greeting that never ends",
			yaml:   "timeout: 30s\nsmtp: {address: {endless}, tls: none}",
			reason: ReasonBanner,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			body := strings.NewReplacer("{plain}", plain.SMTP, "{secure}", secure.SMTP, "{ca}", caFile,
				"{pw}", secure.PasswordFile, "{badpw}", badPW, "{expired}", expiredAddr, "{wronghost}", wrongHostAddr,
				"{implicit}", implicitAddr, "{greet554}", greet554, "{drop}", dropAfterEHLO, "{stall}", stall,
				"{refused}", refused, "{endless}", endless).Replace(tc.yaml)
			cfg := collectortest.ChecksConfig(t, "name: smtp\nkind: smtp\n"+body)
			chk := &cfg.Services[0].Checks[0]
			ctx, cancel := context.WithTimeout(context.Background(), chk.Timeout.D())
			defer cancel()
			res := &Result{}
			start := time.Now()
			err := runProbe(ctx, probeSMTP, chk, res, chains)
			elapsed := time.Since(start)
			if elapsed > chk.Timeout.D()+time.Second {
				t.Errorf("probe took %s, beyond its %s deadline", elapsed, chk.Timeout)
			}
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("want up, got %v", err)
				}
			} else {
				if err == nil {
					t.Fatalf("want down with reason %q, got up", tc.reason)
				}
				t.Logf("down: %v", err)
				if got := FailureReason(ctx, err); got != tc.reason {
					t.Fatalf("reason %q (%v), want %q", got, err, tc.reason)
				}
			}
			var names []string
			for _, p := range res.phases {
				names = append(names, p.name)
			}
			if tc.phases != nil && strings.Join(names, ",") != strings.Join(tc.phases, ",") {
				t.Errorf("phases %v, want %v", names, tc.phases)
			}
			if !tc.notAfter.IsZero() && !res.TLSNotAfter.Equal(tc.notAfter) {
				t.Errorf("TLS not after %s, want %s", res.TLSNotAfter, tc.notAfter)
			}
		})
	}
}

// TestChecksCollectorSMTP goes through the checks collector, as a scrape
// does, and compares the exported up/failure series.
func TestChecksCollectorSMTP(t *testing.T) {
	mp := mailtest.StartMailpit(t, mailtest.MailpitOptions{})
	greet554 := mailtest.ScriptedServer(t, func(c net.Conn) { mailtest.Lines(c, "554 go away") })
	cfg := collectortest.ChecksConfig(t,
		"name: submission\nkind: smtp\nsmtp: {address: "+mp.SMTP+", tls: none}",
		"name: relay\nkind: smtp\ncritical: false\nsmtp: {address: "+greet554+", tls: none}")
	c, err := newChecksCollector(collector.Env{Config: cfg, Logger: log.NewNopLogger()})
	if err != nil {
		t.Fatal(err)
	}
	want := `
# HELP bosaimail_check_up 1 if the latest run of a configured check succeeded, 0 if it failed. critical="true" checks decide whether the service is up.
# TYPE bosaimail_check_up gauge
bosaimail_check_up{check="relay",critical="false",kind="smtp",service="delivery"} 0
bosaimail_check_up{check="submission",critical="true",kind="smtp",service="delivery"} 1
# HELP bosaimail_check_failures_total Failed runs of a check since the exporter started, by bounded reason.
# TYPE bosaimail_check_failures_total counter
bosaimail_check_failures_total{check="relay",reason="banner",service="delivery"} 1
`
	if err := testutil.CollectAndCompare(collectortest.Bounded(c, 20*time.Second), strings.NewReader(want), "bosaimail_check_up", "bosaimail_check_failures_total"); err != nil {
		t.Error(err)
	}
}

// BenchmarkProbeSMTP measures the cost of one smtp check (plain dialog
// with an envelope test against a real mailpit on loopback). Besides wall
// time per check it reports the CPU time this process (the exporter side;
// mailpit runs in its own process) spent per check, from getrusage.
func BenchmarkProbeSMTP(b *testing.B) {
	cert := mailtest.ValidCert(b)
	plain := mailtest.StartMailpit(b, mailtest.MailpitOptions{})
	secure := mailtest.StartMailpit(b, mailtest.MailpitOptions{Cert: cert, SMTPAuth: true})
	for _, bc := range []struct{ name, yaml string }{
		{"plain", "smtp: {address: " + plain.SMTP + ", tls: none, mail_from: canary@example.jp, rcpt_to: [box@example.jp]}"},
		{"starttls_auth", "smtp: {address: " + secure.SMTP + ", tls: starttls, tls_config: {ca_file: " + mailtest.CAFile(b, cert) +
			"}, auth: {username: canary, password_file: " + secure.PasswordFile + "}, mail_from: canary@example.jp, rcpt_to: [box@example.jp]}"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			cfg := collectortest.ChecksConfig(b, "name: smtp\nkind: smtp\n"+bc.yaml)
			chk := &cfg.Services[0].Checks[0]
			chains := &ChainMemo{} // as the exporter's: verified once, reused
			b.ReportAllocs()
			cpu0 := processCPU()
			for b.Loop() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				if err := probeSMTP(ctx, chk, &Result{}, chains); err != nil {
					b.Fatal(err)
				}
				cancel()
			}
			b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}

// processCPU is the user+system CPU time of this process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
