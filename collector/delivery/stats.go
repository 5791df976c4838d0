package delivery

import (
	"context"
	"net/http"
	"sync"

	"github.com/bosaimail/bosaimail_exporter/collector"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bosaimail/bosaimail_exporter/config"
	"github.com/bosaimail/bosaimail_exporter/internal/deliverystats"
	"github.com/bosaimail/bosaimail_exporter/internal/fetch"
)

var (
	broadcastRecipientsDesc = collector.NewDesc("broadcast", "recipients",
		"Recipients of a broadcast by state (queued: not yet attempted, deferred, delivered, bounced); the states sum to the broadcast's recipients. Only the most recent broadcasts (delivery.stats.keep_last).", "broadcast", "state")
	broadcastStartedDesc = collector.NewDesc("broadcast", "started_timestamp_seconds",
		"When the broadcast started.", "broadcast")
	broadcastCompletedDesc = collector.NewDesc("broadcast", "completed_timestamp_seconds",
		"When the broadcast finished (absent while it is still being delivered).", "broadcast")
	deliveryBounceRatioDesc = collector.NewDesc("delivery", "bounce_ratio",
		"Bounced over attempted deliveries: for source=ses over delivery.ses.window, for source=stats over the exported broadcasts.", "source")
	deliveryComplaintRatioDesc = collector.NewDesc("delivery", "complaint_ratio",
		"Complaints (marked as spam) over attempted deliveries: for source=ses over delivery.ses.window, for source=stats over the exported broadcasts.", "source")
)

// broadcastStates are the label values of bosaimail_broadcast_recipients.
var broadcastStates = []string{"queued", "deferred", "delivered", "bounced"}

// regressionTolerance is how many refreshes in a row must show a counter
// lower than before until it is believed (the service's statistics were
// reset or corrected); until then the last good values stay.
const regressionTolerance = 3

func init() {
	collector.Register("delivery_stats", true, newDeliveryStatsCollector)
}

type deliveryStatsCollector struct {
	src *collector.Source[[]deliverystats.Broadcast]
}

func newDeliveryStatsCollector(env collector.Env) (collector.Collector, error) {
	c := &deliveryStatsCollector{}
	s := env.Config.Delivery.Stats
	if s == nil {
		return c, nil
	}
	var err error
	c.src, err = collector.Keep(env, "stats", s, func() (*collector.Source[[]deliverystats.Broadcast], error) {
		g := &statsGuard{logger: env.Logger}
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: s.TLSClient}}
		return &collector.Source[[]deliverystats.Broadcast]{MaxRetryAfter: env.MaxRetryAfter(),
			Collector: "delivery_stats", Name: "stats",
			Interval: s.Interval.D(), Timeout: s.Timeout.D(), Logger: env.Logger, Now: env.Now,
			Refresh: func(ctx context.Context) ([]deliverystats.Broadcast, error) {
				bs, err := fetchDeliveryStats(ctx, client, s)
				if err != nil {
					return nil, err
				}
				return g.check(deliverystats.Latest(bs, s.KeepLast))
			},
			OnStop: client.CloseIdleConnections,
		}, nil
	})
	return c, err
}

func fetchDeliveryStats(ctx context.Context, client *http.Client, s *config.StatsSource) ([]deliverystats.Broadcast, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	tok, err := config.ReadOptionalSecret(s.BearerTokenFile)
	if err != nil {
		return nil, fetch.Errorf(fetch.ReasonOther, "bearer token: %v", err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	body, _, err := fetch.Get(client, req, s.MaxBytes)
	if err != nil {
		return nil, err
	}
	if fetch.LooksLikeHTML(body) {
		return nil, fetch.Errorf(fetch.ReasonDecode, "GET %s: got an HTML page, not statistics JSON", fetch.Redact(s.URL.String()))
	}
	bs, err := deliverystats.Decode(body, s.Mapping)
	if err != nil {
		return nil, fetch.Errorf(fetch.ReasonPayload, "GET %s: %v", fetch.Redact(s.URL.String()), err)
	}
	return bs, nil
}

// statsGuard refuses a snapshot in which a broadcast's delivered or
// bounced count went backwards (a lagging replica or a half-written
// statistics row): the drain rate would turn negative and the ETA jump.
type statsGuard struct {
	mu     sync.Mutex
	last   map[string]deliverystats.Broadcast
	streak int
	logger log.Logger
}

func (g *statsGuard) check(bs []deliverystats.Broadcast) ([]deliverystats.Broadcast, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, b := range bs {
		prev, ok := g.last[b.ID]
		if !ok {
			continue
		}
		field, was, now := "", 0.0, 0.0
		switch {
		case b.Delivered < prev.Delivered:
			field, was, now = "delivered", prev.Delivered, b.Delivered
		case b.Bounced < prev.Bounced:
			field, was, now = "bounced", prev.Bounced, b.Bounced
		}
		if field == "" {
			continue
		}
		g.streak++
		if g.streak < regressionTolerance {
			return nil, fetch.Errorf(fetch.ReasonPayload, "broadcast %q: %s went backwards from %v to %v (keeping the last good values)", b.ID, field, was, now)
		}
		level.Warn(g.logger).Log("msg", "statistics went backwards repeatedly; accepting them as corrected", "broadcast", b.ID, "field", field, "was", was, "now", now)
		break
	}
	g.streak = 0
	g.last = make(map[string]deliverystats.Broadcast, len(bs))
	for _, b := range bs {
		g.last[b.ID] = b
	}
	return bs, nil
}

func (c *deliveryStatsCollector) Run(ctx context.Context) {
	if c.src != nil {
		c.src.Run(ctx)
	}
}

func (c *deliveryStatsCollector) Update(_ context.Context, ch chan<- prometheus.Metric) error {
	if c.src == nil {
		return collector.ErrNoData
	}
	c.src.CollectStatus(ch)
	bs, ok := c.src.Snapshot()
	if !ok {
		return nil
	}
	var attempted, bounced, delivered, complaints float64
	for _, b := range bs {
		for _, st := range broadcastStates {
			v := b.Queued()
			switch st {
			case "deferred":
				v = b.Deferred
			case "delivered":
				v = b.Delivered
			case "bounced":
				v = b.Bounced
			}
			ch <- prometheus.MustNewConstMetric(broadcastRecipientsDesc, prometheus.GaugeValue, v, b.ID, st)
		}
		ch <- prometheus.MustNewConstMetric(broadcastStartedDesc, prometheus.GaugeValue, float64(b.Started.UnixMilli())/1e3, b.ID)
		if !b.Finished.IsZero() {
			ch <- prometheus.MustNewConstMetric(broadcastCompletedDesc, prometheus.GaugeValue, float64(b.Finished.UnixMilli())/1e3, b.ID)
		}
		attempted += b.Delivered + b.Bounced
		bounced += b.Bounced
		delivered += b.Delivered
		complaints += b.Complaints
	}
	if attempted > 0 {
		ch <- prometheus.MustNewConstMetric(deliveryBounceRatioDesc, prometheus.GaugeValue, bounced/attempted, "stats")
	}
	if delivered > 0 {
		ch <- prometheus.MustNewConstMetric(deliveryComplaintRatioDesc, prometheus.GaugeValue, complaints/delivered, "stats")
	}
	return nil
}
