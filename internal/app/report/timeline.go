package report

import (
	"math"
	"time"
)

// State is what one minute of one service was.
type State uint8

const (
	// Gap: no sample of any critical check from any exporter instance
	// (監視欠測): neither up nor down.
	Gap State = iota
	// Up: at least one instance saw every critical check succeed.
	Up
	// Down: every instance that reported saw a critical check fail.
	Down
	// Maintenance: a planned stop (計画停止) was active; the minute leaves
	// the availability figures whatever the checks said.
	Maintenance
)

// timeline is one service's minutes over the query grid.
type timeline struct {
	service string
	states  []State
	// exempt marks down minutes covered by an agreed exemption.
	exempt []bool
}

// classify builds the timeline from the minute values of the service_up
// expression (NaN when no sample) and of the maintenance expression.
func classify(service string, up, maint []float64) *timeline {
	tl := &timeline{service: service, states: make([]State, len(up)), exempt: make([]bool, len(up))}
	for i := range up {
		switch {
		case maint != nil && maint[i] >= 1:
			tl.states[i] = Maintenance
		case math.IsNaN(up[i]):
			tl.states[i] = Gap
		case up[i] >= 1:
			tl.states[i] = Up
		default:
			tl.states[i] = Down
		}
	}
	return tl
}

// Outage is one unplanned stop of a service: down minutes, where downs
// separated by less than the merge window are one outage.
type Outage struct {
	ID      string
	Service string
	// Start is the first down minute; End the end of the last one.
	Start, End time.Time
	// Down counts the down minutes (the merged recoveries are not down).
	Down int
	// Exempt counts the down minutes covered by exemptions.
	Exempt int
	// Exemptions are the ids of the exemptions that covered it.
	Exemptions []string
	// Category is the exemption category, when exempted.
	Category string
	// Responsible lists the responsible parties of the alerts that fired
	// for the service during the outage.
	Responsible []string
	// StartedBefore tells that the outage was already going on when the
	// data of the query began, so its true start is earlier.
	StartedBefore bool
	// OngoingAtEnd tells that it was still going on at the end of the
	// month; End is then the month's end.
	OngoingAtEnd bool

	first, last int // minute indexes in the grid
}

// Exempted tells whether every down minute is exempt: only then does the
// outage leave the contractual count.
func (o *Outage) Exempted() bool { return o.Down > 0 && o.Exempt == o.Down }

// PartlyExempted tells whether some but not all down minutes are exempt.
func (o *Outage) PartlyExempted() bool { return o.Exempt > 0 && o.Exempt < o.Down }

// outages finds the outages of a timeline; merge is in minutes.
func (tl *timeline) outages(g Grid, merge int) []*Outage {
	var out []*Outage
	var cur *Outage
	for i, s := range tl.states {
		if s != Down {
			continue
		}
		if cur != nil && i-cur.last-1 < merge {
			cur.last = i
			cur.Down++
			continue
		}
		cur = &Outage{Service: tl.service, first: i, last: i, Down: 1, StartedBefore: i == 0}
		out = append(out, cur)
	}
	for _, o := range out {
		o.Start = g.At(o.first)
		o.End = g.At(o.last + 1)
		o.ID = outageID(o.Service, o.Start)
		o.OngoingAtEnd = o.last == len(tl.states)-1
	}
	return out
}

// counts sums the states over the minutes [from, to) of the grid.
type counts struct {
	Minutes, Up, Down, Maintenance, Gap, ExemptDown int
}

func (tl *timeline) count(from, to int) counts {
	c := counts{Minutes: to - from}
	for i := max(from, 0); i < to && i < len(tl.states); i++ {
		switch tl.states[i] {
		case Up:
			c.Up++
		case Down:
			c.Down++
			if tl.exempt[i] {
				c.ExemptDown++
			}
		case Maintenance:
			c.Maintenance++
		case Gap:
			c.Gap++
		}
	}
	return c
}

// Span is a stretch of time on the grid.
type Span struct {
	Service    string
	Start, End time.Time
	Minutes    int
}

// runs lists the stretches of minutes in [from, to) for which match holds.
func runs(n, from, to int, g Grid, service string, match func(i int) bool) []Span {
	var out []Span
	start := -1
	for i := from; i <= to; i++ {
		in := i < to && i < n && match(i)
		if in && start < 0 {
			start = i
		}
		if !in && start >= 0 {
			out = append(out, Span{Service: service, Start: g.At(start), End: g.At(i), Minutes: i - start})
			start = -1
		}
	}
	return out
}
