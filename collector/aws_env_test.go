package collector

import (
	"path/filepath"
	"testing"
)

// isolateAWS gives the AWS SDK's default credential chain these static keys
// from the environment and nothing else: no shared files or profile of the
// machine running the tests, and no instance metadata service (a test
// never reaches an address other than 127.0.0.1).
func isolateAWS(t *testing.T, keyID, secret string) {
	t.Helper()
	t.Setenv("AWS_ACCESS_KEY_ID", keyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CA_BUNDLE", "")
}
