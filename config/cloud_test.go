package config

import (
	"os"
	"path/filepath"
	"testing"
)

func TestInvalidCloudConfigs(t *testing.T) {
	cases := map[string][]string{
		"invalid-cloud-unknown-type.yml":        {"invalid-cloud-unknown-type.yml:4:", "cloud.sources[0].type", `unknown type "statuspages"`},
		"invalid-cloud-key-of-other-type.yml":   {"invalid-cloud-key-of-other-type.yml:6:", "cloud.sources[0].region", `not used by a "statuspage" source`},
		"invalid-cloud-bad-jq.yml":              {"invalid-cloud-bad-jq.yml:8:", "cloud.sources[0].metrics[0].query", "invalid jq expression"},
		"invalid-cloud-feed-rule.yml":           {"invalid-cloud-feed-rule.yml:8:", "cloud.sources[0].rules[0].category", `unknown category "failure"`},
		"invalid-cloud-azure-no-token.yml":      {"invalid-cloud-azure-no-token.yml:6:", "cloud.sources[0].bearer_token_file", "no-such-azure.token"},
		"invalid-cloud-maintenance-service.yml": {"invalid-cloud-maintenance-service.yml:7:", "cloud.sources[0].maintenance_services[0]", `unknown service "no-such-service"`},
		"invalid-cloud-timeout.yml":             {"invalid-cloud-timeout.yml:7:", "cloud.sources[0].timeout", "not longer than the interval"},
	}
	checkInvalid(t, cases)
}

func TestCloudConfigDefaults(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "azure.token"), []byte("tok\n"), 0o600)
	p := filepath.Join(dir, "c.yml")
	os.WriteFile(p, []byte(`cloud:
  sources:
    - {name: gcp, type: google_cloud, url: "https://status.cloud.google.com/incidents.json"}
    - {name: azure, type: azure, subscription_id: sub, bearer_token_file: azure.token}
    - {name: ses, type: aws_ses, region: ap-northeast-1}
    - {name: sakura, type: feed, url: "https://cloud.example.jp/feed.xml", rules: [{match: "障害", category: issue, component: tokyo2}]}
`), 0o600)
	cfg, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Cloud.Sources
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"gcp interval", s[0].Interval.String(), "5m"},
		{"gcp body bound", s[0].MaxBodyBytes, int64(32 << 20)},
		{"azure url", s[1].URL.String(), "https://management.azure.com"},
		{"azure api-version", s[1].APIVersion, "2022-10-01"},
		{"azure token path", s[1].BearerTokenFile, filepath.Join(dir, "azure.token")},
		{"azure body bound", s[1].MaxBodyBytes, cfg.Global.MaxBodyBytes},
		{"ses interval", s[2].Interval.String(), "1m"},
		{"feed max_age", s[3].MaxAge.String(), "1w"},
		{"feed rule status", s[3].Rules[0].Status, "degraded"},
		{"feed rule compiled", s[3].Rules[0].Regexp != nil, true},
	} {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.what, c.got, c.want)
		}
	}
}
