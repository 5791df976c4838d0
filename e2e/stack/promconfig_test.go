package stack

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/bosaimail/bosaimail_exporter/internal/testkit/testbin"
)

var testReplica = Replica{
	Name: "b", ScrapeInterval: 2 * time.Second, EvalInterval: time.Second,
	RuleFiles:     []string{"/rules/a.yaml", "/rules/b.yaml"},
	Alertmanagers: []string{"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"},
	Exporters:     []string{"127.0.0.1:4", "127.0.0.1:5"},
	RemoteWrite:   "http://127.0.0.1:6/api/v1/write",
}

func TestPrometheusReplicaConfigExample(t *testing.T) {
	example := filepath.Join("..", "..", "examples", "prometheus.yml")
	out, err := PrometheusReplicaConfig(example, testReplica)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Global struct {
			ScrapeInterval string            `yaml:"scrape_interval"`
			EvalInterval   string            `yaml:"evaluation_interval"`
			ExternalLabels map[string]string `yaml:"external_labels"`
		} `yaml:"global"`
		RuleFiles []string `yaml:"rule_files"`
		Alerting  struct {
			AlertRelabel  []map[string]string `yaml:"alert_relabel_configs"`
			Alertmanagers []struct {
				StaticConfigs []struct {
					Targets []string `yaml:"targets"`
				} `yaml:"static_configs"`
			} `yaml:"alertmanagers"`
		} `yaml:"alerting"`
		RemoteWrite []struct {
			URL          string              `yaml:"url"`
			WriteRelabel []map[string]string `yaml:"write_relabel_configs"`
		} `yaml:"remote_write"`
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			ScrapeTimeout string `yaml:"scrape_timeout"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(out, &cfg); err != nil {
		t.Fatalf("derived configuration does not parse: %v\n%s", err, out)
	}
	g := cfg.Global
	if g.ScrapeInterval != "2s" || g.EvalInterval != "1s" || g.ExternalLabels["replica"] != "b" || g.ExternalLabels["prefecture"] == "" {
		t.Errorf("global: %+v", g)
	}
	if strings.Join(cfg.RuleFiles, ",") != "/rules/a.yaml,/rules/b.yaml" {
		t.Errorf("rule_files: %v", cfg.RuleFiles)
	}
	if got := cfg.Alerting.Alertmanagers[0].StaticConfigs[0].Targets; strings.Join(got, ",") != "127.0.0.1:1,127.0.0.1:2,127.0.0.1:3" {
		t.Errorf("alertmanagers: %v", got)
	}
	if len(cfg.RemoteWrite) != 1 || cfg.RemoteWrite[0].URL != testReplica.RemoteWrite {
		t.Errorf("remote_write: %+v", cfg.RemoteWrite)
	}
	sc := cfg.ScrapeConfigs[0]
	if sc.JobName != "bosaimail" || sc.ScrapeTimeout != "2s" || strings.Join(sc.StaticConfigs[0].Targets, ",") != "127.0.0.1:4,127.0.0.1:5" {
		t.Errorf("scrape config: %+v", sc)
	}

	// Prometheus itself accepts it (rule files pointed at the real ones).
	promtool := testbin.Path(t, "promtool")
	r := testReplica
	r.RuleFiles = []string{filepath.Join(testbin.RepoRoot(), "rules", "*.yaml")}
	out, err = PrometheusReplicaConfig(example, r)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "prometheus.yml")
	if err := os.WriteFile(f, out, 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command(promtool, "check", "config", f).CombinedOutput(); err != nil {
		t.Fatalf("promtool check config: %v\n%s\n%s", err, b, out)
	}
}

// TestPrometheusReplicaConfigRefuses: an example that would mail once per
// replica, or could not be deduplicated in the store, is refused by name.
func TestPrometheusReplicaConfigRefuses(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", "examples", "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, from, to, want string
	}{
		{"no replica label", "    replica: a\n", "", "external_labels.replica"},
		{"replica kept for Alertmanager", "  alert_relabel_configs:\n    - action: labeldrop\n      regex: replica\n", "", "alert_relabel_configs"},
		{"replica kept in the store", "    write_relabel_configs:\n      - action: labeldrop\n        regex: replica\n", "", "write_relabel_configs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(string(src), tc.from) {
				t.Fatalf("examples/prometheus.yml has no %q", tc.from)
			}
			f := filepath.Join(t.TempDir(), "prometheus.yml")
			if err := os.WriteFile(f, []byte(strings.Replace(string(src), tc.from, tc.to, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := PrometheusReplicaConfig(f, testReplica)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error naming %s", err, tc.want)
			}
		})
	}
}
