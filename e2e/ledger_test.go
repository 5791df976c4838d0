package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bosaimail/bosaimail_exporter/config"
	"github.com/bosaimail/bosaimail_exporter/e2e/stack"
	"github.com/bosaimail/bosaimail_exporter/internal/app/ledger"
	"github.com/bosaimail/bosaimail_exporter/internal/app/report"
	"github.com/bosaimail/bosaimail_exporter/internal/testkit/testbin"
)

// TestLedger is the incident ledger in the whole pipeline: a fault of the
// simulated delivery service is mailed and opens exactly one 障害票 with the
// service and the alert's start, although two Alertmanagers notify the
// ledger and the same notification is delivered again; the repair sets its
// recovery time; headless Chromium logs in and writes the 障害票; the
// prefecture approves an exemption, and the next report exempts the
// minutes; an approved planned stop reaches the exporter's
// bosaimail_maintenance_active through the iCalendar feed.
func TestLedger(t *testing.T) {
	tools := toolsDir(t, "prometheus", "alertmanager", "mailpit")
	rules := rulesGlob(t, "BosaiMailServiceDown")
	bin := programs(t)
	// About four minutes here; a fresh CI machine (Chromium's first start,
	// a loaded runner) has needed more than six.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	// Each phase is logged with its time, so that a run ending at the
	// deadline says where the time went.
	began := time.Now()
	phase := func(what string) { t.Logf("%6.1fs %s", time.Since(began).Seconds(), what) }
	s, err := stack.Start(ctx, stack.Config{
		Root: testbin.RepoRoot(), Bin: bin, Tools: tools, Dir: t.TempDir(), Ports: stack.FreePorts(),
		ScrapeInterval: e2eScrape, EvalInterval: e2eEval, Rules: rules, SecondAlertmanager: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	stopOnCleanup(t, s)
	if s.LedgerURL() == "" {
		t.Fatal("the stack did not start the ledger")
	}
	lc := &ledgerAPI{t: t, s: s}
	waitHealthy(ctx, t, s)
	phase("stack healthy")

	injected := time.Now()
	if err := s.SetFaults(ctx, "delivery", `{"health_fail": true}`); err != nil {
		t.Fatal(err)
	}
	mail := waitMail(ctx, t, s.OpsMail, mailMatch{to: oncall, subjectPrefix: "【障害発生】緊急情報メール配信が停止"})
	phase("fault mailed")

	// One 障害票, with the service and the start of the alert as
	// Alertmanager holds it, after both Alertmanagers delivered it.
	var inc ledger.Incident
	bothSent := func(i ledger.Incident) bool {
		for _, a := range i.Alerts {
			if a.Name == "BosaiMailServiceDown" && slices.Contains(a.Senders, s.AlertmanagerURL()) && slices.Contains(a.Senders, s.SecondAlertmanagerURL()) {
				return true
			}
		}
		return false
	}
	if !poll(ctx, 500*time.Millisecond, func() bool {
		incs := lc.incidents(ctx)
		return len(incs) >= 1 && bothSent(incs[0]) && func() bool { inc = incs[0]; return true }()
	}) {
		t.Fatalf("no 障害票 after the mail, or its alert was not delivered by both Alertmanagers; ledger has %+v", lc.incidents(ctx))
	}
	if incs := lc.incidents(ctx); len(incs) != 1 {
		t.Fatalf("%d 障害票 for one fault notified by two Alertmanagers, want 1: %+v", len(incs), incs)
	}
	phase("障害票 opened, notified by both Alertmanagers")
	am, err := s.AlertmanagerAlerts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var down stack.Alert
	for _, a := range am {
		if a.Labels["alertname"] == "BosaiMailServiceDown" && a.Labels["service"] == "delivery" {
			down = a
		}
	}
	if inc.Service != "delivery" || !inc.Firing || !inc.StartedAt.Equal(down.StartsAt) {
		t.Errorf("障害票: service %q firing %v start %s; want delivery, firing, the alert's start %s", inc.Service, inc.Firing, inc.StartedAt, down.StartsAt)
	}
	if inc.StartedAt.Before(injected.Add(-time.Second)) || inc.StartedAt.After(mail.Created) {
		t.Errorf("障害票 starts %s, not between the fault %s and the mail %s", inc.StartedAt, injected, mail.Created)
	}
	// The same notification delivered again (an Alertmanager retry):
	// nothing new.
	replay := fmt.Sprintf(`{"version":"4","status":"firing","receiver":"ledger","groupKey":"replay","alerts":[{"status":"firing","labels":%s,"annotations":%s,"startsAt":%q,"endsAt":"0001-01-01T00:00:00Z"}]}`,
		mustJSON(down.Labels), mustJSON(down.Annotations), down.StartsAt.Format(time.RFC3339Nano))
	for i := 0; i < 2; i++ {
		if res := lc.webhook(ctx, replay); res.Duplicate != 1 || res.Opened+res.Attached != 0 {
			t.Errorf("replayed notification: %+v, want it recognised as a duplicate", res)
		}
	}

	// Repair: the recovery time is set. The fault is kept for more than
	// two minutes first: the page comes after 15 s, but only a down of at
	// least a whole minute (minOutage) is a 停止 that an exemption can cover.
	if wait := time.Until(injected.Add(150 * time.Second)); wait > 0 {
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(wait):
		}
	}
	lifted := time.Now()
	if err := s.ClearFaults(ctx, "delivery"); err != nil {
		t.Fatal(err)
	}
	phase("fault lifted")
	if !poll(ctx, 500*time.Millisecond, func() bool {
		incs := lc.incidents(ctx)
		return len(incs) == 1 && !incs[0].Firing && !incs[0].ResolvedAt.IsZero() && func() bool { inc = incs[0]; return true }()
	}) {
		t.Fatalf("the 障害票 was never resolved: %+v", lc.incidents(ctx))
	}
	phase("障害票 resolved")
	if inc.ResolvedAt.Before(lifted.Add(-e2eScrape)) {
		t.Errorf("resolved at %s, before the repair at %s", inc.ResolvedAt, lifted)
	}

	// The contractor writes the 障害票 in a real browser.
	page := fmt.Sprintf("%s/incidents/%d", s.LedgerURL(), inc.ID)
	browserEdit(ctx, t, s.LedgerURL(), inc.ID)
	phase("障害票 written in the browser")
	if got := lc.incidents(ctx)[0].Fields; got.Cause != "回線事業者の中継装置の故障" || got.Responsibility != "回線事業者" || got.Exemption != "通信回線障害" {
		t.Errorf("after the browser's edit the 障害票 holds %+v", got)
	}

	// The contractor requests the exemption with the page's default range;
	// the prefecture approves it.
	contractor := newFormClient(ctx, t, s.LedgerURL(), "uketaku")
	body := contractor.get(page)
	start, end := inputValue(t, body, "ex-start"), inputValue(t, body, "ex-end")
	contractor.post(page+"/exemption", url.Values{"category": {"通信回線障害"}, "start": {start}, "end": {end}, "reason": {"回線事業者の中継装置の故障"}}, http.StatusSeeOther)
	approver := newFormClient(ctx, t, s.LedgerURL(), "ken")
	approvals := approver.get(s.LedgerURL() + "/approvals")
	id := regexp.MustCompile(`action="/approvals/(\d+)"`).FindStringSubmatch(approvals)
	if id == nil {
		t.Fatalf("no pending approval on the approver's page:\n%s", approvals)
	}
	approver.post(s.LedgerURL()+"/approvals/"+id[1], url.Values{"decision": {"approve"}, "comment": {"回線事業者の障害報告を確認"}}, http.StatusSeeOther)

	// The next report run exempts the fault's down minutes.
	reportExempts(ctx, t, s)
	phase("report exempts the approved minutes")

	// An approved planned stop reaches the exporter through the feed.
	now := time.Now().In(config.Tokyo)
	contractor.get(s.LedgerURL() + "/approvals")
	contractor.post(s.LedgerURL()+"/approvals", url.Values{"kind": {"maintenance"}, "service": {"delivery"},
		"start": {now.Add(-time.Minute).Format("2006-01-02T15:04")}, "end": {now.Add(time.Hour).Format("2006-01-02T15:04")}, "reason": {"OS パッチ適用"}}, http.StatusSeeOther)
	approvals = approver.get(s.LedgerURL() + "/approvals")
	id = regexp.MustCompile(`action="/approvals/(\d+)"`).FindStringSubmatch(approvals)
	if id == nil {
		t.Fatalf("no pending planned stop on the approver's page:\n%s", approvals)
	}
	approver.post(s.LedgerURL()+"/approvals/"+id[1], url.Values{"decision": {"approve"}}, http.StatusSeeOther)
	if !poll(ctx, 500*time.Millisecond, func() bool {
		v, err := s.Query(ctx, `bosaimail_maintenance_active{service="delivery"}`)
		return err == nil && len(v) == 1 && v[0] == 1
	}) {
		t.Fatal(`bosaimail_maintenance_active{service="delivery"} never became 1 after the planned stop was approved`)
	}
	phase("approved planned stop reached the exporter")
	if v, err := s.Query(ctx, `bosaimail_maintenance_active{service="registration"}`); err != nil || len(v) != 1 || v[0] != 0 {
		t.Errorf(`bosaimail_maintenance_active{service="registration"} = %v (%v), want 0: the planned stop is delivery's`, v, err)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// ledgerAPI reads the ledger as the report does.
type ledgerAPI struct {
	t *testing.T
	s *stack.Stack
}

func (l *ledgerAPI) do(ctx context.Context, method, path, token, body string) []byte {
	l.t.Helper()
	req, _ := http.NewRequestWithContext(ctx, method, l.s.LedgerURL()+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		l.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		l.t.Fatalf("%s %s: HTTP %d %s", method, path, resp.StatusCode, b)
	}
	return b
}

func (l *ledgerAPI) incidents(ctx context.Context) []ledger.Incident {
	var out struct{ Incidents []ledger.Incident }
	if err := json.Unmarshal(l.do(ctx, http.MethodGet, "/api/v1/incidents", l.s.LedgerAPIToken(), ""), &out); err != nil {
		l.t.Fatal(err)
	}
	return out.Incidents
}

func (l *ledgerAPI) webhook(ctx context.Context, payload string) ledger.IngestResult {
	tok, err := os.ReadFile(filepath.Join(testbin.RepoRoot(), "examples", "alertmanager", "secrets", "ledger-webhook-token"))
	if err != nil {
		l.t.Fatal(err)
	}
	var res ledger.IngestResult
	if err := json.Unmarshal(l.do(ctx, http.MethodPost, "/api/v1/alerts", strings.TrimSpace(string(tok)), payload), &res); err != nil {
		l.t.Fatal(err)
	}
	return res
}

// formClient is a logged-in session posting the ledger's forms as a
// browser without JavaScript does.
type formClient struct {
	t     *testing.T
	ctx   context.Context
	c     *http.Client
	token string
}

var csrfInput = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func newFormClient(ctx context.Context, t *testing.T, base, user string) *formClient {
	jar, _ := cookiejar.New(nil)
	f := &formClient{t: t, ctx: ctx, c: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	f.get(base + "/login")
	var pw string
	for _, l := range stack.LedgerLogins() {
		if l.User == user {
			pw = l.Password
		}
	}
	f.post(base+"/login", url.Values{"username": {user}, "password": {pw}, "next": {"/"}}, http.StatusSeeOther)
	return f
}

func (f *formClient) get(u string) string {
	f.t.Helper()
	req, _ := http.NewRequestWithContext(f.ctx, http.MethodGet, u, nil)
	resp, err := f.c.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		f.t.Fatalf("GET %s: HTTP %d", u, resp.StatusCode)
	}
	if m := csrfInput.FindSubmatch(b); m != nil {
		f.token = string(m[1])
	}
	return string(b)
}

func (f *formClient) post(u string, v url.Values, want int) {
	f.t.Helper()
	v.Set("csrf_token", f.token)
	req, _ := http.NewRequestWithContext(f.ctx, http.MethodPost, u, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := f.c.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		f.t.Fatalf("POST %s: HTTP %d, want %d:\n%s", u, resp.StatusCode, want, b)
	}
}

func inputValue(t *testing.T, page, id string) string {
	t.Helper()
	m := regexp.MustCompile(`id="` + id + `" name="[^"]*" value="([^"]*)"`).FindStringSubmatch(page)
	if m == nil || m[1] == "" {
		t.Fatalf("no value of #%s on the page", id)
	}
	return m[1]
}

// reportExempts builds the report of the current month from the stack's
// Prometheus and the ledger, as `bosaimail_report --ledger.url` does, with
// the clock set after the month's end (a monthly report covers a whole
// month): every down minute of delivery is exempted by the approval, and
// 障害一覧 carries what was written in the 障害票.
func reportExempts(ctx context.Context, t *testing.T, s *stack.Stack) {
	t.Helper()
	lc := &report.LedgerClient{URL: s.LedgerURL(), Token: s.LedgerAPIToken(), Client: &http.Client{Timeout: 30 * time.Second}, MaxBytes: 16 << 20}
	ex, err := lc.Exemptions(ctx)
	if err != nil || ex == nil || len(ex.Exemptions) != 1 {
		t.Fatalf("exemptions from the ledger: %+v, %v", ex, err)
	}
	now := time.Now().In(config.Tokyo)
	month := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, config.Tokyo)
	from, to := report.LedgerYear(month, time.April)
	incs, err := lc.Incidents(ctx, from, to)
	if err != nil {
		t.Fatal(err)
	}
	q, err := report.NewQuerier(s.PrometheusURL(), nil, time.Minute, 256<<20)
	if err != nil {
		t.Fatal(err)
	}
	// The down minutes must be in Prometheus' answer: the last ones were
	// scraped a moment ago.
	r, err := report.Build(ctx, q, report.Options{
		Month: month, Selector: `job="bosaimail"`, MergeWindow: 5 * time.Minute, Target: 0.995, MaxOutages: 3,
		AntivirusMaxAge: 24 * time.Hour, Exemptions: ex, Now: func() time.Time { return to.Add(time.Hour) },
	})
	if err != nil {
		t.Fatalf("report: %v", err)
	}
	r.Ledger = incs
	for _, f := range r.Services {
		if f.Service != "delivery" {
			continue
		}
		if f.Stop == 0 || f.ExemptStop != f.Stop {
			t.Errorf("delivery in the report: 停止 %d min, exempt %d min; want every 停止 minute exempted", f.Stop, f.ExemptStop)
		}
	}
	var rows bytes.Buffer
	for _, sec := range r.Sections() {
		for _, tb := range sec.Tables {
			if tb.Name == "incidents" {
				for _, row := range tb.Rows {
					fmt.Fprintln(&rows, row...)
				}
			}
		}
	}
	if !strings.Contains(rows.String(), "回線事業者の中継装置の故障") {
		t.Errorf("障害一覧 lacks the cause written in the 障害票:\n%s", rows.String())
	}
}
