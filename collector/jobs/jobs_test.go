package jobs

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bosaimail/bosaimail_exporter/collector"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/bosaimail/bosaimail_exporter/config"
	"github.com/bosaimail/bosaimail_exporter/internal/jobstate"
)

// jobsClock is a settable clock for collectors under test.
type jobsClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *jobsClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *jobsClock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// loadJobsConfig writes yml into dir (with extra files) and loads it.
func loadJobsConfig(t testing.TB, dir, yml string, files map[string]string) *config.Config {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(dir, "bosaimail.yml")
	if err := os.WriteFile(p, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

const jobsYML = `
jobs:
  max_push_body_bytes: 256
  status_files: ["status/*.json"]
  scheduled:
    - name: db-backup
      schedule: "0 2 * * *"
      grace: 30m
      token_file: db-backup.token
    - name: log-rotate
      interval: 6h
      grace: 10m
    - name: never
      schedule: "30 23 * * *"
      grace: 1h
`

// jst 2026-11-25 03:00 is 2026-11-24 18:00 UTC.
var jobsT0 = time.Date(2026, 11, 25, 3, 0, 0, 0, config.Tokyo)

// testStates gives each test one State, as the exporter has one per
// process: the job store is opened once and the counters start at zero.
var testStates sync.Map

func testState(t *testing.T) *collector.State {
	st, loaded := testStates.LoadOrStore(t, collector.NewState(nil))
	if !loaded {
		t.Cleanup(func() { st.(*collector.State).Close(); testStates.Delete(t) })
	}
	return st.(*collector.State)
}

func newTestJobs(t *testing.T, dir, stateDir, yml string, clock *jobsClock) *jobsCollector {
	t.Helper()
	cfg := loadJobsConfig(t, dir, yml, map[string]string{"db-backup.token": "tok-123\n"})
	c, err := newJobsCollector(collector.Env{Config: cfg, StateDir: stateDir, Now: clock.Now, State: testState(t)})
	if err != nil {
		t.Fatal(err)
	}
	jc := c.(*jobsCollector)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	jc.Run(ctx) // syncs the store with the config, then returns
	return jc
}

func jobsPush(t *testing.T, srv *httptest.Server, method, path, token, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("X-Job-Token", token)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestJobsPushAPI(t *testing.T) {
	dir := t.TempDir()
	clock := &jobsClock{t: jobsT0}
	c := newTestJobs(t, dir, filepath.Join(dir, "data"), jobsYML, clock)
	srv := httptest.NewTLSServer(c.Routes()[jobsAPIPrefix])
	defer srv.Close()

	cases := []struct {
		name, method, path, token, body string
		code                            int
		contains                        string
	}{
		{"unknown job", "POST", "/api/v1/jobs/nope/success", "", "", 404, `unknown job \"nope\"`},
		{"unknown action", "POST", "/api/v1/jobs/log-rotate/done", "", "", 404, "unknown action"},
		{"too deep", "POST", "/api/v1/jobs/log-rotate/success/x", "", "", 404, "use POST"},
		{"empty", "POST", "/api/v1/jobs/", "", "", 404, "use POST"},
		{"GET on an action", "GET", "/api/v1/jobs/log-rotate/success", "", "", 405, "use POST"},
		{"missing token", "POST", "/api/v1/jobs/db-backup/start", "", "", 401, "X-Job-Token"},
		{"wrong token", "POST", "/api/v1/jobs/db-backup/start", "tok-124", "", 401, "X-Job-Token"},
		{"oversized body", "POST", "/api/v1/jobs/log-rotate/fail", "", `{"message":"` + strings.Repeat("x", 300) + `"}`, 413, "max_push_body_bytes"},
		{"malformed JSON", "POST", "/api/v1/jobs/log-rotate/fail", "", `{"exit_code":`, 400, "malformed JSON"},
		{"contradiction", "POST", "/api/v1/jobs/log-rotate/success", "", `{"exit_code":1}`, 400, "contradicts"},
		{"start", "POST", "/api/v1/jobs/db-backup/start", "tok-123", "", 200, `"running":true`},
		{"success", "POST", "/api/v1/jobs/db-backup/success", "tok-123", `{"message":"12 GB"}`, 200, `"last_ok":true`},
		{"fail with code", "POST", "/api/v1/jobs/log-rotate/fail", "", `{"exit_code":3,"duration_seconds":4.5}`, 200, `"last_exit_code":3`},
		{"read state", "GET", "/api/v1/jobs/db-backup", "tok-123", "", 200, `"last_message":"12 GB"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "success" {
				clock.Set(jobsT0.Add(10 * time.Minute))
			}
			code, body := jobsPush(t, srv, tc.method, tc.path, tc.token, tc.body)
			if code != tc.code || !strings.Contains(body, tc.contains) {
				t.Errorf("%s %s = %d %s, want %d containing %q", tc.method, tc.path, code, body, tc.code, tc.contains)
			}
		})
	}

	// db-backup ran 03:00-03:10 JST: next due tomorrow 02:00 + 30m.
	// log-rotate failed at 03:10: due 03:10 + 6h + 10m.
	// never: first seen 03:00, due 23:30 + 1h = 00:30 the next day.
	want := fmt.Sprintf(`
# HELP bosaimail_job_last_duration_seconds How long the job's latest finished run took (absent if unknown).
# TYPE bosaimail_job_last_duration_seconds gauge
bosaimail_job_last_duration_seconds{job_name="db-backup"} 600
bosaimail_job_last_duration_seconds{job_name="log-rotate"} 4.5
# HELP bosaimail_job_last_exit_code Exit code the job's latest finished run reported (absent if none).
# TYPE bosaimail_job_last_exit_code gauge
bosaimail_job_last_exit_code{job_name="log-rotate"} 3
# HELP bosaimail_job_last_run_success 1 if the job's latest finished run succeeded, 0 if it failed (absent if never).
# TYPE bosaimail_job_last_run_success gauge
bosaimail_job_last_run_success{job_name="db-backup"} 1
bosaimail_job_last_run_success{job_name="log-rotate"} 0
# HELP bosaimail_job_last_success_timestamp_seconds When the job last finished successfully (absent if never).
# TYPE bosaimail_job_last_success_timestamp_seconds gauge
bosaimail_job_last_success_timestamp_seconds{job_name="db-backup"} %[1]d
# HELP bosaimail_job_next_due_timestamp_seconds When the job's next run must have finished: its next scheduled time (Asia/Tokyo cron or interval) after the latest finished run, or after the job was first configured if it never reported, plus the grace.
# TYPE bosaimail_job_next_due_timestamp_seconds gauge
bosaimail_job_next_due_timestamp_seconds{job_name="db-backup"} %[2]d
bosaimail_job_next_due_timestamp_seconds{job_name="log-rotate"} %[3]d
bosaimail_job_next_due_timestamp_seconds{job_name="never"} %[4]d
# HELP bosaimail_job_reported 1 if the job ever reported a run, 0 if it never did.
# TYPE bosaimail_job_reported gauge
bosaimail_job_reported{job_name="db-backup"} 1
bosaimail_job_reported{job_name="log-rotate"} 1
bosaimail_job_reported{job_name="never"} 0
# HELP bosaimail_job_running 1 if the job reported a start and no finish since.
# TYPE bosaimail_job_running gauge
bosaimail_job_running{job_name="db-backup"} 0
bosaimail_job_running{job_name="log-rotate"} 0
bosaimail_job_running{job_name="never"} 0
# HELP bosaimail_job_push_rejected_total Job pushes refused, by reason (unknown_job, bad_path, bad_method, unauthorized, too_large, malformed, storage).
# TYPE bosaimail_job_push_rejected_total counter
bosaimail_job_push_rejected_total{reason="bad_method"} 1
bosaimail_job_push_rejected_total{reason="bad_path"} 3
bosaimail_job_push_rejected_total{reason="malformed"} 2
bosaimail_job_push_rejected_total{reason="too_large"} 1
bosaimail_job_push_rejected_total{reason="unauthorized"} 2
bosaimail_job_push_rejected_total{reason="unknown_job"} 1
`,
		jobsT0.Add(10*time.Minute).Unix(),
		time.Date(2026, 11, 26, 2, 30, 0, 0, config.Tokyo).Unix(),
		jobsT0.Add(10*time.Minute+6*time.Hour+10*time.Minute).Unix(),
		time.Date(2026, 11, 26, 0, 30, 0, 0, config.Tokyo).Unix())
	names := []string{"bosaimail_job_last_duration_seconds", "bosaimail_job_last_exit_code", "bosaimail_job_last_run_success",
		"bosaimail_job_last_success_timestamp_seconds", "bosaimail_job_next_due_timestamp_seconds", "bosaimail_job_reported",
		"bosaimail_job_running", "bosaimail_job_push_rejected_total"}
	if err := testutil.CollectAndCompare(collector.Adapt(context.Background(), c), strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
}

func TestJobsStatePersistsAndRemovedJobsRetained(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	clock := &jobsClock{t: jobsT0}
	c := newTestJobs(t, dir, state, jobsYML, clock)
	if _, err := c.store.Record("never", "success", jobsT0, jobsReport(nil)); err != nil {
		t.Fatal(err)
	}
	// The config is reloaded without "never" and with a new job.
	yml := strings.Replace(jobsYML, "- name: never", "- name: weekly", 1)
	c2 := newTestJobs(t, dir, state, yml, clock)
	all, err := c2.store.All()
	if err != nil {
		t.Fatal(err)
	}
	if st := all["never"]; st.RemovedAt.IsZero() || st.LastSuccess.IsZero() {
		t.Errorf("removed job: %+v, want its history kept and marked removed", st)
	}
	if _, ok := all["weekly"]; !ok {
		t.Error("new job not registered")
	}
	got, err := testutil.CollectAndFormat(collector.Adapt(context.Background(), c2), expfmt.TypeTextPlain, "bosaimail_job_reported")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(got), `"never"`) {
		t.Errorf("a removed job is still exported:\n%s", got)
	}
	// Restored: its history is back.
	clock.Set(clock.Now().Add(24 * time.Hour))
	c3 := newTestJobs(t, dir, state, jobsYML, clock)
	all, _ = c3.store.All()
	if st := all["never"]; !st.RemovedAt.IsZero() || !st.LastSuccess.Equal(jobsT0) {
		t.Errorf("restored job: %+v, want its last success back", st)
	}
}

func TestJobsStatusFiles(t *testing.T) {
	dir := t.TempDir()
	clock := &jobsClock{t: jobsT0}
	c := newTestJobs(t, dir, filepath.Join(dir, "data"), jobsYML, clock)
	srv := httptest.NewServer(c.Routes()[jobsAPIPrefix])
	defer srv.Close()
	sdir := filepath.Join(dir, "status")
	os.MkdirAll(sdir, 0o755)
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(sdir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// log-rotate pushed a success at 03:00; its status file says it failed
	// later, at 09:00 JST: the newer report wins.
	if code, body := jobsPush(t, srv, "POST", "/api/v1/jobs/log-rotate/success", "", ""); code != 200 {
		t.Fatal(code, body)
	}
	write("log-rotate.json", `{"job":"log-rotate","status":"failure","started_at":"2026-11-25T08:59:00+09:00","finished_at":"2026-11-25T09:00:00+09:00","exit_code":2}`)
	write("db-backup.json", `{"job":"db-backup","status":"running","started_at":"2026-11-25T02:00:00+09:00"}`)
	write("unknown.json", `{"job":"mystery","status":"success","finished_at":"2026-11-25T09:00:00+09:00"}`)
	write("broken.json", `{"job":"never","status":`)
	os.Symlink("loop.json", filepath.Join(sdir, "loop.json"))
	if err := c.files.RefreshOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	metric := func(name, job string) string {
		t.Helper()
		got, err := testutil.CollectAndFormat(collector.Adapt(context.Background(), c), expfmt.TypeTextPlain, name)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(got), "\n") {
			if strings.HasPrefix(line, name+`{job_name="`+job+`"}`) {
				return strings.Fields(line)[1]
			}
		}
		return "absent"
	}
	if v := metric("bosaimail_job_last_run_success", "log-rotate"); v != "0" {
		t.Errorf("log-rotate last_run_success = %s, want 0 (file is newer)", v)
	}
	v := metric("bosaimail_job_last_success_timestamp_seconds", "log-rotate")
	if f, _ := strconv.ParseFloat(v, 64); f != float64(jobsT0.Unix()) {
		t.Errorf("log-rotate last_success = %s, want the pushed one", v)
	}
	if v := metric("bosaimail_job_running", "db-backup"); v != "1" {
		t.Errorf("db-backup running = %s", v)
	}
	if v := metric("bosaimail_job_reported", "never"); v != "0" {
		t.Errorf("never reported = %s", v)
	}
	errs, _ := testutil.CollectAndFormat(collector.Adapt(context.Background(), c), expfmt.TypeTextPlain, "bosaimail_job_status_file_errors_total")
	for _, want := range []string{`reason="malformed"} 1`, `reason="unknown_job"} 1`, `reason="unreadable"} 1`} {
		if !strings.Contains(string(errs), want) {
			t.Errorf("status file errors %s lack %s", errs, want)
		}
	}

	// A file caught while being rewritten keeps what it said before.
	write("log-rotate.json", `{"job":"log-rotate","status":"succ`)
	if err := c.files.RefreshOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if v := metric("bosaimail_job_last_run_success", "log-rotate"); v != "0" {
		t.Errorf("half-written file changed the state: %s", v)
	}
	// A removed file no longer reports.
	os.Remove(filepath.Join(sdir, "db-backup.json"))
	c.files.RefreshOnce(context.Background())
	if v := metric("bosaimail_job_running", "db-backup"); v != "0" {
		t.Errorf("removed file still reports running: %s", v)
	}
}

func jobsReport(code *int) jobstate.Report { return jobstate.Report{ExitCode: code} }
