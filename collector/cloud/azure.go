package cloud

import (
	"context"
	"net/url"
	"strings"

	"github.com/bosaimail/bosaimail_exporter/internal/cloudstatus"
	"github.com/bosaimail/bosaimail_exporter/internal/fetch"
)

// azureMaxPages bounds paging: a nextLink loop must not run forever.
const azureMaxPages = 50

// Azure Resource Health over the Resource Manager REST API:
// GET {url}/subscriptions/{id}/providers/Microsoft.ResourceHealth/availabilityStatuses?api-version=…
// with a bearer token from a file, following nextLink.
func init() {
	cloudRefreshers["azure"] = func(s *cloudSource) (func(ctx context.Context) (cloudResult, error), error) {
		filter := cloudstatus.NewFilter(s.cfg.Components)
		base := strings.TrimRight(s.cfg.URL.String(), "/")
		first := base + "/subscriptions/" + url.PathEscape(s.cfg.SubscriptionID) +
			"/providers/Microsoft.ResourceHealth/availabilityStatuses?api-version=" + url.QueryEscape(s.cfg.APIVersion)
		return func(ctx context.Context) (cloudResult, error) {
			hdr, err := s.bearer()
			if err != nil {
				return cloudResult{}, err
			}
			var snap cloudstatus.Snapshot
			next := first
			for page := 0; next != ""; page++ {
				if page == azureMaxPages {
					return cloudResult{}, fetch.Errorf(fetch.ReasonPayload, "azure: more than %d pages of availabilityStatuses", azureMaxPages)
				}
				// The token must only go to the configured host: a nextLink
				// elsewhere is refused rather than followed.
				if !strings.HasPrefix(next, base+"/") {
					return cloudResult{}, fetch.Errorf(fetch.ReasonPayload, "azure: nextLink %s leaves %s", fetch.Redact(next), base)
				}
				body, err := s.get(ctx, next, hdr)
				if err != nil {
					return cloudResult{}, err
				}
				p, link, err := cloudstatus.DecodeAzurePage(body, filter)
				if err != nil {
					return cloudResult{}, decodeErr(err)
				}
				snap.Merge(p)
				next = link
			}
			snap.AddAbsent(filter) // a configured resource no page listed is unknown
			return cloudResult{snap: &snap}, nil
		}, nil
	}
}
