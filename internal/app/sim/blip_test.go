package sim

import (
	"testing"

	"github.com/bosaimail/bosaimail_exporter/internal/testkit/mailtest"
)

// TestHealthFailRequests: a blip fails exactly the next N health requests
// (liveness and readiness alike), then the service is healthy again.
func TestHealthFailRequests(t *testing.T) {
	mp := mailtest.StartMailpit(t, mailtest.MailpitOptions{})
	_, hs := startSim(t, mp.SMTP)
	if code, v := do(t, "PUT", hs.URL+"/api/v1/faults", `{"health_fail_requests": 2}`); code != 200 {
		t.Fatalf("PUT faults: %d %v", code, v)
	}
	for i, want := range []struct {
		path string
		code int
	}{{"/healthz", 503}, {"/readyz", 503}, {"/healthz", 200}, {"/readyz", 200}} {
		if code, v := do(t, "GET", hs.URL+want.path, ""); code != want.code {
			t.Errorf("request %d %s: %d %v, want %d", i+1, want.path, code, v, want.code)
		}
	}
	if code, v := do(t, "PUT", hs.URL+"/api/v1/faults", `{"health_fail_requests": -1}`); code != 400 {
		t.Errorf("negative health_fail_requests: %d %v, want 400", code, v)
	}
}
