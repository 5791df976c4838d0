package report

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/bosaimail/bosaimail_exporter/internal/fetch"
)

// maxStepsPerQuery keeps each range query under Prometheus' limit of 11,000
// points per series; a week of minutes (10,080) fits.
const maxStepsPerQuery = 7 * 24 * 60

// minute is the report's resolution: every figure counts whole minutes.
const minute = time.Minute

// lastMilli is where a minute's evaluation happens: Prometheus range
// selectors are left-open and right-closed, so evaluating [1m] at
// t+59.999s selects exactly the samples in [t, t+60s) (timestamps are whole
// milliseconds). Consecutive minutes then tile the month: no sample is
// counted twice or lost.
const lastMilli = minute - time.Millisecond

// Querier asks Prometheus.
type Querier struct {
	api     v1.API
	timeout time.Duration
	url     string
	// warnings are Prometheus' warnings (e.g. partial results), each once.
	warnings []string
}

func (q *Querier) warn(ws []string) {
	for _, w := range ws {
		if !contains(q.warnings, w) {
			q.warnings = append(q.warnings, w)
		}
	}
}

// NewQuerier builds a client for the Prometheus HTTP API at url. Each query
// is bounded by timeout and each answer by maxBytes; rt may be nil
// (http.DefaultTransport).
func NewQuerier(url string, rt http.RoundTripper, timeout time.Duration, maxBytes int64) (*Querier, error) {
	if rt == nil {
		rt = http.DefaultTransport
	}
	c, err := api.NewClient(api.Config{Address: url, RoundTripper: &boundedTransport{rt: rt, limit: maxBytes}})
	if err != nil {
		return nil, fmt.Errorf("prometheus URL %q: %w", fetch.Redact(url), err)
	}
	return &Querier{api: v1.NewAPI(c), timeout: timeout, url: fetch.Redact(url)}, nil
}

// boundedTransport fails a response body that is larger than limit, so a
// runaway answer cannot eat the memory of the report run.
type boundedTransport struct {
	rt    http.RoundTripper
	limit int64
}

func (b *boundedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := b.rt.RoundTrip(r)
	if err != nil || b.limit <= 0 {
		return resp, err
	}
	resp.Body = struct {
		io.Reader
		io.Closer
	}{fetch.LimitedReader(resp.Body, b.limit), resp.Body}
	return resp, nil
}

func (q *Querier) wrap(expr string, err error) error {
	var ae *v1.Error
	if errors.As(err, &ae) {
		return fmt.Errorf("prometheus %s: query %q: %s: %s", q.url, expr, ae.Type, ae.Msg)
	}
	return fmt.Errorf("prometheus %s: query %q: %w", q.url, expr, err)
}

// Instant evaluates expr at t.
func (q *Querier) Instant(ctx context.Context, expr string, t time.Time) (model.Vector, error) {
	ctx, cancel := context.WithTimeout(ctx, q.timeout)
	defer cancel()
	val, ws, _, err := q.api.Query(ctx, expr, t, v1.WithTimeout(q.timeout))
	q.warn(ws)
	if err != nil {
		return nil, q.wrap(expr, err)
	}
	vec, ok := val.(model.Vector)
	if !ok {
		return nil, q.wrap(expr, fmt.Errorf("answer is a %s, not a vector", val.Type()))
	}
	return vec, nil
}

// Series is one series on the minute grid: Values[i] is the value for the
// minute that starts at Grid.Start + i minutes, NaN where it has none.
type Series struct {
	Labels model.Metric
	Values []float64
}

// Grid is the minute grid [Start, Start+N minutes).
type Grid struct {
	Start time.Time
	N     int
}

// NewGrid covers [from, to) by whole minutes.
func NewGrid(from, to time.Time) Grid {
	return Grid{Start: from, N: int(to.Sub(from) / minute)}
}

// At is the start of minute i.
func (g Grid) At(i int) time.Time { return g.Start.Add(time.Duration(i) * minute) }

// Index is the minute of t, which may be outside [0, N).
func (g Grid) Index(t time.Time) int {
	d := t.Sub(g.Start)
	i := int(d / minute)
	if d < 0 && d%minute != 0 {
		i--
	}
	return i
}

// End is the end of the grid.
func (g Grid) End() time.Time { return g.At(g.N) }

// Fetch evaluates expr for every minute of g. expr should select the
// minute's samples with a [1m] range (see lastMilli); plain selectors get
// Prometheus' lookback instead. Series are keyed and sorted by their labels.
func (q *Querier) Fetch(ctx context.Context, expr string, g Grid) ([]*Series, error) {
	byKey := map[model.Fingerprint]*Series{}
	for from := 0; from < g.N; from += maxStepsPerQuery {
		to := min(from+maxStepsPerQuery, g.N)
		r := v1.Range{Start: g.At(from).Add(lastMilli), End: g.At(to - 1).Add(lastMilli), Step: minute}
		val, err := q.rangeQuery(ctx, expr, r)
		if err != nil {
			return nil, err
		}
		for _, ss := range val {
			fp := ss.Metric.Fingerprint()
			s := byKey[fp]
			if s == nil {
				s = &Series{Labels: ss.Metric, Values: make([]float64, g.N)}
				for i := range s.Values {
					s.Values[i] = math.NaN()
				}
				byKey[fp] = s
			}
			for _, p := range ss.Values {
				i := g.Index(p.Timestamp.Time())
				if i < 0 || i >= g.N {
					return nil, q.wrap(expr, fmt.Errorf("answer has a point at %s outside %s..%s", p.Timestamp.Time().UTC(), g.Start.UTC(), g.End().UTC()))
				}
				s.Values[i] = float64(p.Value)
			}
		}
	}
	out := make([]*Series, 0, len(byKey))
	for _, s := range byKey {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Labels.String() < out[j].Labels.String() })
	return out, nil
}

func (q *Querier) rangeQuery(ctx context.Context, expr string, r v1.Range) (model.Matrix, error) {
	ctx, cancel := context.WithTimeout(ctx, q.timeout)
	defer cancel()
	val, ws, _, err := q.api.QueryRange(ctx, expr, r, v1.WithTimeout(q.timeout))
	q.warn(ws)
	if err != nil {
		return nil, q.wrap(expr, err)
	}
	m, ok := val.(model.Matrix)
	if !ok {
		return nil, q.wrap(expr, fmt.Errorf("answer is a %s, not a matrix", val.Type()))
	}
	return m, nil
}

// selector adds the configured label matchers to a metric name.
func selector(metric, sel string, extra ...string) string {
	parts := make([]string, 0, len(extra)+1)
	if s := strings.TrimSpace(sel); s != "" {
		parts = append(parts, s)
	}
	parts = append(parts, extra...)
	return metric + "{" + strings.Join(parts, ",") + "}"
}
