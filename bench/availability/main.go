// Command availability measures what the contract's long-window rules cost
// on a real Prometheus: it writes a year of 15 s data for several services
// (the exporter's bosaimail_check_up and bosaimail_maintenance_active, plus
// the 1-minute series the availability group records from them), backfills
// it with `promtool tsdb create-blocks-from openmetrics`, starts Prometheus
// on that TSDB with rules/bosaimail_rules.yaml, and prints how long the
// 365-day rules take to evaluate, as Prometheus itself reports it (rule
// group evaluation time and the query engine's eval timings). A figure, not
// an assertion.
//
//	go run ./bench/availability -bin ./bin -rules rules/bosaimail_rules.yaml
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

var dropCaches = flag.Bool("drop-caches", false, "drop the page cache before starting Prometheus (root only), as after a reboot")

func main() {
	bin := flag.String("bin", "bin", "directory with promtool and prometheus")
	rules := flag.String("rules", "rules/bosaimail_rules.yaml", "recording rules to load")
	days := flag.Int("days", 365, "days of data")
	services := flag.Int("services", 5, "services")
	step := flag.Duration("step", 15*time.Second, "scrape interval of the generated raw data")
	runs := flag.Int("runs", 5, "query repetitions (the median is printed)")
	keep := flag.String("dir", "", "work directory to keep (default: a temporary one, removed); a later run with the same -dir reuses its data")
	flag.Parse()
	if err := run(*bin, *rules, *days, *services, *step, *runs, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "availability bench:", err)
		os.Exit(1)
	}
}

func run(bin, rules string, days, services int, step time.Duration, runs int, dir string) error {
	if dir == "" {
		d, err := os.MkdirTemp("", "bosaimail-availability-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	data := filepath.Join(dir, "tsdb")
	endFile := filepath.Join(dir, "end")
	end, err := reuse(data, endFile)
	if err != nil {
		return err
	}
	if !end.IsZero() {
		fmt.Printf("reusing the backfilled data in %s (ends %s)\n", data, end.Format(time.RFC3339))
	} else {
		if end, err = backfill(bin, dir, data, endFile, days, services, step); err != nil {
			return err
		}
	}
	if *dropCaches {
		// A Prometheus started after a reboot reads its blocks from disk.
		exec.Command("sync").Run()
		if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0o200); err != nil {
			return fmt.Errorf("-drop-caches: %v (needs root)", err)
		}
		fmt.Println("page cache dropped: the first evaluation reads the blocks from disk")
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := l.Addr().String()
	l.Close()
	// The rules as generated, except that the long group runs every 10s
	// instead of every 5m, so its first evaluation comes soon; the cost of
	// one evaluation does not depend on how often it runs.
	ruleText, err := os.ReadFile(rules)
	if err != nil {
		return err
	}
	fast, err := withGroupInterval(ruleText, longGroup, "10s")
	if err != nil {
		return fmt.Errorf("%s: %w", rules, err)
	}
	benchRules := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(benchRules, fast, 0o600); err != nil {
		return err
	}
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte("global:\n  evaluation_interval: 1m\nrule_files:\n  - "+benchRules+"\n"), 0o600); err != nil {
		return err
	}
	prom := exec.Command(filepath.Join(bin, "prometheus"), "--config.file="+cfg, "--storage.tsdb.path="+data,
		"--storage.tsdb.retention.time=400d", "--web.listen-address="+addr, "--log.level=warn")
	prom.Stderr = os.Stderr
	if err := prom.Start(); err != nil {
		return err
	}
	defer func() { prom.Process.Kill(); prom.Wait() }()
	base := "http://" + addr
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := poll(ctx, func() bool {
		resp, err := http.Get(base + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}); err != nil {
		return fmt.Errorf("prometheus never became ready: %v", err)
	}

	// The real rule evaluation, first after start (cold: nothing of the
	// year read yet; no query of this bench runs before it), then the next
	// one (warm).
	var cold, warm ruleGroup
	if err := poll(ctx, func() bool {
		g, err := rulesGroup(ctx, base, longGroup)
		if err != nil || g.LastEvaluation.IsZero() || g.LastEvaluation.Year() < 2000 {
			return false
		}
		cold = g
		return true
	}); err != nil {
		return fmt.Errorf("rule group never evaluated: %v", err)
	}
	if err := poll(ctx, func() bool {
		g, err := rulesGroup(ctx, base, longGroup)
		if err != nil || !g.LastEvaluation.After(cold.LastEvaluation) {
			return false
		}
		warm = g
		return true
	}); err != nil {
		return fmt.Errorf("rule group never evaluated twice: %v", err)
	}
	fmt.Printf("\nrule group %s (%d rules): first evaluation after start (cold) %s, the next (warm) %s\n", longGroup,
		len(cold.Rules), time.Duration(cold.EvaluationTime*float64(time.Second)).Round(time.Microsecond),
		time.Duration(warm.EvaluationTime*float64(time.Second)).Round(time.Microsecond))
	for i, r := range cold.Rules {
		fmt.Printf("  %-48s cold %10s  warm %10s\n", r.Name, time.Duration(r.EvaluationTime*float64(time.Second)).Round(time.Microsecond),
			time.Duration(warm.Rules[i].EvaluationTime*float64(time.Second)).Round(time.Microsecond))
	}
	if g, err := rulesGroup(ctx, base, minuteGroup); err == nil {
		fmt.Printf("rule group %s (%d rules, every minute, contract-year sums included): last evaluation %s\n",
			minuteGroup, len(g.Rules), time.Duration(g.EvaluationTime*float64(time.Second)).Round(time.Microsecond))
	}

	// The rule expressions of the long group, as Prometheus evaluates them,
	// read from the rule file (so the bench follows the rules), plus the
	// raw-data equivalent the recorded 1m series saves.
	long, err := longGroupRules(ruleText)
	if err != nil {
		return fmt.Errorf("%s: %w", rules, err)
	}
	var exprs []string
	for _, r := range long {
		exprs = append(exprs, strings.Join(strings.Fields(r.Expr), " "))
	}
	exprs = append(exprs, fmt.Sprintf("avg_over_time(bosaimail_check_up{critical=\"true\"}[%dd])  # raw 15s data, for comparison", days))
	at := fmt.Sprint(end.Unix())
	fmt.Printf("\nquery (at the end of the data)                                       median eval   median wall  series\n")
	for _, e := range exprs {
		q, note, _ := strings.Cut(e, "  # ")
		var evals, walls []time.Duration
		n := 0
		for range runs {
			t0 := time.Now()
			r, err := query(ctx, base, q, at)
			if err != nil {
				return fmt.Errorf("%s: %v", q, err)
			}
			walls = append(walls, time.Since(t0))
			evals = append(evals, time.Duration(r.Data.Stats.Timings.EvalTotalTime*float64(time.Second)))
			n = len(r.Data.Result)
		}
		if n < services {
			return fmt.Errorf("%s: %d series for %d services: the generated data does not feed it", q, n, services)
		}
		label := q
		if note != "" {
			label += " (" + note + ")"
		}
		fmt.Printf("%-68s %10s %12s %7d\n", shorten(label, 68), median(evals).Round(time.Microsecond), median(walls).Round(time.Microsecond), n)
	}

	return nil
}

// reuse returns the end of the data a previous run with -dir left, or the
// zero time when there is none.
func reuse(data, endFile string) (time.Time, error) {
	b, err := os.ReadFile(endFile)
	if os.IsNotExist(err) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	if _, err := os.Stat(data); err != nil {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339, strings.TrimSpace(string(b)))
}

// backfill generates the data and writes it into a TSDB with promtool.
func backfill(bin, dir, data, endFile string, days, services int, step time.Duration) (time.Time, error) {
	end := time.Now().Truncate(time.Minute).Add(-time.Minute)
	start := end.Add(-time.Duration(days) * 24 * time.Hour)
	om := filepath.Join(dir, "data.om")
	t0 := time.Now()
	samples, err := writeOpenMetrics(om, start, end, services, step)
	if err != nil {
		return time.Time{}, err
	}
	fmt.Printf("generated %d samples (%d days, %d services, raw every %s, recorded every 1m) in %s\n",
		samples, days, services, step, time.Since(t0).Round(time.Second))
	t0 = time.Now()
	// Large blocks: the backfiller scans the input once per block.
	cmd := exec.Command(filepath.Join(bin, "promtool"), "tsdb", "create-blocks-from", "openmetrics",
		"--max-block-duration="+fmt.Sprintf("%dh", 24*31), om, data)
	if out, err := cmd.CombinedOutput(); err != nil {
		return time.Time{}, fmt.Errorf("backfill: %v\n%s", err, tail(out))
	}
	os.Remove(om)
	fmt.Printf("backfilled with promtool tsdb create-blocks-from openmetrics in %s\n", time.Since(t0).Round(time.Second))
	return end, os.WriteFile(endFile, []byte(end.Format(time.RFC3339)+"\n"), 0o600)
}

// writeOpenMetrics writes per service one critical check from one instance
// and the maintenance flag every step, and the availability group's 1m
// series: an outage of 20 minutes a month and a 2-hour planned stop on the
// second Tuesday of each month, so the data is realistic for compression.
func writeOpenMetrics(path string, start, end time.Time, services int, step time.Duration) (int, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	n := 0
	rng := rand.New(rand.NewPCG(1, 2))
	for s := 0; s < services; s++ {
		svc := fmt.Sprintf("svc%d", s+1)
		outageAt := map[[2]int]int{} // (year, month) -> day of the outage
		down := func(t time.Time) bool {
			k := [2]int{t.Year(), int(t.Month())}
			d, ok := outageAt[k]
			if !ok {
				d = 1 + rng.IntN(28)
				outageAt[k] = d
			}
			return t.Day() == d && t.Hour() == 10 && t.Minute() < 20
		}
		maint := func(t time.Time) bool {
			return t.Weekday() == time.Tuesday && (t.Day()-1)/7 == 1 && t.Hour() >= 2 && t.Hour() < 4
		}
		b := func(v bool) int {
			if v {
				return 1
			}
			return 0
		}
		type series struct {
			name  string
			every time.Duration
			value func(time.Time) (int, bool)
		}
		all := []series{
			{fmt.Sprintf(`bosaimail_check_up{job="bosaimail",instance="a",service=%q,check="top",kind="http",critical="true"}`, svc), step,
				func(t time.Time) (int, bool) { return 1 - b(down(t)), true }},
			{fmt.Sprintf(`bosaimail_maintenance_active{job="bosaimail",instance="a",service=%q}`, svc), step,
				func(t time.Time) (int, bool) { return b(maint(t)), true }},
		}
		for _, name := range recordedInputs {
			all = append(all, series{fmt.Sprintf("%s{service=%q}", name, svc), time.Minute, recorded(name, down, maint)})
		}
		for _, sr := range all {
			fam, _, _ := strings.Cut(sr.name, "{")
			fmt.Fprintf(w, "# TYPE %s gauge\n", strings.ReplaceAll(fam, ":", "_"))
			for t := start; !t.After(end); t = t.Add(sr.every) {
				if v, ok := sr.value(t.In(jst)); ok {
					fmt.Fprintf(w, "%s %d %d\n", sr.name, v, t.Unix())
					n++
				}
			}
		}
	}
	w.WriteString("# EOF\n")
	return n, w.Flush()
}

var jst = time.FixedZone("JST", 9*60*60)

type queryResult struct {
	Data struct {
		Result []json.RawMessage `json:"result"`
		Stats  struct {
			Timings struct {
				EvalTotalTime float64 `json:"evalTotalTime"`
			} `json:"timings"`
		} `json:"stats"`
	} `json:"data"`
	Error string `json:"error"`
}

func query(ctx context.Context, base, q, at string) (queryResult, error) {
	var r queryResult
	form := url.Values{"query": {q}, "time": {at}, "stats": {"all"}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/query", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return r, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return r, err
	}
	if r.Error != "" {
		return r, fmt.Errorf("%s", r.Error)
	}
	return r, nil
}

type ruleGroup struct {
	Name           string    `json:"name"`
	EvaluationTime float64   `json:"evaluationTime"`
	LastEvaluation time.Time `json:"lastEvaluation"`
	Rules          []struct {
		Name           string  `json:"name"`
		EvaluationTime float64 `json:"evaluationTime"`
	} `json:"rules"`
}

func rulesGroup(ctx context.Context, base, name string) (ruleGroup, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/rules?type=record", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return ruleGroup{}, err
	}
	defer resp.Body.Close()
	var r struct {
		Data struct {
			Groups []ruleGroup `json:"groups"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return ruleGroup{}, err
	}
	for _, g := range r.Data.Groups {
		if g.Name == name {
			return g, nil
		}
	}
	return ruleGroup{}, fmt.Errorf("no group %s", name)
}

// longGroup is the rule group of the 30-day and 365-day windows;
// minuteGroup the one that records the 1-minute series it reads.
const (
	longGroup   = "bosaimail-availability-long"
	minuteGroup = "bosaimail-availability"
)

// recordedInputs are the 1-minute series of the availability group that
// the long group reads; recorded gives their values. A rule file whose
// long group reads another series is refused (longGroupInputs), so the
// bench cannot silently measure a query over nothing.
var recordedInputs = []string{
	"bosaimail:availability:bad_minutes",
	"bosaimail:outages:contract_start",
	"bosaimail:availability:services",
}

// recorded is the value of a recorded input at minute t: a down minute is
// a bad minute (a 停止 minute not exempted), planned stops are left out of
// the minutes, an outage's first minute is its contract start.
func recorded(name string, down, maint func(time.Time) bool) func(time.Time) (int, bool) {
	return func(t time.Time) (int, bool) {
		switch name {
		case "bosaimail:availability:bad_minutes":
			if down(t) {
				return 1, !maint(t)
			}
			return 0, !maint(t)
		case "bosaimail:outages:contract_start":
			return 1, down(t) && !down(t.Add(-time.Minute))
		default:
			return 1, true
		}
	}
}

type rule struct {
	Record string `yaml:"record"`
	Expr   string `yaml:"expr"`
}

// longGroupRules returns the long group's rules, after checking that every
// series they read is one the bench writes.
func longGroupRules(ruleText []byte) ([]rule, error) {
	var doc struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []rule `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(ruleText, &doc); err != nil {
		return nil, err
	}
	for _, g := range doc.Groups {
		if g.Name != longGroup {
			continue
		}
		own := map[string]bool{}
		for _, r := range g.Rules {
			own[r.Record] = true
		}
		for _, r := range g.Rules {
			for _, name := range seriesName.FindAllString(r.Expr, -1) {
				if !own[name] && !slices.Contains(recordedInputs, name) {
					return nil, fmt.Errorf("rule %s reads %s, which the bench does not generate: add it to recordedInputs", r.Record, name)
				}
			}
		}
		return g.Rules, nil
	}
	return nil, fmt.Errorf("no rule group %q", longGroup)
}

var seriesName = regexp.MustCompile(`bosaimail[a-z0-9_:]*`)

func shorten(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// withGroupInterval sets the evaluation interval of one group of a rule
// file. It edits the decoded YAML rather than the text, so it holds however
// the generator quotes or orders the keys; a file without the group is an
// error rather than a bench that waits for an evaluation that never comes.
func withGroupInterval(ruleText []byte, group, interval string) ([]byte, error) {
	var doc struct {
		Groups []map[string]any `yaml:"groups"`
	}
	if err := yaml.Unmarshal(ruleText, &doc); err != nil {
		return nil, err
	}
	found := false
	for _, g := range doc.Groups {
		if g["name"] == group {
			g["interval"] = interval
			found = true
		}
	}
	if !found {
		return nil, fmt.Errorf("no rule group %q", group)
	}
	return yaml.Marshal(doc)
}

// poll retries cond until it holds or ctx ends.
func poll(ctx context.Context, cond func() bool) error {
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	return nil
}

func median(ds []time.Duration) time.Duration {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[len(ds)/2]
}

func tail(b []byte) string {
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}
