package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bosaimail/bosaimail_exporter/internal/testkit/mailtest"
)

// TestRun starts the simulator as the command does (flags, HTTP and HTTPS
// listeners, CA file), delivers a mail into a real mailpit, and stops it.
func TestRun(t *testing.T) {
	mp := mailtest.StartMailpit(t, mailtest.MailpitOptions{})
	httpAddr, httpsAddr := mailtest.FreePort(t), mailtest.FreePort(t)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"--web.listen-address=" + httpAddr, "--web.tls-listen-address=" + httpsAddr,
			"--web.tls-ca-file=" + caFile, "--smtp.address=" + mp.SMTP, "--log.level=error"})
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + httpAddr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("simulator not ready: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	resp, err := http.Post("http://"+httpAddr+"/api/v1/deliveries", "application/json",
		strings.NewReader(`{"to":["a@example.jp"],"subject":"【訓練】避難情報","body":"訓練です"}`))
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	json.NewDecoder(resp.Body).Decode(&v)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || mp.MessageCount(t) != 1 {
		t.Fatalf("delivery: %d %v, mailpit holds %d", resp.StatusCode, v, mp.MessageCount(t))
	}

	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err = c.Get("https://" + httpsAddr + "/healthz")
	if err != nil {
		t.Fatalf("HTTPS with the written CA: %v", err)
	}
	resp.Body.Close()

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit code %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("simulator did not stop")
	}
}

func TestRunBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--nope"},
		{"--web.listen-address=127.0.0.1:0", "--web.tls-listen-address=127.0.0.1:0"}, // no CA file
	} {
		if code := run(context.Background(), args); code != 2 {
			t.Errorf("run(%v) = %d, want 2", args, code)
		}
	}
}
