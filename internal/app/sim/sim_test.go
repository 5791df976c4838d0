package sim

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bosaimail/bosaimail_exporter/internal/testkit/mailtest"
)

func startSim(t *testing.T, smtpAddr string) (*Server, *httptest.Server) {
	t.Helper()
	s := New(Options{SMTPAddress: smtpAddr, From: "bosai@example.jp", SMTPTimeout: 5 * time.Second})
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	return s, hs
}

func do(t *testing.T, method, url, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatalf("%s %s: answer is not JSON: %v", method, url, err)
	}
	return resp.StatusCode, v
}

func TestHealthAndReadiness(t *testing.T) {
	mp := mailtest.StartMailpit(t, mailtest.MailpitOptions{})
	s, hs := startSim(t, mp.SMTP)
	_, down := startSim(t, mailtest.FreePort(t))

	for _, tc := range []struct {
		name   string
		url    string
		faults Faults
		code   int
		status string
	}{
		{"healthy", hs.URL + "/healthz", Faults{}, 200, "ok"},
		{"ready", hs.URL + "/readyz", Faults{}, 200, "ok"},
		{"health fault", hs.URL + "/healthz", Faults{HealthFail: true}, 503, "fail"},
		{"readiness follows the health fault", hs.URL + "/readyz", Faults{HealthFail: true}, 503, "fail"},
		{"smtp unreachable makes it unready", down.URL + "/readyz", Faults{}, 503, "fail"},
		{"but still alive", down.URL + "/healthz", Faults{}, 200, "ok"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s.SetFaults(tc.faults)
			code, v := do(t, "GET", tc.url, "")
			if code != tc.code || v["status"] != tc.status {
				t.Errorf("got %d %v, want %d status=%s", code, v, tc.code, tc.status)
			}
		})
	}
}

func TestDeliveryForwardsToMailpit(t *testing.T) {
	mp := mailtest.StartMailpit(t, mailtest.MailpitOptions{})
	_, hs := startSim(t, mp.SMTP)
	code, v := do(t, "POST", hs.URL+"/api/v1/deliveries", `{"to":["a@example.jp","b@example.jp"],"subject":"【避難指示】台風10号","body":"直ちに避難してください。"}`)
	if code != http.StatusAccepted || v["status"] != "accepted" || v["recipients"] != float64(2) {
		t.Fatalf("got %d %v", code, v)
	}
	if got := mp.Subjects(t); len(got) != 1 || got[0] != "【避難指示】台風10号" {
		t.Errorf("mailpit holds %q", got)
	}
	_, st := do(t, "GET", hs.URL+"/api/v1/status", "")
	if st["delivered_total"] != float64(1) {
		t.Errorf("status %v", st)
	}
}

func TestDeliveryBadInput(t *testing.T) {
	mp := mailtest.StartMailpit(t, mailtest.MailpitOptions{})
	_, hs := startSim(t, mp.SMTP)
	for _, tc := range []struct {
		name, body string
		code       int
		want       string
	}{
		{"not JSON", `{"to":`, 400, "invalid JSON"},
		{"unknown field", `{"to":["a@example.jp"],"subject":"s","bcc":["x@example.jp"]}`, 400, "bcc"},
		{"no recipients", `{"to":[],"subject":"s"}`, 400, "to:"},
		{"bad address", `{"to":["a@example.jp","not an address"],"subject":"s"}`, 400, "to[1]"},
		{"header injection", `{"to":["a@example.jp"],"subject":"s\r\nBcc: x@example.jp"}`, 400, "subject"},
		{"empty subject", `{"to":["a@example.jp"],"subject":" "}`, 400, "subject"},
		{"two values", `{"to":["a@example.jp"],"subject":"s"} {}`, 400, "more than one"},
		{"too large", `{"to":["a@example.jp"],"subject":"s","body":"` + strings.Repeat("x", MaxRequestBytes) + `"}`, 413, "larger"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, v := do(t, "POST", hs.URL+"/api/v1/deliveries", tc.body)
			msg, _ := v["error"].(string)
			if code != tc.code || !strings.Contains(msg, tc.want) {
				t.Errorf("got %d %q, want %d containing %q", code, msg, tc.code, tc.want)
			}
		})
	}
	if n := mp.MessageCount(t); n != 0 {
		t.Errorf("%d mails sent for bad requests", n)
	}
}

func TestFaultInjection(t *testing.T) {
	mp := mailtest.StartMailpit(t, mailtest.MailpitOptions{})
	s, hs := startSim(t, mp.SMTP)
	const delivery = `{"to":["a@example.jp"],"subject":"test","body":"b"}`

	code, v := do(t, "PUT", hs.URL+"/api/v1/faults", `{"error_500":true}`)
	if code != 200 || v["error_500"] != true {
		t.Fatalf("PUT faults: %d %v", code, v)
	}
	if code, _ := do(t, "POST", hs.URL+"/api/v1/deliveries", delivery); code != 500 {
		t.Errorf("error_500: got %d", code)
	}
	// PUT merges: error_500 stays while stop_forwarding is added.
	do(t, "PUT", hs.URL+"/api/v1/faults", `{"stop_forwarding":true}`)
	if f := s.Faults(); !f.Error500 || !f.StopForwarding {
		t.Errorf("faults not merged: %+v", f)
	}
	do(t, "PUT", hs.URL+"/api/v1/faults", `{"error_500":false}`)
	if code, _ := do(t, "POST", hs.URL+"/api/v1/deliveries", delivery); code != 202 {
		t.Errorf("stop_forwarding must still answer 202, got %d", code)
	}
	if n := mp.MessageCount(t); n != 0 {
		t.Errorf("stop_forwarding forwarded %d mails", n)
	}
	_, st := do(t, "GET", hs.URL+"/api/v1/status", "")
	if st["dropped_total"] != float64(1) || st["failed_total"] != float64(1) {
		t.Errorf("status %v", st)
	}

	for _, bad := range []string{`{"delay":"forever"}`, `{"delay":"1h"}`, `{"nope":true}`} {
		if code, _ := do(t, "PUT", hs.URL+"/api/v1/faults", bad); code != 400 {
			t.Errorf("PUT %s: got %d, want 400", bad, code)
		}
	}

	// A slowdown holds the answer: a client with a short timeout gives up.
	do(t, "PUT", hs.URL+"/api/v1/faults", `{"delay":"1m"}`)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", hs.URL+"/healthz", nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Error("delay fault did not delay")
	} else if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("unexpected error %v", err)
	}

	if code, v := do(t, "DELETE", hs.URL+"/api/v1/faults", ""); code != 200 || v["stop_forwarding"] != false || v["delay"] != "0s" {
		t.Errorf("DELETE faults: %d %v", code, v)
	}
	if code, _ := do(t, "POST", hs.URL+"/api/v1/deliveries", delivery); code != 202 || mp.MessageCount(t) != 1 {
		t.Errorf("after clearing faults: %d, %d mails", code, mp.MessageCount(t))
	}
}

func TestExpiredCertFault(t *testing.T) {
	s := New(Options{SMTPAddress: mailtest.FreePort(t)})
	caPEM, valid, expired, err := Certificates("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(s.Handler())
	hs.TLS = s.TLSConfig(valid, expired)
	hs.StartTLS()
	defer hs.Close()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	get := func() error {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, DisableKeepAlives: true}}
		resp, err := c.Get(hs.URL + "/healthz")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		return err
	}
	if err := get(); err != nil {
		t.Fatalf("valid certificate refused: %v", err)
	}
	s.SetFaults(Faults{ExpiredCert: true})
	if err := get(); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("want an expired-certificate error, got %v", err)
	}
}

func TestExtensibleMux(t *testing.T) {
	s := New(Options{SMTPAddress: "127.0.0.1:1"})
	s.Handle("GET /api/v1/extra", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, map[string]string{"status": "extra"}) }))
	hs := httptest.NewServer(s.Handler())
	defer hs.Close()
	if code, v := do(t, "GET", hs.URL+"/api/v1/extra", ""); code != 200 || v["status"] != "extra" {
		t.Errorf("mounted handler: %d %v", code, v)
	}
}

func FuzzDecodeDelivery(f *testing.F) {
	f.Add(`{"to":["a@example.jp"],"subject":"s","body":"b"}`)
	f.Add(`{"to":["a@example.jp","<x@y>"],"subject":"\r\n"}`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, in string) {
		d, err := DecodeDelivery(strings.NewReader(in))
		if err != nil {
			return
		}
		if len(d.To) == 0 || strings.ContainsAny(d.Subject, "\r\n") {
			t.Fatalf("invalid delivery accepted: %+v", d)
		}
		msg := compose("id", "bosai@example.jp", d, time.Unix(0, 0))
		if strings.Contains(string(msg), "\r\n\r\n") == false {
			t.Fatal("composed mail has no header/body separator")
		}
	})
}
