package security

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/bosaimail/bosaimail_exporter/collector"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bosaimail/bosaimail_exporter/config"
	"github.com/bosaimail/bosaimail_exporter/internal/cpe"
	"github.com/bosaimail/bosaimail_exporter/internal/fetch"
)

var (
	softwareInfoDesc = collector.NewDesc("software", "info",
		"1 per software inventory entry (configuration management): the declared product, version and CPE 2.3 name.", "product", "version", "cpe")
	softwareObservedDesc = collector.NewDesc("software", "observed_info",
		"1 with the version read back from the running software (inventory observed:).", "product", "version")
	softwareDriftDesc = collector.NewDesc("software", "version_drift",
		"1 if the observed version differs from the declared inventory version, else 0.", "product")
)

// secObservedMax bounds a health body or version file.
const secObservedMax = 1 << 20

type securityInventory struct {
	cfg     *config.SecurityConfig
	client  *http.Client
	sources []*secObservedSource
}

type secObservedSource struct {
	sw  *config.Software
	src *collector.Source[string]
}

func init() {
	collector.Register("security_inventory", true, newSecurityInventory)
}

func newSecurityInventory(env collector.Env) (collector.Collector, error) {
	cfg := &env.Config.Security
	c := &securityInventory{cfg: cfg, client: &http.Client{}}
	for i := range cfg.Inventory {
		sw := &cfg.Inventory[i]
		if sw.Observed == nil {
			continue
		}
		s, err := collector.Keep(env, sw.Product, []any{sw, cfg.ObserveInterval}, func() (*secObservedSource, error) {
			s := &secObservedSource{sw: sw}
			s.src = &collector.Source[string]{MaxRetryAfter: env.MaxRetryAfter(),
				Collector: "security_inventory", Name: sw.Product, Interval: cfg.ObserveInterval.D(), Timeout: 30 * time.Second,
				Logger: env.Logger, Now: env.Now,
				Refresh: func(ctx context.Context) (string, error) { return c.observe(ctx, sw.Observed) },
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

func (c *securityInventory) Run(ctx context.Context) {
	collector.RunSources(ctx, c.sources, func(s *secObservedSource) collector.Runner { return s.src })
}

// observe reads the running version.
func (c *securityInventory) observe(ctx context.Context, o *config.ObservedVersion) (string, error) {
	var body []byte
	if o.File != "" {
		f, err := os.Open(o.ResolvedFile)
		if err != nil {
			return "", fetch.Errorf(fetch.ReasonOther, "%v", err)
		}
		defer f.Close()
		if body, err = fetch.ReadAll(f, secObservedMax); err != nil {
			return "", fmt.Errorf("%s: %w", o.ResolvedFile, err)
		}
	} else {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, o.URL.String(), nil)
		if err != nil {
			return "", fetch.Errorf(fetch.ReasonOther, "%v", err)
		}
		if body, _, err = fetch.Get(c.client, req, secObservedMax); err != nil {
			return "", err
		}
	}
	return secExtractVersion(o, body)
}

// secExtractVersion applies the jq expression or the regexp to a body.
func secExtractVersion(o *config.ObservedVersion, body []byte) (string, error) {
	if o.Pattern != nil {
		m := o.Pattern.FindSubmatch(body)
		// Trimmed before the emptiness check: \S lets a vertical tab
		// through (RE2's \s has none), which TrimSpace then removes.
		if m == nil || strings.TrimSpace(string(m[1])) == "" {
			return "", fetch.Errorf(fetch.ReasonPayload, "regexp %q found no version", o.Regexp)
		}
		return strings.TrimSpace(string(m[1])), nil
	}
	var doc any
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(&doc); err != nil {
		return "", fetch.Errorf(fetch.ReasonDecode, "not JSON: %v", err)
	}
	iter := o.Code.Run(secJQValue(doc))
	v, ok := iter.Next()
	if !ok {
		return "", fetch.Errorf(fetch.ReasonPayload, "jq %q yielded nothing", o.JQ)
	}
	if err, isErr := v.(error); isErr {
		return "", fetch.Errorf(fetch.ReasonPayload, "jq %q: %v", o.JQ, err)
	}
	switch s := v.(type) {
	case string:
		if s = strings.TrimSpace(s); s != "" {
			return s, nil
		}
	case json.Number:
		return s.String(), nil
	}
	return "", fetch.Errorf(fetch.ReasonPayload, "jq %q yielded %v, not a version string", o.JQ, v)
}

// secJQValue converts json.Number (kept so "2.40" stays "2.40") into
// values gojq accepts.
func secJQValue(v any) any {
	switch x := v.(type) {
	case json.Number:
		return x.String()
	case map[string]any:
		for k, e := range x {
			x[k] = secJQValue(e)
		}
	case []any:
		for i, e := range x {
			x[i] = secJQValue(e)
		}
	}
	return v
}

func (c *securityInventory) Update(ctx context.Context, ch chan<- prometheus.Metric) error {
	if len(c.cfg.Inventory) == 0 {
		return collector.ErrNoData
	}
	for _, sw := range c.cfg.Inventory {
		ch <- prometheus.MustNewConstMetric(softwareInfoDesc, prometheus.GaugeValue, 1, sw.Product, sw.Version, sw.Name.String())
	}
	collector.CollectSources(ch, c.sources, func(s *secObservedSource) *collector.Source[string] { return s.src },
		func(s *secObservedSource, v string) {
			ch <- prometheus.MustNewConstMetric(softwareObservedDesc, prometheus.GaugeValue, 1, s.sw.Product, v)
			drift := 0.0
			if cpe.CompareVersions(v, s.sw.Version) != 0 {
				drift = 1
			}
			ch <- prometheus.MustNewConstMetric(softwareDriftDesc, prometheus.GaugeValue, drift, s.sw.Product)
		})
	return nil
}
