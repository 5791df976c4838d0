package cloud

import (
	"context"

	"github.com/bosaimail/bosaimail_exporter/internal/cloudstatus"
)

// Generic JSON: any API's fields mapped to values by jq queries, with
// value_map for enum strings; a metric with quota also feeds
// bosaimail_cloud_quota_used_ratio.
func init() {
	cloudRefreshers["json"] = func(s *cloudSource) (func(ctx context.Context) (cloudResult, error), error) {
		queries := make([]cloudstatus.JSONQuery, len(s.cfg.Metrics))
		quota := map[string]string{}
		for i, m := range s.cfg.Metrics {
			queries[i] = cloudstatus.JSONQuery{Name: m.Name, Code: m.Code, ValueMap: m.ValueMap}
			if m.Quota != "" {
				quota[m.Name] = m.Quota
			}
		}
		return func(ctx context.Context) (cloudResult, error) {
			hdr, err := s.bearer()
			if err != nil {
				return cloudResult{}, err
			}
			body, err := s.get(ctx, s.cfg.URL.String(), hdr)
			if err != nil {
				return cloudResult{}, err
			}
			vals, err := cloudstatus.DecodeJSON(ctx, body, queries)
			if err != nil {
				return cloudResult{}, decodeErr(err)
			}
			return cloudResult{json: vals, jsonQuota: quota}, nil
		}, nil
	}
}
