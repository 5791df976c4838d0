package stack

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestAlertmanagerTestConfigExample(t *testing.T) {
	example := filepath.Join("..", "..", "examples", "alertmanager", "alertmanager.yml")
	out, err := AlertmanagerTestConfig(example, "127.0.0.1:2525", "/tmp/ca.pem", "/tmp/hb-url")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Global    map[string]any `yaml:"global"`
		Templates []string       `yaml:"templates"`
		Receivers []struct {
			Name           string           `yaml:"name"`
			WebhookConfigs []map[string]any `yaml:"webhook_configs"`
			EmailConfigs   []map[string]any `yaml:"email_configs"`
		} `yaml:"receivers"`
	}
	if err := yaml.Unmarshal(out, &cfg); err != nil {
		t.Fatalf("derived configuration does not parse: %v\n%s", err, out)
	}
	absDir, _ := filepath.Abs(filepath.Dir(example))
	for key, want := range map[string]any{
		"smtp_smarthost":          "127.0.0.1:2525",
		"smtp_tls_config":         map[string]any{"ca_file": "/tmp/ca.pem"},
		"smtp_auth_password_file": filepath.Join(absDir, "secrets", "smtp-password"),
		"smtp_require_tls":        true,
		"smtp_from":               "bosaimail-alert@hoshu.example.jp",
	} {
		if got := cfg.Global[key]; !equalYAML(got, want) {
			t.Errorf("global.%s = %v, want %v", key, got, want)
		}
	}
	if len(cfg.Templates) != 1 || cfg.Templates[0] != filepath.Join(absDir, "templates", "*.tmpl") {
		t.Errorf("templates = %v, want the example's, absolute", cfg.Templates)
	}
	mails := 0
	for _, r := range cfg.Receivers {
		for _, w := range r.WebhookConfigs {
			if r.Name == "ledger" {
				// The ledger's webhook keeps its url (the stack points it at
				// its ledger); its token file becomes absolute.
				auth, _ := w["http_config"].(map[string]any)["authorization"].(map[string]any)
				if auth["credentials_file"] != filepath.Join(absDir, "secrets", "ledger-webhook-token") {
					t.Errorf("receiver ledger: authorization = %v", auth)
				}
				continue
			}
			if w["url_file"] != "/tmp/hb-url" {
				t.Errorf("receiver %s: url_file = %v", r.Name, w["url_file"])
			}
		}
		for _, e := range r.EmailConfigs {
			mails++
			// The YAML merge keys of the example survive: every mail keeps
			// the Japanese templates.
			if h, _ := e["headers"].(map[string]any); h == nil || !strings.Contains(h["Subject"].(string), "bosaimail.subject") {
				t.Errorf("receiver %s: headers = %v", r.Name, e["headers"])
			}
		}
	}
	if mails != 5 {
		t.Errorf("%d email configs, want 5 (contractor, cloud, vendor, network, prefecture)", mails)
	}
}

func equalYAML(a, b any) bool {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		if len(am) != len(bm) {
			return false
		}
		for k := range am {
			if !equalYAML(am[k], bm[k]) {
				return false
			}
		}
		return true
	}
	return a == b
}

func TestAlertmanagerTestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, config, want string
	}{
		{"no smarthost", "global: {}\nreceivers: [{name: x}]\n", "global.smtp_smarthost is missing"},
		{"no heartbeat", "global: {smtp_smarthost: 'a:25'}\nreceivers: [{name: x}]\n", "found 0"},
		{"two heartbeats", "global: {smtp_smarthost: 'a:25'}\nreceivers:\n- name: a\n  webhook_configs: [{url_file: a}, {url_file: b}]\n", "found 2"},
		{"not a mapping", "- a\n- b\n", "not a YAML mapping"},
		{"broken YAML", "global: [\n", "yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "am.yml")
			if err := os.WriteFile(p, []byte(tc.config), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := AlertmanagerTestConfig(p, "127.0.0.1:25", "/ca", "/hb")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), p) {
				t.Errorf("err = %v, want it to name the file", err)
			}
		})
	}
}
