package cloudstatus

import (
	"encoding/json"
	"fmt"
	"strings"
)

// azureList is a page of Microsoft.ResourceHealth/availabilityStatuses.
type azureList struct {
	Value    *[]azureStatus `json:"value"`
	NextLink string         `json:"nextLink"`
}

type azureStatus struct {
	ID         string `json:"id"`
	Properties struct {
		AvailabilityState string `json:"availabilityState"`
		Title             string `json:"title"`
		Summary           string `json:"summary"`
		ReasonType        string `json:"reasonType"`
		OccurredTime      string `json:"occuredTime"` // sic: the API's spelling
	} `json:"properties"`
}

// AzureStatus maps an availabilityState; an Unavailable resource whose
// reasonType is "Planned" is under maintenance, not in an outage.
func AzureStatus(state, reasonType string) Status {
	switch state {
	case "Available":
		return Operational
	case "Degraded":
		return Degraded
	case "Unavailable":
		if strings.EqualFold(reasonType, "Planned") {
			return Maintenance
		}
		return MajorOutage
	case "Unknown":
		return Unknown
	}
	return Unknown
}

// AzureResourceName returns the resource name of an availability status id
// (".../virtualMachines/vm1/providers/Microsoft.ResourceHealth/availabilityStatuses/current" -> "vm1").
func AzureResourceName(id string) string {
	if i := strings.Index(strings.ToLower(id), "/providers/microsoft.resourcehealth/"); i >= 0 {
		id = id[:i]
	}
	if i := strings.LastIndexByte(id, '/'); i >= 0 {
		return id[i+1:]
	}
	return id
}

// DecodeAzurePage decodes one page of availabilityStatuses and returns its
// nextLink ("" on the last page). filter selects resources by name.
func DecodeAzurePage(data []byte, filter Filter) (Snapshot, string, error) {
	var l azureList
	if err := json.Unmarshal(data, &l); err != nil {
		return Snapshot{}, "", fmt.Errorf("azure availabilityStatuses: %w", err)
	}
	if l.Value == nil {
		return Snapshot{}, "", fmt.Errorf("azure availabilityStatuses: no \"value\" list")
	}
	var cs componentSet
	var snap Snapshot
	for i, s := range *l.Value {
		name := AzureResourceName(s.ID)
		if name == "" {
			return Snapshot{}, "", fmt.Errorf("azure availabilityStatuses: value[%d] has no id", i)
		}
		if !filter.Match(name) {
			continue
		}
		st := AzureStatus(s.Properties.AvailabilityState, s.Properties.ReasonType)
		cs.set(name, st)
		if st == Operational {
			continue
		}
		start, err := parseTime(fmt.Sprintf("value[%d].properties.occuredTime", i), s.Properties.OccurredTime)
		if err != nil {
			return Snapshot{}, "", fmt.Errorf("azure availabilityStatuses: %w", err)
		}
		cat := Issue
		if st == Maintenance {
			cat = MaintenanceCat
		}
		title := s.Properties.Title
		if title == "" {
			title = s.Properties.Summary
		}
		snap.Events = append(snap.Events, Event{ID: s.ID, Title: title, Category: cat, Components: []string{name}, Start: start})
	}
	snap.Components = cs.list()
	return snap, l.NextLink, nil
}

// Merge appends another page's snapshot (components keep the worst state).
func (s *Snapshot) Merge(o Snapshot) {
	var cs componentSet
	for _, c := range s.Components {
		cs.set(c.Name, c.Status)
	}
	for _, c := range o.Components {
		cs.set(c.Name, c.Status)
	}
	s.Components = cs.list()
	s.Events = append(s.Events, o.Events...)
}
