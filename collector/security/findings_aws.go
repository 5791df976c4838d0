//go:build !noaws

package security

import (
	"context"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	shtypes "github.com/aws/aws-sdk-go-v2/service/securityhub/types"
	"github.com/go-kit/log"

	"github.com/bosaimail/bosaimail_exporter/config"
	"github.com/bosaimail/bosaimail_exporter/internal/advisory"
	"github.com/bosaimail/bosaimail_exporter/internal/awsclient"
	"github.com/bosaimail/bosaimail_exporter/internal/fetch"
)

// newSecurityHubCounter counts active, unresolved findings by their ASFF
// Severity.Label through the official SDK. The client is built on each
// refresh (it reads the AWS credential chain), with the feed's HTTP client
// when one is set.
func newSecurityHubCounter(f *secFindingsFeed) (func(ctx context.Context, res *secFindingsResult) error, error) {
	return func(ctx context.Context, res *secFindingsResult) error {
		client, err := newSecurityHubClient(ctx, f.cfg, f.client, f.logger)
		if err != nil {
			return err
		}
		return securityHubCount(ctx, client, res)
	}, nil
}

func securityHubCount(ctx context.Context, client securityhub.GetFindingsAPIClient, res *secFindingsResult) error {
	eq := shtypes.StringFilterComparisonEquals
	in := &securityhub.GetFindingsInput{
		Filters: &shtypes.AwsSecurityFindingFilters{
			RecordState: []shtypes.StringFilter{{Comparison: eq, Value: aws.String(string(shtypes.RecordStateActive))}},
			WorkflowStatus: []shtypes.StringFilter{
				{Comparison: eq, Value: aws.String(string(shtypes.WorkflowStatusNew))},
				{Comparison: eq, Value: aws.String(string(shtypes.WorkflowStatusNotified))},
			},
		},
		MaxResults: aws.Int32(100),
	}
	p := securityhub.NewGetFindingsPaginator(client, in)
	for pages := 0; p.HasMorePages(); pages++ {
		if pages >= secFindingsMaxPages {
			return fetch.Errorf(fetch.ReasonPayload, "Security Hub: more than %d pages of findings", secFindingsMaxPages)
		}
		out, err := p.NextPage(ctx)
		if err != nil {
			return awsclient.Err("Security Hub GetFindings", err)
		}
		for _, fd := range out.Findings {
			label := ""
			if fd.Severity != nil {
				label = string(fd.Severity.Label)
			}
			res.Counts[advisory.NormalizeSeverity(label)]++
		}
	}
	return nil
}

// newSecurityHubClient uses the standard AWS credential chain (environment,
// shared files, instance role); Endpoint overrides the service endpoint.
func newSecurityHubClient(ctx context.Context, fc *config.FindingsFeed, hc *http.Client, logger log.Logger) (securityhub.GetFindingsAPIClient, error) {
	ac, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(fc.Region))
	if err != nil {
		return nil, fetch.Errorf(fetch.ReasonOther, "AWS configuration: %v", err)
	}
	return securityhub.NewFromConfig(ac, func(o *securityhub.Options) {
		if hc != nil {
			o.HTTPClient = hc
		}
		// A page of 100 ASFF findings is at most a few MB; the bound of a
		// findings download applies.
		o.HTTPClient = awsclient.BoundedDoer{Next: o.HTTPClient, Limit: secFindingsMaxBytes}
		o.Logger = awsclient.NewLogger(logger, fc.Name)
		if !fc.Endpoint.IsZero() {
			o.BaseEndpoint = aws.String(fc.Endpoint.String())
		}
	}), nil
}
