//go:build !noaws

package security

import (
	"context"
	"fmt"
	"net/http"

	"github.com/bosaimail/bosaimail_exporter/config"
	"github.com/bosaimail/bosaimail_exporter/internal/advisory"
	"github.com/bosaimail/bosaimail_exporter/internal/awsclient"
	"github.com/bosaimail/bosaimail_exporter/internal/fetch"
)

// newSecurityHubCounter counts active, unresolved findings by their ASFF
// Severity.Label (GetFindings, restJson1). The client is built on each
// refresh, so a rotated shared credentials file is read without a reload;
// it sends through the feed's HTTP client when one is set (tests), else
// through the one the AWS configuration built (which honours
// AWS_CA_BUNDLE), whose connections are closed after the refresh.
func newSecurityHubCounter(f *secFindingsFeed) (func(ctx context.Context, res *secFindingsResult) error, error) {
	if _, err := newSecurityHubClient(f.cfg); err != nil {
		return nil, err
	}
	return func(ctx context.Context, res *secFindingsResult) error {
		client, err := newSecurityHubClient(f.cfg)
		if err != nil {
			return fetch.Errorf(fetch.ReasonOther, "%v", err)
		}
		if f.client != nil {
			client = client.WithHTTP(f.client)
		} else {
			defer client.CloseIdleConnections()
		}
		return securityHubCount(ctx, client, res)
	}, nil
}

type shStringFilter struct {
	Comparison string
	Value      string
}

func securityHubCount(ctx context.Context, client *awsclient.Client, res *secFindingsResult) error {
	eq := func(v string) shStringFilter { return shStringFilter{Comparison: "EQUALS", Value: v} }
	type input struct {
		Filters struct {
			RecordState    []shStringFilter
			WorkflowStatus []shStringFilter
		}
		MaxResults int
		NextToken  *string `json:",omitempty"`
	}
	var in input
	in.Filters.RecordState = []shStringFilter{eq("ACTIVE")}
	in.Filters.WorkflowStatus = []shStringFilter{eq("NEW"), eq("NOTIFIED")}
	in.MaxResults = 100
	for pages := 0; ; pages++ {
		if pages >= secFindingsMaxPages {
			return fetch.Errorf(fetch.ReasonPayload, "Security Hub: more than %d pages of findings", secFindingsMaxPages)
		}
		var out struct {
			Findings []struct {
				Severity *struct{ Label string }
			}
			NextToken string
		}
		if err := client.REST(ctx, "Security Hub GetFindings", http.MethodPost, "/findings", in, &out); err != nil {
			return err
		}
		for _, fd := range out.Findings {
			label := ""
			if fd.Severity != nil {
				label = fd.Severity.Label
			}
			res.Counts[advisory.NormalizeSeverity(label)]++
		}
		if out.NextToken == "" || (in.NextToken != nil && out.NextToken == *in.NextToken) {
			return nil
		}
		in.NextToken = &out.NextToken
	}
}

// newSecurityHubClient uses the standard AWS credential chain (environment,
// shared files, instance role); Endpoint overrides the service endpoint.
// A page of 100 ASFF findings is at most a few MB; the bound of a findings
// download applies.
func newSecurityHubClient(fc *config.FindingsFeed) (*awsclient.Client, error) {
	o := awsclient.Options{Service: "securityhub", Host: "securityhub", Region: fc.Region, MaxBytes: secFindingsMaxBytes}
	if !fc.Endpoint.IsZero() {
		o.Endpoint = fc.Endpoint.URL
	}
	c, err := awsclient.New(o)
	if err != nil {
		return nil, fmt.Errorf("AWS configuration: %w", err)
	}
	return c, nil
}
