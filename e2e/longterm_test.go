package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bosaimail/bosaimail_exporter/config"
	"github.com/bosaimail/bosaimail_exporter/e2e/stack"
	"github.com/bosaimail/bosaimail_exporter/internal/app/report"
	"github.com/bosaimail/bosaimail_exporter/internal/testkit/testbin"
)

// ltSpan is a stretch of time, [from, to).
type ltSpan struct{ from, to time.Time }

func (s ltSpan) has(t time.Time) bool { return !t.Before(s.from) && t.Before(s.to) }

// ltData writes one replica's samples of a scenario in the Prometheus text
// format with millisecond timestamps (what VictoriaMetrics imports) and in
// OpenMetrics (what promtool backfills into Prometheus): the critical check
// of service mail from one exporter and its maintenance series, every 15 s
// at the replica's phase, nothing inside the replica's gaps. The check is
// down inside downs. Series carry no replica label: the replicas'
// remote_write drops it (examples/prometheus.yml).
func ltData(job string, day ltSpan, phase time.Duration, downs, gaps []ltSpan) (text, om string) {
	var tb, ob strings.Builder
	for _, fam := range []string{"bosaimail_check_up", "bosaimail_maintenance_active"} {
		fmt.Fprintf(&ob, "# TYPE %s gauge\n", fam)
		for t := day.from.Add(phase); t.Before(day.to); t = t.Add(15 * time.Second) {
			skip := false
			for _, g := range gaps {
				skip = skip || g.has(t)
			}
			if skip {
				continue
			}
			v := 0
			labels := fmt.Sprintf(`job=%q,instance="mon1:9742",service="mail"`, job)
			if fam == "bosaimail_check_up" {
				labels += `,check="smtp",kind="smtp",critical="true"`
				v = 1
				for _, d := range downs {
					if d.has(t) {
						v = 0
					}
				}
			}
			fmt.Fprintf(&tb, "%s{%s} %d %d\n", fam, labels, v, t.UnixMilli())
			fmt.Fprintf(&ob, "%s{%s} %d %s\n", fam, labels, v, strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', -1, 64))
		}
	}
	return tb.String(), ob.String()
}

// TestLongTermStore: both replicas write to VictoriaMetrics, which
// deduplicates them (-dedup.minScrapeInterval at the scrape interval). A
// gap in one replica is then filled from the other: the monthly report
// from the store, with replica b missing 50 minutes, has the same figures
// as with no gap; and the same as a Prometheus holding one complete replica
// (the report tool runs unchanged against the store). Replica b alone with
// its gap shows the gap: the comparison can fail.
func TestLongTermStore(t *testing.T) {
	haOnly(t)
	tools := toolsDir(t, "victoria-metrics", "prometheus", "promtool")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := t.TempDir()
	bin := t.TempDir()
	if err := testbin.Build(bin, "./cmd/bosaimail_report"); err != nil {
		t.Fatal(err)
	}

	// The last whole month, so the report accepts it.
	month := report.PreviousMonth(time.Now())
	jst := func(d, h, m, s int) time.Time {
		return time.Date(month.Year(), month.Month(), d, h, m, s, 0, config.Tokyo)
	}
	day := ltSpan{jst(10, 9, 0, 0), jst(10, 15, 0, 0)}
	downs := []ltSpan{{jst(10, 10, 5, 10), jst(10, 10, 35, 40)}, {jst(10, 12, 0, 20), jst(10, 12, 3, 50)}}
	gap := []ltSpan{{jst(10, 10, 20, 0), jst(10, 11, 10, 0)}}
	// The replicas scrape at different phases; within each 15 s the store
	// keeps the later sample, b's, wherever b has one.
	aFull, _ := ltData("gapped", day, 0, downs, nil)
	bGap, _ := ltData("gapped", day, 7*time.Second, downs, gap)
	aFull2, _ := ltData("full", day, 0, downs, nil)
	bFull, _ := ltData("full", day, 7*time.Second, downs, nil)
	bAlone, _ := ltData("alone", day, 7*time.Second, downs, gap)
	_, bOM := ltData("full", day, 7*time.Second, downs, nil)

	vm := startTool(ctx, t, filepath.Join(tools, "victoria-metrics"), dir, "victoria-metrics", "/health",
		func(listen string) []string {
			return stack.VictoriaMetricsArgs(filepath.Join(dir, "vm"), listen, 15*time.Second)
		})
	for _, data := range []string{aFull, bGap, aFull2, bFull, bAlone} {
		post(ctx, t, vm+"/api/v1/import/prometheus", data)
	}
	post(ctx, t, vm+"/internal/force_flush", "")

	// Prometheus with replica b complete, backfilled.
	om := filepath.Join(dir, "b.om")
	if err := os.WriteFile(om, []byte(bOM+"# EOF\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(filepath.Join(tools, "promtool"), "tsdb", "create-blocks-from", "openmetrics", "--quiet", om, filepath.Join(dir, "prom")).CombinedOutput(); err != nil {
		t.Fatalf("promtool backfill: %v\n%s", err, out)
	}
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte("global:\n  scrape_interval: 15s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	prom := startTool(ctx, t, filepath.Join(tools, "prometheus"), dir, "prometheus", "/-/ready", func(listen string) []string {
		return []string{"--config.file=" + cfg, "--storage.tsdb.path=" + filepath.Join(dir, "prom"),
			"--storage.tsdb.retention.time=100y", "--web.listen-address=" + listen, "--log.level=warn"}
	})

	figures := func(url, job string) string {
		t.Helper()
		q, err := report.NewQuerier(url, nil, time.Minute, 64<<20)
		if err != nil {
			t.Fatal(err)
		}
		r, err := report.Build(ctx, q, report.Options{
			Month: month, Selector: fmt.Sprintf("job=%q", job), MergeWindow: 5 * time.Minute,
			Target: 0.995, MaxOutages: 3, AntivirusMaxAge: 24 * time.Hour,
			Now: func() time.Time { return month.AddDate(0, 1, 1) },
		})
		if err != nil {
			t.Fatalf("report from %s (%s): %v", url, job, err)
		}
		var b strings.Builder
		for _, s := range r.Services {
			fmt.Fprintf(&b, "service %s: minutes %d up %d down %d stop %d planned %d unobserved %d blip %d outages %d\n",
				s.Service, s.Minutes, s.Up, s.Down, s.Stop, s.Planned, s.Unobserved, s.Blip, s.Outages)
		}
		for _, o := range r.Outages {
			fmt.Fprintf(&b, "outage %s %s-%s down %d\n", o.Service, o.Start.Format(time.DateTime), o.End.Format(time.DateTime), o.Down)
		}
		for _, g := range r.Unobserved {
			fmt.Fprintf(&b, "gap %s %s-%s\n", g.Service, g.Start.Format(time.DateTime), g.End.Format(time.DateTime))
		}
		return b.String()
	}
	want := figures(prom, "full")
	t.Logf("report from Prometheus, one complete replica:\n%s", want)
	if !strings.Contains(want, "outage mail") {
		t.Fatalf("the scenario's outages are not in the report:\n%s", want)
	}
	// The store's own answer with both replicas complete is the reference
	// for the gap: VictoriaMetrics' range functions place a minute's edge
	// samples differently from Prometheus, which can move one edge minute
	// of a down between 瞬断 and 停止 (logged, not asserted here).
	full := figures(vm, "full")
	if full != want {
		t.Logf("report from VictoriaMetrics, both replicas complete, differs from Prometheus at a minute's edge:\n%s", full)
	}
	if got := figures(vm, "gapped"); got != full {
		t.Errorf("report from VictoriaMetrics with a 50-minute gap in replica b differs from the one without:\n%s\nwant:\n%s", got, full)
	}
	if got := figures(vm, "alone"); got == full {
		t.Errorf("replica b alone, with its gap, gives the same figures as with no gap: the comparison proves nothing:\n%s", got)
	}

	// Every dashboard query, unchanged, is answered by the store.
	at := day.to.Add(-time.Minute)
	queries := dashboardQueries(t)
	t.Logf("%d dashboard queries asked of Prometheus and VictoriaMetrics", len(queries))
	for _, q := range queries {
		for _, base := range []string{prom, vm} {
			u := base + "/api/v1/query?" + url.Values{"query": {q}, "time": {strconv.FormatInt(at.Unix(), 10)}}.Encode()
			var res struct {
				Status string `json:"status"`
				Error  string `json:"error"`
			}
			if err := getJSONInto(ctx, u, &res); err != nil || res.Status != "success" {
				t.Errorf("dashboard query %q on %s: %v %s %s", q, base, err, res.Status, res.Error)
			}
		}
	}

	// The report tool itself, unchanged, against the store.
	out := t.TempDir()
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "bosaimail_report"), "--prometheus.url="+vm,
		"--month="+month.Format("2006-01"), `--selector=job="gapped"`, "--format=md", "--out="+out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("bosaimail_report against VictoriaMetrics: %v\n%s", err, b)
	}
	mds, _ := filepath.Glob(filepath.Join(out, "*.md"))
	if len(mds) != 1 {
		t.Fatalf("bosaimail_report wrote %v, want one Markdown report", mds)
	}
}

// dashboardQueries returns every query of the generated dashboards with
// Grafana's variables replaced as a user's first view would have them.
func dashboardQueries(t *testing.T) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(testbin.RepoRoot(), "dashboards", "*.json"))
	if len(files) == 0 {
		t.Fatal("no dashboards/*.json")
	}
	vars := strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$__range", "1h", "$service", ".*", "$instance", ".*")
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, c := range v {
				if s, ok := c.(string); ok && k == "expr" && s != "" {
					out = append(out, vars.Replace(s))
					continue
				}
				walk(c)
			}
		case []any:
			for _, c := range v {
				walk(c)
			}
		}
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d any
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		walk(d)
	}
	return out
}

// startTool runs a server program on a free loopback port until the test
// ends and returns its base URL once ready answers 200.
func startTool(ctx context.Context, t *testing.T, bin, dir, name, ready string, args func(listen string) []string) string {
	t.Helper()
	port := freeTestPort(t)
	listen := fmt.Sprintf("127.0.0.1:%d", port)
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args(listen)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("%s log:\n%s", name, b)
		}
	})
	url := "http://" + listen
	client := &http.Client{Timeout: 2 * time.Second}
	if !poll(ctx, 100*time.Millisecond, func() bool {
		resp, err := client.Get(url + ready)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}) {
		t.Fatalf("%s never became ready", name)
	}
	return url
}

func freeTestPort(t *testing.T) int {
	t.Helper()
	p, err := stack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func post(ctx context.Context, t *testing.T, url, body string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		t.Fatalf("POST %s: HTTP %d: %s", url, resp.StatusCode, b)
	}
}
