package dashboards

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bosaimail/bosaimail_exporter/internal/testkit/testbin"
)

type docMetric struct {
	name, typ string
	labels    []string
}

// documentedMetrics reads the metric table of docs/metrics.md (generated
// from the code), so the synthetic data covers every metric the exporter
// can expose.
func documentedMetrics(t *testing.T) []docMetric {
	doc, err := os.ReadFile("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("^\\| `(bosaimail_[a-z0-9_]+)` \\| ([a-z]+) \\| ([^|]*) \\|")
	var out []docMetric
	for _, line := range strings.Split(string(doc), "\n") {
		m := row.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		var labels []string
		for _, l := range strings.Split(m[3], ",") {
			if l = strings.TrimSpace(l); l != "" {
				labels = append(labels, l)
			}
		}
		out = append(out, docMetric{m[1], m[2], labels})
	}
	if len(out) == 0 {
		t.Fatal("no metrics found in docs/metrics.md")
	}
	return out
}

// labelValue picks a plausible value per label so joins between metrics
// (service, check, ...) line up.
func labelValue(name string) string {
	switch name {
	case "service":
		return "delivery"
	case "check":
		return "web"
	case "kind":
		return "http"
	case "critical":
		return "true"
	case "status":
		return "degraded"
	case "severity":
		return "critical"
	case "phase":
		return "connect"
	case "reason":
		return "timeout"
	case "le":
		return "+Inf"
	}
	return "x"
}

// openMetrics renders three hours of one-minute samples of every metric.
func openMetrics(ms []docMetric, end time.Time) string {
	var b strings.Builder
	start := end.Add(-3 * time.Hour)
	for _, m := range ms {
		family := m.name
		if m.typ == "counter" {
			family = strings.TrimSuffix(m.name, "_total")
		}
		fmt.Fprintf(&b, "# TYPE %s %s\n", family, m.typ)
		pairs := []string{`job="bosaimail"`, `instance="127.0.0.1:9742"`}
		for _, l := range m.labels {
			pairs = append(pairs, fmt.Sprintf("%s=%q", l, labelValue(l)))
		}
		lbl := strings.Join(pairs, ",")
		for i, ts := 0, start; !ts.After(end); i, ts = i+1, ts.Add(time.Minute) {
			sec := float64(ts.Unix())
			switch {
			case m.typ == "counter":
				fmt.Fprintf(&b, "%s_total{%s} %d %.0f\n", family, lbl, i, sec)
			case m.typ == "histogram":
				for _, le := range []string{"1", "10", "+Inf"} {
					fmt.Fprintf(&b, "%s_bucket{%s,le=%q} %d %.0f\n", family, lbl, le, i, sec)
				}
				fmt.Fprintf(&b, "%s_sum{%s} %d %.0f\n", family, lbl, i, sec)
				fmt.Fprintf(&b, "%s_count{%s} %d %.0f\n", family, lbl, i, sec)
			case m.name == "bosaimail_broadcast_recipients":
				// A broadcast draining: delivered grows, some still queued.
				l := strings.Replace(lbl, `state="x"`, `state="delivered"`, 1)
				fmt.Fprintf(&b, "%s{%s} %d %.0f\n", family, l, 100*i, sec)
			case strings.Contains(m.name, "maintenance_active"):
				// Not in maintenance, or the availability series would
				// rightly have no samples.
				fmt.Fprintf(&b, "%s{%s} 0 %.0f\n", family, lbl, sec)
			case strings.HasSuffix(m.name, "_timestamp_seconds"):
				fmt.Fprintf(&b, "%s{%s} %.0f %.0f\n", family, lbl, sec-600, sec)
			default:
				fmt.Fprintf(&b, "%s{%s} 1 %.0f\n", family, lbl, sec)
			}
		}
		if m.name == "bosaimail_broadcast_recipients" {
			// The same broadcast's recipients still queued.
			l := strings.Replace(lbl, `state="x"`, `state="queued"`, 1)
			for ts := start; !ts.After(end); ts = ts.Add(time.Minute) {
				fmt.Fprintf(&b, "%s{%s} 500 %d\n", family, l, ts.Unix())
			}
		}
	}
	b.WriteString("# EOF\n")
	return b.String()
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

type promResult struct {
	Status string `json:"status"`
	Error  string `json:"error"`
	Data   struct {
		Result []json.RawMessage `json:"result"`
	} `json:"data"`
}

func promQuery(ctx context.Context, base, path string, params url.Values) (promResult, error) {
	var r promResult
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+path, strings.NewReader(params.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return r, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return r, err
	}
	if r.Status != "success" {
		return r, fmt.Errorf("%s", r.Error)
	}
	return r, nil
}

// TestPanelsReturnData backfills a real Prometheus with every documented
// metric (promtool tsdb create-blocks-from openmetrics), loads the mixin's
// rules, and requires every panel query to return data.
func TestPanelsReturnData(t *testing.T) {
	promtool := testbin.Path(t, "promtool")
	prom := testbin.Path(t, "prometheus")
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	om := filepath.Join(dir, "metrics.om")
	now := time.Now().Truncate(time.Minute)
	// The exporter's own series, then the recorded third-party exporters'.
	series := strings.TrimSuffix(openMetrics(documentedMetrics(t), now.Add(-time.Minute)), "# EOF\n") + exporterOpenMetrics(t, now.Add(-time.Minute)) + "# EOF\n"
	if err := os.WriteFile(om, []byte(series), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "tsdb", "create-blocks-from", "openmetrics", om, data).CombinedOutput(); err != nil {
		t.Fatalf("backfill: %v\n%s", err, out)
	}
	// The rules as shipped, but every group evaluated each second: the
	// long groups' 5m interval would make the test wait minutes.
	ruleFiles, _ := filepath.Glob("../rules/*.yaml")
	firstKeyRE := regexp.MustCompile(`(?m)^- "?interval"?: [^\n]*\n  `)
	intervalRE := regexp.MustCompile(`(?m)^\s+"?interval"?: [^\n]*\n`)
	for _, f := range ruleFiles {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), intervalRE.ReplaceAll(firstKeyRE.ReplaceAll(data, []byte("- ")), nil), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("global:\n  evaluation_interval: 1s\nrule_files:\n  - %s/*.yaml\n", dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freePort(t)
	cmd := exec.Command(prom, "--config.file="+cfg, "--storage.tsdb.path="+data, "--web.listen-address="+addr, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	base := "http://" + addr

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// Wait until every rule group has been evaluated twice (the outage
	// rules read their own previous value).
	evals := map[string]map[string]bool{} // group -> distinct last evaluations seen
	for {
		groups, err := ruleGroups(ctx, base)
		if err == nil && len(groups) > 0 {
			done := true
			for name, last := range groups {
				if last != "" && last != "0001-01-01T00:00:00Z" {
					if evals[name] == nil {
						evals[name] = map[string]bool{}
					}
					evals[name][last] = true
				}
				if len(evals[name]) < 2 {
					done = false
				}
			}
			if done {
				break
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("rule groups were not evaluated: %v (seen %v)", err, evals)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// Each query is retried until it answers or the deadline passes: rule
	// groups evaluate independently, so a series recorded from another
	// group's output may take one more evaluation to appear.
	for _, q := range allQueries(t) {
		var r promResult
		var err error
		for {
			end := float64(time.Now().UnixMilli()) / 1e3
			if q.instant {
				r, err = promQuery(ctx, base, "/api/v1/query", url.Values{"query": {q.expr}, "time": {fmt.Sprintf("%.3f", end)}})
			} else {
				r, err = promQuery(ctx, base, "/api/v1/query_range", url.Values{"query": {q.expr},
					"start": {fmt.Sprintf("%.3f", end-1800)}, "end": {fmt.Sprintf("%.3f", end)}, "step": {"60"}})
			}
			if (err == nil && len(r.Data.Result) > 0) || ctx.Err() != nil {
				break
			}
			time.Sleep(250 * time.Millisecond)
		}
		if err != nil {
			t.Errorf("%s / %s: %v\n  %s", q.file, q.panel, err, q.expr)
			continue
		}
		if len(r.Data.Result) == 0 {
			t.Errorf("%s / %s: no data\n  %s", q.file, q.panel, q.expr)
		}
	}
}

// ruleGroups returns each rule group's last evaluation time.
func ruleGroups(ctx context.Context, base string) (map[string]string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/rules", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r struct {
		Data struct {
			Groups []struct {
				Name           string `json:"name"`
				LastEvaluation string `json:"lastEvaluation"`
			} `json:"groups"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, g := range r.Data.Groups {
		out[g.Name] = g.LastEvaluation
	}
	return out, nil
}
