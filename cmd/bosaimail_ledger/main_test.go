package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/bosaimail/bosaimail_exporter/internal/app/ledger"
	"github.com/bosaimail/bosaimail_exporter/internal/testkit/testbin"
)

const (
	webhookToken = "kill-test-webhook-token"
	apiToken     = "kill-test-api-token-0123"
)

// TestSurvivesKill9 runs the real binary, sends a burst of webhooks from
// several senders at once, kills the process with SIGKILL in the middle,
// restarts it on the same database and checks that every payload it
// answered 200 is there and that the database file is consistent. Three
// rounds, so a kill during the recovery of the previous one is covered too.
func TestSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the ledger")
	}
	dir := t.TempDir()
	if err := testbin.Build(dir, "./cmd/bosaimail_ledger"); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "bosaimail_ledger")
	hash, err := ledger.HashPassword("pw")
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	users := write("users.yml", fmt.Sprintf("users:\n  - name: a\n    role: viewer\n    password_hash: %q\n", hash))
	wt, at := write("webhook-token", webhookToken), write("api-token", apiToken)
	db := filepath.Join(dir, "ledger.db")

	var acked sync.Map // alertname -> true
	total := 0
	client := &http.Client{Timeout: 5 * time.Second}
	for round := 0; round < 3; round++ {
		base, proc := startLedger(t, bin, db, users, wt, at)
		var n atomic.Int64
		var wg sync.WaitGroup
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				for seq := 0; ; seq++ {
					name := fmt.Sprintf("KillTest_r%d_g%d_%d", round, g, seq)
					body := fmt.Sprintf(`{"version":"4","status":"firing","receiver":"ledger","alerts":[{"status":"firing","labels":{"alertname":%q,"severity":"critical"},"annotations":{"summary":"x"},"startsAt":"2026-10-12T03:10:00Z","endsAt":"0001-01-01T00:00:00Z"}]}`, name)
					req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/alerts", strings.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+webhookToken)
					resp, err := client.Do(req)
					if err != nil {
						return // killed
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						t.Errorf("%s: HTTP %d", name, resp.StatusCode)
						return
					}
					acked.Store(name, true)
					n.Add(1)
				}
			}(g)
		}
		deadline := time.Now().Add(60 * time.Second)
		for n.Load() < 100 && time.Now().Before(deadline) {
			time.Sleep(2 * time.Millisecond) // polling the burst's progress
		}
		if err := proc.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		proc.Wait()
		wg.Wait()
		if n.Load() < 100 {
			t.Fatalf("round %d: only %d payloads acknowledged before the deadline", round, n.Load())
		}
		total += int(n.Load())
	}

	base, proc := startLedger(t, bin, db, users, wt, at)
	req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/incidents", nil)
	req.Header.Set("Authorization", "Bearer "+apiToken)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Incidents []ledger.Incident `json:"incidents"`
	}
	err = json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, inc := range got.Incidents {
		have[inc.Title] = true
	}
	missing := 0
	acked.Range(func(k, _ any) bool {
		if !have[k.(string)] {
			missing++
			if missing < 5 {
				t.Errorf("acknowledged alert %s lost after kill -9", k)
			}
		}
		return true
	})
	t.Logf("3 kills after %d acknowledged payloads; %d incidents stored, %d acknowledged ones missing", total, len(got.Incidents), missing)
	proc.Process.Signal(syscall.SIGTERM)
	proc.Wait()

	st, err := ledger.OpenStore(db, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Check(); err != nil {
		t.Errorf("database inconsistent after kill -9: %v", err)
	}
}

func startLedger(t *testing.T, bin, db, users, wt, at string) (string, *exec.Cmd) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	var logs bytes.Buffer
	cmd := exec.Command(bin, "--storage.path", db, "--users.file", users, "--webhook.token-file", wt,
		"--api.token-file", at, "--web.listen-address", addr)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	base := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return base, cmd
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the ledger did not become ready:\n%s", logs.String())
	return "", nil
}

func TestHashPassword(t *testing.T) {
	var out bytes.Buffer
	if code := run([]string{"hash-password"}, strings.NewReader("secret\n"), &out); code != 0 {
		t.Fatalf("exit %d", code)
	}
	users, err := ledger.ParseUsers("u", []byte(fmt.Sprintf("users:\n  - name: a\n    role: approver\n    password_hash: %q\n", strings.TrimSpace(out.String()))))
	if err != nil || users["a"] == nil {
		t.Fatalf("the printed hash is not a valid users-file hash: %v", err)
	}
}
