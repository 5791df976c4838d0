package security

import (
	"context"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/bosaimail/bosaimail_exporter/collector"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bosaimail/bosaimail_exporter/config"
	"github.com/bosaimail/bosaimail_exporter/internal/advisory"
)

var (
	secAdvisoriesDesc = collector.NewDesc("security", "advisories",
		"Open (not acknowledged) advisories that apply to the software inventory, by product, severity and source (jvn|nvd).", "product", "severity", "source")
	secKnownExploitedDesc = collector.NewDesc("security", "known_exploited",
		"Open advisories of a product whose CVE is in CISA's Known Exploited Vulnerabilities catalog.", "product")
	secNewestDesc = collector.NewDesc("security", "advisory_newest_published_timestamp_seconds",
		"Publication time of the newest advisory that applies to a product (acknowledged or not).", "product")
	secAdvisoryInfoDesc = collector.NewDesc("security", "advisory_info",
		"One series per open critical or high advisory (at most advisories.max_listed, most severe and newest first), for dashboard tables.", "id", "product", "severity", "link")
	secAcknowledgedDesc = collector.NewDesc("security", "advisories_acknowledged",
		"Advisories that apply to a product but are closed by a recorded acknowledgement, by status.", "product", "status")
	secAckValidDesc = collector.NewDesc("security", "acknowledgements_valid",
		"1 if the acknowledgement file was read and is valid, 0 if not (the last valid content is still used).")
	secFeedEntriesDesc = collector.NewDesc("security", "feed_entries",
		"Entries read from an advisory feed in its last good refresh (all products for jvn/nvd, the catalog for kev).", "source")
)

type securityAdvisories struct {
	cfg    *config.SecurityConfig
	logger log.Logger
	now    func() time.Time
	client *http.Client
	// stateDir keeps the feeds' last good results across restarts.
	stateDir string

	jvn, nvd *collector.Source[secFeedResult]
	kev      *collector.Source[secKEV]

	ackMu    sync.Mutex
	acks     []config.Acknowledgement
	ackMod   time.Time
	ackValid bool
}

func init() {
	collector.Register("security_advisories", true, newSecurityAdvisories)
}

func newSecurityAdvisories(env collector.Env) (collector.Collector, error) {
	cfg := &env.Config.Security
	a := &cfg.Advisories
	if !a.JVN.Enabled && !a.NVD.Enabled && !a.KEV.Enabled {
		return &securityAdvisories{cfg: cfg}, nil
	}
	c := &securityAdvisories{cfg: cfg, logger: env.Logger, now: env.Now, client: &http.Client{}, stateDir: env.StateDir}
	if c.logger == nil {
		c.logger = log.NewNopLogger()
	}
	if c.now == nil {
		c.now = time.Now
	}
	// JVN and NVD: a sweep over the inventory, saved after each success
	// and seeded from the saved state at start.
	sweepSource := func(name string, fc *config.FeedConfig, sweep secSweepFunc) *collector.Source[secFeedResult] {
		src := &collector.Source[secFeedResult]{MaxRetryAfter: env.MaxRetryAfter(), Collector: "security_advisories", Name: name, Interval: fc.Interval.D(), Timeout: fc.Timeout.D(), Logger: env.Logger, Now: env.Now}
		src.Refresh = func(ctx context.Context) (secFeedResult, error) {
			r, err := sweep(ctx, c.client, fc, a.MaxBodyBytes, cfg.Inventory, c.prev(src))
			return r, c.save(name, r, err)
		}
		c.seed(src, name)
		return src
	}
	// A feed is kept across reloads while its config, the bounds and the
	// inventory it is matched against are unchanged.
	var err error
	if a.JVN.Enabled {
		c.jvn, err = collector.Keep(env, "jvn", []any{a.JVN, a.MaxBodyBytes, cfg.Inventory}, func() (*collector.Source[secFeedResult], error) {
			return sweepSource("jvn", &a.JVN, jvnSweep), nil
		})
		if err != nil {
			return nil, err
		}
	}
	if a.NVD.Enabled {
		c.nvd, err = collector.Keep(env, "nvd", []any{a.NVD, a.MaxBodyBytes, cfg.Inventory}, func() (*collector.Source[secFeedResult], error) {
			return sweepSource("nvd", &a.NVD, nvdSweep), nil
		})
		if err != nil {
			return nil, err
		}
	}
	if a.KEV.Enabled {
		c.kev, err = collector.Keep(env, "kev", []any{a.KEV, a.MaxBodyBytes}, func() (*collector.Source[secKEV], error) { return c.newKEV(env, a), nil })
		if err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (c *securityAdvisories) newKEV(env collector.Env, a *config.AdvisoryConfig) *collector.Source[secKEV] {
	{
		kev := &collector.Source[secKEV]{MaxRetryAfter: env.MaxRetryAfter(), Collector: "security_advisories", Name: "kev", Interval: a.KEV.Interval.D(), Timeout: a.KEV.Timeout.D(), Logger: env.Logger, Now: env.Now}
		kev.Refresh = func(ctx context.Context) (secKEV, error) {
			var prev *secKEV
			if v, ok := kev.Snapshot(); ok {
				prev = &v
			}
			r, err := kevFetch(ctx, c.client, &a.KEV, a.MaxBodyBytes, prev)
			if err == nil {
				if serr := secSave(secStatePath(c.stateDir, "kev"), nil, r, c.now()); serr != nil {
					level.Warn(c.logger).Log("msg", "cannot save advisory state", "feed", "kev", "err", serr)
				}
			}
			return r, err
		}
		if v, at, ok := secLoad[secKEV](secStatePath(c.stateDir, "kev"), nil, c.logger); ok {
			kev.Seed(v, at)
		}
		return kev
	}
}

// save persists a good sweep; a failure to save is logged, not fatal.
func (c *securityAdvisories) save(feed string, r secFeedResult, err error) error {
	if err != nil {
		return err
	}
	if serr := secSave(secStatePath(c.stateDir, feed), c.cfg.Inventory, r, c.now()); serr != nil {
		level.Warn(c.logger).Log("msg", "cannot save advisory state", "feed", feed, "err", serr)
	}
	return nil
}

func (c *securityAdvisories) seed(s *collector.Source[secFeedResult], feed string) {
	if v, at, ok := secLoad[secFeedResult](secStatePath(c.stateDir, feed), c.cfg.Inventory, c.logger); ok {
		s.Seed(v, at)
	}
}

func (c *securityAdvisories) prev(s *collector.Source[secFeedResult]) *secFeedResult {
	if v, ok := s.Snapshot(); ok {
		return &v
	}
	return nil
}

// Run refreshes the feeds, each on its own interval.
func (c *securityAdvisories) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, run := range []func(context.Context){c.runIf(c.jvn), c.runIf(c.nvd), c.runKEV()} {
		if run != nil {
			wg.Add(1)
			go func() { defer wg.Done(); run(ctx) }()
		}
	}
	wg.Wait()
}

func (c *securityAdvisories) runIf(s *collector.Source[secFeedResult]) func(context.Context) {
	if s == nil {
		return nil
	}
	return s.Run
}

func (c *securityAdvisories) runKEV() func(context.Context) {
	if c.kev == nil {
		return nil
	}
	return c.kev.Run
}

// loadAcks re-reads the acknowledgement file when it changed; a broken
// file keeps the last valid decisions (and says so), so a typo cannot
// reopen or close advisories.
func (c *securityAdvisories) loadAcks() ([]config.Acknowledgement, bool) {
	path := c.cfg.Advisories.ResolvedAcknowledgementsFile
	c.ackMu.Lock()
	defer c.ackMu.Unlock()
	if path == "" {
		return nil, true
	}
	fi, err := os.Stat(path)
	if err != nil {
		level.Warn(c.logger).Log("msg", "acknowledgement file unreadable", "file", path, "err", err)
		c.ackValid = false
		return c.acks, false
	}
	if !fi.ModTime().Equal(c.ackMod) || c.acks == nil && !c.ackValid {
		acks, err := config.LoadAcknowledgements(path)
		if err != nil {
			level.Warn(c.logger).Log("msg", "acknowledgement file invalid, keeping the last valid one", "file", path, "err", err)
			c.ackValid = false
			return c.acks, false
		}
		c.acks, c.ackMod, c.ackValid = acks, fi.ModTime(), true
	}
	return c.acks, c.ackValid
}

// secAckFor returns the acknowledgement that closes advisory m for product,
// if any.
func secAckFor(acks []config.Acknowledgement, m *secMatched, product string, now time.Time) *config.Acknowledgement {
	for i := range acks {
		a := &acks[i]
		if a.Product != "" && a.Product != product {
			continue
		}
		if !a.ExpiresAt.IsZero() && !now.Before(a.ExpiresAt) {
			continue
		}
		if strings.EqualFold(a.ID, m.ID) {
			return a
		}
		for _, cve := range m.CVEs {
			if strings.EqualFold(a.ID, cve) {
				return a
			}
		}
	}
	return nil
}

type secOpen struct {
	m       *secMatched
	product string
}

func (c *securityAdvisories) Update(ctx context.Context, ch chan<- prometheus.Metric) error {
	if c.jvn == nil && c.nvd == nil && c.kev == nil {
		return collector.ErrNoData
	}
	now := c.now()
	acks, valid := c.loadAcks()
	if c.cfg.Advisories.ResolvedAcknowledgementsFile != "" {
		ch <- prometheus.MustNewConstMetric(secAckValidDesc, prometheus.GaugeValue, secBool(valid))
	}
	var kev map[string]bool
	kevOK := false
	if c.kev != nil {
		c.kev.CollectStatus(ch)
		if v, ok := c.kev.Snapshot(); ok {
			kev, kevOK = v.CVEs, true
			ch <- prometheus.MustNewConstMetric(secFeedEntriesDesc, prometheus.GaugeValue, float64(len(v.CVEs)), "kev")
		}
	}
	var nvd *secFeedResult
	if c.nvd != nil {
		if v, ok := c.nvd.Snapshot(); ok {
			nvd = &v
		}
	}

	var open []secOpen
	exploited := map[string]map[string]bool{} // product -> CVE/ID
	newest := map[string]time.Time{}
	acked := map[[2]string]int{}
	anyFeed := false
	for _, f := range []struct {
		name string
		src  *collector.Source[secFeedResult]
	}{{"jvn", c.jvn}, {"nvd", c.nvd}} {
		if f.src == nil {
			continue
		}
		f.src.CollectStatus(ch)
		res, ok := f.src.Snapshot()
		if !ok {
			continue
		}
		anyFeed = true
		ch <- prometheus.MustNewConstMetric(secFeedEntriesDesc, prometheus.GaugeValue, float64(res.Entries), f.name)
		counts := map[string]map[string]int{}
		for _, s := range c.cfg.Inventory {
			counts[s.Product] = map[string]int{}
		}
		for i := range res.Matched {
			m := &res.Matched[i]
			for _, product := range m.Products {
				if f.name == "jvn" && jvnSuperseded(m, product, nvd) {
					continue
				}
				if m.Published.After(newest[product]) {
					newest[product] = m.Published
				}
				if a := secAckFor(acks, m, product, now); a != nil {
					acked[[2]string{product, a.Status}]++
					continue
				}
				counts[product][m.Severity]++
				open = append(open, secOpen{m, product})
				key := m.ID
				if len(m.CVEs) > 0 {
					key = m.CVEs[0]
				}
				known := m.KnownExploited
				for _, cve := range m.CVEs {
					known = known || kev[cve]
				}
				if known {
					if exploited[product] == nil {
						exploited[product] = map[string]bool{}
					}
					exploited[product][key] = true
				}
			}
		}
		for _, s := range c.cfg.Inventory {
			for _, sev := range advisory.Severities {
				ch <- prometheus.MustNewConstMetric(secAdvisoriesDesc, prometheus.GaugeValue, float64(counts[s.Product][sev]), s.Product, sev, f.name)
			}
		}
	}
	if anyFeed && (kevOK || c.nvd != nil) {
		for _, s := range c.cfg.Inventory {
			ch <- prometheus.MustNewConstMetric(secKnownExploitedDesc, prometheus.GaugeValue, float64(len(exploited[s.Product])), s.Product)
		}
	}
	for product, t := range newest {
		ch <- prometheus.MustNewConstMetric(secNewestDesc, prometheus.GaugeValue, float64(t.Unix()), product)
	}
	for k, n := range acked {
		ch <- prometheus.MustNewConstMetric(secAcknowledgedDesc, prometheus.GaugeValue, float64(n), k[0], k[1])
	}
	c.listOpen(ch, open)
	return nil
}

// listOpen emits the bounded _info series: critical and high only, most
// severe and newest first, one per (id, product).
func (c *securityAdvisories) listOpen(ch chan<- prometheus.Metric, open []secOpen) {
	var list []secOpen
	seen := map[[2]string]bool{}
	for _, o := range open {
		if advisory.SeverityRank(o.m.Severity) < advisory.SeverityRank(advisory.High) {
			continue
		}
		k := [2]string{o.m.ID, o.product}
		if seen[k] {
			continue
		}
		seen[k] = true
		list = append(list, o)
	}
	sort.Slice(list, func(i, j int) bool {
		ri, rj := advisory.SeverityRank(list[i].m.Severity), advisory.SeverityRank(list[j].m.Severity)
		if ri != rj {
			return ri > rj
		}
		if !list[i].m.Published.Equal(list[j].m.Published) {
			return list[i].m.Published.After(list[j].m.Published)
		}
		return list[i].m.ID < list[j].m.ID
	})
	if len(list) > c.cfg.Advisories.MaxListed {
		list = list[:c.cfg.Advisories.MaxListed]
	}
	for _, o := range list {
		ch <- prometheus.MustNewConstMetric(secAdvisoryInfoDesc, prometheus.GaugeValue, 1, o.m.ID, o.product, o.m.Severity, o.m.Link)
	}
}

// jvnSuperseded tells whether the NVD, which states version ranges, has
// judged every CVE of a JVN entry and found none of them applying to the
// product's version: JVN names products without versions, so its entry
// alone would keep a fixed issue open for ever.
func jvnSuperseded(m *secMatched, product string, nvd *secFeedResult) bool {
	if nvd == nil || len(m.CVEs) == 0 {
		return false
	}
	for _, cve := range m.CVEs {
		if !nvd.SeenCVEs[cve] {
			return false
		}
		for i := range nvd.Matched {
			n := &nvd.Matched[i]
			if n.ID != cve {
				continue
			}
			for _, p := range n.Products {
				if p == product {
					return false
				}
			}
		}
	}
	return true
}

func secBool(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
