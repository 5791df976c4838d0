package report

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/bosaimail/bosaimail_exporter/config"
	"github.com/bosaimail/bosaimail_exporter/internal/exemption"
)

// The incident ledger (bosaimail_ledger) is where 事象・原因・対処・状況 are
// written and where the prefecture approves exemptions. The report reads
// it on every run, so re-running the report never loses what was typed:
// it lives in the ledger, not in the XLSX.

// LedgerIncident is a 障害票 as the ledger's API returns it.
type LedgerIncident struct {
	ID         uint64    `json:"id"`
	Service    string    `json:"service"`
	Title      string    `json:"title"`
	StartedAt  time.Time `json:"started_at"`
	ResolvedAt time.Time `json:"resolved_at"`
	Firing     bool      `json:"firing"`
	Fields     struct {
		Event          string `json:"event"`
		Cause          string `json:"cause"`
		Action         string `json:"action"`
		Status         string `json:"status"`
		Responsibility string `json:"responsibility"`
		Exemption      string `json:"exemption"`
		Prevention     string `json:"prevention"`
		Important      bool   `json:"important"`
	} `json:"fields"`
}

// LedgerClient reads the ledger's API.
type LedgerClient struct {
	URL      string
	Token    string
	Client   *http.Client
	MaxBytes int64
}

func (c *LedgerClient) get(ctx context.Context, path string, q url.Values) ([]byte, error) {
	u := strings.TrimRight(c.URL, "/") + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("ledger %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("ledger %s: %w", path, err)
	}
	if int64(len(body)) > c.MaxBytes {
		return nil, fmt.Errorf("ledger %s: answer larger than %d bytes", path, c.MaxBytes)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("ledger %s: HTTP %d: %s", path, resp.StatusCode, bytes.TrimSpace(body[:min(len(body), 300)]))
	}
	return body, nil
}

// Incidents returns the 障害票 overlapping [from, to).
func (c *LedgerClient) Incidents(ctx context.Context, from, to time.Time) ([]LedgerIncident, error) {
	body, err := c.get(ctx, "/api/v1/incidents", url.Values{"from": {from.Format(time.RFC3339)}, "to": {to.Format(time.RFC3339)}})
	if err != nil {
		return nil, err
	}
	var out struct {
		Incidents []LedgerIncident `json:"incidents"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("ledger /api/v1/incidents: %v", err)
	}
	sort.Slice(out.Incidents, func(i, j int) bool { return out.Incidents[i].StartedAt.Before(out.Incidents[j].StartedAt) })
	return out.Incidents, nil
}

// Exemptions returns the exemptions the prefecture approved in the
// ledger, nil when there are none.
func (c *LedgerClient) Exemptions(ctx context.Context) (*exemption.File, error) {
	body, err := c.get(ctx, "/feeds/exemptions.yaml", nil)
	if err != nil {
		return nil, err
	}
	var probe struct {
		Exemptions []yaml.Node `yaml:"exemptions"`
	}
	if err := yaml.Unmarshal(body, &probe); err != nil {
		return nil, fmt.Errorf("ledger exemptions: %v", err)
	}
	if len(probe.Exemptions) == 0 {
		return nil, nil
	}
	return exemption.Parse(strings.TrimRight(c.URL, "/")+"/feeds/exemptions.yaml", body)
}

// ledgerSlack: an alert fires some minutes after the first down minute
// (the rule's `for`, Alertmanager's group_wait), so a 障害票 that starts
// up to this long after an outage's end still belongs to it.
const ledgerSlack = 15 * time.Minute

// ledgerFor returns the 障害票 of the outage's service that overlap it.
func (r *Report) ledgerFor(o *Outage) []LedgerIncident {
	var out []LedgerIncident
	for _, inc := range r.Ledger {
		end := inc.ResolvedAt
		if inc.Firing || end.IsZero() {
			end = r.MonthEnd
		}
		if inc.Service == o.Service && !inc.StartedAt.After(o.End.Add(ledgerSlack)) && !end.Before(o.Start) {
			out = append(out, inc)
		}
	}
	return out
}

// fillFromLedger writes the 障害票's 事象・責任区分・原因・対処・状況 into an
// outage row of 障害一覧 (columns as laid out by incidents()).
func (r *Report) fillFromLedger(o *Outage, cells []any) {
	incs := r.ledgerFor(o)
	if len(incs) == 0 {
		return
	}
	join := func(f func(LedgerIncident) string) string {
		var parts []string
		for _, i := range incs {
			if v := strings.TrimSpace(f(i)); v != "" && !contains(parts, v) {
				parts = append(parts, v)
			}
		}
		return strings.Join(parts, " / ")
	}
	if ev := join(func(i LedgerIncident) string { return i.Fields.Event }); ev != "" {
		cells[5] = fmt.Sprintf("%s（障害票 %s）", ev, join(func(i LedgerIncident) string { return fmt.Sprint(i.ID) }))
	}
	if v := join(func(i LedgerIncident) string { return i.Fields.Responsibility }); v != "" {
		cells[10] = v
	}
	cells[13] = join(func(i LedgerIncident) string { return i.Fields.Cause })
	cells[14] = join(func(i LedgerIncident) string { return i.Fields.Action })
	cells[15] = join(func(i LedgerIncident) string { return i.Fields.Status })
}

// ledgerSections are the sheets made from the ledger: every 障害票 of the
// month, the contract year's statistics by cause and by 責任区分, and the
// 重要障害.
func (r *Report) ledgerSections() []Section {
	if r.Ledger == nil {
		return nil
	}
	ids := func(inc LedgerIncident) string {
		var out []string
		for _, o := range r.Outages {
			for _, i := range r.ledgerFor(o) {
				if i.ID == inc.ID {
					out = append(out, o.ID)
				}
			}
		}
		return strings.Join(out, ", ")
	}
	resolved := func(i LedgerIncident) any {
		if i.Firing {
			return time.Time{}
		}
		return i.ResolvedAt
	}
	cols := []Column{{"障害票", Int, 7}, {"障害ID", Text, 22}, {"サービス", Text, 12}, {"発生", Time, 17}, {"復旧", Time, 17},
		{"事象", Text, 28}, {"原因", Text, 28}, {"対処", Text, 28}, {"状況", Text, 10}, {"責任区分", Text, 14}, {"免責区分", Text, 14}, {"再発防止策", Text, 28}}
	row := func(i LedgerIncident) []any {
		svc := i.Service
		if svc == "" {
			svc = i.Title
		}
		return []any{int(i.ID), ids(i), svc, i.StartedAt, resolved(i), i.Fields.Event, i.Fields.Cause, i.Fields.Action,
			i.Fields.Status, orDash(i.Fields.Responsibility), orDash(i.Fields.Exemption), i.Fields.Prevention}
	}
	month := Table{Title: "障害票（当月）", Name: "ledger", Empty: "当月の障害票はありません。", Columns: cols}
	important := Table{Title: "重要障害（当月）", Name: "important", Empty: "当月に重要障害と認められた障害はありません。", Columns: cols}
	byResp := map[string]int{}
	byCause := map[string]int{}
	byExemption := map[string]int{}
	for _, i := range r.Ledger {
		end := i.ResolvedAt
		if i.Firing {
			end = r.MonthEnd
		}
		if i.StartedAt.Before(r.MonthEnd) && !end.Before(r.Month) {
			month.Rows = append(month.Rows, row(i))
			if i.Fields.Important {
				important.Rows = append(important.Rows, row(i))
			}
		}
		if !i.StartedAt.Before(r.YearStart) && i.StartedAt.Before(r.MonthEnd) {
			byResp[orUnset(i.Fields.Responsibility)]++
			byCause[orUnset(strings.TrimSpace(i.Fields.Cause))]++
			ex := i.Fields.Exemption
			if ex == "" {
				ex = "免責なし"
			}
			byExemption[ex]++
		}
	}
	count := func(title, name, head string, m map[string]int) Table {
		t := Table{Title: title, Name: name, Empty: "契約年度の障害票はありません。", Columns: []Column{{head, Text, 30}, {"件数", Int, 8}}}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(a, b int) bool {
			if m[keys[a]] != m[keys[b]] {
				return m[keys[a]] > m[keys[b]]
			}
			return keys[a] < keys[b]
		})
		for _, k := range keys {
			t.Rows = append(t.Rows, []any{k, m[k]})
		}
		return t
	}
	return []Section{
		{Sheet: "障害票", Landscape: true, Lines: []string{
			"障害台帳（bosaimail_ledger）に記録された障害票。事象・原因・対処・状況・責任区分は台帳で入力・更新し、報告書は作成のたびに台帳から読む。",
		}, Tables: []Table{month}},
		{Sheet: "障害統計（障害票）", Lines: []string{
			"契約年度（4月から当月末まで）に発生した障害票の件数。責任区分・原因は障害票の記載による（未記入は「未記入」）。",
		}, Tables: []Table{
			count("責任区分別（契約年度）", "ledger_responsibility", "責任区分", byResp),
			count("原因別（契約年度）", "ledger_cause", "原因", byCause),
			count("免責区分別（契約年度）", "ledger_exemption", "免責区分", byExemption),
		}},
		{Sheet: "重要障害", Landscape: true, Lines: []string{
			"三重県が重要障害と認めた障害（第3 4(2)）。各障害について調査報告書を作成し報告する。",
		}, Tables: []Table{important}},
	}
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func orUnset(s string) string {
	if s == "" {
		return "未記入"
	}
	return s
}

// LedgerYear returns the range of 障害票 a report of month needs: the
// contract year (starting in yearStart; 0 means April) up to the month's end.
func LedgerYear(month time.Time, yearStart time.Month) (from, to time.Time) {
	m := month.In(config.Tokyo)
	return ContractYearStart(m, yearStart), time.Date(m.Year(), m.Month()+1, 1, 0, 0, 0, 0, config.Tokyo)
}
