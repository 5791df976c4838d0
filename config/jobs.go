package config

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// JobsConfig holds the scheduled jobs, backups and integrity checks (issue 6).
type JobsConfig struct {
	// Scheduled are the jobs whose outcomes are reported by push
	// (POST /api/v1/jobs/<name>/start|success|fail) or by status files.
	Scheduled []Job `yaml:"scheduled"`
	// StatusFiles are globs of JSON status files that jobs write
	// (docs/jobs.md describes the format).
	StatusFiles []string `yaml:"status_files"`
	// StatusFileInterval is how often the status files are read.
	StatusFileInterval Duration `yaml:"status_file_interval"`
	// MaxPushBodyBytes bounds the body of one push; larger is refused (413).
	MaxPushBodyBytes int64 `yaml:"max_push_body_bytes"`
	// MaxReadMBPerSecond bounds how fast backups and data sets are read for
	// verification, so hashing never starves the host.
	MaxReadMBPerSecond float64 `yaml:"max_read_mb_per_second"`
	// RemovedJobRetention is how long the stored history of a job that left
	// jobs.scheduled is kept (default 30d): restored within it, the job gets
	// its last success, reports and next due back.
	RemovedJobRetention Duration `yaml:"removed_job_retention"`

	Backups   []Backup  `yaml:"backups"`
	Integrity []DataSet `yaml:"integrity"`

	// ResolvedStatusFiles are StatusFiles made relative to the config file.
	ResolvedStatusFiles []string `yaml:"-"`
}

// Job is one scheduled job. Exactly one of Schedule and Interval is set.
type Job struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	// Schedule is a cron expression (robfig/cron: 5 fields or @daily,
	// @hourly, @every 2h...) evaluated in Asia/Tokyo.
	Schedule string `yaml:"schedule"`
	// Interval: the job runs every Interval (instead of a schedule).
	Interval Duration `yaml:"interval"`
	// Grace is how long after its due time a run may still finish before
	// the job counts as overdue.
	Grace Duration `yaml:"grace"`
	// TokenFile, when set, holds a token every push for this job must carry
	// in the X-Job-Token header (in addition to the web config's auth).
	TokenFile string `yaml:"token_file"`

	// Cron is the parsed Schedule (nil for interval jobs).
	Cron cron.Schedule `yaml:"-"`
}

// NextDue returns when the run following a run that finished at ref must
// have finished: the next scheduled time after ref, plus the grace.
func (j *Job) NextDue(ref time.Time) time.Time {
	if j.Cron != nil {
		next := j.Cron.Next(ref)
		if next.IsZero() {
			return next
		}
		return next.Add(j.Grace.D())
	}
	return ref.Add(j.Interval.D() + j.Grace.D())
}

// Backup is a location where backup artefacts appear.
type Backup struct {
	Name      string `yaml:"name"`
	Directory string `yaml:"directory"`
	// Glob selects the artefacts inside Directory (default "*").
	Glob string `yaml:"glob"`
	// MaxAge is the age of the newest complete artefact beyond which the
	// backup is stale (exported for the BosaiMailBackupStale alert).
	MaxAge Duration `yaml:"max_age"`
	// MinSizeBytes: smaller artefacts are not complete (default 1).
	MinSizeBytes int64 `yaml:"min_size_bytes"`
	// MarkerSuffix, when set, names a file (artefact + suffix) the backup
	// job writes last; an artefact without it is not complete.
	MarkerSuffix string `yaml:"marker_suffix"`
	// VerifyGzip reads the whole gzip stream of the newest artefact so a
	// truncated or corrupted archive is not counted as a backup.
	VerifyGzip bool     `yaml:"verify_gzip"`
	Interval   Duration `yaml:"interval"`
	Timeout    Duration `yaml:"timeout"`

	ResolvedDirectory string `yaml:"-"`
}

// DataSet is a set of files verified against a sha256sum manifest.
type DataSet struct {
	Name      string `yaml:"name"`
	Directory string `yaml:"directory"`
	// Manifest is the sha256sum-format file, relative to Directory.
	Manifest string `yaml:"manifest"`
	// Files, when set, is a glob (relative to Directory) of files that must
	// all be listed in the manifest: a file that is not is a mismatch, so a
	// line removed from an unsigned manifest is still detected.
	Files string `yaml:"files"`
	// HMACKeyFile enables HMAC-SHA256 authentication of the manifest with a
	// key from this file; the MAC (hex) is read from HMACFile.
	HMACKeyFile string `yaml:"hmac_key_file"`
	HMACFile    string `yaml:"hmac_file"`
	// SignaturePublicKeyFile (PEM, Ed25519) enables a detached signature of
	// the manifest, read from SignatureFile.
	SignaturePublicKeyFile string   `yaml:"signature_public_key_file"`
	SignatureFile          string   `yaml:"signature_file"`
	Interval               Duration `yaml:"interval"`
	Timeout                Duration `yaml:"timeout"`

	ResolvedDirectory string `yaml:"-"`
}

// cronParser accepts the 5-field standard syntax and the @ descriptors.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseSchedule parses a cron expression for Asia/Tokyo. A time zone
// prefix is refused: every schedule of the service is in Japan time.
func ParseSchedule(spec string) (cron.Schedule, error) {
	s := strings.TrimSpace(spec)
	if strings.HasPrefix(s, "TZ=") || strings.HasPrefix(s, "CRON_TZ=") {
		return nil, fmt.Errorf("invalid schedule %q: time zone prefixes are not allowed; schedules are in Asia/Tokyo", spec)
	}
	sched, err := cronParser.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("invalid schedule %q: %v", spec, err)
	}
	if ss, ok := sched.(*cron.SpecSchedule); ok {
		ss.Location = Tokyo
	}
	return sched, nil
}

func (c *JobsConfig) setDefaults() {
	if c.StatusFileInterval == 0 {
		c.StatusFileInterval = Duration(30 * time.Second)
	}
	if c.MaxPushBodyBytes == 0 {
		c.MaxPushBodyBytes = 16 << 10
	}
	if c.MaxReadMBPerSecond == 0 {
		c.MaxReadMBPerSecond = 50
	}
	if c.RemovedJobRetention == 0 {
		c.RemovedJobRetention = Duration(30 * 24 * time.Hour)
	}
	for i := range c.Scheduled {
		if c.Scheduled[i].Grace == 0 {
			c.Scheduled[i].Grace = Duration(15 * time.Minute)
		}
	}
	for i := range c.Backups {
		b := &c.Backups[i]
		if b.Glob == "" {
			b.Glob = "*"
		}
		if b.MinSizeBytes == 0 {
			b.MinSizeBytes = 1
		}
		if b.Interval == 0 {
			b.Interval = Duration(5 * time.Minute)
		}
		if b.Timeout == 0 {
			b.Timeout = Duration(30 * time.Minute)
		}
	}
	for i := range c.Integrity {
		d := &c.Integrity[i]
		if d.Manifest == "" {
			d.Manifest = "SHA256SUMS"
		}
		if d.HMACKeyFile != "" && d.HMACFile == "" {
			d.HMACFile = d.Manifest + ".hmac"
		}
		if d.SignaturePublicKeyFile != "" && d.SignatureFile == "" {
			d.SignatureFile = d.Manifest + ".sig"
		}
		if d.Interval == 0 {
			d.Interval = Duration(time.Hour)
		}
		if d.Timeout == 0 {
			d.Timeout = Duration(time.Hour)
		}
	}
}

func (c *JobsConfig) validate(v *Validator, path string, cfg *Config) {
	if c.StatusFileInterval < 0 {
		v.Errorf(path+".status_file_interval", "must be positive")
	}
	if c.MaxPushBodyBytes < 0 {
		v.Errorf(path+".max_push_body_bytes", "must not be negative")
	}
	if c.RemovedJobRetention < 0 {
		v.Errorf(path+".removed_job_retention", "must be positive")
	}
	if c.MaxReadMBPerSecond < 0 || math.IsNaN(c.MaxReadMBPerSecond) || math.IsInf(c.MaxReadMBPerSecond, 0) {
		v.Errorf(path+".max_read_mb_per_second", "must be a positive number of MB/s")
	}
	c.ResolvedStatusFiles = nil
	for i, g := range c.StatusFiles {
		p := fmt.Sprintf("%s.status_files[%d]", path, i)
		if _, err := filepath.Match(g, ""); err != nil || g == "" {
			v.Errorf(p, "invalid glob %q", g)
			continue
		}
		c.ResolvedStatusFiles = append(c.ResolvedStatusFiles, cfg.Resolve(g))
	}

	names := make([]string, len(c.Scheduled))
	for i := range c.Scheduled {
		j := &c.Scheduled[i]
		p := fmt.Sprintf("%s.scheduled[%d]", path, i)
		names[i] = j.Name
		v.CheckName(p+".name", j.Name)
		switch {
		case j.Schedule != "" && j.Interval != 0:
			v.Errorf(p, "set either schedule or interval, not both")
		case j.Schedule != "":
			sched, err := ParseSchedule(j.Schedule)
			if err != nil {
				v.Errorf(p+".schedule", "%v", err)
			}
			j.Cron = sched
		case j.Interval > 0:
		case j.Interval < 0:
			v.Errorf(p+".interval", "must be positive")
		default:
			v.Errorf(p, "a schedule (cron, Asia/Tokyo) or an interval is required")
		}
		if j.Grace < 0 {
			v.Errorf(p+".grace", "must not be negative")
		}
		v.SecretFile(p+".token_file", &j.TokenFile, cfg)
	}
	v.Unique("job", names, func(i int) string { return fmt.Sprintf("%s.scheduled[%d].name", path, i) })

	names = make([]string, len(c.Backups))
	for i := range c.Backups {
		b := &c.Backups[i]
		p := fmt.Sprintf("%s.backups[%d]", path, i)
		names[i] = b.Name
		v.CheckName(p+".name", b.Name)
		if b.Directory == "" {
			v.Errorf(p+".directory", "a directory is required")
		}
		b.ResolvedDirectory = cfg.Resolve(b.Directory)
		checkGlob(v, p+".glob", b.Glob)
		if b.MaxAge <= 0 {
			v.Errorf(p+".max_age", "required: the age beyond which the newest backup is stale, e.g. 26h for a daily backup")
		}
		if b.MinSizeBytes < 0 {
			v.Errorf(p+".min_size_bytes", "must not be negative")
		}
		if strings.Contains(b.MarkerSuffix, "/") {
			v.Errorf(p+".marker_suffix", "must not contain '/'")
		}
		if b.Interval < 0 {
			v.Errorf(p+".interval", "must be positive")
		}
		if b.Timeout < 0 {
			v.Errorf(p+".timeout", "must be positive")
		}
	}
	v.Unique("backup", names, func(i int) string { return fmt.Sprintf("%s.backups[%d].name", path, i) })

	names = make([]string, len(c.Integrity))
	for i := range c.Integrity {
		d := &c.Integrity[i]
		p := fmt.Sprintf("%s.integrity[%d]", path, i)
		names[i] = d.Name
		v.CheckName(p+".name", d.Name)
		if d.Directory == "" {
			v.Errorf(p+".directory", "a directory is required")
		}
		d.ResolvedDirectory = cfg.Resolve(d.Directory)
		checkInside(v, p+".manifest", d.Manifest)
		if d.Files != "" {
			checkGlob(v, p+".files", d.Files)
		}
		if d.HMACKeyFile != "" {
			if key := v.SecretFile(p+".hmac_key_file", &d.HMACKeyFile, cfg); key != "" && len(key) < 16 {
				v.Errorf(p+".hmac_key_file", "key in %q is shorter than 16 bytes", d.HMACKeyFile)
			}
			checkInside(v, p+".hmac_file", d.HMACFile)
		} else if d.HMACFile != "" {
			v.Errorf(p+".hmac_file", "needs hmac_key_file")
		}
		if d.SignaturePublicKeyFile != "" {
			d.SignaturePublicKeyFile = cfg.Resolve(d.SignaturePublicKeyFile)
			if _, err := ReadEd25519PublicKey(d.SignaturePublicKeyFile); err != nil {
				v.Errorf(p+".signature_public_key_file", "%v", err)
			}
			checkInside(v, p+".signature_file", d.SignatureFile)
		} else if d.SignatureFile != "" {
			v.Errorf(p+".signature_file", "needs signature_public_key_file")
		}
		if d.Interval < 0 {
			v.Errorf(p+".interval", "must be positive")
		}
		if d.Timeout < 0 {
			v.Errorf(p+".timeout", "must be positive")
		}
	}
	v.Unique("data set", names, func(i int) string { return fmt.Sprintf("%s.integrity[%d].name", path, i) })
}

func checkGlob(v *Validator, path, g string) {
	if _, err := filepath.Match(g, ""); err != nil {
		v.Errorf(path, "invalid glob %q: %v", g, err)
		return
	}
	checkInside(v, path, g)
}

// checkInside refuses paths that would leave their directory: files of a
// data set are opened inside it only.
func checkInside(v *Validator, path, p string) {
	if p == "" {
		v.Errorf(path, "must not be empty")
		return
	}
	if !filepath.IsLocal(p) {
		v.Errorf(path, "%q must be a relative path inside the directory", p)
	}
}

// ReadEd25519PublicKey reads a PEM "PUBLIC KEY" (PKIX) Ed25519 key, as
// written by `openssl pkey -pubout`.
func ReadEd25519PublicKey(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading public key: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("public key file %s: no PEM \"PUBLIC KEY\" block", path)
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("public key file %s: %v", path, err)
	}
	pub, ok := key.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("public key file %s: %T is not an Ed25519 key", path, key)
	}
	return pub, nil
}
