package config

import (
	"bytes"
	"fmt"
	"time"

	"github.com/bosaimail/bosaimail_exporter/internal/maintenance"
)

// MaintenanceWindow is one planned stop of a service (計画停止): a one-off
// window from start to end, or, with rrule, a recurring one whose first
// occurrence starts at start and each occurrence lasts duration (or
// end - start). Times without an offset are Asia/Tokyo (JST, no DST).
//
// Only a window with approved_by and approved_on (承認者, 承認日, the same
// keys as exemptions) is a planned stop that excludes time and inhibits
// alerts; one without is still exposed (bosaimail_maintenance_unapproved_active)
// and listed as 未承認 in the report.
//
//	maintenance:
//	  - name: os-patch
//	    start: "2026-12-08 23:00"
//	    end: "2026-12-09 01:30"
//	    approved_by: 三重県防災対策部災害対策課
//	    approved_on: "2026-11-20"
//	  - name: db-monthly            # every second Tuesday 02:00-04:00 JST
//	    start: "2026-01-13 02:00"
//	    duration: 2h
//	    rrule: "FREQ=MONTHLY;BYDAY=2TU"
type MaintenanceWindow struct {
	Name        string   `yaml:"name"`
	Description string   `yaml:"description"`
	Start       string   `yaml:"start"`
	End         string   `yaml:"end"`
	Duration    Duration `yaml:"duration"`
	RRule       string   `yaml:"rrule"`
	// ApprovedBy and ApprovedOn (YYYY-MM-DD) record the customer's approval.
	ApprovedBy string `yaml:"approved_by"`
	ApprovedOn string `yaml:"approved_on"`

	// Event is the parsed window, filled in by validation.
	Event maintenance.Event `yaml:"-"`
}

func (w *MaintenanceWindow) setDefaults() {}

func (w *MaintenanceWindow) validate(v *Validator, path string, cfg *Config) {
	if w.Name != "" {
		v.CheckName(path+".name", w.Name)
	}
	if w.Start == "" {
		v.Errorf(path+".start", "a start time is required (2006-01-02 15:04 in JST, or RFC 3339 with an offset)")
		return
	}
	start, err := maintenance.ParseTime(w.Start, Tokyo)
	if err != nil {
		v.Errorf(path+".start", "%v", err)
		return
	}
	var end time.Time
	switch {
	case w.End != "" && w.Duration != 0:
		v.Errorf(path, "set either end or duration, not both")
		return
	case w.End != "":
		if end, err = maintenance.ParseTime(w.End, Tokyo); err != nil {
			v.Errorf(path+".end", "%v", err)
			return
		}
	case w.Duration != 0:
		end = start.Add(w.Duration.D())
	default:
		v.Errorf(path, "an end or a duration is required")
		return
	}
	if !end.After(start) {
		v.Errorf(pathOf(path, w.End != "", ".end", ".duration"), "the window ends (%s) before or when it starts (%s)", end.In(Tokyo).Format(time.RFC3339), start.In(Tokyo).Format(time.RFC3339))
		return
	}
	w.Event = maintenance.Event{UID: w.Name, Summary: w.Description, Start: start, End: end}
	switch {
	case w.ApprovedBy != "" && w.ApprovedOn != "":
		on, err := maintenance.ParseApprovalDate(w.ApprovedOn, Tokyo)
		if err != nil {
			v.Errorf(path+".approved_on", "%v", err)
			return
		}
		w.Event.ApprovedBy, w.Event.ApprovedOn = w.ApprovedBy, on
	case w.ApprovedBy != "":
		v.Errorf(path+".approved_on", "missing: an approval needs the approver and the date (YYYY-MM-DD)")
	case w.ApprovedOn != "":
		v.Errorf(path+".approved_by", "missing: an approval needs the approver and the date (YYYY-MM-DD)")
	}
	if w.RRule == "" {
		return
	}
	rule, err := maintenance.ParseRule(w.RRule, start)
	if err != nil {
		v.Errorf(path+".rrule", "%v", err)
		return
	}
	w.Event.Rule = rule
}

func pathOf(path string, cond bool, a, b string) string {
	if cond {
		return path + a
	}
	return path + b
}

// MaintenanceConfig holds calendar sources shared by all services: iCalendar
// files or URLs (a cloud vendor's maintenance calendar, the contractor's
// shared calendar), each applying to some or all services.
//
//	maintenance:
//	  calendars:
//	    - name: vendor
//	      url: https://status.example.jp/maintenance.ics
//	      services: [delivery, registration]
//	    - name: contractor
//	      file: maintenance.ics
type MaintenanceConfig struct {
	Calendars []MaintenanceCalendar `yaml:"calendars"`
	// Exemptions is the file of approved exemptions (免責) and 稼働確認
	// records, in the report's --exemptions format (docs/report.md), read
	// in the background so that the recording rules apply them live.
	Exemptions *ExemptionSource `yaml:"exemptions"`
}

// ExemptionSource is where the exporter reads the exemption file: a file
// (relative to the config file) or a URL (e.g. the incident ledger).
//
//	maintenance:
//	  exemptions:
//	    url: https://ledger.example.jp/exemptions.yml
//	    refresh_interval: 5m
type ExemptionSource struct {
	File string `yaml:"file"`
	URL  URL    `yaml:"url"`
	// How often the file is read again; default 5m.
	RefreshInterval Duration `yaml:"refresh_interval"`
	// Bounds one fetch; default 30s.
	Timeout Duration `yaml:"timeout"`
	// Bounds the file's size; default 4 MiB.
	MaxBytes int64 `yaml:"max_bytes"`

	// Path is File resolved against the config file.
	Path string `yaml:"-"`
}

// MaintenanceCalendar is one iCalendar source.
type MaintenanceCalendar struct {
	Name string `yaml:"name"`
	// Exactly one of File (relative to the config file) and URL.
	File string `yaml:"file"`
	URL  URL    `yaml:"url"`
	// Services the calendar's events apply to; empty means every service.
	Services []string `yaml:"services"`
	// How often the calendar is read again; default 15m for a file, 1h for a URL.
	RefreshInterval Duration `yaml:"refresh_interval"`
	// Bounds one fetch; default 30s.
	Timeout Duration `yaml:"timeout"`
	// Bounds the calendar's size; default 4 MiB.
	MaxBytes int64 `yaml:"max_bytes"`

	// Path is File resolved against the config file.
	Path string `yaml:"-"`
	// Events of a file calendar as read at load time (a broken file is a
	// config error, not a silent lack of planned stops).
	Events []maintenance.Event `yaml:"-"`
}

func (m *MaintenanceConfig) setDefaults() {
	if e := m.Exemptions; e != nil {
		if e.RefreshInterval == 0 {
			e.RefreshInterval = Duration(5 * time.Minute)
		}
		if e.Timeout == 0 {
			e.Timeout = Duration(30 * time.Second)
		}
		if e.MaxBytes == 0 {
			e.MaxBytes = 4 << 20
		}
	}
	for i := range m.Calendars {
		c := &m.Calendars[i]
		if c.RefreshInterval == 0 {
			c.RefreshInterval = Duration(time.Hour)
			if c.File != "" {
				c.RefreshInterval = Duration(15 * time.Minute)
			}
		}
		if c.Timeout == 0 {
			c.Timeout = Duration(30 * time.Second)
		}
		if c.MaxBytes == 0 {
			c.MaxBytes = 4 << 20
		}
	}
}

func (m *MaintenanceConfig) validate(v *Validator, path string, cfg *Config) {
	if e := m.Exemptions; e != nil {
		p := path + ".exemptions"
		switch {
		case e.File != "" && !e.URL.IsZero():
			v.Errorf(p, "set either file or url, not both")
		case e.File != "":
			e.Path = cfg.Resolve(e.File)
		case e.URL.IsZero():
			v.Errorf(p, "a file or a url is required")
		}
		if e.RefreshInterval <= 0 {
			v.Errorf(p+".refresh_interval", "must be positive")
		}
		if e.Timeout <= 0 {
			v.Errorf(p+".timeout", "must be positive")
		}
		if e.MaxBytes <= 0 {
			v.Errorf(p+".max_bytes", "must be positive")
		}
	}
	names := make([]string, len(m.Calendars))
	for i := range m.Calendars {
		c := &m.Calendars[i]
		p := fmt.Sprintf("%s.calendars[%d]", path, i)
		names[i] = c.Name
		v.CheckName(p+".name", c.Name)
		for j, s := range c.Services {
			if cfg.Service(s) == nil {
				v.Errorf(fmt.Sprintf("%s.services[%d]", p, j), "unknown service %q", s)
			}
		}
		if c.RefreshInterval <= 0 {
			v.Errorf(p+".refresh_interval", "must be positive")
		}
		if c.Timeout <= 0 {
			v.Errorf(p+".timeout", "must be positive")
		}
		if c.MaxBytes <= 0 {
			v.Errorf(p+".max_bytes", "must be positive")
		}
		switch {
		case c.File != "" && !c.URL.IsZero():
			v.Errorf(p, "set either file or url, not both")
		case c.File != "":
			c.Path = cfg.Resolve(c.File)
			events, err := ReadCalendarFile(c.Path, c.MaxBytes)
			if err != nil {
				v.Errorf(p+".file", "%v", err)
			}
			c.Events = events
		case c.URL.IsZero():
			v.Errorf(p, "a file or a url is required")
		}
	}
	v.Unique("calendar", names, func(i int) string { return fmt.Sprintf("%s.calendars[%d].name", path, i) })
}

// ReadCalendarFile reads and parses an iCalendar file of at most limit bytes.
func ReadCalendarFile(path string, limit int64) ([]maintenance.Event, error) {
	data, err := ReadFileBounded(path, limit, "calendar file")
	if err != nil {
		return nil, err
	}
	events, err := maintenance.ParseICS(bytes.NewReader(data), Tokyo)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return events, nil
}

// AppliesTo reports whether the calendar's events are planned stops of service.
func (c *MaintenanceCalendar) AppliesTo(service string) bool {
	if len(c.Services) == 0 {
		return true
	}
	for _, s := range c.Services {
		if s == service {
			return true
		}
	}
	return false
}
