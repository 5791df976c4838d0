package cloudstatus

import (
	"encoding/json"
	"fmt"
)

// Statuspage v2 summary.json (Atlassian Statuspage: SendGrid, Mailgun,
// many clouds). Only the fields we use are declared.
// Entries are pointers so that a null entry is seen (and skipped), never
// read as a zero-valued component or event.
type spSummary struct {
	Components []*spComponent `json:"components"`
	Incidents  []*spIncident  `json:"incidents"`
	Scheduled  []*spIncident  `json:"scheduled_maintenances"`
}

type spComponent struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Status  string `json:"status"`
	Group   bool   `json:"group"`
	GroupID string `json:"group_id"`
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
//
// Null entries and components without a name are skipped (never reported
// as operational or counted as an event). Two components of the same name
// in different groups are two components, named "group / name"; the
// filter matches either form. A component the filter names that the page
// does not list is unknown. An empty but valid summary is no components.
func DecodeStatuspage(data []byte, filter Filter) (Snapshot, error) {
	var s spSummary
	if err := json.Unmarshal(data, &s); err != nil {
		return Snapshot{}, fmt.Errorf("statuspage summary: %w", err)
	}
	if s.Components == nil {
		return Snapshot{}, fmt.Errorf("statuspage summary: no \"components\" list (not a summary.json?)")
	}
	groups := map[string]string{}
	groupsOf := map[string]map[string]bool{}
	for _, c := range s.Components {
		if c == nil || c.Name == "" {
			continue
		}
		if c.Group {
			groups[c.ID] = c.Name
			continue
		}
		if groupsOf[c.Name] == nil {
			groupsOf[c.Name] = map[string]bool{}
		}
		groupsOf[c.Name][c.GroupID] = true
	}
	var cs componentSet
	for _, c := range s.Components {
		if c == nil || c.Name == "" || c.Group {
			continue
		}
		name := c.Name
		if len(groupsOf[c.Name]) > 1 {
			if g := groups[c.GroupID]; g != "" {
				name = g + " / " + c.Name
			}
		}
		if !filter.Match(name) && !filter.Match(c.Name) {
			continue
		}
		cs.set(name, StatuspageStatus(c.Status))
	}
	snap := Snapshot{Components: cs.list()}
	snap.AddAbsent(filter)
	for _, in := range s.Incidents {
		if in == nil {
			continue
		}
		if in.Status == "resolved" || in.Status == "postmortem" {
			continue
		}
		names := spNames(*in)
		if len(names) > 0 && !filter.matchAny(names) {
			continue
		}
		snap.Events = append(snap.Events, Event{ID: in.ID, Title: in.Name, Category: Issue, Components: names})
	}
	for i, m := range s.Scheduled {
		if m == nil {
			continue
		}
		if m.Status == "completed" {
			continue
		}
		names := spNames(*m)
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
		if c.Name != "" {
			out = append(out, c.Name)
		}
	}
	return out
}
