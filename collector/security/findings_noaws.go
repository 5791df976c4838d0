//go:build noaws

package security

import (
	"context"

	"github.com/bosaimail/bosaimail_exporter/internal/awsclient"
)

func newSecurityHubCounter(*secFindingsFeed) (func(ctx context.Context, res *secFindingsResult) error, error) {
	return nil, awsclient.ErrLeftOut
}
