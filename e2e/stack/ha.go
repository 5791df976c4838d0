package stack

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// HAConfig is the production topology of docs/operations.md on 127.0.0.1:
// the simulated services and their mail server, two exporters (vantage
// points), two Prometheus replicas configured from examples/prometheus.yml,
// three Alertmanagers clustered by gossip from
// examples/alertmanager/alertmanager.yml, the ops mail server, the
// heartbeat receiver and, when VictoriaMetrics is given, the long-term
// store both replicas write to.
type HAConfig struct {
	Root, Bin, Tools, Dir string
	// Intervals of the replicas (default 15s each).
	ScrapeInterval, EvalInterval time.Duration
	// RuleFiles the replicas load (default rules/*.yaml of Root).
	RuleFiles []string
	// ResendDelay is Prometheus' --rules.alert.resend-delay (default its
	// own, 1m). An alert a dead replica sent stays active in Alertmanager
	// for four times this.
	ResendDelay time.Duration
	// VictoriaMetrics runs the long-term store (victoria-metrics in
	// Tools) when set.
	VictoriaMetrics bool
	Log             func(format string, args ...any)
}

// HA is a running HA topology. Members are addressed by index: exporters
// and replicas 0..1, Alertmanagers 0..2.
type HA struct {
	*Stack
	hc            HAConfig
	exporters     []int
	prometheus    []int
	alertmanagers []int
	vm            int
	// live processes by member name, for Kill and Restart.
	members map[string]*member
}

type member struct {
	bin  string
	args []string
	p    *proc
	// ready is polled after a (re)start.
	ready string
}

// Member names.
func ExporterName(i int) string     { return fmt.Sprintf("exporter-%d", i+1) }
func PrometheusName(i int) string   { return fmt.Sprintf("prometheus-%c", 'a'+i) }
func AlertmanagerName(i int) string { return fmt.Sprintf("alertmanager-%d", i+1) }

// Dir is the work directory (configurations, data, logs/).
func (h *HA) Dir() string { return h.cfg.Dir }

// ExporterAddr is the host:port of exporter i (its `instance` label).
func (h *HA) ExporterAddr(i int) string { return addr(h.exporters[i]) }

// ReplicaURL is the base URL of Prometheus replica i.
func (h *HA) ReplicaURL(i int) string { return "http://" + addr(h.prometheus[i]) }

// AlertmanagerURLOf is the base URL of Alertmanager i.
func (h *HA) AlertmanagerURLOf(i int) string { return "http://" + addr(h.alertmanagers[i]) }

// VictoriaMetricsURL is the long-term store's base URL (its Prometheus
// query API is under /api/v1), or "" when it does not run.
func (h *HA) VictoriaMetricsURL() string {
	if h.vm == 0 {
		return ""
	}
	return "http://" + addr(h.vm)
}

// StartHA runs the topology and waits until every member is ready. On
// error everything already started is stopped.
func StartHA(ctx context.Context, hc HAConfig) (h *HA, err error) {
	if hc.ScrapeInterval == 0 {
		hc.ScrapeInterval = 15 * time.Second
	}
	if hc.EvalInterval == 0 {
		hc.EvalInterval = 15 * time.Second
	}
	if len(hc.RuleFiles) == 0 {
		hc.RuleFiles = []string{filepath.Join(hc.Root, "rules", "*.yaml")}
	}
	if hc.Tools == "" {
		hc.Tools = hc.Bin
	}
	if hc.Log == nil {
		hc.Log = func(string, ...any) {}
	}
	ports := FreePorts()
	if err := assignPorts(&ports); err != nil {
		return nil, err
	}
	s := &Stack{cfg: Config{
		Root: hc.Root, Bin: hc.Bin, Tools: hc.Tools, Dir: hc.Dir, Ports: ports,
		ExporterConfig: filepath.Join(hc.Root, "examples", "demo", "bosaimail.yml"),
		ScrapeInterval: hc.ScrapeInterval, EvalInterval: hc.EvalInterval,
		Log: logWriter(hc.Log),
	}, client: &http.Client{Timeout: 10 * time.Second}}
	h = &HA{Stack: s, hc: hc, members: map[string]*member{}}
	defer func() {
		if err != nil {
			h.Stop()
		}
	}()
	for _, d := range []string{"logs", "tls", "data"} {
		if err := os.MkdirAll(s.path(d), 0o755); err != nil {
			return h, err
		}
	}
	s.OpsMail = &Mailbox{UI: "http://" + addr(ports.OpsMailUI), client: s.client}
	s.ServiceMail = &Mailbox{UI: "http://" + addr(ports.ServiceMailUI), client: s.client}
	if s.Heartbeat, err = startHeartbeat(ports.Heartbeat); err != nil {
		return h, fmt.Errorf("heartbeat receiver: %w", err)
	}
	if err := s.startOpsMail(ctx); err != nil {
		return h, err
	}
	if err := s.startServiceMail(ctx); err != nil {
		return h, err
	}
	for _, sim := range ports.Sims {
		if err := s.startSim(ctx, sim); err != nil {
			return h, err
		}
	}
	free := func(n int) ([]int, error) {
		var out []int
		for range n {
			p, err := freePort()
			if err != nil {
				return nil, err
			}
			out = append(out, p)
		}
		return out, nil
	}
	if h.exporters, err = free(2); err != nil {
		return h, err
	}
	if h.prometheus, err = free(2); err != nil {
		return h, err
	}
	if h.alertmanagers, err = free(3); err != nil {
		return h, err
	}
	gossip, err := free(3)
	if err != nil {
		return h, err
	}

	if err := s.exporterConfig(); err != nil {
		return h, err
	}
	for i := range h.exporters {
		dir := s.path("data", ExporterName(i))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return h, err
		}
		h.members[ExporterName(i)] = &member{bin: "bosaimail_exporter", args: []string{
			"--config.file", s.ExporterConfigPath,
			"--web.listen-address", addr(h.exporters[i]),
			"--storage.path", dir,
			// Every failed check in the log, to explain a failing test.
			"--log.level", "debug",
		}, ready: "http://" + addr(h.exporters[i]) + "/-/ready"}
		if err := h.Restart(ctx, ExporterName(i)); err != nil {
			return h, err
		}
	}

	if err := h.startAlertmanagers(ctx, gossip); err != nil {
		return h, err
	}
	if hc.VictoriaMetrics {
		if err := h.startVictoriaMetrics(ctx); err != nil {
			return h, err
		}
	}
	for i := range h.prometheus {
		if err := h.startReplica(ctx, i); err != nil {
			return h, err
		}
	}
	return h, nil
}

func (h *HA) startAlertmanagers(ctx context.Context, gossip []int) error {
	s := h.Stack
	cfg, err := s.alertmanagerConfig()
	if err != nil {
		return err
	}
	cfgPath := s.path("alertmanager.yml")
	if err := os.WriteFile(cfgPath, cfg, 0o644); err != nil {
		return err
	}
	for i, port := range h.alertmanagers {
		dir := s.path("data", AlertmanagerName(i))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		url := "http://" + addr(port)
		args := []string{
			"--config.file", cfgPath,
			"--storage.path", dir,
			"--web.listen-address", addr(port),
			"--web.external-url", url,
			"--cluster.listen-address", addr(gossip[i]),
			"--cluster.advertise-address", addr(gossip[i]),
		}
		for j, peer := range gossip {
			if j != i {
				args = append(args, "--cluster.peer", addr(peer))
			}
		}
		h.members[AlertmanagerName(i)] = &member{bin: "alertmanager", args: args, ready: url + "/-/ready"}
		if err := h.Restart(ctx, AlertmanagerName(i)); err != nil {
			return err
		}
	}
	// The cluster is formed when every member sees the other two.
	for i := range h.alertmanagers {
		if err := h.waitPeers(ctx, i, len(h.alertmanagers)); err != nil {
			return err
		}
	}
	return nil
}

// waitPeers waits until Alertmanager i reports n cluster members.
func (h *HA) waitPeers(ctx context.Context, i, n int) error {
	var last string
	for {
		st, err := getJSON[struct {
			Cluster struct {
				Status string `json:"status"`
				Peers  []any  `json:"peers"`
			} `json:"cluster"`
		}](ctx, h.client, h.AlertmanagerURLOf(i)+"/api/v2/status")
		if err == nil && len(st.Cluster.Peers) == n {
			return nil
		}
		last = fmt.Sprintf("%+v %v", st.Cluster, err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: cluster of %d never formed (last: %s)", AlertmanagerName(i), n, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (h *HA) startVictoriaMetrics(ctx context.Context) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	h.vm = port
	h.members["victoria-metrics"] = &member{bin: "victoria-metrics", args: VictoriaMetricsArgs(
		h.path("data", "victoria-metrics"), addr(port), h.hc.ScrapeInterval,
	), ready: h.VictoriaMetricsURL() + "/health"}
	return h.Restart(ctx, "victoria-metrics")
}

// VictoriaMetricsArgs are the flags of the long-term store as
// docs/operations.md gives them, on a test's directory and address:
// deduplication of the replicas at the scrape interval, 400 days of
// retention, and queries that see samples as soon as they are written
// (the default hides the last 30 s, which a test would wait out). Its
// response cache is off: with it, VictoriaMetrics moves a range query's
// start and end to multiples of the step, which shifts the report's
// minute grid (evaluated at the last millisecond of each minute) by a
// whole minute.
func VictoriaMetricsArgs(dataDir, listen string, scrapeInterval time.Duration) []string {
	return []string{
		"-search.disableCache",
		"-storageDataPath=" + dataDir,
		"-httpListenAddr=" + listen,
		"-retentionPeriod=400d",
		"-dedup.minScrapeInterval=" + scrapeInterval.String(),
		"-search.latencyOffset=0s",
		"-loggerLevel=WARN",
	}
}

func (h *HA) startReplica(ctx context.Context, i int) error {
	var ams, exps []string
	for _, p := range h.alertmanagers {
		ams = append(ams, addr(p))
	}
	for _, p := range h.exporters {
		exps = append(exps, addr(p))
	}
	rw := ""
	if h.vm != 0 {
		rw = h.VictoriaMetricsURL() + "/api/v1/write"
	}
	name := PrometheusName(i)
	cfg, err := PrometheusReplicaConfig(filepath.Join(h.cfg.Root, "examples", "prometheus.yml"), Replica{
		Name:           strings.TrimPrefix(name, "prometheus-"),
		ScrapeInterval: h.hc.ScrapeInterval, EvalInterval: h.hc.EvalInterval,
		RuleFiles: h.hc.RuleFiles, Alertmanagers: ams, Exporters: exps, RemoteWrite: rw,
	})
	if err != nil {
		return err
	}
	cfgPath := h.path(name + ".yml")
	if err := os.WriteFile(cfgPath, cfg, 0o644); err != nil {
		return err
	}
	args := []string{
		"--config.file", cfgPath,
		"--storage.tsdb.path", h.path("data", name),
		"--web.listen-address", addr(h.prometheus[i]),
	}
	if h.hc.ResendDelay > 0 {
		args = append(args, "--rules.alert.resend-delay="+h.hc.ResendDelay.String())
	}
	h.members[name] = &member{bin: "prometheus", args: args, ready: h.ReplicaURL(i) + "/-/ready"}
	return h.Restart(ctx, name)
}

// Kill ends a member at once with SIGKILL, as a crashed machine would.
func (h *HA) Kill(name string) error {
	m, ok := h.members[name]
	if !ok || m.p == nil {
		return fmt.Errorf("no running member %q", name)
	}
	_ = syscall.Kill(-m.p.cmd.Process.Pid, syscall.SIGKILL)
	<-m.p.done
	m.p.logFile.Close()
	h.procs = slices.DeleteFunc(h.procs, func(p *proc) bool { return p == m.p })
	m.p = nil
	h.hc.Log("killed %s (SIGKILL)", name)
	return nil
}

// Restart starts a member (again) with its flags and data directory, and
// waits until it is ready.
func (h *HA) Restart(ctx context.Context, name string) error {
	m, ok := h.members[name]
	if !ok {
		return fmt.Errorf("no member %q", name)
	}
	if m.p != nil {
		return fmt.Errorf("%s is running", name)
	}
	p, err := h.start(ctx, name, m.bin, m.args...)
	if err != nil {
		return err
	}
	m.p = p
	return p.waitHTTP(ctx, h.client, m.ready)
}

// QueryAt evaluates an instant query on any Prometheus-compatible API
// (a replica or the long-term store) and returns the sample values.
func (h *HA) QueryAt(ctx context.Context, base, expr string) ([]float64, error) {
	return queryValues(ctx, h.client, base, expr)
}

// PrometheusAlertsAt lists the pending and firing alerts of replica i.
func (h *HA) PrometheusAlertsAt(ctx context.Context, i int) ([]PrometheusAlert, error) {
	out, err := getJSON[struct {
		Data struct {
			Alerts []PrometheusAlert `json:"alerts"`
		} `json:"data"`
	}](ctx, h.client, h.ReplicaURL(i)+"/api/v1/alerts")
	return out.Data.Alerts, err
}

// AlertmanagerAlertsAt lists the alerts Alertmanager i holds.
func (h *HA) AlertmanagerAlertsAt(ctx context.Context, i int) ([]Alert, error) {
	return getJSON[[]Alert](ctx, h.client, h.AlertmanagerURLOf(i)+"/api/v2/alerts?inhibited=true&silenced=true&active=true&unprocessed=true")
}

type logFunc func(format string, args ...any)

func (f logFunc) Write(b []byte) (int, error) {
	f("%s", strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

func logWriter(f func(string, ...any)) logFunc { return logFunc(f) }

// FreePort returns a loopback port nobody listens on now.
func FreePort() (int, error) { return freePort() }

// RangeSeries is one series of a range query: its labels and samples.
type RangeSeries struct {
	Labels map[string]string
	Times  []time.Time
	Values []float64
}

// QueryRangeAt evaluates a range query on any Prometheus-compatible API.
func (h *HA) QueryRangeAt(ctx context.Context, base, expr string, start, end time.Time, step time.Duration) ([]RangeSeries, error) {
	u := fmt.Sprintf("%s/api/v1/query_range?query=%s&start=%d&end=%d&step=%gs", base, url.QueryEscape(expr), start.Unix(), end.Unix(), step.Seconds())
	out, err := getJSON[struct {
		Data struct {
			Result []struct {
				Metric map[string]string    `json:"metric"`
				Values [][2]json.RawMessage `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}](ctx, h.client, u)
	if err != nil {
		return nil, err
	}
	var res []RangeSeries
	for _, r := range out.Data.Result {
		s := RangeSeries{Labels: r.Metric}
		for _, v := range r.Values {
			var ts float64
			var str string
			if err := json.Unmarshal(v[0], &ts); err != nil {
				return nil, fmt.Errorf("range query %q: %w", expr, err)
			}
			if err := json.Unmarshal(v[1], &str); err != nil {
				return nil, fmt.Errorf("range query %q: %w", expr, err)
			}
			f, err := strconv.ParseFloat(str, 64)
			if err != nil {
				return nil, fmt.Errorf("range query %q: %w", expr, err)
			}
			s.Times = append(s.Times, time.UnixMilli(int64(ts*1000)))
			s.Values = append(s.Values, f)
		}
		res = append(res, s)
	}
	return res, nil
}
