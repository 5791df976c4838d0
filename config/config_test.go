package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bosaimail/bosaimail_exporter/internal/testkit/testcerts"
)

func TestInvalidConfigs(t *testing.T) {
	// Each negative fixture must be rejected with a message naming the
	// file, the line and the offending key.
	cases := map[string][]string{
		"invalid-unknown-key.yml":       {"invalid-unknown-key.yml:8:", "field methd not found"},
		"invalid-wrong-type.yml":        {"invalid-wrong-type.yml:6:", "maybe"},
		"invalid-duplicate-service.yml": {"invalid-duplicate-service.yml:4:", "services[2].name", `duplicate service "delivery"`},
		"invalid-duplicate-check.yml":   {"invalid-duplicate-check.yml:7:", "services[0].checks[1].name", `duplicate check "web"`},
		"invalid-bad-url.yml":           {"invalid-bad-url.yml:7:", "scheme must be http or https"},
		"invalid-bad-duration.yml":      {"invalid-bad-duration.yml:6:", `invalid duration "10 seconds"`},
		"invalid-kind-mismatch.yml":     {"invalid-kind-mismatch.yml:6:", "services[0].checks[0].http", `does not belong to a check of kind "tcp"`},
		"invalid-bad-regexp.yml":        {"invalid-bad-regexp.yml:8:", "fail_if_body_not_matches_regexp[0]", "invalid regexp"},
		"invalid-bad-jq.yml":            {"invalid-bad-jq.yml:8:", "expect_json[0]", "invalid jq expression"},
		"invalid-bad-address.yml":       {"invalid-bad-address.yml:7:", "services[0].checks[0].tcp.address", "not host:port"},
		"invalid-bad-name.yml":          {"invalid-bad-name.yml:2:", "services[0].name", "must start with a letter or digit"},
		"invalid-missing-ca.yml":        {"invalid-missing-ca.yml:8:", "services[0].checks[0].http.tls_config", "does-not-exist.pem"},
		"invalid-two-documents.yml":     {"invalid-two-documents.yml", "more than one YAML document"},
		"invalid-check-concurrency.yml": {"invalid-check-concurrency.yml:3:", "global.check_concurrency", "must be positive"},
	}
	checkInvalid(t, cases)
}

func TestDefaultsAndResolve(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte("tok\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "c.yml")
	yml := `
global:
  check_timeout: 7s
services:
  - name: delivery
    checks:
      - name: web
        kind: http
        http: {url: "https://mail.example.jp/health"}
      - name: web-opt
        kind: http
        critical: false
        timeout: 2s
        http: {url: "https://mail.example.jp/", method: HEAD, follow_redirects: false}
`
	if err := os.WriteFile(p, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	web := cfg.Services[0].Checks[0]
	if web.Timeout.D().Seconds() != 7 || web.HTTP.Method != "GET" || !*web.HTTP.FollowRedirects || !web.IsCritical() || web.HTTP.MaxBodyBytes != 1<<20 {
		t.Errorf("defaults not applied: %+v %+v", web, web.HTTP)
	}
	opt := cfg.Services[0].Checks[1]
	if opt.Timeout.D().Seconds() != 2 || opt.HTTP.Method != "HEAD" || *opt.HTTP.FollowRedirects || opt.IsCritical() {
		t.Errorf("explicit values lost: %+v %+v", opt, opt.HTTP)
	}
	if got := cfg.Resolve("token"); got != filepath.Join(dir, "token") {
		t.Errorf("Resolve = %q", got)
	}
	if s, err := ReadSecretFile(cfg.Resolve("token")); err != nil || s != "tok" {
		t.Errorf("ReadSecretFile = %q, %v", s, err)
	}
	if cfg.Service("delivery") == nil || cfg.Service("nope") != nil {
		t.Error("Service lookup")
	}
}

func TestEmptyConfigIsValid(t *testing.T) {
	cfg, err := Parse("empty.yml", nil)
	if err != nil || len(cfg.Services) != 0 {
		t.Fatalf("empty config: %v", err)
	}
}

func TestSecretFileBounded(t *testing.T) {
	p := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(p, make([]byte, MaxSecretBytes+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadSecretFile(p); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("oversized secret accepted: %v", err)
	}
}

// FuzzParse: any document is either accepted or rejected with an error;
// never a panic or a hang.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.yml")
	seeds = append(seeds, "../examples/bosaimail.yml")
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("services: [{name: a, checks: [{name: b, kind: http, http: {url: 'http://x/'}}]}]"))
	f.Add([]byte("a: &a [*a]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("fuzz.yml", data)
		if err == nil && cfg == nil {
			t.Fatal("nil config without error")
		}
	})
}

// checkInvalid loads each negative fixture of testdata/ and requires the
// error to contain every expected piece (file:line, key path, message).
func checkInvalid(t *testing.T, cases map[string][]string) {
	t.Helper()
	for name, wants := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Load(filepath.Join("testdata", name))
			if err == nil {
				t.Fatal("config accepted")
			}
			for _, w := range wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// Checks of one document that trust the same CA file share one parsed pool;
// another file gets its own.
func TestSharedRootPools(t *testing.T) {
	dir := t.TempDir()
	ca1 := filepath.Join(dir, "ca1.pem")
	ca2 := filepath.Join(dir, "ca2.pem")
	ca, err := testcerts.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	other, err := testcerts.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ca1, ca.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ca2, other.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	yml := `services:
  - name: s
    checks:
      - {name: a, kind: http, http: {url: "https://127.0.0.1/", tls_config: {ca_file: ca1.pem}}}
      - {name: b, kind: http, http: {url: "https://127.0.0.1/", tls_config: {ca_file: ca1.pem}}}
      - {name: c, kind: tcp, tcp: {address: "127.0.0.1:443", tls: true, tls_config: {ca_file: ca1.pem}}}
      - {name: d, kind: http, http: {url: "https://127.0.0.1/", tls_config: {ca_file: ca2.pem}}}
`
	p := filepath.Join(dir, "c.yml")
	if err := os.WriteFile(p, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	chks := cfg.Services[0].Checks
	a, b, c, d := chks[0].HTTP.TLSClient.RootCAs, chks[1].HTTP.TLSClient.RootCAs, chks[2].TCP.TLSClient.RootCAs, chks[3].HTTP.TLSClient.RootCAs
	if a == nil || a != b || a != c {
		t.Errorf("checks trusting ca1.pem hold different pools: %p %p %p", a, b, c)
	}
	if d == nil || d == a || !d.Equal(other.Pool()) || !a.Equal(ca.Pool()) {
		t.Errorf("ca2.pem shares ca1.pem's pool or a pool holds the wrong CA")
	}
}
