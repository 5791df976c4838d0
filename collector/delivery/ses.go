package delivery

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/bosaimail/bosaimail_exporter/collector"
	"github.com/bosaimail/bosaimail_exporter/internal/awsclient"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ses"
	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bosaimail/bosaimail_exporter/config"
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
		client, closeIdle, err := newDeliverySESClient(s, env.Logger)
		if err != nil {
			return nil, err
		}
		return &collector.Source[deliverySESStats]{MaxRetryAfter: env.MaxRetryAfter(),
			Collector: "delivery_ses", Name: "ses",
			Interval: s.Interval.D(), Timeout: s.Timeout.D(), Logger: env.Logger, Now: env.Now,
			Refresh: func(ctx context.Context) (deliverySESStats, error) {
				out, err := client.GetSendStatistics(ctx, &ses.GetSendStatisticsInput{})
				if err != nil {
					return deliverySESStats{}, awsclient.Err("ses GetSendStatistics", err)
				}
				var st deliverySESStats
				since := now().Add(-s.Window.D())
				for _, p := range out.SendDataPoints {
					if p.Timestamp == nil {
						continue
					}
					if p.Timestamp.After(st.Latest) {
						st.Latest = *p.Timestamp
					}
					if p.Timestamp.Before(since) {
						continue
					}
					st.Attempts += p.DeliveryAttempts
					st.Bounces += p.Bounces
					st.Complaints += p.Complaints
					st.Rejects += p.Rejects
				}
				return st, nil
			},
			OnStop: closeIdle,
		}, nil
	})
	return c, err
}

// sesMaxBodyBytes bounds a GetSendStatistics answer: two weeks of
// 15-minute points are about 1,350 entries, some 300 KB of XML.
const sesMaxBodyBytes = 4 << 20

// newDeliverySESClient uses the key files when configured, else the SDK's
// default credential chain (environment, shared files, SSO, instance role);
// credentials are fetched lazily, under a refresh's deadline.
func newDeliverySESClient(s *config.SESSource, logger log.Logger) (*ses.Client, func(), error) {
	opts := []func(*awsconfig.LoadOptions) error{
		awsconfig.WithRegion(s.Region),
		// The collector.Source retries on its own schedule with backoff; the SDK's
		// own retries would only stretch one refresh past its timeout.
		awsconfig.WithRetryMaxAttempts(1),
	}
	if s.AccessKeyIDFile != "" {
		// The key files are read at each request, so rotated keys need no
		// reload.
		opts = append(opts, awsconfig.WithCredentialsProvider(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			id, err := config.ReadSecretFile(s.AccessKeyIDFile)
			if err != nil {
				return aws.Credentials{}, err
			}
			secret, err := config.ReadSecretFile(s.SecretAccessKeyFile)
			if err != nil {
				return aws.Credentials{}, err
			}
			return credentials.NewStaticCredentialsProvider(id, secret, "").Retrieve(context.Background())
		})))
	}
	cfg, err := awsconfig.LoadDefaultConfig(context.Background(), opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("delivery.ses: AWS configuration: %w", err)
	}
	// Our own transport, so the source can close its idle connections when
	// a reload removes it.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	return ses.NewFromConfig(cfg, func(o *ses.Options) {
		if !s.Endpoint.IsZero() {
			o.BaseEndpoint = aws.String(s.Endpoint.String())
		}
		// The source's context carries the timeout.
		o.HTTPClient = awsclient.BoundedDoer{Next: &http.Client{Transport: tr}, Limit: sesMaxBodyBytes}
		o.Logger = awsclient.NewLogger(logger, "ses")
	}), tr.CloseIdleConnections, nil
}

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
