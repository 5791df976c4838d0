package main

import (
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-kit/log"

	"github.com/bosaimail/bosaimail_exporter/config"
)

func TestLandingPageJapaneseFirst(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bosaimail.yml")
	doc := `
global:
  system_name: 防災みえメール配信サービス
services:
  - name: delivery
    description: 緊急情報メール配信
    checks:
      - {name: api-health, kind: http, http: {url: "https://127.0.0.1:1/health"}}
      - {name: mx, kind: tcp, critical: false, tcp: {address: "127.0.0.1:25"}}
`
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	h := landing(cfg, "/metrics", log.NewNopLogger())
	get := func(acceptLanguage string) (string, string) {
		req := httptest.NewRequest("GET", "/", nil)
		if acceptLanguage != "" {
			req.Header.Set("Accept-Language", acceptLanguage)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		b, _ := io.ReadAll(rec.Body)
		return rec.Header().Get("Content-Language"), string(b)
	}
	for _, al := range []string{"", "ja", "ja-JP,ja;q=0.9,en;q=0.8", "fr", "*"} {
		lang, body := get(al)
		if lang != "ja" {
			t.Errorf("Accept-Language %q: Content-Language %q, want ja", al, lang)
		}
		for _, want := range []string{`<html lang="ja">`, "防災みえメール配信サービス 監視用エクスポーター", "緊急情報メール配信", "HTTP(S) 応答", "稼働率判定の対象", "対象外", `href="/metrics"`} {
			if !strings.Contains(body, want) {
				t.Errorf("Accept-Language %q: page lacks %q", al, want)
			}
		}
	}
	lang, body := get("en-US,en;q=0.9,ja;q=0.5")
	if lang != "en" || !strings.Contains(body, `<html lang="en">`) || !strings.Contains(body, "Watched services and checks") {
		t.Errorf("English page not served for en-US: %s\n%s", lang, body)
	}
	// Configuration text is escaped, never markup.
	cfg.Services[0].Description = "<script>x</script>"
	h = landing(cfg, "/metrics", log.NewNopLogger())
	if _, body := get(""); strings.Contains(body, "<script>x") {
		t.Error("service description is not escaped")
	}
}
