package config

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestInvalidSecurityConfigs(t *testing.T) {
	cases := map[string][]string{
		"invalid-security-bad-cpe.yml":       {"invalid-security-bad-cpe.yml:8:", "security.inventory[1].cpe", "11 attributes"},
		"invalid-security-clamd.yml":         {"invalid-security-clamd.yml:4:", "security.antivirus[0].clamd", "tcp://host:port or unix:///path"},
		"invalid-security-findings-kind.yml": {"invalid-security-findings-kind.yml:4:", "security.findings[0].kind", `"syslog"`},
		// The acknowledgement file's own problems are named by its file and line.
		"invalid-security-ack.yml": {"invalid-security-ack.yml:9:", "security.advisories.acknowledgements_file", "invalid-security-acks.yml:7: acknowledgements[1].status", "invalid-security-acks.yml:8: acknowledgements[1].reason"},
	}
	checkInvalid(t, cases)
}

func TestSecurityConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("nvd.key", "0123-abcd\n")
	write("acks.yml", "acknowledgements:\n  - {id: CVE-2026-10001, status: accepted, reason: WAF で遮断, date: 2026-11-20, expires: 2026-12-20}\n")
	write("c.yml", `
security:
  inventory:
    - product: httpd
      vendor: apache
      version: 2.4.58
      cpe: cpe:/a:apache:http_server
      observed: {url: "http://127.0.0.1:8080/health", jq: ".versions.httpd"}
  advisories:
    nvd: {enabled: true, api_key_file: nvd.key}
    jvn: {enabled: true}
    acknowledgements_file: acks.yml
  antivirus:
    - {engine: clamav, clamd: "unix://clamd.ctl"}
  findings:
    - {name: securityhub, kind: aws_securityhub, region: ap-northeast-1}
`)
	cfg, err := Load(filepath.Join(dir, "c.yml"))
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Security
	if s.Inventory[0].Name.Version != "2.4.58" || s.Inventory[0].Name.Product != "http_server" {
		t.Errorf("version-less CPE not completed: %+v", s.Inventory[0].Name)
	}
	if key, _ := ReadSecretFile(s.Advisories.NVD.APIKeyFile); key != "0123-abcd" || s.Advisories.NVD.RequestInterval.D() != 600*time.Millisecond {
		t.Errorf("NVD key/pace: %q %v", key, s.Advisories.NVD.RequestInterval)
	}
	if s.Advisories.JVN.URL.String() != DefaultJVNURL || s.Advisories.JVN.PageSize != 50 {
		t.Errorf("JVN defaults: %v %d", s.Advisories.JVN.URL, s.Advisories.JVN.PageSize)
	}
	if s.Antivirus[0].ClamdNetwork != "unix" || s.Antivirus[0].ClamdAddress != filepath.Join(dir, "clamd.ctl") {
		t.Errorf("clamd: %q %q", s.Antivirus[0].ClamdNetwork, s.Antivirus[0].ClamdAddress)
	}
	if s.Findings[0].Severity != ".Severity.Label" || s.Findings[0].SeverityCode == nil {
		t.Errorf("Security Hub severity default: %q", s.Findings[0].Severity)
	}
	acks, err := LoadAcknowledgements(s.Advisories.ResolvedAcknowledgementsFile)
	if err != nil || len(acks) != 1 || acks[0].ExpiresAt.IsZero() {
		t.Errorf("acks: %+v %v", acks, err)
	}
}
