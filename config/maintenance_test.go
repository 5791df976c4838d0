package config

import (
	"path/filepath"
	"testing"
	"time"
)

func TestInvalidMaintenanceConfigs(t *testing.T) {
	cases := map[string][]string{
		"invalid-maintenance-bad-start.yml":          {"invalid-maintenance-bad-start.yml:5:", "services[0].maintenance[0].start", `invalid time "2026-12-01 25:00"`},
		"invalid-maintenance-end-before-start.yml":   {"invalid-maintenance-end-before-start.yml:6:", "services[0].maintenance[0].end", "before or when it starts"},
		"invalid-maintenance-bad-rrule.yml":          {"invalid-maintenance-bad-rrule.yml:7:", "services[0].maintenance[0].rrule", "invalid RRULE"},
		"invalid-maintenance-never.yml":              {"invalid-maintenance-never.yml:7:", "services[0].maintenance[0].rrule", "no occurrence within 400 days"},
		"invalid-maintenance-hourly.yml":             {"invalid-maintenance-hourly.yml:7:", "services[0].maintenance[0].rrule", "more often than daily"},
		"invalid-maintenance-end-and-duration.yml":   {"invalid-maintenance-end-and-duration.yml:4:", "services[0].maintenance[0]", "either end or duration"},
		"invalid-maintenance-calendar.yml":           {"invalid-maintenance-calendar.yml:6:", "maintenance.calendars[0].file", "event broken@example.jp: ends at", "invalid-maintenance-calendar.yml:7:", "maintenance.calendars[0].services[1]", `unknown service "mail"`},
		"invalid-maintenance-calendar-no-source.yml": {"invalid-maintenance-calendar-no-source.yml:5:", "maintenance.calendars[0]", "a file or a url is required"},
	}
	checkInvalid(t, cases)
}

func TestMaintenanceConfig(t *testing.T) {
	doc := `
services:
  - name: web
    maintenance:
      - name: os-patch
        start: "2026-12-08 23:00"
        end: "2026-12-09T01:30:00+09:00"
      - name: db-monthly
        start: "2026-01-13 02:00"
        duration: 2h
        rrule: "FREQ=MONTHLY;BYDAY=2TU"
  - name: api
maintenance:
  calendars:
    - name: vendor
      file: maintenance-vendor.ics
      services: [api]
    - name: remote
      url: https://calendar.example.jp/maint.ics
`
	cfg, err := Parse(filepath.Join("testdata", "inline.yml"), []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	w := cfg.Services[0].Maintenance
	jst := func(s string) time.Time { t, _ := time.ParseInLocation("2006-01-02 15:04", s, Tokyo); return t }
	if !w[0].Event.Start.Equal(jst("2026-12-08 23:00")) || !w[0].Event.End.Equal(jst("2026-12-09 01:30")) || w[0].Event.Rule != nil {
		t.Errorf("one-off window parsed as %+v", w[0].Event)
	}
	if w[1].Event.Rule == nil || w[1].Event.End.Sub(w[1].Event.Start) != 2*time.Hour {
		t.Fatalf("recurring window parsed as %+v", w[1].Event)
	}
	if got := w[1].Event.Rule.After(jst("2026-12-01 00:00"), false); !got.Equal(jst("2026-12-08 02:00")) {
		t.Errorf("second Tuesday after 2026-12-01: %s", got.In(Tokyo))
	}
	cals := cfg.Maintenance.Calendars
	if len(cals[0].Events) != 3 || cals[0].Path != "testdata/maintenance-vendor.ics" {
		t.Errorf("file calendar: %d events at %q", len(cals[0].Events), cals[0].Path)
	}
	if cals[0].RefreshInterval.D() != 15*time.Minute || cals[1].RefreshInterval.D() != time.Hour || cals[1].Timeout.D() != 30*time.Second || cals[1].MaxBytes != 4<<20 {
		t.Errorf("defaults: %+v %+v", cals[0], cals[1])
	}
	if !cals[0].AppliesTo("api") || cals[0].AppliesTo("web") || !cals[1].AppliesTo("web") {
		t.Error("AppliesTo")
	}
}
