//go:build !noaws

package cloud

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/health"
	healthtypes "github.com/aws/aws-sdk-go-v2/service/health/types"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/bosaimail/bosaimail_exporter/internal/awsclient"
	"github.com/bosaimail/bosaimail_exporter/internal/cloudstatus"
	"github.com/bosaimail/bosaimail_exporter/internal/fetch"
)

// awsHealthMaxPages bounds DescribeEvents paging.
const awsHealthMaxPages = 50

// AWS Health (DescribeEvents) and Amazon SES (SESv2 GetAccount) through the
// official SDK: the standard credential chain, SigV4 signing and the SDK's
// decoders; endpoint overrides BaseEndpoint (tests, VPC endpoints).
func init() {
	cloudRefreshers["aws_health"] = newAWSHealthRefresh
	cloudRefreshers["aws_ses"] = newAWSSESRefresh
}

func (s *cloudSource) awsConfig() (aws.Config, error) {
	// LoadDefaultConfig only reads the environment and shared files here;
	// credentials are fetched lazily, under the refresh's deadline. The
	// HTTP client is set per service (awsHTTPClient), not here: the SDK
	// refuses a custom client when AWS_CA_BUNDLE is set, and credential
	// providers (SSO, STS) should keep honouring that bundle.
	cfg, err := awsconfig.LoadDefaultConfig(context.Background(),
		awsconfig.WithRegion(s.cfg.Region),
		// The collector.Source retries with its own backoff; one SDK retry is enough
		// to ride over a dropped connection within a refresh.
		awsconfig.WithRetryMaxAttempts(2))
	return cfg, err
}

// awsHTTPClient is the source's client (tls_config, timeout) with every
// response body bounded: the SDK reads bodies itself.
func (s *cloudSource) awsHTTPClient() awsclient.Doer {
	return awsclient.BoundedDoer{Next: s.client, Limit: s.cfg.MaxBodyBytes}
}

func (s *cloudSource) awsEndpoint() *string {
	if s.cfg.Endpoint.IsZero() {
		return nil
	}
	return aws.String(s.cfg.Endpoint.String())
}

func newAWSHealthRefresh(s *cloudSource) (func(ctx context.Context) (cloudResult, error), error) {
	cfg, err := s.awsConfig()
	if err != nil {
		return nil, err
	}
	client := health.NewFromConfig(cfg, func(o *health.Options) {
		o.BaseEndpoint = s.awsEndpoint()
		o.HTTPClient = s.awsHTTPClient()
		o.Logger = awsclient.NewLogger(s.env.Logger, s.cfg.Name)
	})
	filter := &healthtypes.EventFilter{
		EventStatusCodes: []healthtypes.EventStatusCode{healthtypes.EventStatusCodeOpen, healthtypes.EventStatusCodeUpcoming},
		Services:         s.cfg.Components,
		Regions:          s.cfg.Locations,
	}
	return func(ctx context.Context) (cloudResult, error) {
		var events []healthtypes.Event
		p := health.NewDescribeEventsPaginator(client, &health.DescribeEventsInput{Filter: filter, MaxResults: aws.Int32(100)})
		for page := 0; p.HasMorePages(); page++ {
			if page == awsHealthMaxPages {
				return cloudResult{}, fetch.Errorf(fetch.ReasonPayload, "aws health: more than %d pages of events", awsHealthMaxPages)
			}
			out, err := p.NextPage(ctx)
			if err != nil {
				return cloudResult{}, awsclient.Err("aws health DescribeEvents", err)
			}
			events = append(events, out.Events...)
		}
		snap := awsHealthSnapshot(events, s.cfg.Components)
		return cloudResult{snap: &snap}, nil
	}, nil
}

// awsHealthSnapshot maps Health events: an open issue degrades its service,
// an open (ongoing) scheduled change puts it in maintenance, an upcoming one
// only announces the window. Listed services without events are operational.
func awsHealthSnapshot(events []healthtypes.Event, services []string) cloudstatus.Snapshot {
	states := map[string]cloudstatus.Status{}
	var order []string
	set := func(svc string, st cloudstatus.Status) {
		old, ok := states[svc]
		if !ok {
			order = append(order, svc)
			states[svc] = st
			return
		}
		states[svc] = cloudstatus.Worse(old, st)
	}
	for _, svc := range services {
		set(svc, cloudstatus.Operational)
	}
	var snap cloudstatus.Snapshot
	for _, e := range events {
		if e.StatusCode == healthtypes.EventStatusCodeClosed {
			continue
		}
		svc := aws.ToString(e.Service)
		ev := cloudstatus.Event{ID: aws.ToString(e.Arn), Title: aws.ToString(e.EventTypeCode), Components: []string{svc}}
		ev.Start = aws.ToTime(e.StartTime)
		ev.End = aws.ToTime(e.EndTime)
		open := e.StatusCode == healthtypes.EventStatusCodeOpen
		switch e.EventTypeCategory {
		case healthtypes.EventTypeCategoryIssue, healthtypes.EventTypeCategoryInvestigation:
			ev.Category = cloudstatus.Issue
			if open {
				set(svc, cloudstatus.Degraded)
			}
		case healthtypes.EventTypeCategoryScheduledChange:
			ev.Category = cloudstatus.ScheduledChange
			if open {
				set(svc, cloudstatus.Maintenance)
			}
		case healthtypes.EventTypeCategoryAccountNotification:
			ev.Category = cloudstatus.Notification
		default:
			// A category AWS adds later: count it as a notice and say we
			// cannot vouch for the service.
			ev.Category = cloudstatus.Notification
			set(svc, cloudstatus.Unknown)
		}
		snap.Events = append(snap.Events, ev)
	}
	for _, svc := range order {
		snap.Components = append(snap.Components, cloudstatus.Component{Name: svc, Status: states[svc]})
	}
	return snap
}

func newAWSSESRefresh(s *cloudSource) (func(ctx context.Context) (cloudResult, error), error) {
	cfg, err := s.awsConfig()
	if err != nil {
		return nil, err
	}
	client := sesv2.NewFromConfig(cfg, func(o *sesv2.Options) {
		o.BaseEndpoint = s.awsEndpoint()
		o.HTTPClient = s.awsHTTPClient()
		o.Logger = awsclient.NewLogger(s.env.Logger, s.cfg.Name)
	})
	return func(ctx context.Context) (cloudResult, error) {
		out, err := client.GetAccount(ctx, &sesv2.GetAccountInput{})
		if err != nil {
			return cloudResult{}, awsclient.Err("ses GetAccount", err)
		}
		if out.SendQuota == nil {
			return cloudResult{}, fetch.Errorf(fetch.ReasonPayload, "ses GetAccount: no SendQuota in the answer")
		}
		q := out.SendQuota
		enabled := out.SendingEnabled
		return cloudResult{
			quotas: []cloudQuota{
				{name: "max_24_hour_send", used: q.SentLast24Hours, limit: q.Max24HourSend, ratio: quotaRatio(q.SentLast24Hours, q.Max24HourSend)},
				// The rate has no "used" side in the API: its limit is what a
				// burst planner needs.
				{name: "max_send_rate", limit: q.MaxSendRate, limitOnly: true},
			},
			sendingEnabled: &enabled,
		}, nil
	}, nil
}

// quotaRatio is used/limit; SES reports -1 for an unlimited quota, which is
// never exhausted.
func quotaRatio(used, limit float64) float64 {
	if limit <= 0 {
		return 0
	}
	return used / limit
}
