//go:build noaws

package security

import (
	"errors"
	"strings"
	"testing"

	"github.com/bosaimail/bosaimail_exporter/collector"
	"github.com/bosaimail/bosaimail_exporter/internal/awsclient"
)

func TestSecurityHubLeftOut(t *testing.T) {
	cfg := loadSecConfig(t, "security:\n  findings:\n    - {name: hub, kind: aws_securityhub, region: ap-northeast-1}\n", nil)
	_, err := newSecurityFindings(collector.Env{Config: cfg})
	if !errors.Is(err, awsclient.ErrLeftOut) || !strings.Contains(err.Error(), "hub") {
		t.Errorf("err = %v, want ErrLeftOut naming the feed", err)
	}
}
