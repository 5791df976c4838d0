package examples

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

type pushed struct {
	path string
	body map[string]any
}

// jobsAPI records the pushes of bosaimail-db-job, decoding each body
// strictly as the exporter would (JSON, fields of the push API only).
func jobsAPI(t *testing.T) (*httptest.Server, func() []pushed) {
	var mu sync.Mutex
	var got []pushed
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(io.LimitReader(r.Body, 16384))
		p := pushed{path: r.Method + " " + r.URL.Path}
		if len(b) > 0 {
			d := json.NewDecoder(bytes.NewReader(b))
			d.UseNumber()
			if err := d.Decode(&p.body); err != nil {
				t.Errorf("%s: body is not JSON: %v\n%s", p.path, err, b)
			}
			for k := range p.body {
				if k != "exit_code" && k != "duration_seconds" && k != "message" {
					t.Errorf("%s: unknown field %q", p.path, k)
				}
			}
			if !utf8.Valid(b) {
				t.Errorf("%s: body is not valid UTF-8: %q", p.path, b)
			}
			if m, _ := p.body["message"].(string); len(m) > 1024 {
				t.Errorf("%s: message of %d bytes, the API takes 1024", p.path, len(m))
			}
		}
		mu.Lock()
		got = append(got, p)
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []pushed { mu.Lock(); defer mu.Unlock(); return append([]pushed(nil), got...) }
}

func runJob(t *testing.T, url string, args ...string) (int, string) {
	t.Helper()
	if _, err := exec.LookPath("curl"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("curl not found")
		}
		t.Skip("curl not found")
	}
	cmd := exec.Command("sh", append([]string{"database/bosaimail-db-job"}, args...)...)
	cmd.Env = append(os.Environ(), "BOSAIMAIL_JOBS_URL="+url+"/api/v1/jobs")
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, string(out)
}

// TestDBJobReportsOutcome: the wrapper reports start, then success or
// failure with the command's exit code and the end of its output as a valid
// JSON string whatever the output holds, and keeps the command's status.
func TestDBJobReportsOutcome(t *testing.T) {
	srv, got := jobsAPI(t)
	code, out := runJob(t, srv.URL, "db-vacuum", "sh", "-c", `echo "VACUUM done"`)
	if code != 0 || !strings.Contains(out, "VACUUM done") {
		t.Fatalf("success run: exit %d, output %q", code, out)
	}
	p := got()
	if len(p) != 2 || p[0].path != "POST /api/v1/jobs/db-vacuum/start" || p[1].path != "POST /api/v1/jobs/db-vacuum/success" ||
		p[1].body["exit_code"] != json.Number("0") || p[1].body["message"] != "VACUUM done " {
		t.Errorf("success pushes: %+v", p)
	}

	// Quotes, backslashes, tabs, Japanese and 5 kB of output.
	srv2, got2 := jobsAPI(t)
	script := `printf 'x%.0s' $(seq 1 5000); printf '\n"索引" \\ broken\tpage\n'; exit 3`
	code, _ = runJob(t, srv2.URL, "db-integrity", "sh", "-c", script)
	if code != 3 {
		t.Fatalf("failed run: exit %d, want the command's 3", code)
	}
	p = got2()
	if len(p) != 2 || p[1].path != "POST /api/v1/jobs/db-integrity/fail" || p[1].body["exit_code"] != json.Number("3") {
		t.Fatalf("failure pushes: %+v", p)
	}
	if m := p[1].body["message"].(string); !strings.HasSuffix(m, `"索引" \ broken page `) || len(m) > 1024 {
		t.Errorf("failure message (%d bytes) ends %q", len(m), m[max(0, len(m)-40):])
	}
}

// TestDBJobCutsOutputAtCharacters: 900 bytes from the end falls inside a
// three-byte character; the message must still be valid UTF-8.
func TestDBJobCutsOutputAtCharacters(t *testing.T) {
	srv, got := jobsAPI(t)
	if code, _ := runJob(t, srv.URL, "db-backup", "sh", "-c", `i=0; while [ $i -lt 1000 ]; do printf 'あ'; i=$((i+1)); done; printf 'b\n'; exit 1`); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	p := got()
	if len(p) != 2 || !strings.HasSuffix(p[1].body["message"].(string), "あb ") {
		t.Errorf("pushes: %+v", p)
	}
}

func TestDBJobRefusesBadJobName(t *testing.T) {
	srv, got := jobsAPI(t)
	for _, args := range [][]string{{"../x", "true"}, {"db-vacuum"}, {"a b", "true"}} {
		if code, out := runJob(t, srv.URL, args...); code != 64 {
			t.Errorf("%q: exit %d (%s), want 64", args, code, out)
		}
	}
	if p := got(); len(p) != 0 {
		t.Errorf("pushes for refused runs: %+v", p)
	}
}
