package report

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/prometheus/common/model"
)

// The job, backup, integrity and security series are state gauges: they are
// read per minute with Prometheus' usual lookback (the value a dashboard
// shows at that time), not cut into minutes like the availability figures.

// JobFigures is one scheduled job's month (ジョブ実績).
type JobFigures struct {
	Job string
	// Runs are the distinct runs that finished in the month, Failures
	// those that failed.
	Runs, Failures int
	// Overdue counts the minutes past the job's due time without a run,
	// OverdueEpisodes the stretches of them.
	Overdue, OverdueEpisodes int
	LastSuccess              time.Time
	MaxDuration              float64 // seconds, NaN if unknown
}

// IntegrityFigures is one data set's month (完全性).
type IntegrityFigures struct {
	Dataset string
	Checks  int
	// Violations are the stretches in which a check found the data set
	// not verified or with mismatches: the contract wants zero.
	Violations    int
	MaxMismatches float64
	LastCheck     time.Time
	VerifiedAtEnd float64 // NaN if unknown
}

// BackupFigures is one backup's month.
type BackupFigures struct {
	Backup string
	// Backups are the distinct backup times in the month.
	Backups   int
	Last      time.Time
	MaxAge    time.Duration // longest time without a newer backup seen
	SizeAtEnd float64       // bytes, NaN if unknown
}

// CountFigures is a count gauge's month (open advisories, findings).
type CountFigures struct {
	Key             string // labels
	Start, End, Max float64
	Opened, Closed  float64
}

// AntivirusFigures is one antivirus engine's signature freshness.
type AntivirusFigures struct {
	Engine       string
	AgeAtEnd     time.Duration
	MaxAge       time.Duration
	StaleMinutes int
}

func byName(series []*Series, name string) []*Series {
	var out []*Series
	for _, s := range series {
		if string(s.Labels["__name__"]) == name {
			out = append(out, s)
		}
	}
	return out
}

func find(series []*Series, name, label, value string) *Series {
	for _, s := range byName(series, name) {
		if string(s.Labels[model.LabelName(label)]) == value {
			return s
		}
	}
	return nil
}

// distinctIn lists the distinct values (unix seconds) of a timestamp gauge
// that fall in [from, to), each with the first minute it was seen.
func distinctIn(s *Series, from, to time.Time) map[float64]int {
	out := map[float64]int{}
	if s == nil {
		return out
	}
	for i, v := range s.Values {
		if math.IsNaN(v) {
			continue
		}
		t := unixTime(v)
		if t.Before(from) || !t.Before(to) {
			continue
		}
		if _, ok := out[v]; !ok {
			out[v] = i
		}
	}
	return out
}

func lastValue(s *Series) float64 {
	if s == nil {
		return math.NaN()
	}
	for i := len(s.Values) - 1; i >= 0; i-- {
		if !math.IsNaN(s.Values[i]) {
			return s.Values[i]
		}
	}
	return math.NaN()
}

func maxValue(s *Series) float64 {
	m := math.NaN()
	if s == nil {
		return m
	}
	for _, v := range s.Values {
		if !math.IsNaN(v) && (math.IsNaN(m) || v > m) {
			m = v
		}
	}
	return m
}

func unixTime(v float64) time.Time {
	sec, frac := math.Modf(v)
	return time.Unix(int64(sec), int64(frac*1e9))
}

// evalAt is the instant a minute's value was read at.
func evalAt(g Grid, i int) time.Time { return g.At(i).Add(lastMilli) }

func (r *Report) jobs(ctx context.Context, q *Querier, sel string, g Grid) error {
	series, err := q.Fetch(ctx, selector("", sel, `__name__=~"bosaimail_job_(last_run_timestamp_seconds|last_run_success|last_success_timestamp_seconds|last_duration_seconds|next_due_timestamp_seconds)"`), g)
	if err != nil {
		return err
	}
	// The exporter names jobs by job_name, since job is Prometheus' target
	// label; an older exporter's job label arrives as exported_job.
	for _, s := range series {
		for _, l := range []model.LabelName{"job_name", "exported_job"} {
			if v, ok := s.Labels[l]; ok {
				s.Labels = s.Labels.Clone()
				s.Labels["job"] = v
				break
			}
		}
	}
	names := labelValues(series, "job")
	for _, job := range names {
		f := JobFigures{Job: job, MaxDuration: math.NaN()}
		runTS := find(series, "bosaimail_job_last_run_timestamp_seconds", "job", job)
		success := find(series, "bosaimail_job_last_run_success", "job", job)
		dur := find(series, "bosaimail_job_last_duration_seconds", "job", job)
		for _, i := range distinctIn(runTS, g.Start, g.End()) {
			f.Runs++
			if success != nil && success.Values[i] == 0 {
				f.Failures++
			}
			if dur != nil && !math.IsNaN(dur.Values[i]) && (math.IsNaN(f.MaxDuration) || dur.Values[i] > f.MaxDuration) {
				f.MaxDuration = dur.Values[i]
			}
		}
		if v := lastValue(find(series, "bosaimail_job_last_success_timestamp_seconds", "job", job)); !math.IsNaN(v) && v > 0 {
			f.LastSuccess = unixTime(v)
		}
		if due := find(series, "bosaimail_job_next_due_timestamp_seconds", "job", job); due != nil {
			over := func(i int) bool {
				return !math.IsNaN(due.Values[i]) && evalAt(g, i).After(unixTime(due.Values[i]))
			}
			for _, sp := range runs(g.N, 0, g.N, g, job, over) {
				f.Overdue += sp.Minutes
				f.OverdueEpisodes++
			}
		}
		r.Jobs = append(r.Jobs, f)
	}
	return nil
}

func (r *Report) integrity(ctx context.Context, q *Querier, sel string, g Grid) error {
	series, err := q.Fetch(ctx, selector("", sel, `__name__=~"bosaimail_integrity_(verified|mismatches|last_check_timestamp_seconds)|bosaimail_backup_(last_timestamp_seconds|size_bytes)"`), g)
	if err != nil {
		return err
	}
	for _, ds := range labelValues(series, "dataset") {
		f := IntegrityFigures{Dataset: ds, VerifiedAtEnd: math.NaN()}
		f.Checks = len(distinctIn(find(series, "bosaimail_integrity_last_check_timestamp_seconds", "dataset", ds), g.Start, g.End()))
		verified := find(series, "bosaimail_integrity_verified", "dataset", ds)
		mism := find(series, "bosaimail_integrity_mismatches", "dataset", ds)
		f.MaxMismatches = maxValue(mism)
		bad := func(i int) bool {
			return (verified != nil && verified.Values[i] == 0) || (mism != nil && mism.Values[i] > 0)
		}
		f.Violations = len(runs(g.N, 0, g.N, g, ds, bad))
		if v := lastValue(find(series, "bosaimail_integrity_last_check_timestamp_seconds", "dataset", ds)); !math.IsNaN(v) && v > 0 {
			f.LastCheck = unixTime(v)
		}
		f.VerifiedAtEnd = lastValue(verified)
		r.Integrity = append(r.Integrity, f)
	}
	for _, b := range labelValues(series, "backup") {
		f := BackupFigures{Backup: b, SizeAtEnd: lastValue(find(series, "bosaimail_backup_size_bytes", "backup", b))}
		ts := find(series, "bosaimail_backup_last_timestamp_seconds", "backup", b)
		f.Backups = len(distinctIn(ts, g.Start, g.End()))
		if ts != nil {
			for i, v := range ts.Values {
				if math.IsNaN(v) {
					continue
				}
				if age := evalAt(g, i).Sub(unixTime(v)); age > f.MaxAge {
					f.MaxAge = age
				}
			}
			if v := lastValue(ts); !math.IsNaN(v) {
				f.Last = unixTime(v)
			}
		}
		r.Backups = append(r.Backups, f)
	}
	return nil
}

func (r *Report) security(ctx context.Context, q *Querier, sel string, g Grid) error {
	series, err := q.Fetch(ctx, selector("", sel, `__name__=~"bosaimail_security_(advisories|known_exploited|findings)|bosaimail_antivirus_signature_timestamp_seconds"`), g)
	if err != nil {
		return err
	}
	counts := func(name string, keys ...string) []CountFigures {
		var out []CountFigures
		for _, s := range byName(series, name) {
			f := CountFigures{Start: math.NaN(), End: math.NaN(), Max: maxValue(s)}
			for _, k := range keys {
				if f.Key != "" {
					f.Key += " / "
				}
				f.Key += string(s.Labels[model.LabelName(k)])
			}
			prev := math.NaN()
			for _, v := range s.Values {
				if math.IsNaN(v) {
					continue
				}
				if math.IsNaN(f.Start) {
					f.Start = v
				}
				if !math.IsNaN(prev) {
					if v > prev {
						f.Opened += v - prev
					} else {
						f.Closed += prev - v
					}
				}
				prev = v
			}
			f.End = prev
			out = append(out, f)
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
		return out
	}
	r.Advisory = counts("bosaimail_security_advisories", "product", "severity", "source")
	r.Findings = counts("bosaimail_security_findings", "source", "severity")
	r.Exploited = counts("bosaimail_security_known_exploited", "product")
	for _, s := range byName(series, "bosaimail_antivirus_signature_timestamp_seconds") {
		f := AntivirusFigures{Engine: string(s.Labels["engine"])}
		for i, v := range s.Values {
			if math.IsNaN(v) {
				continue
			}
			age := evalAt(g, i).Sub(unixTime(v))
			f.AgeAtEnd = age
			if age > f.MaxAge {
				f.MaxAge = age
			}
			if r.AntivirusMaxAge > 0 && age > r.AntivirusMaxAge {
				f.StaleMinutes++
			}
		}
		r.Antivirus = append(r.Antivirus, f)
	}
	return nil
}

func labelValues(series []*Series, label string) []string {
	var out []string
	for _, s := range series {
		v := string(s.Labels[model.LabelName(label)])
		if v != "" && !contains(out, v) {
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return out
}

func jaDuration(d time.Duration) string {
	switch {
	case d >= time.Hour && d < 72*time.Hour && d%time.Hour == 0:
		return fmt.Sprintf("%d時間", int(d.Hours()))
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("%d日", int(d.Hours()/24))
	case d >= 24*time.Hour:
		return fmt.Sprintf("%.1f日", d.Hours()/24)
	case d >= time.Hour:
		return fmt.Sprintf("%.1f時間", d.Hours())
	case d >= time.Minute:
		return fmt.Sprintf("%d分", int(d.Minutes()))
	}
	return fmt.Sprintf("%d秒", int(d.Seconds()))
}
