package collector

import (
	"sync/atomic"
	"time"
)

// MaintenanceWindow is a maintenance a provider announced for a component,
// offered to the maintenance calendar for a service whose config opted in
// (cloud.sources[].maintenance_services).
type MaintenanceWindow struct {
	Service, Provider, Component, Title string
	// End is zero when the provider announced none: the calendar decides
	// (e.g. until the provider's status returns to operational).
	Start, End time.Time
}

// Announcer lists the provider maintenances that are announced and not yet
// ended.
type Announcer interface {
	MaintenanceWindows(now time.Time) []MaintenanceWindow
}

// Announcements connects the collector that learns of provider maintenance
// (cloud) with the one that turns it into planned stops (maintenance)
// without either importing the other. One is shared by the collectors of a
// Set; the running announcer registers itself while it runs.
type Announcements struct {
	current atomic.Pointer[announcerBox]
}

type announcerBox struct{ a Announcer }

// Serve makes a the current announcer until the returned function is
// called; a newer announcer that took over meanwhile is left in place.
func (n *Announcements) Serve(a Announcer) (stop func()) {
	box := &announcerBox{a: a}
	n.current.Store(box)
	return func() { n.current.CompareAndSwap(box, nil) }
}

// Windows returns what the current announcer lists, or nothing when none
// runs.
func (n *Announcements) Windows(now time.Time) []MaintenanceWindow {
	if n == nil {
		return nil
	}
	if box := n.current.Load(); box != nil {
		return box.a.MaintenanceWindows(now)
	}
	return nil
}
