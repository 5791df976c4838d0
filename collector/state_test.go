package collector

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bosaimail/bosaimail_exporter/config"
	"github.com/bosaimail/bosaimail_exporter/internal/fetch"
)

// stateSource is one source of the teststate collector: one per service of
// the config, its config being the service.
type stateSource struct {
	*Source[int]
	refreshes atomic.Int64
	stopped   atomic.Bool
	closed    atomic.Bool
}

func (s *stateSource) Close() { s.closed.Store(true) }

type stateCollector struct{ sources []*stateSource }

func (c *stateCollector) Run(ctx context.Context) {
	RunSources(ctx, c.sources, func(s *stateSource) Runner { return s })
}

func (c *stateCollector) Update(context.Context, chan<- prometheus.Metric) error { return nil }

func init() {
	Register("teststate", false, func(env Env) (Collector, error) {
		c := &stateCollector{}
		for i := range env.Config.Services {
			svc := &env.Config.Services[i]
			if svc.Name == "fail" {
				return nil, errors.New("this config is refused")
			}
			s, err := Keep(env, svc.Name, svc, func() (*stateSource, error) {
				s := &stateSource{}
				s.Source = &Source[int]{Collector: "teststate", Name: svc.Name, Interval: time.Hour, OnStop: func() { s.stopped.Store(true) },
					Refresh: func(context.Context) (int, error) { return int(s.refreshes.Add(1)), nil }}
				return s, nil
			})
			if err != nil {
				return nil, err
			}
			c.sources = append(c.sources, s)
		}
		return c, nil
	})
}

func stateConfig(services ...config.Service) *config.Config {
	return &config.Config{Services: services}
}

func sourcesOf(t *testing.T, set *Set) map[string]*stateSource {
	t.Helper()
	out := map[string]*stateSource{}
	for _, s := range set.collectors["teststate"].(*stateCollector).sources {
		out[s.Name] = s
	}
	return out
}

// waitValue waits for a source's first refresh (Run does one at once).
func waitValue(t *testing.T, s *stateSource) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, ok := s.Snapshot(); ok {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("source %s never refreshed", s.Name)
}

// A reload keeps an unchanged source (same object, cached value, no new
// refresh), replaces a changed one, stops and closes a removed one, and a
// refused config leaves the running sources alone and closes what it built.
func TestStateKeepsUnchangedSourcesAcrossReloads(t *testing.T) {
	t.Parallel()
	st := NewState(nil)
	defer st.Close()
	reload := func(old *Set, cfg *config.Config) (*Set, error) {
		set, err := NewSet(Env{Config: cfg, State: st}, []string{"teststate"})
		if err != nil {
			return old, err
		}
		set.Start()
		if old != nil {
			old.Stop()
		}
		return set, nil
	}
	a, b, c := config.Service{Name: "a"}, config.Service{Name: "b"}, config.Service{Name: "c"}
	set, err := reload(nil, stateConfig(a, b, c))
	if err != nil {
		t.Fatal(err)
	}
	first := sourcesOf(t, set)
	for _, s := range first {
		waitValue(t, s)
	}

	// b changes, c goes, d comes.
	b2 := config.Service{Name: "b", Checks: []config.Check{{Name: "x"}}}
	set, err = reload(set, stateConfig(a, b2, config.Service{Name: "d"}))
	if err != nil {
		t.Fatal(err)
	}
	second := sourcesOf(t, set)
	if second["a"] != first["a"] {
		t.Error("unchanged source a was rebuilt")
	}
	if v, ok := second["a"].Snapshot(); !ok || v != 1 || second["a"].refreshes.Load() != 1 {
		t.Errorf("unchanged source a: value %d (ok %t) after %d refreshes, want its cached 1 and no new refresh", v, ok, second["a"].refreshes.Load())
	}
	if first["a"].stopped.Load() {
		t.Error("unchanged source a was stopped by the reload")
	}
	if second["b"] == first["b"] {
		t.Error("changed source b was kept")
	}
	if !first["b"].stopped.Load() || !first["c"].stopped.Load() {
		t.Error("the old b or the removed c still runs after the reload")
	}
	waitValue(t, second["d"])

	// A refused config: nothing changes, what it built is closed.
	failing := stateConfig(a, config.Service{Name: "e"}, config.Service{Name: "fail"})
	if _, err := reload(set, failing); err == nil {
		t.Fatal("refused config accepted")
	}
	st.mu.Lock()
	kept := len(st.kept)
	st.mu.Unlock()
	if kept != 3 {
		t.Errorf("after a refused reload the state keeps %d sources, want the running 3", kept)
	}
	if second["a"].stopped.Load() {
		t.Error("a refused reload stopped a running source")
	}
	// The next good reload still keeps a.
	set, err = reload(set, stateConfig(a))
	if err != nil {
		t.Fatal(err)
	}
	if sourcesOf(t, set)["a"] != first["a"] {
		t.Error("source a rebuilt after a refused reload")
	}
	set.Stop()
	st.Close()
	if !first["a"].stopped.Load() || !first["a"].closed.Load() {
		t.Error("closing the state after the last set did not stop and close a kept source")
	}
}

func TestSharedLivesAsLongAsTheState(t *testing.T) {
	t.Parallel()
	st := NewState(nil)
	var builds int
	var mu sync.Mutex
	get := func() *stateSource {
		v, err := Shared(Env{State: st}, "x", func() (*stateSource, error) {
			mu.Lock()
			builds++
			mu.Unlock()
			return &stateSource{}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	v := get()
	if get() != v || builds != 1 {
		t.Errorf("shared value built %d times", builds)
	}
	st.Close()
	if !v.closed.Load() {
		t.Error("closing the state did not close the shared value")
	}
	if _, err := Shared(Env{State: st}, "y", func() (int, error) { return 1, nil }); err == nil {
		t.Error("a closed state handed out a new value")
	}
}

func TestRetryAfterWait(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ after, limit, want time.Duration }{
		{30 * time.Second, 0, 30 * time.Second},
		{365 * 24 * time.Hour, 0, DefaultMaxRetryAfter},
		{365 * 24 * time.Hour, 10 * time.Minute, 10 * time.Minute},
		{-time.Second, 0, 0},
		{1<<63 - 1, 0, DefaultMaxRetryAfter},
	} {
		if got := RetryAfterWait(tc.after, tc.limit); got != tc.want {
			t.Errorf("RetryAfterWait(%s, %s) = %s, want %s", tc.after, tc.limit, got, tc.want)
		}
	}
}

// A Retry-After is a floor that jitter only lengthens, capped (default 1h,
// or the configured cap), and a huge one cannot overflow into a short or
// negative wait.
func TestNextWaitRetryAfter(t *testing.T) {
	t.Parallel()
	ra := func(d time.Duration) error {
		return &fetch.RetryAfterError{After: d, Err: errors.New("HTTP 429")}
	}
	for i := 0; i < 200; i++ {
		for _, tc := range []struct {
			err      error
			limit    time.Duration
			min, max time.Duration
		}{
			{ra(30 * time.Second), 0, 30 * time.Second, 33 * time.Second},
			{ra(365 * 24 * time.Hour), 0, time.Hour, time.Hour + 6*time.Minute},
			{ra(365 * 24 * time.Hour), 10 * time.Minute, 10 * time.Minute, 11 * time.Minute},
			{ra(1<<63 - 1), 0, time.Hour, time.Hour + 6*time.Minute},
			{ra(-time.Hour), 0, 5*time.Second - 500*time.Millisecond, 5 * time.Second},
			{errors.New("plain failure"), 0, 5*time.Second - 500*time.Millisecond, 5 * time.Second},
		} {
			wait, _ := nextWait(tc.err, 0, 5*time.Minute, tc.limit)
			if wait < tc.min || wait > tc.max {
				t.Fatalf("nextWait(%v, limit %s) = %s, want within [%s, %s]", tc.err, tc.limit, wait, tc.min, tc.max)
			}
		}
	}
	// Success resets the backoff.
	if _, b := nextWait(nil, time.Minute, 5*time.Minute, 0); b != 0 {
		t.Errorf("backoff after a success: %s", b)
	}
}

type announcingCollector struct {
	ann *Announcements
	w   []MaintenanceWindow
}

func (a *announcingCollector) Update(context.Context, chan<- prometheus.Metric) error { return nil }
func (a *announcingCollector) Start() func()                                          { return a.ann.Serve(a) }
func (a *announcingCollector) MaintenanceWindows(time.Time) []MaintenanceWindow       { return a.w }

func init() {
	Register("testannounce", false, func(env Env) (Collector, error) {
		return &announcingCollector{ann: env.Announcements, w: []MaintenanceWindow{{Service: "mail", Provider: "p"}}}, nil
	})
}

// Provider maintenance offered to the calendar never vanishes during a
// reload: the new Set's collector takes over when it starts, before the old
// one stops.
func TestAnnouncementsSurviveReload(t *testing.T) {
	t.Parallel()
	st := NewState(nil)
	defer st.Close()
	set, err := NewSet(Env{Config: &config.Config{}, State: st}, []string{"testannounce"})
	if err != nil {
		t.Fatal(err)
	}
	set.Start()
	for i := 0; i < 50; i++ {
		next, err := NewSet(Env{Config: &config.Config{}, State: st}, []string{"testannounce"})
		if err != nil {
			t.Fatal(err)
		}
		next.Start()
		if len(st.Announcements.Windows(time.Now())) != 1 {
			t.Fatal("no announcer while both sets run")
		}
		set.Stop()
		if len(st.Announcements.Windows(time.Now())) != 1 {
			t.Fatalf("reload %d: the announcements vanished when the old set stopped", i)
		}
		set = next
	}
	set.Stop()
	if len(st.Announcements.Windows(time.Now())) != 0 {
		t.Error("a stopped set still announces")
	}
}
