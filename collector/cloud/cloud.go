package cloud

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/bosaimail/bosaimail_exporter/collector"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bosaimail/bosaimail_exporter/config"
	"github.com/bosaimail/bosaimail_exporter/internal/cloudstatus"
	"github.com/bosaimail/bosaimail_exporter/internal/fetch"
)

var (
	cloudComponentStatusDesc = collector.NewDesc("cloud", "component_status",
		"State of a provider component, one-hot over operational, degraded, partial_outage, major_outage, maintenance and unknown (a status string the exporter does not know is unknown, never operational).", "provider", "component", "status")
	cloudEventsOpenDesc = collector.NewDesc("cloud", "events_open",
		"Open incidents and active or upcoming maintenances, changes and notices of a provider, by category (issue, scheduled_change, maintenance, notification).", "provider", "category")
	cloudMaintenanceStartDesc = collector.NewDesc("cloud", "maintenance_start_timestamp_seconds",
		"Start of the next or current maintenance (or scheduled change) a provider announced for a component (component \"all\" when it names none).", "provider", "component")
	cloudMaintenanceEndDesc = collector.NewDesc("cloud", "maintenance_end_timestamp_seconds",
		"Announced end of that maintenance (absent when the provider gave none).", "provider", "component")
	cloudQuotaUsedRatioDesc = collector.NewDesc("cloud", "quota_used_ratio",
		"Fraction of a provider quota in use (0..1), e.g. SES max_24_hour_send.", "provider", "quota")
	cloudQuotaUsedDesc = collector.NewDesc("cloud", "quota_used",
		"Raw amount of a provider quota in use (e.g. SES mails sent in the last 24 hours).", "provider", "quota")
	cloudQuotaLimitDesc = collector.NewDesc("cloud", "quota_limit",
		"Raw limit of a provider quota (e.g. SES max_24_hour_send, max_send_rate per second).", "provider", "quota")
	cloudSendingEnabledDesc = collector.NewDesc("cloud", "sending_enabled",
		"1 if the provider lets the account send mail (SES SendingEnabled), 0 if sending is paused.", "provider")
	cloudJSONValueDesc = collector.NewDesc("cloud", "json_value",
		"A value of a generic JSON source, mapped by its jq query (key is \"\" unless the query yields {key, value} objects).", "provider", "metric", "key")
)

// cloudResult is what one refresh of any cloud source yields.
type cloudResult struct {
	snap           *cloudstatus.Snapshot
	quotas         []cloudQuota
	sendingEnabled *bool
	json           map[string][]cloudstatus.JSONValue
	jsonQuota      map[string]string // metric name -> quota name
}

type cloudQuota struct {
	name        string
	used, limit float64
	// limitOnly: the API states only the limit (e.g. SES max send rate).
	limitOnly bool
	ratioOnly bool
	ratio     float64
}

// cloudRefresher builds the refresh function of one source type; each
// provider's file registers its own.
type cloudRefresher func(s *cloudSource) (func(ctx context.Context) (cloudResult, error), error)

var cloudRefreshers = map[string]cloudRefresher{}

type cloudSource struct {
	cfg    *config.CloudSource
	client *http.Client
	env    collector.Env
	src    *collector.Source[cloudResult]
}

type cloudCollector struct {
	sources       []*cloudSource
	announcements *collector.Announcements
}

func init() {
	collector.Register("cloud", true, newCloudCollector)
}

func newCloudCollector(env collector.Env) (collector.Collector, error) {
	c := &cloudCollector{announcements: env.Announcements}
	for i := range env.Config.Cloud.Sources {
		cfg := &env.Config.Cloud.Sources[i]
		s, err := collector.Keep(env, cfg.Name, cfg, func() (*cloudSource, error) { return newCloudSource(env, cfg) })
		if err != nil {
			return nil, fmt.Errorf("cloud source %s: %w", cfg.Name, err)
		}
		c.sources = append(c.sources, s)
	}
	return c, nil
}

func newCloudSource(env collector.Env, cfg *config.CloudSource) (*cloudSource, error) {
	mk, ok := cloudRefreshers[cfg.Type]
	if !ok {
		return nil, fmt.Errorf("no adapter for type %q", cfg.Type)
	}
	s := &cloudSource{cfg: cfg, env: env, client: cloudHTTPClient(cfg)}
	refresh, err := mk(s)
	if err != nil {
		return nil, err
	}
	s.src = &collector.Source[cloudResult]{MaxRetryAfter: env.MaxRetryAfter(),
		Collector: "cloud", Name: cfg.Name, Interval: cfg.Interval.D(), Timeout: cfg.Timeout.D(),
		Refresh: refresh, Logger: env.Logger, Now: env.Now,
		OnStop: s.client.CloseIdleConnections,
	}
	return s, nil
}

func cloudHTTPClient(cfg *config.CloudSource) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = cfg.TLSClient
	tr.ResponseHeaderTimeout = cfg.Timeout.D()
	// The source's context bounds the whole refresh; this bounds one request
	// too, in case a future adapter forgets to pass it.
	return &http.Client{Transport: tr, Timeout: cfg.Timeout.D()}
}

// Start makes this set's cloud collector the one whose announcements the
// maintenance calendar reads, at once when its set starts: the old set's
// collector steps back when it stops, and only if still the current one,
// so provider maintenance never vanishes from the calendar on a reload.
func (c *cloudCollector) Start() (stop func()) { return c.announcements.Serve(c) }

func (c *cloudCollector) Run(ctx context.Context) {
	collector.RunSources(ctx, c.sources, func(s *cloudSource) collector.Runner { return s.src })
}

func (c *cloudCollector) Update(ctx context.Context, ch chan<- prometheus.Metric) error {
	if len(c.sources) == 0 {
		return collector.ErrNoData
	}
	collector.CollectSources(ch, c.sources, func(s *cloudSource) *collector.Source[cloudResult] { return s.src },
		func(s *cloudSource, r cloudResult) { s.collect(r, ch) })
	return nil
}

func (s *cloudSource) collect(r cloudResult, ch chan<- prometheus.Metric) {
	p := s.cfg.Name
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	if r.snap != nil {
		for _, comp := range r.snap.Components {
			for _, st := range cloudstatus.Statuses {
				v := 0.0
				if comp.Status == st {
					v = 1
				}
				gauge(cloudComponentStatusDesc, v, p, comp.Name, string(st))
			}
		}
		for cat, n := range r.snap.EventsOpen() {
			gauge(cloudEventsOpenDesc, float64(n), p, string(cat))
		}
		for comp, w := range nextMaintenance(r.snap.Events, s.now()) {
			gauge(cloudMaintenanceStartDesc, float64(w.Start.Unix()), p, comp)
			if !w.End.IsZero() {
				gauge(cloudMaintenanceEndDesc, float64(w.End.Unix()), p, comp)
			}
		}
	}
	for _, q := range r.quotas {
		if !q.ratioOnly {
			gauge(cloudQuotaLimitDesc, q.limit, p, q.name)
		}
		if q.limitOnly {
			continue
		}
		if !q.ratioOnly {
			gauge(cloudQuotaUsedDesc, q.used, p, q.name)
		}
		gauge(cloudQuotaUsedRatioDesc, q.ratio, p, q.name)
	}
	if r.sendingEnabled != nil {
		gauge(cloudSendingEnabledDesc, collector.Bool(*r.sendingEnabled), p)
	}
	for name, vals := range r.json {
		for _, v := range vals {
			gauge(cloudJSONValueDesc, v.Value, p, name, v.Key)
			if q := r.jsonQuota[name]; q != "" {
				qn := q
				if v.Key != "" {
					qn = q + "_" + v.Key
				}
				gauge(cloudQuotaUsedRatioDesc, v.Value, p, qn)
			}
		}
	}
}

func (s *cloudSource) now() time.Time {
	if s.env.Now != nil {
		return s.env.Now()
	}
	return time.Now()
}

// pendingMaintenance gives the components of a maintenance or scheduled
// change that has a start and has not ended ("all" when the provider named
// none), and nothing for any other event.
func pendingMaintenance(e cloudstatus.Event, now time.Time) []string {
	if e.Category != cloudstatus.MaintenanceCat && e.Category != cloudstatus.ScheduledChange {
		return nil
	}
	if e.Start.IsZero() || (!e.End.IsZero() && !e.End.After(now)) {
		return nil
	}
	if len(e.Components) == 0 {
		return []string{"all"}
	}
	return e.Components
}

// nextMaintenance picks, per component, the earliest maintenance or
// scheduled change that has a start and has not ended.
func nextMaintenance(events []cloudstatus.Event, now time.Time) map[string]cloudstatus.Event {
	out := map[string]cloudstatus.Event{}
	for _, e := range events {
		for _, c := range pendingMaintenance(e, now) {
			if old, ok := out[c]; !ok || e.Start.Before(old.Start) {
				out[c] = e
			}
		}
	}
	return out
}

// get fetches a URL with the source's bounds and refuses an HTML page
// where JSON or XML was expected (a proxy's or portal's 200).
func (s *cloudSource) get(ctx context.Context, url string, header http.Header) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fetch.Errorf(fetch.ReasonOther, "request %s: %v", fetch.Redact(url), err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	req.Header.Set("User-Agent", "bosaimail_exporter")
	body, _, err := fetch.Get(s.client, req, s.cfg.MaxBodyBytes)
	if err != nil {
		return nil, err
	}
	if fetch.LooksLikeHTML(body) {
		return nil, fetch.Errorf(fetch.ReasonPayload, "GET %s: got an HTML page instead of the %s payload", fetch.Redact(url), s.cfg.Type)
	}
	return body, nil
}

// bearer reads the token file now, so an external refresher can rotate it.
func (s *cloudSource) bearer() (http.Header, error) {
	if s.cfg.BearerTokenFile == "" {
		return nil, nil
	}
	tok, err := config.ReadSecretFile(s.cfg.BearerTokenFile)
	if err != nil {
		return nil, fetch.Errorf(fetch.ReasonOther, "bearer token: %v", err)
	}
	return http.Header{"Authorization": {"Bearer " + strings.TrimSpace(tok)}}, nil
}

// decodeErr marks a payload that could not be decoded.
func decodeErr(err error) error {
	return &fetch.Error{Reason: fetch.ReasonDecode, Err: err}
}

// MaintenanceWindows lists the announced, not yet ended maintenances of the
// sources that opted in, one per opted-in service, from the last good
// refresh. The maintenance calendar (availability area) reads it; nothing
// here makes a provider's word a planned stop unless the operator said so.
func (c *cloudCollector) MaintenanceWindows(now time.Time) []collector.MaintenanceWindow {
	var out []collector.MaintenanceWindow
	for _, s := range c.sources {
		if len(s.cfg.MaintenanceServices) == 0 {
			continue
		}
		r, ok := s.src.Snapshot()
		if !ok || r.snap == nil {
			continue
		}
		for _, e := range r.snap.Events {
			for _, comp := range pendingMaintenance(e, now) {
				for _, svc := range s.cfg.MaintenanceServices {
					out = append(out, collector.MaintenanceWindow{Service: svc, Provider: s.cfg.Name, Component: comp, Title: e.Title, Start: e.Start, End: e.End})
				}
			}
		}
	}
	return out
}
