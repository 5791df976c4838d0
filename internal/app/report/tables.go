package report

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/bosaimail/bosaimail_exporter/config"
	"github.com/bosaimail/bosaimail_exporter/internal/exemption"
)

// The report is laid out once, as sections of tables; the XLSX, Markdown
// and CSV writers only render them, so the three formats always show the
// same headers and figures.

// Kind says how a column's values are shown.
type Kind int

const (
	Text    Kind = iota
	Int          // whole number (minutes, counts)
	Percent      // ratio shown as a percentage
	Time         // instant shown in JST
	Number       // decimal
)

// Column is one column of a table.
type Column struct {
	Header string
	Kind   Kind
	// Width is the XLSX column width in characters.
	Width float64
}

// Table is one table; a cell is a string, int, float64 (NaN: no value) or
// time.Time (zero: no value).
type Table struct {
	Title string
	// Name is the table's part of the CSV file name.
	Name    string
	Columns []Column
	Rows    [][]any
	// Empty is shown instead of an empty table.
	Empty string
}

// Section is one sheet of the XLSX and one heading of the Markdown.
type Section struct {
	Sheet     string
	Landscape bool
	// Lines are sentences shown above the tables.
	Lines  []string
	Tables []Table
}

var partyNames = map[string]string{
	"contractor": "受託者",
	"cloud":      "クラウド事業者",
	"vendor":     "ベンダー",
	"network":    "通信事業者",
	"":           "未判定",
}

// PartyName is the Japanese name of a responsible party label value.
func PartyName(p string) string {
	if n, ok := partyNames[p]; ok {
		return n
	}
	return p
}

var severityNames = map[string]string{"critical": "重大", "warning": "警告", "info": "情報"}

func percent(v float64) string {
	if math.IsNaN(v) {
		return "—"
	}
	return fmt.Sprintf("%.3f%%", v*100)
}

func jst(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(config.Tokyo).Format("2006-01-02 15:04")
}

func verdict(ok bool) string {
	if ok {
		return "達成"
	}
	return "未達"
}

// Sections lays the report out.
func (r *Report) Sections() []Section {
	return append([]Section{r.summary(), r.availability(), r.incidents(), r.plannedSection(), r.statistics(), r.jobSection(), r.integritySection(), r.capacitySection(), r.securitySection(), r.gapSection(), r.exemptionSection()}, r.ledgerSections()...)
}

// Title is the report's title.
func (r *Report) Title() string {
	return fmt.Sprintf("運用保守業務報告書（月次） %s", r.Month.Format("2006年1月"))
}

func (r *Report) summary() Section {
	availOK, outagesOK := true, true
	pending := false
	var worst []string
	for _, s := range r.Services {
		if math.IsNaN(s.Contractual) {
			pending = true
			continue
		}
		if !s.MeetsAvailability(r.Target) {
			availOK = false
			worst = append(worst, s.Service)
		}
	}
	for _, y := range r.Year {
		if y.OutagesContract >= r.MaxOutages {
			outagesOK = false
		}
	}
	availVerdict := verdict(availOK) + listSuffix(worst)
	if availOK && pending {
		availVerdict = "判定保留（監視データのないサービスあり）"
	}
	integrityOK := true
	for _, f := range r.Integrity {
		if f.Violations > 0 {
			integrityOK = false
		}
	}
	if r.dbIntegrityFailures() > 0 {
		integrityOK = false
	}
	integrityVerdict := verdict(integrityOK)
	if len(r.Integrity) == 0 && len(r.DBIntegrity) == 0 {
		integrityVerdict = "判定保留（完全性検査の監視データなし）"
	}
	interval := "不明"
	if r.ScrapeInterval > 0 {
		interval = "約" + jaDuration(r.ScrapeInterval)
	}
	outageVerdict := "上限未満"
	if !outagesOK {
		outageVerdict = "上限に到達（要報告）"
	}
	rows := [][]any{
		{"報告書", r.Title()},
		{"対象期間", fmt.Sprintf("%s 〜 %s（日本時間、%d分間）", jst(r.Month), jst(r.MonthEnd), int(r.MonthEnd.Sub(r.Month)/minute))},
		{"契約年度", fmt.Sprintf("%s 〜 %s", r.YearStart.Format("2006年1月2日"), r.YearStart.AddDate(1, 0, -1).Format("2006年1月2日"))},
		{"作成日時", jst(r.GeneratedAt)},
		{"集計単位", "1分（日本時間の各分 [hh:mm:00, hh:mm+1:00) の監視データで判定）"},
		{"監視データ間隔", interval},
		{"停止の定義", fmt.Sprintf("すべての監視点で重要チェックが失敗し続けた分（停止分）が%s以上続いたもの。それより短いものは瞬断。%s未満の復旧（計画停止の時間を除く）をはさむ停止は1回と数える", jaDuration(r.MinOutage), jaDuration(r.MergeWindow))},
		{"稼働率の定義", "1 −（停止時間 − 免責 + 稼働未確認 − 稼働確認済み）÷（想定稼働時間 − 計画停止）。計画停止は承認済みのものに限る"},
		{"稼働率の目標", fmt.Sprintf("%s 以上", percent(r.Target))},
		{"停止回数の上限", fmt.Sprintf("契約年度あたり %d 回以内（免責適用後）", r.MaxOutages)},
		{"稼働率（当月・免責適用後）", availVerdict},
		{"停止回数（契約年度・免責適用後）", outageVerdict},
		{"データ完全性", integrityVerdict + "（完全性を担保できない事象 0 件が要件）"},
	}
	for i, n := range r.Notes {
		label := ""
		if i == 0 {
			label = "注記"
		}
		rows = append(rows, []any{label, n})
	}
	return Section{Sheet: "概要", Tables: []Table{{
		Title: r.Title(), Name: "summary",
		Columns: []Column{{"項目", Text, 24}, {"内容", Text, 100}},
		Rows:    rows,
	}}}
}

// availabilityVerdict cannot pass or fail a service without data (判定保留).
func availabilityVerdict(s ServiceFigures, target float64) string {
	if math.IsNaN(s.Contractual) {
		return "判定保留"
	}
	return verdict(s.MeetsAvailability(target))
}

func listSuffix(ss []string) string {
	if len(ss) == 0 {
		return ""
	}
	return "（" + strings.Join(ss, "、") + "）"
}

func (r *Report) figuresTable(title, name string, rows []ServiceFigures, limit bool) Table {
	cols := []Column{
		{"サービス", Text, 14}, {"期間(分)", Int, 10}, {"計画停止(分)", Int, 11}, {"想定稼働時間(分)", Int, 13},
		{"停止時間(分)", Int, 11}, {"免責(分)", Int, 9}, {"稼働未確認(分)", Int, 12}, {"稼働確認済み(分)", Int, 13}, {"瞬断(分)", Int, 9},
		{"稼働率(免責適用前)", Percent, 13}, {"稼働率(免責適用後)", Percent, 13}, {"実測稼働率(観測分のみ)", Percent, 14}, {"稼働率判定", Text, 9},
		{"停止回数(免責適用前)", Int, 13}, {"停止回数(免責適用後)", Int, 13},
	}
	if limit {
		cols = append(cols, Column{"停止回数の上限", Text, 14})
	}
	t := Table{Title: title, Name: name, Columns: cols}
	for _, s := range rows {
		row := []any{
			s.Service, s.Minutes, s.Planned, s.Unplanned(), s.Stop, s.ExemptStop, s.Unobserved, s.Confirmed, s.Blip,
			s.BeforeExemptions, s.Contractual, s.Observed, availabilityVerdict(s, r.Target),
			s.Outages, s.OutagesContract,
		}
		if limit {
			v := fmt.Sprintf("%d / %d 回", s.OutagesContract, r.MaxOutages)
			if s.OutagesContract >= r.MaxOutages {
				v += "（上限到達）"
			}
			row = append(row, v)
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

func (r *Report) availability() Section {
	return Section{Sheet: "稼働実績", Landscape: true, Lines: []string{
		"稼働率(免責適用後) = 1 −（停止時間 − 免責 + 稼働未確認 − 稼働確認済み）÷ 想定稼働時間。想定稼働時間は期間から承認済みの計画停止を除いた時間。稼働未確認は、どの監視点・監視サーバーからも観測できなかった時間で、承認された稼働確認の記録がない限り稼働していなかったものとして数える。",
		"対象システムは契約の対象サービス全体で、いずれかのサービスが停止している間は停止、すべてのサービスが計画停止中の間だけ計画停止とする。",
		fmt.Sprintf("稼働率(免責適用前)は免責を適用しない値、実測稼働率は観測できた時間だけで見た参考値。目標は %s 以上、停止回数の上限は契約年度あたり %d 回（免責適用後）。瞬断は停止に数えない。", percent(r.Target), r.MaxOutages),
		"契約年度の集計は、年度初めから当月末までのうち監視データのある月の合計（データのない月は判定保留として除く）。",
	}, Tables: []Table{
		r.figuresTable("当月", "availability", r.Services, false),
		r.figuresTable("契約年度（当月末まで）", "availability_year", r.Year, true),
	}}
}

func (r *Report) incidents() Section {
	t := Table{Title: "障害一覧", Name: "incidents", Empty: "当月の障害・アラートはありません。", Columns: []Column{
		{"No.", Int, 5}, {"障害ID", Text, 22}, {"種別", Text, 10}, {"重要度", Text, 8}, {"サービス", Text, 12}, {"アラート・事象", Text, 28},
		{"開始", Time, 17}, {"終了", Time, 17}, {"継続時間(分)", Int, 10}, {"停止時間(分)", Int, 10}, {"責任区分", Text, 14},
		{"免責区分", Text, 14}, {"免責ID", Text, 12}, {"原因", Text, 24}, {"対処内容", Text, 24}, {"状況", Text, 10},
	}}
	type row struct {
		start time.Time
		cells []any
	}
	var rows []row
	for _, o := range r.Outages {
		parties := make([]string, len(o.Responsible))
		for i, p := range o.Responsible {
			parties[i] = PartyName(p)
		}
		if len(parties) == 0 {
			parties = []string{PartyName("")}
		}
		what := "停止"
		if o.Planned > 0 {
			what += fmt.Sprintf("（計画停止 %d分をはさむ）", o.Planned)
		}
		if o.StartedBefore {
			what += "（集計期間前から継続）"
		}
		if o.OngoingAtEnd {
			what += "（月末時点で継続、終了は月末）"
		}
		cat := ""
		if o.Exempted() {
			cat = o.Category
		} else if o.PartlyExempted() {
			cat = o.Category + "（一部）"
		}
		cells := []any{0, o.ID, "停止", "重大", o.Service, what, o.Start, o.End,
			int(o.End.Sub(o.Start) / minute), o.Down, strings.Join(parties, "・"), cat, strings.Join(o.Exemptions, ", "), "", "", ""}
		r.fillFromLedger(o, cells)
		rows = append(rows, row{o.Start, cells})
	}
	for _, b := range r.Blips {
		rows = append(rows, row{b.Start, []any{0, "", "瞬断", "情報", b.Service, "瞬断（停止に数えない）", b.Start, b.End,
			b.Minutes, 0, "", "", "", "", "", ""}})
	}
	for _, a := range r.Alerts {
		what := a.Alertname
		if a.Labels != "" {
			what += " (" + a.Labels + ")"
		}
		sev := severityNames[a.Severity]
		if sev == "" {
			sev = a.Severity
		}
		rows = append(rows, row{a.Start, []any{0, "", "アラート", sev, a.Service, what, a.Start, a.End, a.Minutes, math.NaN(), PartyName(a.Responsible), "", "", "", "", ""}})
	}
	// Stable order: by start, outages before the alerts they raised.
	for i := 1; i < len(rows); i++ {
		for j := i; j > 0 && rows[j].start.Before(rows[j-1].start); j-- {
			rows[j], rows[j-1] = rows[j-1], rows[j]
		}
	}
	for i, rw := range rows {
		rw.cells[0] = i + 1
		t.Rows = append(t.Rows, rw.cells)
	}
	return Section{Sheet: "障害一覧", Landscape: true, Lines: []string{
		"当月に発生・継続した停止と瞬断（監視データから算出）、重大・警告アラートの発報期間。原因・対処内容・状況は障害票に基づき記入する。瞬断は停止時間・停止回数に数えない。",
		"障害IDは免責ファイル（incident:）で停止を指定するときに使う。終了は復旧した分の開始時刻。",
	}, Tables: []Table{t}}
}

func (r *Report) statistics() Section {
	var services []string
	for _, sv := range r.Services {
		if sv.Service != r.SystemName {
			services = append(services, sv.Service)
		}
	}
	cols := []Column{
		{"月", Text, 24}, {"停止回数(免責適用前)", Int, 13}, {"うち免責", Int, 9}, {"停止回数(免責適用後)", Int, 13}, {"停止時間(分)", Int, 11},
		{"免責(分)", Int, 9},
	}
	for _, sv := range services {
		cols = append(cols, Column{"稼働未確認(分) " + sv, Int, 14})
	}
	cols = append(cols, Column{"重大アラート", Int, 11}, Column{"警告アラート", Int, 11})
	trend := Table{Title: "月別推移（契約年度）", Name: "trend", Columns: cols}
	var tot MonthTrend
	tot.Unobserved = map[string]int{}
	for _, m := range r.Trend {
		label := m.Month.Format("2006年1月")
		if !m.HasData {
			label += "（判定保留: 監視データなし）"
		}
		row := []any{label, m.Outages, m.Exempted, m.Contract, m.Stop, m.ExemptStop}
		for _, sv := range services {
			if !m.HasData {
				row = append(row, math.NaN())
				continue
			}
			row = append(row, m.Unobserved[sv])
			tot.Unobserved[sv] += m.Unobserved[sv]
		}
		trend.Rows = append(trend.Rows, append(row, m.Critical, m.Warning))
		tot.Outages += m.Outages
		tot.Exempted += m.Exempted
		tot.Contract += m.Contract
		tot.Stop += m.Stop
		tot.ExemptStop += m.ExemptStop
		tot.Critical += m.Critical
		tot.Warning += m.Warning
	}
	row := []any{"年度累計", tot.Outages, tot.Exempted, tot.Contract, tot.Stop, tot.ExemptStop}
	for _, sv := range services {
		row = append(row, tot.Unobserved[sv])
	}
	trend.Rows = append(trend.Rows, append(row, tot.Critical, tot.Warning))

	cats := Table{Title: "免責区分別の停止（契約年度）", Name: "categories", Empty: "契約年度の停止はありません。", Columns: []Column{
		{"区分", Text, 20}, {"契約の条項", Text, 16}, {"停止回数", Int, 9}, {"停止時間(分)", Int, 11},
	}}
	for _, c := range r.Categories {
		// The clause only ("免責条件(1)"): the full text is on the 免責
		// sheet, and a wide column here would widen the trend table above.
		basis, _, _ := strings.Cut(exemption.Categories[c.Category], " ")
		if c.Category == "免責なし" {
			basis = "受託者責任"
		}
		cats.Rows = append(cats.Rows, []any{c.Category, basis, c.Outages, c.Minutes})
	}
	parties := Table{Title: "責任区分別（契約年度、アラートの一次切分けによる）", Name: "parties", Empty: "契約年度の停止・アラートはありません。", Columns: []Column{
		{"責任区分", Text, 16}, {"停止回数", Int, 9}, {"アラート件数", Int, 11},
	}}
	for _, p := range r.Parties {
		parties.Rows = append(parties.Rows, []any{PartyName(p.Party), p.Outages, p.Alerts})
	}
	return Section{Sheet: "障害統計", Lines: []string{
		"停止回数は開始した月に数える。停止時間はサービスごとの停止時間の合計、稼働未確認はサービスごと。責任区分は停止中に発報したアラートの responsible ラベル（一次切分け）で、確定した区分は障害票による。",
	}, Tables: []Table{trend, cats, parties}}
}

func (r *Report) jobSection() Section {
	t := Table{Title: "ジョブ実績", Name: "jobs", Empty: "ジョブの監視データはありません。", Columns: []Column{
		{"ジョブ", Text, 20}, {"実行回数", Int, 9}, {"失敗回数", Int, 9}, {"予定超過(回)", Int, 11}, {"予定超過(分)", Int, 11},
		{"最長実行時間(秒)", Number, 14}, {"最終成功", Time, 17},
	}}
	for _, j := range r.Jobs {
		t.Rows = append(t.Rows, []any{j.Job, j.Runs, j.Failures, j.OverdueEpisodes, j.Overdue, j.MaxDuration, j.LastSuccess})
	}
	return Section{Sheet: "ジョブ実績", Lines: []string{"実行回数は当月に終了した実行の数。予定超過は次回予定時刻（猶予を含む）を過ぎても実行されなかった時間。"}, Tables: []Table{t}}
}

func (r *Report) integritySection() Section {
	it := Table{Title: "完全性検査", Name: "integrity", Empty: "完全性検査の監視データはありません。", Columns: []Column{
		{"データセット", Text, 20}, {"検査回数", Int, 9}, {"不一致・未検証(件)", Int, 15}, {"最大不一致数", Int, 12}, {"最終検査", Time, 17}, {"月末の状態", Text, 10},
	}}
	for _, f := range r.Integrity {
		state := "不明"
		switch {
		case f.VerifiedAtEnd == 1:
			state = "正常"
		case f.VerifiedAtEnd == 0:
			state = "異常"
		}
		it.Rows = append(it.Rows, []any{f.Dataset, f.Checks, f.Violations, f.MaxMismatches, f.LastCheck, state})
	}
	bt := Table{Title: "バックアップ", Name: "backups", Empty: "バックアップの監視データはありません。", Columns: []Column{
		{"バックアップ", Text, 20}, {"取得回数", Int, 9}, {"最終取得", Time, 17}, {"最大経過時間(時間)", Number, 15}, {"月末サイズ(MB)", Number, 13},
	}}
	for _, b := range r.Backups {
		bt.Rows = append(bt.Rows, []any{b.Backup, b.Backups, b.Last, round(b.MaxAge.Hours(), 1), round(b.SizeAtEnd/1e6, 1)})
	}
	return Section{Sheet: "バックアップ・完全性", Lines: []string{"契約の正常稼働要件: 業務データの完全性を担保できない事象の発生件数が 0 件であること。不一致・未検証(件)は 0 でなければならない。"}, Tables: []Table{it, r.dbIntegrityTable(), bt}}
}

func (r *Report) securitySection() Section {
	count := func(title, name, key string, rows []CountFigures) Table {
		t := Table{Title: title, Name: name, Empty: "監視データはありません。", Columns: []Column{
			{key, Text, 36}, {"月初", Int, 8}, {"新規", Int, 8}, {"解消・確認済", Int, 11}, {"月末", Int, 8}, {"最大", Int, 8},
		}}
		for _, f := range rows {
			t.Rows = append(t.Rows, []any{f.Key, f.Start, f.Opened, f.Closed, f.End, f.Max})
		}
		return t
	}
	av := Table{Title: "ウイルス対策ソフトのパターンファイル", Name: "antivirus", Empty: "監視データはありません。", Columns: []Column{
		{"エンジン", Text, 20}, {"月末の経過時間(時間)", Number, 17}, {"最大経過時間(時間)", Number, 15}, {fmt.Sprintf("%s超過(分)", jaDuration(r.AntivirusMaxAge)), Int, 12},
	}}
	for _, a := range r.Antivirus {
		av.Rows = append(av.Rows, []any{a.Engine, round(a.AgeAtEnd.Hours(), 1), round(a.MaxAge.Hours(), 1), a.StaleMinutes})
	}
	return Section{Sheet: "セキュリティ", Lines: []string{"脆弱性情報はソフトウェア構成に一致する公開済み脆弱性の件数。新規・解消は件数の増減の合計。"}, Tables: []Table{
		count("脆弱性情報（製品 / 深刻度 / 情報源）", "advisories", "製品 / 深刻度 / 情報源", r.Advisory),
		count("悪用が確認された脆弱性（製品）", "known_exploited", "製品", r.Exploited),
		count("セキュリティ検知（情報源 / 深刻度）", "findings", "情報源 / 深刻度", r.Findings),
		av,
	}}
}

func (r *Report) gapSection() Section {
	t := Table{Title: "稼働未確認", Name: "unobserved", Empty: "当月の稼働未確認はありません。", Columns: []Column{
		{"サービス", Text, 14}, {"開始", Time, 17}, {"終了", Time, 17}, {"時間(分)", Int, 9},
	}}
	for _, g := range r.Unobserved {
		t.Rows = append(t.Rows, []any{g.Service, g.Start, g.End, g.Minutes})
	}
	c := Table{Title: "稼働確認", Name: "confirmations", Empty: "稼働確認の記録の適用はありません。", Columns: []Column{
		{"サービス", Text, 14}, {"開始", Time, 17}, {"終了", Time, 17}, {"稼働確認済み(分)", Int, 13}, {"うち当月(分)", Int, 11},
		{"根拠", Text, 36}, {"承認者", Text, 18}, {"承認日", Text, 11},
	}}
	for _, a := range r.Confirmations {
		c.Rows = append(c.Rows, []any{orAllJa(a.Service), a.Start.Time, a.End.Time, a.Minutes, a.InMonth, a.Evidence, a.ApprovedBy, a.ApprovedOn.Format("2006-01-02")})
	}
	return Section{Sheet: "稼働未確認", Lines: []string{"監視データ（重要チェックの結果）がどの監視点・監視サーバーからも得られなかった時間。承認された稼働確認の記録（事業者のログ、配信ログ等）がない限り、稼働していなかったものとして稼働率に数える。"}, Tables: []Table{t, c}}
}

func orAllJa(svc string) string {
	if svc == "" {
		return "全サービス"
	}
	return svc
}

func (r *Report) plannedSection() Section {
	t := Table{Title: "計画停止", Name: "planned", Empty: "当月の計画停止はありません。", Columns: []Column{
		{"サービス", Text, 14}, {"開始", Time, 17}, {"終了", Time, 17}, {"時間(分)", Int, 9}, {"承認", Text, 8},
		{"承認者", Text, 20}, {"承認日", Text, 11}, {"期間中の停止(分)", Int, 13},
	}}
	for _, p := range r.Planned {
		state := "承認済み"
		if !p.Approved {
			state = "未承認"
		}
		t.Rows = append(t.Rows, []any{p.Service, p.Start, p.End, p.Minutes, state, p.ApprovedBy, p.ApprovedOn, p.Down})
	}
	return Section{Sheet: "計画停止", Lines: []string{"事前に登録され承認者・承認日のある計画停止だけを稼働率の計算から除く。未承認の計画停止は記載のみで、稼働率から除かず通知も抑止しない。期間中の停止は計画停止中に観測した停止の時間（停止に数えない）。"}, Tables: []Table{t}}
}

func (r *Report) exemptionSection() Section {
	t := Table{Title: "免責", Name: "exemptions", Empty: "免責の適用はありません。", Columns: []Column{
		{"免責ID", Text, 12}, {"区分", Text, 16}, {"根拠", Text, 36}, {"対象", Text, 26}, {"対象障害ID", Text, 24},
		{"免責(分)", Int, 11}, {"うち当月(分)", Int, 11}, {"理由", Text, 30}, {"承認者", Text, 18}, {"承認日", Text, 11},
	}}
	for _, a := range r.Exemptions {
		target := a.Incident
		if target == "" {
			svc := a.Service
			if svc == "" {
				svc = "全サービス"
			}
			target = fmt.Sprintf("%s %s〜%s", svc, jst(a.Start.Time), jst(a.End.Time))
		}
		t.Rows = append(t.Rows, []any{a.ID, a.Category, exemption.Categories[a.Category], target, strings.Join(a.Outages, ", "),
			a.Minutes, a.InMonth, a.Reason, a.ApprovedBy, a.ApprovedOn.Format("2006-01-02")})
	}
	return Section{Sheet: "免責", Landscape: true, Lines: []string{"契約の免責条件（受託者の責任に属さない事象）に該当し、三重県の承認を得た停止。稼働率(免責適用後)と停止回数(免責適用後)から除く。"}, Tables: []Table{t}}
}

func round(v float64, digits int) float64 {
	if math.IsNaN(v) {
		return v
	}
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}
