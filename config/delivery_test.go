package config

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestInvalidDeliveryConfigs(t *testing.T) {
	cases := map[string][]string{
		"invalid-delivery-two-queue-sources.yml":    {"invalid-delivery-two-queue-sources.yml:2:", "delivery.queue", "exactly one of command, file and url (got 2)"},
		"invalid-delivery-relative-command.yml":     {"invalid-delivery-relative-command.yml:3:", "delivery.queue.command", `"postqueue" must be an absolute path`},
		"invalid-delivery-bad-field.yml":            {"invalid-delivery-bad-field.yml:5:", "delivery.stats.fields.delivered", "invalid jq expression"},
		"invalid-delivery-keep-last.yml":            {"invalid-delivery-keep-last.yml:4:", "delivery.stats.keep_last", "between 1 and 50", "got 500"},
		"invalid-delivery-ses-half-credentials.yml": {"invalid-delivery-ses-half-credentials.yml:2:", "delivery.ses", "give both access_key_id_file and secret_access_key_file, or neither", "invalid-delivery-ses-half-credentials.yml:5:", "delivery.ses.window"},
		"invalid-delivery-timeout.yml":              {"invalid-delivery-timeout.yml:5:", "delivery.queue.timeout", "at most four intervals"},
	}
	checkInvalid(t, cases)
}

func TestDeliveryConfigDefaults(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "ak"), []byte("AKIAEXAMPLE\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "sk"), []byte("c2VjcmV0\n"), 0o600)
	p := filepath.Join(dir, "c.yml")
	os.WriteFile(p, []byte(`
delivery:
  queue:
    file: spool/queue.jsonl
  stats:
    url: https://mail.example.jp/api/delivery
    fields:
      broadcasts: '.data[]'
  ses:
    region: ap-northeast-1
    access_key_id_file: ak
    secret_access_key_file: sk
`), 0o600)
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	d := c.Delivery
	if d.Queue.ResolvedFile != filepath.Join(dir, "spool/queue.jsonl") || d.Queue.Interval.D() != 15*time.Second || d.Queue.Timeout.D() != 10*time.Second || d.Queue.MaxBytes != 1<<30 {
		t.Errorf("queue = %+v", d.Queue)
	}
	if d.Stats.KeepLast != 5 || d.Stats.Fields.Broadcasts != ".data[]" || d.Stats.Fields.Delivered != ".delivered" || d.Stats.Mapping.Finished == nil {
		t.Errorf("stats = %+v", d.Stats)
	}
	if id, _ := ReadSecretFile(d.SES.AccessKeyIDFile); id != "AKIAEXAMPLE" || !filepath.IsAbs(d.SES.SecretAccessKeyFile) || d.SES.Window.D() != 24*time.Hour || d.SES.Interval.D() != 5*time.Minute {
		t.Errorf("ses = %+v", d.SES)
	}
}
