package examples

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/bosaimail/bosaimail_exporter/internal/testkit/testbin"
)

var updateFixtures = flag.Bool("update", false, "rewrite the annotations of the Alertmanager fixtures from the generated rules")

const (
	fixtureDir = "alertmanager/tests/templates"
	alertsFile = "../rules/bosaimail_alerts.yaml"
	// The availability alerts read recorded series.
	recordingFile = "../rules/bosaimail_rules.yaml"
)

// amData is the part of Alertmanager's template data a fixture holds; the
// rest of the file is kept as it is.
type amData struct {
	Alerts []amAlert `json:"alerts"`
}

type amAlert struct {
	Status      string            `json:"status"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

// series is <fixture>.series.yaml: the input of a promtool unit test that
// makes every alert of the fixture fire at eval_time.
type series struct {
	EvaluationInterval string           `yaml:"evaluation_interval"`
	Interval           string           `yaml:"interval"`
	InputSeries        []map[string]any `yaml:"input_series"`
	EvalTime           string           `yaml:"eval_time"`
}

// TestAlertFixturesMatchRules makes the mails the golden files show the
// mails that are sent: every alert of every fixture must be what the real
// promtool evaluates from rules/bosaimail_alerts.yaml on the fixture's
// series, labels and annotations exactly. With -update the annotations are
// rewritten from promtool's answer (review the golden diff after `make
// alertmanager-golden`).
func TestAlertFixturesMatchRules(t *testing.T) {
	promtool := testbin.Path(t, "promtool")
	fixtures, err := filepath.Glob(filepath.Join(fixtureDir, "*.json"))
	if err != nil || len(fixtures) == 0 {
		t.Fatalf("no fixtures in %s: %v", fixtureDir, err)
	}
	var rules []string
	for _, f := range []string{alertsFile, recordingFile} {
		abs, err := filepath.Abs(f)
		if err != nil {
			t.Fatal(err)
		}
		rules = append(rules, abs)
	}
	order := groupEvalOrder(t, recordingFile, alertsFile)
	// One promtool run for all fixtures (a run costs seconds of start-up);
	// its output has a section per test file.
	dir := t.TempDir()
	type fixture struct {
		path, test string
		raw        map[string]any
		data       amData
		in         series
	}
	var all []fixture
	var args []string
	for i, fx := range fixtures {
		raw, data := readFixture(t, fx)
		var in series
		seriesFile := strings.TrimSuffix(fx, ".json") + ".series.yaml"
		b, err := os.ReadFile(seriesFile)
		if err != nil {
			t.Fatalf("every fixture needs the series that make its alerts fire: %v", err)
		}
		if err := yaml.Unmarshal(b, &in); err != nil {
			t.Fatalf("%s: %v", seriesFile, err)
		}
		tb, err := yaml.Marshal(promtoolTest(rules, order, in, data))
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(dir, fmt.Sprintf("fixture%02d.yaml", i))
		if err := os.WriteFile(file, tb, 0o600); err != nil {
			t.Fatal(err)
		}
		all = append(all, fixture{path: fx, test: file, raw: raw, data: data, in: in})
		args = append(args, file)
	}
	out, _ := exec.Command(promtool, append([]string{"test", "rules"}, args...)...).CombinedOutput()
	sections := map[string]string{}
	for _, sec := range strings.Split(string(out), "Processing test file: ")[1:] {
		name, rest, _ := strings.Cut(sec, "\n")
		sections[strings.TrimSpace(name)] = rest
	}
	for _, fx := range all {
		t.Run(filepath.Base(fx.path), func(t *testing.T) {
			sec, ok := sections[fx.test]
			if !ok {
				t.Fatalf("promtool did not test %s:\n%s", fx.test, out)
			}
			if strings.Contains(sec, "SUCCESS") && !strings.Contains(sec, "FAILED") {
				return
			}
			if !*updateFixtures {
				t.Fatalf("the annotations of %s differ from what the rules give (go test ./examples -run TestAlertFixturesMatchRules -update, then make alertmanager-golden):\n%s", fx.path, sec)
			}
			got := parseGot(sec)
			if len(got) == 0 {
				t.Fatalf("promtool failed and gave no alerts to update from:\n%s", sec)
			}
			for i, a := range fx.data.Alerts {
				ann, ok := got[labelKey(a.Labels)]
				if !ok {
					t.Fatalf("%s: alert %d (%v) is not produced by the rules at %s:\n%s", fx.path, i, a.Labels, fx.in.EvalTime, sec)
				}
				setAnnotations(fx.raw, i, ann)
			}
			writeFixture(t, fx.path, fx.raw)
		})
	}
}

// TestEveryMailedAlertHasAFixture: one reviewed mail per alert that is
// mailed at all (info alerts only inhibit; the Watchdog pings a heartbeat).
func TestEveryMailedAlertHasAFixture(t *testing.T) {
	b, err := os.ReadFile(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	var rf struct {
		Groups []struct {
			Rules []struct {
				Alert  string            `yaml:"alert"`
				Labels map[string]string `yaml:"labels"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &rf); err != nil {
		t.Fatal(err)
	}
	covered := map[string]bool{}
	fixtures, _ := filepath.Glob(filepath.Join(fixtureDir, "*.json"))
	for _, fx := range fixtures {
		_, data := readFixture(t, fx)
		for _, a := range data.Alerts {
			covered[a.Labels["alertname"]] = true
		}
	}
	var missing []string
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" || r.Alert == "Watchdog" || r.Labels["severity"] == "info" || covered[r.Alert] {
				continue
			}
			covered[r.Alert] = true
			missing = append(missing, r.Alert)
		}
	}
	if len(missing) > 0 {
		t.Errorf("alerts without a mail fixture in %s: %s", fixtureDir, strings.Join(missing, ", "))
	}
}

func readFixture(t *testing.T, path string) (map[string]any, amData) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	var data amData
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if err := json.Unmarshal(b, &data); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(data.Alerts) == 0 {
		t.Fatalf("%s: no alerts", path)
	}
	return raw, data
}

func writeFixture(t *testing.T, path string, raw map[string]any) {
	t.Helper()
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(raw); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func setAnnotations(raw map[string]any, i int, ann map[string]string) {
	alerts := raw["alerts"].([]any)
	a := alerts[i].(map[string]any)
	m := map[string]any{}
	for k, v := range ann {
		m[k] = v
	}
	a["annotations"] = m
}

// groupEvalOrder names every group of the files, in the files' order.
// promtool evaluates the groups of a unit test in an unspecified order (a
// Go map sorted by group_eval_order; unlisted groups all compare equal), so
// without it an alert on a recorded series sees that series one evaluation
// late in about half of the runs: a fixture whose alert starts firing at
// its eval_time then gets no alert. Recording groups first, as in
// rules/tests, makes every run evaluate the same thing.
func groupEvalOrder(t *testing.T, files ...string) []string {
	t.Helper()
	var names []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var rf struct {
			Groups []struct {
				Name string `yaml:"name"`
			} `yaml:"groups"`
		}
		if err := yaml.Unmarshal(b, &rf); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, g := range rf.Groups {
			names = append(names, g.Name)
		}
	}
	return names
}

// promtoolTest is a unit test expecting, at eval_time, exactly the
// fixture's alerts of each alert name with their labels and annotations,
// the groups evaluated in the given order.
func promtoolTest(rules, order []string, in series, data amData) map[string]any {
	byName := map[string][]map[string]any{}
	for _, a := range data.Alerts {
		labels := map[string]string{}
		for k, v := range a.Labels {
			if k != "alertname" {
				labels[k] = v
			}
		}
		ann := a.Annotations
		if ann == nil {
			ann = map[string]string{}
		}
		name := a.Labels["alertname"]
		byName[name] = append(byName[name], map[string]any{"exp_labels": labels, "exp_annotations": ann})
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	var cases []map[string]any
	for _, n := range names {
		cases = append(cases, map[string]any{"eval_time": in.EvalTime, "alertname": n, "exp_alerts": byName[n]})
	}
	return map[string]any{
		"rule_files":          rules,
		"evaluation_interval": in.EvaluationInterval,
		"group_eval_order":    order,
		"tests": []map[string]any{{
			"interval":        in.Interval,
			"input_series":    in.InputSeries,
			"alert_rule_test": cases,
		}},
	}
}

var (
	gotBlockRE = regexp.MustCompile(`(?s)got:\[(.*?)\n\s*\]`)
	alertRE    = regexp.MustCompile(`Labels:\{(.*)\}\n\s*Annotations:\{(.*)\}`)
	pairRE     = regexp.MustCompile(`(\w+)="((?:[^"\\]|\\.)*)"`)
)

// parseGot reads the alerts promtool reports it got, keyed by their labels.
func parseGot(out string) map[string]map[string]string {
	res := map[string]map[string]string{}
	for _, blk := range gotBlockRE.FindAllStringSubmatch(out, -1) {
		for _, m := range alertRE.FindAllStringSubmatch(blk[1], -1) {
			labels := pairs(m[1])
			res[labelKey(labels)] = pairs(m[2])
		}
	}
	return res
}

func pairs(s string) map[string]string {
	out := map[string]string{}
	for _, m := range pairRE.FindAllStringSubmatch(s, -1) {
		v, err := strconv.Unquote(`"` + m[2] + `"`)
		if err != nil {
			v = m[2]
		}
		out[m[1]] = v
	}
	return out
}

func labelKey(l map[string]string) string {
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%q,", k, l[k])
	}
	return b.String()
}
