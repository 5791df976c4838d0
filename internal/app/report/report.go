// Package report builds the monthly operations report (運用保守業務報告書
// （月次）) from the Prometheus HTTP API: calendar-month availability (raw and
// after agreed exemptions), outages against the yearly limit, the incident
// list from alert history, jobs, backups and data integrity, security and
// 稼働未確認 minutes, and writes it as XLSX, Markdown and CSV in Japanese.
//
// Every figure counts whole minutes of the calendar month in JST, computed
// from the raw series (see Querier.Fetch for how minutes are cut) by the
// definition of docs/availability.md, which the recording rules implement
// too (timeline.go mirrors them rule by rule; the shared fixtures of
// testdata/availability prove both agree).
package report

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
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
	// MergeWindow: 停止 separated by a shorter recovery (planned stops not
	// counted) are one 停止 (the mixin's outageMergeWindow).
	MergeWindow time.Duration
	// MinOutage: a down shorter than this is a 瞬断, not a 停止 (the
	// mixin's minOutage). Whole minutes; 0 means 1m.
	MinOutage time.Duration
	// YearStartMonth is the first month of the contract year (the mixin's
	// contractYearStartMonth); 0 means April.
	YearStartMonth time.Month
	// Replicas are further Prometheus servers holding the same data (HA
	// pairs): a minute is 稼働未確認 only if none of them observed it.
	Replicas []*Querier
	// ContractServices selects the services of the 対象システム (nil: all);
	// SystemName names it (the mixin's contractServices and
	// contractSystemName; empty: no system row).
	ContractServices *regexp.Regexp
	SystemName       string
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

// ContractYearStart is the 1st of startMonth 00:00 JST of the contract year
// that contains month (startMonth 0: April, the contract's April to March).
func ContractYearStart(month time.Time, startMonth time.Month) time.Time {
	if startMonth == 0 {
		startMonth = time.April
	}
	m := month.In(config.Tokyo)
	y := m.Year()
	if m.Month() < startMonth {
		y--
	}
	return time.Date(y, startMonth, 1, 0, 0, 0, 0, config.Tokyo)
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
	MergeWindow, MinOutage     time.Duration
	// SystemName names the 対象システム row (empty: none).
	SystemName      string
	AntivirusMaxAge time.Duration
	// ScrapeInterval is the typical spacing of the check samples of the
	// month (0 when it cannot be told).
	ScrapeInterval time.Duration

	// Services are the month's figures, Year those of the contract year
	// from its start to the month's end (months without data left out).
	Services []ServiceFigures
	Year     []ServiceFigures
	Outages  []*Outage // overlapping the month
	Alerts   []*AlertEpisode
	// Unobserved lists the 稼働未確認 intervals of the month, Blips the
	// 瞬断, Planned the planned stops (approved or not).
	Unobserved    []Span
	Blips         []Span
	Planned       []PlannedStop
	Exemptions    []AppliedExemption
	Confirmations []AppliedConfirmation
	Trend         []MonthTrend
	Categories    []CategoryCount
	Parties       []PartyCount

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

	// timelines and grid are the classified minutes (for tests).
	timelines []*timeline
	grid      Grid
}

// ServiceFigures is one service's row of 稼働実績 (the month) or of the
// contract year so far.
type ServiceFigures struct {
	Service string
	counts
	// Contractual is 契約稼働率 (免責適用後), BeforeExemptions 免責適用前,
	// Observed the raw ratio over the observed minutes only; NaN when the
	// period has no minute outside planned stops (判定保留 when no data).
	Contractual, BeforeExemptions, Observed float64
	// Outages started in the period (停止回数), before and after exemptions.
	Outages, OutagesContract int
	// NoData: no observation at all in the period (判定保留).
	NoData bool
}

// Unplanned is 想定稼働時間 − 計画停止: the denominator.
func (s ServiceFigures) Unplanned() int { return s.Minutes - s.Planned }

// ContractBad is what counts against the contract: 停止 not exempted plus
// 稼働未確認 not covered by 稼働確認.
func (s ServiceFigures) ContractBad() int {
	return s.Stop - s.ExemptStop + s.Unobserved - s.Confirmed
}

func (s *ServiceFigures) ratios() {
	s.Contractual, s.BeforeExemptions, s.Observed = math.NaN(), math.NaN(), math.NaN()
	if s.NoData {
		return
	}
	if u := s.Unplanned(); u > 0 {
		s.Contractual = 1 - float64(s.ContractBad())/float64(u)
		s.BeforeExemptions = 1 - float64(s.Stop+s.Unobserved-s.Confirmed)/float64(u)
	}
	if obs := s.Unplanned() - s.Unobserved; obs > 0 {
		s.Observed = 1 - float64(s.Stop)/float64(obs)
	}
}

// PlannedStop is one planned-stop interval of a service in the month.
type PlannedStop struct {
	Span
	// Approved windows exclude their minutes; unapproved ones are listed
	// only (未承認).
	Approved               bool
	ApprovedBy, ApprovedOn string
	// Down is the minutes the service was down inside the stop.
	Down int
}

// AppliedConfirmation is a 稼働確認 record and the 稼働未確認 minutes it
// covered.
type AppliedConfirmation struct {
	exemption.Confirmation
	Minutes, InMonth int
}

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

// MonthTrend is one month of the contract year (障害統計): the sums over
// the services; minutes are service-minutes, never minutes of the month.
type MonthTrend struct {
	Month                       time.Time
	Outages, Exempted, Contract int
	Stop, ExemptStop            int
	// Unobserved lists the 稼働未確認 minutes per service.
	Unobserved        map[string]int
	Critical, Warning int
	HasData           bool
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
	if o.MinOutage <= 0 {
		o.MinOutage = minute
	}
	if o.MinOutage%minute != 0 || o.MergeWindow%minute != 0 {
		return nil, fmt.Errorf("min outage %s and merge window %s must be whole minutes", o.MinOutage, o.MergeWindow)
	}
	r := &Report{
		Month: month, MonthEnd: monthEnd, YearStart: ContractYearStart(month, o.YearStartMonth),
		GeneratedAt: o.Now().In(config.Tokyo), Source: q.url, Selector: o.Selector,
		Target: o.Target, MaxOutages: o.MaxOutages, MergeWindow: o.MergeWindow, MinOutage: o.MinOutage, AntivirusMaxAge: o.AntivirusMaxAge,
		SystemName: o.SystemName,
	}
	for _, rq := range o.Replicas {
		r.Source += ", " + rq.url
	}
	year := NewGrid(r.YearStart.Add(-leadIn), monthEnd)
	mFrom, mTo := year.Index(month), year.N

	tls, err := serviceTimelines(ctx, append([]*Querier{q}, o.Replicas...), o.Selector, year)
	if err != nil {
		return nil, err
	}
	anyData := false
	for _, tl := range tls {
		if tl.observed(mFrom, mTo) {
			anyData = true
		}
	}
	if !anyData {
		warned := ""
		if len(q.warnings) > 0 {
			warned = "; prometheus warned: " + strings.Join(q.warnings, "; ")
		}
		return nil, fmt.Errorf("no data: prometheus %s has no sample of %s between %s and %s JST; check --prometheus.url, --month and --selector (and the retention of Prometheus)%s",
			r.Source, selector("bosaimail_check_up", o.Selector, `critical="true"`), month.Format("2006-01-02 15:04"), monthEnd.Format("2006-01-02 15:04"), warned)
	}

	alerts, err := alertEpisodes(ctx, q, year)
	if err != nil {
		return nil, err
	}
	minOut, merge := int(o.MinOutage/minute), int(o.MergeWindow/minute)
	outagesBySvc := map[string][]*Outage{}
	var all []*Outage
	services := tls
	find := func() {
		all = all[:0]
		tls = services
		if o.SystemName != "" {
			var cs []*timeline
			for _, tl := range services {
				if o.ContractServices == nil || o.ContractServices.MatchString(tl.service) {
					cs = append(cs, tl)
				}
			}
			if sys := systemTimeline(o.SystemName, cs); sys != nil {
				tls = append(append([]*timeline{}, services...), sys)
			}
		}
		for k, tl := range tls {
			tl.run(minOut, merge)
			os := tl.outages(year)
			outagesBySvc[tl.service] = os
			// The system's 停止 are its services' 停止 seen together: they
			// count in its figures row, not again in the lists.
			if k < len(services) {
				all = append(all, os...)
			}
		}
	}
	find()
	if o.Exemptions != nil {
		r.Exemptions, r.Confirmations, err = applyExemptions(o.Exemptions, services, &all, find, year, mFrom, o.Logger)
		if err != nil {
			return nil, err
		}
	}
	for _, out := range all {
		out.Responsible = responsibleDuring(alerts, out)
	}

	if r.Planned, err = plannedStops(ctx, q, o.Selector, services, year, mFrom); err != nil {
		return nil, err
	}
	r.trend(services, all, alerts, year)
	r.timelines, r.grid = tls, year
	for _, tl := range tls {
		f := ServiceFigures{Service: tl.service, counts: tl.count(mFrom, mTo), NoData: !tl.observed(mFrom, mTo)}
		y := ServiceFigures{Service: tl.service}
		// The contract year: every month with data up to the report month;
		// a month without any observation is 判定保留 and left out.
		for m := r.YearStart; m.Before(monthEnd); m = m.AddDate(0, 1, 0) {
			from, to := year.Index(m), year.Index(m.AddDate(0, 1, 0))
			if !tl.observed(from, to) {
				continue
			}
			c := tl.count(from, to)
			y.Minutes += c.Minutes
			y.Planned += c.Planned
			y.Up += c.Up
			y.Blip += c.Blip
			y.Down += c.Down
			y.Stop += c.Stop
			y.ExemptStop += c.ExemptStop
			y.Unobserved += c.Unobserved
			y.Confirmed += c.Confirmed
			for _, out := range outagesBySvc[tl.service] {
				if out.first >= from && out.first < to {
					y.Outages++
				}
				if out.countsIn(from, to) {
					y.OutagesContract++
				}
			}
		}
		y.NoData = y.Minutes == 0
		for _, out := range outagesBySvc[tl.service] {
			if out.first >= mFrom {
				f.Outages++
			}
			if out.countsIn(mFrom, year.N) {
				f.OutagesContract++
			}
		}
		f.ratios()
		y.ratios()
		r.Services = append(r.Services, f)
		r.Year = append(r.Year, y)
		if tl.service == o.SystemName {
			continue
		}
		r.Unobserved = append(r.Unobserved, runs(year.N, mFrom, mTo, year, tl.service, func(i int) bool { return tl.states[i] == Unobserved })...)
		r.Blips = append(r.Blips, tl.blips(year, mFrom, mTo)...)
	}
	sort.SliceStable(r.Unobserved, func(i, j int) bool { return r.Unobserved[i].Start.Before(r.Unobserved[j].Start) })
	sort.SliceStable(r.Blips, func(i, j int) bool { return r.Blips[i].Start.Before(r.Blips[j].Start) })
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

// minuteUpExpr is bosaimail:availability:up_any_minute (fn max_over_time)
// or up_all_minute (min_over_time) over the raw series: per vantage point
// the worst critical check, the best vantage point.
func minuteUpExpr(sel, fn string) string {
	return fmt.Sprintf(`max by (service) (min by (service, instance) (%s(%s[1m])))`,
		fn, selector("bosaimail_check_up", sel, `critical="true"`))
}

// activeExpr is 1 for a minute in which any sample of a per-service flag
// (an approved planned stop, an unapproved window) was 1.
func activeExpr(metric, sel string) string {
	return fmt.Sprintf(`max by (service) (max_over_time(%s[1m]))`, selector(metric, sel))
}

// serviceTimelines reads the minutes of every service from every replica:
// a minute counts as observed if any replica observed it, with the best
// state any replica saw.
func serviceTimelines(ctx context.Context, qs []*Querier, sel string, g Grid) ([]*timeline, error) {
	type acc struct{ any, all, planned []float64 }
	bySvc := map[string]*acc{}
	var order []string
	merge := func(dst *[]float64, src []float64) {
		if *dst == nil {
			*dst = make([]float64, g.N)
			for i := range *dst {
				(*dst)[i] = math.NaN()
			}
		}
		for i, v := range src {
			if !math.IsNaN(v) && (math.IsNaN((*dst)[i]) || v > (*dst)[i]) {
				(*dst)[i] = v
			}
		}
	}
	for _, q := range qs {
		for k, expr := range []string{minuteUpExpr(sel, "max_over_time"), minuteUpExpr(sel, "min_over_time"), activeExpr("bosaimail_maintenance_active", sel)} {
			series, err := q.Fetch(ctx, expr, g)
			if err != nil {
				return nil, err
			}
			for _, s := range series {
				svc := string(s.Labels["service"])
				if svc == "" {
					continue
				}
				a := bySvc[svc]
				if a == nil {
					if k == 2 {
						// Planned-stop flags of a service without checks.
						continue
					}
					a = &acc{}
					bySvc[svc] = a
					order = append(order, svc)
				}
				merge([]*[]float64{&a.any, &a.all, &a.planned}[k], s.Values)
			}
		}
	}
	sort.Strings(order)
	var out []*timeline
	for _, svc := range order {
		a := bySvc[svc]
		out = append(out, classify(svc, minuteInput{upAny: a.any, upAll: a.all, planned: a.planned}))
	}
	return out, nil
}

// blips lists the 瞬断 that start in [from, to): stretches of minutes with
// a failed probe (outside planned stops) that are not part of a 停止, not
// even as its first or last partial minute.
func (tl *timeline) blips(g Grid, from, to int) []Span {
	impaired := func(i int) bool { return tl.states[i] == Blip || (tl.states[i] == Down && !tl.stopMinute[i]) }
	var out []Span
	for _, sp := range runs(g.N, max(from-1, 0), g.N, g, tl.service, impaired) {
		a, b := g.Index(sp.Start), g.Index(sp.End)
		if a < from || a >= to {
			continue
		}
		if (a > 0 && tl.stopMinute[a-1]) || (b < g.N && tl.stopMinute[b]) {
			continue
		}
		out = append(out, sp)
	}
	return out
}

// plannedStops lists the month's planned stops: the approved ones from the
// timelines (with their approver from bosaimail_maintenance_window_info),
// the unapproved ones from bosaimail_maintenance_unapproved_active.
func plannedStops(ctx context.Context, q *Querier, sel string, tls []*timeline, g Grid, mFrom int) ([]PlannedStop, error) {
	mg := NewGrid(g.At(mFrom), g.End())
	info, err := q.Fetch(ctx, fmt.Sprintf(`max by (service, approved_by, approved_on) (max_over_time(%s[1m]))`, selector("bosaimail_maintenance_window_info", sel)), mg)
	if err != nil {
		return nil, err
	}
	unapproved, err := q.Fetch(ctx, activeExpr("bosaimail_maintenance_unapproved_active", sel), mg)
	if err != nil {
		return nil, err
	}
	var out []PlannedStop
	for _, tl := range tls {
		for _, sp := range runs(g.N, mFrom, g.N, g, tl.service, func(i int) bool { return tl.states[i] == Planned }) {
			p := PlannedStop{Span: sp, Approved: true}
			from, to := g.Index(sp.Start), g.Index(sp.End)
			for i := from; i < to; i++ {
				if tl.plannedDown[i] {
					p.Down++
				}
			}
			for _, s := range info {
				if string(s.Labels["service"]) != tl.service || s.Labels["approved_by"] == "" {
					continue
				}
				for i := from - mFrom; i < to-mFrom; i++ {
					if s.Values[i] >= 1 {
						p.ApprovedBy, p.ApprovedOn = string(s.Labels["approved_by"]), string(s.Labels["approved_on"])
						break
					}
				}
			}
			out = append(out, p)
		}
	}
	bySvc := map[string]*timeline{}
	for _, tl := range tls {
		bySvc[tl.service] = tl
	}
	for _, s := range unapproved {
		svc := string(s.Labels["service"])
		for _, sp := range runs(mg.N, 0, mg.N, mg, svc, func(i int) bool { return s.Values[i] >= 1 }) {
			p := PlannedStop{Span: sp}
			if tl := bySvc[svc]; tl != nil {
				for i := g.Index(sp.Start); i < g.Index(sp.End); i++ {
					if tl.states[i] == Down || tl.plannedDown[i] {
						p.Down++
					}
				}
			}
			out = append(out, p)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
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
		t := MonthTrend{Month: m, Unobserved: map[string]int{}}
		for _, tl := range tls {
			if !tl.observed(from, to) {
				continue
			}
			t.HasData = true
			c := tl.count(from, to)
			t.Stop += c.Stop
			t.ExemptStop += c.ExemptStop
			t.Unobserved[tl.service] = c.Unobserved
		}
		for _, out := range all {
			// The month of a contractual count is that of its first
			// minute not exempted (as for the year), so that the months'
			// counts add up to the year's.
			if out.countsIn(from, to) {
				t.Contract++
			}
			if out.first < from || out.first >= to {
				continue
			}
			t.Outages++
			if out.Exempted() {
				t.Exempted++
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

// applyExemptions marks the minutes each exemption and 稼働確認 record
// covers and recomputes the 停止. An exemption inside the queried period
// that covers no 停止 minute is an error (it names an outage that is not
// there); so is a 稼働確認 record that covers no 稼働未確認 minute.
func applyExemptions(f *exemption.File, tls []*timeline, all *[]*Outage, find func(), g Grid, mFrom int, logger log.Logger) ([]AppliedExemption, []AppliedConfirmation, error) {
	bySvc := map[string]*timeline{}
	for _, tl := range tls {
		bySvc[tl.service] = tl
	}
	var errs []error
	targets := func(where, svc string) []*timeline {
		if svc == "" {
			return tls
		}
		if tl := bySvc[svc]; tl != nil {
			return []*timeline{tl}
		}
		errs = append(errs, fmt.Errorf("%s: service %q has no data in Prometheus (services: %s)", where, svc, serviceNames(tls)))
		return nil
	}
	// span is the minutes overlapping [start, end).
	span := func(start, end time.Time) (int, int) {
		return g.Index(start), g.Index(end.Add(minute - time.Nanosecond))
	}
	type mark struct {
		tl       *timeline
		from, to int
	}
	marks := make([][]mark, len(f.Exemptions))
	skip := make([]bool, len(f.Exemptions))
	// Time ranges first; incidents need the 停止 as found before them.
	for k, e := range f.Exemptions {
		where := e.Where(f.Path)
		if e.Incident != "" {
			start, _ := exemption.IncidentStart(e.Incident)
			if i := g.Index(start); i < 0 || i >= g.N {
				level.Info(logger).Log("msg", "exemption outside the report's period, not applied", "exemption", where, "incident", e.Incident)
				skip[k] = true
				continue
			}
			var found *Outage
			for _, o := range *all {
				if o.ID == e.Incident {
					found = o
				}
			}
			if found == nil {
				errs = append(errs, fmt.Errorf("%s: incident %q matches no outage: no outage of service %q started at %s JST (see 障害一覧 for the outage ids)",
					where, e.Incident, exemption.IncidentService(e.Incident), start.Format("2006-01-02 15:04")))
				skip[k] = true
				continue
			}
			marks[k] = append(marks[k], mark{bySvc[found.Service], found.first, found.last + 1})
			continue
		}
		from, to := span(e.Start.Time, e.End.Time)
		if to <= 0 || from >= g.N {
			level.Info(logger).Log("msg", "exemption outside the report's period, not applied", "exemption", where)
			skip[k] = true
			continue
		}
		for _, tl := range targets(where, e.Service) {
			marks[k] = append(marks[k], mark{tl, max(from, 0), min(to, g.N)})
		}
	}
	for _, ms := range marks {
		for _, m := range ms {
			for i := m.from; i < m.to; i++ {
				m.tl.exemptOn[i] = true
			}
		}
	}
	var confs []AppliedConfirmation
	for _, c := range f.Confirmations {
		where := c.Where(f.Path)
		from, to := span(c.Start.Time, c.End.Time)
		if to <= 0 || from >= g.N {
			level.Info(logger).Log("msg", "稼働確認 record outside the report's period, not applied", "confirmation", where)
			continue
		}
		a := AppliedConfirmation{Confirmation: c}
		for _, tl := range targets(where, c.Service) {
			for i := max(from, 0); i < min(to, g.N); i++ {
				tl.confirmOn[i] = true
				if tl.states[i] == Unobserved {
					a.Minutes++
					if i >= mFrom {
						a.InMonth++
					}
				}
			}
		}
		if a.Minutes == 0 {
			errs = append(errs, fmt.Errorf("%s: covers no 稼働未確認 minute of %s between %s and %s JST",
				where, orAll(c.Service), c.Start.In(config.Tokyo).Format("2006-01-02 15:04"), c.End.In(config.Tokyo).Format("2006-01-02 15:04")))
			continue
		}
		confs = append(confs, a)
	}
	find()
	var applied []AppliedExemption
	for k, e := range f.Exemptions {
		if skip[k] {
			continue
		}
		a := AppliedExemption{Exemption: e}
		for _, m := range marks[k] {
			for i := m.from; i < m.to; i++ {
				if m.tl.exempt[i] > 0 {
					a.Minutes += m.tl.exempt[i]
					if i >= mFrom {
						a.InMonth += m.tl.exempt[i]
					}
				}
			}
			for _, o := range *all {
				if o.Service != m.tl.service || o.last < m.from || o.first >= m.to {
					continue
				}
				covered := false
				for i := max(o.first, m.from); i <= o.last && i < m.to; i++ {
					if m.tl.exempt[i] > 0 {
						covered = true
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
		}
		if a.Minutes == 0 && e.Incident == "" {
			errs = append(errs, fmt.Errorf("%s: matches no outage: no 停止 minute of %s between %s and %s JST",
				e.Where(f.Path), orAll(e.Service), e.Start.In(config.Tokyo).Format("2006-01-02 15:04"), e.End.In(config.Tokyo).Format("2006-01-02 15:04")))
			continue
		}
		applied = append(applied, a)
	}
	if len(errs) > 0 {
		return nil, nil, errors.Join(errs...)
	}
	return applied, confs, nil
}

func orAll(svc string) string {
	if svc == "" {
		return "any service"
	}
	return svc
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
		r.Notes = append(r.Notes, fmt.Sprintf("監視データの間隔（約%s）が集計単位の1分より長いため、サンプルのない分が稼働未確認として数えられています。", jaDuration(r.ScrapeInterval)))
	}
	var pending []string
	for _, t := range r.Trend {
		if !t.HasData {
			pending = append(pending, t.Month.Format("2006年1月"))
		}
	}
	if len(pending) > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("契約年度のうち %s は監視データがないため判定保留とし、契約年度の稼働率・停止回数に含めていません。", strings.Join(pending, "、")))
	}
	for _, s := range r.Services {
		if s.Unobserved > 0 {
			r.Notes = append(r.Notes, fmt.Sprintf("%s: 稼働未確認 %d分（うち稼働確認済み %d分）は、稼働確認の記録がない分を稼働していなかったものとして稼働率に数えています。", s.Service, s.Unobserved, s.Confirmed))
		}
	}
	for _, o := range r.Outages {
		if o.PartlyExempted() {
			r.Notes = append(r.Notes, fmt.Sprintf("%s の停止（%s 開始）は停止%d分のうち%d分のみ免責のため、停止回数に数えています。", o.Service, jst(o.Start), o.Down, o.Exempt))
		}
		if o.StartedBefore {
			r.Notes = append(r.Notes, fmt.Sprintf("%s の停止（%s 開始）は集計期間の開始前から継続していました。", o.Service, jst(o.Start)))
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
