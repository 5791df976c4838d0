package maintenance

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bosaimail/bosaimail_exporter/collector"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/bosaimail/bosaimail_exporter/config"
)

// maintenanceFixture: a config with static windows (web), a file calendar
// (admin) and a URL calendar served over TLS (api), and a service without
// any planned stop (quiet).
func maintenanceFixture(t *testing.T, ics []byte, status *atomic.Int32) (*config.Config, *http.Client) {
	t.Helper()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s := int(status.Load()); s != 0 {
			http.Error(w, "maintenance", s)
			return
		}
		w.Header().Set("Content-Type", "text/calendar")
		w.Write(ics)
	}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "admin.ics"), []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:admin@x\r\nDTSTART;TZID=Asia/Tokyo:20261208T000000\r\nDTEND;TZID=Asia/Tokyo:20261208T060000\r\nX-BOSAIMAIL-APPROVED-BY:三重県防災対策部\r\nX-BOSAIMAIL-APPROVED-ON:2026-11-30\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	doc := `
services:
  - name: web
    maintenance:
      - name: os-patch
        start: "2026-12-08 23:00"
        end: "2026-12-09 01:30"
        approved_by: 三重県防災対策部
        approved_on: "2026-11-20"
      - name: db-monthly
        start: "2026-01-13 02:00"
        duration: 2h
        rrule: "FREQ=MONTHLY;BYDAY=2TU"
        approved_by: 三重県防災対策部
        approved_on: "2026-01-05"
  - name: api
  - name: admin
  - name: quiet
maintenance:
  calendars:
    - name: vendor
      url: ` + srv.URL + `/maintenance.ics
      services: [api]
    - name: local
      file: admin.ics
      services: [admin]
  exemptions:
    file: exemptions.yml
`
	if err := os.WriteFile(filepath.Join(dir, "exemptions.yml"), []byte(`
exemptions:
  - {id: EX-1, service: web, start: "2026-12-08 02:00", end: "2026-12-08 03:00", category: 通信回線障害, reason: r, approved_by: a, approved_on: 2026-12-10}
confirmations:
  - {id: CF-1, service: quiet, start: "2026-12-08 02:00", end: "2026-12-08 03:00", evidence: 配信ログ, approved_by: a, approved_on: 2026-12-10}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(filepath.Join(dir, "bosaimail.yml"), []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return cfg, srv.Client()
}

func TestMaintenanceCollector(t *testing.T) {
	ics, err := os.ReadFile("../../internal/maintenance/testdata/vendor.ics")
	if err != nil {
		t.Fatal(err)
	}
	var status atomic.Int32
	cfg, client := maintenanceFixture(t, ics, &status)
	now, _ := time.ParseInLocation("2006-01-02 15:04", "2026-12-08 02:30", config.Tokyo)
	c, err := buildMaintenanceCollector(collector.Env{Config: cfg, Now: func() time.Time { return now }}, client)
	if err != nil {
		t.Fatal(err)
	}
	for _, cal := range c.calendars {
		if err := cal.src.RefreshOnce(context.Background()); err != nil {
			t.Fatalf("calendar %s: %v", cal.cfg.Name, err)
		}
	}
	if err := c.exemptions.RefreshOnce(context.Background()); err != nil {
		t.Fatalf("exemptions: %v", err)
	}
	// 2026-12-08 02:30 JST is inside web's second-Tuesday window (02:00-04:00,
	// ends 1796670000) and admin's file window (00:00-06:00), both approved;
	// api's vendor calendar (no approval) excludes that date (EXDATE), and
	// its windows are never next planned stops; web's next is the approved
	// patch at 23:00 (1796738400); quiet has none but is still reported.
	const want = `
# HELP bosaimail_confirmation_active 1 while an approved 稼働確認 record of the exemption file covers the service, else 0; present for every configured service when maintenance.exemptions is set.
# TYPE bosaimail_confirmation_active gauge
bosaimail_confirmation_active{service="admin"} 0
bosaimail_confirmation_active{service="api"} 0
bosaimail_confirmation_active{service="quiet"} 1
bosaimail_confirmation_active{service="web"} 0
# HELP bosaimail_exemption_active 1 while an approved exemption (免責) of the exemption file covers the service by time range, else 0; present for every configured service when maintenance.exemptions is set.
# TYPE bosaimail_exemption_active gauge
bosaimail_exemption_active{service="admin"} 0
bosaimail_exemption_active{service="api"} 0
bosaimail_exemption_active{service="quiet"} 0
bosaimail_exemption_active{service="web"} 1
# HELP bosaimail_confirmation_window_start_timestamp_seconds Start of each approved 稼働確認 record of the exemption file (for queries that apply records approved after the fact).
# TYPE bosaimail_confirmation_window_start_timestamp_seconds gauge
bosaimail_confirmation_window_start_timestamp_seconds{id="CF-1",service="quiet"} 1.7966628e+09
# HELP bosaimail_exemption_window_end_timestamp_seconds End of each approved time-range exemption of the exemption file.
# TYPE bosaimail_exemption_window_end_timestamp_seconds gauge
bosaimail_exemption_window_end_timestamp_seconds{id="EX-1",service="web"} 1.7966664e+09
# HELP bosaimail_maintenance_window_info 1 for each maintenance window active now, with its approval (empty when unapproved).
# TYPE bosaimail_maintenance_window_info gauge
bosaimail_maintenance_window_info{approved_by="三重県防災対策部",approved_on="2026-01-05",service="web",window="db-monthly"} 1
bosaimail_maintenance_window_info{approved_by="三重県防災対策部",approved_on="2026-11-30",service="admin",window="admin@x"} 1
# HELP bosaimail_maintenance_active 1 while the service is in an approved planned stop (計画停止: a window with approved_by and approved_on), else 0; present for every configured service.
# TYPE bosaimail_maintenance_active gauge
bosaimail_maintenance_active{service="admin"} 1
bosaimail_maintenance_active{service="api"} 0
bosaimail_maintenance_active{service="quiet"} 0
bosaimail_maintenance_active{service="web"} 1
# HELP bosaimail_maintenance_active_end_timestamp_seconds End of the planned stop in progress (overlapping windows merged); absent outside one.
# TYPE bosaimail_maintenance_active_end_timestamp_seconds gauge
bosaimail_maintenance_active_end_timestamp_seconds{service="admin"} 1.7966772e+09
bosaimail_maintenance_active_end_timestamp_seconds{service="web"} 1.79667e+09
# HELP bosaimail_maintenance_next_start_timestamp_seconds Start of the service's next planned stop (one in progress is not next); absent when none is known within 400 days.
# TYPE bosaimail_maintenance_next_start_timestamp_seconds gauge
bosaimail_maintenance_next_start_timestamp_seconds{service="web"} 1.7967384e+09
# HELP bosaimail_source_up 1 if the latest refresh of a background source succeeded, 0 if it failed (its last good values are still exported).
# TYPE bosaimail_source_up gauge
bosaimail_source_up{collector="maintenance",source="exemptions"} 1
bosaimail_source_up{collector="maintenance",source="local"} 1
bosaimail_source_up{collector="maintenance",source="vendor"} 1
`
	names := []string{"bosaimail_confirmation_window_start_timestamp_seconds", "bosaimail_exemption_window_end_timestamp_seconds", "bosaimail_confirmation_active", "bosaimail_exemption_active", "bosaimail_maintenance_window_info", "bosaimail_maintenance_active", "bosaimail_maintenance_active_end_timestamp_seconds", "bosaimail_maintenance_next_start_timestamp_seconds", "bosaimail_source_up"}
	if err := testutil.CollectAndCompare(collector.Adapt(context.Background(), c), strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}

	// The vendor's server fails: the last good calendar keeps serving and
	// the source shows the failure.
	status.Store(http.StatusInternalServerError)
	if err := c.calendars[0].src.RefreshOnce(context.Background()); err == nil {
		t.Fatal("refresh against HTTP 500 succeeded")
	}
	later := now.Add(21 * time.Hour) // 23:30, inside the vendor's patch window
	c.now = func() time.Time { return later }
	got, err := testutil.CollectAndLint(collector.Adapt(context.Background(), c))
	if err != nil || len(got) != 0 {
		t.Errorf("lint: %v %v", got, err)
	}
	// The vendor's patch window has no approval: shown as unapproved, it is
	// no planned stop.
	const want2 = `
# HELP bosaimail_maintenance_active 1 while the service is in an approved planned stop (計画停止: a window with approved_by and approved_on), else 0; present for every configured service.
# TYPE bosaimail_maintenance_active gauge
bosaimail_maintenance_active{service="admin"} 0
bosaimail_maintenance_active{service="api"} 0
bosaimail_maintenance_active{service="quiet"} 0
bosaimail_maintenance_active{service="web"} 1
# HELP bosaimail_maintenance_unapproved_active 1 while a maintenance window without approval (未承認, including provider maintenance) covers the service, else 0: shown, but it excludes nothing and inhibits nothing.
# TYPE bosaimail_maintenance_unapproved_active gauge
bosaimail_maintenance_unapproved_active{service="admin"} 0
bosaimail_maintenance_unapproved_active{service="api"} 1
bosaimail_maintenance_unapproved_active{service="quiet"} 0
bosaimail_maintenance_unapproved_active{service="web"} 0
# HELP bosaimail_source_up 1 if the latest refresh of a background source succeeded, 0 if it failed (its last good values are still exported).
# TYPE bosaimail_source_up gauge
bosaimail_source_up{collector="maintenance",source="exemptions"} 1
bosaimail_source_up{collector="maintenance",source="local"} 1
bosaimail_source_up{collector="maintenance",source="vendor"} 0
`
	if err := testutil.CollectAndCompare(collector.Adapt(context.Background(), c), strings.NewReader(want2), "bosaimail_maintenance_active", "bosaimail_maintenance_unapproved_active", "bosaimail_source_up"); err != nil {
		t.Error(err)
	}

	// A calendar that turns into garbage or an HTML page is a decode or
	// payload failure, not an empty calendar.
	for _, body := range []string{"<!doctype html><html>login</html>", "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"} {
		cfg2, client2 := maintenanceFixture(t, []byte(body), new(atomic.Int32))
		c2, _ := buildMaintenanceCollector(collector.Env{Config: cfg2}, client2)
		if err := c2.calendars[0].src.RefreshOnce(context.Background()); err == nil {
			t.Errorf("calendar %q accepted", body)
		}
	}
}

func TestMaintenanceCollectorNoServices(t *testing.T) {
	cfg, err := config.Parse("empty.yml", []byte("services: []\n"))
	if err != nil {
		t.Fatal(err)
	}
	c, _ := buildMaintenanceCollector(collector.Env{Config: cfg}, nil)
	if err := c.Update(context.Background(), make(chan<- prometheus.Metric, 10)); err != collector.ErrNoData {
		t.Errorf("Update = %v, want ErrNoData", err)
	}
}
