package exporter

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// secretConfig uses every kind of secret the config accepts: credentials
// and keys inside URLs (user:password@, ?api_key=) of every URL-taking
// source, and every *_file secret. Each secret is a distinct marker
// containing "SECRET", so a leak is found by grepping for that word.
func secretConfig(base, closed string) string {
	return fmt.Sprintf(`services:
  - name: web
    checks:
      - name: url-creds
        kind: http
        http:
          url: http://monitor:SECRET-http-url-password@%[1]s/fail?api_key=SECRET-http-url-query
      - name: basic
        kind: http
        http:
          url: http://%[1]s/fail?token=SECRET-basic-url-query
          basic_auth: {username: monitor, password_file: secrets/basic-password}
      - name: bearer
        kind: http
        http:
          url: http://%[1]s/fail
          bearer_token_file: secrets/http-bearer
      - name: smtp
        kind: smtp
        smtp:
          address: %[2]s
          tls: starttls
          auth: {username: monitor, password_file: secrets/smtp-password}
      - name: roundtrip
        kind: roundtrip
        roundtrip:
          send:
            http:
              url: http://sender:SECRET-roundtrip-url-password@%[1]s/fail?key=SECRET-roundtrip-url-query
              bearer_token_file: secrets/roundtrip-bearer
              body: '{"subject": {{json .Subject}}}'
          mailbox:
            protocol: imap
            address: %[2]s
            username: canary
            password_file: secrets/mailbox-password
cloud:
  sources:
    - name: status
      type: statuspage
      url: http://u:SECRET-cloud-url-password@%[1]s/fail?api_key=SECRET-cloud-url-query
      interval: 2s
      timeout: 1s
    - name: quota
      type: json
      url: http://%[1]s/fail?key=SECRET-json-url-query
      bearer_token_file: secrets/cloud-bearer
      interval: 2s
      timeout: 1s
      metrics: [{name: status, query: '.status'}]
maintenance:
  calendars:
    - name: vendor
      url: http://%[1]s/fail?token=SECRET-calendar-url-query
      services: [web]
      refresh_interval: 2s
      timeout: 1s
delivery:
  stats:
    url: http://s:SECRET-stats-url-password@%[1]s/fail
    bearer_token_file: secrets/stats-bearer
    interval: 2s
    timeout: 1s
  queue:
    url: http://%[1]s/fail?key=SECRET-queue-url-query
    bearer_token_file: secrets/queue-bearer
    interval: 2s
    timeout: 1s
  ses:
    region: ap-northeast-1
    endpoint: http://%[1]s/fail
    access_key_id_file: secrets/ses-key-id
    secret_access_key_file: secrets/ses-secret-key
    interval: 2s
    timeout: 1s
jobs:
  scheduled:
    - {name: backup, interval: 1h, token_file: secrets/job-token}
  integrity:
    - name: data
      directory: data
      hmac_key_file: secrets/hmac-key
      hmac_file: SHA256SUMS.hmac
      interval: 2s
security:
  inventory:
    - {product: postfix, version: 3.7.9, cpe: "cpe:2.3:a:postfix:postfix:3.7.9:*:*:*:*:*:*:*"}
  advisories:
    nvd: {enabled: true, url: "http://%[1]s/fail?apiKey=SECRET-nvd-url-query", api_key_file: secrets/nvd-key, request_interval: 1ms}
  findings:
    - {name: ids, kind: http, url: "http://f:SECRET-findings-url-password@%[1]s/fail", bearer_token_file: secrets/findings-bearer, severity: .sev, active: '.state == "ACTIVE"'}
`, base, closed)
}

var secretFiles = []string{"basic-password", "http-bearer", "smtp-password", "roundtrip-bearer", "mailbox-password",
	"cloud-bearer", "stats-bearer", "queue-bearer", "ses-key-id", "ses-secret-key", "job-token", "hmac-key", "nvd-key", "findings-bearer"}

// TestNoSecretLeaks runs the real binary at debug level with every kind of
// secret, against peers that fail (so every source and check logs its
// error, quoting its URL), and checks that no secret appears on the landing
// page, /metrics, the log, a /-/reload answer for a broken config, or
// --config.check's message.
func TestNoSecretLeaks(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary")
	}
	bin := reloadSoakBinary(t)
	var seenMu sync.Mutex
	var seen []string // what the peer was asked, to prove secrets were sent
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seenMu.Lock()
		seen = append(seen, r.Header.Get("Authorization")+" "+r.URL.RawQuery)
		seenMu.Unlock()
		// An error page that echoes what it was asked, as some do.
		http.Error(w, "denied: "+r.URL.String(), http.StatusUnauthorized)
	}))
	defer peer.Close()
	base := strings.TrimPrefix(peer.URL, "http://")
	closed := freeAddr(t)

	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "secrets"), 0o700)
	os.MkdirAll(filepath.Join(dir, "data"), 0o700)
	for _, f := range secretFiles {
		if err := os.WriteFile(filepath.Join(dir, "secrets", f), []byte("SECRET-file-"+f+"-0123456789\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfgPath := filepath.Join(dir, "bosaimail.yml")
	good := secretConfig(base, closed)
	if err := os.WriteFile(cfgPath, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	var logs bytes.Buffer
	cmd := exec.Command(bin, "--config.file="+cfgPath, "--web.listen-address="+addr, "--storage.path="+filepath.Join(dir, "state"), "--log.level=debug")
	logw := &syncWriter{w: &logs}
	cmd.Stderr = logw
	cmd.Env = append(os.Environ(), "AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE="+filepath.Join(dir, "none"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "none"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	get := func(path string) string {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			resp, err := http.Get("http://" + addr + path)
			if err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				return string(b)
			}
			if time.Now().After(deadline) {
				t.Fatalf("GET %s: %v\n%s", path, err, logw.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	var outputs []string
	// Scrape until every source tried at least once and failed.
	deadline := time.Now().Add(30 * time.Second)
	for {
		m := get("/metrics")
		if strings.Count(m, "bosaimail_source_failures_total{") >= 6 || time.Now().After(deadline) {
			outputs = append(outputs, "/metrics:\n"+m)
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	outputs = append(outputs, "/:\n"+get("/"))

	// Broken configs whose errors would quote the secret URLs.
	for _, bad := range []string{
		good + "unknown_key: 1\n",
		strings.Replace(good, "url: http://monitor:SECRET-http-url-password@", "url: ftp://monitor:SECRET-http-url-password@", 1),
		strings.Replace(good, "url: http://u:SECRET-cloud-url-password@"+base, "url: http://u:SECRET-cloud-url-password@host:SECRET-port/", 1),
		strings.Replace(good, "url: http://s:SECRET-stats-url-password@"+base+"/fail", "url: \"http://s:SECRET-stats-url-password@%zz/?k=SECRET-bad-escape\"", 1),
		strings.Replace(good, "secrets/job-token", "secrets/missing-token", 1),
	} {
		if err := os.WriteFile(cfgPath, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		resp, err := http.Post("http://"+addr+"/-/reload", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Errorf("broken config accepted:\n%s", bad)
		}
		outputs = append(outputs, "/-/reload:\n"+string(b))
		out, _ := exec.Command(bin, "--config.check", "--config.file="+cfgPath).CombinedOutput()
		outputs = append(outputs, "--config.check:\n"+string(out))
	}
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	outputs = append(outputs, "log:\n"+logs.String())

	leak := regexp.MustCompile(`SECRET[-A-Za-z0-9]*`)
	for _, o := range outputs {
		if m := leak.FindAllString(o, 5); m != nil {
			name, _, _ := strings.Cut(o, "\n")
			i := strings.Index(o, m[0])
			from, to := max(0, i-200), min(len(o), i+100)
			t.Errorf("%s leaks %v: ...%s...", name, m, o[from:to])
		}
	}
	// The secrets did reach the peer (the test would prove nothing if the
	// checks never ran).
	seenMu.Lock()
	all := strings.Join(seen, "\n")
	seenMu.Unlock()
	for _, want := range []string{"SECRET-file-http-bearer", "SECRET-http-url-query", "SECRET-file-stats-bearer"} {
		if !strings.Contains(all, want) {
			t.Errorf("the peer never saw %s: %q", want, seen)
		}
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprint(s.w)
}
