package maintenance

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/emersion/go-ical"
	"github.com/teambition/rrule-go"

	// TZID parameters name IANA zones; the exporter must not depend on the
	// host's zoneinfo to read them.
	_ "time/tzdata"
)

// Event is a planned stop read from an iCalendar file: one-off when Rule
// is nil, else recurring with each occurrence lasting End - Start.
type Event struct {
	UID     string
	Summary string
	Start   time.Time
	End     time.Time
	Rule    *rrule.Set
	// ApprovedBy and ApprovedOn record the customer's approval (承認者,
	// 承認日). Only an approved window is a planned stop (計画停止) that
	// excludes time and inhibits alerts; an unapproved one is only shown.
	ApprovedBy string
	ApprovedOn time.Time
}

// Approved tells whether the window carries an approval.
func (e Event) Approved() bool { return e.ApprovedBy != "" && !e.ApprovedOn.IsZero() }

// The iCalendar properties that carry the approval of a VEVENT (the
// ledger's feed of approved planned stops writes them).
const (
	PropApprovedBy = "X-BOSAIMAIL-APPROVED-BY"
	PropApprovedOn = "X-BOSAIMAIL-APPROVED-ON"
)

// ParseApprovalDate parses an approval date, YYYY-MM-DD, in loc.
func ParseApprovalDate(s string, loc *time.Location) (time.Time, error) {
	t, err := time.ParseInLocation("2006-01-02", strings.TrimSpace(s), loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("invalid approval date %q: want YYYY-MM-DD", s)
	}
	return t, nil
}

// ParseICS reads the VEVENTs of an iCalendar document (RFC 5545). Floating
// times (no TZID, no Z) are taken in loc. Cancelled events are skipped. An
// event that cannot be understood is an error naming its UID: a planned
// stop silently dropped would count as an outage. The caller bounds the
// size of r.
func ParseICS(r io.Reader, loc *time.Location) ([]Event, error) {
	cal, err := decode(r)
	if err != nil {
		return nil, fmt.Errorf("iCalendar: %v", err)
	}
	var events []Event
	for i, comp := range cal.Children {
		if comp.Name != ical.CompEvent {
			continue
		}
		e, skip, err := parseEvent(comp, loc)
		if err != nil {
			id := e.UID
			if id == "" {
				id = fmt.Sprintf("#%d", i+1)
			}
			return nil, fmt.Errorf("iCalendar event %s: %v", id, err)
		}
		if !skip {
			events = append(events, e)
		}
	}
	return events, nil
}

// decode runs go-ical's decoder, turning a panic inside it into an error:
// its content-line parser indexes past the end of some malformed lines
// (found by FuzzParseICS; the crasher is in testdata/fuzz), and a feed from
// a vendor must never take the exporter down.
func decode(r io.Reader) (cal *ical.Calendar, err error) {
	defer func() {
		if p := recover(); p != nil {
			cal, err = nil, fmt.Errorf("malformed content line (%v)", p)
		}
	}()
	return ical.NewDecoder(r).Decode()
}

func parseEvent(comp *ical.Component, loc *time.Location) (e Event, skip bool, err error) {
	ev := ical.Event{Component: comp}
	if p := comp.Props.Get(ical.PropUID); p != nil {
		e.UID = p.Value
	}
	if p := comp.Props.Get(ical.PropSummary); p != nil {
		e.Summary, _ = p.Text()
	}
	by, on := comp.Props.Get(PropApprovedBy), comp.Props.Get(PropApprovedOn)
	switch {
	case by != nil && on != nil:
		if e.ApprovedBy, err = by.Text(); err != nil || strings.TrimSpace(e.ApprovedBy) == "" {
			return e, false, fmt.Errorf("%s: empty or malformed", PropApprovedBy)
		}
		if e.ApprovedOn, err = ParseApprovalDate(on.Value, loc); err != nil {
			return e, false, fmt.Errorf("%s: %v", PropApprovedOn, err)
		}
	case by != nil || on != nil:
		return e, false, fmt.Errorf("an approval needs both %s and %s", PropApprovedBy, PropApprovedOn)
	}
	if st, err := ev.Status(); err == nil && st == ical.EventCancelled {
		return e, true, nil
	}
	if comp.Props.Get(ical.PropDateTimeStart) == nil {
		return e, false, fmt.Errorf("no DTSTART")
	}
	if e.Start, err = ev.DateTimeStart(loc); err != nil {
		return e, false, fmt.Errorf("DTSTART: %v", err)
	}
	if e.End, err = ev.DateTimeEnd(loc); err != nil {
		return e, false, fmt.Errorf("DTEND/DURATION: %v", err)
	}
	if y := e.Start.Year(); y < minYear || y > maxYear {
		return e, false, fmt.Errorf("DTSTART in the year %d; planned stops are between %d and %d", y, minYear, maxYear)
	}
	if !e.End.After(e.Start) {
		return e, false, fmt.Errorf("ends at %s, not after its start %s", e.End.Format(time.RFC3339), e.Start.Format(time.RFC3339))
	}
	rp := comp.Props.Get(ical.PropRecurrenceRule)
	if rp == nil {
		return e, false, nil
	}
	if e.Rule, err = ParseRule(rp.Value, e.Start); err != nil {
		return e, false, err
	}
	// go-ical's own RecurrenceSet adds EXDATEs as RDATEs; read both here.
	// A property may carry several comma-separated values.
	for _, name := range []string{ical.PropExceptionDates, ical.PropRecurrenceDates} {
		for _, p := range comp.Props.Values(name) {
			for _, v := range strings.Split(p.Value, ",") {
				one := p
				one.Value = v
				t, err := one.DateTime(loc)
				if err != nil {
					return e, false, fmt.Errorf("%s: %v", name, err)
				}
				if name == ical.PropExceptionDates {
					e.Rule.ExDate(t)
				} else {
					e.Rule.RDate(t)
				}
			}
		}
	}
	return e, false, nil
}
