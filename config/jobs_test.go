package config

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestInvalidJobsConfigs(t *testing.T) {
	cases := map[string][]string{
		"invalid-jobs-bad-schedule.yml":          {"invalid-jobs-bad-schedule.yml:4:", "jobs.scheduled[0].schedule", `invalid schedule "0 2 * *"`},
		"invalid-jobs-schedule-and-interval.yml": {"invalid-jobs-schedule-and-interval.yml:3:", "jobs.scheduled[0]", "either schedule or interval"},
		"invalid-jobs-cron-tz.yml":               {"invalid-jobs-cron-tz.yml:4:", "jobs.scheduled[0].schedule", "Asia/Tokyo"},
		"invalid-jobs-missing-token.yml":         {"invalid-jobs-missing-token.yml:5:", "jobs.scheduled[0].token_file", "no-such-token"},
		"invalid-jobs-duplicate.yml":             {"invalid-jobs-duplicate.yml:5:", "jobs.scheduled[1].name", `duplicate job "db-backup"`},
		"invalid-jobs-backup-no-max-age.yml":     {"invalid-jobs-backup-no-max-age.yml:3:", "jobs.backups[0].max_age", "required"},
		"invalid-jobs-manifest-outside.yml":      {"invalid-jobs-manifest-outside.yml:5:", "jobs.integrity[0].manifest", "relative path inside"},
		"invalid-jobs-short-hmac-key.yml":        {"invalid-jobs-short-hmac-key.yml:5:", "jobs.integrity[0].hmac_key_file", "shorter than 16 bytes"},
	}
	checkInvalid(t, cases)
}

func TestJobsConfigDefaults(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "tok"), []byte("s3cret\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "mac.key"), []byte("0123456789abcdef0123\n"), 0o600)
	p := filepath.Join(dir, "c.yml")
	os.WriteFile(p, []byte(`
jobs:
  status_files: ["status/*.json"]
  scheduled:
    - name: db-backup
      schedule: "@daily"
      token_file: tok
  backups:
    - name: db
      directory: backups
      max_age: 26h
  integrity:
    - name: registrants
      directory: /srv/data
      hmac_key_file: mac.key
`), 0o644)
	cfg, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	j := cfg.Jobs
	if tok, _ := ReadSecretFile(j.Scheduled[0].TokenFile); tok != "s3cret" || j.Scheduled[0].Grace.D() != 15*time.Minute || j.Scheduled[0].Cron == nil {
		t.Errorf("job %+v", j.Scheduled[0])
	}
	if j.ResolvedStatusFiles[0] != dir+"/status/*.json" || j.Backups[0].ResolvedDirectory != dir+"/backups" || j.Backups[0].Glob != "*" {
		t.Errorf("paths %q %q", j.ResolvedStatusFiles, j.Backups[0].ResolvedDirectory)
	}
	d := j.Integrity[0]
	if d.Manifest != "SHA256SUMS" || d.HMACFile != "SHA256SUMS.hmac" || d.HMACKeyFile != filepath.Join(dir, "mac.key") || d.ResolvedDirectory != "/srv/data" {
		t.Errorf("data set %+v", d)
	}
	if j.MaxPushBodyBytes != 16<<10 || j.MaxReadMBPerSecond != 50 {
		t.Errorf("defaults %+v", j)
	}
}

// TestNextDue: cron schedules are in Asia/Tokyo whatever the host's zone,
// across midnight, month ends and leap days.
func TestNextDue(t *testing.T) {
	jst := func(s string) time.Time {
		t.Helper()
		v, err := time.ParseInLocation("2006-01-02 15:04", s, Tokyo)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	cases := []struct {
		name, schedule string
		interval       time.Duration
		grace          time.Duration
		ref, want      string
	}{
		{"daily 02:00 after today's run", "0 2 * * *", 0, 30 * time.Minute, "2026-11-25 02:10", "2026-11-26 02:30"},
		{"daily before its time", "0 2 * * *", 0, 30 * time.Minute, "2026-11-25 01:59", "2026-11-25 02:30"},
		{"23:30 with a grace past midnight", "30 23 * * *", 0, time.Hour, "2026-11-25 23:45", "2026-11-27 00:30"},
		{"midnight JST is 15:00 UTC", "0 0 * * *", 0, 0, "2026-11-25 08:00", "2026-11-26 00:00"},
		{"31st skips 30-day months", "0 3 31 * *", 0, 0, "2026-11-01 00:00", "2026-12-31 03:00"},
		{"month end to next year", "0 3 1 * *", 0, 2 * time.Hour, "2026-12-31 23:00", "2027-01-01 05:00"},
		{"29 February, leap year", "0 4 29 2 *", 0, 0, "2027-03-01 00:00", "2028-02-29 04:00"},
		{"weekly Sunday", "0 1 * * 0", 0, 0, "2026-11-25 12:00", "2026-11-29 01:00"},
		{"@daily descriptor", "@daily", 0, 0, "2026-11-25 00:00", "2026-11-26 00:00"},
		{"interval across midnight", "", 6 * time.Hour, 10 * time.Minute, "2026-11-25 20:00", "2026-11-26 02:10"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			j := Job{Interval: Duration(tc.interval), Grace: Duration(tc.grace)}
			if tc.schedule != "" {
				s, err := ParseSchedule(tc.schedule)
				if err != nil {
					t.Fatal(err)
				}
				j.Cron = s
			}
			// The reference instant is given in UTC to show the host or
			// input zone does not matter.
			got := j.NextDue(jst(tc.ref).UTC())
			if !got.Equal(jst(tc.want)) {
				t.Errorf("next due %v, want %s JST", got.In(Tokyo), tc.want)
			}
		})
	}
}
