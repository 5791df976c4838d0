package cloudstatus

import (
	"encoding/json"
	"fmt"
)

// Statuspage v2 summary.json (Atlassian Statuspage: SendGrid, Mailgun,
// many clouds). Only the fields we use are declared.
type spSummary struct {
	Components []struct {
		ID      string `json:"id"`
		Name    string `json:"name"`
		Status  string `json:"status"`
		Group   bool   `json:"group"`
		GroupID string `json:"group_id"`
	} `json:"components"`
	Incidents []spIncident `json:"incidents"`
	Scheduled []spIncident `json:"scheduled_maintenances"`
}

type spIncident struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	Status         string `json:"status"`
	Impact         string `json:"impact"`
	ScheduledFor   string `json:"scheduled_for"`
	ScheduledUntil string `json:"scheduled_until"`
	Components     []struct {
		Name string `json:"name"`
	} `json:"components"`
}

// StatuspageStatus maps a Statuspage component status.
func StatuspageStatus(s string) Status {
	switch s {
	case "operational":
		return Operational
	case "degraded_performance":
		return Degraded
	case "partial_outage":
		return PartialOutage
	case "major_outage":
		return MajorOutage
	case "under_maintenance":
		return Maintenance
	}
	return Unknown
}

// DecodeStatuspage decodes /api/v2/summary.json. Group components (which
// only aggregate their children) are skipped; filter selects components by
// name. Incidents still listed in the summary are open; maintenances that
// are completed are dropped.
func DecodeStatuspage(data []byte, filter Filter) (Snapshot, error) {
	var s spSummary
	if err := json.Unmarshal(data, &s); err != nil {
		return Snapshot{}, fmt.Errorf("statuspage summary: %w", err)
	}
	if s.Components == nil {
		return Snapshot{}, fmt.Errorf("statuspage summary: no \"components\" list (not a summary.json?)")
	}
	var cs componentSet
	for _, c := range s.Components {
		if c.Group || !filter.Match(c.Name) {
			continue
		}
		cs.set(c.Name, StatuspageStatus(c.Status))
	}
	snap := Snapshot{Components: cs.list()}
	for _, in := range s.Incidents {
		if in.Status == "resolved" || in.Status == "postmortem" {
			continue
		}
		names := spNames(in)
		if len(names) > 0 && !filter.matchAny(names) {
			continue
		}
		snap.Events = append(snap.Events, Event{ID: in.ID, Title: in.Name, Category: Issue, Components: names})
	}
	for i, m := range s.Scheduled {
		if m.Status == "completed" {
			continue
		}
		names := spNames(m)
		if len(names) > 0 && !filter.matchAny(names) {
			continue
		}
		start, err := parseTime(fmt.Sprintf("scheduled_maintenances[%d].scheduled_for", i), m.ScheduledFor)
		if err != nil {
			return Snapshot{}, fmt.Errorf("statuspage summary: %w", err)
		}
		end, err := parseTime(fmt.Sprintf("scheduled_maintenances[%d].scheduled_until", i), m.ScheduledUntil)
		if err != nil {
			return Snapshot{}, fmt.Errorf("statuspage summary: %w", err)
		}
		snap.Events = append(snap.Events, Event{ID: m.ID, Title: m.Name, Category: MaintenanceCat, Components: names, Start: start, End: end})
	}
	return snap, nil
}

func spNames(in spIncident) []string {
	out := make([]string, 0, len(in.Components))
	for _, c := range in.Components {
		out = append(out, c.Name)
	}
	return out
}
