//go:build noaws

package delivery

import (
	"errors"
	"strings"
	"testing"

	"github.com/bosaimail/bosaimail_exporter/collector"
	"github.com/bosaimail/bosaimail_exporter/internal/awsclient"
)

func TestSESLeftOut(t *testing.T) {
	cfg := deliveryConfig(t, "delivery:\n  ses:\n    region: ap-northeast-1\n", nil)
	_, err := newDeliverySESCollector(collector.Env{Config: cfg})
	if !errors.Is(err, awsclient.ErrLeftOut) || !strings.Contains(err.Error(), "delivery.ses") {
		t.Errorf("err = %v, want ErrLeftOut naming delivery.ses", err)
	}
}
