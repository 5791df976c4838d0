package e2e

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bosaimail/bosaimail_exporter/internal/testkit/testbin"
)

// TestDemo runs `make demo`'s program (on free ports, so it can run next to
// a real demo), checks that every URL it prints answers, interrupts it as
// Ctrl-C would, and checks that it and all it started have stopped.
func TestDemo(t *testing.T) {
	tools := toolsDir(t, "prometheus", "alertmanager", "mailpit")
	bin := programs(t)
	dir := filepath.Join(t.TempDir(), "demo")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "bosaimail_demo"),
		"-bin", bin, "-tools", tools, "-root", testbin.RepoRoot(), "-dir", dir, "-free-ports")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	var out strings.Builder
	lines := bufio.NewScanner(stdout)
	ready := false
	for lines.Scan() {
		out.WriteString(lines.Text() + "\n")
		if strings.Contains(lines.Text(), "Ctrl-C stops everything") {
			ready = true
			break
		}
	}
	if !ready {
		t.Fatalf("the demo did not come up; it printed:\n%s", out.String())
	}
	urls := regexp.MustCompile(`http://127\.0\.0\.1:\d+/[a-z]*`).FindAllString(out.String(), -1)
	if len(urls) < 6 {
		t.Fatalf("the demo printed %d URLs, want the exporter, Prometheus, Alertmanager, two mailboxes and the simulators:\n%s", len(urls), out.String())
	}
	client := &http.Client{Timeout: 5 * time.Second}
	for _, u := range urls {
		resp, err := client.Get(u)
		if err != nil {
			t.Errorf("printed URL %s: %v", u, err)
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Errorf("printed URL %s: HTTP %d", u, resp.StatusCode)
		}
	}
	if !strings.Contains(out.String(), `curl -X PUT -d '{"health_fail": true}' http://127.0.0.1:`) {
		t.Errorf("the demo does not tell how to inject a fault:\n%s", out.String())
	}

	// Ctrl-C.
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, stdout)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the demo did not exit cleanly on Ctrl-C: %v", err)
	}
	// Nothing it started may survive: every program's pid was logged.
	pids := regexp.MustCompile(`started (\S+) \(pid (\d+)\)`).FindAllStringSubmatch(out.String(), -1)
	if len(pids) < 8 {
		t.Fatalf("the demo logged %d started programs, want 8 or more:\n%s", len(pids), out.String())
	}
	for _, p := range pids {
		if _, err := os.Stat("/proc/" + p[2]); err == nil {
			if b, _ := os.ReadFile("/proc/" + p[2] + "/cmdline"); strings.Contains(string(b), dir) {
				t.Errorf("%s (pid %s) still runs after the demo stopped", p[1], p[2])
			}
		}
	}
}
