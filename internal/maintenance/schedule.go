// Package maintenance evaluates planned-stop calendars: one-off windows,
// recurring windows (RFC 5545 RRULE) and iCalendar events. It answers the
// two questions the exporter asks every scrape: is a service in a planned
// stop now, and when does its next one start. It knows nothing of
// Prometheus or of the config file format.
package maintenance

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/teambition/rrule-go"
)

// Horizon bounds how far ahead NextStart looks; a planned stop more than a
// year away is of no use to an alert or a report.
const Horizon = 400 * 24 * time.Hour

// maxIterations bounds the occurrences of one recurring window walked in one
// query (from the rule's start), so a daily rule that began decades ago or a
// hostile calendar cannot make a scrape slow.
const maxIterations = 50000

// Years a planned stop may fall in; anything else is a typo (or a fuzzer).
const (
	minYear = 1970
	maxYear = 2200
)

// Window is one planned stop, [Start, End).
type Window struct {
	Start, End time.Time
}

// Contains reports whether t is inside the window.
func (w Window) Contains(t time.Time) bool { return !t.Before(w.Start) && t.Before(w.End) }

// Recurring is a window that repeats: each occurrence starts at a time of
// the rule set and lasts Duration.
type Recurring struct {
	Rule     *rrule.Set
	Duration time.Duration
}

// Schedule is the planned stops of one service.
type Schedule struct {
	windows   []Window
	recurring []Recurring
	maxDur    time.Duration
}

// AddWindow adds a one-off window.
func (s *Schedule) AddWindow(w Window) {
	s.windows = append(s.windows, w)
	if d := w.End.Sub(w.Start); d > s.maxDur {
		s.maxDur = d
	}
}

// AddRecurring adds a recurring window.
func (s *Schedule) AddRecurring(r Recurring) {
	s.recurring = append(s.recurring, r)
	if r.Duration > s.maxDur {
		s.maxDur = r.Duration
	}
}

// Add adds one-off or recurring windows from parsed calendar events.
func (s *Schedule) Add(events ...Event) {
	for _, e := range events {
		if e.Rule != nil {
			s.AddRecurring(Recurring{Rule: e.Rule, Duration: e.End.Sub(e.Start)})
		} else {
			s.AddWindow(Window{Start: e.Start, End: e.End})
		}
	}
}

// Empty reports whether the schedule has no windows at all.
func (s *Schedule) Empty() bool { return len(s.windows) == 0 && len(s.recurring) == 0 }

// Windows returns the windows overlapping [from, to), overlapping and
// touching ones merged, sorted by start. Merging matters: a stop that begins
// inside another is no new start, and back-to-back stops are one.
func (s *Schedule) Windows(from, to time.Time) []Window {
	var ws []Window
	for _, w := range s.windows {
		if w.End.After(from) && w.Start.Before(to) {
			ws = append(ws, w)
		}
	}
	for _, r := range s.recurring {
		// An occurrence that started up to Duration before from still covers it.
		ws = r.occurrences(ws, from, to)
	}
	sort.Slice(ws, func(i, j int) bool { return ws[i].Start.Before(ws[j].Start) })
	merged := ws[:0]
	for _, w := range ws {
		if k := len(merged) - 1; k >= 0 && !w.Start.After(merged[k].End) {
			if w.End.After(merged[k].End) {
				merged[k].End = w.End
			}
			continue
		}
		merged = append(merged, w)
	}
	return merged
}

// occurrences appends the rule's windows overlapping [from, to). A panic
// inside rrule-go ends this rule's occurrences instead of the scrape.
func (r Recurring) occurrences(ws []Window, from, to time.Time) (out []Window) {
	out = ws
	defer func() {
		if recover() != nil {
			out = ws
		}
	}()
	it := r.Rule.Iterator()
	for n := 0; n < maxIterations; n++ {
		t, ok := it()
		if !ok || !t.Before(to) {
			break
		}
		if t.Add(r.Duration).After(from) {
			out = append(out, Window{Start: t, End: t.Add(r.Duration)})
		}
	}
	return out
}

// Active returns the (merged) window covering now, if any, with its end
// extended over every window chained to it.
func (s *Schedule) Active(now time.Time) (Window, bool) {
	to := now.Add(s.maxDur + time.Nanosecond)
	for range 100 {
		var cur Window
		found := false
		for _, w := range s.Windows(now.Add(-s.maxDur), to) {
			if w.Contains(now) {
				cur, found = w, true
				break
			}
		}
		if !found {
			return Window{}, false
		}
		if cur.End.Before(to) {
			return cur, true
		}
		// The chain may go on past the query: look further.
		to = cur.End.Add(s.maxDur + time.Nanosecond)
		if found && s.maxDur == 0 {
			return cur, true
		}
	}
	return Window{}, false
}

// NextStart returns the start of the first planned stop that begins after
// now (a stop in progress is not "next"), looking at most Horizon ahead.
func (s *Schedule) NextStart(now time.Time) (time.Time, bool) {
	for _, w := range s.Windows(now.Add(-s.maxDur), now.Add(Horizon)) {
		if w.Start.After(now) {
			return w.Start, true
		}
	}
	return time.Time{}, false
}

// ParseRule parses an RRULE value ("FREQ=MONTHLY;BYDAY=2TU", an optional
// "RRULE:" prefix allowed) starting at dtstart. Rules more frequent than
// daily are refused: a planned stop every hour is a mistake in the config.
func ParseRule(value string, dtstart time.Time) (set *rrule.Set, err error) {
	value = strings.TrimPrefix(strings.TrimSpace(value), "RRULE:")
	if y := dtstart.Year(); y < minYear || y > maxYear {
		return nil, fmt.Errorf("RRULE %q starts in the year %d; planned stops are between %d and %d", value, y, minYear, maxYear)
	}
	// rrule-go panics on some rules (found by fuzzing, e.g. starts in the
	// year 0); a calendar must not take the exporter down.
	defer func() {
		if p := recover(); p != nil {
			set, err = nil, fmt.Errorf("RRULE %q cannot be evaluated (%v)", value, p)
		}
	}()
	opt, err := rrule.StrToROptionInLocation(value, dtstart.Location())
	if err != nil {
		return nil, fmt.Errorf("invalid RRULE %q: %v", value, err)
	}
	if opt.Freq > rrule.DAILY {
		return nil, fmt.Errorf("RRULE %q repeats more often than daily", value)
	}
	opt.Dtstart = dtstart
	r, err := rrule.NewRRule(*opt)
	if err != nil {
		return nil, fmt.Errorf("invalid RRULE %q: %v", value, err)
	}
	set = &rrule.Set{}
	set.RRule(r)
	// A rule that never matches (FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30) makes
	// rrule-go search up to the year 9999 on every query, about 150 ms: pay
	// that once here and refuse it.
	if first := set.After(dtstart, true); first.IsZero() || first.Sub(dtstart) > Horizon {
		return nil, fmt.Errorf("RRULE %q has no occurrence within 400 days of its start %s", value, dtstart.Format(time.RFC3339))
	}
	return set, nil
}

// timeLayouts are the local-time forms accepted besides RFC 3339.
var timeLayouts = []string{
	"2006-01-02 15:04",
	"2006-01-02 15:04:05",
	"2006-01-02T15:04",
	"2006-01-02T15:04:05",
}

// ParseTime accepts RFC 3339 with an explicit offset ("2026-12-01T02:00:00+09:00")
// or a local time without one ("2026-12-01 02:00"), taken in loc.
func ParseTime(s string, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, l := range timeLayouts {
		if t, err := time.ParseInLocation(l, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid time %q: want 2006-01-02 15:04 (local) or RFC 3339 with an offset", s)
}
