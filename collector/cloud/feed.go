package cloud

import (
	"context"

	"github.com/bosaimail/bosaimail_exporter/internal/cloudstatus"
)

// RSS/Atom notices (Japanese providers publish failure and maintenance
// notices this way), mapped to events by the source's keyword rules.
func init() {
	cloudRefreshers["feed"] = func(s *cloudSource) (func(ctx context.Context) (cloudResult, error), error) {
		rules := make([]cloudstatus.FeedRule, len(s.cfg.Rules))
		for i, r := range s.cfg.Rules {
			rules[i] = cloudstatus.FeedRule{Match: r.Regexp, Component: r.Component, Status: cloudstatus.Status(r.Status)}
			if r.Category == "ignore" {
				rules[i].Ignore = true
			} else {
				rules[i].Category = cloudstatus.Category(r.Category)
			}
		}
		return func(ctx context.Context) (cloudResult, error) {
			body, err := s.get(ctx, s.cfg.URL.String(), nil)
			if err != nil {
				return cloudResult{}, err
			}
			snap, err := cloudstatus.DecodeFeed(body, rules, s.now(), s.cfg.MaxAge.D())
			if err != nil {
				return cloudResult{}, decodeErr(err)
			}
			return cloudResult{snap: &snap}, nil
		}, nil
	}
}
