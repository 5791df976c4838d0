package report

import (
	"math"
	"time"
)

// State is what one minute of one service was (docs/availability.md).
type State uint8

const (
	// Unobserved (稼働未確認): no sample of any critical check from any
	// vantage point or Prometheus replica. It counts against the
	// contractual availability unless a 稼働確認 record covers it.
	Unobserved State = iota
	// Up: at least one vantage point saw every probe of every critical
	// check succeed.
	Up
	// Blip: a probe failed but the minute was not down (a 瞬断 minute).
	Blip
	// Down: every vantage point failed a critical check all minute long.
	Down
	// Planned: an approved planned stop (計画停止) was active; the minute
	// leaves the figures whatever the checks said.
	Planned
)

// minuteInput is what Prometheus says about one minute of one service:
// upAny is 1 when some vantage point saw every critical check succeed at
// least once (0: a down minute), upAll 1 when some vantage point saw every
// probe succeed; NaN when nobody observed the minute. planned is 1 when an
// approved planned stop was active.
type minuteInput struct {
	upAny, upAll, planned []float64
}

// timeline is one service's minutes over the query grid, classified by the
// definition the recording rules implement (mixin/rules/availability.libsonnet):
// the same state machine, minute by minute, so both give the same figures.
type timeline struct {
	service string
	states  []State
	// observed inside a planned stop, for the list of planned stops.
	plannedDown []bool
	// exemptOn and confirmOn: an approved exemption / 稼働確認 record
	// covers the minute.
	exemptOn, confirmOn []bool
	// Derived by run: stop is the 停止 weight of the minute (1 for a down
	// minute of a 停止, plus minOutage-1 at a 停止's first counted minute
	// for the down minutes before it), exempt the exempted part of it.
	stop, exempt []int
	stopMinute   []bool // down minutes that belong to a 停止
	start        []bool // a 停止 is counted at this minute
	contract     []bool // a 停止 first counts against the contract here
}

// classify builds the timeline from the minute values.
func classify(service string, in minuteInput) *timeline {
	n := len(in.upAny)
	tl := &timeline{service: service, states: make([]State, n), plannedDown: make([]bool, n),
		exemptOn: make([]bool, n), confirmOn: make([]bool, n)}
	for i := 0; i < n; i++ {
		any, all := in.upAny[i], math.NaN()
		if in.upAll != nil {
			all = in.upAll[i]
		}
		if in.planned != nil && in.planned[i] >= 1 {
			tl.states[i] = Planned
			tl.plannedDown[i] = !math.IsNaN(any) && any < 1
			continue
		}
		switch {
		case math.IsNaN(any):
			tl.states[i] = Unobserved
		case any < 1:
			tl.states[i] = Down
		case all < 1:
			tl.states[i] = Blip
		default:
			tl.states[i] = Up
		}
	}
	return tl
}

// run computes the 停止 of the timeline: minOutage and merge in minutes.
// It mirrors the recording rules bosaimail:outages:* and
// bosaimail:availability:stop_minutes rule by rule.
func (tl *timeline) run(minOutage, merge int) {
	n := len(tl.states)
	tl.stop, tl.exempt = make([]int, n), make([]int, n)
	tl.stopMinute, tl.start, tl.contract = make([]bool, n), make([]bool, n), make([]bool, n)
	downRun, recovery := 0, merge
	counted, contractCounted := false, false
	for i, s := range tl.states {
		down := s == Down
		if down {
			downRun = min(downRun+1, minOutage)
		} else {
			downRun = 0
		}
		switch {
		case down:
			recovery = 0
		case s == Planned:
		default:
			recovery = min(recovery+1, merge)
		}
		start := downRun >= minOutage && !counted
		counted = downRun >= minOutage || (counted && recovery < merge)
		tl.start[i] = start
		if down && counted {
			tl.stop[i] = 1
			tl.stopMinute[i] = true
		}
		if start {
			tl.stop[i] += minOutage - 1
			for j := i - minOutage + 1; j < i; j++ {
				if j >= 0 {
					tl.stopMinute[j] = true
				}
			}
		}
		if tl.exemptOn[i] {
			tl.exempt[i] = tl.stop[i]
		}
		against := tl.stop[i] > 0 && tl.exempt[i] == 0
		tl.contract[i] = against && !contractCounted
		contractCounted = counted && (against || contractCounted)
	}
}

// Outage is one 停止 of a service.
type Outage struct {
	ID      string
	Service string
	// Start is the first down minute; End the end of the last one.
	Start, End time.Time
	// Down counts the 停止 minutes (merged recoveries and planned stops
	// in between are not).
	Down int
	// Exempt counts the 停止 minutes covered by exemptions.
	Exempt int
	// Planned counts the planned-stop minutes the 停止 ran through.
	Planned int
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
	// contract tells whether it counts against the contract (not wholly
	// exempted); set by run. contractFirst is then its first minute that
	// counts (its first 停止 minute not exempted): the contract year and
	// month of the count are those of that minute, as the recording rules
	// count bosaimail:outages:contract_start.
	contract      bool
	contractFirst int

	first, last int // minute indexes in the grid
}

// Exempted tells whether every 停止 minute is exempt: only then does the
// outage leave the contractual count.
func (o *Outage) Exempted() bool { return o.Down > 0 && !o.contract }

// countsIn tells whether the outage counts against the contract in the
// minutes [from, to) of its grid.
func (o *Outage) countsIn(from, to int) bool {
	return o.contract && o.contractFirst >= from && o.contractFirst < to
}

// PartlyExempted tells whether some but not all 停止 minutes are exempt.
func (o *Outage) PartlyExempted() bool { return o.Exempt > 0 && o.Exempt < o.Down }

// outages lists the 停止 of a timeline (after run).
func (tl *timeline) outages(g Grid) []*Outage {
	var out []*Outage
	var cur *Outage
	for i := range tl.states {
		if tl.start[i] {
			// With minOutage > 1 the 停止 began minOutage-1 minutes
			// before it was counted.
			first := i
			for first > 0 && tl.stopMinute[first-1] && (cur == nil || first-1 > cur.last) {
				first--
			}
			cur = &Outage{Service: tl.service, first: first, last: i, StartedBefore: first == 0}
			out = append(out, cur)
		}
		if cur == nil {
			continue
		}
		if tl.stopMinute[i] {
			cur.last = i
		}
		if tl.contract[i] && !cur.contract {
			cur.contract = true
			cur.contractFirst = i
		}
	}
	for _, o := range out {
		for i := o.first; i <= o.last; i++ {
			o.Down += tl.stop[i]
			o.Exempt += tl.exempt[i]
			if tl.states[i] == Planned {
				o.Planned++
			}
		}
		o.Start = g.At(o.first)
		o.End = g.At(o.last + 1)
		o.ID = outageID(o.Service, o.Start)
		o.OngoingAtEnd = o.last == len(tl.states)-1
	}
	return out
}

// counts sums the minutes [from, to) of the grid.
type counts struct {
	Minutes, Planned, Up, Blip, Down, Stop, ExemptStop, Unobserved, Confirmed int
}

func (tl *timeline) count(from, to int) counts {
	c := counts{Minutes: to - from}
	for i := max(from, 0); i < to && i < len(tl.states); i++ {
		switch tl.states[i] {
		case Up:
			c.Up++
		case Blip:
			c.Blip++
		case Down:
			c.Down++
		case Planned:
			c.Planned++
		case Unobserved:
			c.Unobserved++
			if tl.confirmOn[i] {
				c.Confirmed++
			}
		}
		if tl.stop != nil {
			c.Stop += tl.stop[i]
			c.ExemptStop += tl.exempt[i]
		}
	}
	return c
}

// observed tells whether any minute of [from, to) had data.
func (tl *timeline) observed(from, to int) bool {
	for i := max(from, 0); i < to && i < len(tl.states); i++ {
		if tl.states[i] != Unobserved {
			return true
		}
	}
	return false
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

// systemTimeline is the 対象システム: the contract services as one system
// (the recording rules' service=<contractSystemName>). A minute is a
// planned stop when every service is in one; otherwise, over the services
// outside a planned stop, it is down when any is down, unobserved when
// none is down and any is unobserved, a 瞬断 minute when any had a failed
// probe, else up. A down minute is exempt when every down service's is; an
// unobserved one confirmed when every unobserved service's is.
func systemTimeline(name string, services []*timeline) *timeline {
	if len(services) == 0 {
		return nil
	}
	n := len(services[0].states)
	tl := &timeline{service: name, states: make([]State, n), plannedDown: make([]bool, n),
		exemptOn: make([]bool, n), confirmOn: make([]bool, n)}
	for i := 0; i < n; i++ {
		planned, down, unobserved, blip := 0, 0, 0, 0
		exempt, confirmed := true, true
		for _, s := range services {
			switch s.states[i] {
			case Planned:
				planned++
			case Down:
				down++
				exempt = exempt && s.exemptOn[i]
			case Unobserved:
				unobserved++
				confirmed = confirmed && s.confirmOn[i]
			case Blip:
				blip++
			}
		}
		switch {
		case planned == len(services):
			tl.states[i] = Planned
		case down > 0:
			tl.states[i] = Down
			tl.exemptOn[i] = exempt
		case unobserved > 0:
			tl.states[i] = Unobserved
			tl.confirmOn[i] = confirmed
		case blip > 0:
			tl.states[i] = Blip
		default:
			tl.states[i] = Up
		}
	}
	return tl
}
