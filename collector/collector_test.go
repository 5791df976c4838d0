package collector

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/bosaimail/bosaimail_exporter/config"
)

var testOKDesc = NewDesc("testonly", "value", "A value from the well-behaved test collector.")

type panicCollector struct{}

func (panicCollector) Update(context.Context, chan<- prometheus.Metric) error { panic("boom") }

type okCollector struct{}

func (okCollector) Update(_ context.Context, ch chan<- prometheus.Metric) error {
	ch <- prometheus.MustNewConstMetric(testOKDesc, prometheus.GaugeValue, 42)
	return nil
}

// stuckCollector ignores its context, as a buggy collector might.
type stuckCollector struct{ release chan struct{} }

func (s stuckCollector) Update(_ context.Context, ch chan<- prometheus.Metric) error {
	<-s.release
	ch <- prometheus.MustNewConstMetric(testOKDesc, prometheus.GaugeValue, 1)
	return nil
}

// stuckRelease is what the next teststuck collector waits for; each test
// that uses one makes a fresh channel (so -count=N works).
var stuckRelease chan struct{}

func init() {
	Register("testpanic", false, func(Env) (Collector, error) { return panicCollector{}, nil })
	Register("testok", false, func(Env) (Collector, error) { return okCollector{}, nil })
	Register("teststuck", false, func(Env) (Collector, error) { return stuckCollector{release: stuckRelease}, nil })
}

func gatherSet(t *testing.T, names []string, timeout time.Duration) *prometheus.Registry {
	t.Helper()
	set, err := NewSet(Env{Config: &config.Config{}}, names)
	if err != nil {
		t.Fatal(err)
	}
	set.Start()
	t.Cleanup(set.Stop)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	reg := prometheus.NewRegistry()
	reg.MustRegister(setCollector{ctx, set})
	return reg
}

type setCollector struct {
	ctx context.Context
	set *Set
}

func (s setCollector) Describe(chan<- *prometheus.Desc) {}
func (s setCollector) Collect(ch chan<- prometheus.Metric) {
	s.set.Collect(s.ctx, ch)
}

func TestPanickingCollectorIsReportedNotFatal(t *testing.T) {
	reg := gatherSet(t, []string{"testpanic", "testok"}, 5*time.Second)
	want := `
# HELP bosaimail_collector_success 1 if the collector succeeded during this scrape, 0 if it failed.
# TYPE bosaimail_collector_success gauge
bosaimail_collector_success{collector="testok"} 1
bosaimail_collector_success{collector="testpanic"} 0
# HELP bosaimail_testonly_value A value from the well-behaved test collector.
# TYPE bosaimail_testonly_value gauge
bosaimail_testonly_value 42
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "bosaimail_collector_success", "bosaimail_testonly_value"); err != nil {
		t.Error(err)
	}
}

func TestStuckCollectorIsAbandonedAtDeadline(t *testing.T) {
	stuckRelease = make(chan struct{})
	defer close(stuckRelease) // let the straggler finish after the scrape
	reg := gatherSet(t, []string{"teststuck", "testok"}, 200*time.Millisecond)
	want := `
# HELP bosaimail_collector_success 1 if the collector succeeded during this scrape, 0 if it failed.
# TYPE bosaimail_collector_success gauge
bosaimail_collector_success{collector="testok"} 1
bosaimail_collector_success{collector="teststuck"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "bosaimail_collector_success"); err != nil {
		t.Error(err)
	}
}

func TestUnknownCollectorRejected(t *testing.T) {
	if _, err := NewSet(Env{Config: &config.Config{}}, []string{"nope"}); err == nil {
		t.Fatal("unknown collector accepted")
	}
}
