package exporter

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bosaimail/bosaimail_exporter/internal/testkit/testbin"
)

// reloadSoakBinary is the exporter under test: built from this tree, or the
// binary BOSAIMAIL_EXPORTER names (to measure another build, e.g. main, with
// the same test).
func reloadSoakBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("BOSAIMAIL_EXPORTER"); p != "" {
		return p
	}
	dir := t.TempDir()
	if err := testbin.Build(dir, "./cmd/bosaimail_exporter"); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "bosaimail_exporter")
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// soakUpstreams serves, with keep-alive, what the background sources read:
// a Statuspage summary, delivery statistics, a queue dump and a maintenance
// calendar.
func soakUpstreams(t *testing.T) *httptest.Server {
	t.Helper()
	root := testbin.RepoRoot()
	read := func(p string) []byte {
		b, err := os.ReadFile(filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	summary, stats, queue := read("testdata/cloud/statuspage_summary.json"), read("testdata/delivery/stats.json"), read("testdata/delivery/postqueue.jsonl")
	ics := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:1@test\r\nDTSTAMP:20261101T000000Z\r\nDTSTART:20991101T000000Z\r\nDTEND:20991101T010000Z\r\nSUMMARY:定期メンテナンス\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/summary.json", "/other/summary.json":
			w.Header().Set("Content-Type", "application/json")
			w.Write(summary)
		case "/stats":
			w.Header().Set("Content-Type", "application/json")
			w.Write(stats)
		case "/queue":
			w.Write(queue)
		case "/maintenance.ics":
			w.Header().Set("Content-Type", "text/calendar")
			io.WriteString(w, ics)
		case "/healthz":
			io.WriteString(w, `{"status":"ok"}`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// soakConfig is the valid config; with extra, a second cloud source that
// later reloads drop again (a source that comes and goes).
func soakConfig(base string, extra bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, `services:
  - name: delivery
    checks:
      - name: api
        kind: http
        http:
          url: %[1]s/healthz
cloud:
  sources:
    - name: statuspage
      type: statuspage
      url: %[1]s/summary.json
      interval: 2s
      timeout: 1s
`, base)
	if extra {
		fmt.Fprintf(&b, `    - name: extra
      type: statuspage
      url: %s/other/summary.json
      interval: 2s
      timeout: 1s
`, base)
	}
	fmt.Fprintf(&b, `maintenance:
  calendars:
    - name: vendor
      url: %[1]s/maintenance.ics
      services: [delivery]
      refresh_interval: 2s
      timeout: 1s
delivery:
  stats:
    url: %[1]s/stats
    interval: 2s
    timeout: 1s
  queue:
    url: %[1]s/queue
    interval: 2s
    timeout: 1s
`, base)
	return b.String()
}

type soakExporter struct {
	t    *testing.T
	cmd  *exec.Cmd
	addr string
}

func (e *soakExporter) scrape() (string, error) {
	resp, err := http.Get("http://" + e.addr + "/metrics")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("HTTP %d: %s", resp.StatusCode, body)
	}
	return string(body), nil
}

func (e *soakExporter) fds() int {
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", e.cmd.Process.Pid))
	if err != nil {
		e.t.Fatal(err)
	}
	return len(entries)
}

// sample finds the value of the first series whose line starts with prefix.
func sample(body, prefix string) (float64, bool) {
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, prefix) {
			f := strings.Fields(line)
			v, err := strconv.ParseFloat(f[len(f)-1], 64)
			return v, err == nil
		}
	}
	return 0, false
}

// keptSeries are the series of the sources that every valid config has
// unchanged: each must be present, with the same value, after every reload.
var keptSeriesRE = regexp.MustCompile(`^(bosaimail_cloud_component_status\{[^}]*provider="statuspage"|bosaimail_broadcast_recipients\{|bosaimail_queue_messages\{|bosaimail_source_up\{collector="(cloud",source="statuspage|delivery_stats|delivery_queue|maintenance)")`)

func keptSeries(body string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(body, "\n") {
		if keptSeriesRE.MatchString(line) {
			i := strings.LastIndexByte(line, ' ')
			out[line[:i]] = line[i+1:]
		}
	}
	return out
}

func diffSeries(want, got map[string]string) string {
	var d []string
	for k, v := range want {
		if g, ok := got[k]; !ok {
			d = append(d, "missing "+k)
		} else if g != v {
			d = append(d, fmt.Sprintf("%s = %s, want %s", k, g, v))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			d = append(d, "new "+k)
		}
	}
	sort.Strings(d)
	return strings.Join(d, "\n")
}

// TestReloadSoak runs the real binary with background sources and reloads
// it 200 times, by SIGHUP and by POST /-/reload, alternating valid configs
// (one of which adds a source the next drops) and invalid ones. No scrape
// may fail, every source that no config changed keeps its series (same
// values, source up) across every reload, and open file descriptors and
// goroutines return to where they started (±5). BOSAIMAIL_RELOADS sets the
// number of reloads.
func TestReloadSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary")
	}
	reloads := 200
	if v, err := strconv.Atoi(os.Getenv("BOSAIMAIL_RELOADS")); err == nil && v > 0 {
		reloads = v
	}
	bin := reloadSoakBinary(t)
	up := soakUpstreams(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "bosaimail.yml")
	write := func(s string) {
		t.Helper()
		// Replace atomically: a SIGHUP never reads a half-written file.
		tmp := cfgPath + ".tmp"
		if err := os.WriteFile(tmp, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, cfgPath); err != nil {
			t.Fatal(err)
		}
	}
	write(soakConfig(up.URL, false))
	e := &soakExporter{t: t, addr: freeAddr(t)}
	e.cmd = exec.Command(bin, "--config.file="+cfgPath, "--web.listen-address="+e.addr, "--storage.path="+filepath.Join(dir, "data"), "--log.level="+soakLogLevel())
	logs := &limitedLog{max: 1 << 20}
	e.cmd.Stderr = logs
	if err := e.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		e.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { e.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			e.cmd.Process.Kill()
			<-done
		}
	})

	// Every source up with its series before the baseline is taken.
	var base map[string]string
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		body, err := e.scrape()
		if err == nil {
			base = keptSeries(body)
			n := 0
			for k, v := range base {
				if strings.HasPrefix(k, "bosaimail_source_up") && v == "1" {
					n++
				}
			}
			if n == 4 && len(base) > 10 {
				break
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("sources never all up: %v\n%v\n%s", err, base, logs.b.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	goroutines := func() int {
		body, err := e.scrape()
		if err != nil {
			t.Fatal(err)
		}
		v, _ := sample(body, "go_goroutines ")
		return int(v)
	}
	// The first refreshes opened their keep-alive connections: the level
	// an idle exporter holds.
	time.Sleep(2 * time.Second)
	startFDs, startG := e.fds(), goroutines()

	reloadTS := func(body string) float64 {
		v, _ := sample(body, "bosaimail_config_last_reload_success_timestamp_seconds ")
		return v
	}
	okOf := func(body string) float64 {
		v, _ := sample(body, "bosaimail_config_last_reload_successful ")
		return v
	}
	// BOSAIMAIL_SOAK_MEASURE_ONLY=1 counts the reloads that lost series
	// instead of failing at the first, to measure a build that does (main).
	measureOnly := os.Getenv("BOSAIMAIL_SOAK_MEASURE_ONLY") != ""
	lostSeries := 0
	body, _ := e.scrape()
	lastTS := reloadTS(body)
	extra := false
	for i := 0; i < reloads; i++ {
		valid := i%2 == 0
		if valid {
			extra = !extra
			write(soakConfig(up.URL, extra))
		} else {
			write(soakConfig(up.URL, extra) + "unknown_key: [\n")
		}
		bySignal := (i/2)%2 == 0
		if bySignal {
			if err := e.cmd.Process.Signal(syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
		} else {
			resp, err := http.Post("http://"+e.addr+"/-/reload", "", nil)
			if err != nil {
				t.Fatalf("reload %d: %v", i, err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if (resp.StatusCode == http.StatusOK) != valid {
				t.Fatalf("reload %d (valid %t) answered %s", i, valid, resp.Status)
			}
		}
		// Wait until the exporter took it (a SIGHUP is asynchronous).
		deadline := time.Now().Add(10 * time.Second)
		for {
			body, err := e.scrape()
			if err != nil {
				t.Fatalf("reload %d: scrape failed: %v", i, err)
			}
			ts, ok := reloadTS(body), okOf(body)
			if valid && ok == 1 && ts != lastTS || !valid && ok == 0 {
				lastTS = ts
				if d := diffSeries(base, keptSeries(body)); d != "" && measureOnly {
					lostSeries++
				} else if d != "" {
					t.Fatalf("reload %d (valid %t, signal %t): the unchanged sources' series changed:\n%s\n%s", i, valid, bySignal, d, logs.b.String())
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("reload %d (valid %t, signal %t) never took effect", i, valid, bySignal)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	// Leave the config as it started (without the extra source).
	write(soakConfig(up.URL, false))
	resp, err := http.Post("http://"+e.addr+"/-/reload", "", nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("final reload: %v %v", err, resp)
	}
	resp.Body.Close()

	endFDs := settle(startFDs+5, e.fds)
	endG := settle(startG+5, goroutines)
	t.Logf("after %d reloads: open fds %d -> %d, goroutines %d -> %d; reloads that lost unchanged series: %d", reloads, startFDs, endFDs, startG, endG, lostSeries)
	if endFDs > startFDs+5 || endFDs < startFDs-5 {
		t.Errorf("open fds %d -> %d after %d reloads", startFDs, endFDs, reloads)
	}
	if endG > startG+5 || endG < startG-5 {
		t.Errorf("goroutines %d -> %d after %d reloads", startG, endG, reloads)
	}
}

// limitedLog keeps the start of the exporter's log for a failure message.
type limitedLog struct {
	max int
	b   strings.Builder
}

func (l *limitedLog) Write(p []byte) (int, error) {
	if l.b.Len() < l.max {
		l.b.Write(p)
	}
	return len(p), nil
}

func soakLogLevel() string {
	if l := os.Getenv("BOSAIMAIL_SOAK_LOG"); l != "" {
		return l
	}
	return "warn"
}
