package jobs

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/bosaimail/bosaimail_exporter/collector"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/bosaimail/bosaimail_exporter/config"
	"github.com/bosaimail/bosaimail_exporter/internal/throttle"
)

var (
	backupLastDesc = collector.NewDesc("backup", "last_timestamp_seconds",
		"Modification time of the newest complete backup artefact (0 if there is none).", "backup")
	backupSizeDesc = collector.NewDesc("backup", "size_bytes",
		"Size of the newest complete backup artefact (0 if there is none).", "backup")
	backupPreviousSizeDesc = collector.NewDesc("backup", "previous_size_bytes",
		"Size of the complete backup artefact before the newest one (absent if there is none).", "backup")
	backupMaxAgeDesc = collector.NewDesc("backup", "max_age_seconds",
		"Configured age (max_age) beyond which the newest complete backup is stale.", "backup")
	backupArtefactsDesc = collector.NewDesc("backup", "artefacts",
		"Number of files matching the backup's glob.", "backup")
	backupIncompleteDesc = collector.NewDesc("backup", "incomplete_artefacts",
		"Artefacts newer than the newest complete one that fail the completeness checks (too small, no marker, corrupt gzip) or cannot be read.", "backup")
)

// sharedReadLimiter bounds every verification read of the process together
// (backups and data sets), whatever the number of sources; each config
// load sets its rate.
func sharedReadLimiter(env collector.Env) *rate.Limiter {
	l, err := collector.Shared(env, "jobs/read_limiter", func() (*rate.Limiter, error) { return throttle.NewLimiter(0), nil })
	if err != nil {
		l = throttle.NewLimiter(0)
	}
	l.SetLimit(readLimit(env.Config.Jobs.MaxReadMBPerSecond))
	return l
}

type backupArtefact struct {
	path    string
	modTime time.Time
	size    int64
}

type backupResult struct {
	artefacts  int
	newest     *backupArtefact
	previous   *backupArtefact
	incomplete int
}

type backupCollector struct {
	sources []*backupSource
}

type backupSource struct {
	cfg     *config.Backup
	src     *collector.Source[backupResult]
	logger  log.Logger
	limiter *rate.Limiter

	// verified remembers gzip verdicts by path, size and mtime, so each
	// artefact is read once, not on every refresh.
	mu       sync.Mutex
	verified map[backupArtefact]error
}

func init() {
	collector.Register("backup", true, newBackupCollector)
}

func newBackupCollector(env collector.Env) (collector.Collector, error) {
	jc := &env.Config.Jobs
	limiter := sharedReadLimiter(env)
	c := &backupCollector{}
	for i := range jc.Backups {
		b := &jc.Backups[i]
		bs, err := collector.Keep(env, b.Name, b, func() (*backupSource, error) {
			bs := &backupSource{cfg: b, logger: env.Logger, limiter: limiter, verified: map[backupArtefact]error{}}
			if bs.logger == nil {
				bs.logger = log.NewNopLogger()
			}
			bs.src = &collector.Source[backupResult]{MaxRetryAfter: env.MaxRetryAfter(),
				Collector: "backup", Name: b.Name, Interval: b.Interval.D(), Timeout: b.Timeout.D(),
				Refresh: bs.refresh, Logger: env.Logger, Now: env.Now,
			}
			return bs, nil
		})
		if err != nil {
			return nil, err
		}
		c.sources = append(c.sources, bs)
	}
	return c, nil
}

func (c *backupCollector) Run(ctx context.Context) {
	collector.RunSources(ctx, c.sources, func(s *backupSource) collector.Runner { return s.src })
}

func (c *backupCollector) Update(ctx context.Context, ch chan<- prometheus.Metric) error {
	if len(c.sources) == 0 {
		return collector.ErrNoData
	}
	for _, s := range c.sources {
		ch <- prometheus.MustNewConstMetric(backupMaxAgeDesc, prometheus.GaugeValue, s.cfg.MaxAge.D().Seconds(), s.cfg.Name)
	}
	collector.CollectSources(ch, c.sources, func(s *backupSource) *collector.Source[backupResult] { return s.src },
		func(s *backupSource, r backupResult) {
			name := s.cfg.Name
			last, size := 0.0, 0.0
			if r.newest != nil {
				last, size = float64(r.newest.modTime.UnixMilli())/1e3, float64(r.newest.size)
			}
			ch <- prometheus.MustNewConstMetric(backupLastDesc, prometheus.GaugeValue, last, name)
			ch <- prometheus.MustNewConstMetric(backupSizeDesc, prometheus.GaugeValue, size, name)
			if r.previous != nil {
				ch <- prometheus.MustNewConstMetric(backupPreviousSizeDesc, prometheus.GaugeValue, float64(r.previous.size), name)
			}
			ch <- prometheus.MustNewConstMetric(backupArtefactsDesc, prometheus.GaugeValue, float64(r.artefacts), name)
			ch <- prometheus.MustNewConstMetric(backupIncompleteDesc, prometheus.GaugeValue, float64(r.incomplete), name)
		})
	return nil
}

// refresh finds the two newest complete artefacts. An unreadable directory
// is an error (the source goes down and the backup ages into staleness);
// an unreadable artefact only counts as incomplete.
func (s *backupSource) refresh(ctx context.Context) (backupResult, error) {
	var r backupResult
	dir := s.cfg.ResolvedDirectory
	if st, err := os.Stat(dir); err != nil {
		return r, fmt.Errorf("backup directory: %w", err)
	} else if !st.IsDir() {
		return r, fmt.Errorf("backup directory %s is not a directory", dir)
	}
	matches, err := filepath.Glob(filepath.Join(dir, s.cfg.Glob))
	if err != nil {
		return r, err
	}
	var arts []backupArtefact
	for _, p := range matches {
		if s.cfg.MarkerSuffix != "" && strings.HasSuffix(p, s.cfg.MarkerSuffix) {
			continue
		}
		st, err := os.Stat(p)
		if err != nil {
			r.incomplete++ // dangling link, symlink loop, permission
			level.Warn(s.logger).Log("msg", "backup artefact unreadable", "backup", s.cfg.Name, "file", p, "err", err)
			continue
		}
		if !st.Mode().IsRegular() {
			continue
		}
		arts = append(arts, backupArtefact{path: p, modTime: st.ModTime(), size: st.Size()})
	}
	r.artefacts = len(arts)
	sort.Slice(arts, func(i, j int) bool {
		if !arts[i].modTime.Equal(arts[j].modTime) {
			return arts[i].modTime.After(arts[j].modTime)
		}
		return arts[i].path > arts[j].path
	})
	seen := map[backupArtefact]bool{}
	for i := range arts {
		a := arts[i]
		seen[a] = true
		if err := s.complete(ctx, a); err != nil {
			if ctx.Err() != nil {
				return r, ctx.Err()
			}
			if r.newest == nil {
				r.incomplete++
			}
			level.Debug(s.logger).Log("msg", "backup artefact incomplete", "backup", s.cfg.Name, "file", a.path, "err", err)
			continue
		}
		if r.newest == nil {
			r.newest = &a
			continue
		}
		r.previous = &a
		break
	}
	s.mu.Lock()
	for k := range s.verified {
		if !seen[k] {
			delete(s.verified, k)
		}
	}
	s.mu.Unlock()
	return r, nil
}

func (s *backupSource) complete(ctx context.Context, a backupArtefact) error {
	if a.size < s.cfg.MinSizeBytes {
		return fmt.Errorf("%d bytes, less than min_size_bytes %d", a.size, s.cfg.MinSizeBytes)
	}
	if s.cfg.MarkerSuffix != "" {
		if _, err := os.Stat(a.path + s.cfg.MarkerSuffix); err != nil {
			return fmt.Errorf("no completion marker: %w", err)
		}
	}
	if !s.cfg.VerifyGzip {
		return nil
	}
	s.mu.Lock()
	verdict, done := s.verified[a]
	s.mu.Unlock()
	if done {
		return verdict
	}
	verdict = verifyGzip(ctx, a.path, s.limiter)
	if ctx.Err() != nil {
		return ctx.Err() // not a verdict: try again next time
	}
	s.mu.Lock()
	s.verified[a] = verdict
	s.mu.Unlock()
	return verdict
}

// verifyGzip reads the whole gzip stream: a truncated or altered archive
// fails its CRC-32 and length trailer.
func verifyGzip(ctx context.Context, path string, limiter *rate.Limiter) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(throttle.NewReader(ctx, f, limiter))
	if err != nil {
		return fmt.Errorf("not a gzip file: %w", err)
	}
	if _, err := io.Copy(io.Discard, zr); err != nil {
		return fmt.Errorf("corrupt gzip stream: %w", err)
	}
	return zr.Close()
}

func readLimit(mbPerSecond float64) rate.Limit {
	return throttle.NewLimiter(mbPerSecond).Limit()
}
