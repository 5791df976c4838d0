package dashboards

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// exporterPayload is a recorded /metrics page of a third-party exporter the
// mixin reads (testdata/database), scraped under the given job and instance
// as the mixin's default selectors expect.
type exporterPayload struct {
	file, job, instance string
}

// The database and its machine share a host, so the rules that match them
// by the host part of instance find each other.
var exporterPayloads = []exporterPayload{
	{"../testdata/database/postgres_exporter.prom", "postgres", "127.0.0.1:9187"},
	{"../testdata/database/node_exporter.prom", "node", "127.0.0.1:9100"},
}

type payloadSample struct {
	name, labels string // labels: the inside of the braces, may be empty
	value        float64
	counter      bool
}

// readPayload parses the text exposition format as exporters write it: one
// sample a line, no timestamps; the value is after the last space (label
// values may hold spaces).
func readPayload(t *testing.T, file string) []payloadSample {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	counters := map[string]bool{}
	var out []payloadSample
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "#") {
			if fs := strings.Fields(line); len(fs) == 4 && fs[1] == "TYPE" && fs[3] == "counter" {
				counters[fs[2]] = true
			}
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			t.Fatalf("%s:%d: no value: %q", file, n, line)
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("%s:%d: value: %v", file, n, err)
		}
		series := line[:i]
		s := payloadSample{name: series, value: v}
		if j := strings.IndexByte(series, '{'); j >= 0 {
			if !strings.HasSuffix(series, "}") {
				t.Fatalf("%s:%d: unterminated labels: %q", file, n, line)
			}
			s.name, s.labels = series[:j], series[j+1:len(series)-1]
		}
		s.counter = counters[s.name]
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("%s: no samples", file)
	}
	return out
}

// exporterOpenMetrics renders three hours of one-minute samples of every
// recorded exporter series, ending at end: counters grow by one a minute
// (so rate() answers), sizes grow and free space shrinks by 0.01 % a
// minute (so the growth forecasts answer); other gauges keep their
// recorded value. No TYPE lines: OpenMetrics would want counters named
// *_total, which postgres_exporter's are not.
func exporterOpenMetrics(t *testing.T, end time.Time) string {
	var b strings.Builder
	start := end.Add(-3 * time.Hour)
	for _, p := range exporterPayloads {
		for _, s := range readPayload(t, p.file) {
			lbl := fmt.Sprintf("job=%q,instance=%q", p.job, p.instance)
			if s.labels != "" {
				lbl += "," + strings.TrimSuffix(s.labels, ",")
			}
			grow := strings.Contains(s.name, "size_bytes")
			shrink := strings.HasPrefix(s.name, "node_filesystem_") && (strings.HasSuffix(s.name, "_avail_bytes") || strings.HasSuffix(s.name, "_free_bytes") || strings.HasSuffix(s.name, "_files_free"))
			for i, ts := 0, start; !ts.After(end); i, ts = i+1, ts.Add(time.Minute) {
				v := s.value
				switch {
				case s.counter:
					v += float64(i)
				case grow:
					v *= 1 + float64(i)*1e-4
				case shrink:
					v *= 1 - float64(i)*1e-4
				}
				fmt.Fprintf(&b, "%s{%s} %s %d\n", s.name, lbl, strconv.FormatFloat(v, 'g', -1, 64), ts.Unix())
			}
		}
	}
	return b.String()
}

var exporterMetricRE = regexp.MustCompile(`\b((?:pg|node)_[a-zA-Z0-9_]+)\b`)

// TestQueriesUseRecordedExporterMetrics: every postgres_exporter and
// node_exporter series a panel or rule reads is one the recorded payloads
// (real exporters, examples/database/postgres_exporter_queries.yaml) hold,
// except the few that only exist on replicas or with --collector.systemd.
func TestQueriesUseRecordedExporterMetrics(t *testing.T) {
	recorded := map[string]bool{}
	for _, p := range exporterPayloads {
		for _, s := range readPayload(t, p.file) {
			recorded[s.name] = true
		}
	}
	// Series the test machine cannot produce: replication slots need a
	// replica, systemd units a running systemd.
	absent := map[string]bool{"pg_replication_slots_active": true, "node_systemd_unit_state": true}
	used := map[string]string{}
	for _, q := range allQueries(t) {
		for _, m := range exporterMetricRE.FindAllString(quotedRE.ReplaceAllString(q.expr, `""`), -1) {
			used[m] = q.file + " / " + q.panel
		}
	}
	for _, f := range []string{"../rules/bosaimail_alerts.yaml", "../rules/bosaimail_rules.yaml"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			expr, ok := strings.CutPrefix(strings.TrimSpace(line), "expr: ")
			if !ok {
				continue
			}
			if uq, err := strconv.Unquote(expr); err == nil {
				expr = uq
			}
			for _, m := range exporterMetricRE.FindAllString(quotedRE.ReplaceAllString(expr, `""`), -1) {
				if _, ok := used[m]; !ok {
					used[m] = f
				}
			}
		}
	}
	var unknown []string
	for m, where := range used {
		if !recorded[m] && !absent[m] {
			unknown = append(unknown, where+": "+m)
		}
	}
	sort.Strings(unknown)
	if len(unknown) > 0 {
		t.Errorf("series no recorded exporter payload (testdata/database) has:\n%s", strings.Join(unknown, "\n"))
	}
}
