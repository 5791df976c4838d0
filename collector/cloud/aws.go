//go:build !noaws

package cloud

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/bosaimail/bosaimail_exporter/internal/awsclient"
	"github.com/bosaimail/bosaimail_exporter/internal/cloudstatus"
	"github.com/bosaimail/bosaimail_exporter/internal/fetch"
)

// awsHealthMaxPages bounds DescribeEvents paging.
const awsHealthMaxPages = 50

// AWS Health (DescribeEvents) and Amazon SES (SESv2 GetAccount), signed
// with the SDK's credential chain and signer (internal/awsclient); the
// endpoint setting overrides the service endpoint (tests, VPC endpoints).
func init() {
	cloudRefreshers["aws_health"] = newAWSHealthRefresh
	cloudRefreshers["aws_ses"] = newAWSSESRefresh
}

// awsClient uses the source's client (tls_config, timeout) and bounds
// every answer by the source's max_body_bytes.
func (s *cloudSource) awsClient(service, host string) (*awsclient.Client, error) {
	var ep *url.URL
	if !s.cfg.Endpoint.IsZero() {
		ep = s.cfg.Endpoint.URL
	}
	return awsclient.New(awsclient.Options{Service: service, Host: host, Region: s.cfg.Region,
		Endpoint: ep, HTTP: s.client, MaxBytes: s.cfg.MaxBodyBytes})
}

// Health's event as DescribeEvents answers it (awsJson1.1: times in epoch
// seconds).
type awsHealthEvent struct {
	Arn               string               `json:"arn"`
	Service           string               `json:"service"`
	EventTypeCode     string               `json:"eventTypeCode"`
	EventTypeCategory string               `json:"eventTypeCategory"`
	StatusCode        string               `json:"statusCode"`
	StartTime         *awsclient.EpochTime `json:"startTime"`
	EndTime           *awsclient.EpochTime `json:"endTime"`
}

func newAWSHealthRefresh(s *cloudSource) (func(ctx context.Context) (cloudResult, error), error) {
	client, err := s.awsClient("health", "health")
	if err != nil {
		return nil, err
	}
	type filter struct {
		EventStatusCodes []string `json:"eventStatusCodes"`
		Services         []string `json:"services,omitempty"`
		Regions          []string `json:"regions,omitempty"`
	}
	type input struct {
		Filter     filter `json:"filter"`
		MaxResults int    `json:"maxResults"`
		NextToken  string `json:"nextToken,omitempty"`
	}
	in := input{Filter: filter{EventStatusCodes: []string{"open", "upcoming"}, Services: s.cfg.Components, Regions: s.cfg.Locations}, MaxResults: 100}
	return func(ctx context.Context) (cloudResult, error) {
		var events []awsHealthEvent
		in := in
		for page := 0; ; page++ {
			if page == awsHealthMaxPages {
				return cloudResult{}, fetch.Errorf(fetch.ReasonPayload, "aws health: more than %d pages of events", awsHealthMaxPages)
			}
			var out struct {
				Events    []awsHealthEvent `json:"events"`
				NextToken string           `json:"nextToken"`
			}
			if err := client.JSONRPC(ctx, "AWSHealth_20160804.DescribeEvents", in, &out); err != nil {
				return cloudResult{}, fmt.Errorf("aws health: %w", err)
			}
			events = append(events, out.Events...)
			if out.NextToken == "" || out.NextToken == in.NextToken {
				break
			}
			in.NextToken = out.NextToken
		}
		snap := awsHealthSnapshot(events, s.cfg.Components)
		return cloudResult{snap: &snap}, nil
	}, nil
}

// awsHealthSnapshot maps Health events: an open issue degrades its service,
// an open (ongoing) scheduled change puts it in maintenance, an upcoming one
// only announces the window. Listed services without events are operational.
func awsHealthSnapshot(events []awsHealthEvent, services []string) cloudstatus.Snapshot {
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
		if e.StatusCode == "closed" {
			continue
		}
		svc := e.Service
		ev := cloudstatus.Event{ID: e.Arn, Title: e.EventTypeCode, Components: []string{svc}}
		ev.Start = e.StartTime.Time()
		ev.End = e.EndTime.Time()
		open := e.StatusCode == "open"
		switch e.EventTypeCategory {
		case "issue", "investigation":
			ev.Category = cloudstatus.Issue
			if open {
				set(svc, cloudstatus.Degraded)
			}
		case "scheduledChange":
			ev.Category = cloudstatus.ScheduledChange
			if open {
				set(svc, cloudstatus.Maintenance)
			}
		case "accountNotification":
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
	client, err := s.awsClient("ses", "email")
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) (cloudResult, error) {
		var out struct {
			SendQuota *struct {
				Max24HourSend, MaxSendRate, SentLast24Hours float64
			}
			SendingEnabled bool
		}
		if err := client.REST(ctx, "ses GetAccount", http.MethodGet, "/v2/email/account", nil, &out); err != nil {
			return cloudResult{}, err
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
