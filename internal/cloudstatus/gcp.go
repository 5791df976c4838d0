package cloudstatus

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
)

// gcpIncident is one entry of https://status.cloud.google.com/incidents.json.
type gcpIncident struct {
	ID               string `json:"id"`
	Begin            string `json:"begin"`
	End              string `json:"end"`
	ExternalDesc     string `json:"external_desc"`
	StatusImpact     string `json:"status_impact"`
	AffectedProducts []struct {
		Title string `json:"title"`
		ID    string `json:"id"`
	} `json:"affected_products"`
	CurrentlyAffectedLocations []struct {
		Title string `json:"title"`
		ID    string `json:"id"`
	} `json:"currently_affected_locations"`
}

// GCPStatus maps a Google Cloud status_impact. SERVICE_INFORMATION is a
// notice, not a degradation.
func GCPStatus(impact string) Status {
	switch impact {
	case "SERVICE_OUTAGE":
		return MajorOutage
	case "SERVICE_DISRUPTION":
		return Degraded
	case "SERVICE_INFORMATION":
		return Operational
	}
	return Unknown
}

// DecodeGCPIncidents decodes incidents.json. Only open incidents (no end)
// count. products selects affected products by title (every configured
// product is reported, operational unless an open incident touches it);
// locations, when given, keeps only incidents currently affecting one of
// them by id (e.g. asia-northeast1) or "global".
func DecodeGCPIncidents(data []byte, products, locations Filter) (Snapshot, error) {
	var incs []*gcpIncident // a null entry is skipped, never an open incident
	if err := json.Unmarshal(data, &incs); err != nil {
		return Snapshot{}, fmt.Errorf("google cloud incidents: %w", err)
	}
	if incs == nil {
		// "null" is not the empty list "[]" (no incidents): refuse it.
		return Snapshot{}, fmt.Errorf("google cloud incidents: not a list of incidents")
	}
	var cs componentSet
	// Configured products are known-operational unless an incident says
	// otherwise: incidents.json lists only incidents, never healthy products.
	for _, name := range slices.Sorted(maps.Keys(products)) {
		cs.set(name, Operational)
	}
	var snap Snapshot
	for i, in := range incs {
		if in == nil {
			continue
		}
		if in.End != "" {
			continue
		}
		start, err := parseTime(fmt.Sprintf("[%d].begin", i), in.Begin)
		if err != nil {
			return Snapshot{}, fmt.Errorf("google cloud incidents: %w", err)
		}
		if locations != nil {
			hit := len(in.CurrentlyAffectedLocations) == 0 // global incidents list none
			for _, l := range in.CurrentlyAffectedLocations {
				if locations[l.ID] || l.ID == "global" {
					hit = true
				}
			}
			if !hit {
				continue
			}
		}
		var names []string
		for _, p := range in.AffectedProducts {
			if products.Match(p.Title) {
				names = append(names, p.Title)
			}
		}
		if len(names) == 0 {
			continue
		}
		st := GCPStatus(in.StatusImpact)
		cat := Issue
		if st == Operational {
			cat = Notification
		}
		for _, n := range names {
			cs.set(n, st)
		}
		snap.Events = append(snap.Events, Event{ID: in.ID, Title: in.ExternalDesc, Category: cat, Components: names, Start: start})
	}
	snap.Components = cs.list()
	return snap, nil
}
