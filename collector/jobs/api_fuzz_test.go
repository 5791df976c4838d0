package jobs

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bosaimail/bosaimail_exporter/collector"
)

// FuzzJobsAPI drives the push API (the exporter's HTTP surface that
// writes) with any method, path, token and body: the answer is JSON with a
// known status, nothing panics, and only a POST of a known job's action
// with its token, or a GET of a known job, is ever answered 200.
func FuzzJobsAPI(f *testing.F) {
	f.Add("POST", "db-backup/success", "tok-123", []byte(`{"exit_code":0}`))
	f.Add("POST", "log-rotate/fail", "", []byte(`{"exit_code":2,"message":"失敗"}`))
	f.Add("GET", "never", "", []byte(nil))
	f.Add("POST", "db-backup/success", "wrong", []byte(`{}`))
	f.Add("DELETE", "../../etc/passwd", "", []byte(`x`))
	f.Add("POST", "log-rotate/start/extra", "", []byte(`{"duration_seconds":1e400}`))
	dir := f.TempDir()
	clock := &jobsClock{t: jobsT0}
	cfg := loadJobsConfig(f, dir, jobsYML, map[string]string{"db-backup.token": "tok-123\n"})
	st := collector.NewState(nil)
	f.Cleanup(st.Close)
	c, err := newJobsCollector(collector.Env{Config: cfg, StateDir: filepath.Join(dir, "state"), Now: clock.Now, State: st})
	if err != nil {
		f.Fatal(err)
	}
	jc := c.(*jobsCollector)
	h := jc.Routes()[jobsAPIPrefix]
	known := map[string]bool{"db-backup": true, "log-rotate": true, "never": true}
	f.Fuzz(func(t *testing.T, method, path, token string, body []byte) {
		if !validMethod(method) {
			return
		}
		req := httptest.NewRequest(http.MethodGet, "/", bytes.NewReader(body))
		req.Method = method
		req.URL.Path = jobsAPIPrefix + path
		if token != "" {
			req.Header.Set("X-Job-Token", token)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		switch w.Code {
		case 200, 400, 401, 404, 405, 413, 503:
		default:
			t.Fatalf("%s %q: status %d", method, path, w.Code)
		}
		if !json.Valid(w.Body.Bytes()) {
			t.Fatalf("%s %q: answer is not JSON: %q", method, path, w.Body.String())
		}
		if w.Code == 200 {
			parts := strings.Split(path, "/")
			if !known[parts[0]] || len(parts) > 2 || (parts[0] == "db-backup" && token != "tok-123") {
				t.Fatalf("%s %q (token %q) answered 200", method, path, token)
			}
		}
	})
}

func validMethod(m string) bool {
	if m == "" || len(m) > 16 {
		return false
	}
	for _, r := range m {
		if r < 'A' || r > 'Z' {
			return false
		}
	}
	return true
}
