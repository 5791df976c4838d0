package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bosaimail/bosaimail_exporter/internal/testkit/testbin"
)

// TestJobsSurviveKill9 starts the real exporter binary, pushes a burst of
// reports from several jobs at once, kills the process with SIGKILL in the
// middle of the burst, restarts it on the same --storage.path and checks
// that every report answered 2xx is still there.
func TestJobsSurviveKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the exporter")
	}
	dir := t.TempDir()
	if err := testbin.Build(dir, "./cmd/bosaimail_exporter"); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "bosaimail_exporter")
	const jobs = 6
	var yml strings.Builder
	yml.WriteString("jobs:\n  scheduled:\n")
	for j := 0; j < jobs; j++ {
		fmt.Fprintf(&yml, "    - {name: job%d, interval: 1h}\n", j)
	}
	cfgFile := filepath.Join(dir, "bosaimail.yml")
	if err := os.WriteFile(cfgFile, []byte(yml.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state")

	base, proc := startJobsExporter(t, bin, cfgFile, state)

	// Each job pushes sequentially (so "the latest acknowledged report" is
	// well defined) while all jobs push at once.
	acked := make([]atomic.Int64, jobs)     // highest seq answered 2xx
	attempted := make([]atomic.Int64, jobs) // highest seq sent
	var total atomic.Int64
	client := &http.Client{Timeout: 5 * time.Second}
	var wg sync.WaitGroup
	for j := 0; j < jobs; j++ {
		wg.Add(1)
		go func(j int) {
			defer wg.Done()
			for seq := int64(1); seq <= 100000; seq++ {
				kind, body := "success", fmt.Sprintf(`{"message":"seq %d"}`, seq)
				if seq%3 == 0 {
					kind, body = "fail", fmt.Sprintf(`{"exit_code":%d,"message":"seq %d"}`, seq%200+1, seq)
				}
				attempted[j].Store(seq)
				resp, err := client.Post(fmt.Sprintf("%s/api/v1/jobs/job%d/%s", base, j, kind), "application/json", strings.NewReader(body))
				if err != nil {
					return // the exporter is gone
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode/100 != 2 {
					t.Errorf("job%d seq %d: status %d", j, seq, resp.StatusCode)
					return
				}
				acked[j].Store(seq)
				total.Add(1)
			}
		}(j)
	}
	deadline := time.Now().Add(60 * time.Second)
	for total.Load() < 300 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond) // polling the burst's progress, not waiting for a result
	}
	if err := proc.Process.Kill(); err != nil { // SIGKILL: no shutdown code runs
		t.Fatal(err)
	}
	proc.Wait()
	wg.Wait()
	if total.Load() < 300 {
		t.Fatalf("only %d reports acknowledged before the deadline", total.Load())
	}
	t.Logf("killed after %d acknowledged reports", total.Load())

	base, _ = startJobsExporter(t, bin, cfgFile, state)
	metrics := jobsScrape(t, base)
	lint := exec.Command(testbin.Path(t, "promtool"), "check", "metrics")
	lint.Stdin = strings.NewReader(metrics)
	if out, err := lint.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
	for j := 0; j < jobs; j++ {
		resp, err := client.Get(fmt.Sprintf("%s/api/v1/jobs/job%d", base, j))
		if err != nil {
			t.Fatal(err)
		}
		var st struct {
			LastOK      *bool  `json:"last_ok"`
			LastMessage string `json:"last_message"`
			LastExit    *int   `json:"last_exit_code"`
		}
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		got, _ := strconv.ParseInt(strings.TrimPrefix(st.LastMessage, "seq "), 10, 64)
		// The report in flight at the kill may or may not have been
		// committed; every acknowledged one must have been.
		if got < acked[j].Load() || got > attempted[j].Load() {
			t.Errorf("job%d: stored seq %d, acknowledged %d, attempted %d", j, got, acked[j].Load(), attempted[j].Load())
		}
		wantOK := got%3 != 0
		if st.LastOK == nil || *st.LastOK != wantOK {
			t.Errorf("job%d: last_ok %v for seq %d", j, st.LastOK, got)
		}
		wantSuccess := "1"
		if !wantOK {
			wantSuccess = "0"
		}
		if line := fmt.Sprintf(`bosaimail_job_last_run_success{job_name="job%d"} %s`, j, wantSuccess); !strings.Contains(metrics, line) {
			t.Errorf("metrics lack %s", line)
		}
	}
}

func startJobsExporter(t *testing.T, bin, cfgFile, state string) (string, *exec.Cmd) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--config.file="+cfgFile, "--web.listen-address="+addr, "--storage.path="+state, "--log.level=warn")
	var logs strings.Builder
	cmd.Stderr = &jobsLogWriter{w: &logs}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		if t.Failed() {
			t.Logf("exporter log:\n%s", logs.String())
		}
	})
	base := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return base, cmd
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("exporter not ready: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func jobsScrape(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

type jobsLogWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *jobsLogWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
