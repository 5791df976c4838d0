package security

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bosaimail/bosaimail_exporter/collector"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/bosaimail/bosaimail_exporter/config"
	"github.com/bosaimail/bosaimail_exporter/internal/fetch"
)

func TestSecurityInventory(t *testing.T) {
	var version atomic.Value
	version.Store(`{"status":"ok","versions":{"httpd":"2.4.58","postfix":"3.7.9"}}`)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(version.Load().(string)))
	}))
	defer srv.Close()
	cfg := loadSecConfig(t, `
security:
  inventory:
    - product: httpd
      version: 2.4.58
      cpe: "cpe:/a:apache:http_server"
      observed: {url: "`+srv.URL+`/health", jq: ".versions.httpd"}
    - product: postfix
      version: 3.7.9
      cpe: "cpe:2.3:a:postfix:postfix:3.7.9:*:*:*:*:*:*:*"
      observed: {file: postconf.txt, regexp: "mail_version = ([0-9.]+)"}
    - {product: dovecot, version: 2.3.21, cpe: "cpe:2.3:a:dovecot:dovecot:2.3.21:*:*:*:*:*:*:*"}
`, map[string]string{"postconf.txt": "mail_version = 3.7.11\n"})
	col, err := newSecurityInventory(collector.Env{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	c := col.(*securityInventory)
	c.client = srv.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, s := range c.sources {
		if err := s.src.RefreshOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	want := `
# HELP bosaimail_software_info 1 per software inventory entry (configuration management): the declared product, version and CPE 2.3 name.
# TYPE bosaimail_software_info gauge
bosaimail_software_info{cpe="cpe:2.3:a:apache:http_server:2.4.58:*:*:*:*:*:*:*",product="httpd",version="2.4.58"} 1
bosaimail_software_info{cpe="cpe:2.3:a:dovecot:dovecot:2.3.21:*:*:*:*:*:*:*",product="dovecot",version="2.3.21"} 1
bosaimail_software_info{cpe="cpe:2.3:a:postfix:postfix:3.7.9:*:*:*:*:*:*:*",product="postfix",version="3.7.9"} 1
# HELP bosaimail_software_observed_info 1 with the version read back from the running software (inventory observed:).
# TYPE bosaimail_software_observed_info gauge
bosaimail_software_observed_info{product="httpd",version="2.4.58"} 1
bosaimail_software_observed_info{product="postfix",version="3.7.11"} 1
# HELP bosaimail_software_version_drift 1 if the observed version differs from the declared inventory version, else 0.
# TYPE bosaimail_software_version_drift gauge
bosaimail_software_version_drift{product="httpd"} 0
bosaimail_software_version_drift{product="postfix"} 1
`
	pc := collector.Adapt(context.Background(), c)
	if err := testutil.CollectAndCompare(pc, strings.NewReader(want), "bosaimail_software_info", "bosaimail_software_observed_info", "bosaimail_software_version_drift"); err != nil {
		t.Error(err)
	}
	// A health answer without the key is a payload error, keeping the last value.
	version.Store(`{"status":"ok","versions":{}}`)
	err = c.sources[0].src.RefreshOnce(ctx)
	if fetch.Reason(err) != fetch.ReasonPayload {
		t.Errorf("missing version: %v", err)
	}
	version.Store(`<html>maintenance</html>`)
	if err := c.sources[0].src.RefreshOnce(ctx); fetch.Reason(err) != fetch.ReasonDecode {
		t.Errorf("HTML health page: %v", err)
	}
	if err := testutil.CollectAndCompare(pc, strings.NewReader(want), "bosaimail_software_info", "bosaimail_software_observed_info", "bosaimail_software_version_drift"); err != nil {
		t.Error(err)
	}
}

func TestSecurityAntivirus(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	reply := secFixture(t, "clamd-version.txt")
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 32)
			n, _ := conn.Read(buf)
			if string(buf[:n]) == "nVERSION\n" {
				conn.Write(reply)
			}
			conn.Close()
		}
	}()
	dir := t.TempDir()
	cvd := filepath.Join(dir, "daily.cvd")
	if err := os.WriteFile(cvd, secFixture(t, "daily.cvd"), 0o600); err != nil {
		t.Fatal(err)
	}
	stamp := filepath.Join(dir, "trend.stamp")
	os.WriteFile(stamp, []byte("x"), 0o600)
	mod := time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)
	os.Chtimes(stamp, mod, mod)
	cfg := loadSecConfig(t, `
security:
  antivirus:
    - {engine: clamd, clamd: "tcp://`+ln.Addr().String()+`"}
    - {engine: clamav-db, database: "`+cvd+`"}
    - {engine: other, file: "`+stamp+`"}
    - {engine: broken, database: "`+stamp+`"}
`, nil)
	col, err := newSecurityAntivirus(collector.Env{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	c := col.(*securityAntivirus)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i, e := range c.engines {
		err := e.src.RefreshOnce(ctx)
		if (err != nil) != (i == 3) {
			t.Errorf("engine %s: %v", e.cfg.Engine, err)
		}
	}
	// clamd's build time is JST: 2026-11-19 18:21 JST = 09:21 UTC.
	want := `
# HELP bosaimail_antivirus_signature_timestamp_seconds When the antivirus signature database in use was built (ClamAV) or last updated (file modification time).
# TYPE bosaimail_antivirus_signature_timestamp_seconds gauge
bosaimail_antivirus_signature_timestamp_seconds{engine="clamav-db"} 1.79508006e+09
bosaimail_antivirus_signature_timestamp_seconds{engine="clamd"} 1.79508006e+09
bosaimail_antivirus_signature_timestamp_seconds{engine="other"} 1.7954892e+09
# HELP bosaimail_antivirus_signature_version Version of the signature database in use (ClamAV daily version).
# TYPE bosaimail_antivirus_signature_version gauge
bosaimail_antivirus_signature_version{engine="clamav-db"} 27463
bosaimail_antivirus_signature_version{engine="clamd"} 27463
# HELP bosaimail_antivirus_engine_info 1 with the antivirus engine version reported by the engine.
# TYPE bosaimail_antivirus_engine_info gauge
bosaimail_antivirus_engine_info{engine="clamd",version="1.4.3"} 1
# HELP bosaimail_source_up 1 if the latest refresh of a background source succeeded, 0 if it failed (its last good values are still exported).
# TYPE bosaimail_source_up gauge
bosaimail_source_up{collector="security_antivirus",source="broken"} 0
bosaimail_source_up{collector="security_antivirus",source="clamav-db"} 1
bosaimail_source_up{collector="security_antivirus",source="clamd"} 1
bosaimail_source_up{collector="security_antivirus",source="other"} 1
`
	if err := testutil.CollectAndCompare(collector.Adapt(context.Background(), c), strings.NewReader(want), "bosaimail_antivirus_signature_timestamp_seconds", "bosaimail_antivirus_signature_version", "bosaimail_antivirus_engine_info", "bosaimail_source_up"); err != nil {
		t.Error(err)
	}
}

// clamd prints its build time in its host's zone, which the config gives
// per engine: the same reply is 18:21 JST by default, 18:21 UTC on a host
// set to UTC, 18:21 +05:30 on another.
func TestClamdTimeZonePerEngine(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	reply := secFixture(t, "clamd-version.txt")
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 32)
			conn.Read(buf)
			conn.Write(reply)
			conn.Close()
		}
	}()
	addr := ln.Addr().String()
	cfg := loadSecConfig(t, `
security:
  antivirus:
    - {engine: tokyo, clamd: "tcp://`+addr+`"}
    - {engine: utc, clamd: "tcp://`+addr+`", time_zone: UTC}
    - {engine: india, clamd: "tcp://`+addr+`", time_zone: "+05:30"}
    - {engine: ny, clamd: "tcp://`+addr+`", time_zone: America/New_York}
`, nil)
	col, err := newSecurityAntivirus(collector.Env{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]time.Time{
		"tokyo": time.Date(2026, 11, 19, 9, 21, 0, 0, time.UTC),
		"utc":   time.Date(2026, 11, 19, 18, 21, 0, 0, time.UTC),
		"india": time.Date(2026, 11, 19, 12, 51, 0, 0, time.UTC),
		"ny":    time.Date(2026, 11, 19, 23, 21, 0, 0, time.UTC), // EST, UTC-5
	}
	for _, e := range col.(*securityAntivirus).engines {
		if err := e.src.RefreshOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		info, _ := e.src.Snapshot()
		if !info.Built.Equal(want[e.cfg.Engine]) {
			t.Errorf("engine %s: built %v, want %v", e.cfg.Engine, info.Built.UTC(), want[e.cfg.Engine])
		}
	}
	if _, err := config.Parse("bad.yml", []byte("security:\n  antivirus:\n    - {engine: x, clamd: \"tcp://127.0.0.1:1\", time_zone: Mars/Olympus}\n")); err == nil || !strings.Contains(err.Error(), "antivirus[0].time_zone") {
		t.Errorf("unknown zone: %v", err)
	}
}
