// Package exporter is the running exporter: it owns the current config and
// collector set, reloads them atomically, and serves /metrics with the
// scrape deadline Prometheus asks for.
package exporter

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/bosaimail/bosaimail_exporter/collector"
	"github.com/bosaimail/bosaimail_exporter/config"
	"github.com/bosaimail/bosaimail_exporter/internal/fetch"
)

// The reload gauges live in the static registry (they must survive a failed
// reload); these descriptors only put them into the metrics reference.
var (
	_ = collector.NewDesc("config", "last_reload_successful", "Whether the last configuration reload attempt was successful.")
	_ = collector.NewDesc("config", "last_reload_success_timestamp_seconds", "Timestamp of the last successful configuration reload.")
	_ = collector.NewTypedDesc("counter", "exporter", "scrapes_rejected_total", "Scrapes answered 503 because --web.max-requests scrapes were already running.")
)

// Options configure an Exporter.
type Options struct {
	ConfigFile string
	StateDir   string
	Logger     log.Logger
	// Collectors restricts the set (nil: those enabled by flags).
	Collectors []string
	// TimeoutOffset is subtracted from Prometheus' scrape timeout so the
	// answer is on the wire before Prometheus gives up.
	TimeoutOffset time.Duration
	// DefaultTimeout applies when a scrape carries no timeout header.
	DefaultTimeout time.Duration
	// MaxTimeout caps whatever a scraper asks for.
	MaxTimeout time.Duration
	// MaxRequests bounds the scrapes running at once (0: no bound). Every
	// scrape runs every check, so a runaway client could otherwise open
	// sockets without end against the very service being watched.
	MaxRequests int
	// Static holds the process-wide metrics (go, process, build info).
	Static *prometheus.Registry
}

// Exporter is the running exporter.
type Exporter struct {
	opts Options

	mu     sync.RWMutex
	cfg    *config.Config
	set    *collector.Set
	reload sync.Mutex
	// state outlives every reload: the sources an unchanged config keeps,
	// counters, the job store.
	state *collector.State

	reloadOK      prometheus.Gauge
	reloadSuccess prometheus.Gauge
	scrapeOpts    promhttp.HandlerOpts
	// inflight holds a token per running scrape (nil: unbounded).
	inflight chan struct{}
	rejected prometheus.Counter
}

// New loads the config and starts its collectors. A bad initial config is
// an error: the exporter must not start blind.
func New(opts Options) (*Exporter, error) {
	if opts.Logger == nil {
		opts.Logger = log.NewNopLogger()
	}
	if opts.Static == nil {
		opts.Static = prometheus.NewRegistry()
	}
	if opts.DefaultTimeout <= 0 {
		opts.DefaultTimeout = 10 * time.Second
	}
	if opts.MaxTimeout <= 0 {
		opts.MaxTimeout = 120 * time.Second
	}
	e := &Exporter{
		opts:  opts,
		state: collector.NewState(opts.Logger),
		reloadOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: collector.Namespace, Subsystem: "config", Name: "last_reload_successful",
			Help: "Whether the last configuration reload attempt was successful.",
		}),
		reloadSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: collector.Namespace, Subsystem: "config", Name: "last_reload_success_timestamp_seconds",
			Help: "Timestamp of the last successful configuration reload.",
		}),
	}
	if err := opts.Static.Register(e.reloadOK); err != nil {
		return nil, err
	}
	if err := opts.Static.Register(e.reloadSuccess); err != nil {
		return nil, err
	}
	e.rejected = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: collector.Namespace, Subsystem: "exporter", Name: "scrapes_rejected_total",
		Help: "Scrapes answered 503 because --web.max-requests scrapes were already running.",
	})
	if err := opts.Static.Register(e.rejected); err != nil {
		return nil, err
	}
	if opts.MaxRequests > 0 {
		e.inflight = make(chan struct{}, opts.MaxRequests)
	}
	e.scrapeOpts = promhttp.HandlerOpts{
		ErrorLog:      promhttpLogger{opts.Logger},
		ErrorHandling: promhttp.ContinueOnError,
	}
	if err := e.Reload(); err != nil {
		return nil, err
	}
	return e, nil
}

// Reload loads the config file again; on any error the running config and
// collectors stay as they were.
func (e *Exporter) Reload() error {
	e.reload.Lock()
	defer e.reload.Unlock()
	cfg, err := config.Load(e.opts.ConfigFile)
	if err == nil {
		var set *collector.Set
		set, err = collector.NewSet(collector.Env{Config: cfg, Logger: e.opts.Logger, StateDir: e.opts.StateDir, State: e.state}, e.opts.Collectors)
		if err == nil {
			set.Start()
			e.mu.Lock()
			old := e.set
			e.cfg, e.set = cfg, set
			e.mu.Unlock()
			if old != nil {
				old.Stop()
			}
		}
	}
	if err != nil {
		// The error may quote a URL of the config (and with it its
		// credentials): it reaches the log and the /-/reload answer.
		err = fetch.RedactError(err)
		e.reloadOK.Set(0)
		level.Error(e.opts.Logger).Log("msg", "loading configuration failed; keeping the previous one", "file", e.opts.ConfigFile, "err", err)
		return fmt.Errorf("loading configuration: %w", err)
	}
	e.reloadOK.Set(1)
	e.reloadSuccess.SetToCurrentTime()
	level.Info(e.opts.Logger).Log("msg", "configuration loaded", "file", e.opts.ConfigFile, "services", len(cfg.Services), "collectors", fmt.Sprint(e.set.Names()))
	return nil
}

// Close stops the background sources and closes the long-lived state (the
// job store among it).
func (e *Exporter) Close() {
	e.reload.Lock()
	defer e.reload.Unlock()
	e.mu.Lock()
	set := e.set
	e.set = nil
	e.mu.Unlock()
	if set != nil {
		set.Stop()
	}
	e.state.Close()
}

// Config returns the running config.
func (e *Exporter) Config() *config.Config {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.cfg
}

func (e *Exporter) current() *collector.Set {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.set
}

// ScrapeTimeout is the deadline for one scrape: Prometheus' own timeout
// (X-Prometheus-Scrape-Timeout-Seconds) minus the offset, or the default.
func (e *Exporter) ScrapeTimeout(h http.Header) time.Duration {
	t := e.opts.DefaultTimeout
	if v := h.Get("X-Prometheus-Scrape-Timeout-Seconds"); v != "" {
		// A scraper's header is untrusted: NaN, Inf and values beyond any
		// Duration must not overflow into a negative deadline.
		if secs, err := strconv.ParseFloat(v, 64); err == nil && secs > 0 && !math.IsNaN(secs) {
			if secs >= e.opts.MaxTimeout.Seconds() {
				t = e.opts.MaxTimeout
			} else {
				t = time.Duration(secs * float64(time.Second))
			}
		}
	}
	if t > e.opts.MaxTimeout {
		t = e.opts.MaxTimeout
	}
	if t-e.opts.TimeoutOffset > 0 {
		t -= e.opts.TimeoutOffset
	} else {
		// An offset larger than the timeout would leave nothing; keep half.
		t /= 2
	}
	return t
}

// ServeHTTP answers a scrape. Each scrape gets a small registry holding one
// unchecked collector bound to this scrape's deadline; descriptors are
// shared and nothing else is rebuilt per scrape.
func (e *Exporter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	set := e.current()
	if set == nil {
		http.Error(w, "exporter is shutting down", http.StatusServiceUnavailable)
		return
	}
	if e.inflight != nil {
		select {
		case e.inflight <- struct{}{}:
			defer func() { <-e.inflight }()
		default:
			e.rejected.Inc()
			http.Error(w, fmt.Sprintf("%d scrapes are already running (--web.max-requests); try again later", cap(e.inflight)), http.StatusServiceUnavailable)
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), e.ScrapeTimeout(r.Header))
	defer cancel()
	reg := prometheus.NewRegistry()
	if err := reg.Register(scrape{ctx: ctx, set: set}); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	promhttp.HandlerFor(prometheus.Gatherers{e.opts.Static, reg}, e.scrapeOpts).ServeHTTP(w, r)
}

// Route dispatches /api/ requests to the collectors that serve them.
func (e *Exporter) Route(w http.ResponseWriter, r *http.Request) {
	set := e.current()
	if set != nil {
		if h := set.Route(r.URL.Path); h != nil {
			h.ServeHTTP(w, r)
			return
		}
	}
	http.NotFound(w, r)
}

// scrape adapts a Set to prometheus.Collector for one scrape. It describes
// nothing (an unchecked collector) because the set of series depends on the
// config; the registry still checks every metric's consistency on Gather.
type scrape struct {
	ctx context.Context
	set *collector.Set
}

func (s scrape) Describe(chan<- *prometheus.Desc) {}

func (s scrape) Collect(ch chan<- prometheus.Metric) { s.set.Collect(s.ctx, ch) }

type promhttpLogger struct{ l log.Logger }

func (p promhttpLogger) Println(v ...any) { level.Error(p.l).Log("msg", fmt.Sprint(v...)) }
