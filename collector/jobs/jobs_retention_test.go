package jobs

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bosaimail/bosaimail_exporter/internal/testkit/testbin"
)

// TestRemovedJobKeepsHistoryOnRealBinary: a job dropped from the config (an
// editing slip) and restored keeps its acknowledged report, across a reload
// and across a restart of the real binary while it was absent.
func TestRemovedJobKeepsHistoryOnRealBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the exporter")
	}
	t.Parallel()
	dir := t.TempDir()
	if err := testbin.Build(dir, "./cmd/bosaimail_exporter"); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "bosaimail_exporter")
	cfgFile := filepath.Join(dir, "bosaimail.yml")
	with := "jobs:\n  scheduled:\n    - {name: db-backup, interval: 1h}\n    - {name: monthly-report, schedule: \"0 9 1 * *\"}\n"
	without := "jobs:\n  scheduled:\n    - {name: db-backup, interval: 1h}\n"
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(cfgFile, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	state := filepath.Join(dir, "state")
	write(with)
	base, proc := startJobsExporter(t, bin, cfgFile, state)

	resp, err := http.Post(base+"/api/v1/jobs/monthly-report/success", "application/json", strings.NewReader(`{"message":"報告書を送付しました"}`))
	if err != nil {
		t.Fatal(err)
	}
	var acked struct {
		LastSuccess time.Time `json:"last_success"`
	}
	json.NewDecoder(resp.Body).Decode(&acked)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || acked.LastSuccess.IsZero() {
		t.Fatalf("push answered %s, last_success %v", resp.Status, acked.LastSuccess)
	}

	reload := func() {
		t.Helper()
		resp, err := http.Post(base+"/-/reload", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("reload: %s %s", resp.Status, b)
		}
	}
	get := func() (int, string, time.Time) {
		t.Helper()
		resp, err := http.Get(base + "/api/v1/jobs/monthly-report")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v struct {
			LastSuccess time.Time `json:"last_success"`
			LastMessage string    `json:"last_message"`
		}
		json.NewDecoder(resp.Body).Decode(&v)
		return resp.StatusCode, v.LastMessage, v.LastSuccess
	}
	// Removed: unknown to the API and the metrics...
	write(without)
	reload()
	if code, _, _ := get(); code != http.StatusNotFound {
		t.Errorf("removed job answered %d, want 404", code)
	}
	if m := jobsScrape(t, base); strings.Contains(m, `job_name="monthly-report"`) {
		t.Error("a removed job is still exported")
	}
	// ...and restored by a reload: its history is back.
	write(with)
	reload()
	if code, msg, last := get(); code != http.StatusOK || !last.Equal(acked.LastSuccess) || msg != "報告書を送付しました" {
		t.Errorf("restored job: %d %q %v, want its acknowledged report of %v", code, msg, last, acked.LastSuccess)
	}

	// Removed, then the exporter restarts while the job is absent, and the
	// job comes back with the next start.
	write(without)
	reload()
	// Let the new set mark the job removed before stopping.
	time.Sleep(200 * time.Millisecond)
	proc.Process.Signal(syscall.SIGTERM)
	proc.Wait()
	write(with)
	base, _ = startJobsExporter(t, bin, cfgFile, state)
	if code, msg, last := get(); code != http.StatusOK || !last.Equal(acked.LastSuccess) || msg != "報告書を送付しました" {
		t.Errorf("after a restart: %d %q %v, want the acknowledged report of %v", code, msg, last, acked.LastSuccess)
	}
	if m := jobsScrape(t, base); !strings.Contains(m, `bosaimail_job_reported{job_name="monthly-report"} 1`) {
		t.Errorf("restored job not reported in the metrics:\n%s", m)
	}
}
