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
	"github.com/bosaimail/bosaimail_exporter/internal/fetch"
	"github.com/bosaimail/bosaimail_exporter/internal/maintenance"
)

var (
	maintenanceActiveDesc = collector.NewDesc("maintenance", "active",
		"1 while the service is in a planned stop (計画停止) of its maintenance calendar, else 0; present for every configured service.", "service")
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
	// (cloud.sources[].maintenance_services) is a planned stop of those
	// services, like a window in the config.
	announced := c.announcements.Windows(now)
	for _, svc := range c.services {
		var s maintenance.Schedule
		s.Add(c.static[svc]...)
		for _, w := range announced {
			if w.Service != svc {
				continue
			}
			end := w.End
			if end.IsZero() {
				// No end announced: a planned stop while the provider still
				// lists it (re-evaluated every scrape).
				end = now.Add(time.Minute)
			}
			if end.After(w.Start) {
				s.AddWindow(maintenance.Window{Start: w.Start, End: end})
			}
		}
		for i, cal := range c.calendars {
			if cal.cfg.AppliesTo(svc) {
				s.Add(snapshots[i]...)
			}
		}
		active := 0.0
		if w, ok := s.Active(now); ok {
			active = 1
			ch <- prometheus.MustNewConstMetric(maintenanceActiveEndDesc, prometheus.GaugeValue, float64(w.End.Unix()), svc)
		}
		ch <- prometheus.MustNewConstMetric(maintenanceActiveDesc, prometheus.GaugeValue, active, svc)
		if next, ok := s.NextStart(now); ok {
			ch <- prometheus.MustNewConstMetric(maintenanceNextStartDesc, prometheus.GaugeValue, float64(next.Unix()), svc)
		}
	}
	return nil
}
