package cloud

import (
	"context"

	"github.com/bosaimail/bosaimail_exporter/internal/cloudstatus"
)

// Statuspage v2: GET <url> (…/api/v2/summary.json), components filtered by name.
func init() {
	cloudRefreshers["statuspage"] = func(s *cloudSource) (func(ctx context.Context) (cloudResult, error), error) {
		filter := cloudstatus.NewFilter(s.cfg.Components)
		return func(ctx context.Context) (cloudResult, error) {
			body, err := s.get(ctx, s.cfg.URL.String(), nil)
			if err != nil {
				return cloudResult{}, err
			}
			snap, err := cloudstatus.DecodeStatuspage(body, filter)
			if err != nil {
				return cloudResult{}, decodeErr(err)
			}
			return cloudResult{snap: &snap}, nil
		}, nil
	}
}
