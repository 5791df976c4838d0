package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bosaimail/bosaimail_exporter/e2e/stack"
	"github.com/bosaimail/bosaimail_exporter/internal/testkit/testbin"
)

// The e2e Prometheus intervals. The rules are the generated ones, unchanged
// (BosaiMailServiceDown keeps its `for`), and Alertmanager keeps the
// example's timing, so the measured latency is the production one minus
// the shorter scrape and evaluation intervals.
const (
	e2eScrape = 2 * time.Second
	e2eEval   = 1 * time.Second
)

// rulesGlob returns the rule files to load and checks they define the
// alerts this test needs. BOSAIMAIL_E2E_RULES overrides the glob (to try
// the harness against other rules); by default they are rules/*.yaml.
func rulesGlob(t *testing.T, alerts ...string) string {
	t.Helper()
	glob := os.Getenv("BOSAIMAIL_E2E_RULES")
	if glob == "" {
		glob = filepath.Join(testbin.RepoRoot(), "rules", "*.yaml")
	}
	files, _ := filepath.Glob(glob)
	var all strings.Builder
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all.Write(b)
	}
	for _, a := range alerts {
		if !definesAlert(all.String(), a) {
			msg := fmt.Sprintf("%s defines no alert %s (the availability rules of the mixin, `make mixin`)", glob, a)
			if os.Getenv("CI") != "" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
	return glob
}

// TestFaultToMail is the whole chain: a fault injected into the simulated
// delivery service makes its health checks fail; the exporter reports it,
// Prometheus (the mixin's rules) fires BosaiMailServiceDown, Alertmanager
// (the example configuration) mails the contractor's on-call and the
// prefecture in Japanese; lifting the fault brings the 【復旧】 mail. The
// fault-to-mail latency of each round is printed (E2E_ROUNDS rounds, the
// median at the end). Then a planned stop of the same service: the fault is
// detected but no mail is sent.
func TestFaultToMail(t *testing.T) {
	tools := toolsDir(t, "prometheus", "alertmanager", "mailpit")
	rules := rulesGlob(t, "BosaiMailServiceDown")
	bin := programs(t)
	rounds := 1
	if v := os.Getenv("E2E_ROUNDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("E2E_ROUNDS=%q: want a positive number", v)
		}
		rounds = n
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(rounds)*4*time.Minute+5*time.Minute)
	defer cancel()

	s, err := stack.Start(ctx, stack.Config{
		Root: testbin.RepoRoot(), Bin: bin, Tools: tools, Dir: t.TempDir(), Ports: stack.FreePorts(),
		ScrapeInterval: e2eScrape, EvalInterval: e2eEval, Rules: rules,
	})
	if err != nil {
		t.Fatal(err)
	}
	stopOnCleanup(t, s)
	waitHealthy(ctx, t, s)

	var latencies []time.Duration
	for round := 1; round <= rounds; round++ {
		if err := s.OpsMail.DeleteAll(ctx); err != nil {
			t.Fatal(err)
		}
		injected := time.Now()
		if err := s.SetFaults(ctx, "delivery", `{"health_fail": true}`); err != nil {
			t.Fatal(err)
		}
		var first time.Time
		for _, to := range []string{oncall, prefecture} {
			m := waitMail(ctx, t, s.OpsMail, mailMatch{to: to, subjectPrefix: "【障害発生】緊急情報メール配信が停止（全監視点で"})
			contains(t, "failure mail to "+to, m.Text,
				"【障害発生】 防災みえメール配信サービス 監視通知", "対象サービス: 緊急情報メール配信", "alertname=BosaiMailServiceDown",
				"重大度: 重大", "一次切分け: ", "発生日時: ", " JST", "対応手順: http", "グラフ: "+s.PrometheusURL()+"/graph?")
			if first.IsZero() || m.Created.Before(first) {
				first = m.Created
			}
		}
		latency := first.Sub(injected)
		latencies = append(latencies, latency)
		t.Logf("round %d: fault-to-mail latency %.1fs", round, latency.Seconds())

		lifted := time.Now()
		if err := s.ClearFaults(ctx, "delivery"); err != nil {
			t.Fatal(err)
		}
		for _, to := range []string{oncall, prefecture} {
			m := waitMail(ctx, t, s.OpsMail, mailMatch{to: to, subjectPrefix: "【復旧】緊急情報メール配信が停止（全監視点で"})
			contains(t, "recovery mail to "+to, m.Text, "■ 復旧（1件）", "復旧日時: ", "継続時間: ")
			if to == oncall {
				t.Logf("round %d: repair-to-recovery-mail latency %.1fs", round, m.Created.Sub(lifted).Seconds())
			}
		}
		// One fault, one mail per recipient: the component alerts of the
		// service are inhibited by BosaiMailServiceDown.
		noMail(ctx, t, s.OpsMail, "BosaiMailServiceDown inhibits the service's component alerts", func(m stack.Message) bool {
			return strings.Contains(m.Text, "alertname=BosaiMailCheckFailing") && strings.Contains(m.Text, "service=delivery")
		})
		if t.Failed() {
			return
		}
	}
	slices.Sort(latencies)
	t.Logf("fault-to-mail latency over %d round(s): median %.1fs, min %.1fs, max %.1fs (scrape %s, evaluation %s, rules as generated, Alertmanager as in the example)",
		len(latencies), latencies[len(latencies)/2].Seconds(), latencies[0].Seconds(), latencies[len(latencies)-1].Seconds(), e2eScrape, e2eEval)

	// The dead man's switch is fed from the rules through Alertmanager.
	if rulesDefine(t, "Watchdog") {
		if hb := s.Heartbeat.Status(); hb.Pings == 0 || !slices.Contains(hb.Alerts, "Watchdog") {
			t.Errorf("the heartbeat receiver got %d pings (last alerts %v), want the Watchdog", hb.Pings, hb.Alerts)
		}
	}

	maintenanceSilences(ctx, t, s)
}

// waitHealthy waits until Prometheus has scraped every check of the
// exporter as up, so a fault is the only change the test makes.
func waitHealthy(ctx context.Context, t *testing.T, s *stack.Stack) {
	t.Helper()
	var last string
	ok := poll(ctx, 500*time.Millisecond, func() bool {
		up, err := s.Query(ctx, `min(bosaimail_check_up{job="bosaimail"})`)
		if err != nil || len(up) != 1 {
			last = fmt.Sprint(up, err)
			return false
		}
		last = fmt.Sprint(up)
		return up[0] == 1
	})
	if !ok {
		t.Fatalf("the checks never were all up in Prometheus (last: %s)", last)
	}
}

// maintenanceSilences puts the delivery service into a planned stop,
// breaks it, and checks that the fault is detected (BosaiMailServiceDown
// reaches Alertmanager, or the rule already leaves maintenance out) but no
// mail goes out.
func maintenanceSilences(ctx context.Context, t *testing.T, s *stack.Stack) {
	t.Helper()
	if !rulesDefine(t, "BosaiMailMaintenanceActive") {
		t.Log("no BosaiMailMaintenanceActive rule yet: maintenance part skipped")
		return
	}
	cfg, err := os.ReadFile(s.ExporterConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	// Approved: only an approved window is a planned stop that inhibits.
	window := fmt.Sprintf("    maintenance:\n      - start: %q\n        end: %q\n        approved_by: 三重県防災対策部災害対策課\n        approved_on: %q\n",
		now.Add(-time.Minute).Format(time.RFC3339), now.Add(time.Hour).Format(time.RFC3339), now.Format("2006-01-02"))
	marker := "    description: 緊急情報メール配信\n"
	if !strings.Contains(string(cfg), marker) {
		t.Fatalf("%s: no line %q to add the maintenance window after", s.ExporterConfigPath, marker)
	}
	edited := strings.Replace(string(cfg), marker, marker+window, 1)
	if err := os.WriteFile(s.ExporterConfigPath, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.ReloadExporter(ctx); err != nil {
		t.Fatalf("reloading the exporter with a maintenance window: %v", err)
	}
	if !poll(ctx, 500*time.Millisecond, func() bool {
		v, err := s.Query(ctx, `bosaimail_maintenance_active{service="delivery"}`)
		return err == nil && len(v) == 1 && v[0] == 1
	}) {
		t.Fatal("bosaimail_maintenance_active{service=\"delivery\"} never became 1")
	}
	// The planned stop is in effect once Alertmanager holds the
	// inhibiting alert. Mail sent before that, such as a burn-rate alert
	// about the earlier unplanned fault, is not this check's concern.
	if !poll(ctx, 500*time.Millisecond, func() bool {
		am, err := s.AlertmanagerAlerts(ctx)
		if err != nil {
			return false
		}
		for _, a := range am {
			if a.Labels["alertname"] == "BosaiMailMaintenanceActive" && a.Labels["service"] == "delivery" {
				return true
			}
		}
		return false
	}) {
		t.Fatal("BosaiMailMaintenanceActive for delivery never reached Alertmanager")
	}
	if err := s.OpsMail.DeleteAll(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.SetFaults(ctx, "delivery", `{"health_fail": true}`); err != nil {
		t.Fatal(err)
	}
	defer s.ClearFaults(context.Background(), "delivery")

	// The service is seen down ...
	if !poll(ctx, 500*time.Millisecond, func() bool {
		v, err := s.Query(ctx, `bosaimail:service_up{service="delivery"}`)
		return err == nil && len(v) == 1 && v[0] == 0
	}) {
		t.Fatal("bosaimail:service_up{service=\"delivery\"} never became 0 during the planned stop")
	}
	// ... for longer than it took to mail outside maintenance (the rule's
	// `for` and Alertmanager's group_wait with a margin), and nothing is
	// mailed: neither the alert (inhibited, or left out by the rule) nor
	// the informational maintenance alert itself.
	quiet, cancel := context.WithTimeout(ctx, 100*time.Second)
	defer cancel()
	poll(quiet, time.Second, func() bool {
		msgs, _ := s.OpsMail.Messages(ctx)
		for _, m := range msgs {
			if strings.Contains(m.Text, "service=delivery") {
				return true
			}
		}
		return false
	})
	noMail(ctx, t, s.OpsMail, "a planned stop silences the service's alerts", func(m stack.Message) bool {
		return strings.Contains(m.Text, "service=delivery") || strings.Contains(m.Text, "alertname=BosaiMailMaintenanceActive")
	})
	am, err := s.AlertmanagerAlerts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range am {
		if a.Labels["alertname"] == "BosaiMailServiceDown" && a.Labels["service"] == "delivery" && a.Status != nil && a.Status.State != "suppressed" {
			t.Errorf("BosaiMailServiceDown for delivery is %q in Alertmanager during the planned stop, want suppressed", a.Status.State)
		}
	}
}

func rulesDefine(t *testing.T, alert string) bool {
	glob := os.Getenv("BOSAIMAIL_E2E_RULES")
	if glob == "" {
		glob = filepath.Join(testbin.RepoRoot(), "rules", "*.yaml")
	}
	files, _ := filepath.Glob(glob)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if definesAlert(string(b), alert) {
			return true
		}
	}
	return false
}

// definesAlert tells whether a rule file defines the alert, whether the
// YAML quotes its keys and values or not.
func definesAlert(rules, name string) bool {
	return regexp.MustCompile(`(?m)^\s*-?\s*"?alert"?:\s*"?` + regexp.QuoteMeta(name) + `"?\s*$`).MatchString(rules)
}
