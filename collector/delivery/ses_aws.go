//go:build !noaws

package delivery

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ses"
	"github.com/go-kit/log"

	"github.com/bosaimail/bosaimail_exporter/config"
	"github.com/bosaimail/bosaimail_exporter/internal/awsclient"
)

// newSESStats reads SES GetSendStatistics through the official SDK; the
// returned function closes the client's idle connections when a reload
// removes the source.
func newSESStats(s *config.SESSource, logger log.Logger) (sesStats, func(), error) {
	client, closeIdle, err := newDeliverySESClient(s, logger)
	if err != nil {
		return nil, nil, err
	}
	return func(ctx context.Context, since time.Time) (deliverySESStats, error) {
		out, err := client.GetSendStatistics(ctx, &ses.GetSendStatisticsInput{})
		if err != nil {
			return deliverySESStats{}, awsclient.Err("ses GetSendStatistics", err)
		}
		var st deliverySESStats
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
	}, closeIdle, nil
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
