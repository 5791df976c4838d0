package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bosaimail/bosaimail_exporter/e2e/stack"
	"github.com/bosaimail/bosaimail_exporter/internal/testkit/testbin"
)

const (
	oncall     = "oncall@hoshu.example.jp"
	prefecture = "bosai-mail@pref.example.jp"
	cloudOps   = "cloud-ops@hoshu.example.jp"
	runbooks   = "https://github.com/bosaimail/bosaimail_exporter/blob/main/docs/runbooks.md"
)

func alert(labels map[string]string, summary string) stack.Alert {
	name := labels["alertname"]
	return stack.Alert{
		Labels: labels,
		Annotations: map[string]string{
			"summary":     summary,
			"description": summary + "（テスト）",
			"runbook_url": runbooks + "#" + strings.ToLower(name),
		},
		GeneratorURL: "http://prometheus.example/graph",
	}
}

// TestAlertmanagerExample posts alerts, as Prometheus would, to a real
// Alertmanager running examples/alertmanager/alertmanager.yml (only the
// smarthost and the heartbeat URL changed) and checks what reaches the
// contractor's mail server (mailpit with STARTTLS and the password of
// secrets/smtp-password) and the heartbeat receiver: routing by severity and
// responsible, the three inhibition rules, office hours, Japanese subject
// and body, and the recovery mail.
func TestAlertmanagerExample(t *testing.T) {
	tools := toolsDir(t, "alertmanager", "mailpit")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	s, err := stack.StartAlerting(ctx, stack.Config{Root: testbin.RepoRoot(), Tools: tools, Dir: t.TempDir(), Ports: stack.FreePorts()})
	if err != nil {
		t.Fatal(err)
	}
	stopOnCleanup(t, s)

	serviceDown := alert(map[string]string{"alertname": "BosaiMailServiceDown", "severity": "critical", "responsible": "contractor", "service": "delivery"}, "緊急情報メール配信が停止（全監視点で1分以上）")
	serviceDown.Annotations["service_name"] = "緊急情報メール配信"
	serviceDown.Annotations["system_name"] = "防災みえメール配信サービス"
	alerts := []stack.Alert{
		serviceDown,
		// A component of the service that is down: inhibited.
		alert(map[string]string{"alertname": "BosaiMailCheckFailing", "severity": "warning", "responsible": "contractor", "service": "delivery", "check": "api-health", "instance": "mon1:9742"}, "delivery のチェック api-health が失敗しています"),
		// A planned stop of registration silences its alerts.
		alert(map[string]string{"alertname": "BosaiMailMaintenanceActive", "severity": "info", "responsible": "contractor", "service": "registration"}, "registration は計画停止中です"),
		alert(map[string]string{"alertname": "BosaiMailCheckFailing", "severity": "warning", "responsible": "contractor", "service": "registration", "check": "top-page", "instance": "mon1:9742"}, "registration のチェック top-page が失敗しています"),
		// The exporter cannot be scraped: its source alerts say nothing.
		alert(map[string]string{"alertname": "BosaiMailExporterDown", "severity": "critical", "responsible": "contractor", "instance": "mon2:9742", "job": "bosaimail"}, "エクスポーター mon2:9742 から応答がありません"),
		alert(map[string]string{"alertname": "BosaiMailSourceFailing", "severity": "warning", "responsible": "contractor", "instance": "mon2:9742", "collector": "cloud", "source": "aws"}, "情報源 aws の取得に失敗しています"),
		// The cloud's party gets its copy.
		alert(map[string]string{"alertname": "BosaiMailCloudDegraded", "severity": "warning", "responsible": "cloud", "provider": "aws", "component": "SES"}, "クラウド aws の SES が縮退しています"),
		// A planning item: mailed in office hours only.
		alert(map[string]string{"alertname": "BosaiMailTLSCertExpiringSoon", "severity": "warning", "responsible": "contractor", "service": "admin", "check": "login-page"}, "admin の証明書の期限が近づいています"),
		// The dead man's switch.
		{Labels: map[string]string{"alertname": "Watchdog", "severity": "none"}},
	}
	posted := time.Now()
	if err := s.PostAlerts(ctx, alerts...); err != nil {
		t.Fatal(err)
	}

	// Critical: contractor and prefecture, after the 10s group_wait.
	for _, to := range []string{oncall, prefecture} {
		m := waitMail(ctx, t, s.OpsMail, mailMatch{to: to, subjectPrefix: "【障害発生】緊急情報メール配信が停止"})
		if got := m.Subject; got != "【障害発生】緊急情報メール配信が停止（全監視点で1分以上）" {
			t.Errorf("subject = %q", got)
		}
		if m.From.Address != "bosaimail-alert@hoshu.example.jp" || m.From.Name != "防災メール監視" {
			t.Errorf("from = %+v", m.From)
		}
		contains(t, "text part to "+to, m.Text,
			"【障害発生】 防災みえメール配信サービス 監視通知", "対象サービス: 緊急情報メール配信", "alertname=BosaiMailServiceDown",
			"重大度: 重大", "一次切分け: 受託者（運用保守）", "内容: 緊急情報メール配信が停止（全監視点で1分以上）（テスト）",
			"対応手順: "+runbooks+"#bosaimailservicedown", " JST", s.AlertmanagerURL()+"/#/alerts")
		contains(t, "HTML part to "+to, m.HTML, "<h2", "【障害発生】", "<th", "重大", `href="`+runbooks+`#bosaimailservicedown"`)
		if d := m.Created.Sub(posted); d < 9*time.Second {
			t.Errorf("critical mail to %s after %s: sooner than the 10s group_wait", to, d)
		}
	}
	waitMail(ctx, t, s.OpsMail, mailMatch{to: prefecture, subjectPrefix: "【障害発生】エクスポーター mon2:9742"})
	waitMail(ctx, t, s.OpsMail, mailMatch{to: oncall, subjectPrefix: "【障害発生】エクスポーター mon2:9742"})

	// Warnings after the 30s group_wait: the cloud degradation reaches the
	// on-call and the cloud team in one mail, not the prefecture.
	cloud := waitMail(ctx, t, s.OpsMail, mailMatch{to: cloudOps, subjectPrefix: "【警告】クラウド aws の SES"})
	if got := cloud.Recipients(); !slices.Equal(got, []string{oncall, cloudOps}) {
		t.Errorf("cloud mail recipients = %v, want on-call and cloud team", got)
	}
	contains(t, "cloud mail", cloud.Text, "一次切分け: クラウド事業者", "通知先: 受託者当番・クラウド運用担当")

	// All warning groups were created by the same post, so they have all
	// been flushed by now; give stragglers a moment, then check that the
	// inhibited and the planning alerts did not mail.
	grace, cancelGrace := context.WithTimeout(ctx, 3*time.Second)
	poll(grace, 500*time.Millisecond, func() bool { return false })
	cancelGrace()
	noMail(ctx, t, s.OpsMail, "inhibited alerts must not be mailed", func(m stack.Message) bool {
		return strings.Contains(m.Text, "alertname=BosaiMailCheckFailing") || strings.Contains(m.Text, "alertname=BosaiMailSourceFailing") ||
			strings.Contains(m.Text, "alertname=BosaiMailMaintenanceActive") || strings.Contains(m.Text, "alertname=Watchdog")
	})
	if inOfficeHours(time.Now(), 2*time.Minute) {
		waitMail(ctx, t, s.OpsMail, mailMatch{to: oncall, subjectPrefix: "【警告】admin の証明書"})
	} else if !nearOfficeHoursEdge(time.Now(), 2*time.Minute) {
		noMail(ctx, t, s.OpsMail, "planning alerts wait for office hours", func(m stack.Message) bool {
			return strings.Contains(m.Text, "alertname=BosaiMailTLSCertExpiringSoon")
		})
	}

	// Alertmanager's own view of the inhibitions.
	amAlerts, err := s.AlertmanagerAlerts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	inhibited := map[string]bool{}
	for _, a := range amAlerts {
		if a.Status != nil && len(a.Status.InhibitedBy) > 0 {
			inhibited[a.Labels["alertname"]+"/"+a.Labels["service"]+a.Labels["instance"]] = true
		}
	}
	for _, k := range []string{"BosaiMailCheckFailing/deliverymon1:9742", "BosaiMailCheckFailing/registrationmon1:9742", "BosaiMailSourceFailing/mon2:9742"} {
		if !inhibited[k] {
			t.Errorf("%s is not inhibited; inhibited: %v", k, inhibited)
		}
	}
	if len(inhibited) != 3 {
		t.Errorf("inhibited = %v, want exactly the three component/source alerts", inhibited)
	}

	// The Watchdog reaches the heartbeat receiver (group_wait 0s).
	if !poll(ctx, 200*time.Millisecond, func() bool { return s.Heartbeat.Status().Pings > 0 }) {
		t.Fatal("no heartbeat ping")
	}
	if got := s.Heartbeat.Status().Alerts; !slices.Equal(got, []string{"Watchdog"}) {
		t.Errorf("heartbeat alerts = %v, want [Watchdog]", got)
	}

	// Recovery: the resolved alert is mailed at the group's next flush
	// (group_interval 1m for critical) and says how long it lasted.
	serviceDown.StartsAt = posted.Add(-90 * time.Second)
	serviceDown.EndsAt = time.Now()
	if err := s.PostAlerts(ctx, serviceDown); err != nil {
		t.Fatal(err)
	}
	for _, to := range []string{oncall, prefecture} {
		m := waitMail(ctx, t, s.OpsMail, mailMatch{to: to, subjectPrefix: "【復旧】緊急情報メール配信が停止（全監視点で1分以上）／継続時間 "})
		contains(t, "recovery mail to "+to, m.Text, "■ 復旧（1件）", "緊急情報メール配信が停止（全監視点で1分以上）", "発生日時: ", "復旧日時: ", "継続時間: ")
	}
}

// inOfficeHours reports whether t is within office hours (Mon-Fri
// 08:30-17:15 JST) by more than margin on both sides.
func inOfficeHours(t time.Time, margin time.Duration) bool {
	return officeHours(t.Add(-margin)) && officeHours(t.Add(margin)) && officeHours(t)
}

func nearOfficeHoursEdge(t time.Time, margin time.Duration) bool {
	return officeHours(t.Add(-margin)) != officeHours(t.Add(margin))
}

func officeHours(t time.Time) bool {
	jst := t.In(time.FixedZone("JST", 9*3600))
	if jst.Weekday() == time.Saturday || jst.Weekday() == time.Sunday || closedDay(jst) {
		return false
	}
	m := jst.Hour()*60 + jst.Minute()
	return m >= 8*60+30 && m < 17*60+15
}

// closedDay reports the days the example's planning route mutes: the
// national holidays of examples/alertmanager/holidays.json and 29 December
// to 3 January.
func closedDay(jst time.Time) bool {
	if (jst.Month() == time.December && jst.Day() >= 29) || (jst.Month() == time.January && jst.Day() <= 3) {
		return true
	}
	b, err := os.ReadFile(filepath.Join(testbin.RepoRoot(), "examples", "alertmanager", "holidays.json"))
	if err != nil {
		panic(err)
	}
	var f struct {
		Holidays map[string]string `json:"holidays"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		panic(err)
	}
	_, ok := f.Holidays[jst.Format(time.DateOnly)]
	return ok
}
