package report

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bosaimail/bosaimail_exporter/internal/app/ledger"
)

// october ledger: the 障害票 of the scenario's carrier fault and web fault,
// written and approved through the ledger's store, served by its real
// handler.
func octoberLedger(t *testing.T) *LedgerClient {
	t.Helper()
	st, err := ledger.OpenStore(filepath.Join(t.TempDir(), "ledger.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := jstAt(2026, 11, 2, 10, 0, 0)
	srv, err := ledger.New(ledger.Options{Store: st, Users: map[string]*ledger.User{}, WebhookToken: []byte("w"), APIToken: []byte("api-token"), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)

	alert := func(service, status string, start, end time.Time) *ledger.Message {
		return &ledger.Message{Version: "4", Alerts: []ledger.WebhookAlert{{
			Status: status, StartsAt: start, EndsAt: end,
			Labels:      map[string]string{"alertname": "BosaiMailServiceDown", "service": service, "severity": "critical"},
			Annotations: map[string]string{"summary": service + " が停止しています"},
		}}}
	}
	for _, m := range []*ledger.Message{
		alert("mail", "resolved", jstAt(2026, 10, 12, 3, 12, 0), jstAt(2026, 10, 12, 4, 42, 0)),
		alert("web", "resolved", jstAt(2026, 10, 18, 12, 2, 0), jstAt(2026, 10, 18, 12, 4, 0)),
	} {
		if _, err := st.Ingest(m, 5*time.Minute, now); err != nil {
			t.Fatal(err)
		}
	}
	incs, _ := st.Incidents(time.Time{}, time.Time{})
	byService := map[string]uint64{}
	for _, i := range incs {
		byService[i.Service] = i.ID
	}
	if _, err := st.UpdateFields(byService["mail"], 0, "受託者", now, ledger.Fields{
		Event: "配信停止", Cause: "回線事業者の中継装置故障", Action: "回線事業者が装置交換", Status: "完了",
		Responsibility: "回線事業者", Exemption: "通信回線障害",
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.UpdateFields(byService["web"], 0, "受託者", now, ledger.Fields{
		Event: "登録画面エラー", Cause: "証明書更新漏れ", Action: "証明書を更新", Status: "完了", Responsibility: "受託者", Important: true,
	}); err != nil {
		t.Fatal(err)
	}
	a, err := st.RequestApproval(ledger.Approval{Kind: ledger.KindExemption, Incident: byService["mail"], Service: "mail",
		Start: jstAt(2026, 10, 12, 3, 7, 0), End: jstAt(2026, 10, 12, 4, 43, 0), Category: "通信回線障害", Reason: "回線事業者の中継装置故障",
		RequestedBy: "受託者", RequestedAt: now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Decide(a.ID, true, "県 花子", "", now); err != nil {
		t.Fatal(err)
	}
	return &LedgerClient{URL: hs.URL, Token: "api-token", Client: &http.Client{Timeout: 10 * time.Second}, MaxBytes: 1 << 20}
}

// TestLedgerReport: the exemption approved in the ledger exempts the
// carrier fault's minutes (the same figures as the scenario's exemption
// file), and the 障害票's text fills 障害一覧 and the ledger's sheets; a
// second run gives the same report.
func TestLedgerReport(t *testing.T) {
	c := octoberLedger(t)
	ctx := context.Background()
	ex, err := c.Exemptions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	from, to := LedgerYear(jstAt(2026, 10, 1, 0, 0, 0), time.April)
	incs, err := c.Incidents(ctx, from, to)
	if err != nil || len(incs) != 2 {
		t.Fatalf("incidents %v, %v", incs, err)
	}
	var outputs []string
	for run := 0; run < 2; run++ {
		r, err := octoberReport(t, Options{Exemptions: ex})
		if err != nil {
			t.Fatal(err)
		}
		r.Ledger = incs
		if r.Services[0].Service != "mail" || r.Services[0].ExemptStop != 90 {
			t.Errorf("mail: %+v, want the 90 minutes of the carrier fault exempted", r.Services[0])
		}
		var b strings.Builder
		secs := r.Sections()
		for _, s := range secs {
			for _, tb := range s.Tables {
				for _, row := range tb.Rows {
					fmt.Fprintf(&b, "%s|%s|%v\n", s.Sheet, tb.Name, row)
				}
			}
		}
		outputs = append(outputs, b.String())
	}
	out := outputs[0]
	for _, want := range []string{
		"mail-20261012-0310 停止 重大 mail 配信停止（障害票 1）",
		"回線事業者 通信回線障害 ledger-1 回線事業者の中継装置故障 回線事業者が装置交換 完了]",
		"web-20261018-1200 停止 重大 web 登録画面エラー（障害票 2）",
		"障害票|ledger|[1 mail-20261012-0310 mail",
		"重要障害|important|[2 web-20261018-1200 web",
		"障害統計（障害票）|ledger_responsibility|[受託者 1]",
		"障害統計（障害票）|ledger_responsibility|[回線事業者 1]",
		"障害統計（障害票）|ledger_cause|[証明書更新漏れ 1]",
		"障害統計（障害票）|ledger_exemption|[通信回線障害 1]",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q; rows:\n%s", want, out)
		}
	}
	if outputs[0] != outputs[1] {
		t.Errorf("a second run differs")
	}
}
