//go:build noaws

package cloud

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/bosaimail/bosaimail_exporter/collector"
	"github.com/bosaimail/bosaimail_exporter/internal/awsclient"
)

// In a build without AWS, a config naming an AWS source fails at start
// with a message that says so, not "no adapter".
func TestAWSLeftOut(t *testing.T) {
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	defer srv.Close()
	for _, src := range []string{
		"{name: aws, type: aws_health, region: us-east-1, components: [SES]}",
		"{name: ses, type: aws_ses, region: ap-northeast-1}",
	} {
		cfg := loadCloudConfig(t, srv, "cloud:\n  sources:\n  - "+src+"\n")
		_, err := newCloudCollector(collector.Env{Config: cfg})
		if !errors.Is(err, awsclient.ErrLeftOut) {
			t.Errorf("%s: err = %v, want ErrLeftOut", src, err)
		}
	}
}
