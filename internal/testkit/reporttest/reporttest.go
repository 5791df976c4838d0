// Package reporttest runs a real Prometheus for the report's tests: its
// TSDB is backfilled with `promtool tsdb create-blocks-from openmetrics`
// from a known scenario (a contract year with outages, planned stops,
// unobserved minutes, alerts, jobs, integrity checks and security feeds).
// Only tests import it.
package reporttest

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bosaimail/bosaimail_exporter/config"
)

// BinDir finds the pinned tools: $BOSAIMAIL_BIN, else bin/ of the repo.
func BinDir(t testing.TB) string {
	if d := os.Getenv("BOSAIMAIL_BIN"); d != "" {
		return d
	}
	return filepath.Join(RepoRoot(t), "bin")
}

// RepoRoot is the directory of go.mod above the test's directory.
func RepoRoot(t testing.TB) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}

// Tool returns the path of a pinned tool; without it the test is skipped,
// except under CI where a missing tool fails.
func Tool(t testing.TB, name string) string {
	p := filepath.Join(BinDir(t), name)
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is missing (%v): run make tools", name, err)
		}
		t.Skipf("%s is missing (%v): run make tools", name, err)
	}
	return p
}

func JST(y int, m time.Month, d, h, mi, s int) time.Time {
	return time.Date(y, m, d, h, mi, s, 0, config.Tokyo)
}

// OM accumulates OpenMetrics families for a backfill; samples of one
// family must be contiguous and of one series in time order.
type OM = omWriter

// Series adds one series of family with the given labels (`a="b",c="d"`):
// a sample every step in [from, to) where value says so.
func (w *omWriter) Series(family, labels string, from, to time.Time, step time.Duration, value func(t time.Time) (float64, bool)) {
	w.series(family, labels, from, to, step, value)
}

type omWriter struct {
	families map[string][]string
	order    []string
}

func (w *omWriter) series(family, labels string, from, to time.Time, step time.Duration, value func(t time.Time) (float64, bool)) {
	if w.families == nil {
		w.families = map[string][]string{}
	}
	if _, ok := w.families[family]; !ok {
		w.order = append(w.order, family)
	}
	var b strings.Builder
	for t := from; t.Before(to); t = t.Add(step) {
		v, ok := value(t)
		if !ok {
			continue
		}
		fmt.Fprintf(&b, "%s{%s} %s %s\n", family, labels, strconv.FormatFloat(v, 'f', -1, 64), strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', -1, 64))
	}
	w.families[family] = append(w.families[family], b.String())
}

func (w *omWriter) write(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	for _, fam := range w.order {
		fmt.Fprintf(bw, "# TYPE %s gauge\n", fam)
		for _, s := range w.families[fam] {
			bw.WriteString(s)
		}
	}
	bw.WriteString("# EOF\n")
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// in tells whether t is in [from, to).
func in(t, from, to time.Time) bool { return !t.Before(from) && t.Before(to) }

// window is a stretch of time with data.
type window struct{ from, to time.Time }

// Scenario times (JST). The expected figures in report_test.go are worked
// out by hand from these.
var (
	octData = window{JST(2026, 9, 30, 23, 0, 0), JST(2026, 11, 1, 1, 0, 0)}
	// Monitoring began on 1 July: April to June are 判定保留.
	allData  = window{JST(2026, 7, 1, 0, 0, 0), octData.to}
	dense    = window{JST(2026, 10, 3, 0, 0, 0), JST(2026, 10, 4, 0, 0, 0)} // 15 s scrapes
	exporter = window{JST(2026, 10, 20, 10, 0, 0), JST(2026, 10, 20, 10, 45, 0)}
)

// scrapeTimes yields the check sample times of the scenario: every minute,
// every 15 s on the dense day.
func checkSeries(w *omWriter, labels string, win window, value func(t time.Time) float64) {
	w.series("bosaimail_check_up", labels, win.from, win.to, 15*time.Second, func(t time.Time) (float64, bool) {
		if t.Second() != 0 && !in(t, dense.from, dense.to) {
			return 0, false
		}
		if in(t, exporter.from, exporter.to) {
			return 0, false
		}
		return value(t), true
	})
}

func down(t time.Time, spans ...window) bool {
	for _, s := range spans {
		if in(t, s.from, s.to) {
			return true
		}
	}
	return false
}

func w(y int, m time.Month, d, h, mi, s, h2, mi2, s2 int) window {
	return window{JST(y, m, d, h, mi, s), JST(y, m, d, h2, mi2, s2)}
}

func buildScenario(path string) error {
	om := &omWriter{}
	// mail: both instances down (outages).
	mailBoth := []window{
		w(2026, 10, 3, 14, 5, 0, 14, 35, 0),                        // 30 min
		w(2026, 10, 3, 14, 38, 30, 14, 38, 31),                     // one failed probe: a 瞬断
		w(2026, 10, 8, 2, 10, 0, 3, 50, 0),                         // inside the planned stop
		w(2026, 10, 12, 3, 10, 0, 4, 40, 0),                        // 90 min, exempt by range
		w(2026, 10, 25, 18, 0, 0, 18, 7, 0),                        // 7 min
		w(2026, 10, 25, 18, 15, 0, 18, 20, 0),                      // 5 min, 8 min later: separate
		{JST(2026, 10, 31, 23, 50, 0), JST(2026, 11, 1, 0, 10, 0)}, // 10 min in October
		w(2026, 7, 15, 12, 0, 0, 12, 10, 0),                        // July: 10 min
		w(2026, 9, 2, 10, 0, 0, 10, 20, 0),                         // September: 20 min, exempt by incident id
	}
	// mail: one instance only (not an outage).
	mailA := []window{
		w(2026, 10, 3, 14, 50, 15, 14, 50, 16),
		w(2026, 10, 25, 9, 0, 0, 9, 20, 0),
	}
	for _, win := range []window{allData} {
		for _, inst := range []string{"a", "b"} {
			for _, check := range []string{"smtp", "roundtrip"} {
				labels := fmt.Sprintf(`job="bosaimail",instance="%s:9742",service="mail",check="%s",kind="%s",critical="true"`, inst, check, check)
				checkSeries(om, labels, win, func(t time.Time) float64 {
					// The merged single failure is seen by roundtrip only.
					if check == "smtp" && in(t, mailBoth[1].from, mailBoth[1].to) {
						return 1
					}
					if down(t, mailBoth...) || (inst == "a" && down(t, mailA...)) {
						return 0
					}
					return 1
				})
			}
		}
		checkSeries(om, `job="bosaimail",instance="a:9742",service="web",check="https",kind="http",critical="true"`, win, func(t time.Time) float64 {
			// Oct 22 01:20-01:25 is inside the unapproved window: a 停止.
			if down(t, w(2026, 10, 18, 12, 0, 0, 12, 3, 0), w(2026, 10, 22, 1, 20, 0, 1, 25, 0)) {
				return 0
			}
			return 1
		})
	}
	// A non-critical check failing all the dense day must not count.
	checkSeries(om, `job="bosaimail",instance="a:9742",service="mail",check="web-status",kind="http",critical="false"`, dense, func(time.Time) float64 { return 0 })
	// Another job's series must not count either.
	checkSeries(om, `job="other",instance="x:9742",service="mail",check="smtp",kind="smtp",critical="true"`, dense, func(time.Time) float64 { return 0 })

	maint := w(2026, 10, 8, 2, 0, 0, 4, 0, 0)
	// Approved: the exporter says who approved it while it is active. The
	// web window of Oct 22 has no approval: listed, excludes nothing.
	om.series("bosaimail_maintenance_window_info", `job="bosaimail",instance="a:9742",service="mail",window="os-patch",approved_by="三重県防災対策部災害対策課",approved_on="2026-10-01"`, maint.from, maint.to, time.Minute, func(time.Time) (float64, bool) { return 1, true })
	unapproved := w(2026, 10, 22, 1, 0, 0, 2, 0, 0)
	om.series("bosaimail_maintenance_unapproved_active", `job="bosaimail",instance="a:9742",service="web"`, octData.from, octData.to, time.Minute, func(t time.Time) (float64, bool) {
		if in(t, exporter.from, exporter.to) {
			return 0, false
		}
		if in(t, unapproved.from, unapproved.to) {
			return 1, true
		}
		return 0, true
	})
	for _, win := range []window{allData} {
		for _, svc := range []string{"mail", "web"} {
			om.series("bosaimail_maintenance_active", fmt.Sprintf(`job="bosaimail",instance="a:9742",service="%s"`, svc), win.from, win.to, time.Minute, func(t time.Time) (float64, bool) {
				if in(t, exporter.from, exporter.to) {
					return 0, false
				}
				if svc == "mail" && in(t, maint.from, maint.to) {
					return 1, true
				}
				return 0, true
			})
		}
	}

	alert := func(labels string, win window) {
		om.series("ALERTS", labels, win.from, win.to, time.Minute, func(time.Time) (float64, bool) { return 1, true })
	}
	alert(`alertname="BosaiMailServiceDown",alertstate="firing",service="mail",severity="critical",responsible="contractor"`, w(2026, 10, 3, 14, 7, 0, 14, 41, 0))
	alert(`alertname="BosaiMailServiceDown",alertstate="firing",service="mail",severity="critical",responsible="network"`, w(2026, 10, 12, 3, 12, 0, 4, 42, 0))
	alert(`alertname="BosaiMailJobFailed",alertstate="firing",job_name="backup-db",severity="warning",responsible="contractor"`, w(2026, 10, 14, 3, 10, 0, 9, 0, 0))
	alert(`alertname="BosaiMailMaintenanceActive",alertstate="firing",service="mail",severity="info",responsible="contractor"`, maint)
	alert(`alertname="BosaiMailCheckFailing",alertstate="pending",service="web",check="https",severity="warning",responsible="contractor"`, w(2026, 10, 18, 12, 0, 0, 12, 2, 0))
	alert(`alertname="BosaiMailCheckFailing",alertstate="firing",service="web",check="https",severity="warning",responsible="contractor"`, w(2026, 10, 18, 12, 2, 0, 12, 4, 0))
	alert(`alertname="BosaiMailServiceDown",alertstate="firing",service="mail",severity="critical",responsible="contractor"`, w(2026, 7, 15, 12, 2, 0, 12, 10, 0))
	alert(`alertname="BosaiMailServiceDown",alertstate="firing",service="mail",severity="critical",responsible="cloud"`, w(2026, 9, 2, 10, 2, 0, 10, 20, 0))
	alert(`alertname="Watchdog",alertstate="firing",severity="none"`, octData)

	// State gauges every two minutes (read with Prometheus' lookback).
	gauge := func(family, labels string, value func(t time.Time) float64) {
		om.series(family, `job="bosaimail",instance="a:9742",`+labels, octData.from, octData.to, 2*time.Minute, func(t time.Time) (float64, bool) {
			if in(t, exporter.from, exporter.to) {
				return 0, false
			}
			return value(t), true
		})
	}
	// backup-db runs daily at 03:00 and reports at 03:05; on Oct 20 it ran
	// late, at 06:30 (reported 06:35). Due: the next day 04:00.
	var runs []time.Time
	for d := JST(2026, 9, 29, 3, 0, 0); d.Before(octData.to); d = d.AddDate(0, 0, 1) {
		if d.Month() == 10 && d.Day() == 20 {
			runs = append(runs, d.Add(210*time.Minute))
			continue
		}
		runs = append(runs, d)
	}
	lastRun := func(t time.Time) time.Time {
		last := runs[0]
		for _, r := range runs {
			if !r.Add(5 * time.Minute).After(t) {
				last = r
			}
		}
		return last
	}
	failed := func(run time.Time) bool { return run.Month() == 10 && run.Day() == 14 }
	job := `job_name="backup-db"`
	gauge("bosaimail_job_last_run_timestamp_seconds", job, func(t time.Time) float64 { return float64(lastRun(t).Unix()) })
	gauge("bosaimail_job_last_run_success", job, func(t time.Time) float64 {
		if failed(lastRun(t)) {
			return 0
		}
		return 1
	})
	gauge("bosaimail_job_last_success_timestamp_seconds", job, func(t time.Time) float64 {
		r := lastRun(t)
		if failed(r) {
			r = r.AddDate(0, 0, -1)
		}
		return float64(r.Unix())
	})
	gauge("bosaimail_job_last_duration_seconds", job, func(t time.Time) float64 {
		if r := lastRun(t); r.Month() == 10 && r.Day() == 9 {
			return 900
		}
		return 300
	})
	gauge("bosaimail_job_next_due_timestamp_seconds", job, func(t time.Time) float64 {
		r := lastRun(t)
		return float64(time.Date(r.Year(), r.Month(), r.Day()+1, 4, 0, 0, 0, config.Tokyo).Unix())
	})

	// Integrity every 6 hours; the Oct 22 12:00 check found 3 mismatches,
	// fixed by the 18:00 check.
	lastCheck := func(t time.Time) time.Time {
		return time.Date(t.Year(), t.Month(), t.Day(), t.Hour()/6*6, 0, 0, 0, config.Tokyo)
	}
	bad := func(t time.Time) bool { c := lastCheck(t); return c.Equal(JST(2026, 10, 22, 12, 0, 0)) }
	ds := `dataset="subscribers"`
	gauge("bosaimail_integrity_last_check_timestamp_seconds", ds, func(t time.Time) float64 { return float64(lastCheck(t).Unix()) })
	gauge("bosaimail_integrity_verified", ds, func(t time.Time) float64 {
		if bad(t) {
			return 0
		}
		return 1
	})
	gauge("bosaimail_integrity_mismatches", ds, func(t time.Time) float64 {
		if bad(t) {
			return 3
		}
		return 0
	})
	lastBackup := func(t time.Time) time.Time {
		b := time.Date(t.Year(), t.Month(), t.Day(), 3, 5, 0, 0, config.Tokyo)
		if b.After(t) {
			b = b.AddDate(0, 0, -1)
		}
		return b
	}
	gauge("bosaimail_backup_last_timestamp_seconds", `backup="db-daily"`, func(t time.Time) float64 { return float64(lastBackup(t).Unix()) })
	gauge("bosaimail_backup_size_bytes", `backup="db-daily"`, func(time.Time) float64 { return 1.5e9 })

	gauge("bosaimail_security_advisories", `product="postfix",severity="high",source="jvn"`, func(t time.Time) float64 {
		switch {
		case t.Before(JST(2026, 10, 5, 9, 0, 0)):
			return 0
		case t.Before(JST(2026, 10, 10, 0, 0, 0)):
			return 2
		case t.Before(JST(2026, 10, 28, 0, 0, 0)):
			return 1
		}
		return 0
	})
	gauge("bosaimail_security_advisories", `product="openssl",severity="critical",source="nvd"`, func(time.Time) float64 { return 1 })
	gauge("bosaimail_security_known_exploited", `product="openssl"`, func(time.Time) float64 { return 0 })
	// Signatures every 4 hours, none from Oct 16 00:00 to Oct 17 12:00.
	gauge("bosaimail_antivirus_signature_timestamp_seconds", `engine="clamav"`, func(t time.Time) float64 {
		u := time.Date(t.Year(), t.Month(), t.Day(), t.Hour()/4*4, 0, 0, 0, config.Tokyo)
		if in(u, JST(2026, 10, 16, 0, 0, 0), JST(2026, 10, 17, 12, 0, 0)) {
			u = JST(2026, 10, 16, 0, 0, 0)
		}
		return float64(u.Unix())
	})
	return om.write(path)
}

// WriteScenario writes the scenario as OpenMetrics to path (what Start
// backfills), for tests that feed the same data to another engine.
func WriteScenario(path string) error { return buildScenario(path) }

// ScenarioOctober is the October data of the scenario (with its lead-in
// hour on Sep 30 and the first hour of November).
func ScenarioOctober() (from, to time.Time) { return octData.from, octData.to }

// promServer is the running Prometheus.
type promServer struct {
	url  string
	cmd  *exec.Cmd
	logs *os.File
}

var (
	promOnce sync.Once
	prom     *promServer
	promErr  error
	others   []*promServer
	othersMu sync.Mutex
)

// StartWith backfills what build writes into a Prometheus of its own and
// starts it (stopped by Stop); it returns the base URL.
func StartWith(t testing.TB, build func(w *OM) error) string {
	promtool, prometheus := Tool(t, "promtool"), Tool(t, "prometheus")
	p, err := launch(promtool, prometheus, func(path string) error {
		w := &omWriter{}
		if err := build(w); err != nil {
			return err
		}
		return w.write(path)
	})
	if err != nil {
		t.Fatal(err)
	}
	othersMu.Lock()
	others = append(others, p)
	othersMu.Unlock()
	return p.url
}

// Start backfills the scenario and starts Prometheus on it, once
// for all tests of the package; TestMain calls Stop.
func Start(t testing.TB) string {
	promtool, prometheus := Tool(t, "promtool"), Tool(t, "prometheus")
	promOnce.Do(func() { prom, promErr = launch(promtool, prometheus, buildScenario) })
	if promErr != nil {
		t.Fatal(promErr)
	}
	return prom.url
}

func launch(promtool, prometheus string, buildScenario func(string) error) (*promServer, error) {
	dir, err := os.MkdirTemp("", "bosaimail-report-prom-")
	if err != nil {
		return nil, err
	}
	tmpDirs = append(tmpDirs, dir)
	om := filepath.Join(dir, "scenario.om")
	t0 := time.Now()
	if err := buildScenario(om); err != nil {
		return nil, err
	}
	t1 := time.Now()
	data := filepath.Join(dir, "data")
	// Large blocks: promtool reads the whole input once per block.
	out, err := exec.Command(promtool, "tsdb", "create-blocks-from", "openmetrics", "--quiet", "--max-block-duration=1458h", om, data).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("promtool backfill: %v\n%s", err, out)
	}
	os.Remove(om)
	fmt.Fprintf(os.Stderr, "scenario generated in %s, backfilled in %s\n", t1.Sub(t0).Round(time.Millisecond), time.Since(t1).Round(time.Millisecond))
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte("global:\n  scrape_interval: 1m\n"), 0o644); err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	logs, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(prometheus,
		"--config.file="+cfg, "--storage.tsdb.path="+data, "--web.listen-address="+addr,
		"--storage.tsdb.retention.time=100y",
		// Keep the backfilled 2h blocks as they are: no compaction work
		// on the shared test machine.
		"--storage.tsdb.min-block-duration=2h", "--storage.tsdb.max-block-duration=2h",
		"--log.level=warn")
	cmd.Stdout, cmd.Stderr = logs, logs
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &promServer{url: "http://" + addr, cmd: cmd, logs: logs}
	deadline := time.Now().Add(90 * time.Second)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := client.Get(p.url + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		if time.Now().After(deadline) {
			p.stop()
			b, _ := os.ReadFile(logs.Name())
			return nil, fmt.Errorf("prometheus not ready after 90s: %v\n%s", err, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var tmpDirs []string

func (p *promServer) stop() {
	if p == nil || p.cmd.Process == nil {
		return
	}
	p.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-done
	}
	p.logs.Close()
}

// Stop stops Prometheus and removes its data.
func Stop() {
	prom.stop()
	for _, p := range others {
		p.stop()
	}
	for _, d := range tmpDirs {
		os.RemoveAll(d)
	}
}
