package report

import (
	"context"
	"math"
	"sort"
	"time"
)

// alertsExpr selects the minutes in which a critical or warning alert of
// this product fired. ALERTS carries the labels of the alert, not the
// exporter's job, so the selector is not applied; info alerts (planned
// stops) and Watchdog are not incidents.
const alertsExpr = `max_over_time(ALERTS{alertstate="firing",alertname=~"BosaiMail.+",severity=~"critical|warning"}[1m])`

// AlertEpisode is one stretch of minutes in which one alert fired. The rule
// evaluation interval must be at most a minute (Prometheus' default is
// 1m), else one firing shows as several episodes.
type AlertEpisode struct {
	Alertname, Severity, Service, Responsible string
	// Labels are the alert's other labels, "k=v, ...".
	Labels     string
	Start, End time.Time
	Minutes    int
	// StartedBefore tells that it was already firing when the data of the
	// query began.
	StartedBefore bool

	first, last int
}

func alertEpisodes(ctx context.Context, q *Querier, g Grid) ([]*AlertEpisode, error) {
	series, err := q.Fetch(ctx, alertsExpr, g)
	if err != nil {
		return nil, err
	}
	var out []*AlertEpisode
	for _, s := range series {
		for _, sp := range runs(g.N, 0, g.N, g, "", func(i int) bool { return !math.IsNaN(s.Values[i]) }) {
			a := &AlertEpisode{
				Alertname:   string(s.Labels["alertname"]),
				Severity:    string(s.Labels["severity"]),
				Service:     string(s.Labels["service"]),
				Responsible: string(s.Labels["responsible"]),
				Labels:      labelsExcept(s.Labels, "alertname", "alertstate", "severity", "service", "responsible"),
				Start:       sp.Start, End: sp.End, Minutes: sp.Minutes,
				first: g.Index(sp.Start), last: g.Index(sp.End) - 1,
			}
			a.StartedBefore = a.first == 0
			out = append(out, a)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Start.Equal(out[j].Start) {
			return out[i].Start.Before(out[j].Start)
		}
		return out[i].Alertname < out[j].Alertname
	})
	return out, nil
}

// responsibleDuring lists the responsible parties of the alerts of the
// outage's service that fired while it lasted: the first triage the alert
// rules made, for the operator to confirm.
func responsibleDuring(alerts []*AlertEpisode, o *Outage) []string {
	var out []string
	for _, a := range alerts {
		if a.Service != o.Service || a.Responsible == "" || a.last < o.first || a.first > o.last {
			continue
		}
		if !contains(out, a.Responsible) {
			out = append(out, a.Responsible)
		}
	}
	sort.Slice(out, func(i, j int) bool { return partyOrder(out[i]) < partyOrder(out[j]) })
	return out
}
