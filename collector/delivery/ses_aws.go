//go:build !noaws

package delivery

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/go-kit/log"

	"github.com/bosaimail/bosaimail_exporter/config"
	"github.com/bosaimail/bosaimail_exporter/internal/awsclient"
)

// sesMaxBodyBytes bounds a GetSendStatistics answer: two weeks of
// 15-minute points are about 1,350 entries, some 300 KB of XML.
const sesMaxBodyBytes = 4 << 20

// newSESStats reads SES GetSendStatistics (awsQuery, XML); the returned
// function closes the client's idle connections when a reload removes the
// source.
func newSESStats(s *config.SESSource, _ log.Logger) (sesStats, func(), error) {
	client, err := newDeliverySESClient(s)
	if err != nil {
		return nil, nil, err
	}
	return func(ctx context.Context, since time.Time) (deliverySESStats, error) {
		var out struct {
			Points []struct {
				Timestamp                                      time.Time
				DeliveryAttempts, Bounces, Complaints, Rejects int64
			} `xml:"GetSendStatisticsResult>SendDataPoints>member"`
		}
		if err := client.Query(ctx, "GetSendStatistics", "2010-12-01", &out); err != nil {
			return deliverySESStats{}, fmt.Errorf("ses: %w", err)
		}
		var st deliverySESStats
		for _, p := range out.Points {
			if p.Timestamp.IsZero() {
				continue
			}
			if p.Timestamp.After(st.Latest) {
				st.Latest = p.Timestamp
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
	}, client.CloseIdleConnections, nil
}

// newDeliverySESClient uses the key files when configured, else the SDK's
// default credential chain (environment, shared files, SSO, instance role);
// credentials are fetched lazily, under a refresh's deadline.
func newDeliverySESClient(s *config.SESSource) (*awsclient.Client, error) {
	o := awsclient.Options{Service: "ses", Host: "email", Region: s.Region, MaxBytes: sesMaxBodyBytes,
		// Our own transport, so the source can close its idle connections
		// when a reload removes it; the source's context carries the timeout.
		HTTP: &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}}
	if !s.Endpoint.IsZero() {
		o.Endpoint = s.Endpoint.URL
	}
	if s.AccessKeyIDFile != "" {
		// The key files are read at each request, so rotated keys need no
		// reload.
		o.Credentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			id, err := config.ReadSecretFile(s.AccessKeyIDFile)
			if err != nil {
				return aws.Credentials{}, err
			}
			secret, err := config.ReadSecretFile(s.SecretAccessKeyFile)
			if err != nil {
				return aws.Credentials{}, err
			}
			return aws.Credentials{AccessKeyID: id, SecretAccessKey: secret, Source: "key files"}, nil
		})
	}
	c, err := awsclient.New(o)
	if err != nil {
		return nil, fmt.Errorf("delivery.ses: %w", err)
	}
	return c, nil
}
