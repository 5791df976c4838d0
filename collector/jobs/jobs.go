package jobs

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/bosaimail/bosaimail_exporter/collector"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bosaimail/bosaimail_exporter/config"
	"github.com/bosaimail/bosaimail_exporter/internal/jobstate"
)

// The job label is job_name: a label called "job" would clash with the
// scrape's own job label (Prometheus would rename it exported_job).
var (
	jobLastSuccessDesc = collector.NewDesc("job", "last_success_timestamp_seconds",
		"When the job last finished successfully (absent if never).", "job_name")
	jobLastRunDesc = collector.NewDesc("job", "last_run_timestamp_seconds",
		"When the job's latest run finished, successfully or not (absent if never).", "job_name")
	jobLastRunSuccessDesc = collector.NewDesc("job", "last_run_success",
		"1 if the job's latest finished run succeeded, 0 if it failed (absent if never).", "job_name")
	jobLastDurationDesc = collector.NewDesc("job", "last_duration_seconds",
		"How long the job's latest finished run took (absent if unknown).", "job_name")
	jobLastExitCodeDesc = collector.NewDesc("job", "last_exit_code",
		"Exit code the job's latest finished run reported (absent if none).", "job_name")
	jobNextDueDesc = collector.NewDesc("job", "next_due_timestamp_seconds",
		"When the job's next run must have finished: its next scheduled time (Asia/Tokyo cron or interval) after the latest finished run, or after the job was first configured if it never reported, plus the grace.", "job_name")
	jobRunningDesc = collector.NewDesc("job", "running",
		"1 if the job reported a start and no finish since.", "job_name")
	jobReportedDesc = collector.NewDesc("job", "reported",
		"1 if the job ever reported a run, 0 if it never did.", "job_name")
	jobPushRejectedDesc = collector.NewTypedDesc("counter", "job", "push_rejected_total",
		"Job pushes refused, by reason (unknown_job, bad_path, bad_method, unauthorized, too_large, malformed, storage).", "reason")
	jobStatusFileErrorsDesc = collector.NewTypedDesc("counter", "job", "status_file_errors_total",
		"Status files that could not be used, by reason (unreadable, too_large, malformed, unknown_job).", "reason")
)

// APIPrefix is where jobs push their outcomes.
const jobsAPIPrefix = "/api/v1/jobs/"

// openJobStore opens the job database once per process (the State closes
// it on shutdown): a reload builds the new collector set while the old one
// still runs, and bbolt's file lock forbids opening the same file twice.
func openJobStore(env collector.Env) (*jobstate.Store, error) {
	stateDir := env.StateDir
	if stateDir == "" {
		stateDir = "data"
	}
	p, err := filepath.Abs(filepath.Join(stateDir, "jobs.db"))
	if err != nil {
		return nil, err
	}
	return collector.Shared(env, "jobs/store:"+p, func() (*jobstate.Store, error) { return jobstate.Open(p) })
}

func collectCounts(ch chan<- prometheus.Metric, c *collector.Counts, desc *prometheus.Desc) {
	c.Each(func(labels []string, n float64) bool {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, n, labels...)
		return true
	})
}

// jobsCollector exports the state of the scheduled jobs, accepts their
// pushes and reads their status files.
type jobsCollector struct {
	cfg    *config.JobsConfig
	jobs   map[string]*config.Job
	names  []string
	store  *jobstate.Store
	logger log.Logger
	now    func() time.Time
	files  *statusFiles

	pushRejected, statusFileErrors *collector.Counts
}

// statusFiles reads the status files in the background; kept across
// reloads while the jobs and globs are unchanged.
type statusFiles struct {
	*collector.Source[map[string]jobstate.State]
	globs  []string
	jobs   map[string]bool
	errors *collector.Counts
	logger log.Logger

	// cache keeps the last good parse of each status file, so a file
	// caught while being rewritten does not make its job vanish.
	mu    sync.Mutex
	cache map[string]jobstate.StatusFile
}

func init() {
	collector.Register("jobs", true, newJobsCollector)
}

func newJobsCollector(env collector.Env) (collector.Collector, error) {
	jc := &env.Config.Jobs
	c := &jobsCollector{cfg: jc, jobs: map[string]*config.Job{}, logger: env.Logger, now: env.Now,
		pushRejected: collector.SharedCounts(env, "jobs/push_rejected"), statusFileErrors: collector.SharedCounts(env, "jobs/status_file_errors")}
	if c.logger == nil {
		c.logger = log.NewNopLogger()
	}
	if c.now == nil {
		c.now = time.Now
	}
	if len(jc.Scheduled) == 0 {
		return c, nil
	}
	for i := range jc.Scheduled {
		j := &jc.Scheduled[i]
		c.jobs[j.Name] = j
		c.names = append(c.names, j.Name)
	}
	store, err := openJobStore(env)
	if err != nil {
		return nil, err
	}
	c.store = store
	if len(jc.ResolvedStatusFiles) > 0 {
		c.files, err = collector.Keep(env, "status_files", []any{jc.StatusFiles, jc.StatusFileInterval, c.names}, func() (*statusFiles, error) {
			f := &statusFiles{globs: jc.ResolvedStatusFiles, jobs: map[string]bool{}, errors: c.statusFileErrors, logger: c.logger, cache: map[string]jobstate.StatusFile{}}
			for _, n := range c.names {
				f.jobs[n] = true
			}
			f.Source = &collector.Source[map[string]jobstate.State]{MaxRetryAfter: env.MaxRetryAfter(),
				Collector: "jobs", Name: "status_files",
				Interval: jc.StatusFileInterval.D(), Timeout: jc.StatusFileInterval.D(),
				Refresh: f.read, Logger: c.logger, Now: c.now,
			}
			return f, nil
		})
		if err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Run marks the jobs no longer configured as removed (only now: a reload
// that fails after this collector was built must not touch state; their
// history is dropped after jobs.removed_job_retention) and reads the status
// files until ctx ends.
func (c *jobsCollector) Run(ctx context.Context) {
	if c.store != nil {
		if err := c.store.Sync(c.names, c.now(), c.cfg.RemovedJobRetention.D()); err != nil {
			level.Error(c.logger).Log("msg", "syncing job state with the config", "err", err)
		}
	}
	if c.files != nil {
		c.files.Run(ctx)
		return
	}
	<-ctx.Done()
}

func (c *jobsCollector) Update(ctx context.Context, ch chan<- prometheus.Metric) error {
	collectCounts(ch, c.pushRejected, jobPushRejectedDesc)
	collectCounts(ch, c.statusFileErrors, jobStatusFileErrorsDesc)
	if len(c.names) == 0 {
		return collector.ErrNoData
	}
	stored, err := c.store.All()
	if err != nil {
		return fmt.Errorf("reading job state: %w", err)
	}
	var fromFiles map[string]jobstate.State
	if c.files != nil {
		fromFiles, _ = c.files.Snapshot()
		c.files.CollectStatus(ch)
	}
	now := c.now()
	for _, name := range c.names {
		st := stored[name]
		if st.FirstSeen.IsZero() {
			st.FirstSeen = now // not yet synced: Run does it at once
		}
		if fs, ok := fromFiles[name]; ok {
			st = jobstate.Merge(st, fs)
		}
		emitJob(ch, c.jobs[name], st)
	}
	return nil
}

func emitJob(ch chan<- prometheus.Metric, job *config.Job, st jobstate.State) {
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, job.Name)
	}
	ts := func(t time.Time) float64 { return float64(t.UnixMilli()) / 1e3 }
	ref := st.FirstSeen
	if !st.LastFinish.IsZero() {
		ref = st.LastFinish
		gauge(jobLastRunDesc, ts(st.LastFinish))
		gauge(jobLastRunSuccessDesc, collector.Bool(st.LastOK))
		if st.HasDuration {
			gauge(jobLastDurationDesc, st.LastDuration)
		}
		if st.LastExitCode != nil {
			gauge(jobLastExitCodeDesc, float64(*st.LastExitCode))
		}
	}
	if !st.LastSuccess.IsZero() {
		gauge(jobLastSuccessDesc, ts(st.LastSuccess))
	}
	if due := job.NextDue(ref); !due.IsZero() {
		gauge(jobNextDueDesc, ts(due))
	}
	gauge(jobRunningDesc, collector.Bool(st.Running()))
	gauge(jobReportedDesc, collector.Bool(st.Reported()))
}

// Routes serves the push API.
func (c *jobsCollector) Routes() map[string]http.Handler {
	return map[string]http.Handler{jobsAPIPrefix: http.HandlerFunc(c.serveAPI)}
}

// serveAPI handles POST /api/v1/jobs/<job>/{start,success,fail} and, to see
// what the exporter holds, GET /api/v1/jobs/<job>. The web config's TLS and
// basic auth apply before this; a job with a token_file also needs the
// X-Job-Token header. A 2xx answer means the report is committed to disk.
func (c *jobsCollector) serveAPI(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, jobsAPIPrefix), "/")
	if len(parts) == 0 || len(parts) > 2 || parts[0] == "" {
		c.reject(w, "bad_path", http.StatusNotFound, "use POST %s<job>/start, /success or /fail", jobsAPIPrefix)
		return
	}
	job, ok := c.jobs[parts[0]]
	if !ok {
		c.reject(w, "unknown_job", http.StatusNotFound, "unknown job %q: it is not in jobs.scheduled of the configuration", jobsClip(parts[0], 64))
		return
	}
	if job.TokenFile != "" {
		// Read at each push, so a rotated token needs no reload.
		token, err := config.ReadSecretFile(job.TokenFile)
		if err != nil || token == "" {
			level.Error(c.logger).Log("msg", "job token file unreadable; refusing the push", "job_name", job.Name, "err", err)
			c.reject(w, "storage", http.StatusServiceUnavailable, "job %s: its token cannot be checked now; retry", job.Name)
			return
		}
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("X-Job-Token")), []byte(token)) != 1 {
			c.reject(w, "unauthorized", http.StatusUnauthorized, "job %s needs its token in the X-Job-Token header", job.Name)
			return
		}
	}
	if len(parts) == 1 {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			c.reject(w, "bad_method", http.StatusMethodNotAllowed, "use GET to read the state of job %s", job.Name)
			return
		}
		all, err := c.store.All()
		if err != nil {
			c.reject(w, "storage", http.StatusServiceUnavailable, "reading job state: %v", err)
			return
		}
		jobsWriteJSON(w, http.StatusOK, stateView(job, all[job.Name]))
		return
	}
	kind, ok := jobstate.ParseKind(parts[1])
	if !ok {
		c.reject(w, "bad_path", http.StatusNotFound, "unknown action %q: use start, success or fail", jobsClip(parts[1], 32))
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		c.reject(w, "bad_method", http.StatusMethodNotAllowed, "use POST to report a run of job %s", job.Name)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, c.cfg.MaxPushBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			c.reject(w, "too_large", http.StatusRequestEntityTooLarge, "body is larger than %d bytes (jobs.max_push_body_bytes)", c.cfg.MaxPushBodyBytes)
			return
		}
		c.reject(w, "malformed", http.StatusBadRequest, "reading body: %v", err)
		return
	}
	rep, err := jobstate.ParsePushBody(kind, body)
	if err != nil {
		c.reject(w, "malformed", http.StatusBadRequest, "job %s %s: %v", job.Name, kind, err)
		return
	}
	at := c.now()
	st, err := c.store.Record(job.Name, kind, at, rep)
	if err != nil {
		level.Error(c.logger).Log("msg", "job report not stored", "job_name", job.Name, "kind", kind, "err", err)
		c.reject(w, "storage", http.StatusServiceUnavailable, "the report could not be stored; retry")
		return
	}
	level.Debug(c.logger).Log("msg", "job report", "job_name", job.Name, "kind", kind)
	jobsWriteJSON(w, http.StatusOK, stateView(job, st))
}

func (c *jobsCollector) reject(w http.ResponseWriter, reason string, code int, format string, args ...any) {
	c.pushRejected.Inc(reason)
	msg := fmt.Sprintf(format, args...)
	level.Debug(c.logger).Log("msg", "job push refused", "reason", reason, "err", msg)
	jobsWriteJSON(w, code, map[string]string{"error": msg})
}

type jobStateView struct {
	Job          string     `json:"job"`
	Reported     bool       `json:"reported"`
	Running      bool       `json:"running"`
	LastStart    *time.Time `json:"last_start,omitempty"`
	LastFinish   *time.Time `json:"last_finish,omitempty"`
	LastSuccess  *time.Time `json:"last_success,omitempty"`
	LastOK       *bool      `json:"last_ok,omitempty"`
	LastDuration *float64   `json:"last_duration_seconds,omitempty"`
	LastExitCode *int       `json:"last_exit_code,omitempty"`
	LastMessage  string     `json:"last_message,omitempty"`
	NextDue      *time.Time `json:"next_due,omitempty"`
}

func stateView(job *config.Job, st jobstate.State) jobStateView {
	opt := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		t = t.In(config.Tokyo)
		return &t
	}
	v := jobStateView{Job: job.Name, Reported: st.Reported(), Running: st.Running(),
		LastStart: opt(st.LastStart), LastFinish: opt(st.LastFinish), LastSuccess: opt(st.LastSuccess),
		LastExitCode: st.LastExitCode, LastMessage: st.LastMessage}
	ref := st.FirstSeen
	if !st.LastFinish.IsZero() {
		ok := st.LastOK
		v.LastOK = &ok
		ref = st.LastFinish
	}
	if st.HasDuration {
		d := st.LastDuration
		v.LastDuration = &d
	}
	if !ref.IsZero() {
		v.NextDue = opt(job.NextDue(ref))
	}
	return v
}

func jobsWriteJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func jobsClip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// readStatusFiles reads every configured status file. A file that cannot be
// used is counted and logged; its job keeps what the file said last time it
// was readable (a non-atomic writer caught mid-write is not a lost run).
func (c *statusFiles) read(ctx context.Context) (map[string]jobstate.State, error) {
	seen := map[string]bool{}
	for _, g := range c.globs {
		matches, _ := filepath.Glob(g) // the pattern was checked when the config was loaded
		sort.Strings(matches)
		for _, p := range matches {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			seen[p] = true
			f, reason, err := readStatusFile(p)
			if err == nil {
				if !c.jobs[f.Job] {
					reason, err = "unknown_job", fmt.Errorf("job %q is not in jobs.scheduled of the configuration", jobsClip(f.Job, 64))
				}
			}
			if err != nil {
				c.errors.Inc(reason)
				level.Warn(c.logger).Log("msg", "status file not used", "file", p, "reason", reason, "err", err)
				continue
			}
			c.mu.Lock()
			c.cache[p] = f
			c.mu.Unlock()
		}
	}
	out := map[string]jobstate.State{}
	c.mu.Lock()
	defer c.mu.Unlock()
	for p, f := range c.cache {
		if !seen[p] {
			delete(c.cache, p) // removed: its job is no longer reported by it
			continue
		}
		if !c.jobs[f.Job] {
			continue
		}
		out[f.Job] = jobstate.Merge(out[f.Job], f.State())
	}
	return out, nil
}

func readStatusFile(p string) (jobstate.StatusFile, string, error) {
	st, err := os.Stat(p)
	if err != nil {
		return jobstate.StatusFile{}, "unreadable", err
	}
	if !st.Mode().IsRegular() {
		return jobstate.StatusFile{}, "unreadable", fmt.Errorf("not a regular file (%s)", st.Mode().Type())
	}
	fh, err := os.Open(p)
	if err != nil {
		return jobstate.StatusFile{}, "unreadable", err
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, jobstate.MaxStatusFileBytes+1))
	if err != nil {
		return jobstate.StatusFile{}, "unreadable", err
	}
	if len(data) > jobstate.MaxStatusFileBytes {
		return jobstate.StatusFile{}, "too_large", fmt.Errorf("larger than %d bytes", jobstate.MaxStatusFileBytes)
	}
	f, err := jobstate.ParseStatusFile(data)
	if err != nil {
		return f, "malformed", err
	}
	return f, "", nil
}
