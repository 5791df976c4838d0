package collector

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bosaimail/bosaimail_exporter/internal/fetch"
)

var (
	sourceUpDesc = NewDesc("source", "up",
		"1 if the latest refresh of a background source succeeded, 0 if it failed (its last good values are still exported).", "collector", "source")
	sourceLastSuccessDesc = NewDesc("source", "last_success_timestamp_seconds",
		"When a background source last refreshed successfully (absent if never).", "collector", "source")
	sourceLastAttemptDesc = NewDesc("source", "last_attempt_timestamp_seconds",
		"When a background source last tried to refresh.", "collector", "source")
	sourceFailuresDesc = NewTypedDesc("counter", "source", "failures_total",
		"Failed refreshes of a background source, by reason.", "collector", "source", "reason")
)

// Source refreshes a value of type T in the background on its own interval
// and keeps the last good one, so scrapes only read a cache and an external
// API is never hit once per scrape. A failed refresh keeps the last good
// value (its age shows in the last-success metric) and retries with an
// exponential backoff capped at the interval; a Retry-After from the peer is
// honoured.
type Source[T any] struct {
	Collector string
	Name      string
	Interval  time.Duration
	Timeout   time.Duration
	Refresh   func(ctx context.Context) (T, error)
	Logger    log.Logger
	Now       func() time.Time
	// MaxRetryAfter caps a peer's Retry-After (DefaultMaxRetryAfter when 0).
	MaxRetryAfter time.Duration
	// OnStop runs when the refresh loop ends because no Set runs the source
	// any more: close idle connections and the like.
	OnStop func()

	lcOnce sync.Once
	lc     *Loop

	mu          sync.Mutex
	backoff     time.Duration
	value       T
	hasValue    bool
	lastErr     error
	lastSuccess time.Time
	lastAttempt time.Time
	failures    map[string]float64
	refreshed   chan struct{}
}

// Snapshot returns the last good value and whether there is one.
func (s *Source[T]) Snapshot() (T, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.value, s.hasValue
}

// LastError returns the error of the latest refresh, or nil.
func (s *Source[T]) LastError() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastErr
}

// Run refreshes until ctx is cancelled. The first refresh happens at once.
//
// A Source kept across a reload (State, Keep) is run by the old Set and the
// new one at the same time for a moment: the refresh loop is shared (see
// Loop), so the new Set takes over without a new first refresh, and the
// loop (with its backoff) ends only when no Set runs it and no config
// keeps it. Then OnStop runs, e.g. to close the source's idle connections.
func (s *Source[T]) Run(ctx context.Context) { s.shared().Run(ctx) }

// Adopt tells the source that a State keeps it across reloads.
func (s *Source[T]) Adopt() { s.shared().Adopt() }

// Retire tells the source that no config uses it any more.
func (s *Source[T]) Retire() { s.shared().Retire() }

func (s *Source[T]) shared() *Loop {
	s.lcOnce.Do(func() {
		s.lc = &Loop{Name: s.Name, Logger: s.Logger, Fn: s.loop, OnStop: func() {
			if s.OnStop != nil {
				s.OnStop()
			}
		}}
	})
	return s.lc
}

// Loop is a background loop shared by the Sets that run it: a Source's
// refresh loop, or an area's own (the mail round trip's). Run starts Fn on
// the first call and returns when its ctx ends; Fn goes on while any Set
// runs the Loop, and also between Sets while a State keeps it (Adopt),
// until it is retired (Retire). Then Fn's context ends and OnStop runs.
type Loop struct {
	Name   string
	Logger log.Logger
	Fn     func(ctx context.Context)
	OnStop func()

	mu       sync.Mutex
	holders  int
	owned    bool // kept by a State: the loop outlives the Sets running it
	retired  bool // no longer kept: the loop ends with the last Set running it
	stopLoop context.CancelFunc
	loopDone chan struct{}
}

// Run runs the loop (started if not running) until ctx ends.
func (l *Loop) Run(ctx context.Context) {
	l.mu.Lock()
	l.holders++
	if l.stopLoop == nil {
		lctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		l.stopLoop, l.loopDone = cancel, done
		go func() {
			defer close(done)
			defer func() {
				if p := recover(); p != nil && l.Logger != nil {
					level.Error(l.Logger).Log("msg", "background loop panicked", "source", l.Name, "panic", p, "stack", string(debug.Stack()))
				}
			}()
			l.Fn(lctx)
		}()
	}
	l.mu.Unlock()

	<-ctx.Done()

	l.mu.Lock()
	l.holders--
	// A kept loop goes on between the old Set's end and the new one's
	// start: the two race, and a gap would mean a new first refresh.
	var done chan struct{}
	if l.holders == 0 && (!l.owned || l.retired) && l.stopLoop != nil {
		l.stopLoop()
		l.stopLoop, done = nil, l.loopDone
	}
	l.mu.Unlock()
	l.finish(done)
}

// Adopt: a State keeps the loop across reloads.
func (l *Loop) Adopt() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.owned, l.retired = true, false
}

// Retire: no config uses the loop any more; it ends now if no Set runs it,
// else when the last one stops.
func (l *Loop) Retire() {
	l.mu.Lock()
	l.retired = true
	var done chan struct{}
	if l.holders == 0 && l.stopLoop != nil {
		l.stopLoop()
		l.stopLoop, done = nil, l.loopDone
	}
	l.mu.Unlock()
	l.finish(done)
}

func (l *Loop) finish(done chan struct{}) {
	if done == nil {
		return
	}
	<-done
	if l.OnStop != nil {
		l.OnStop()
	}
}

func (s *Source[T]) loop(ctx context.Context) {
	for {
		wait := s.Interval
		err := s.RefreshOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		s.mu.Lock()
		wait, s.backoff = nextWait(err, s.backoff, wait, s.MaxRetryAfter)
		s.mu.Unlock()
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// nextWait is how long the loop sleeps after a refresh that ended with err,
// and the new backoff. A failure backs off exponentially up to the
// interval; a Retry-After is a floor that jitter may only lengthen, capped
// at maxRetryAfter so that a hostile or mistaken answer ("a year") cannot
// silence the source until a restart.
func nextWait(err error, backoff, interval, maxRetryAfter time.Duration) (time.Duration, time.Duration) {
	if err == nil {
		return jitter(interval), 0
	}
	backoff = nextBackoff(backoff, interval)
	wait := jitter(backoff)
	var ra *fetch.RetryAfterError
	if errors.As(err, &ra) {
		if after := RetryAfterWait(ra.After, maxRetryAfter); after > wait {
			wait = after + time.Duration(rand.Int64N(int64(after)/10+1))
		}
	}
	return wait, backoff
}

// DefaultMaxRetryAfter caps how long a source obeys a peer's Retry-After.
const DefaultMaxRetryAfter = time.Hour

// RetryAfterWait is how long to wait for a Retry-After of after, capped at
// limit (DefaultMaxRetryAfter when limit <= 0); a negative after is none.
func RetryAfterWait(after, limit time.Duration) time.Duration {
	if limit <= 0 {
		limit = DefaultMaxRetryAfter
	}
	switch {
	case after < 0:
		return 0
	case after > limit:
		return limit
	}
	return after
}

// RefreshOnce runs one refresh now (Run uses it; tests call it directly).
func (s *Source[T]) RefreshOnce(ctx context.Context) error {
	now := s.now()
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	v, err := s.Refresh(rctx)
	cancel()
	if ctx.Err() != nil {
		// Stopped (the source was removed, or shutdown), not failed: the
		// health of a source says nothing about its own end.
		return ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastAttempt = now
	s.lastErr = err
	if err != nil {
		if s.failures == nil {
			s.failures = map[string]float64{}
		}
		s.failures[fetch.Reason(err)]++
		if s.Logger != nil {
			level.Warn(s.Logger).Log("msg", "source refresh failed", "source", s.Name, "reason", fetch.Reason(err), "err", err)
		}
	} else {
		s.value, s.hasValue, s.lastSuccess = v, true, s.now()
	}
	if s.refreshed != nil {
		close(s.refreshed)
		s.refreshed = nil
	}
	return err
}

// Refreshed returns a channel closed after the next refresh completes
// (tests wait on it instead of sleeping).
func (s *Source[T]) Refreshed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refreshed == nil {
		s.refreshed = make(chan struct{})
	}
	return s.refreshed
}

// CollectStatus sends the source's own health metrics.
func (s *Source[T]) CollectStatus(ch chan<- prometheus.Metric) {
	s.mu.Lock()
	defer s.mu.Unlock()
	up := 0.0
	if s.lastErr == nil && s.hasValue {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(sourceUpDesc, prometheus.GaugeValue, up, s.Collector, s.Name)
	if !s.lastSuccess.IsZero() {
		ch <- prometheus.MustNewConstMetric(sourceLastSuccessDesc, prometheus.GaugeValue, float64(s.lastSuccess.UnixMilli())/1e3, s.Collector, s.Name)
	}
	if !s.lastAttempt.IsZero() {
		ch <- prometheus.MustNewConstMetric(sourceLastAttemptDesc, prometheus.GaugeValue, float64(s.lastAttempt.UnixMilli())/1e3, s.Collector, s.Name)
	}
	for reason, n := range s.failures {
		ch <- prometheus.MustNewConstMetric(sourceFailuresDesc, prometheus.CounterValue, n, s.Collector, s.Name, reason)
	}
}

func (s *Source[T]) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func nextBackoff(prev, limit time.Duration) time.Duration {
	next := 2 * prev
	if next < 5*time.Second {
		next = 5 * time.Second
	}
	if limit > 0 && next > limit {
		next = limit
	}
	return next
}

// jitter spreads refreshes of many sources by up to 10 %.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return time.Second
	}
	return d - time.Duration(rand.Int64N(int64(d)/10+1))
}

// RunSources runs the refresh loop of every source of a collector until ctx
// is cancelled, for collectors that hold several sources.
func RunSources[S any](ctx context.Context, items []S, src func(S) Runner) {
	var wg sync.WaitGroup
	for _, it := range items {
		r := src(it)
		wg.Add(1)
		go func() { defer wg.Done(); r.Run(ctx) }()
	}
	wg.Wait()
}

// CollectSources sends the status of every source of a collector and, for
// each source that has a last good result, what emit makes of it.
func CollectSources[S, R any](ch chan<- prometheus.Metric, items []S, src func(S) *Source[R], emit func(S, R)) {
	for _, it := range items {
		s := src(it)
		s.CollectStatus(ch)
		if r, ok := s.Snapshot(); ok {
			emit(it, r)
		}
	}
}

// Seed installs a value restored from disk as the last good one, with the
// time it was obtained (so its age shows in the last-success metric). The
// source stays down until its first own refresh succeeds.
func (s *Source[T]) Seed(v T, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hasValue {
		return
	}
	s.value, s.hasValue, s.lastSuccess = v, true, at
	s.lastErr = errSeeded
}

var errSeeded = fmt.Errorf("restored from the state directory; not refreshed yet")
