//go:build linux

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bosaimail/bosaimail_exporter/internal/testkit/testbin"
)

// TestDatabaseAlerts drives the mixin's database section with the real
// components from Debian's packages (PostgreSQL, prometheus-postgres-exporter,
// prometheus-node-exporter), the exporter's jobs push API fed by the shipped
// job scripts, and the real Prometheus evaluating the generated rules:
//   - the database stopped (SIGINT to the postmaster's PID) fires
//     BosaiMailDatabaseDown, and started again resolves it;
//   - a session held idle in a transaction past the threshold fires
//     BosaiMailDatabaseIdleInTransaction;
//   - the integrity check (bosaimail-db-job + bosaimail-db-integrity, i.e.
//     pg_amcheck) reports success, then a failed run fires
//     BosaiMailDatabaseIntegrityCheckFailed.
//
// The rules are generated from mixin/ with shorter thresholds (the
// _config knobs an installation would use), and Prometheus scrapes and
// evaluates every second, so the test takes well under a minute of waiting.
func TestDatabaseAlerts(t *testing.T) {
	tools := toolsDir(t, "prometheus", "jsonnet")
	pgBin := postgresBinDir(t)
	pgExporter := debianProgram(t, "prometheus-postgres-exporter")
	nodeExporter := debianProgram(t, "prometheus-node-exporter")
	progs := programs(t)
	root := testbin.RepoRoot()
	began := time.Now()

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	// Under /tmp with its own mode: t.TempDir() is private to this user,
	// and PostgreSQL runs as the postgres user when the test is root.
	work, err := os.MkdirTemp("", "bosaimail-db-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !t.Failed() {
			os.RemoveAll(work)
		} else {
			t.Logf("work directory kept: %s", work)
		}
	})
	if err := os.Chmod(work, 0o755); err != nil {
		t.Fatal(err)
	}

	// PostgreSQL.
	pg := &postgres{t: t, bin: pgBin, dir: filepath.Join(work, "pg"), port: freeTCPPort(t)}
	pg.init()
	pg.start()
	t.Cleanup(pg.stop)
	pg.psql("postgres", "CREATE DATABASE bosai")
	pg.psql("bosai", "CREATE TABLE subscribers (id serial PRIMARY KEY, address text NOT NULL, area int NOT NULL)",
		"INSERT INTO subscribers (address, area) SELECT 'user' || g || '@example.jp', g % 29 FROM generate_series(1, 5000) g",
		"CREATE INDEX ON subscribers (area)")

	// The exporters.
	pgExpPort, nodeExpPort, exporterPort, promPort := freeTCPPort(t), freeTCPPort(t), freeTCPPort(t), freeTCPPort(t)
	startProgram(ctx, t, work, "postgres_exporter",
		[]string{"DATA_SOURCE_NAME=" + fmt.Sprintf("postgresql://postgres@127.0.0.1:%d/bosai?sslmode=disable", pg.port)},
		"http://"+hostPort(pgExpPort)+"/metrics",
		pgExporter, "--web.listen-address="+hostPort(pgExpPort),
		"--extend.query-path="+filepath.Join(root, "examples", "database", "postgres_exporter_queries.yaml"))
	startProgram(ctx, t, work, "node_exporter", nil, "http://"+hostPort(nodeExpPort)+"/metrics",
		nodeExporter, "--web.listen-address="+hostPort(nodeExpPort))
	cfg := filepath.Join(work, "bosaimail.yml")
	if err := os.WriteFile(cfg, []byte("jobs:\n  scheduled:\n    - name: db-integrity\n      schedule: \"30 3 * * *\"\n      grace: 1h\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	startProgram(ctx, t, work, "bosaimail_exporter", nil, "http://"+hostPort(exporterPort)+"/-/ready",
		filepath.Join(progs, "bosaimail_exporter"), "--config.file="+cfg,
		"--web.listen-address="+hostPort(exporterPort), "--storage.path="+filepath.Join(work, "exporter"))

	// The mixin's rules with the thresholds an impatient installation
	// would set, evaluated every second.
	// databaseUnresponsiveScrapeSeconds sits under the postgres job's 5s
	// scrape timeout below, as the config's comment asks.
	override := `{_config+:: {databaseDownFor: '0m', databaseUnresponsiveScrapeSeconds: 4, databaseIdleInTransactionSeconds: 3, databaseSessionFor: '0m'}}`
	for _, part := range []string{"prometheusRules", "prometheusAlerts"} {
		expr := fmt.Sprintf(`std.manifestYamlDoc(((import 'mixin.libsonnet') + %s).%s, quote_keys=false)`, override, part)
		cmd := exec.Command(filepath.Join(tools, "jsonnet"), "-J", "mixin", "-S", "-e", expr)
		cmd.Dir = root
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("jsonnet %s: %v", part, err)
		}
		if err := os.WriteFile(filepath.Join(work, part+".yaml"), out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	promCfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files: [%q, %q]
scrape_configs:
  - job_name: postgres
    # postgres_exporter retries the connection of a stopped database
    # within the scrape: on a loaded machine that takes more than the 1s
    # of the other jobs, and a timed-out scrape loses pg_up altogether.
    scrape_interval: 5s
    scrape_timeout: 5s
    static_configs: [{targets: [%q]}]
  - job_name: node
    static_configs: [{targets: [%q]}]
  - job_name: bosaimail
    static_configs: [{targets: [%q]}]
`, filepath.Join(work, "prometheusRules.yaml"), filepath.Join(work, "prometheusAlerts.yaml"),
		hostPort(pgExpPort), hostPort(nodeExpPort), hostPort(exporterPort))
	if err := os.WriteFile(filepath.Join(work, "prometheus.yml"), []byte(promCfg), 0o644); err != nil {
		t.Fatal(err)
	}
	prom := "http://" + hostPort(promPort)
	startProgram(ctx, t, work, "prometheus", nil, prom+"/-/ready",
		filepath.Join(tools, "prometheus"), "--config.file="+filepath.Join(work, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(work, "prometheus"), "--web.listen-address="+hostPort(promPort))

	// Every target scraped, the rules recording from real series.
	for _, q := range []string{
		`pg_up{job="postgres"} == 1`,
		`up{job="node"} == 1`,
		`up{job="bosaimail"} == 1`,
		`bosaimail:database_connections:ratio`,
		`bosaimail:database_xid_age:ratio{datname="bosai"}`,
		`bosaimail:database_dead_tuples:ratio{relname="subscribers"}`,
		`bosaimail:database_dead_tuples_over_autovacuum_trigger{relname="subscribers"}`,
		`bosaimail:database_cache_hit:ratio_rate10m{datname="bosai"}`,
		`pg_stat_user_tables_size_bytes{relname="subscribers"} > 0`,
		`bosaimail:host_memory_available:ratio`,
		`bosaimail:host_filesystem_avail:ratio`,
	} {
		waitQuery(ctx, t, prom, q)
	}
	noAlert(ctx, t, prom, "BosaiMailDatabaseDown")
	t.Logf("stack up after %s", time.Since(began).Round(time.Second))

	// 1. The database stops: down alert; started again: resolved.
	step := time.Now()
	pg.kill()
	a := waitAlert(ctx, t, prom, "BosaiMailDatabaseDown", nil)
	if a.Labels["severity"] != "critical" || a.Labels["instance"] != hostPort(pgExpPort) || !strings.Contains(a.Annotations["summary"], "接続できません") {
		t.Errorf("BosaiMailDatabaseDown: unexpected alert %+v", a)
	}
	t.Logf("database stopped: BosaiMailDatabaseDown firing after %s", time.Since(step).Round(100*time.Millisecond))
	step = time.Now()
	pg.start()
	waitNoAlert(ctx, t, prom, "BosaiMailDatabaseDown")
	t.Logf("database started: BosaiMailDatabaseDown resolved after %s", time.Since(step).Round(100*time.Millisecond))

	// 1b. The database hangs (every postgres process stopped): connections
	// are accepted by the kernel but nothing answers, postgres_exporter
	// waits past the scrape timeout and pg_up is never written. The
	// unresponsive alert fires; the down alert cannot.
	step = time.Now()
	waitQuery(ctx, t, prom, `pg_up{job="postgres"} == 1`)
	pg.signalTree(syscall.SIGSTOP)
	thawed := false
	thaw := func() {
		if !thawed {
			pg.signalTree(syscall.SIGCONT)
			thawed = true
		}
	}
	t.Cleanup(thaw)
	a = waitAlert(ctx, t, prom, "BosaiMailDatabaseUnresponsive", nil)
	if a.Labels["severity"] != "critical" || a.Labels["instance"] != hostPort(pgExpPort) || !strings.Contains(a.Annotations["summary"], "応答しません") {
		t.Errorf("BosaiMailDatabaseUnresponsive: unexpected alert %+v", a)
	}
	t.Logf("database hung: BosaiMailDatabaseUnresponsive firing after %s", time.Since(step).Round(100*time.Millisecond))
	step = time.Now()
	thaw()
	waitNoAlert(ctx, t, prom, "BosaiMailDatabaseUnresponsive")
	waitQuery(ctx, t, prom, `pg_up{job="postgres"} == 1`)
	t.Logf("database resumed: BosaiMailDatabaseUnresponsive resolved after %s", time.Since(step).Round(100*time.Millisecond))

	// 2. A session idle in a transaction past the threshold.
	step = time.Now()
	noAlert(ctx, t, prom, "BosaiMailDatabaseIdleInTransaction")
	session := pg.session("bosai")
	session.send("BEGIN; UPDATE subscribers SET area = area + 1 WHERE id = 1;")
	a = waitAlert(ctx, t, prom, "BosaiMailDatabaseIdleInTransaction", map[string]string{"datname": "bosai", "state": "idle in transaction"})
	if v, err := strconv.ParseFloat(a.Value, 64); err != nil || v <= 3 {
		t.Errorf("BosaiMailDatabaseIdleInTransaction fired with value %q, want > 3 s", a.Value)
	}
	t.Logf("idle in transaction: alert firing after %s (value %s s)", time.Since(step).Round(100*time.Millisecond), a.Value)
	session.send("ROLLBACK;")
	session.close()
	waitNoAlert(ctx, t, prom, "BosaiMailDatabaseIdleInTransaction")

	// 3. The integrity check through the jobs API: a clean pg_amcheck run
	// reports success; a failed run fires the integrity alert.
	step = time.Now()
	job := func(extra ...string) error {
		args := append([]string{"db-integrity", filepath.Join(root, "examples", "database", "bosaimail-db-integrity")}, extra...)
		cmd := exec.CommandContext(ctx, filepath.Join(root, "examples", "database", "bosaimail-db-job"), args...)
		cmd.Env = append(os.Environ(), "BOSAIMAIL_JOBS_URL=http://"+hostPort(exporterPort)+"/api/v1/jobs",
			"PGHOST=127.0.0.1", "PGPORT="+strconv.Itoa(pg.port), "PGUSER=postgres", "PG_BINDIR="+pg.bin)
		out, err := cmd.CombinedOutput()
		t.Logf("bosaimail-db-job db-integrity %s: %v\n%s", strings.Join(extra, " "), err, out)
		return err
	}
	if err := job(); err != nil {
		t.Fatalf("the integrity check of a healthy database failed: %v", err)
	}
	waitQuery(ctx, t, prom, `bosaimail_job_last_run_success{job_name="db-integrity"} == 1`)
	noAlert(ctx, t, prom, "BosaiMailDatabaseIntegrityCheckFailed")
	if err := job("--database=no_such_database"); err == nil {
		t.Fatal("the integrity check of a missing database succeeded")
	}
	a = waitAlert(ctx, t, prom, "BosaiMailDatabaseIntegrityCheckFailed", map[string]string{"job_name": "db-integrity"})
	if a.Labels["severity"] != "critical" {
		t.Errorf("BosaiMailDatabaseIntegrityCheckFailed: severity %q, want critical", a.Labels["severity"])
	}
	var state struct {
		LastOK   bool   `json:"last_ok"`
		ExitCode int    `json:"last_exit_code"`
		Message  string `json:"last_message"`
	}
	if err := getJSONInto(ctx, "http://"+hostPort(exporterPort)+"/api/v1/jobs/db-integrity", &state); err != nil {
		t.Fatal(err)
	}
	if state.LastOK || state.ExitCode == 0 || !strings.Contains(state.Message, "no_such_database") {
		t.Errorf("job state after the failed check: %+v, want a failure naming the database", state)
	}
	t.Logf("integrity check failed: alert firing after %s", time.Since(step).Round(100*time.Millisecond))
	t.Logf("whole test: %s", time.Since(began).Round(time.Second))
}

// postgresBinDir finds the newest PostgreSQL server binaries of Debian's
// layout (/usr/lib/postgresql/<major>/bin).
func postgresBinDir(t *testing.T) string {
	t.Helper()
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		a, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		b, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return a < b
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "pg_ctl")); err == nil {
			return dirs[i]
		}
	}
	missing(t, "PostgreSQL server (apt-get install postgresql)")
	return ""
}

func debianProgram(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		missing(t, name+" (apt-get install "+name+")")
	}
	return p
}

// missing skips the test on a developer machine and fails it under CI,
// where .ci/run installs the packages.
func missing(t *testing.T, what string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%s not found", what)
	}
	t.Skipf("%s not found", what)
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func hostPort(port int) string { return fmt.Sprintf("127.0.0.1:%d", port) }

// startProgram starts a long-running program with its output in
// work/<name>.log, waits until ready answers 200, and stops it by its PID
// when the test ends.
func startProgram(ctx context.Context, t *testing.T, work, name string, env []string, ready, bin string, args ...string) {
	t.Helper()
	logPath := filepath.Join(work, name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = work
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Errorf("%s (pid %d) did not stop on SIGTERM; killed", name, cmd.Process.Pid)
		}
		logFile.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("log of %s:\n%s", name, tail(b, 3000))
		}
	})
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ready, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-done:
			b, _ := os.ReadFile(logPath)
			t.Fatalf("%s exited before it was ready:\n%s", name, tail(b, 3000))
		case <-ctx.Done():
			t.Fatalf("%s: %s not ready before the deadline", name, ready)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// postgres is a throwaway PostgreSQL cluster on 127.0.0.1:port, run as the
// postgres user when the test runs as root (PostgreSQL refuses root).
type postgres struct {
	t    *testing.T
	bin  string
	dir  string
	port int
	uid  int
	gid  int
}

func (p *postgres) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(p.bin, name), args...)
	if os.Geteuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(p.uid), Gid: uint32(p.gid)}}
	}
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.Dir = p.dir
	return cmd
}

func (p *postgres) run(name string, args ...string) {
	p.t.Helper()
	if out, err := p.command(name, args...).CombinedOutput(); err != nil {
		p.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

func (p *postgres) init() {
	p.t.Helper()
	p.uid, p.gid = os.Getuid(), os.Getgid()
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			p.t.Fatalf("running as root needs the postgres user (from the postgresql package): %v", err)
		}
		p.uid, _ = strconv.Atoi(u.Uid)
		p.gid, _ = strconv.Atoi(u.Gid)
	}
	if err := os.MkdirAll(p.dir, 0o700); err != nil {
		p.t.Fatal(err)
	}
	if err := os.Chown(p.dir, p.uid, p.gid); err != nil {
		p.t.Fatal(err)
	}
	p.run("initdb", "-D", filepath.Join(p.dir, "data"), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
}

func (p *postgres) start() {
	p.t.Helper()
	p.run("pg_ctl", "-D", filepath.Join(p.dir, "data"), "-l", filepath.Join(p.dir, "server.log"), "-w", "-t", "60",
		"-o", fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off", p.port, p.dir), "start")
}

// pid is the postmaster's PID from its pid file (0 when not running).
func (p *postgres) pid() int {
	b, err := os.ReadFile(filepath.Join(p.dir, "data", "postmaster.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	return pid
}

// signalTree sends sig to the postmaster and every process under it (its
// backends and background workers), found by their parent PIDs in /proc.
func (p *postgres) signalTree(sig syscall.Signal) {
	p.t.Helper()
	root := p.pid()
	if root == 0 {
		p.t.Fatal("postgres is not running")
	}
	tree := map[int]bool{root: true}
	for grew := true; grew; {
		grew = false
		stats, _ := filepath.Glob("/proc/[0-9]*/stat")
		for _, st := range stats {
			b, err := os.ReadFile(st)
			if err != nil {
				continue
			}
			// pid (comm) state ppid ...: comm may hold spaces, so the
			// fields are read after its closing parenthesis.
			rest := string(b[strings.LastIndexByte(string(b), ')')+1:])
			f := strings.Fields(rest)
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(st)))
			if len(f) < 2 {
				continue
			}
			ppid, _ := strconv.Atoi(f[1])
			if tree[ppid] && !tree[pid] {
				tree[pid] = true
				grew = true
			}
		}
	}
	for pid := range tree {
		if err := syscall.Kill(pid, sig); err != nil && err != syscall.ESRCH {
			p.t.Fatalf("signal %v to postgres process %d: %v", sig, pid, err)
		}
	}
}

// kill stops the server by its PID (SIGINT: fast shutdown, clients
// disconnected) and waits until the process is gone.
func (p *postgres) kill() {
	p.t.Helper()
	pid := p.pid()
	if pid == 0 {
		p.t.Fatal("postgres is not running")
	}
	if err := syscall.Kill(pid, syscall.SIGINT); err != nil {
		p.t.Fatalf("signalling the postmaster (pid %d): %v", pid, err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			p.t.Fatalf("postmaster (pid %d) still running 60 s after SIGINT", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *postgres) stop() {
	pid := p.pid()
	if pid == 0 || syscall.Kill(pid, 0) != nil {
		return
	}
	_ = syscall.Kill(pid, syscall.SIGQUIT) // immediate shutdown: the data is thrown away
	for i := 0; i < 200 && syscall.Kill(pid, 0) == nil; i++ {
		time.Sleep(50 * time.Millisecond)
	}
	if syscall.Kill(pid, 0) == nil {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		p.t.Errorf("postmaster (pid %d) did not stop on SIGQUIT; killed", pid)
	}
}

func (p *postgres) psql(db string, statements ...string) {
	p.t.Helper()
	args := []string{"-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", strconv.Itoa(p.port), "-U", "postgres", "-d", db}
	for _, s := range statements {
		args = append(args, "-c", s)
	}
	p.run("psql", args...)
}

// pgSession is an interactive psql kept open, so a transaction can stay
// open between statements.
type pgSession struct {
	t     *testing.T
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bytes.Buffer
	done  chan struct{}
}

func (p *postgres) session(db string) *pgSession {
	p.t.Helper()
	cmd := p.command("psql", "-X", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", strconv.Itoa(p.port), "-U", "postgres", "-d", db)
	in, err := cmd.StdinPipe()
	if err != nil {
		p.t.Fatal(err)
	}
	s := &pgSession{t: p.t, cmd: cmd, stdin: in, out: &bytes.Buffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = s.out, s.out
	if err := cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	go func() { cmd.Wait(); close(s.done) }()
	p.t.Cleanup(s.close)
	return s
}

func (s *pgSession) send(sql string) {
	s.t.Helper()
	if _, err := io.WriteString(s.stdin, sql+"\n"); err != nil {
		s.t.Fatalf("psql session: %v", err)
	}
}

func (s *pgSession) close() {
	select {
	case <-s.done:
		return
	default:
	}
	s.stdin.Close()
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

type promAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	State       string            `json:"state"`
	Value       string            `json:"value"`
}

func firingAlerts(ctx context.Context, prom, name string) ([]promAlert, error) {
	var r struct {
		Data struct {
			Alerts []promAlert `json:"alerts"`
		} `json:"data"`
	}
	if err := getJSONInto(ctx, prom+"/api/v1/alerts", &r); err != nil {
		return nil, err
	}
	var out []promAlert
	for _, a := range r.Data.Alerts {
		if a.Labels["alertname"] == name && a.State == "firing" {
			out = append(out, a)
		}
	}
	return out, nil
}

// waitAlert polls Prometheus until the alert fires with the given labels.
func waitAlert(ctx context.Context, t *testing.T, prom, name string, labels map[string]string) promAlert {
	t.Helper()
	for {
		as, err := firingAlerts(ctx, prom, name)
	next:
		for _, a := range as {
			for k, v := range labels {
				if a.Labels[k] != v {
					continue next
				}
			}
			return a
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s%v did not fire before the deadline (last: %v, %+v)", name, labels, err, as)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func waitNoAlert(ctx context.Context, t *testing.T, prom, name string) {
	t.Helper()
	for {
		as, err := firingAlerts(ctx, prom, name)
		if err == nil && len(as) == 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s still firing at the deadline (%v): %+v", name, err, as)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func noAlert(ctx context.Context, t *testing.T, prom, name string) {
	t.Helper()
	as, err := firingAlerts(ctx, prom, name)
	if err != nil {
		t.Fatal(err)
	}
	if len(as) > 0 {
		t.Fatalf("%s firing when it should not: %+v", name, as)
	}
}

// waitQuery polls until the instant query returns at least one sample.
func waitQuery(ctx context.Context, t *testing.T, prom, q string) {
	t.Helper()
	for {
		var r struct {
			Data struct {
				Result []json.RawMessage `json:"result"`
			} `json:"data"`
		}
		err := getJSONInto(ctx, prom+"/api/v1/query?query="+url.QueryEscape(q), &r)
		if err == nil && len(r.Data.Result) > 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("query %s returned nothing before the deadline (%v)", q, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
