package probe

import (
	"context"
	"crypto/tls"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bosaimail/bosaimail_exporter/collector"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bosaimail/bosaimail_exporter/config"
	"github.com/bosaimail/bosaimail_exporter/internal/fetch"
)

// Failure reasons of checks. The set is bounded so that
// bosaimail_check_failures_total stays small; protocol-specific reasons are
// added by the check kinds that need them.
const (
	ReasonTimeout  = fetch.ReasonTimeout
	ReasonDNS      = fetch.ReasonDNS
	ReasonConnect  = fetch.ReasonConnect
	ReasonTLS      = fetch.ReasonTLS
	ReasonStatus   = fetch.ReasonStatus
	ReasonBody     = "body"
	ReasonProtocol = "protocol"
	ReasonAuth     = "auth"
	ReasonOther    = fetch.ReasonOther
)

var (
	checkUpDesc = collector.NewDesc("check", "up",
		"1 if the latest run of a configured check succeeded, 0 if it failed. critical=\"true\" checks decide whether the service is up.",
		"service", "check", "kind", "critical")
	checkDurationDesc = collector.NewDesc("check", "duration_seconds",
		"How long the latest run of a check took.", "service", "check", "kind")
	checkPhaseDesc = collector.NewDesc("check", "phase_duration_seconds",
		"How long each phase of the latest run of a check took (e.g. dns, connect, tls, processing, transfer).",
		"service", "check", "kind", "phase")
	checkStatusCodeDesc = collector.NewDesc("check", "http_status_code",
		"HTTP status code of the latest run of an http check (0 if no answer).", "service", "check")
	checkTLSNotAfterDesc = collector.NewDesc("check", "tls_not_after_timestamp_seconds",
		"Expiry (NotAfter) of the leaf certificate the peer actually served in the latest run.", "service", "check", "kind")
	CheckFailuresDesc = collector.NewTypedDesc("counter", "check", "failures_total",
		"Failed runs of a check since the exporter started, by bounded reason.", "service", "check", "reason")
	checkRetriesDesc = collector.NewTypedDesc("counter", "check", "retries_total",
		"Critical checks re-probed at once within the same scrape after a failed probe, by outcome: recovered (the re-probe succeeded, the run counts as up: a one-probe blip) or failed (the failure is confirmed and reported).",
		"service", "check", "outcome")
)

// Result collects what one run of a check observed besides up/down.
type Result struct {
	StatusCode  int
	TLSNotAfter time.Time
	phases      []phase
}

type phase struct {
	name string
	d    time.Duration
}

// Phase records the duration of one named phase (added if repeated).
func (r *Result) Phase(name string, d time.Duration) {
	for i := range r.phases {
		if r.phases[i].name == name {
			r.phases[i].d += d
			return
		}
	}
	r.phases = append(r.phases, phase{name, d})
}

// SetTLS records the expiry of the leaf certificate the peer served: the
// first in the chain it sent, not a root or intermediate.
func (r *Result) SetTLS(state *tls.ConnectionState) {
	if state == nil || len(state.PeerCertificates) == 0 {
		return
	}
	r.TLSNotAfter = state.PeerCertificates[0].NotAfter
}

// FailureReason classifies an error returned by a prober. A deadline hit
// anywhere is "timeout", whatever the prober called it.
func FailureReason(ctx context.Context, err error) string {
	if ctx.Err() != nil {
		return ReasonTimeout
	}
	return fetch.Reason(err)
}

// proberFunc runs one check once. It returns nil when the check is up, or
// an error (preferably a *fetch.Error) that says why it is down. It must
// return promptly when ctx is done. A peer's certificate chain is verified
// through chains, the exporter's memo (SharedChainMemo).
type proberFunc func(ctx context.Context, chk *config.Check, res *Result, chains *ChainMemo) error

var probers = map[string]proberFunc{}

// registerProber is called from each check kind's file.
func registerProber(kind string, fn proberFunc) { probers[kind] = fn }

// failures keeps bosaimail_check_failures_total across scrapes and reloads
// (a counter must not reset because the config was reloaded): one per
// process, in the State.
type failures struct{ *collector.Counts }

func (f failures) inc(service, check, reason string) { f.Inc(service, check, reason) }

func (f failures) collect(ch chan<- prometheus.Metric, keep func(service, check string) bool) {
	f.collectAs(ch, CheckFailuresDesc, keep)
}

func (f failures) collectAs(ch chan<- prometheus.Metric, desc *prometheus.Desc, keep func(service, check string) bool) {
	f.Each(func(l []string, n float64) bool {
		if !keep(l[0], l[1]) {
			return false
		}
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, n, l...)
		return true
	})
}

// Outcomes of the re-probe of a failed critical check.
const (
	RetryRecovered = "recovered"
	RetryFailed    = "failed"
)

// checksCollector runs every per-scrape check (http, tcp, smtp) of every
// service concurrently, at most concurrency at a time, each bounded by its
// own timeout and the scrape's.
type checksCollector struct {
	checks      []scrapeCheck
	concurrency int
	logger      log.Logger
	failures    failures
	// retries counts the re-probes of failed critical checks
	// (bosaimail_check_retries_total: service, check, outcome).
	retries failures
	// chains is the memo of verified certificate chains the State keeps
	// for the whole exporter: the same servers are met scrape after scrape.
	chains *ChainMemo
}

type scrapeCheck struct {
	service string
	check   *config.Check
	probe   proberFunc
}

func init() {
	collector.Register("checks", true, newChecksCollector)
}

func newChecksCollector(env collector.Env) (collector.Collector, error) {
	c := &checksCollector{logger: env.Logger, concurrency: env.Config.Global.CheckConcurrency,
		failures: failures{collector.SharedCounts(env, "checks/failures")},
		retries:  failures{collector.SharedCounts(env, "checks/retries")},
		chains:   SharedChainMemo(env)}
	if c.concurrency <= 0 {
		c.concurrency = config.DefaultCheckConcurrency
	}
	if c.logger == nil {
		c.logger = log.NewNopLogger()
	}
	for si := range env.Config.Services {
		svc := &env.Config.Services[si]
		for ci := range svc.Checks {
			chk := &svc.Checks[ci]
			if chk.Kind == config.KindRoundTrip {
				continue // a background source of its own
			}
			p, ok := probers[chk.Kind]
			if !ok {
				return nil, fmt.Errorf("service %s check %s: no prober for kind %q", svc.Name, chk.Name, chk.Kind)
			}
			c.checks = append(c.checks, scrapeCheck{service: svc.Name, check: chk, probe: p})
		}
	}
	return c, nil
}

func (c *checksCollector) Update(ctx context.Context, ch chan<- prometheus.Metric) error {
	if len(c.checks) == 0 {
		return collector.ErrNoData
	}
	// A fixed set of workers takes the checks in config order: memory
	// stays that of `concurrency` checks in flight however many are
	// configured, while the scrape deadline still bounds them all (a check
	// that starts after it fails at once as a timeout).
	workers := min(c.concurrency, len(c.checks))
	var next atomic.Int64
	var wg sync.WaitGroup
	wg.Add(workers)
	for range workers {
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(c.checks) {
					return
				}
				c.run(ctx, &c.checks[i], ch)
			}
		}()
	}
	wg.Wait()
	configured := make(map[[2]string]bool, len(c.checks))
	for _, sc := range c.checks {
		configured[[2]string{sc.service, sc.check.Name}] = true
	}
	keep := func(s, k string) bool { return configured[[2]string{s, k}] }
	c.failures.collect(ch, keep)
	c.retries.collectAs(ch, checkRetriesDesc, keep)
	return nil
}

func (c *checksCollector) run(ctx context.Context, sc *scrapeCheck, ch chan<- prometheus.Metric) {
	chk := sc.check
	res, elapsed, err := attempt(ctx, sc, c.chains)
	// A failed critical check is probed once more at once, within the same
	// scrape: one lost packet or one slow answer is not reported as the
	// service down, so the alert on the service needs fewer evaluations
	// to tell a real outage from a blip. The re-probe gets its own check
	// timeout and stays inside the scrape's deadline (ctx); with no time
	// left the first failure stands.
	if err != nil && chk.IsCritical() && ctx.Err() == nil {
		first := err
		res, elapsed, err = attempt(ctx, sc, c.chains)
		outcome := RetryRecovered
		if err != nil {
			outcome = RetryFailed
		} else {
			level.Debug(c.logger).Log("msg", "check failed once, up on the re-probe", "service", sc.service, "check", chk.Name, "kind", chk.Kind, "reason", first.reason, "err", first.err)
		}
		c.retries.inc(sc.service, chk.Name, outcome)
	}
	up := 1.0
	if err != nil {
		up = 0
		level.Debug(c.logger).Log("msg", "check failed", "service", sc.service, "check", chk.Name, "kind", chk.Kind, "reason", err.reason, "err", err.err)
		c.failures.inc(sc.service, chk.Name, err.reason)
	}
	Emit(ch, sc.service, chk, up, elapsed, res)
}

// probeError is a failed probe with its reason, classified while the
// probe's own deadline was known.
type probeError struct {
	err    error
	reason string
}

// attempt probes a check once, bounded by its timeout and ctx.
func attempt(ctx context.Context, sc *scrapeCheck, chains *ChainMemo) (*Result, time.Duration, *probeError) {
	ctx, cancel := context.WithTimeout(ctx, sc.check.Timeout.D())
	defer cancel()
	res := &Result{}
	start := time.Now()
	err := runProbe(ctx, sc.probe, sc.check, res, chains)
	elapsed := time.Since(start)
	if err != nil {
		return res, elapsed, &probeError{err: err, reason: FailureReason(ctx, err)}
	}
	return res, elapsed, nil
}

// runProbe contains a prober's panic so one broken check cannot take the
// others (or the scrape) down.
func runProbe(ctx context.Context, p proberFunc, chk *config.Check, res *Result, chains *ChainMemo) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fetch.Errorf(ReasonOther, "check panicked: %v", r)
		}
	}()
	return p(ctx, chk, res, chains)
}

// Emit sends the metrics of one check run; the roundtrip source uses
// it too so every kind looks the same to rules and dashboards.
func Emit(ch chan<- prometheus.Metric, service string, chk *config.Check, up float64, elapsed time.Duration, res *Result) {
	ch <- prometheus.MustNewConstMetric(checkUpDesc, prometheus.GaugeValue, up, service, chk.Name, chk.Kind, strconv.FormatBool(chk.IsCritical()))
	ch <- prometheus.MustNewConstMetric(checkDurationDesc, prometheus.GaugeValue, elapsed.Seconds(), service, chk.Name, chk.Kind)
	if res == nil {
		return
	}
	for _, p := range res.phases {
		ch <- prometheus.MustNewConstMetric(checkPhaseDesc, prometheus.GaugeValue, p.d.Seconds(), service, chk.Name, chk.Kind, p.name)
	}
	if chk.Kind == config.KindHTTP {
		ch <- prometheus.MustNewConstMetric(checkStatusCodeDesc, prometheus.GaugeValue, float64(res.StatusCode), service, chk.Name)
	}
	if !res.TLSNotAfter.IsZero() {
		ch <- prometheus.MustNewConstMetric(checkTLSNotAfterDesc, prometheus.GaugeValue, float64(res.TLSNotAfter.Unix()), service, chk.Name, chk.Kind)
	}
}
