package maintenance

import (
	"bytes"
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/bosaimail/bosaimail_exporter/collector"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bosaimail/bosaimail_exporter/config"
	"github.com/bosaimail/bosaimail_exporter/internal/exemption"
	"github.com/bosaimail/bosaimail_exporter/internal/fetch"
	"github.com/bosaimail/bosaimail_exporter/internal/maintenance"
)

var (
	maintenanceActiveDesc = collector.NewDesc("maintenance", "active",
		"1 while the service is in an approved planned stop (計画停止: a window with approved_by and approved_on), else 0; present for every configured service.", "service")
	maintenanceUnapprovedDesc = collector.NewDesc("maintenance", "unapproved_active",
		"1 while a maintenance window without approval (未承認, including provider maintenance) covers the service, else 0: shown, but it excludes nothing and inhibits nothing.", "service")
	maintenanceWindowInfoDesc = collector.NewDesc("maintenance", "window_info",
		"1 for each maintenance window active now, with its approval (empty when unapproved).", "service", "window", "approved_by", "approved_on")
	exemptionActiveDesc = collector.NewDesc("exemption", "active",
		"1 while an approved exemption (免責) of the exemption file covers the service by time range, else 0; present for every configured service when maintenance.exemptions is set.", "service")
	exemptionWindowStartDesc = collector.NewDesc("exemption", "window_start_timestamp_seconds",
		"Start of each approved time-range exemption of the exemption file (for queries that apply exemptions approved after the fact).", "service", "id")
	exemptionWindowEndDesc = collector.NewDesc("exemption", "window_end_timestamp_seconds",
		"End of each approved time-range exemption of the exemption file.", "service", "id")
	confirmationWindowStartDesc = collector.NewDesc("confirmation", "window_start_timestamp_seconds",
		"Start of each approved 稼働確認 record of the exemption file (for queries that apply records approved after the fact).", "service", "id")
	confirmationWindowEndDesc = collector.NewDesc("confirmation", "window_end_timestamp_seconds",
		"End of each approved 稼働確認 record of the exemption file.", "service", "id")
	confirmationActiveDesc = collector.NewDesc("confirmation", "active",
		"1 while an approved 稼働確認 record of the exemption file covers the service, else 0; present for every configured service when maintenance.exemptions is set.", "service")
	maintenanceNextStartDesc = collector.NewDesc("maintenance", "next_start_timestamp_seconds",
		"Start of the service's next planned stop (one in progress is not next); absent when none is known within 400 days.", "service")
	maintenanceActiveEndDesc = collector.NewDesc("maintenance", "active_end_timestamp_seconds",
		"End of the planned stop in progress (overlapping windows merged); absent outside one.", "service")
)

// maintenanceCollector answers, at each scrape, whether each service is in
// a planned stop. Windows from the config are fixed; iCalendar calendars are
// background sources whose last good events are used.
type maintenanceCollector struct {
	services  []string
	static    map[string][]maintenance.Event
	calendars []*maintenanceCalendar
	now       func() time.Time
	// announcements lists the provider maintenance of the running cloud
	// collector.
	announcements *collector.Announcements
	// exemptions reads the exemption file (nil when not configured).
	exemptions *collector.Source[*exemption.File]
}

type maintenanceCalendar struct {
	cfg *config.MaintenanceCalendar
	src *collector.Source[[]maintenance.Event]
}

func init() {
	collector.Register("maintenance", true, newMaintenanceCollector)
}

func newMaintenanceCollector(env collector.Env) (collector.Collector, error) {
	return buildMaintenanceCollector(env, nil)
}

// buildMaintenanceCollector takes the HTTP client for URL calendars (tests
// pass their TLS server's client); with nil, each URL calendar gets its own,
// closed when a reload removes the calendar.
func buildMaintenanceCollector(env collector.Env, client *http.Client) (*maintenanceCollector, error) {
	c := &maintenanceCollector{static: map[string][]maintenance.Event{}, now: env.Now, announcements: env.Announcements}
	if c.now == nil {
		c.now = time.Now
	}
	logger := env.Logger
	if logger == nil {
		logger = log.NewNopLogger()
	}
	for _, s := range env.Config.Services {
		c.services = append(c.services, s.Name)
		for _, w := range s.Maintenance {
			c.static[s.Name] = append(c.static[s.Name], w.Event)
		}
	}
	for i := range env.Config.Maintenance.Calendars {
		cal := &env.Config.Maintenance.Calendars[i]
		mc, err := collector.Keep(env, cal.Name, cal, func() (*maintenanceCalendar, error) {
			return newCalendar(env, logger, cal, client), nil
		})
		if err != nil {
			return nil, err
		}
		c.calendars = append(c.calendars, mc)
	}
	if ex := env.Config.Maintenance.Exemptions; ex != nil {
		src, err := collector.Keep(env, "exemptions", ex, func() (*collector.Source[*exemption.File], error) {
			exClient, onStop := client, func() {}
			if exClient == nil {
				tr := &http.Transport{Proxy: http.ProxyFromEnvironment}
				exClient, onStop = &http.Client{Transport: tr}, tr.CloseIdleConnections
			}
			return &collector.Source[*exemption.File]{MaxRetryAfter: env.MaxRetryAfter(),
				Collector: "maintenance", Name: "exemptions", Interval: ex.RefreshInterval.D(), Timeout: ex.Timeout.D(),
				Refresh: func(ctx context.Context) (*exemption.File, error) { return fetchExemptions(ctx, exClient, ex) },
				Logger:  logger, Now: env.Now, OnStop: onStop,
			}, nil
		})
		if err != nil {
			return nil, err
		}
		c.exemptions = src
	}
	return c, nil
}

func newCalendar(env collector.Env, logger log.Logger, cal *config.MaintenanceCalendar, client *http.Client) *maintenanceCalendar {
	mc := &maintenanceCalendar{cfg: cal}
	refresh := func(ctx context.Context) ([]maintenance.Event, error) {
		return config.ReadCalendarFile(cal.Path, cal.MaxBytes)
	}
	onStop := func() {}
	if !cal.URL.IsZero() {
		if client == nil {
			tr := &http.Transport{Proxy: http.ProxyFromEnvironment}
			client, onStop = &http.Client{Transport: tr}, tr.CloseIdleConnections
		}
		refresh = func(ctx context.Context) ([]maintenance.Event, error) {
			return fetchCalendar(ctx, client, cal)
		}
	}
	mc.src = &collector.Source[[]maintenance.Event]{MaxRetryAfter: env.MaxRetryAfter(),
		Collector: "maintenance", Name: cal.Name, Interval: cal.RefreshInterval.D(), Timeout: cal.Timeout.D(),
		Refresh: refresh, Logger: logger, Now: env.Now, OnStop: onStop,
	}
	return mc
}

// fetchExemptions reads and checks the exemption file; a broken file keeps
// the last good one (the source reports the failure).
func fetchExemptions(ctx context.Context, client *http.Client, ex *config.ExemptionSource) (*exemption.File, error) {
	if ex.URL.IsZero() {
		data, err := config.ReadFileBounded(ex.Path, ex.MaxBytes, "exemption file")
		if err != nil {
			return nil, err
		}
		return exemption.Parse(ex.Path, data)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ex.URL.String(), nil)
	if err != nil {
		return nil, err
	}
	body, _, err := fetch.Get(client, req, ex.MaxBytes)
	if err != nil {
		return nil, err
	}
	if fetch.LooksLikeHTML(body) {
		return nil, fetch.Errorf(fetch.ReasonPayload, "%s: got an HTML page, not an exemption file", fetch.Redact(ex.URL.String()))
	}
	f, err := exemption.Parse(fetch.Redact(ex.URL.String()), body)
	if err != nil {
		return nil, fetch.Errorf(fetch.ReasonDecode, "%v", err)
	}
	return f, nil
}

func fetchCalendar(ctx context.Context, client *http.Client, cal *config.MaintenanceCalendar) ([]maintenance.Event, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, cal.URL.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/calendar")
	body, _, err := fetch.Get(client, req, cal.MaxBytes)
	if err != nil {
		return nil, err
	}
	if fetch.LooksLikeHTML(body) {
		return nil, fetch.Errorf(fetch.ReasonPayload, "%s: got an HTML page, not an iCalendar file", fetch.Redact(cal.URL.String()))
	}
	events, err := maintenance.ParseICS(bytes.NewReader(body), config.Tokyo)
	if err != nil {
		return nil, fetch.Errorf(fetch.ReasonDecode, "%s: %v", fetch.Redact(cal.URL.String()), err)
	}
	return events, nil
}

// Run refreshes the calendars until ctx is cancelled.
func (c *maintenanceCollector) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, cal := range c.calendars {
		wg.Add(1)
		go func() { defer wg.Done(); cal.src.Run(ctx) }()
	}
	if c.exemptions != nil {
		wg.Add(1)
		go func() { defer wg.Done(); c.exemptions.Run(ctx) }()
	}
	wg.Wait()
}

// Update emits bosaimail_maintenance_active for every configured service:
// the availability rules take maintenance time out of the denominator only
// where this series says 1, so a service must never lack it.
func (c *maintenanceCollector) Update(ctx context.Context, ch chan<- prometheus.Metric) error {
	if len(c.services) == 0 {
		return collector.ErrNoData
	}
	now := c.now()
	snapshots := make([][]maintenance.Event, len(c.calendars))
	for i, cal := range c.calendars {
		cal.src.CollectStatus(ch)
		events, ok := cal.src.Snapshot()
		if !ok && cal.cfg.Events != nil {
			// A file calendar read at load serves until its first refresh.
			events = cal.cfg.Events
		}
		snapshots[i] = events
	}
	// Provider maintenance that the operator opted into
	// (cloud.sources[].maintenance_services) carries no approval: it is
	// shown as unapproved until an approved window (e.g. the ledger's
	// calendar of approved planned stops) covers it.
	announced := c.announcements.Windows(now)
	var ex *exemption.File
	if c.exemptions != nil {
		c.exemptions.CollectStatus(ch)
		ex, _ = c.exemptions.Snapshot()
	}
	for _, svc := range c.services {
		var events []maintenance.Event
		events = append(events, c.static[svc]...)
		for i, cal := range c.calendars {
			if cal.cfg.AppliesTo(svc) {
				events = append(events, snapshots[i]...)
			}
		}
		var approved, unapproved maintenance.Schedule
		info := map[[3]string]bool{}
		for _, e := range events {
			target := &unapproved
			by, on := "", ""
			if e.Approved() {
				target = &approved
				by, on = e.ApprovedBy, e.ApprovedOn.In(config.Tokyo).Format("2006-01-02")
			}
			target.Add(e)
			var one maintenance.Schedule
			one.Add(e)
			if _, ok := one.Active(now); ok {
				info[[3]string{e.UID, by, on}] = true
			}
		}
		for _, w := range announced {
			if w.Service != svc {
				continue
			}
			end := w.End
			if end.IsZero() {
				// No end announced: a window while the provider still lists
				// it (re-evaluated every scrape).
				end = now.Add(time.Minute)
			}
			if end.After(w.Start) {
				win := maintenance.Window{Start: w.Start, End: end}
				unapproved.AddWindow(win)
				if win.Contains(now) {
					info[[3]string{"provider", "", ""}] = true
				}
			}
		}
		active := 0.0
		if w, ok := approved.Active(now); ok {
			active = 1
			ch <- prometheus.MustNewConstMetric(maintenanceActiveEndDesc, prometheus.GaugeValue, float64(w.End.Unix()), svc)
		}
		ch <- prometheus.MustNewConstMetric(maintenanceActiveDesc, prometheus.GaugeValue, active, svc)
		if next, ok := approved.NextStart(now); ok {
			ch <- prometheus.MustNewConstMetric(maintenanceNextStartDesc, prometheus.GaugeValue, float64(next.Unix()), svc)
		}
		unapprovedActive := 0.0
		if _, ok := unapproved.Active(now); ok {
			unapprovedActive = 1
		}
		ch <- prometheus.MustNewConstMetric(maintenanceUnapprovedDesc, prometheus.GaugeValue, unapprovedActive, svc)
		for k := range info {
			ch <- prometheus.MustNewConstMetric(maintenanceWindowInfoDesc, prometheus.GaugeValue, 1, svc, k[0], k[1], k[2])
		}
		if c.exemptions != nil {
			exempt, confirmed := 0.0, 0.0
			if ex != nil && ex.ExemptAt(svc, now) {
				exempt = 1
			}
			if ex != nil && ex.ConfirmedAt(svc, now) {
				confirmed = 1
			}
			ch <- prometheus.MustNewConstMetric(exemptionActiveDesc, prometheus.GaugeValue, exempt, svc)
			ch <- prometheus.MustNewConstMetric(confirmationActiveDesc, prometheus.GaugeValue, confirmed, svc)
			if ex != nil {
				for _, e := range ex.Exemptions {
					if e.Incident == "" && (e.Service == "" || e.Service == svc) {
						ch <- prometheus.MustNewConstMetric(exemptionWindowStartDesc, prometheus.GaugeValue, float64(e.Start.Unix()), svc, e.ID)
						ch <- prometheus.MustNewConstMetric(exemptionWindowEndDesc, prometheus.GaugeValue, float64(e.End.Unix()), svc, e.ID)
					}
				}
				for _, c := range ex.Confirmations {
					if c.Service == "" || c.Service == svc {
						ch <- prometheus.MustNewConstMetric(confirmationWindowStartDesc, prometheus.GaugeValue, float64(c.Start.Unix()), svc, c.ID)
						ch <- prometheus.MustNewConstMetric(confirmationWindowEndDesc, prometheus.GaugeValue, float64(c.End.Unix()), svc, c.ID)
					}
				}
			}
		}
	}
	return nil
}
