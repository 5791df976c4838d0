package report

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bosaimail/bosaimail_exporter/internal/testkit/reporttest"
)

// databaseScenario is October 2026 (JST) of one database server db1, one
// sample every 10 minutes, in the label sets of node_exporter,
// postgres_exporter and the exporter's jobs collector:
//   - /var/lib/postgresql (100 GB) has 60 GB free on October 1st and loses
//     1 GB a day: 29 GB free on November 1st, full on November 30th;
//   - / (20 GB) stays at 10 GB free: no forecast; tmpfs is not watched;
//   - databases bosai (10 GB + 0.5 GB a day) and logs (2 GB + 0.25 GB a
//     day) grow 0.75 GB a day together: the 29 GB last 38 2/3 days, full
//     on December 9th 16:00;
//   - db-integrity runs daily at 03:30 and fails on October 14th (exit 2);
//     db-vacuum is not an integrity check.
func databaseScenario() string {
	var b strings.Builder
	start := jstAt(2026, 9, 30, 23, 0, 0)
	end := jstAt(2026, 11, 1, 1, 0, 0)
	oct1 := jstAt(2026, 10, 1, 0, 0, 0)
	days := func(t time.Time) float64 { return t.Sub(oct1).Hours() / 24 }
	series := func(name, labels string, value func(t time.Time) float64) {
		fmt.Fprintf(&b, "# TYPE %s gauge\n", name)
		for t := start; t.Before(end); t = t.Add(10 * time.Minute) {
			fmt.Fprintf(&b, "%s{%s} %g %d\n", name, labels, value(t), t.Unix())
		}
	}
	const pgdata = `job="node",instance="db1:9100",device="/dev/vdb",fstype="ext4",mountpoint="/var/lib/postgresql"`
	const root = `job="node",instance="db1:9100",device="/dev/vda1",fstype="ext4",mountpoint="/"`
	const run = `job="node",instance="db1:9100",device="tmpfs",fstype="tmpfs",mountpoint="/run"`
	series("node_filesystem_size_bytes", pgdata, func(time.Time) float64 { return 100e9 })
	series("node_filesystem_avail_bytes", pgdata, func(t time.Time) float64 { return 60e9 - 1e9*days(t) })
	series("node_filesystem_size_bytes", root, func(time.Time) float64 { return 20e9 })
	series("node_filesystem_avail_bytes", root, func(time.Time) float64 { return 10e9 })
	series("node_filesystem_size_bytes", run, func(time.Time) float64 { return 1e9 })
	series("node_filesystem_avail_bytes", run, func(t time.Time) float64 { return 1e9 - 1e6*days(t) })
	series("pg_database_size_bytes", `job="postgres",instance="db1:9187",server="127.0.0.1:5432",datname="bosai"`, func(t time.Time) float64 { return 10e9 + 0.5e9*days(t) })
	series("pg_database_size_bytes", `job="postgres",instance="db1:9187",server="127.0.0.1:5432",datname="logs"`, func(t time.Time) float64 { return 2e9 + 0.25e9*days(t) })

	// The latest run of a daily 03:30 job at t.
	lastRun := func(t time.Time) time.Time {
		d := time.Date(t.Year(), t.Month(), t.Day(), 3, 30, 0, 0, t.Location())
		if t.Before(d) {
			d = d.AddDate(0, 0, -1)
		}
		return d
	}
	failed := jstAt(2026, 10, 14, 3, 30, 0)
	for _, job := range []string{"db-integrity", "db-vacuum"} {
		l := fmt.Sprintf(`job="bosaimail",instance="ex:9742",job_name=%q`, job)
		fails := func(t time.Time) bool { return job == "db-integrity" && lastRun(t.In(failed.Location())).Equal(failed) }
		series("bosaimail_job_last_run_timestamp_seconds", l, func(t time.Time) float64 { return float64(lastRun(t.In(failed.Location())).Unix()) })
		series("bosaimail_job_last_run_success", l, func(t time.Time) float64 {
			if fails(t) || job == "db-vacuum" {
				return 0
			}
			return 1
		})
		series("bosaimail_job_last_exit_code", l, func(t time.Time) float64 {
			if fails(t) {
				return 2
			}
			return 0
		})
		series("bosaimail_job_last_success_timestamp_seconds", l, func(t time.Time) float64 {
			r := lastRun(t.In(failed.Location()))
			if fails(t) {
				r = r.AddDate(0, 0, -1)
			}
			return float64(r.Unix())
		})
		series("bosaimail_job_next_due_timestamp_seconds", l, func(t time.Time) float64 {
			return float64(lastRun(t.In(failed.Location())).Add(25 * time.Hour).Unix())
		})
	}
	b.WriteString("# EOF\n")
	return b.String()
}

// startScenarioPrometheus backfills a real Prometheus with om and returns
// its URL; it is stopped when the test ends.
func startScenarioPrometheus(t *testing.T, om string) string {
	t.Helper()
	promtool, prometheus := reporttest.Tool(t, "promtool"), reporttest.Tool(t, "prometheus")
	dir := t.TempDir()
	omPath, data := filepath.Join(dir, "scenario.om"), filepath.Join(dir, "data")
	if err := os.WriteFile(omPath, []byte(om), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "tsdb", "create-blocks-from", "openmetrics", "--quiet", "--max-block-duration=1458h", omPath, data).CombinedOutput(); err != nil {
		t.Fatalf("promtool backfill: %v\n%s", err, out)
	}
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte("global:\n  scrape_interval: 1m\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(prometheus, "--config.file="+cfg, "--storage.tsdb.path="+data, "--web.listen-address="+addr,
		"--storage.tsdb.retention.time=100y", "--storage.tsdb.min-block-duration=2h", "--storage.tsdb.max-block-duration=2h", "--log.level=warn")
	logs := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	url := "http://" + addr
	deadline := time.Now().Add(90 * time.Second)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := client.Get(url + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return url
			}
		}
		select {
		case <-done:
			t.Fatalf("prometheus exited: %s", logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestDatabaseSections(t *testing.T) {
	url := startScenarioPrometheus(t, databaseScenario())
	q, err := NewQuerier(url, nil, time.Minute, 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	month := jstAt(2026, 10, 1, 0, 0, 0)
	g := NewGrid(month, jstAt(2026, 11, 1, 0, 0, 0))
	r := &Report{Month: month, MonthEnd: g.End(), Selector: `job="bosaimail"`}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := r.database(ctx, q, DatabaseOptions{}, g); err != nil {
		t.Fatal(err)
	}

	near := func(what string, got, want float64) {
		t.Helper()
		if math.IsNaN(want) != math.IsNaN(got) || (!math.IsNaN(want) && math.Abs(got-want) > 1e-6*math.Max(1, math.Abs(want))) {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	nearTime := func(what string, got, want time.Time) {
		t.Helper()
		if want.IsZero() != got.IsZero() || got.Sub(want).Abs() > time.Minute {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	type want struct {
		kind, instance, name   string
		size, start, end, free float64
		fullAt                 time.Time
	}
	wants := []want{
		{"volume", "db1:9100", "/", 20e9, 10e9, 10e9, 10e9, time.Time{}},
		{"volume", "db1:9100", "/var/lib/postgresql", 100e9, 40e9, 71e9, 29e9, jstAt(2026, 11, 30, 0, 0, 0)},
		{"database", "db1:9187", "bosai", math.NaN(), 10e9, 25.5e9, 29e9, jstAt(2026, 12, 9, 16, 0, 0)},
		{"database", "db1:9187", "logs", math.NaN(), 2e9, 9.75e9, 29e9, jstAt(2026, 12, 9, 16, 0, 0)},
	}
	if len(r.Capacity) != len(wants) {
		t.Fatalf("capacity rows %+v, want %d rows", r.Capacity, len(wants))
	}
	for i, w := range wants {
		c := r.Capacity[i]
		if c.Kind != w.kind || c.Instance != w.instance || c.Name != w.name || c.Host != "db1" {
			t.Errorf("row %d: %s %s %s (host %s), want %s %s %s (host db1)", i, c.Kind, c.Instance, c.Name, c.Host, w.kind, w.instance, w.name)
			continue
		}
		near(w.name+" size", c.Size, w.size)
		near(w.name+" start", c.Start, w.start)
		near(w.name+" end", c.End, w.end)
		near(w.name+" free", c.Free, w.free)
		nearTime(w.name+" full", c.FullAt, w.fullAt)
	}

	if len(r.DBIntegrity) != 1 {
		t.Fatalf("database integrity checks %+v, want db-integrity only", r.DBIntegrity)
	}
	f := r.DBIntegrity[0]
	if f.Job != "db-integrity" || f.Runs != 31 || f.Failures != 1 || f.Overdue != 0 || len(f.Failed) != 1 ||
		!f.Failed[0].At.Equal(jstAt(2026, 10, 14, 3, 30, 0)) || f.Failed[0].ExitCode != 2 || !f.LastSuccess.Equal(jstAt(2026, 10, 31, 3, 30, 0)) {
		t.Errorf("db-integrity: %+v", f)
	}

	// The sections as printed.
	var md strings.Builder
	if err := r.WriteMarkdown(&md, []Section{r.capacitySection(), r.integritySection(), r.summary()}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		"| db1:9100 | /var/lib/postgresql | 100 | 40 | 71 | 31 | 29 | 2026-11-30 |",
		"| db1:9100 | / | 20 | 10 | 10 | 0 | 10 | 増加なし |",
		"| db1:9187 | bosai | 10 | 25.5 | 15.5 | 29 | 2026-12-09 |",
		"| db-integrity | 31 | 1 | 0 | 2026-10-31 03:30 | 2026-10-14 03:30（終了コード 2） |",
		"| データ完全性 | 未達（完全性を担保できない事象 0 件が要件） |",
	} {
		if !strings.Contains(md.String(), s) {
			t.Errorf("markdown lacks %q:\n%s", s, md.String())
		}
	}
}

func TestDatabaseOptionsCheck(t *testing.T) {
	for _, o := range []DatabaseOptions{
		{HostFromInstance: "(", IntegrityJobs: "x", DatabaseVolumeMountpoints: []string{"/"}},
		{HostFromInstance: "(.*)", IntegrityJobs: "[", DatabaseVolumeMountpoints: []string{"/"}},
		{HostFromInstance: "(.*)", IntegrityJobs: "x"},
	} {
		if err := o.Check(); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
	if err := DefaultDatabaseOptions().Check(); err != nil {
		t.Error(err)
	}
}
