package report

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/bosaimail/bosaimail_exporter/internal/exemption"
	"github.com/bosaimail/bosaimail_exporter/internal/testkit/reporttest"
)

var update = flag.Bool("update", false, "rewrite the golden report testdata/report/2026-10.md")

func repoFile(t *testing.T, rel string) string {
	t.Helper()
	return filepath.Join(reporttest.RepoRoot(t), rel)
}

func loadExemptions(t *testing.T, name string) *exemption.File {
	t.Helper()
	f, err := exemption.Load(repoFile(t, filepath.Join("testdata/report", name)))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestOctober compares every figure of the scenario's October with the
// value worked out by hand (see buildScenario).
func TestOctober(t *testing.T) {
	reporttest.Start(t)
	began := time.Now()
	r, err := octoberReport(t, Options{Exemptions: loadExemptions(t, "exemptions.yml")})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("report built in %s", time.Since(began).Round(time.Millisecond))
	// mail: 停止 30 (Oct 3) + 90 (Oct 12, exempted) + 7 + 5 (Oct 25) + 10
	// (Oct 31, into November) = 142; the one failed probe at 14:38:30 is a
	// 瞬断; the down inside the planned stop of Oct 8 counts nothing; the
	// exporter was not scraped for 45 minutes on Oct 20 (稼働未確認).
	// 30 of the 45 稼働未確認 minutes of mail are covered by 稼働確認.
	mail := ServiceFigures{Service: "mail", counts: counts{Minutes: 44640, Planned: 120, Up: 44332, Blip: 1, Down: 142, Stop: 142, ExemptStop: 90, Unobserved: 45, Confirmed: 30},
		Outages: 5, OutagesContract: 4}
	// web: 3 minutes on Oct 18, 5 inside the unapproved window of Oct 22.
	web := ServiceFigures{Service: "web", counts: counts{Minutes: 44640, Up: 44587, Down: 8, Stop: 8, Unobserved: 45},
		Outages: 2, OutagesContract: 2}
	// 対象システム: down while either is (142 + 8, never at once), no
	// planned stop (web ran while mail was in one), the 45 minutes of Oct 20
	// unobserved and not confirmed (web's were not), the 瞬断 of mail.
	system := ServiceFigures{Service: "対象システム", counts: counts{Minutes: 44640, Up: 44444, Blip: 1, Down: 150, Stop: 150, ExemptStop: 90, Unobserved: 45},
		Outages: 7, OutagesContract: 6}
	wantSvc := []ServiceFigures{mail, web, system}
	for i := range wantSvc {
		wantSvc[i].ratios()
	}
	if !reflect.DeepEqual(r.Services, wantSvc) {
		t.Errorf("services:\n got %+v\nwant %+v", r.Services, wantSvc)
	}
	if got, want := r.Services[0].Contractual, 1-67.0/44520; math.Abs(got-want) > 1e-12 {
		t.Errorf("mail 契約稼働率 %v, want 1 - (142 - 90 + 45 - 30) / 44520 = %v", got, want)
	}
	if got, want := r.Services[0].BeforeExemptions, 1-157.0/44520; math.Abs(got-want) > 1e-12 {
		t.Errorf("mail 免責適用前 %v, want %v", got, want)
	}
	if got, want := r.Services[0].Observed, 1-142.0/44475; math.Abs(got-want) > 1e-12 {
		t.Errorf("mail 実測 %v, want %v", got, want)
	}
	// The contract year: monitoring began on 1 July, April to June are
	// 判定保留; July 10 minutes, September 20 (exempted by incident id).
	wantYear := []ServiceFigures{
		{Service: "mail", counts: counts{Minutes: 177120, Planned: 120, Up: 177120 - 120 - 172 - 45 - 1, Blip: 1, Down: 172, Stop: 172, ExemptStop: 110, Unobserved: 45, Confirmed: 30},
			Outages: 7, OutagesContract: 5},
		{Service: "web", counts: counts{Minutes: 177120, Up: 177120 - 8 - 45, Down: 8, Stop: 8, Unobserved: 45}, Outages: 2, OutagesContract: 2},
		{Service: "対象システム", counts: counts{Minutes: 177120, Up: 177120 - 180 - 45 - 1, Blip: 1, Down: 180, Stop: 180, ExemptStop: 110, Unobserved: 45}, Outages: 9, OutagesContract: 7},
	}
	for i := range wantYear {
		wantYear[i].ratios()
	}
	if !reflect.DeepEqual(r.Year, wantYear) {
		t.Errorf("contract year:\n got %+v\nwant %+v", r.Year, wantYear)
	}
	if r.ScrapeInterval != 55*time.Second { // 60 s × 44595 minutes / 48915 samples
		t.Errorf("scrape interval %s, want 55s", r.ScrapeInterval)
	}

	type outage struct {
		ID          string
		Start, End  time.Time
		Down        int
		Exempt      int
		Category    string
		Responsible string
	}
	var gotOut []outage
	for _, o := range r.Outages {
		gotOut = append(gotOut, outage{o.ID, o.Start, o.End, o.Down, o.Exempt, o.Category, strings.Join(o.Responsible, ",")})
	}
	wantOut := []outage{
		{"mail-20261003-1405", jstAt(2026, 10, 3, 14, 5, 0), jstAt(2026, 10, 3, 14, 35, 0), 30, 0, "", "contractor"},
		{"mail-20261012-0310", jstAt(2026, 10, 12, 3, 10, 0), jstAt(2026, 10, 12, 4, 40, 0), 90, 90, "通信回線障害", "network"},
		{"web-20261018-1200", jstAt(2026, 10, 18, 12, 0, 0), jstAt(2026, 10, 18, 12, 3, 0), 3, 0, "", "contractor"},
		{"web-20261022-0120", jstAt(2026, 10, 22, 1, 20, 0), jstAt(2026, 10, 22, 1, 25, 0), 5, 0, "", ""},
		{"mail-20261025-1800", jstAt(2026, 10, 25, 18, 0, 0), jstAt(2026, 10, 25, 18, 7, 0), 7, 0, "", ""},
		{"mail-20261025-1815", jstAt(2026, 10, 25, 18, 15, 0), jstAt(2026, 10, 25, 18, 20, 0), 5, 0, "", ""},
		{"mail-20261031-2350", jstAt(2026, 10, 31, 23, 50, 0), jstAt(2026, 11, 1, 0, 0, 0), 10, 0, "", ""},
	}
	if !equalOutages(gotOut, wantOut) {
		t.Errorf("outages:\n got %+v\nwant %+v", gotOut, wantOut)
	}
	if len(r.Blips) != 1 || r.Blips[0].Service != "mail" || !r.Blips[0].Start.Equal(jstAt(2026, 10, 3, 14, 38, 0)) || r.Blips[0].Minutes != 1 {
		t.Errorf("瞬断: %+v", r.Blips)
	}
	wantPlanned := []PlannedStop{
		{Span: Span{Service: "mail", Start: jstAt(2026, 10, 8, 2, 0, 0), End: jstAt(2026, 10, 8, 4, 0, 0), Minutes: 120}, Approved: true, ApprovedBy: "三重県防災対策部災害対策課", ApprovedOn: "2026-10-01", Down: 100},
		{Span: Span{Service: "web", Start: jstAt(2026, 10, 22, 1, 0, 0), End: jstAt(2026, 10, 22, 2, 0, 0), Minutes: 60}, Down: 5},
	}
	if len(r.Planned) != len(wantPlanned) {
		t.Errorf("planned stops: %+v", r.Planned)
	} else {
		for i, p := range r.Planned {
			w := wantPlanned[i]
			if !p.Start.Equal(w.Start) || !p.End.Equal(w.End) || p.Service != w.Service || p.Minutes != w.Minutes || p.Approved != w.Approved || p.ApprovedBy != w.ApprovedBy || p.ApprovedOn != w.ApprovedOn || p.Down != w.Down {
				t.Errorf("planned stop %d: got %+v, want %+v", i, p, w)
			}
		}
	}

	type alert struct {
		Name, Severity, Service, Responsible, Labels string
		Start                                        time.Time
		Minutes                                      int
	}
	var gotAl []alert
	for _, a := range r.Alerts {
		gotAl = append(gotAl, alert{a.Alertname, a.Severity, a.Service, a.Responsible, a.Labels, a.Start, a.Minutes})
	}
	wantAl := []alert{
		{"BosaiMailServiceDown", "critical", "mail", "contractor", "", jstAt(2026, 10, 3, 14, 7, 0), 34},
		{"BosaiMailServiceDown", "critical", "mail", "network", "", jstAt(2026, 10, 12, 3, 12, 0), 90},
		{"BosaiMailJobFailed", "warning", "", "contractor", "job_name=backup-db", jstAt(2026, 10, 14, 3, 10, 0), 350},
		{"BosaiMailCheckFailing", "warning", "web", "contractor", "check=https", jstAt(2026, 10, 18, 12, 2, 0), 2},
	}
	if len(gotAl) != len(wantAl) {
		t.Errorf("alerts:\n got %+v\nwant %+v", gotAl, wantAl)
	} else {
		for i := range wantAl {
			if gotAl[i] != wantAl[i] && !(gotAl[i].Start.Equal(wantAl[i].Start) && sameAlert(gotAl[i], wantAl[i])) {
				t.Errorf("alert %d: got %+v, want %+v", i, gotAl[i], wantAl[i])
			}
		}
	}

	if len(r.Unobserved) != 2 || r.Unobserved[0].Minutes != 45 || !r.Unobserved[0].Start.Equal(jstAt(2026, 10, 20, 10, 0, 0)) || r.Unobserved[1].Minutes != 45 {
		t.Errorf("稼働未確認: %+v", r.Unobserved)
	}

	if len(r.Trend) != 7 {
		t.Fatalf("trend has %d months, want 7 (Apr–Oct)", len(r.Trend))
	}
	none := map[string]int{"mail": 0, "web": 0}
	wantTrend := map[int]MonthTrend{
		0: {Unobserved: map[string]int{}},
		3: {Outages: 1, Contract: 1, Stop: 10, Unobserved: none, Critical: 1, HasData: true},
		4: {Unobserved: none, HasData: true},
		5: {Outages: 1, Exempted: 1, Stop: 20, ExemptStop: 20, Unobserved: none, Critical: 1, HasData: true},
		6: {Outages: 7, Exempted: 1, Contract: 6, Stop: 150, ExemptStop: 90, Unobserved: map[string]int{"mail": 45, "web": 45}, Critical: 2, Warning: 2, HasData: true},
	}
	for i, want := range wantTrend {
		got := r.Trend[i]
		want.Month = got.Month
		if !reflect.DeepEqual(got, want) {
			t.Errorf("trend %s: got %+v, want %+v", got.Month.Format("2006-01"), got, want)
		}
	}
	wantCats := []CategoryCount{{"免責なし", 7, 70}, {"通信回線障害", 1, 90}, {"自然災害", 1, 20}}
	if !reflect.DeepEqual(r.Categories, wantCats) {
		t.Errorf("categories: got %+v, want %+v", r.Categories, wantCats)
	}
	wantParties := []PartyCount{{"contractor", 3, 4}, {"cloud", 1, 1}, {"network", 1, 1}, {"", 4, 0}}
	if !reflect.DeepEqual(r.Parties, wantParties) {
		t.Errorf("parties: got %+v, want %+v", r.Parties, wantParties)
	}

	if len(r.Exemptions) != 2 || len(r.Confirmations) != 1 {
		t.Fatalf("applied exemptions: %+v, confirmations %+v", r.Exemptions, r.Confirmations)
	}
	for i, want := range []struct {
		id             string
		minutes, inMon int
		outages        []string
	}{{"EX-2026-001", 20, 0, []string{"mail-20260902-1000"}}, {"EX-2026-002", 90, 90, []string{"mail-20261012-0310"}}} {
		a := r.Exemptions[i]
		if a.ID != want.id || a.Minutes != want.minutes || a.InMonth != want.inMon || !reflect.DeepEqual(a.Outages, want.outages) {
			t.Errorf("exemption %d: got %s %d %d %v, want %+v", i, a.ID, a.Minutes, a.InMonth, a.Outages, want)
		}
	}

	wantJobs := []JobFigures{{Job: "backup-db", Runs: 31, Failures: 1, Overdue: 156, OverdueEpisodes: 1, LastSuccess: jstAt(2026, 10, 31, 3, 0, 0), MaxDuration: 900}}
	if len(r.Jobs) != 1 || r.Jobs[0].Job != wantJobs[0].Job || r.Jobs[0].Runs != 31 || r.Jobs[0].Failures != 1 || r.Jobs[0].Overdue != 156 ||
		r.Jobs[0].OverdueEpisodes != 1 || !r.Jobs[0].LastSuccess.Equal(wantJobs[0].LastSuccess) || r.Jobs[0].MaxDuration != 900 {
		t.Errorf("jobs: got %+v, want %+v", r.Jobs, wantJobs)
	}
	if len(r.Integrity) != 1 {
		t.Fatalf("integrity: %+v", r.Integrity)
	}
	if in := r.Integrity[0]; in.Dataset != "subscribers" || in.Checks != 124 || in.Violations != 1 || in.MaxMismatches != 3 ||
		!in.LastCheck.Equal(jstAt(2026, 10, 31, 18, 0, 0)) || in.VerifiedAtEnd != 1 {
		t.Errorf("integrity: %+v", in)
	}
	if len(r.Backups) != 1 {
		t.Fatalf("backups: %+v", r.Backups)
	}
	if b := r.Backups[0]; b.Backup != "db-daily" || b.Backups != 31 || !b.Last.Equal(jstAt(2026, 10, 31, 3, 5, 0)) ||
		b.MaxAge != 24*time.Hour+time.Minute-time.Millisecond || b.SizeAtEnd != 1.5e9 {
		t.Errorf("backups: %+v", b)
	}
	wantAdv := []CountFigures{{"openssl / critical / nvd", 1, 1, 1, 0, 0}, {"postfix / high / jvn", 0, 0, 2, 2, 2}}
	if !reflect.DeepEqual(r.Advisory, wantAdv) {
		t.Errorf("advisories: got %+v, want %+v", r.Advisory, wantAdv)
	}
	if len(r.Findings) != 0 || len(r.Exploited) != 1 || r.Exploited[0].Max != 0 {
		t.Errorf("findings %+v, exploited %+v", r.Findings, r.Exploited)
	}
	wantAV := []AntivirusFigures{{"clamav", 4*time.Hour - time.Millisecond, 36*time.Hour - time.Millisecond, 720}}
	if !reflect.DeepEqual(r.Antivirus, wantAV) {
		t.Errorf("antivirus: got %+v, want %+v", r.Antivirus, wantAV)
	}

	checkOutputs(t, r)
}

func sameAlert(a, b any) bool { return reflect.DeepEqual(stripTime(a), stripTime(b)) }

func stripTime(v any) any {
	rv := reflect.ValueOf(v)
	out := reflect.New(rv.Type()).Elem()
	out.Set(rv)
	for i := 0; i < out.NumField(); i++ {
		if out.Field(i).Type() == reflect.TypeOf(time.Time{}) {
			out.Field(i).Set(reflect.ValueOf(time.Time{}))
		}
	}
	return out.Interface()
}

func equalOutages[T any](got, want []T) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if !sameAlert(got[i], want[i]) {
			return false
		}
		g, w := reflect.ValueOf(got[i]), reflect.ValueOf(want[i])
		for j := 0; j < g.NumField(); j++ {
			if gt, ok := g.Field(j).Interface().(time.Time); ok && !gt.Equal(w.Field(j).Interface().(time.Time)) {
				return false
			}
		}
	}
	return true
}

// checkOutputs writes all formats, reads the XLSX back with excelize and
// compares the Markdown with the golden file.
func checkOutputs(t *testing.T, r *Report) {
	dir := t.TempDir()
	if d := os.Getenv("BOSAIMAIL_REPORT_KEEP"); d != "" {
		dir = d // to look at the files, e.g. printed to PDF
	}
	// The port of the test Prometheus changes from run to run.
	r.Source = "http://prometheus:9090"
	paths, err := r.Write(dir, Formats)
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != len(paths) {
		t.Errorf("directory has %d entries, %d written: temporary files left?", len(entries), len(paths))
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}

	f, err := excelize.OpenFile(filepath.Join(dir, "bosaimail-report-2026-10.xlsx"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	wantSheets := []string{"概要", "稼働実績", "障害一覧", "計画停止", "障害統計", "ジョブ実績", "バックアップ・完全性", "容量", "セキュリティ", "稼働未確認", "免責"}
	if got := f.GetSheetList(); !reflect.DeepEqual(got, wantSheets) {
		t.Errorf("sheets %v, want %v", got, wantSheets)
	}
	rows, err := f.GetRows("稼働実績")
	if err != nil {
		t.Fatal(err)
	}
	hdr := indexOf(rows, "サービス")
	if hdr < 0 {
		t.Fatalf("稼働実績 has no header row: %v", rows)
	}
	wantHdr := []string{"サービス", "期間(分)", "計画停止(分)", "想定稼働時間(分)", "停止時間(分)", "免責(分)", "稼働未確認(分)", "稼働確認済み(分)", "瞬断(分)",
		"稼働率(免責適用前)", "稼働率(免責適用後)", "実測稼働率(観測分のみ)", "稼働率判定", "停止回数(免責適用前)", "停止回数(免責適用後)"}
	if !reflect.DeepEqual(rows[hdr], wantHdr) {
		t.Errorf("稼働実績 header %v", rows[hdr])
	}
	// 1 - 157/44520, 1 - 67/44520, 1 - 142/44475.
	wantMail := []string{"mail", "44,640", "120", "44,520", "142", "90", "45", "30", "1", "99.647%", "99.850%", "99.681%", "達成", "5", "4"}
	if !reflect.DeepEqual(rows[hdr+1], wantMail) {
		t.Errorf("稼働実績 mail row\n got %v\nwant %v", rows[hdr+1], wantMail)
	}
	// Raw values: numbers, not text.
	raw, err := f.GetCellValue("稼働実績", cellName(11, hdr+2), excelize.Options{RawCellValue: true})
	if err != nil || !strings.HasPrefix(raw, "0.99849") {
		t.Errorf("contractual availability cell holds %q (%v), want the ratio", raw, err)
	}
	inc, _ := f.GetRows("障害一覧")
	h := indexOf(inc, "No.")
	if h < 0 || len(inc) != h+1+12 {
		t.Fatalf("障害一覧: %d rows after the header, want 12 (7 停止, 1 瞬断, 4 alerts): %v", len(inc)-h-1, inc)
	}
	first := inc[h+1]
	if first[1] != "mail-20261003-1405" || first[6] != "2026/10/03 14:05" || first[7] != "2026/10/03 14:35" || first[9] != "30" || first[10] != "受託者" {
		t.Errorf("障害一覧 first row: %v", first)
	}
	for _, sheet := range wantSheets {
		pl, err := f.GetPageLayout(sheet)
		if err != nil || pl.Size == nil || *pl.Size != paperA4 || pl.FitToWidth == nil || *pl.FitToWidth != 1 {
			t.Errorf("sheet %s does not print on A4, one page wide: %+v %v", sheet, pl, err)
		}
	}
	if w, _ := f.GetColWidth("障害一覧", "B"); w != 22 {
		t.Errorf("障害一覧 column B width %v, want 22", w)
	}

	csvData, err := os.ReadFile(filepath.Join(dir, "bosaimail-report-2026-10-availability.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(csvData, []byte("mail,44640,120,44520,142,90,45,30,1,0.996473,0.998495,0.996807,達成,5,4\n")) {
		t.Errorf("availability CSV:\n%s", csvData)
	}
	incCSV, _ := os.ReadFile(filepath.Join(dir, "bosaimail-report-2026-10-incidents.csv"))
	if !bytes.Contains(incCSV, []byte("2026-10-03T14:05:00+09:00,2026-10-03T14:35:00+09:00")) {
		t.Errorf("incidents CSV has no JST RFC 3339 times:\n%s", incCSV)
	}

	md, err := os.ReadFile(filepath.Join(dir, "bosaimail-report-2026-10.md"))
	if err != nil {
		t.Fatal(err)
	}
	golden := repoFile(t, "testdata/report/2026-10.md")
	if *update {
		if err := os.WriteFile(golden, md, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(md, want) {
		t.Errorf("Markdown differs from %s (run with -update after checking):\n%s", golden, md)
	}
}

func indexOf(rows [][]string, first string) int {
	for i, r := range rows {
		if len(r) > 0 && r[0] == first {
			return i
		}
	}
	return -1
}

func cellName(col, row int) string {
	n, _ := excelize.CoordinatesToCellName(col, row)
	return n
}

// TestBadInput: errors that name the problem, and nothing written.
func TestBadInput(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		wantErr []string
	}{
		{"month before monitoring began", Options{Month: jstAt(2026, 6, 1, 0, 0, 0)}, []string{"no data", `bosaimail_check_up{job="bosaimail",critical="true"}`, "2026-06-01 00:00"}},
		{"selector matching nothing", Options{Selector: `job="nope"`}, []string{"no data", `job="nope"`}},
		{"month not over", Options{Month: jstAt(2026, 11, 1, 0, 0, 0)}, []string{"has not ended"}},
		{"exemption matching nothing", Options{Exemptions: loadExemptions(t, "exemptions-nomatch.yml")}, []string{
			"exemptions-nomatch.yml:3 (EX-X-1): matches no outage: no 停止 minute of mail between 2026-10-15 10:00 and 2026-10-15 11:00",
			"exemptions-nomatch.yml:4 (EX-X-2): incident \"mail-20261003-1400\" matches no outage",
			"exemptions-nomatch.yml:10 (EX-X-3): service \"fax\" has no data",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := octoberReport(t, tt.opts)
			if err == nil {
				t.Fatalf("no error; report %+v", r.Services)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestUnreachablePrometheus(t *testing.T) {
	q, err := NewQuerier("http://127.0.0.1:1", nil, 5*time.Second, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Build(t.Context(), q, Options{Month: jstAt(2026, 10, 1, 0, 0, 0), MergeWindow: 5 * time.Minute, Now: func() time.Time { return jstAt(2026, 11, 5, 0, 0, 0) }})
	if err == nil || !strings.Contains(err.Error(), "prometheus http://127.0.0.1:1") || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("error %v does not name Prometheus and the cause", err)
	}
}

// TestWriteLeavesNothingOnFailure: when one file cannot be put in place,
// none of the report's files stay.
func TestWriteLeavesNothingOnFailure(t *testing.T) {
	r := &Report{Month: jstAt(2026, 10, 1, 0, 0, 0), MonthEnd: jstAt(2026, 11, 1, 0, 0, 0), YearStart: jstAt(2026, 4, 1, 0, 0, 0), Target: 0.995, MaxOutages: 3}
	dir := t.TempDir()
	// A directory where the Markdown file should go makes its rename fail
	// after the XLSX was renamed.
	if err := os.Mkdir(filepath.Join(dir, "bosaimail-report-2026-10.md"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bosaimail-report-2026-10.md", "x"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Write(dir, []string{"xlsx", "md"}); err == nil {
		t.Fatal("no error")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("left behind: %v", names)
	}
	if _, err := r.Write(dir, []string{"pdf"}); err == nil || !strings.Contains(err.Error(), `unknown format "pdf"`) {
		t.Errorf("unknown format: %v", err)
	}
}

// TestMisbehavingPrometheus: a peer that hangs, answers too much or answers
// HTML fails the report with a clear error instead of hanging or eating
// memory.
func TestMisbehavingPrometheus(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    string
	}{
		{"hangs", func(w http.ResponseWriter, r *http.Request) {
			// Only once the body was read does the server notice a
			// client that gave up.
			io.Copy(io.Discard, r.Body)
			<-r.Context().Done()
		}, "context deadline exceeded"},
		{"too large", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"status":"success","data":{"resultType":"matrix","result":[` + strings.Repeat(" ", 2<<20) + `]}}`))
		}, "body larger than 1048576 bytes"},
		{"html", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<html><body>proxy login</body></html>"))
		}, "prometheus http://127.0.0.1"},
		{"partial answer names the warning", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"status":"success","data":{"resultType":"matrix","result":[]},"warnings":["remote store unavailable"]}`))
		}, "prometheus warned: remote store unavailable"},
		{"error", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"status":"error","errorType":"bad_data","error":"exceeded maximum resolution"}`))
		}, "bad_data: exceeded maximum resolution"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			t.Cleanup(srv.Close)
			q, err := NewQuerier(srv.URL, nil, 300*time.Millisecond, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Build(t.Context(), q, Options{Month: jstAt(2026, 10, 1, 0, 0, 0), MergeWindow: 5 * time.Minute, Now: func() time.Time { return jstAt(2026, 11, 5, 0, 0, 0) }})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v does not contain %q", err, tt.want)
			}
		})
	}
}

// TestOverlappingExemptions: two exemptions of one outage count its minutes
// once; an exemption of part of an outage leaves it in the count.
func TestOverlappingExemptions(t *testing.T) {
	r, err := octoberReport(t, Options{Exemptions: loadExemptions(t, "exemptions-overlap.yml")})
	if err != nil {
		t.Fatal(err)
	}
	mail, web := r.Services[0], r.Services[1]
	if mail.ExemptStop != 90 || mail.OutagesContract != 4 || web.ExemptStop != 1 || web.OutagesContract != 2 || web.Contractual != 1-float64(8-1+45)/44640 {
		t.Errorf("mail %+v\nweb %+v", mail, web)
	}
	var got []string
	for _, a := range r.Exemptions {
		got = append(got, fmt.Sprintf("%s:%d:%v", a.ID, a.Minutes, a.Outages))
	}
	want := []string{"EX-A:90:[mail-20261012-0310]", "EX-B:90:[mail-20261012-0310]", "EX-C:1:[web-20261018-1200]"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("exemptions %v, want %v", got, want)
	}
	for _, o := range r.Outages {
		if o.ID == "web-20261018-1200" && (!o.PartlyExempted() || o.Exempted()) {
			t.Errorf("web outage: %+v", o)
		}
	}
	if !strings.Contains(strings.Join(r.Notes, "\n"), "web の停止（2026-10-18 12:00 開始）は停止3分のうち1分のみ免責のため、停止回数に数えています。") {
		t.Errorf("notes: %v", r.Notes)
	}
}

// TestEmptySections: sections without data say so instead of passing.
func TestEmptySections(t *testing.T) {
	r := &Report{Month: jstAt(2026, 10, 1, 0, 0, 0), MonthEnd: jstAt(2026, 11, 1, 0, 0, 0), YearStart: jstAt(2026, 4, 1, 0, 0, 0), Target: 0.995, MaxOutages: 3, AntivirusMaxAge: 24 * time.Hour}
	var b bytes.Buffer
	if err := r.WriteMarkdown(&b, r.Sections()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| データ完全性 | 判定保留（完全性検査の監視データなし）", "当月の障害・アラートはありません。", "ジョブの監視データはありません。", "当月の稼働未確認はありません。", "当月の計画停止はありません。", "免責の適用はありません。", "| 監視データ間隔 | 不明 |"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("Markdown lacks %q:\n%s", want, b.String())
		}
	}
}

func TestAvailabilityVerdict(t *testing.T) {
	for _, tt := range []struct {
		contractual float64
		want        string
	}{{0.995, "達成"}, {0.99499, "未達"}, {math.NaN(), "判定保留"}} {
		if got := availabilityVerdict(ServiceFigures{Contractual: tt.contractual}, 0.995); got != tt.want {
			t.Errorf("%v: %s, want %s", tt.contractual, got, tt.want)
		}
	}
}

// TestReplicas: with a second Prometheus (an HA replica) that scraped the
// exporters while the first did not, a minute is 稼働未確認 only if neither
// observed it.
func TestReplicas(t *testing.T) {
	gapFrom, gapTo := jstAt(2026, 10, 20, 10, 0, 0), jstAt(2026, 10, 20, 10, 30, 0)
	replica := reporttest.StartWith(t, func(w *reporttest.OM) error {
		for _, inst := range []string{"a", "b"} {
			for _, check := range []string{"smtp", "roundtrip"} {
				w.Series("bosaimail_check_up", fmt.Sprintf(`job="bosaimail",instance="%s:9742",service="mail",check="%s",kind="%s",critical="true"`, inst, check, check),
					gapFrom, gapTo, time.Minute, func(time.Time) (float64, bool) { return 1, true })
			}
		}
		return nil
	})
	q, err := NewQuerier(replica, nil, time.Minute, 256<<20)
	if err != nil {
		t.Fatal(err)
	}
	r, err := octoberReport(t, Options{Replicas: []*Querier{q}})
	if err != nil {
		t.Fatal(err)
	}
	// mail: the replica saw 10:00-10:30 of the 45-minute gap; web: nothing.
	if mail, web := r.Services[0], r.Services[1]; mail.Unobserved != 15 || mail.Up != 44332+30 || web.Unobserved != 45 {
		t.Errorf("mail %+v\nweb %+v", mail, web)
	}
	if len(r.Unobserved) != 2 || r.Unobserved[1].Service != "mail" || !r.Unobserved[1].Start.Equal(gapTo) || r.Unobserved[1].Minutes != 15 {
		t.Errorf("稼働未確認: %+v", r.Unobserved)
	}
}
