// Package cloudstatus decodes the status payloads of cloud and mail
// providers (Statuspage v2, Google Cloud incidents, Azure Resource Health,
// RSS/Atom notices) into one small model: component states and events.
// It is pure (no network, no metrics) so every decoder can be fuzzed.
package cloudstatus

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Status is the normalised state of a provider component.
type Status string

// The one-hot states of bosaimail_cloud_component_status. Unknown is what
// any status string we do not recognise becomes: a new provider value must
// never read as operational.
const (
	Operational   Status = "operational"
	Degraded      Status = "degraded"
	PartialOutage Status = "partial_outage"
	MajorOutage   Status = "major_outage"
	Maintenance   Status = "maintenance"
	Unknown       Status = "unknown"
)

// Statuses lists every state in label order.
var Statuses = []Status{Operational, Degraded, PartialOutage, MajorOutage, Maintenance, Unknown}

// severity orders states so that one component hit by several events shows
// the worst. Unknown ranks above operational (we cannot vouch for it) but
// below every state a provider actually declared.
func (s Status) severity() int {
	switch s {
	case Operational:
		return 0
	case Unknown:
		return 1
	case Maintenance:
		return 2
	case Degraded:
		return 3
	case PartialOutage:
		return 4
	case MajorOutage:
		return 5
	}
	return 1
}

// Worse returns the more severe of two states.
func Worse(a, b Status) Status {
	if b.severity() > a.severity() {
		return b
	}
	return a
}

// Category of an event, as in bosaimail_cloud_events_open.
type Category string

// Event categories.
const (
	Issue           Category = "issue"
	ScheduledChange Category = "scheduled_change"
	MaintenanceCat  Category = "maintenance"
	Notification    Category = "notification"
)

// Categories lists every category in label order.
var Categories = []Category{Issue, ScheduledChange, MaintenanceCat, Notification}

// Event is an open or upcoming incident, change, maintenance or notice.
type Event struct {
	ID       string
	Title    string
	Category Category
	// Components the event affects (as named by the provider).
	Components []string
	// Start and End are zero when the provider did not say.
	Start, End time.Time
}

// Upcoming tells whether a maintenance or scheduled change has not yet begun.
func (e Event) Upcoming(now time.Time) bool { return !e.Start.IsZero() && e.Start.After(now) }

// Component is one provider component and its state.
type Component struct {
	Name   string
	Status Status
}

// Snapshot is what one refresh of a provider yields.
type Snapshot struct {
	Components []Component
	// Events holds open incidents and active or upcoming maintenance; closed
	// ones are dropped by the decoders.
	Events []Event
}

// AddAbsent reports every component the filter names that the provider
// did not list as unknown: a configured component that vanished from the
// page is not known to be fine, and must not silently lose its series.
func (s *Snapshot) AddAbsent(filter Filter) {
	if filter == nil {
		return
	}
	seen := map[string]bool{}
	for _, c := range s.Components {
		seen[c.Name] = true
		if _, n, ok := strings.Cut(c.Name, " / "); ok {
			seen[n] = true
		}
	}
	for _, name := range slices.Sorted(maps.Keys(filter)) {
		if !seen[name] {
			s.Components = append(s.Components, Component{Name: name, Status: Unknown})
		}
	}
}

// EventsOpen counts the events by category (every category present).
func (s Snapshot) EventsOpen() map[Category]int {
	out := make(map[Category]int, len(Categories))
	for _, c := range Categories {
		out[c] = 0
	}
	for _, e := range s.Events {
		out[e.Category]++
	}
	return out
}

// Filter selects component names; a nil Filter selects all.
type Filter map[string]bool

// NewFilter builds a filter from configured names (nil when none).
func NewFilter(names []string) Filter {
	if len(names) == 0 {
		return nil
	}
	f := Filter{}
	for _, n := range names {
		f[n] = true
	}
	return f
}

// Match tells whether a component is selected.
func (f Filter) Match(name string) bool { return f == nil || f[name] }

// matchAny tells whether any of the names is selected.
func (f Filter) matchAny(names []string) bool {
	if f == nil {
		return true
	}
	for _, n := range names {
		if f[n] {
			return true
		}
	}
	return false
}

// parseTime accepts RFC 3339 with or without fractional seconds; empty is zero.
func parseTime(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: invalid time %q", field, s)
	}
	return t, nil
}

// componentSet accumulates worst states by name, keeping first-seen order.
type componentSet struct {
	order []string
	state map[string]Status
}

func (c *componentSet) set(name string, s Status) {
	if c.state == nil {
		c.state = map[string]Status{}
	}
	old, ok := c.state[name]
	if !ok {
		c.order = append(c.order, name)
		c.state[name] = s
		return
	}
	c.state[name] = Worse(old, s)
}

func (c *componentSet) list() []Component {
	out := make([]Component, 0, len(c.order))
	for _, n := range c.order {
		out = append(out, Component{Name: n, Status: c.state[n]})
	}
	return out
}
