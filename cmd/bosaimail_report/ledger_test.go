package main

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/bosaimail/bosaimail_exporter/internal/app/ledger"
	"github.com/bosaimail/bosaimail_exporter/internal/testkit/reporttest"
)

// TestReportFromLedger runs the command with --ledger.url against a real
// ledger holding the carrier fault's 障害票 and its approved exemption:
// the exemption gives the same contractual availability as the scenario's
// exemption file, and what was written in the 障害票 is in 障害一覧. With a
// wrong token nothing is written.
func TestReportFromLedger(t *testing.T) {
	url := reporttest.Start(t)
	jst := reporttest.JST
	st, err := ledger.OpenStore(filepath.Join(t.TempDir(), "ledger.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := jst(2026, 11, 2, 10, 0, 0)
	srv, err := ledger.New(ledger.Options{Store: st, Users: map[string]*ledger.User{}, WebhookToken: []byte("w"), APIToken: []byte("api-token-0123456789"), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	if _, err := st.Ingest(&ledger.Message{Version: "4", Alerts: []ledger.WebhookAlert{{
		Status: "resolved", StartsAt: jst(2026, 10, 12, 3, 12, 0), EndsAt: jst(2026, 10, 12, 4, 42, 0),
		Labels: map[string]string{"alertname": "BosaiMailServiceDown", "service": "mail", "severity": "critical"},
	}}}, 5*time.Minute, now); err != nil {
		t.Fatal(err)
	}
	if _, err := st.UpdateFields(1, 0, "受託者", now, ledger.Fields{Event: "配信停止", Cause: "回線事業者の中継装置故障", Action: "装置交換", Status: "完了", Responsibility: "回線事業者", Important: true}); err != nil {
		t.Fatal(err)
	}
	a, err := st.RequestApproval(ledger.Approval{Kind: ledger.KindExemption, Incident: 1, Service: "mail", Start: jst(2026, 10, 12, 3, 7, 0), End: jst(2026, 10, 12, 4, 43, 0),
		Category: "通信回線障害", Reason: "回線事業者の中継装置故障", RequestedBy: "受託者", RequestedAt: now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Decide(a.ID, true, "県", "", now); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "token")
	bad := filepath.Join(dir, "bad-token")
	os.WriteFile(good, []byte("api-token-0123456789\n"), 0o600)
	os.WriteFile(bad, []byte("wrong-token-0123456789\n"), 0o600)

	out := t.TempDir()
	if code := run([]string{"--prometheus.url", url, "--month", "2026-10", "--out", out, "--format", "xlsx", "--ledger.url", hs.URL, "--ledger.token-file", bad}, november5); code != 1 {
		t.Errorf("wrong ledger token: exit %d, want 1", code)
	}
	if got := files(t, out); len(got) != 0 {
		t.Errorf("wrote %v although the ledger refused", got)
	}
	for run2 := 0; run2 < 2; run2++ { // re-running keeps everything
		if code := run([]string{"--prometheus.url", url, "--month", "2026-10", "--out", out, "--format", "xlsx", "--ledger.url", hs.URL, "--ledger.token-file", good}, november5); code != 0 {
			t.Fatalf("exit %d", code)
		}
		f, err := excelize.OpenFile(filepath.Join(out, "bosaimail-report-2026-10.xlsx"))
		if err != nil {
			t.Fatal(err)
		}
		// The month's row of mail (the first; the contract year's follows):
		// 1 − (142 停止 − 90 exempted by the ledger's approval + 45 稼働未確認)
		// ÷ 44,520 expected minutes (the ledger serves no 稼働確認 here).
		rows, _ := f.GetRows("稼働実績")
		for _, r := range rows {
			if len(r) > 10 && r[0] == "mail" {
				if r[10] != "99.782%" {
					t.Errorf("mail availability after exemptions %q, want 99.782%% (the approved exemption)", r[10])
				}
				break
			}
		}
		var all strings.Builder
		for _, sheet := range []string{"障害一覧", "重要障害"} {
			rows, err := f.GetRows(sheet)
			if err != nil {
				t.Errorf("sheet %s: %v", sheet, err)
			}
			for _, r := range rows {
				all.WriteString(sheet + "|" + strings.Join(r, "|") + "\n")
			}
		}
		f.Close()
		for _, want := range []string{"障害一覧|", "回線事業者の中継装置故障|装置交換|完了", "重要障害|1|mail-20261012-0310|mail"} {
			if !strings.Contains(all.String(), want) {
				t.Errorf("run %d: report lacks %q:\n%s", run2+1, want, all.String())
			}
		}
	}
}
