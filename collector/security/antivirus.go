package security

import (
	"context"
	"os"
	"sync"

	"github.com/bosaimail/bosaimail_exporter/collector"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bosaimail/bosaimail_exporter/config"
	"github.com/bosaimail/bosaimail_exporter/internal/clamav"
	"github.com/bosaimail/bosaimail_exporter/internal/fetch"
)

var (
	avTimestampDesc = collector.NewDesc("antivirus", "signature_timestamp_seconds",
		"When the antivirus signature database in use was built (ClamAV) or last updated (file modification time).", "engine")
	avVersionDesc = collector.NewDesc("antivirus", "signature_version",
		"Version of the signature database in use (ClamAV daily version).", "engine")
	avInfoDesc = collector.NewDesc("antivirus", "engine_info",
		"1 with the antivirus engine version reported by the engine.", "engine", "version")
)

type securityAntivirus struct {
	engines []*avEngine
}

type avEngine struct {
	cfg *config.Antivirus
	src *collector.Source[clamav.Info]
}

func init() {
	collector.Register("security_antivirus", true, newSecurityAntivirus)
}

func newSecurityAntivirus(env collector.Env) (collector.Collector, error) {
	c := &securityAntivirus{}
	for i := range env.Config.Security.Antivirus {
		av := &env.Config.Security.Antivirus[i]
		e, err := collector.Keep(env, av.Engine, av, func() (*avEngine, error) {
			e := &avEngine{cfg: av}
			e.src = &collector.Source[clamav.Info]{MaxRetryAfter: env.MaxRetryAfter(),
				Collector: "security_antivirus", Name: av.Engine, Interval: av.Interval.D(), Timeout: av.Timeout.D(),
				Logger: env.Logger, Now: env.Now, Refresh: e.read,
			}
			return e, nil
		})
		if err != nil {
			return nil, err
		}
		c.engines = append(c.engines, e)
	}
	return c, nil
}

// read asks clamd, reads the CVD header, or takes a file's age.
func (e *avEngine) read(ctx context.Context) (clamav.Info, error) {
	switch {
	case e.cfg.ClamdNetwork != "":
		// clamd prints the build time in its host's zone (time_zone).
		loc := e.cfg.Location
		if loc == nil {
			loc = config.Tokyo
		}
		info, err := clamav.QueryVersion(ctx, e.cfg.ClamdNetwork, e.cfg.ClamdAddress, loc)
		if err != nil && fetch.Reason(err) == fetch.ReasonOther {
			return info, fetch.Errorf(fetch.ReasonPayload, "clamd %s: %v", e.cfg.Clamd, err)
		}
		return info, err
	case e.cfg.Database != "":
		f, err := os.Open(e.cfg.ResolvedPath)
		if err != nil {
			return clamav.Info{}, fetch.Errorf(fetch.ReasonOther, "%v", err)
		}
		defer f.Close()
		info, err := clamav.ParseCVDHeader(f)
		if err != nil {
			return info, fetch.Errorf(fetch.ReasonDecode, "%s: %v", e.cfg.ResolvedPath, err)
		}
		return info, nil
	default:
		fi, err := os.Stat(e.cfg.ResolvedPath)
		if err != nil {
			return clamav.Info{}, fetch.Errorf(fetch.ReasonOther, "%v", err)
		}
		return clamav.Info{Built: fi.ModTime()}, nil
	}
}

func (c *securityAntivirus) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, e := range c.engines {
		wg.Add(1)
		go func() { defer wg.Done(); e.src.Run(ctx) }()
	}
	wg.Wait()
}

func (c *securityAntivirus) Update(ctx context.Context, ch chan<- prometheus.Metric) error {
	if len(c.engines) == 0 {
		return collector.ErrNoData
	}
	for _, e := range c.engines {
		e.src.CollectStatus(ch)
		info, ok := e.src.Snapshot()
		if !ok {
			continue
		}
		name := e.cfg.Engine
		ch <- prometheus.MustNewConstMetric(avTimestampDesc, prometheus.GaugeValue, float64(info.Built.Unix()), name)
		if info.Version > 0 {
			ch <- prometheus.MustNewConstMetric(avVersionDesc, prometheus.GaugeValue, float64(info.Version), name)
		}
		if info.Engine != "" {
			ch <- prometheus.MustNewConstMetric(avInfoDesc, prometheus.GaugeValue, 1, name, info.Engine)
		}
	}
	return nil
}
