package main

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/bosaimail/bosaimail_exporter/internal/app/ledger"
	"github.com/bosaimail/bosaimail_exporter/internal/testkit/testbin"
	"github.com/bosaimail/bosaimail_exporter/internal/testkit/testcerts"
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

func startLedger(t *testing.T, bin, db, users, wt, at string, extra ...string) (string, *exec.Cmd) {
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
	cmd.Args = append(cmd.Args, extra...)
	client := http.DefaultClient
	scheme := "http://"
	if len(extra) > 0 {
		client, scheme = tlsClient, "https://"
	}
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	base := scheme + addr
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := client.Get(base + "/-/ready")
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

// tlsClient trusts the CA of TestTLS.
var tlsClient *http.Client

// TestTLS serves the ledger over TLS with exporter-toolkit's web
// configuration, as the exporter does; the session cookie is then Secure.
func TestTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the ledger")
	}
	dir := t.TempDir()
	if err := testbin.Build(dir, "./cmd/bosaimail_ledger"); err != nil {
		t.Fatal(err)
	}
	ca, err := testcerts.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Leaf([]string{"127.0.0.1"}, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := testcerts.WriteKeyPair(dir, "ledger", leaf)
	if err != nil {
		t.Fatal(err)
	}
	webCfg := filepath.Join(dir, "web.yml")
	os.WriteFile(webCfg, []byte(fmt.Sprintf("tls_server_config:\n  cert_file: %s\n  key_file: %s\n", cert, key)), 0o600)
	hash, _ := ledger.HashPassword("pw-of-uketaku")
	users := filepath.Join(dir, "users.yml")
	os.WriteFile(users, []byte(fmt.Sprintf("users:\n  - name: uketaku\n    role: contractor\n    password_hash: %q\n", hash)), 0o600)
	wt := filepath.Join(dir, "wt")
	os.WriteFile(wt, []byte(webhookToken), 0o600)
	at := filepath.Join(dir, "at")
	os.WriteFile(at, []byte(apiToken), 0o600)
	jar, _ := cookiejar.New(nil)
	tlsClient = &http.Client{Timeout: 10 * time.Second, Jar: jar, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	base, _ := startLedger(t, filepath.Join(dir, "bosaimail_ledger"), filepath.Join(dir, "ledger.db"), users, wt, at, "--web.config.file", webCfg)

	resp, err := tlsClient.Get(base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF field on the login page:\n%s", page)
	}
	form := url.Values{"username": {"uketaku"}, "password": {"pw-of-uketaku"}, "csrf_token": {string(m[1])}}
	req, _ := http.NewRequest(http.MethodPost, base+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Referer", base+"/login")
	resp, err = tlsClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login over TLS: HTTP %d", resp.StatusCode)
	}
	var session *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "bosaimail_ledger_session" {
			session = c
		}
	}
	if session == nil || !session.Secure || !session.HttpOnly {
		t.Errorf("session cookie over TLS: %+v, want Secure and HttpOnly", session)
	}
	// Plain HTTP to the TLS port is refused.
	if resp, err := http.Get("http://" + strings.TrimPrefix(base, "https://") + "/login"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Errorf("plain HTTP served on the TLS port")
		}
	}
}
