package delivery

import (
	"context"
	"time"

	"github.com/bosaimail/bosaimail_exporter/collector"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	deliveryWindowEventsDesc = collector.NewDesc("delivery", "window_events",
		"Sending events summed over delivery.ses.window (event: delivery_attempts, bounces, complaints, rejects).", "source", "event")
	deliveryLatestPointDesc = collector.NewDesc("delivery", "latest_datapoint_timestamp_seconds",
		"Time of the newest sending-statistics data point (SES aggregates in 15-minute points).", "source")
)

func init() {
	collector.Register("delivery_ses", true, newDeliverySESCollector)
}

// deliverySESStats is the SES sending activity summed over the configured window.
type deliverySESStats struct {
	Attempts, Bounces, Complaints, Rejects int64
	Latest                                 time.Time
}

type deliverySESCollector struct {
	src *collector.Source[deliverySESStats]
}

func newDeliverySESCollector(env collector.Env) (collector.Collector, error) {
	c := &deliverySESCollector{}
	s := env.Config.Delivery.SES
	if s == nil {
		return c, nil
	}
	now := env.Now
	if now == nil {
		now = time.Now
	}
	var err error
	c.src, err = collector.Keep(env, "ses", s, func() (*collector.Source[deliverySESStats], error) {
		stats, closeIdle, err := newSESStats(s, env.Logger)
		if err != nil {
			return nil, err
		}
		return &collector.Source[deliverySESStats]{MaxRetryAfter: env.MaxRetryAfter(),
			Collector: "delivery_ses", Name: "ses",
			Interval: s.Interval.D(), Timeout: s.Timeout.D(), Logger: env.Logger, Now: env.Now,
			Refresh: func(ctx context.Context) (deliverySESStats, error) {
				return stats(ctx, now().Add(-s.Window.D()))
			},
			OnStop: closeIdle,
		}, nil
	})
	return c, err
}

// sesStats sums the SES sending activity since a time (the AWS adapter,
// ses_aws.go, or its absence in a build without AWS).
type sesStats func(ctx context.Context, since time.Time) (deliverySESStats, error)

func (c *deliverySESCollector) Run(ctx context.Context) {
	if c.src != nil {
		c.src.Run(ctx)
	}
}

func (c *deliverySESCollector) Update(_ context.Context, ch chan<- prometheus.Metric) error {
	if c.src == nil {
		return collector.ErrNoData
	}
	c.src.CollectStatus(ch)
	st, ok := c.src.Snapshot()
	if !ok {
		return nil
	}
	for _, e := range []struct {
		name string
		v    int64
	}{{"delivery_attempts", st.Attempts}, {"bounces", st.Bounces}, {"complaints", st.Complaints}, {"rejects", st.Rejects}} {
		ch <- prometheus.MustNewConstMetric(deliveryWindowEventsDesc, prometheus.GaugeValue, float64(e.v), "ses", e.name)
	}
	if !st.Latest.IsZero() {
		ch <- prometheus.MustNewConstMetric(deliveryLatestPointDesc, prometheus.GaugeValue, float64(st.Latest.Unix()), "ses")
	}
	// No sending in the window: no ratio (0/0 is not a good reputation).
	if st.Attempts > 0 {
		ch <- prometheus.MustNewConstMetric(deliveryBounceRatioDesc, prometheus.GaugeValue, float64(st.Bounces)/float64(st.Attempts), "ses")
		ch <- prometheus.MustNewConstMetric(deliveryComplaintRatioDesc, prometheus.GaugeValue, float64(st.Complaints)/float64(st.Attempts), "ses")
	}
	return nil
}
