//go:build noaws

package cloud

import (
	"context"

	"github.com/bosaimail/bosaimail_exporter/internal/awsclient"
)

// Without the AWS SDK the types stay known, so a config that names them
// fails at start with a clear error rather than "no adapter".
func init() {
	leftOut := func(*cloudSource) (func(ctx context.Context) (cloudResult, error), error) {
		return nil, awsclient.ErrLeftOut
	}
	cloudRefreshers["aws_health"] = leftOut
	cloudRefreshers["aws_ses"] = leftOut
}
