package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bosaimail/bosaimail_exporter/e2e/stack"
	"github.com/bosaimail/bosaimail_exporter/internal/testkit/testbin"
)

// haResend is the replicas' --rules.alert.resend-delay in the HA test: an
// alert sent by a replica that then dies stays active in Alertmanager for
// four times this (production: the default 1m, so 4m).
const haResend = 5 * time.Second

// haPeerTimeout is Alertmanager's --cluster.peer-timeout (its default):
// the second member of the cluster notifies this long after the first,
// if the first's notification has not reached it.
const haPeerTimeout = 15 * time.Second

// haExporterDownFor shortens BosaiMailExporterDown's `for` (5m in the
// shipped rules) so the test of a dead vantage point takes seconds; every
// other rule is as generated.
const haExporterDownFor = "30s"

// haOnly skips the HA tests outside `make e2e-ha`, so `make e2e` does not
// run them a second time.
func haOnly(t *testing.T) {
	t.Helper()
	if os.Getenv("BOSAIMAIL_E2E_HA") == "" {
		t.Skip("HA topology: run make e2e-ha (or set BOSAIMAIL_E2E_HA=1 with BOSAIMAIL_E2E=1)")
	}
}

// haRules generates the mixin's rules with the one override above.
func haRules(t *testing.T, jsonnet string) []string {
	t.Helper()
	dir := t.TempDir()
	root := testbin.RepoRoot()
	var files []string
	for _, part := range []string{"prometheusAlerts", "prometheusRules"} {
		expr := fmt.Sprintf(`std.manifestYamlDoc(((import 'mixin.libsonnet') + {_config+:: {exporterDownFor: %q}}).%s, quote_keys=false)`, haExporterDownFor, part)
		out, err := exec.Command(jsonnet, "-J", filepath.Join(root, "mixin"), "-S", "-e", expr).Output()
		if err != nil {
			t.Fatalf("jsonnet %s: %v", part, err)
		}
		f := filepath.Join(dir, part+".yaml")
		if err := os.WriteFile(f, out, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	return files
}

// TestHATopology runs the production topology of docs/operations.md: two
// exporters (vantage points), two Prometheus replicas configured from
// examples/prometheus.yml, three Alertmanagers clustered by gossip
// (examples/alertmanager/alertmanager.yml), the ops mail server, the
// heartbeat receiver and VictoriaMetrics as the long-term store, and
// checks the mail of four failure scenarios exactly:
//
//  1. one fault: one 【障害発生】 and one 【復旧】 per recipient, despite two
//     replicas and three Alertmanagers;
//  3. one exporter killed: BosaiMailExporterDown for it, no
//     BosaiMailServiceDown, the services stay up in the availability rules;
//  2. a replica and an Alertmanager killed (SIGKILL) while an alert fires:
//     the recovery is mailed once; a new fault while they are down is
//     mailed once;
//  4. the Watchdog keeps reaching the heartbeat receiver while one replica
//     lives, and stops when both are gone.
//
// Mail counts are checked at the end, after the last scenario's waits,
// which outlast the cluster's peer timeouts (a duplicate would have come).
func TestHATopology(t *testing.T) {
	haOnly(t)
	tools := toolsDir(t, "prometheus", "alertmanager", "mailpit", "jsonnet", "victoria-metrics")
	rules := haRules(t, filepath.Join(tools, "jsonnet"))
	bin := programs(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	begin := time.Now()

	h, err := stack.StartHA(ctx, stack.HAConfig{
		Root: testbin.RepoRoot(), Bin: bin, Tools: tools, Dir: t.TempDir(),
		ScrapeInterval: e2eScrape, EvalInterval: e2eEval, RuleFiles: rules,
		ResendDelay: haResend, VictoriaMetrics: true,
		Log: t.Logf,
	})
	if err != nil {
		t.Fatal(err)
	}
	stopOnCleanup(t, h.Stack)
	for i := range 2 {
		waitReplicaHealthy(ctx, t, h, i)
	}
	if !poll(ctx, 500*time.Millisecond, func() bool { return h.Heartbeat.Status().Pings > 0 }) {
		t.Fatal("the Watchdog never reached the heartbeat receiver")
	}
	if err := h.OpsMail.DeleteAll(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("topology ready after %s", time.Since(begin).Round(time.Second))
	recipients := []string{oncall, prefecture}
	const (
		// Subjects are the alerts' Japanese summaries with the services'
		// display names (examples/demo/bosaimail.yml).
		deliveryDown   = "【障害発生】緊急情報メール配信が停止"
		deliveryUp     = "【復旧】緊急情報メール配信が停止"
		registrationDn = "【障害発生】利用者登録サイトが停止"
		registrationUp = "【復旧】利用者登録サイトが停止"
		exporterDown   = "【障害発生】監視用エクスポーター"
		exporterUp     = "【復旧】監視用エクスポーター"
	)

	// 0. Blips of registration, while scenario 1 runs on delivery: one
	// failed probe each, absorbed by the exporter's re-probe; nothing is
	// mailed (checked after scenario 1, more than a fault's time to mail
	// later).
	blips := startBlips(ctx, t, h, "registration", 3)

	// 1. One fault, one mail per recipient and state.
	if err := h.SetFaults(ctx, "delivery", `{"health_fail": true}`); err != nil {
		t.Fatal(err)
	}
	waitMails(ctx, t, h.OpsMail, deliveryDown, recipients, 1)
	if err := h.ClearFaults(ctx, "delivery"); err != nil {
		t.Fatal(err)
	}
	waitMails(ctx, t, h.OpsMail, deliveryUp, recipients, 1)
	t.Logf("scenario 1 (one fault) done after %s", time.Since(begin).Round(time.Second))
	blips.check(ctx, t, h)

	// 3. A vantage point lost: its exporter is killed.
	if err := h.Kill(stack.ExporterName(1)); err != nil {
		t.Fatal(err)
	}
	exporterKilled := time.Now()
	deadExporter := h.ExporterAddr(1)
	quietDeadline := time.Now().Add(2 * time.Minute)
	for !hasMail(ctx, h.OpsMail, exporterDown, oncall) {
		for i := range 2 {
			alerts, err := h.PrometheusAlertsAt(ctx, i)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range alerts {
				if a.Labels["alertname"] == "BosaiMailServiceDown" {
					t.Errorf("replica %d has BosaiMailServiceDown %v (%s) with one vantage point left", i, a.Labels, a.State)
				}
			}
		}
		if time.Now().After(quietDeadline) || ctx.Err() != nil {
			t.Fatalf("no %s mail for %s; mailbox:\n%s", exporterDown, deadExporter, describe(ctx, h.OpsMail))
		}
		time.Sleep(500 * time.Millisecond)
	}
	waitMails(ctx, t, h.OpsMail, exporterDown, recipients, 1)
	for _, m := range mailsWith(ctx, t, h.OpsMail, exporterDown) {
		if !strings.Contains(m.Subject, deadExporter) {
			t.Errorf("ExporterDown mail names another exporter than %s: %s", deadExporter, m.Subject)
		}
	}
	// Availability unchanged: every minute the availability rules
	// recorded since the kill has every service up (observed from the
	// remaining vantage point, so neither down nor unobserved).
	for i := range 2 {
		availabilityUp(ctx, t, h, i, exporterKilled)
	}
	if err := h.Restart(ctx, stack.ExporterName(1)); err != nil {
		t.Fatal(err)
	}
	t.Logf("scenario 3 (one exporter killed) done after %s", time.Since(begin).Round(time.Second))

	// 2. A replica and an Alertmanager crash while an alert fires.
	if err := h.SetFaults(ctx, "delivery", `{"health_fail": true}`); err != nil {
		t.Fatal(err)
	}
	waitMails(ctx, t, h.OpsMail, deliveryDown, recipients, 2)
	// While firing: after the cluster has settled the notification. An
	// Alertmanager killed within a second of sending, before its
	// notification log reached the others by gossip, can cause one more
	// copy of that mail (Alertmanager delivers at least once); the others
	// decide after their peer timeout (15s) each.
	time.Sleep(haPeerTimeout + time.Second)
	if err := h.Kill(stack.PrometheusName(0)); err != nil {
		t.Fatal(err)
	}
	if err := h.Kill(stack.AlertmanagerName(0)); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	// The repair and a new fault of another service, at once.
	if err := h.ClearFaults(ctx, "delivery"); err != nil {
		t.Fatal(err)
	}
	if err := h.SetFaults(ctx, "registration", `{"health_fail": true}`); err != nil {
		t.Fatal(err)
	}
	waitMails(ctx, t, h.OpsMail, registrationDn, recipients, 1)
	waitMails(ctx, t, h.OpsMail, deliveryUp, recipients, 2)
	if err := h.ClearFaults(ctx, "registration"); err != nil {
		t.Fatal(err)
	}
	waitMails(ctx, t, h.OpsMail, registrationUp, recipients, 1)
	t.Logf("scenario 2 (replica and Alertmanager killed) done after %s", time.Since(begin).Round(time.Second))

	// 4a. The remaining replica alone keeps the Watchdog alive: pings long
	// after the dead replica's last alert expired in Alertmanager.
	expired := killed.Add(4*haResend + 5*time.Second)
	if !poll(ctx, time.Second, func() bool { return h.Heartbeat.Status().Last.After(expired) }) {
		t.Errorf("no Watchdog ping after %s with one replica alive (last %s)", expired.Format(time.TimeOnly), h.Heartbeat.Status().Last.Format(time.TimeOnly))
	}

	// The long-term store holds both replicas' samples as one series each
	// (the replica label dropped, the duplicates removed).
	longTermStore(ctx, t, h)
	logSizing(ctx, t, h)

	// 4b. Both replicas gone: the Watchdog leaves Alertmanager and the
	// pings stop, so the external dead man's switch raises its alarm.
	if err := h.Kill(stack.PrometheusName(1)); err != nil {
		t.Fatal(err)
	}
	// Every live Alertmanager (the second and third; the first was
	// killed) must have let the Watchdog expire: each may still ping from
	// its own view until then.
	if !poll(ctx, time.Second, func() bool {
		for _, i := range []int{1, 2} {
			alerts, err := h.AlertmanagerAlertsAt(ctx, i)
			if err != nil {
				return false
			}
			for _, a := range alerts {
				if a.Labels["alertname"] == "Watchdog" && a.Status != nil && a.Status.State == "active" {
					return false
				}
			}
		}
		return true
	}) {
		t.Fatal("the Watchdog stayed active in Alertmanager with both replicas dead")
	}
	// A flush that began while it was active still notifies, the later
	// members of the cluster after their peer timeouts.
	time.Sleep(2*haPeerTimeout + 2*time.Second)
	pings := h.Heartbeat.Status().Pings
	time.Sleep(65 * time.Second) // longer than the heartbeat route's 1m repeat
	if now := h.Heartbeat.Status().Pings; now != pings {
		t.Errorf("%d Watchdog pings arrived with both replicas dead", now-pings)
	}

	// Every mail, counted exactly, per recipient.
	for _, c := range []struct {
		prefix string
		n      int
	}{{deliveryDown, 2}, {deliveryUp, 2}, {registrationDn, 1}, {registrationUp, 1}, {exporterDown, 1}, {exporterUp, 1}} {
		for _, to := range recipients {
			if got := countMail(ctx, t, h.OpsMail, c.prefix, to); got != c.n {
				t.Errorf("%d mails %q to %s, want exactly %d; mailbox:\n%s", got, c.prefix, to, c.n, describe(ctx, h.OpsMail))
			}
		}
	}
	noMail(ctx, t, h.OpsMail, "no other service went down", func(m stack.Message) bool {
		return strings.Contains(m.Subject, "BosaiMailServiceDown") && !strings.Contains(m.Subject, "delivery") && !strings.Contains(m.Subject, "registration")
	})
	if t.Failed() {
		explainDowns(ctx, t, h, begin)
	}
	t.Logf("HA topology test took %s", time.Since(begin).Round(time.Second))
}

// explainDowns lists, from the long-term store (which outlives the
// replicas), every stretch in which a critical check read down, per
// exporter, to tell a failing test's unexpected mail from its cause.
func explainDowns(ctx context.Context, t *testing.T, h *stack.HA, since time.Time) {
	t.Helper()
	series, err := h.QueryRangeAt(ctx, h.VictoriaMetricsURL(), `bosaimail_check_up{job="bosaimail",critical="true"} == 0`, since, time.Now(), time.Second)
	if err != nil {
		t.Logf("cannot list the downs: %v", err)
		return
	}
	for _, s := range series {
		var from, last time.Time
		flush := func() {
			if !from.IsZero() {
				t.Logf("down: %s %s/%s %s-%s", s.Labels["instance"], s.Labels["service"], s.Labels["check"], from.Format("15:04:05"), last.Format("15:04:05"))
			}
		}
		for _, ts := range s.Times {
			if from.IsZero() || ts.Sub(last) > 2*time.Second {
				flush()
				from = ts
			}
			last = ts
		}
		flush()
	}
	for i := range 2 {
		b, err := os.ReadFile(filepath.Join(h.Dir(), "logs", stack.ExporterName(i)+".log"))
		if err != nil {
			continue
		}
		var lines []string
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, "level=debug") || strings.Contains(l, "level=warn") || strings.Contains(l, "level=error") {
				lines = append(lines, l)
			}
		}
		if len(lines) > 60 {
			lines = lines[len(lines)-60:]
		}
		t.Logf("%s, failures logged:\n%s", stack.ExporterName(i), strings.Join(lines, "\n"))
	}
}

// blipRun is a series of one-request blips of a service's health.
type blipRun struct {
	service string
	n       int
	before  float64
	start   time.Time
}

func (b *blipRun) recovered() string {
	return fmt.Sprintf(`sum(bosaimail_check_retries_total{job="bosaimail",service=%q,outcome="recovered"}) or vector(0)`, b.service)
}

// startBlips makes a service fail exactly one health request, n times a
// few scrapes apart. Each is seen by one probe of one exporter, which
// re-probes at once and reports the check up.
func startBlips(ctx context.Context, t *testing.T, h *stack.HA, service string, n int) *blipRun {
	t.Helper()
	b := &blipRun{service: service, n: n, start: time.Now()}
	v, err := h.QueryAt(ctx, h.ReplicaURL(1), b.recovered())
	if err != nil || len(v) != 1 {
		t.Fatalf("%s: %v %v", b.recovered(), v, err)
	}
	b.before = v[0]
	for range n {
		if err := h.SetFaults(ctx, service, `{"health_fail_requests": 1}`); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * e2eScrape)
	}
	return b
}

// check, called more than a fault's time to mail after the blips: the
// retry counter rose by exactly n, no critical check of the service read
// down, and no mail about the service was sent.
func (b *blipRun) check(ctx context.Context, t *testing.T, h *stack.HA) {
	t.Helper()
	if wait := time.Until(b.start.Add(45 * time.Second)); wait > 0 {
		time.Sleep(wait) // BosaiMailServiceDown's `for` plus group_wait, with a margin
	}
	got, err := h.QueryAt(ctx, h.ReplicaURL(1), b.recovered())
	if err != nil || len(got) != 1 || got[0]-b.before != float64(b.n) {
		t.Errorf("recovered retries of %s went from %v to %v (%v) for %d one-request blips, want exactly %d more", b.service, b.before, got, err, b.n, b.n)
	}
	window := fmt.Sprintf("%ds", int(time.Since(b.start).Seconds())+5)
	for i := range 2 {
		v, err := h.QueryAt(ctx, h.ReplicaURL(i), fmt.Sprintf(`min(min_over_time(bosaimail_check_up{job="bosaimail",service=%q,critical="true"}[%s]))`, b.service, window))
		if err != nil || len(v) != 1 || v[0] != 1 {
			t.Errorf("replica %d: a %s check read down during the blips: %v (%v)", i, b.service, v, err)
		}
	}
	noMail(ctx, t, h.OpsMail, "a one-probe blip sends nothing", func(m stack.Message) bool {
		return strings.Contains(m.Subject, b.service)
	})
}

// waitReplicaHealthy waits until replica i has scraped every check of both
// exporters as up.
func waitReplicaHealthy(ctx context.Context, t *testing.T, h *stack.HA, i int) {
	t.Helper()
	var last string
	if !poll(ctx, 500*time.Millisecond, func() bool {
		n, err1 := h.QueryAt(ctx, h.ReplicaURL(i), `count(count by (instance) (bosaimail_check_up{job="bosaimail"}))`)
		up, err2 := h.QueryAt(ctx, h.ReplicaURL(i), `min(bosaimail_check_up{job="bosaimail"})`)
		last = fmt.Sprint(n, up, err1, err2)
		return err1 == nil && err2 == nil && len(n) == 1 && n[0] == 2 && len(up) == 1 && up[0] == 1
	}) {
		t.Fatalf("replica %d never saw both exporters' checks all up (last: %s)", i, last)
	}
}

// availabilityUp waits until replica i has recorded bosaimail:service_up
// after since, then checks that every recorded sample since then is 1 for
// every service.
func availabilityUp(ctx context.Context, t *testing.T, h *stack.HA, i int, since time.Time) {
	t.Helper()
	var last string
	if !poll(ctx, time.Second, func() bool {
		v, err := h.QueryAt(ctx, h.ReplicaURL(i), `min(timestamp(bosaimail:service_up))`)
		last = fmt.Sprint(v, err)
		return err == nil && len(v) == 1 && v[0] > float64(since.Unix()+1)
	}) {
		t.Fatalf("replica %d recorded no bosaimail:service_up after %s (last: %s)", i, since.Format(time.TimeOnly), last)
	}
	window := fmt.Sprintf("%ds", int(time.Since(since).Seconds()))
	for _, q := range []string{
		`count(count_over_time(bosaimail:service_up[` + window + `]))`,
		`min(min_over_time(bosaimail:service_up[` + window + `]))`,
	} {
		v, err := h.QueryAt(ctx, h.ReplicaURL(i), q)
		want := 1.0
		if strings.HasPrefix(q, "count") {
			want = float64(len(h.Ports().Sims)) // one series per service
		}
		if err != nil || len(v) != 1 || v[0] != want {
			t.Errorf("replica %d: %s = %v (%v) with one exporter dead, want %v", i, q, v, err, want)
		}
	}
}

// logSizing prints the series counts the operations guide's sizing is
// computed from (the demo configuration: 3 services, 7 checks).
func logSizing(ctx context.Context, t *testing.T, h *stack.HA) {
	t.Helper()
	for _, q := range []string{
		`count by (instance) ({job="bosaimail"})`,
		`count({__name__=~"bosaimail:.+"})`,
		`count({__name__="ALERTS"})`,
		`count({__name__=~".+"})`,
	} {
		v, err := h.QueryAt(ctx, h.ReplicaURL(1), q)
		t.Logf("sizing: %s = %v (%v)", q, v, err)
	}
	v, err := h.QueryAt(ctx, h.VictoriaMetricsURL(), `count({__name__=~".+"})`)
	t.Logf("sizing: series in VictoriaMetrics = %v (%v)", v, err)
}

// longTermStore checks that both replicas' samples reached VictoriaMetrics
// without the replica label, one series per exporter series.
func longTermStore(ctx context.Context, t *testing.T, h *stack.HA) {
	t.Helper()
	vm := h.VictoriaMetricsURL()
	var inVM, inReplica []float64
	var err error
	if !poll(ctx, time.Second, func() bool {
		inVM, err = h.QueryAt(ctx, vm, `count(bosaimail_check_up{job="bosaimail"})`)
		if err != nil {
			return false
		}
		inReplica, err = h.QueryAt(ctx, h.ReplicaURL(1), `count(bosaimail_check_up{job="bosaimail"})`)
		return err == nil && len(inVM) == 1 && len(inReplica) == 1 && inVM[0] == inReplica[0]
	}) {
		t.Errorf("VictoriaMetrics holds %v bosaimail_check_up series, the live replica %v (%v)", inVM, inReplica, err)
	}
	labelled, err := h.QueryAt(ctx, vm, `count({replica!=""})`)
	if err != nil || len(labelled) != 0 {
		t.Errorf("series with a replica label in VictoriaMetrics: %v (%v)", labelled, err)
	}
}

func mailsWith(ctx context.Context, t *testing.T, mb *stack.Mailbox, prefix string) []stack.Message {
	t.Helper()
	msgs, err := mb.Messages(ctx)
	if err != nil {
		t.Fatalf("listing mail: %v", err)
	}
	var out []stack.Message
	for _, m := range msgs {
		if strings.HasPrefix(m.Subject, prefix) {
			out = append(out, m)
		}
	}
	return out
}

func countMail(ctx context.Context, t *testing.T, mb *stack.Mailbox, prefix, to string) int {
	t.Helper()
	n := 0
	for _, m := range mailsWith(ctx, t, mb, prefix) {
		for _, r := range m.Recipients() {
			if r == to {
				n++
			}
		}
	}
	return n
}

func hasMail(ctx context.Context, mb *stack.Mailbox, prefix, to string) bool {
	msgs, err := mb.Messages(ctx)
	if err != nil {
		return false
	}
	for _, m := range msgs {
		if strings.HasPrefix(m.Subject, prefix) && (mailMatch{to: to, subjectPrefix: prefix}).matches(m) {
			return true
		}
	}
	return false
}

// waitMails waits until every recipient has at least n mails with the
// subject prefix (the exact count is checked at the end of the test).
func waitMails(ctx context.Context, t *testing.T, mb *stack.Mailbox, prefix string, to []string, n int) {
	t.Helper()
	if !poll(ctx, 300*time.Millisecond, func() bool {
		for _, r := range to {
			if countMail(ctx, t, mb, prefix, r) < n {
				return false
			}
		}
		return true
	}) {
		t.Fatalf("fewer than %d mails %q to each of %v; mailbox:\n%s", n, prefix, to, describe(ctx, mb))
	}
}
