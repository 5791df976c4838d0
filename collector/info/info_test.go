package info

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/bosaimail/bosaimail_exporter/collector"
	"github.com/bosaimail/bosaimail_exporter/config"
	"github.com/bosaimail/bosaimail_exporter/internal/testkit/collectortest"
)

func load(t *testing.T, doc string) *config.Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "bosaimail.yml")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestInfo(t *testing.T) {
	cfg := load(t, `
global:
  system_name: 防災みえメール配信サービス
services:
  - name: delivery
    description: 緊急情報メール配信
    checks: [{name: web, kind: tcp, tcp: {address: "127.0.0.1:1"}}]
  - name: admin
    checks: [{name: web, kind: tcp, tcp: {address: "127.0.0.1:1"}}]
`)
	c, err := collector.Build("info", collector.Env{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	want := `
# HELP bosaimail_service_info Always 1 per configured service; name is its display name (services[].description, or the service ID when empty).
# TYPE bosaimail_service_info gauge
bosaimail_service_info{name="admin",service="admin"} 1
bosaimail_service_info{name="緊急情報メール配信",service="delivery"} 1
# HELP bosaimail_system_info Always 1; name is the watched system's name (global.system_name, e.g. 防災みえメール配信サービス). Absent when not configured.
# TYPE bosaimail_system_info gauge
bosaimail_system_info{name="防災みえメール配信サービス"} 1
`
	if err := testutil.CollectAndCompare(collectortest.Bounded(c, time.Second), strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
}

func TestSystemNameRejectsControlCharacters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bosaimail.yml")
	if err := os.WriteFile(path, []byte("global:\n  system_name: \"a\\nb\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := config.Load(path)
	if err == nil || !strings.Contains(err.Error(), "global.system_name") {
		t.Fatalf("want an error naming global.system_name, got %v", err)
	}
}
