package report

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log"
	"gopkg.in/yaml.v3"

	"github.com/bosaimail/bosaimail_exporter/config"
	"github.com/bosaimail/bosaimail_exporter/internal/exemption"
	"github.com/bosaimail/bosaimail_exporter/internal/testkit/reporttest"
)

// The shared scenario fixtures (testdata/availability/*.yaml) run through
// both engines: the report's minute classification against a real
// Prometheus holding the backfilled scenario, and the recording rules
// (rules/bosaimail_rules.yaml) in promtool. Each fixture lists the figures
// worked out by hand; the report must give them, and the promtool test
// generated from the report's figures must pass, so the two engines cannot
// disagree on any minute or event count.

// systemName is the mixin's contractSystemName: every fixture's services
// are the contract's (contractServices '.+').
const systemName = "対象システム"

// fixture is one scenario. Spans are offsets from start, "10m-12m30s".
type fixture struct {
	Description string `yaml:"description"`
	// Start is the JST wall-clock time of the first sample.
	Start    string `yaml:"start"`
	Duration string `yaml:"duration"`
	// Scrape is the probe interval (default 15s).
	Scrape    string   `yaml:"scrape_interval"`
	Services  []string `yaml:"services"`
	Instances []string `yaml:"instances"`
	// Down: every vantage point fails the critical check smtp.
	Down map[string][]string `yaml:"down"`
	// InstanceDown: one vantage point fails every check.
	InstanceDown map[string]map[string][]string `yaml:"instance_down"`
	// NoChecks: no critical check result of the service (the exporter is
	// scraped); ExporterDown: nothing at all from any exporter.
	NoChecks     map[string][]string `yaml:"no_checks"`
	ExporterDown []string            `yaml:"exporter_down"`
	// Planned: approved planned stops; Unapproved: windows without approval.
	Planned    map[string][]string `yaml:"planned"`
	Unapproved map[string][]string `yaml:"unapproved"`
	// Exemptions is an exemption file (exemptions: and confirmations:).
	Exemptions string `yaml:"exemptions"`
	// Expect lists the figures of windows (offsets from start).
	Expect []expectation `yaml:"expect"`

	name  string
	start time.Time
	dur   time.Duration
	step  time.Duration
	ex    *exemption.File
}

// expectation is the figures of one service over [from, to).
type expectation struct {
	Service string `yaml:"service"`
	From    string `yaml:"from"`
	To      string `yaml:"to"`
	figures `yaml:",inline"`
	// ContractYear: from is the start of a contract year; the rules'
	// contract-year sums at to must equal the window's figures too.
	ContractYear bool `yaml:"contract_year"`
}

type figures struct {
	Stop            int `yaml:"stop"`
	Exempt          int `yaml:"exempt"`
	Unobserved      int `yaml:"unobserved"`
	Confirmed       int `yaml:"confirmed"`
	Planned         int `yaml:"planned"`
	Blip            int `yaml:"blip"`
	Outages         int `yaml:"outages"`
	OutagesContract int `yaml:"outages_contract"`
	// Blips (瞬断 events) is the report's alone: the rules count blip minutes.
	Blips int `yaml:"blips"`
}

type span struct{ from, to time.Duration }

func parseSpans(t *testing.T, where string, ss []string) []span {
	var out []span
	for _, s := range ss {
		a, b, ok := strings.Cut(s, "-")
		from, err1 := time.ParseDuration(a)
		to, err2 := time.ParseDuration(b)
		if !ok || err1 != nil || err2 != nil || to <= from {
			t.Fatalf("%s: bad span %q: want e.g. 10m-12m30s", where, s)
		}
		out = append(out, span{from, to})
	}
	return out
}

func inSpans(d time.Duration, ss []span) bool {
	for _, s := range ss {
		if d >= s.from && d < s.to {
			return true
		}
	}
	return false
}

func loadFixtures(t *testing.T) []*fixture {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(reporttest.RepoRoot(t), "testdata/availability/*.yaml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no fixtures in testdata/availability: %v", err)
	}
	var out []*fixture
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		f := &fixture{name: strings.TrimSuffix(filepath.Base(p), ".yaml")}
		dec := yaml.NewDecoder(strings.NewReader(string(data)))
		dec.KnownFields(true)
		if err := dec.Decode(f); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if f.start, err = time.ParseInLocation("2006-01-02 15:04", f.Start, config.Tokyo); err != nil {
			t.Fatalf("%s: start: %v", p, err)
		}
		if f.dur, err = time.ParseDuration(f.Duration); err != nil {
			t.Fatalf("%s: duration: %v", p, err)
		}
		f.step = 15 * time.Second
		if f.Scrape != "" {
			if f.step, err = time.ParseDuration(f.Scrape); err != nil {
				t.Fatalf("%s: scrape_interval: %v", p, err)
			}
		}
		if len(f.Instances) == 0 {
			f.Instances = []string{"a"}
		}
		if f.Exemptions != "" {
			if f.ex, err = exemption.Parse(p+" exemptions", []byte(f.Exemptions)); err != nil {
				t.Fatalf("%s: %v", p, err)
			}
		}
		out = append(out, f)
	}
	return out
}

// sample is one exporter series of a fixture.
type fxSeries struct {
	family, labels string
	value          func(d time.Duration) (float64, bool)
}

func (f *fixture) series(t *testing.T) []fxSeries {
	var out []fxSeries
	exporterDown := parseSpans(t, f.name+": exporter_down", f.ExporterDown)
	flag := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	for _, svc := range f.Services {
		down := parseSpans(t, f.name+": down", f.Down[svc])
		noChecks := parseSpans(t, f.name+": no_checks", f.NoChecks[svc])
		planned := parseSpans(t, f.name+": planned", f.Planned[svc])
		unapproved := parseSpans(t, f.name+": unapproved", f.Unapproved[svc])
		for _, inst := range f.Instances {
			instDown := parseSpans(t, f.name+": instance_down", f.InstanceDown[svc][inst])
			base := fmt.Sprintf(`job="bosaimail",fixture=%q,instance="%s:9742",service=%q`, f.name, inst, svc)
			check := func(name, critical string, value func(d time.Duration) float64) {
				out = append(out, fxSeries{"bosaimail_check_up", base + fmt.Sprintf(`,check=%q,kind="smtp",critical=%q`, name, critical), func(d time.Duration) (float64, bool) {
					if inSpans(d, exporterDown) || inSpans(d, noChecks) {
						return 0, false
					}
					return value(d), true
				}})
			}
			check("smtp", "true", func(d time.Duration) float64 { return flag(!inSpans(d, down) && !inSpans(d, instDown)) })
			check("web", "true", func(d time.Duration) float64 { return flag(!inSpans(d, instDown)) })
			check("banner", "false", func(time.Duration) float64 { return 0 })
			gauge := func(family string, value func(d time.Duration) bool) {
				out = append(out, fxSeries{family, base, func(d time.Duration) (float64, bool) {
					if inSpans(d, exporterDown) {
						return 0, false
					}
					return flag(value(d)), true
				}})
			}
			at := func(d time.Duration) time.Time { return f.start.Add(d) }
			gauge("bosaimail_maintenance_active", func(d time.Duration) bool { return inSpans(d, planned) })
			gauge("bosaimail_maintenance_unapproved_active", func(d time.Duration) bool { return inSpans(d, unapproved) })
			gauge("bosaimail_exemption_active", func(d time.Duration) bool { return f.ex != nil && f.ex.ExemptAt(svc, at(d)) })
			gauge("bosaimail_confirmation_active", func(d time.Duration) bool { return f.ex != nil && f.ex.ConfirmedAt(svc, at(d)) })
		}
	}
	return out
}

// reportFigures classifies the fixture's minutes the report's way.
func (f *fixture) reportFigures(t *testing.T, url string) ([]figures, []*timeline, Grid) {
	t.Helper()
	q, err := NewQuerier(url, nil, time.Minute, 256<<20)
	if err != nil {
		t.Fatal(err)
	}
	g := NewGrid(f.start, f.start.Add(f.dur))
	sel := fmt.Sprintf(`job="bosaimail",fixture=%q`, f.name)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tls, err := serviceTimelines(ctx, []*Querier{q}, sel, g)
	if err != nil {
		t.Fatal(err)
	}
	var all []*Outage
	services := tls
	find := func() {
		all = all[:0]
		tls = append(append([]*timeline{}, services...), systemTimeline(systemName, services))
		for _, tl := range tls {
			tl.run(1, 5)
			all = append(all, tl.outages(g)...)
		}
	}
	find()
	if f.ex != nil {
		if _, _, err := applyExemptions(f.ex, services, &all, find, g, 0, log.NewNopLogger()); err != nil {
			t.Fatalf("%s: %v", f.name, err)
		}
	}
	var out []figures
	for _, e := range f.Expect {
		from, to := f.offset(t, e.From), f.offset(t, e.To)
		a, b := g.Index(f.start.Add(from)), g.Index(f.start.Add(to))
		var fig figures
		for _, tl := range tls {
			if tl.service != e.Service {
				continue
			}
			c := tl.count(a, b)
			fig = figures{Stop: c.Stop, Exempt: c.ExemptStop, Unobserved: c.Unobserved, Confirmed: c.Confirmed, Planned: c.Planned, Blip: c.Blip,
				Blips: len(tl.blips(g, a, b))}
			for i := a; i < b; i++ {
				if tl.start[i] {
					fig.Outages++
				}
				if tl.contract[i] {
					fig.OutagesContract++
				}
			}
			// The report's year and month counts go through the outages'
			// own attribution: it must count what the per-minute flags
			// (the rules' contract_start) count.
			n := 0
			for _, o := range all {
				if o.Service == e.Service && o.countsIn(a, b) {
					n++
				}
			}
			if n != fig.OutagesContract {
				t.Errorf("%s: %s [%s, %s): %d outages count against the contract by their attribution, %d by the minutes", f.name, e.Service, e.From, e.To, n, fig.OutagesContract)
			}
		}
		out = append(out, fig)
	}
	return out, tls, g
}

func (f *fixture) offset(t *testing.T, s string) time.Duration {
	d, err := time.ParseDuration(s)
	if err != nil || d%time.Minute != 0 || d < 0 || d > f.dur {
		t.Fatalf("%s: bad window offset %q: whole minutes within the fixture", f.name, s)
	}
	return d
}

// promValues writes a series in promtool's expanding notation.
func promValues(vals []float64, ok []bool) string {
	var parts []string
	for i := 0; i < len(vals); {
		j := i
		for j < len(vals) && ok[j] == ok[i] && (!ok[i] || vals[j] == vals[i]) {
			j++
		}
		n := j - i
		switch {
		case !ok[i]:
			parts = append(parts, fmt.Sprintf("_x%d", n))
		case n == 1:
			parts = append(parts, strconv.FormatFloat(vals[i], 'f', -1, 64))
		default:
			parts = append(parts, fmt.Sprintf("%sx%d", strconv.FormatFloat(vals[i], 'f', -1, 64), n-1))
		}
		i = j
	}
	return strings.Join(parts, " ")
}

type promTest struct {
	Expr       string       `yaml:"expr"`
	EvalTime   string       `yaml:"eval_time"`
	ExpSamples []promSample `yaml:"exp_samples"`
}

type promSample struct {
	Labels string  `yaml:"labels"`
	Value  float64 `yaml:"value"`
}

// ruleFigures are the recording-rule expressions of each figure over a
// window of w ending at the evaluation.
func ruleFigures(svc, w string, f figures) []promTest {
	q := func(series string, v int) promTest {
		return promTest{Expr: fmt.Sprintf(`sum(sum_over_time(%s{service=%q}[%s])) or vector(0)`, series, svc, w), ExpSamples: []promSample{{Labels: "{}", Value: float64(v)}}}
	}
	return []promTest{
		q("bosaimail:availability:stop_minutes", f.Stop),
		q("bosaimail:availability:exempt_minutes", f.Exempt),
		q("bosaimail:availability:unobserved_minute", f.Unobserved),
		q("bosaimail:availability:confirmed_minute", f.Confirmed),
		q("bosaimail:availability:planned_minute", f.Planned),
		q("bosaimail:availability:blip_minute", f.Blip),
		q("bosaimail:outages:start", f.Outages),
		q("bosaimail:outages:contract_start", f.OutagesContract),
	}
}

func yearFigures(svc string, f figures) []promTest {
	q := func(series string, v int) promTest {
		return promTest{Expr: fmt.Sprintf(`%s{service=%q}`, series, svc), ExpSamples: []promSample{{Labels: fmt.Sprintf(`%s{service=%q}`, series, svc), Value: float64(v)}}}
	}
	return []promTest{
		q("bosaimail:availability:contract_year_stop_minutes", f.Stop),
		q("bosaimail:availability:contract_year_exempt_minutes", f.Exempt),
		q("bosaimail:availability:contract_year_unobserved_minutes", f.Unobserved),
		q("bosaimail:availability:contract_year_confirmed_minutes", f.Confirmed),
		q("bosaimail:availability:contract_year_planned_minutes", f.Planned),
		q("bosaimail:availability:contract_year_blip_minutes", f.Blip),
		q("bosaimail:outages:count_contract_year_before_exemptions", f.Outages),
		q("bosaimail:outages:count_contract_year", f.OutagesContract),
	}
}

// promtoolTest is the rules' side of a fixture: its input series and, for
// each window, the report's figures as the expected values.
func (f *fixture) promtoolTest(t *testing.T, got []figures) map[string]any {
	var inputs []map[string]string
	n := int(f.dur / f.step)
	for _, s := range f.series(t) {
		vals, ok := make([]float64, n), make([]bool, n)
		for i := range vals {
			vals[i], ok[i] = s.value(time.Duration(i) * f.step)
		}
		inputs = append(inputs, map[string]string{"series": s.family + "{" + s.labels + "}", "values": promValues(vals, ok)})
	}
	var tests []promTest
	for i, e := range f.Expect {
		from, to := f.offset(t, e.From), f.offset(t, e.To)
		w := fmt.Sprintf("%dm", int((to-from)/time.Minute))
		add := func(ts []promTest) {
			for _, pt := range ts {
				pt.EvalTime = fmt.Sprintf("%dm", int(to/time.Minute))
				tests = append(tests, pt)
			}
		}
		add(ruleFigures(e.Service, w, got[i]))
		if e.ContractYear {
			add(yearFigures(e.Service, got[i]))
		}
	}
	return map[string]any{
		"name":             f.name,
		"interval":         f.step.String(),
		"start_timestamp":  f.start.UTC().Format(time.RFC3339),
		"input_series":     inputs,
		"promql_expr_test": tests,
	}
}

// TestFixturesBothEngines is the shared fixture set in both engines.
func TestFixturesBothEngines(t *testing.T) {
	fixtures := loadFixtures(t)
	url := reporttest.StartWith(t, func(w *reporttest.OM) error {
		for _, f := range fixtures {
			for _, s := range f.series(t) {
				w.Series(s.family, s.labels, f.start, f.start.Add(f.dur), f.step, func(at time.Time) (float64, bool) { return s.value(at.Sub(f.start)) })
			}
		}
		return nil
	})
	var groups []map[string]any
	for _, f := range fixtures {
		got, _, _ := f.reportFigures(t, url)
		for i, e := range f.Expect {
			if got[i] != e.figures {
				t.Errorf("%s: report, %s %s-%s:\n got %+v\nwant %+v", f.name, e.Service, e.From, e.To, got[i], e.figures)
			}
		}
		groups = append(groups, f.promtoolTest(t, got))
	}
	root := reporttest.RepoRoot(t)
	doc := map[string]any{
		"rule_files":          []string{filepath.Join(root, "rules/bosaimail_rules.yaml")},
		"evaluation_interval": "1m",
		"group_eval_order":    []string{"bosaimail-availability", "bosaimail-availability-long"},
		"tests":               groups,
	}
	data, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "fixtures_test.yaml")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(reporttest.Tool(t, "promtool"), "test", "rules", path).CombinedOutput()
	if err != nil {
		keep := filepath.Join(os.TempDir(), "bosaimail-fixtures-failed.yaml")
		os.WriteFile(keep, data, 0o644)
		t.Errorf("the recording rules disagree with the report (promtool test kept in %s):\n%s", keep, out)
	}
	names := make([]string, len(fixtures))
	for i, f := range fixtures {
		names[i] = f.name
	}
	sort.Strings(names)
	t.Logf("fixtures: %s", strings.Join(names, ", "))
}
