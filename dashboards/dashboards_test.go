// Package dashboards holds the generated Grafana dashboards (from mixin/)
// and the tests that validate them without a Grafana: strict decoding into
// the Grafana schema, PromQL that parses, metrics that exist, and queries
// that return data from a real Prometheus.
package dashboards

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/bargauge"
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/heatmap"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/statetimeline"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"

	"github.com/bosaimail/bosaimail_exporter/internal/testkit/testbin"
)

func init() {
	rt := cog.NewRuntime()
	rt.RegisterPanelcfgVariant(stat.VariantConfig())
	rt.RegisterPanelcfgVariant(timeseries.VariantConfig())
	rt.RegisterPanelcfgVariant(table.VariantConfig())
	rt.RegisterPanelcfgVariant(statetimeline.VariantConfig())
	rt.RegisterPanelcfgVariant(heatmap.VariantConfig())
	rt.RegisterPanelcfgVariant(bargauge.VariantConfig())
	rt.RegisterDataqueryVariant(prometheus.VariantConfig())
}

// rawDashboard is the part of the JSON the checks walk.
type rawDashboard struct {
	UID        string `json:"uid"`
	Title      string `json:"title"`
	Templating struct {
		List []struct {
			Name       string `json:"name"`
			Type       string `json:"type"`
			Definition string `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
	Panels []rawPanel `json:"panels"`
}

type rawPanel struct {
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		UID string `json:"uid"`
	} `json:"datasource"`
	Targets []struct {
		Expr    string `json:"expr"`
		Instant bool   `json:"instant"`
	} `json:"targets"`
}

type loaded struct {
	file string
	raw  []byte
	d    rawDashboard
}

func loadAll(t *testing.T) []loaded {
	t.Helper()
	files, err := filepath.Glob("*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards (%v): run make mixin", err)
	}
	var out []loaded
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d rawDashboard
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out = append(out, loaded{f, raw, d})
	}
	return out
}

func TestDashboardsDecodeStrictly(t *testing.T) {
	for _, l := range loadAll(t) {
		var d dashboard.Dashboard
		// The SDK returns its error list as an error even when it is empty.
		if err := d.UnmarshalJSONStrict(l.raw); err != nil && err.Error() != "" {
			t.Errorf("%s does not decode strictly into the Grafana schema: %v", l.file, err)
		}
	}
}

func TestDashboardsStructure(t *testing.T) {
	uids := map[string]string{}
	for _, l := range loadAll(t) {
		d := l.d
		if d.UID == "" || d.Title == "" {
			t.Errorf("%s: uid and title are required", l.file)
		}
		if other, dup := uids[d.UID]; dup {
			t.Errorf("%s: uid %q already used by %s", l.file, d.UID, other)
		}
		uids[d.UID] = l.file
		if want := d.UID + ".json"; l.file != want {
			t.Errorf("%s: file name should be %s (stable uid = file name)", l.file, want)
		}
		hasDS := false
		var everything strings.Builder
		for _, v := range d.Templating.List {
			if v.Name == "datasource" && v.Type == "datasource" {
				hasDS = true
			}
			everything.WriteString(v.Definition + "\n")
		}
		if !hasDS {
			t.Errorf("%s: no datasource variable", l.file)
		}
		for _, p := range d.Panels {
			if p.Type == "row" {
				continue
			}
			if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
				t.Errorf("%s: panel %q does not use the ${datasource} variable", l.file, p.Title)
			}
			if len(p.Targets) == 0 {
				t.Errorf("%s: panel %q has no query", l.file, p.Title)
			}
			for _, tg := range p.Targets {
				everything.WriteString(tg.Expr + "\n")
			}
		}
		for _, v := range d.Templating.List {
			if v.Name == "datasource" {
				continue
			}
			if !strings.Contains(everything.String(), "$"+v.Name) && !strings.Contains(everything.String(), "${"+v.Name) {
				t.Errorf("%s: variable %q is never used", l.file, v.Name)
			}
		}
	}
}

// grafanaVars replaces dashboard variables with values a query can run with.
var grafanaVars = strings.NewReplacer(
	"$__rate_interval", "5m", "$__interval", "1m", "$__range", "1h",
	"$service", ".*", "$instance", ".*",
)

type query struct {
	file, panel, expr string
	instant           bool
}

func allQueries(t *testing.T) []query {
	var qs []query
	for _, l := range loadAll(t) {
		for _, p := range l.d.Panels {
			for _, tg := range p.Targets {
				qs = append(qs, query{l.file, p.Title, grafanaVars.Replace(tg.Expr), tg.Instant})
			}
		}
	}
	return qs
}

// TestQueriesParse hands every panel query to the real promtool as a
// recording rule, so PromQL syntax is checked by Prometheus itself.
func TestQueriesParse(t *testing.T) {
	promtool := testbin.Path(t, "promtool")
	var b strings.Builder
	b.WriteString("groups:\n  - name: dashboard_queries\n    rules:\n")
	for i, q := range allQueries(t) {
		fmt.Fprintf(&b, "      - record: dashboard:query_%d\n        expr: %q\n", i, q.expr)
	}
	f := filepath.Join(t.TempDir(), "queries.yml")
	if err := os.WriteFile(f, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(promtool, "check", "rules", f).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules on dashboard queries: %v\n%s", err, out)
	}
}

var quotedRE = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

var metricRE = regexp.MustCompile(`\b(bosaimail[a-zA-Z0-9_:]*|ALERTS)\b`)

// knownSeries is every metric in docs/metrics.md and every recorded series
// in rules/*.yaml.
func knownSeries(t *testing.T) map[string]bool {
	known := map[string]bool{"ALERTS": true}
	doc, err := os.ReadFile("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile("`(bosaimail_[a-z0-9_]+)`").FindAllStringSubmatch(string(doc), -1) {
		known[m[1]] = true
	}
	rules, _ := filepath.Glob("../rules/*.yaml")
	for _, r := range rules {
		data, err := os.ReadFile(r)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`"?record"?: "?([a-zA-Z0-9_:]+)`).FindAllStringSubmatch(string(data), -1) {
			known[m[1]] = true
		}
	}
	return known
}

func TestQueriesUseKnownMetrics(t *testing.T) {
	known := knownSeries(t)
	var unknown []string
	for _, q := range allQueries(t) {
		for _, m := range metricRE.FindAllString(quotedRE.ReplaceAllString(q.expr, `""`), -1) {
			base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(m, "_bucket"), "_sum"), "_count")
			if !known[m] && !known[base] {
				unknown = append(unknown, fmt.Sprintf("%s / %s: %s", q.file, q.panel, m))
			}
		}
	}
	sort.Strings(unknown)
	if len(unknown) > 0 {
		t.Errorf("panels use series that neither the exporter (docs/metrics.md) nor the rules provide:\n%s", strings.Join(unknown, "\n"))
	}
}
