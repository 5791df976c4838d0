package jobs

import (
	"context"
	"errors"
	"fmt"
	"golang.org/x/time/rate"
	"io"
	"os"
	"time"

	"github.com/bosaimail/bosaimail_exporter/collector"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bosaimail/bosaimail_exporter/config"
	"github.com/bosaimail/bosaimail_exporter/internal/manifest"
)

var (
	integrityVerifiedDesc = collector.NewDesc("integrity", "verified",
		"1 if the latest check found the manifest authentic and every file matching it, 0 otherwise (tampering, damage, missing or unlisted files, or an unreadable, malformed or unauthentic manifest).", "dataset")
	integrityMismatchesDesc = collector.NewDesc("integrity", "mismatches",
		"Files of the data set that failed the latest check: content differs, listed but missing, present but unlisted, or unreadable.", "dataset")
	integrityFilesDesc = collector.NewDesc("integrity", "files",
		"Files of the data set in the latest check, by state (ok, mismatch, missing, unlisted, unreadable).", "dataset", "state")
	integrityManifestValidDesc = collector.NewDesc("integrity", "manifest_valid",
		"1 if the manifest was read, parsed and (when configured) its HMAC or signature matched in the latest check.", "dataset")
	integrityLastCheckDesc = collector.NewDesc("integrity", "last_check_timestamp_seconds",
		"When the latest check of the data set completed.", "dataset")
	integrityDurationDesc = collector.NewDesc("integrity", "check_duration_seconds",
		"How long the latest check took (hashing is rate-limited by jobs.max_read_mb_per_second).", "dataset")
	integrityBytesDesc = collector.NewDesc("integrity", "checked_bytes",
		"Bytes hashed in the latest check.", "dataset")
)

// maxSidecarBytes bounds a MAC or signature file.
const maxSidecarBytes = 4 << 10

type integrityResult struct {
	checkedAt     time.Time
	duration      time.Duration
	manifestValid bool
	res           *manifest.Result
}

func (r integrityResult) verified() bool {
	return r.manifestValid && r.res != nil && r.res.Problems() == 0
}

type integrityCollector struct {
	sources []*integritySource
}

type integritySource struct {
	cfg     *config.DataSet
	src     *collector.Source[integrityResult]
	logger  log.Logger
	now     func() time.Time
	limiter *rate.Limiter
}

func init() {
	collector.Register("integrity", true, newIntegrityCollector)
}

func newIntegrityCollector(env collector.Env) (collector.Collector, error) {
	c := &integrityCollector{}
	jc := &env.Config.Jobs
	limiter := sharedReadLimiter(env)
	for i := range jc.Integrity {
		d := &jc.Integrity[i]
		s, err := collector.Keep(env, d.Name, d, func() (*integritySource, error) {
			s := &integritySource{cfg: d, logger: env.Logger, now: env.Now, limiter: limiter}
			if s.logger == nil {
				s.logger = log.NewNopLogger()
			}
			if s.now == nil {
				s.now = time.Now
			}
			s.src = &collector.Source[integrityResult]{MaxRetryAfter: env.MaxRetryAfter(),
				Collector: "integrity", Name: d.Name, Interval: d.Interval.D(), Timeout: d.Timeout.D(),
				Refresh: s.check, Logger: env.Logger, Now: env.Now,
			}
			return s, nil
		})
		if err != nil {
			return nil, err
		}
		c.sources = append(c.sources, s)
	}
	return c, nil
}

func (c *integrityCollector) Run(ctx context.Context) {
	collector.RunSources(ctx, c.sources, func(s *integritySource) collector.Runner { return s.src })
}

func (c *integrityCollector) Update(ctx context.Context, ch chan<- prometheus.Metric) error {
	if len(c.sources) == 0 {
		return collector.ErrNoData
	}
	collector.CollectSources(ch, c.sources, func(s *integritySource) *collector.Source[integrityResult] { return s.src },
		func(s *integritySource, r integrityResult) {
			name := s.cfg.Name
			gauge := func(d *prometheus.Desc, v float64, extra ...string) {
				ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append([]string{name}, extra...)...)
			}
			gauge(integrityVerifiedDesc, collector.Bool(r.verified()))
			gauge(integrityManifestValidDesc, collector.Bool(r.manifestValid))
			gauge(integrityLastCheckDesc, float64(r.checkedAt.UnixMilli())/1e3)
			gauge(integrityDurationDesc, r.duration.Seconds())
			if r.res == nil {
				return
			}
			gauge(integrityMismatchesDesc, float64(r.res.Problems()))
			gauge(integrityBytesDesc, float64(r.res.Bytes))
			gauge(integrityFilesDesc, float64(r.res.OK), "ok")
			gauge(integrityFilesDesc, float64(len(r.res.Mismatched)), "mismatch")
			gauge(integrityFilesDesc, float64(len(r.res.Missing)), "missing")
			gauge(integrityFilesDesc, float64(len(r.res.Unlisted)), "unlisted")
			gauge(integrityFilesDesc, float64(len(r.res.Unreadable)), "unreadable")
		})
	return nil
}

// check verifies the data set once. Only an interrupted check (timeout,
// shutdown) is an error, keeping the previous verdict: any problem found is
// a verdict, so an unreadable or tampered manifest can never leave an old
// "verified" in place.
func (s *integritySource) check(ctx context.Context) (integrityResult, error) {
	begin := s.now()
	r := integrityResult{}
	res, err := s.verify(ctx)
	if ctx.Err() != nil {
		return r, fmt.Errorf("integrity check of %s interrupted: %w", s.cfg.Name, ctx.Err())
	}
	r.checkedAt = s.now()
	r.duration = r.checkedAt.Sub(begin)
	if err != nil {
		level.Error(s.logger).Log("msg", "data set manifest not valid", "dataset", s.cfg.Name, "err", err)
		return r, nil
	}
	r.manifestValid, r.res = true, res
	if res.Problems() > 0 {
		level.Error(s.logger).Log("msg", "data set integrity violated", "dataset", s.cfg.Name,
			"mismatched", fmt.Sprint(res.Mismatched), "missing", fmt.Sprint(res.Missing),
			"unlisted", fmt.Sprint(res.Unlisted), "unreadable", fmt.Sprint(res.Unreadable))
	}
	return r, nil
}

// verify returns an error only when the manifest cannot vouch for the data
// set (unreadable, malformed, not authentic).
func (s *integritySource) verify(ctx context.Context) (*manifest.Result, error) {
	d := s.cfg
	root, err := os.OpenRoot(d.ResolvedDirectory)
	if err != nil {
		return nil, fmt.Errorf("data set directory: %w", err)
	}
	defer root.Close()
	data, err := readDataSetFile(root, d.Manifest, manifest.MaxBytes)
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	exclude := []string{d.Manifest}
	if d.HMACKeyFile != "" {
		// Keys are read at each verification: rotating one needs no reload.
		key, err := config.ReadSecretFile(d.HMACKeyFile)
		if err != nil {
			return nil, fmt.Errorf("manifest HMAC key: %w", err)
		}
		mac, err := readDataSetFile(root, d.HMACFile, maxSidecarBytes)
		if err != nil {
			return nil, fmt.Errorf("manifest HMAC: %w", err)
		}
		if err := manifest.VerifyHMAC(data, []byte(key), mac); err != nil {
			return nil, err
		}
		exclude = append(exclude, d.HMACFile)
	}
	if d.SignaturePublicKeyFile != "" {
		pub, err := config.ReadEd25519PublicKey(d.SignaturePublicKeyFile)
		if err != nil {
			return nil, fmt.Errorf("manifest signature key: %w", err)
		}
		sig, err := readDataSetFile(root, d.SignatureFile, maxSidecarBytes)
		if err != nil {
			return nil, fmt.Errorf("manifest signature: %w", err)
		}
		if err := manifest.VerifySignature(data, pub, sig); err != nil {
			return nil, err
		}
		exclude = append(exclude, d.SignatureFile)
	}
	m, err := manifest.Parse(data)
	if err != nil {
		return nil, err
	}
	return manifest.Verify(ctx, root, m, d.Files, exclude, s.limiter)
}

func readDataSetFile(root *os.Root, name string, limit int64) ([]byte, error) {
	st, err := root.Stat(name)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", name)
	}
	f, err := root.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, errors.New(name + " is too large")
	}
	return data, nil
}
