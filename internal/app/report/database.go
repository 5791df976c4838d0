package report

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/bosaimail/bosaimail_exporter/config"
)

// DatabaseOptions point the report at the third-party exporters the
// mixin's database and hosts sections read; the defaults are the mixin's
// (_config.postgresSelector, nodeSelector, hostFilesystemSelector,
// hostFromInstance, databaseVolumeMountpoints, databaseIntegrityJobs).
type DatabaseOptions struct {
	// PostgresSelector and NodeSelector select postgres_exporter's and
	// node_exporter's series.
	PostgresSelector, NodeSelector string
	// FilesystemSelector selects the watched filesystems.
	FilesystemSelector string
	// HostFromInstance's first group is the host of an instance label; a
	// database server and its machine share it.
	HostFromInstance string
	// DatabaseVolumeMountpoints: the first of them a host has holds the
	// database.
	DatabaseVolumeMountpoints []string
	// IntegrityJobs matches the job_name of the live-database consistency
	// checks reported through the jobs push API.
	IntegrityJobs string
}

// DefaultDatabaseOptions are the mixin's defaults.
func DefaultDatabaseOptions() DatabaseOptions {
	return DatabaseOptions{
		PostgresSelector:          `job="postgres"`,
		NodeSelector:              `job="node"`,
		FilesystemSelector:        `fstype!~"tmpfs|ramfs|squashfs|overlay|nsfs|fuse.*",mountpoint!~"/run.*|/boot/efi"`,
		HostFromInstance:          `(.*):[0-9]+`,
		DatabaseVolumeMountpoints: []string{"/var/lib/postgresql", "/var/lib/pgsql", "/var/lib", "/var", "/"},
		IntegrityJobs:             `db-integrity.*`,
	}
}

// Check tells what is wrong with the options, naming the option.
func (o DatabaseOptions) Check() error {
	if _, err := regexp.Compile(o.HostFromInstance); err != nil {
		return fmt.Errorf("host-from-instance regex %q: %w", o.HostFromInstance, err)
	}
	if _, err := regexp.Compile("^(?:" + o.IntegrityJobs + ")$"); err != nil {
		return fmt.Errorf("integrity jobs regex %q: %w", o.IntegrityJobs, err)
	}
	if len(o.DatabaseVolumeMountpoints) == 0 {
		return fmt.Errorf("no database volume mountpoint given")
	}
	return nil
}

// CapacityFigures is one watched volume or database over the month (容量).
type CapacityFigures struct {
	// Kind is "volume" or "database".
	Kind string
	// Instance is the exporter's instance; Name the mountpoint or the
	// database name; Host the machine.
	Instance, Name, Host string
	// Size is the volume's size (NaN for a database).
	Size float64
	// Start and End are the bytes used at the month's start and end
	// (NaN when unknown); Free the volume's free bytes at the end.
	Start, End, Free float64
	// Rate is the month's trend in bytes a second (least squares over the
	// month's samples; NaN when unknown).
	Rate float64
	// FullAt is when the volume is full at that trend (zero when it does
	// not grow or nothing is known).
	FullAt time.Time
}

// Growth is the bytes added over the month.
func (c CapacityFigures) Growth() float64 { return c.End - c.Start }

// DBIntegrityFigures is one live-database consistency check over the month.
type DBIntegrityFigures struct {
	Job            string
	Runs, Failures int
	// Overdue is the minutes past the check's due time without a run.
	Overdue     int
	LastSuccess time.Time
	// Failed lists the failed runs (finish time, exit code) of the month.
	Failed []FailedRun
}

// FailedRun is one failed run of a job.
type FailedRun struct {
	At       time.Time
	ExitCode float64 // NaN if not reported
}

// databaseSections is what the database and hosts sections add to Report.
type databaseSections struct {
	Capacity    []CapacityFigures
	DBIntegrity []DBIntegrityFigures
}

// database computes the capacity and live-database integrity figures.
func (r *Report) database(ctx context.Context, q *Querier, o DatabaseOptions, g Grid) error {
	if o.PostgresSelector == "" && o.NodeSelector == "" && o.IntegrityJobs == "" {
		o = DefaultDatabaseOptions()
	}
	if err := o.Check(); err != nil {
		return err
	}
	if err := r.capacity(ctx, q, o, g); err != nil {
		return err
	}
	return r.dbIntegrity(ctx, q, o, g)
}

// monthRange is the whole month as a PromQL range.
func monthRange(g Grid) string { return fmt.Sprintf("%dm", g.N) }

// at evaluates expr at t and keys the results by the given labels.
func (q *Querier) at(ctx context.Context, expr string, t time.Time, labels ...string) (map[string]float64, error) {
	vec, err := q.Instant(ctx, expr, t)
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, s := range vec {
		out[key(s.Metric, labels...)] = float64(s.Value)
	}
	return out, nil
}

func key(m model.Metric, labels ...string) string {
	parts := make([]string, len(labels))
	for i, l := range labels {
		parts[i] = string(m[model.LabelName(l)])
	}
	return strings.Join(parts, "\x00")
}

func lookup(m map[string]float64, k string) float64 {
	if v, ok := m[k]; ok {
		return v
	}
	return math.NaN()
}

// fullAt is when free bytes are used up at rate bytes a second after t.
func fullAt(t time.Time, free, rate float64) time.Time {
	if math.IsNaN(free) || math.IsNaN(rate) || rate <= 0 {
		return time.Time{}
	}
	secs := free / rate
	if secs > 100*365*86400 { // a century away: not a forecast
		return time.Time{}
	}
	return t.Add(time.Duration(secs * float64(time.Second)))
}

func (r *Report) capacity(ctx context.Context, q *Querier, o DatabaseOptions, g Grid) error {
	start, end := g.Start, g.End()
	// The last sample before each instant (an hour of lookback), so the
	// figures are the sizes at 00:00 JST of the first and of the next month.
	last := func(expr string) string { return fmt.Sprintf("last_over_time((%s)[1h:1m])", expr) }
	hostOf := func(expr string) string {
		return fmt.Sprintf(`label_replace(%s, "host", "$1", "instance", %q)`, expr, o.HostFromInstance)
	}

	fs := selector("", o.NodeSelector, o.FilesystemSelector)
	size := strings.Replace(fs, "{", "node_filesystem_size_bytes{", 1)
	avail := strings.Replace(fs, "{", "node_filesystem_avail_bytes{", 1)
	used := fmt.Sprintf("(%s - %s)", size, avail)
	vkeys := []string{"instance", "mountpoint"}
	vStart, err := q.at(ctx, last(used), start, vkeys...)
	if err != nil {
		return err
	}
	vEnd, err := q.at(ctx, last(used), end, vkeys...)
	if err != nil {
		return err
	}
	vSize, err := q.at(ctx, last(size), end, vkeys...)
	if err != nil {
		return err
	}
	vFree, err := q.at(ctx, last(avail), end, vkeys...)
	if err != nil {
		return err
	}
	vRate, err := q.at(ctx, fmt.Sprintf("-deriv(%s[%s])", avail, monthRange(g)), end, vkeys...)
	if err != nil {
		return err
	}
	hostRE := regexp.MustCompile("^(?:" + o.HostFromInstance + ")$")
	host := func(instance string) string {
		if m := hostRE.FindStringSubmatch(instance); len(m) > 1 {
			return m[1]
		}
		return ""
	}
	for k := range union(vStart, vEnd, vSize) {
		inst, mp, _ := strings.Cut(k, "\x00")
		c := CapacityFigures{Kind: "volume", Instance: inst, Name: mp, Host: host(inst),
			Size: lookup(vSize, k), Start: lookup(vStart, k), End: lookup(vEnd, k), Free: lookup(vFree, k), Rate: lookup(vRate, k)}
		c.FullAt = fullAt(end, c.Free, c.Rate)
		r.Capacity = append(r.Capacity, c)
	}

	db := selector("pg_database_size_bytes", o.PostgresSelector)
	dkeys := []string{"instance", "datname"}
	dStart, err := q.at(ctx, last(db), start, dkeys...)
	if err != nil {
		return err
	}
	dEnd, err := q.at(ctx, last(db), end, dkeys...)
	if err != nil {
		return err
	}
	dRate, err := q.at(ctx, fmt.Sprintf("deriv(%s[%s])", db, monthRange(g)), end, dkeys...)
	if err != nil {
		return err
	}
	// The volume of each database host: the first configured mountpoint
	// it has, as the mixin's bosaimail:database_volume_days_until_full.
	var vols []string
	for _, mp := range o.DatabaseVolumeMountpoints {
		vols = append(vols, fmt.Sprintf("max by (host) (%s)", hostOf(selector("node_filesystem_avail_bytes", o.NodeSelector, fmt.Sprintf("mountpoint=%q", mp)))))
	}
	hostFree, err := q.at(ctx, last(strings.Join(vols, " or on (host) ")), end, "host")
	if err != nil {
		return err
	}
	// The databases of one server share its volume: their net growth
	// fills it.
	serverRate := map[string]float64{}
	for k, v := range dRate {
		inst, _, _ := strings.Cut(k, "\x00")
		serverRate[inst] += v
	}
	for k := range union(dStart, dEnd) {
		inst, name, _ := strings.Cut(k, "\x00")
		c := CapacityFigures{Kind: "database", Instance: inst, Name: name, Host: host(inst),
			Size: math.NaN(), Start: lookup(dStart, k), End: lookup(dEnd, k), Free: lookup(hostFree, host(inst)), Rate: lookup(dRate, k)}
		c.FullAt = fullAt(end, c.Free, serverRate[inst])
		r.Capacity = append(r.Capacity, c)
	}
	sort.SliceStable(r.Capacity, func(i, j int) bool {
		a, b := r.Capacity[i], r.Capacity[j]
		if a.Kind != b.Kind {
			return a.Kind == "volume"
		}
		if a.Instance != b.Instance {
			return a.Instance < b.Instance
		}
		return a.Name < b.Name
	})
	return nil
}

func union(ms ...map[string]float64) map[string]bool {
	out := map[string]bool{}
	for _, m := range ms {
		for k := range m {
			out[k] = true
		}
	}
	return out
}

func (r *Report) dbIntegrity(ctx context.Context, q *Querier, o DatabaseOptions, g Grid) error {
	series, err := q.Fetch(ctx, selector("", r.Selector,
		`__name__=~"bosaimail_job_(last_run_timestamp_seconds|last_run_success|last_exit_code|last_success_timestamp_seconds|next_due_timestamp_seconds)"`,
		fmt.Sprintf("job_name=~%q", o.IntegrityJobs)), g)
	if err != nil {
		return err
	}
	for _, job := range labelValues(series, "job_name") {
		f := DBIntegrityFigures{Job: job}
		runTS := find(series, "bosaimail_job_last_run_timestamp_seconds", "job_name", job)
		success := find(series, "bosaimail_job_last_run_success", "job_name", job)
		exit := find(series, "bosaimail_job_last_exit_code", "job_name", job)
		for ts, i := range distinctIn(runTS, g.Start, g.End()) {
			f.Runs++
			if success != nil && success.Values[i] == 0 {
				f.Failures++
				fr := FailedRun{At: unixTime(ts), ExitCode: math.NaN()}
				if exit != nil {
					fr.ExitCode = exit.Values[i]
				}
				f.Failed = append(f.Failed, fr)
			}
		}
		sort.Slice(f.Failed, func(i, j int) bool { return f.Failed[i].At.Before(f.Failed[j].At) })
		if v := lastValue(find(series, "bosaimail_job_last_success_timestamp_seconds", "job_name", job)); !math.IsNaN(v) && v > 0 {
			f.LastSuccess = unixTime(v)
		}
		if due := find(series, "bosaimail_job_next_due_timestamp_seconds", "job_name", job); due != nil {
			over := func(i int) bool {
				return !math.IsNaN(due.Values[i]) && evalAt(g, i).After(unixTime(due.Values[i]))
			}
			for _, sp := range runs(g.N, 0, g.N, g, job, over) {
				f.Overdue += sp.Minutes
			}
		}
		r.DBIntegrity = append(r.DBIntegrity, f)
	}
	return nil
}

// dbIntegrityFailures counts the failed live-database checks of the month.
func (r *Report) dbIntegrityFailures() int {
	n := 0
	for _, f := range r.DBIntegrity {
		n += f.Failures
	}
	return n
}

func (r *Report) dbIntegrityTable() Table {
	t := Table{Title: "データベースの整合性検査", Name: "db_integrity", Empty: "データベースの整合性検査の監視データはありません（docs/database.md）。", Columns: []Column{
		{"検査ジョブ", Text, 20}, {"検査回数", Int, 9}, {"失敗(件)", Int, 9}, {"予定超過(分)", Int, 11}, {"最終成功", Time, 17}, {"失敗した検査", Text, 40},
	}}
	for _, f := range r.DBIntegrity {
		list := "0件"
		if len(f.Failed) > 0 {
			var parts []string
			for _, fr := range f.Failed {
				s := jst(fr.At)
				if !math.IsNaN(fr.ExitCode) {
					s += fmt.Sprintf("（終了コード %d）", int(fr.ExitCode))
				}
				parts = append(parts, s)
			}
			list = strings.Join(parts, "、")
		}
		t.Rows = append(t.Rows, []any{f.Job, f.Runs, f.Failures, f.Overdue, f.LastSuccess, list})
	}
	return t
}

func (r *Report) capacitySection() Section {
	gb := func(v float64) float64 { return round(v/1e9, 2) }
	vt := Table{Title: "ボリューム", Name: "capacity_volumes", Empty: "ボリュームの監視データはありません（node_exporter）。", Columns: []Column{
		{"サーバ", Text, 20}, {"マウント", Text, 22}, {"容量(GB)", Number, 10}, {"月初の使用量(GB)", Number, 14}, {"月末の使用量(GB)", Number, 14},
		{"増加(GB)", Number, 10}, {"月末の空き(GB)", Number, 13}, {"満杯予測日", Text, 16},
	}}
	dt := Table{Title: "データベース", Name: "capacity_databases", Empty: "データベースの監視データはありません（postgres_exporter）。", Columns: []Column{
		{"サーバ", Text, 20}, {"データベース", Text, 16}, {"月初のサイズ(GB)", Number, 14}, {"月末のサイズ(GB)", Number, 14},
		{"増加(GB)", Number, 10}, {"データ領域の空き(GB)", Number, 16}, {"満杯予測日", Text, 16},
	}}
	forecast := func(c CapacityFigures) string {
		switch {
		case !c.FullAt.IsZero():
			return c.FullAt.In(config.Tokyo).Format("2006-01-02")
		case math.IsNaN(c.Rate) || math.IsNaN(c.Free):
			return "不明"
		}
		return "増加なし"
	}
	for _, c := range r.Capacity {
		switch c.Kind {
		case "volume":
			vt.Rows = append(vt.Rows, []any{c.Instance, c.Name, gb(c.Size), gb(c.Start), gb(c.End), gb(c.Growth()), gb(c.Free), forecast(c)})
		case "database":
			dt.Rows = append(dt.Rows, []any{c.Instance, c.Name, gb(c.Start), gb(c.End), gb(c.Growth()), gb(c.Free), forecast(c)})
		}
	}
	return Section{Sheet: "容量", Landscape: true, Lines: []string{
		"月初・月末は各月の初日 0:00（日本時間）時点の値。満杯予測日は、当月の傾向（最小二乗法）が続いた場合に空きがなくなる日。データベースは同じサーバのデータベースの合計の増加で、データ領域のボリュームの空きを使い切る日。",
	}, Tables: []Table{vt, dt}}
}
