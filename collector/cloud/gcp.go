package cloud

import (
	"context"

	"github.com/bosaimail/bosaimail_exporter/internal/cloudstatus"
)

// Google Cloud: GET <url> (https://status.cloud.google.com/incidents.json),
// products selected by title, incidents by currently affected location.
func init() {
	cloudRefreshers["google_cloud"] = func(s *cloudSource) (func(ctx context.Context) (cloudResult, error), error) {
		products := cloudstatus.NewFilter(s.cfg.Components)
		locations := cloudstatus.NewFilter(s.cfg.Locations)
		return func(ctx context.Context) (cloudResult, error) {
			body, err := s.get(ctx, s.cfg.URL.String(), nil)
			if err != nil {
				return cloudResult{}, err
			}
			snap, err := cloudstatus.DecodeGCPIncidents(body, products, locations)
			if err != nil {
				return cloudResult{}, decodeErr(err)
			}
			return cloudResult{snap: &snap}, nil
		}, nil
	}
}
