// Package report builds the monthly operations report (運用保守業務報告書
// （月次）) from the Prometheus HTTP API: calendar-month availability (raw and
// after agreed exemptions), outages against the yearly limit, the incident
// list from alert history, jobs, backups and data integrity, security and
// monitoring gaps, and writes it as XLSX, Markdown and CSV in Japanese.
//
// Every figure counts whole minutes of the calendar month in JST, computed
// from the raw series (see Querier.Fetch for how minutes are cut), so the
// numbers do not depend on the rule evaluation of the recording rules.
package report

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/common/model"

	"github.com/bosaimail/bosaimail_exporter/config"
	"github.com/bosaimail/bosaimail_exporter/internal/exemption"
)

// Options set what the report computes.
type Options struct {
	// Month is the first instant of the month in JST (see ParseMonth).
	Month time.Time
	// Selector holds label matchers added to the exporter's series, e.g.
	// `job="bosaimail"` (the mixin's selector).
	Selector string
	// MergeWindow: downs separated by a shorter recovery are one outage
	// (the mixin's outageMergeWindow).
	MergeWindow time.Duration
	// Target is the contractual availability (0.995) and MaxOutages the
	// yearly outage limit (3).
	Target     float64
	MaxOutages int
	// AntivirusMaxAge is the signature age above which a minute counts as
	// stale.
	AntivirusMaxAge time.Duration
	Exemptions      *exemption.File
	Now             func() time.Time
	Logger          log.Logger

	// Database points the capacity and database-integrity figures at
	// postgres_exporter and node_exporter (zero: the mixin's defaults).
	Database DatabaseOptions
}

// ParseMonth parses "2026-10" as the first instant of that month in JST.
func ParseMonth(s string) (time.Time, error) {
	t, err := time.ParseInLocation("2006-01", s, config.Tokyo)
	if err != nil {
		return time.Time{}, fmt.Errorf("invalid month %q: want YYYY-MM, e.g. 2026-10", s)
	}
	return t, nil
}

// PreviousMonth is the month before the one containing now, in JST.
func PreviousMonth(now time.Time) time.Time {
	n := now.In(config.Tokyo)
	return time.Date(n.Year(), n.Month()-1, 1, 0, 0, 0, 0, config.Tokyo)
}

// ContractYearStart is April 1st 00:00 JST of the contract year (April to
// March) that contains month.
func ContractYearStart(month time.Time) time.Time {
	m := month.In(config.Tokyo)
	y := m.Year()
	if m.Month() < time.April {
		y--
	}
	return time.Date(y, time.April, 1, 0, 0, 0, 0, config.Tokyo)
}

// leadIn is queried before the contract year so that an outage already
// going on at its start is seen as such.
const leadIn = time.Hour

// Report is everything the writers print.
type Report struct {
	Month, MonthEnd, YearStart time.Time
	GeneratedAt                time.Time
	Source                     string
	Selector                   string
	Target                     float64
	MaxOutages                 int
	MergeWindow                time.Duration
	AntivirusMaxAge            time.Duration
	// ScrapeInterval is the typical spacing of the check samples of the
	// month (0 when it cannot be told).
	ScrapeInterval time.Duration

	Services   []ServiceFigures
	Outages    []*Outage // overlapping the month
	Alerts     []*AlertEpisode
	Gaps       []Span
	YearGap    int // gap minutes of the contract year before the month, all services
	Exemptions []AppliedExemption
	Trend      []MonthTrend
	Categories []CategoryCount
	Parties    []PartyCount

	Jobs      []JobFigures
	Integrity []IntegrityFigures
	Backups   []BackupFigures
	Advisory  []CountFigures
	Findings  []CountFigures
	Exploited []CountFigures
	Antivirus []AntivirusFigures

	databaseSections

	Notes []string

	// Ledger holds the 障害票 of the contract year when the report reads
	// the incident ledger (nil otherwise); see ledger.go.
	Ledger []LedgerIncident
}

// ServiceFigures is one service's row of 稼働実績.
type ServiceFigures struct {
	Service string
	counts
	// Availability is up minutes over observed minutes (NaN when none);
	// Contractual leaves exempt down minutes out; Lower counts monitoring
	// gaps as down, the worst case.
	Availability, Contractual, Lower float64
	// Outages started in the month and in the contract year so far.
	OutagesMonth, OutagesMonthContract int
	OutagesYear, OutagesYearContract   int
}

// Observed is the minutes with a known state outside planned stops.
func (s ServiceFigures) Observed() int { return s.Up + s.Down }

// Planned is the planned service time (想定稼働時間): the month without
// planned stops.
func (s ServiceFigures) Planned() int { return s.Minutes - s.Maintenance }

// ContractDown is the down time that counts against the contract.
func (s ServiceFigures) ContractDown() int { return s.Down - s.ExemptDown }

// MeetsAvailability tells whether the contractual availability reaches the
// target.
func (s ServiceFigures) MeetsAvailability(target float64) bool {
	return !math.IsNaN(s.Contractual) && s.Contractual >= target
}

// AppliedExemption is an exemption and what it covered.
type AppliedExemption struct {
	exemption.Exemption
	Outages []string
	Minutes int
	// InMonth counts the covered down minutes in the report month.
	InMonth int
}

// MonthTrend is one month of the contract year (障害統計).
type MonthTrend struct {
	Month                       time.Time
	Outages, Exempted, Contract int
	Down, ExemptDown, Gap       int
	Critical, Warning           int
	HasData                     bool
}

// CategoryCount is the outages of the contract year by exemption category.
type CategoryCount struct {
	Category string
	Outages  int
	Minutes  int
}

// PartyCount is the outages and alert episodes of the contract year by
// responsible party.
type PartyCount struct {
	Party           string
	Outages, Alerts int
}

// Build queries Prometheus and computes the report.
func Build(ctx context.Context, q *Querier, o Options) (*Report, error) {
	if o.Logger == nil {
		o.Logger = log.NewNopLogger()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	month := o.Month.In(config.Tokyo)
	monthEnd := time.Date(month.Year(), month.Month()+1, 1, 0, 0, 0, 0, config.Tokyo)
	if monthEnd.After(o.Now()) {
		return nil, fmt.Errorf("month %s has not ended yet (it ends %s JST): a monthly report covers a whole month", month.Format("2006-01"), monthEnd.Format("2006-01-02 15:04"))
	}
	r := &Report{
		Month: month, MonthEnd: monthEnd, YearStart: ContractYearStart(month),
		GeneratedAt: o.Now().In(config.Tokyo), Source: q.url, Selector: o.Selector,
		Target: o.Target, MaxOutages: o.MaxOutages, MergeWindow: o.MergeWindow, AntivirusMaxAge: o.AntivirusMaxAge,
	}
	year := NewGrid(r.YearStart.Add(-leadIn), monthEnd)
	mFrom, mTo := year.Index(month), year.N

	tls, err := serviceTimelines(ctx, q, o.Selector, year)
	if err != nil {
		return nil, err
	}
	anyData := false
	for _, tl := range tls {
		c := tl.count(mFrom, mTo)
		if c.Up+c.Down+c.Maintenance > 0 {
			anyData = true
		}
	}
	if !anyData {
		warned := ""
		if len(q.warnings) > 0 {
			warned = "; prometheus warned: " + strings.Join(q.warnings, "; ")
		}
		return nil, fmt.Errorf("no data: prometheus %s has no sample of %s between %s and %s JST; check --prometheus.url, --month and --selector (and the retention of Prometheus)%s",
			q.url, selector("bosaimail_check_up", o.Selector, `critical="true"`), month.Format("2006-01-02 15:04"), monthEnd.Format("2006-01-02 15:04"), warned)
	}

	alerts, err := alertEpisodes(ctx, q, year)
	if err != nil {
		return nil, err
	}
	merge := int((o.MergeWindow + minute - 1) / minute)
	outagesBySvc := map[string][]*Outage{}
	var all []*Outage
	for _, tl := range tls {
		os := tl.outages(year, merge)
		outagesBySvc[tl.service] = os
		all = append(all, os...)
	}
	if o.Exemptions != nil {
		r.Exemptions, err = applyExemptions(o.Exemptions, tls, all, year, mFrom, o.Logger)
		if err != nil {
			return nil, err
		}
	}
	for _, out := range all {
		out.Responsible = responsibleDuring(alerts, out)
	}

	for _, tl := range tls {
		f := ServiceFigures{Service: tl.service, counts: tl.count(mFrom, mTo)}
		f.Availability, f.Contractual, f.Lower = math.NaN(), math.NaN(), math.NaN()
		if obs := f.Up + f.Down; obs > 0 {
			f.Availability = float64(f.Up) / float64(obs)
			f.Contractual = float64(obs-f.ContractDown()) / float64(obs)
		}
		if p := f.Planned(); p > 0 {
			f.Lower = float64(f.Up) / float64(p)
		}
		for _, out := range outagesBySvc[tl.service] {
			if out.first < year.Index(r.YearStart) {
				continue
			}
			f.OutagesYear++
			if !out.Exempted() {
				f.OutagesYearContract++
			}
			if out.first >= mFrom {
				f.OutagesMonth++
				if !out.Exempted() {
					f.OutagesMonthContract++
				}
			}
		}
		r.Services = append(r.Services, f)
		r.Gaps = append(r.Gaps, runs(year.N, mFrom, mTo, year, tl.service, func(i int) bool { return tl.states[i] == Gap })...)
		r.YearGap += tl.count(year.Index(r.YearStart), mFrom).Gap
	}
	sort.SliceStable(r.Gaps, func(i, j int) bool { return r.Gaps[i].Start.Before(r.Gaps[j].Start) })
	for _, out := range all {
		if out.last >= mFrom {
			r.Outages = append(r.Outages, out)
		}
	}
	sort.SliceStable(r.Outages, func(i, j int) bool { return r.Outages[i].Start.Before(r.Outages[j].Start) })
	for _, a := range alerts {
		if a.last >= mFrom {
			r.Alerts = append(r.Alerts, a)
		}
	}
	r.trend(tls, all, alerts, year)

	if r.ScrapeInterval, err = scrapeInterval(ctx, q, o.Selector, month, monthEnd); err != nil {
		return nil, err
	}
	mg := NewGrid(month, monthEnd)
	if err := r.jobs(ctx, q, o.Selector, mg); err != nil {
		return nil, err
	}
	if err := r.integrity(ctx, q, o.Selector, mg); err != nil {
		return nil, err
	}
	if err := r.security(ctx, q, o.Selector, mg); err != nil {
		return nil, err
	}
	if err := r.database(ctx, q, o.Database, mg); err != nil {
		return nil, err
	}
	r.notes()
	for _, w := range q.warnings {
		level.Warn(o.Logger).Log("msg", "prometheus warned", "warning", w)
		r.Notes = append(r.Notes, "Prometheus の警告（結果が不完全な可能性があります）: "+w)
	}
	return r, nil
}

// serviceExpr is bosaimail:service_up written out over the raw series, per
// minute: a check counts as failed for a minute in which any of its probes
// failed (downtime is rounded up to whole minutes, in the customer's
// favour); the service is up when at least one exporter instance saw every
// critical check succeed.
func serviceExpr(sel string) string {
	return fmt.Sprintf(`max by (service) (min by (service, instance) (min_over_time(%s[1m])))`,
		selector("bosaimail_check_up", sel, `critical="true"`))
}

// maintenanceExpr is 1 for a minute in which any sample said a planned stop
// was active: planned stops are declared in advance, so a minute that
// starts one counts as planned.
func maintenanceExpr(sel string) string {
	return fmt.Sprintf(`max by (service) (max_over_time(%s[1m]))`, selector("bosaimail_maintenance_active", sel))
}

func serviceTimelines(ctx context.Context, q *Querier, sel string, g Grid) ([]*timeline, error) {
	ups, err := q.Fetch(ctx, serviceExpr(sel), g)
	if err != nil {
		return nil, err
	}
	maints, err := q.Fetch(ctx, maintenanceExpr(sel), g)
	if err != nil {
		return nil, err
	}
	maint := map[string][]float64{}
	for _, m := range maints {
		maint[string(m.Labels["service"])] = m.Values
	}
	var out []*timeline
	for _, u := range ups {
		svc := string(u.Labels["service"])
		if svc == "" {
			continue
		}
		out = append(out, classify(svc, u.Values, maint[svc]))
	}
	return out, nil
}

func (r *Report) trend(tls []*timeline, all []*Outage, alerts []*AlertEpisode, g Grid) {
	cats := map[string]*CategoryCount{}
	parties := map[string]*PartyCount{}
	party := func(p string) *PartyCount {
		if parties[p] == nil {
			parties[p] = &PartyCount{Party: p}
		}
		return parties[p]
	}
	for m := r.YearStart; m.Before(r.MonthEnd); m = m.AddDate(0, 1, 0) {
		end := m.AddDate(0, 1, 0)
		from, to := g.Index(m), g.Index(end)
		t := MonthTrend{Month: m}
		for _, tl := range tls {
			c := tl.count(from, to)
			t.Down += c.Down
			t.ExemptDown += c.ExemptDown
			t.Gap += c.Gap
			if c.Up+c.Down+c.Maintenance > 0 {
				t.HasData = true
			}
		}
		for _, out := range all {
			if out.first < from || out.first >= to {
				continue
			}
			t.Outages++
			if out.Exempted() {
				t.Exempted++
			} else {
				t.Contract++
			}
			cat := out.Category
			if !out.Exempted() {
				cat = "免責なし"
			}
			if cats[cat] == nil {
				cats[cat] = &CategoryCount{Category: cat}
			}
			cats[cat].Outages++
			cats[cat].Minutes += out.Down
			ps := out.Responsible
			if len(ps) == 0 {
				ps = []string{""}
			}
			for _, p := range ps {
				party(p).Outages++
			}
		}
		for _, a := range alerts {
			if a.first < from || a.first >= to {
				continue
			}
			switch a.Severity {
			case "critical":
				t.Critical++
			case "warning":
				t.Warning++
			}
			party(a.Responsible).Alerts++
		}
		r.Trend = append(r.Trend, t)
	}
	for _, c := range cats {
		r.Categories = append(r.Categories, *c)
	}
	sort.Slice(r.Categories, func(i, j int) bool {
		return categoryOrder(r.Categories[i].Category) < categoryOrder(r.Categories[j].Category)
	})
	for _, p := range parties {
		r.Parties = append(r.Parties, *p)
	}
	sort.Slice(r.Parties, func(i, j int) bool { return partyOrder(r.Parties[i].Party) < partyOrder(r.Parties[j].Party) })
}

func categoryOrder(c string) string {
	for i, k := range []string{"免責なし", "通信回線障害", "ソフトウェア等の障害", "自然災害", "火災", "第三者による妨害", "地域紛争・動乱"} {
		if c == k {
			return fmt.Sprintf("%02d", i)
		}
	}
	return "99" + c
}

func partyOrder(p string) string {
	for i, k := range []string{"contractor", "cloud", "vendor", "network"} {
		if p == k {
			return fmt.Sprintf("%02d", i)
		}
	}
	return "99" + p
}

// applyExemptions marks the down minutes each exemption covers. An
// exemption inside the queried period that covers no down minute is an
// error: it names an outage that is not there, and silently ignoring it
// would print contractual figures nobody agreed to.
func applyExemptions(f *exemption.File, tls []*timeline, all []*Outage, g Grid, mFrom int, logger log.Logger) ([]AppliedExemption, error) {
	bySvc := map[string]*timeline{}
	for _, tl := range tls {
		bySvc[tl.service] = tl
	}
	var applied []AppliedExemption
	var errs []error
	for _, e := range f.Exemptions {
		a := AppliedExemption{Exemption: e}
		where := e.Where(f.Path)
		// touched: the down minutes this exemption covers, per service
		// (also those another exemption covered already).
		touched := map[string][]int{}
		mark := func(tl *timeline, from, to int) {
			for i := max(from, 0); i < to && i < g.N; i++ {
				if tl.states[i] == Down {
					tl.exempt[i] = true
					touched[tl.service] = append(touched[tl.service], i)
					a.Minutes++
					if i >= mFrom {
						a.InMonth++
					}
				}
			}
		}
		if e.Incident != "" {
			start, _ := exemption.IncidentStart(e.Incident)
			if i := g.Index(start); i < 0 || i >= g.N {
				level.Info(logger).Log("msg", "exemption outside the report's period, not applied", "exemption", where, "incident", e.Incident)
				continue
			}
			var found *Outage
			for _, o := range all {
				if o.ID == e.Incident {
					found = o
				}
			}
			if found == nil {
				errs = append(errs, fmt.Errorf("%s: incident %q matches no outage: no outage of service %q started at %s JST (see 障害一覧 for the outage ids)",
					where, e.Incident, exemption.IncidentService(e.Incident), start.Format("2006-01-02 15:04")))
				continue
			}
			mark(bySvc[found.Service], found.first, found.last+1)
		} else {
			from, to := g.Index(e.Start.Time), g.Index(e.End.Time.Add(minute-time.Nanosecond))
			if to <= 0 || from >= g.N {
				level.Info(logger).Log("msg", "exemption outside the report's period, not applied", "exemption", where)
				continue
			}
			var targets []*timeline
			if e.Service != "" {
				tl := bySvc[e.Service]
				if tl == nil {
					errs = append(errs, fmt.Errorf("%s: service %q has no data in Prometheus (services: %s)", where, e.Service, serviceNames(tls)))
					continue
				}
				targets = []*timeline{tl}
			} else {
				targets = tls
			}
			for _, tl := range targets {
				mark(tl, from, to)
			}
			if a.Minutes == 0 {
				svc := e.Service
				if svc == "" {
					svc = "any service"
				}
				errs = append(errs, fmt.Errorf("%s: matches no outage: no down minute of %s between %s and %s JST",
					where, svc, e.Start.In(config.Tokyo).Format("2006-01-02 15:04"), e.End.In(config.Tokyo).Format("2006-01-02 15:04")))
				continue
			}
		}
		for _, o := range all {
			covered := false
			for _, i := range touched[o.Service] {
				if i >= o.first && i <= o.last {
					covered = true
					break
				}
			}
			if covered && !contains(o.Exemptions, e.ID) {
				o.Exemptions = append(o.Exemptions, e.ID)
				a.Outages = append(a.Outages, o.ID)
				if o.Category == "" {
					o.Category = e.Category
				}
			}
		}
		applied = append(applied, a)
	}
	for _, o := range all {
		tl := bySvc[o.Service]
		o.Exempt = 0
		for i := o.first; i <= o.last; i++ {
			if tl.states[i] == Down && tl.exempt[i] {
				o.Exempt++
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return applied, nil
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func serviceNames(tls []*timeline) string {
	names := make([]string, len(tls))
	for i, tl := range tls {
		names[i] = tl.service
	}
	return strings.Join(names, ", ")
}

func outageID(service string, start time.Time) string { return exemption.IncidentID(service, start) }

// scrapeInterval estimates the typical spacing of the check samples: the
// samples of the month over the minutes that had any.
func scrapeInterval(ctx context.Context, q *Querier, sel string, from, to time.Time) (time.Duration, error) {
	n := int(to.Sub(from) / minute)
	at := to.Add(-time.Millisecond)
	s := selector("bosaimail_check_up", sel, `critical="true"`)
	samples, err := q.Instant(ctx, fmt.Sprintf(`sum(count_over_time(%s[%dm]))`, s, n), at)
	if err != nil {
		return 0, err
	}
	mins, err := q.Instant(ctx, fmt.Sprintf(`sum(count_over_time(count_over_time(%s[1m])[%dm:1m]))`, s, n), at)
	if err != nil {
		return 0, err
	}
	if len(samples) == 0 || len(mins) == 0 || samples[0].Value == 0 {
		return 0, nil
	}
	perMinute := float64(samples[0].Value) / float64(mins[0].Value)
	if perMinute <= 0 {
		return 0, nil
	}
	return (time.Duration(float64(minute)/perMinute) + time.Second/2).Truncate(time.Second), nil
}

func (r *Report) notes() {
	if r.ScrapeInterval > minute {
		r.Notes = append(r.Notes, fmt.Sprintf("監視データの間隔（約%s）が集計単位の1分より長いため、サンプルのない分が監視欠測として数えられています。", jaDuration(r.ScrapeInterval)))
	}
	if r.YearGap > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("契約年度（%s〜）の報告月より前に監視欠測が延べ%d分あります（データ保持期間外を含む）。年度内の停止回数はデータのある期間についての値です。", r.YearStart.Format("2006年1月2日"), r.YearGap))
	}
	for _, s := range r.Services {
		if s.Gap > 0 {
			r.Notes = append(r.Notes, fmt.Sprintf("%s: 監視欠測 %d分は稼働・停止のいずれにも数えていません（欠測をすべて停止とみなした場合の稼働率 %s）。", s.Service, s.Gap, percent(s.Lower)))
		}
	}
	for _, o := range r.Outages {
		if o.PartlyExempted() {
			r.Notes = append(r.Notes, fmt.Sprintf("障害 %s は停止%d分のうち%d分のみ免責のため、停止回数に数えています。", o.ID, o.Down, o.Exempt))
		}
		if o.StartedBefore {
			r.Notes = append(r.Notes, fmt.Sprintf("障害 %s は集計期間の開始前から継続していました。", o.ID))
		}
	}
}

// labelsExcept formats the labels of m other than the given ones.
func labelsExcept(m model.Metric, skip ...string) string {
	var parts []string
	for k, v := range m {
		if k == model.MetricNameLabel || contains(skip, string(k)) {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s=%s", k, v))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}
