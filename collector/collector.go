// Package collector is the core that every collector area builds on: the
// small registry that builds, runs and times collectors (after
// node_exporter's), the background Source, and metric descriptors. The
// collectors themselves live in one folder per area (probe, roundtrip,
// cloud, jobs, security, delivery, maintenance) and register from there.
//
// A collector is either per-scrape (it does its work in Update, bounded by
// the scrape's context) or a background source (it also implements Runner,
// refreshes a cache on its own interval and only reads that cache in Update).
package collector

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bosaimail/bosaimail_exporter/config"
)

// Namespace prefixes every metric.
const Namespace = "bosaimail"

// Collector sends its metrics for one scrape. ctx carries the scrape
// deadline; Update must return by then.
type Collector interface {
	Update(ctx context.Context, ch chan<- prometheus.Metric) error
}

// Runner is implemented by background sources. Run refreshes the source's
// cache until ctx is cancelled (on reload or shutdown) and then returns.
type Runner interface {
	Run(ctx context.Context)
}

// Starter is implemented by collectors that take up a role the moment
// their Set starts, before the previous Set stops, such as offering the
// announcements the maintenance calendar reads: done in Run (a goroutine),
// the role would be vacant for a moment on every reload. Start must not
// block; the returned stop runs when the Set stops.
type Starter interface {
	Start() (stop func())
}

// APIRouter is implemented by collectors that accept requests on the
// exporter's HTTP server (e.g. job outcome pushes). Routes maps a path
// prefix such as "/api/v1/jobs/" to its handler.
type APIRouter interface {
	Routes() map[string]http.Handler
}

// Env is what a factory gets to build its collector.
type Env struct {
	Config *config.Config
	Logger log.Logger
	// StateDir is where collectors persist state that must survive a restart.
	StateDir string
	// Now is the clock (tests replace it).
	Now func() time.Time
	// Announcements carries provider maintenance from the cloud collector to
	// the maintenance calendar: the State's when there is one, else NewSet
	// gives each set its own.
	Announcements *Announcements
	// State owns what outlives one config (sources kept across reloads,
	// counters, the job store). One per process; nil in tests that build a
	// collector directly (then Keep and Shared simply build).
	State *State
	// Collector is the name of the collector being built (set by NewSet
	// and Build); Keep uses it in its keys.
	Collector string
}

// MaxRetryAfter is the cap on a peer's Retry-After for the sources built
// from env (global.max_retry_after).
func (env Env) MaxRetryAfter() time.Duration {
	if env.Config == nil {
		return DefaultMaxRetryAfter
	}
	return env.Config.Global.MaxRetryAfter.D()
}

// ErrNoData tells the registry that a collector had nothing to report; it is
// not counted as a failure.
var ErrNoData = errors.New("collector returned no data")

// Factory builds a collector from the current config. It is called again on
// every reload.
type Factory func(env Env) (Collector, error)

type registration struct {
	factory Factory
	enabled *bool
}

var (
	factoriesMu sync.Mutex
	factories   = map[string]registration{}
)

// Register is called from each collector's init. Every collector gets a
// --collector.<name> flag like node_exporter's.
func Register(name string, enabledByDefault bool, factory Factory) {
	def := "disabled"
	if enabledByDefault {
		def = "enabled"
	}
	flag := kingpin.Flag("collector."+name, fmt.Sprintf("Enable the %s collector (default: %s).", name, def)).
		Default(fmt.Sprint(enabledByDefault)).Bool()
	factoriesMu.Lock()
	defer factoriesMu.Unlock()
	factories[name] = registration{factory: factory, enabled: flag}
}

// Names lists every registered collector, sorted.
func Names() []string {
	factoriesMu.Lock()
	defer factoriesMu.Unlock()
	names := make([]string, 0, len(factories))
	for n := range factories {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Build builds the one registered collector called name, whether or not
// its flag enables it: for tests and tools that combine collectors of
// different areas.
func Build(name string, env Env) (Collector, error) {
	factoriesMu.Lock()
	r, ok := factories[name]
	factoriesMu.Unlock()
	if !ok {
		return nil, fmt.Errorf("unknown collector %q", name)
	}
	if env.Logger == nil {
		env.Logger = log.NewNopLogger()
	}
	if env.Now == nil {
		env.Now = time.Now
	}
	if env.Announcements == nil {
		env.Announcements = announcementsOf(env.State)
	}
	env.Collector = name
	return r.factory(env)
}

// Set is the collectors built from one config. A reload builds a new Set,
// starts it, swaps it in and stops the old one.
type Set struct {
	collectors map[string]Collector
	names      []string
	logger     log.Logger
	cancel     context.CancelFunc
	wg         sync.WaitGroup
	state      *State
	reload     *pendingReload
	stops      []func()
}

func announcementsOf(st *State) *Announcements {
	if st != nil {
		return st.Announcements
	}
	return &Announcements{}
}

// NewSet builds the enabled collectors (all registered ones when only is
// nil, else those named in only). A factory error fails the whole set so
// that a bad config is rejected as a whole on reload.
func NewSet(env Env, only []string) (*Set, error) {
	if env.Logger == nil {
		env.Logger = log.NewNopLogger()
	}
	if env.Now == nil {
		env.Now = time.Now
	}
	if env.Announcements == nil {
		env.Announcements = announcementsOf(env.State)
	}
	want := map[string]bool{}
	for _, n := range only {
		want[n] = true
	}
	factoriesMu.Lock()
	regs := make(map[string]registration, len(factories))
	for n, r := range factories {
		regs[n] = r
	}
	factoriesMu.Unlock()
	for n := range want {
		if _, ok := regs[n]; !ok {
			return nil, fmt.Errorf("unknown collector %q", n)
		}
	}
	s := &Set{collectors: map[string]Collector{}, logger: env.Logger, state: env.State}
	if env.State != nil {
		s.reload = env.State.begin()
	}
	fail := func(err error) (*Set, error) {
		if s.reload != nil {
			env.State.abort(s.reload)
		}
		return nil, err
	}
	for name, r := range regs {
		if only != nil && !want[name] {
			continue
		}
		if only == nil && !*r.enabled {
			continue
		}
		cenv := env
		cenv.Logger = log.With(env.Logger, "collector", name)
		cenv.Collector = name
		c, err := r.factory(cenv)
		if err != nil {
			return fail(fmt.Errorf("collector %s: %w", name, err))
		}
		s.collectors[name] = c
		s.names = append(s.names, name)
	}
	sort.Strings(s.names)
	return s, nil
}

// Start launches the background sources of the set and makes its config
// the one the State keeps sources for. Sources kept from the running Set go
// on without a gap; those the new config dropped stop when the old Set
// stops.
func (s *Set) Start() {
	if s.reload != nil {
		s.state.commit(s.reload)
		s.reload = nil
	}
	for _, name := range s.names {
		if st, ok := s.collectors[name].(Starter); ok {
			s.stops = append(s.stops, st.Start())
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	for _, name := range s.names {
		r, ok := s.collectors[name].(Runner)
		if !ok {
			continue
		}
		s.wg.Add(1)
		go func(name string, r Runner) {
			defer s.wg.Done()
			defer func() {
				if p := recover(); p != nil {
					level.Error(s.logger).Log("msg", "background source panicked", "collector", name, "panic", p, "stack", string(debug.Stack()))
				}
			}()
			r.Run(ctx)
		}(name, r)
	}
}

// Stop cancels the background sources and waits for them.
func (s *Set) Stop() {
	if s.cancel != nil {
		s.cancel()
	}
	s.wg.Wait()
	for _, stop := range s.stops {
		stop()
	}
	s.stops = nil
}

// Names lists the collectors of the set.
func (s *Set) Names() []string { return s.names }

// Routes gathers the HTTP routes of the set's collectors.
func (s *Set) Routes() map[string]http.Handler {
	out := map[string]http.Handler{}
	for _, name := range s.names {
		if r, ok := s.collectors[name].(APIRouter); ok {
			for p, h := range r.Routes() {
				out[p] = h
			}
		}
	}
	return out
}

// Route finds the handler for a request path by longest matching prefix.
func (s *Set) Route(path string) http.Handler {
	var best string
	var h http.Handler
	for p, handler := range s.Routes() {
		if strings.HasPrefix(path, p) && len(p) > len(best) {
			best, h = p, handler
		}
	}
	return h
}

var (
	scrapeDurationDesc = NewDesc("collector", "duration_seconds", "Time one collector took during this scrape.", "collector")
	scrapeSuccessDesc  = NewDesc("collector", "success", "1 if the collector succeeded during this scrape, 0 if it failed.", "collector")
)

// abandonGrace is how long past the scrape deadline a collector may still
// take before the scrape goes on without it.
const abandonGrace = 250 * time.Millisecond

// Collect runs every collector of the set concurrently and sends their
// metrics. A collector that fails, panics or overruns ctx is reported as
// failed; the others are unaffected. A collector that ignores ctx is
// abandoned shortly after the deadline: its late metrics are dropped, so
// the scrape is never held hostage.
func (s *Set) Collect(ctx context.Context, ch chan<- prometheus.Metric) {
	var wg sync.WaitGroup
	wg.Add(len(s.names))
	for _, name := range s.names {
		go func(name string, c Collector) {
			defer wg.Done()
			s.execute(ctx, name, c, ch)
		}(name, s.collectors[name])
	}
	wg.Wait()
}

func (s *Set) execute(ctx context.Context, name string, c Collector, out chan<- prometheus.Metric) {
	begin := time.Now()
	inner := make(chan prometheus.Metric, 64)
	done := make(chan error, 1)
	go func() {
		var err error
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("panic: %v", p)
				level.Error(s.logger).Log("msg", "collector panicked", "collector", name, "panic", p, "stack", string(debug.Stack()))
			}
			close(inner)
			done <- err
		}()
		err = c.Update(ctx, inner)
	}()

	var abandon <-chan time.Time
	if dl, ok := ctx.Deadline(); ok {
		t := time.NewTimer(time.Until(dl) + abandonGrace)
		defer t.Stop()
		abandon = t.C
	}
	var err error
forward:
	for {
		select {
		case m, ok := <-inner:
			if !ok {
				err = <-done
				break forward
			}
			out <- m
		case <-abandon:
			err = fmt.Errorf("abandoned: still running %s after the scrape deadline", abandonGrace)
			go func() {
				for range inner { // let the straggler finish and drop what it sends
				}
			}()
			break forward
		}
	}
	duration := time.Since(begin)
	success := 1.0
	switch {
	case err == nil:
	case errors.Is(err, ErrNoData):
		level.Debug(s.logger).Log("msg", "collector returned no data", "collector", name, "duration_seconds", duration.Seconds())
	default:
		success = 0
		level.Error(s.logger).Log("msg", "collector failed", "collector", name, "duration_seconds", duration.Seconds(), "err", err)
	}
	out <- prometheus.MustNewConstMetric(scrapeDurationDesc, prometheus.GaugeValue, duration.Seconds(), name)
	out <- prometheus.MustNewConstMetric(scrapeSuccessDesc, prometheus.GaugeValue, success, name)
}

// Adapt exposes one Collector as a prometheus.Collector whose every Collect
// runs Update with ctx: for tests, benchmarks and tools that want a plain
// registry. Errors are dropped; the collector's own metrics report them.
func Adapt(ctx context.Context, c Collector) prometheus.Collector {
	return adapted{ctx: ctx, c: c}
}

type adapted struct {
	ctx context.Context
	c   Collector
}

func (a adapted) Describe(chan<- *prometheus.Desc) {}

func (a adapted) Collect(ch chan<- prometheus.Metric) { _ = a.c.Update(a.ctx, ch) }
