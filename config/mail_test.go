package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMailInvalidConfigs checks that each broken smtp/roundtrip fixture is
// rejected with a message that names the file, the line and the key.
func TestMailInvalidConfigs(t *testing.T) {
	for _, tc := range []struct {
		file string
		want []string // substrings of the error
	}{
		{"invalid-smtp-auth-plaintext.yml", []string{"invalid-smtp-auth-plaintext.yml:9:", "services[0].checks[0].smtp.auth", "in clear"}},
		{"invalid-smtp-tls-mode.yml", []string{"invalid-smtp-tls-mode.yml:8:", "smtp.tls", `unknown TLS mode "ssl"`}},
		{"invalid-smtp-rcpt-without-from.yml", []string{"invalid-smtp-rcpt-without-from.yml:6:", "smtp.mail_from", "rcpt_to needs mail_from"}},
		{"invalid-smtp-unknown-key.yml", []string{"invalid-smtp-unknown-key.yml:8:", "password"}},
		{"invalid-roundtrip-deadline.yml", []string{"invalid-roundtrip-deadline.yml:8:", "roundtrip.deadline", "shorter than interval"}},
		{"invalid-roundtrip-pop3-starttls.yml", []string{"invalid-roundtrip-pop3-starttls.yml:15:", "mailbox.tls", "starttls is not supported"}},
		{"invalid-roundtrip-body-not-json.yml", []string{"invalid-roundtrip-body-not-json.yml:10:", "send.http.body", "does not render JSON"}},
		{"invalid-roundtrip-two-senders.yml", []string{"invalid-roundtrip-two-senders.yml:7:", "roundtrip.send", "only one"}},
		{"invalid-roundtrip-authorization-header.yml", []string{"invalid-roundtrip-authorization-header.yml:11:", "headers.Authorization", "bearer_token_file"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			_, err := Load("testdata/" + tc.file)
			if err == nil {
				t.Fatal("config accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestMailDefaults(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "secrets"), 0o700)
	os.WriteFile(filepath.Join(dir, "pw"), []byte("pw\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "secrets", "box.pw"), []byte("box\n"), 0o600)
	cfg, err := Parse(filepath.Join(dir, "mail.yml"), []byte(`
services:
  - name: delivery
    checks:
      - name: smtps
        kind: smtp
        smtp:
          address: mail.example.jp:465
      - name: submission
        kind: smtp
        smtp:
          address: mail.example.jp:587
          require_extensions: [auth, size]
          auth: {username: canary, password_file: pw}
      - name: canary
        kind: roundtrip
        roundtrip:
          send:
            http:
              url: https://alert.example.jp/api/v1/deliveries
              body: '{"subject": {{json .Subject}}, "tag": {{json .Tag}}}'
          mailbox:
            protocol: pop3
            address: mail.example.jp:995
            username: box
            password_file: secrets/box.pw
`))
	if err != nil {
		t.Fatal(err)
	}
	checks := cfg.Services[0].Checks
	if got := checks[0].SMTP.TLS; got != MailTLSImplicit {
		t.Errorf("port 465 tls = %q, want implicit", got)
	}
	sub := checks[1].SMTP
	if sub.TLS != MailTLSStartTLS || sub.HeloName != "localhost" || sub.Auth.Mechanism != "PLAIN" {
		t.Errorf("submission defaults: tls=%q helo=%q mech=%q", sub.TLS, sub.HeloName, sub.Auth.Mechanism)
	}
	if strings.Join(sub.RequireExtensions, ",") != "AUTH,SIZE" {
		t.Errorf("extensions not upper-cased: %v", sub.RequireExtensions)
	}
	if sub.TLSClient == nil || sub.TLSClient.ServerName != "mail.example.jp" {
		t.Errorf("TLS server name not defaulted to the host: %+v", sub.TLSClient)
	}
	rt := checks[2].RoundTrip
	if rt.Interval.D() != 5*time.Minute || rt.Deadline.D() != 2*time.Minute || rt.PollInterval.D() != 2*time.Second || rt.StaleAfter.D() != 10*time.Minute {
		t.Errorf("roundtrip timing defaults: %s %s %s %s", rt.Interval, rt.Deadline, rt.PollInterval, rt.StaleAfter)
	}
	if rt.Mailbox.TLS != MailTLSImplicit || rt.Mailbox.PasswordFile != filepath.Join(dir, "secrets/box.pw") || rt.Send.HTTP.Method != "POST" {
		t.Errorf("mailbox defaults: tls=%q pw=%q method=%q", rt.Mailbox.TLS, rt.Mailbox.PasswordFile, rt.Send.HTTP.Method)
	}
	if rt.Send.HTTP.BodyTemplate == nil {
		t.Error("body template not compiled")
	}
}
