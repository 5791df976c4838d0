package maintenance

import (
	"os"
	"strings"
	"testing"
	"time"
)

var jst = time.FixedZone("JST", 9*60*60)

func at(s string) time.Time {
	t, err := ParseTime(s, jst)
	if err != nil {
		panic(err)
	}
	return t
}

func mustRule(t *testing.T, rule, start string) *Recurring {
	t.Helper()
	set, err := ParseRule(rule, at(start))
	if err != nil {
		t.Fatal(err)
	}
	return &Recurring{Rule: set}
}

func TestSchedule(t *testing.T) {
	// Every second Tuesday 02:00-04:00 JST.
	secondTuesday := func(t *testing.T, s *Schedule) {
		r := mustRule(t, "FREQ=MONTHLY;BYDAY=2TU", "2026-01-13 02:00")
		r.Duration = 2 * time.Hour
		s.AddRecurring(*r)
	}
	// The last day of every month, 23:00 to 01:00 the next day: crosses
	// midnight and the month end.
	monthEnd := func(t *testing.T, s *Schedule) {
		r := mustRule(t, "RRULE:FREQ=MONTHLY;BYMONTHDAY=-1", "2026-01-31 23:00")
		r.Duration = 2 * time.Hour
		s.AddRecurring(*r)
	}
	// Two one-off windows that overlap, and one that touches the second.
	overlapping := func(t *testing.T, s *Schedule) {
		s.AddWindow(Window{at("2026-12-01 01:00"), at("2026-12-01 03:00")})
		s.AddWindow(Window{at("2026-12-01 02:00"), at("2026-12-01 04:00")})
		s.AddWindow(Window{at("2026-12-01 04:00"), at("2026-12-01 05:00")})
		s.AddWindow(Window{at("2026-12-10T09:00:00+09:00"), at("2026-12-10T01:00:00Z")})
	}
	cases := []struct {
		name      string
		build     func(*testing.T, *Schedule)
		now       string
		active    bool
		next      string // "" for none
		activeEnd string
	}{
		{"second tuesday, before", secondTuesday, "2026-12-07 12:00", false, "2026-12-08 02:00", ""},
		{"second tuesday, first minute", secondTuesday, "2026-12-08 02:00", true, "2027-01-12 02:00", "2026-12-08 04:00"},
		{"second tuesday, last second", secondTuesday, "2026-12-08 03:59:59", true, "2027-01-12 02:00", "2026-12-08 04:00"},
		{"second tuesday, end is exclusive", secondTuesday, "2026-12-08 04:00", false, "2027-01-12 02:00", ""},
		{"second tuesday, february", secondTuesday, "2027-02-01 00:00", false, "2027-02-09 02:00", ""},
		{"month end, before midnight", monthEnd, "2026-02-28 23:30", true, "2026-03-31 23:00", "2026-03-01 01:00"},
		{"month end, after midnight", monthEnd, "2026-03-01 00:59", true, "2026-03-31 23:00", "2026-03-01 01:00"},
		{"month end, 30-day month", monthEnd, "2026-04-15 00:00", false, "2026-04-30 23:00", ""},
		{"month end, leap year", monthEnd, "2028-02-20 00:00", false, "2028-02-29 23:00", ""},
		{"overlap merged: inside the second", overlapping, "2026-12-01 03:30", true, "2026-12-10 09:00", "2026-12-01 05:00"},
		{"overlap merged: no new start at 02:00", overlapping, "2026-12-01 01:30", true, "2026-12-10 09:00", "2026-12-01 05:00"},
		{"explicit offsets", overlapping, "2026-12-10 09:59", true, "", "2026-12-10 10:00"},
		{"after everything", overlapping, "2026-12-11 00:00", false, "", ""},
		{"empty schedule", func(*testing.T, *Schedule) {}, "2026-12-11 00:00", false, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var s Schedule
			c.build(t, &s)
			now := at(c.now)
			w, active := s.Active(now)
			if active != c.active {
				t.Fatalf("Active(%s) = %v, want %v", c.now, active, c.active)
			}
			if active && !w.End.Equal(at(c.activeEnd)) {
				t.Errorf("active window ends %s, want %s", w.End.In(jst), c.activeEnd)
			}
			next, ok := s.NextStart(now)
			switch {
			case c.next == "" && ok:
				t.Errorf("NextStart(%s) = %s, want none", c.now, next.In(jst))
			case c.next != "" && (!ok || !next.Equal(at(c.next))):
				t.Errorf("NextStart(%s) = %s %v, want %s", c.now, next.In(jst), ok, c.next)
			}
		})
	}
}

func TestParseRuleErrors(t *testing.T) {
	for _, c := range []struct{ rule, want string }{
		{"FREQ=HOURLY", "more often than daily"},
		{"FREQ=MINUTELY;COUNT=3", "more often than daily"},
		{"FREQ=FORTNIGHTLY", "invalid RRULE"},
		{"BYDAY=2TU", "invalid RRULE"},
		{"FREQ=MONTHLY;BYDAY=9XX", "invalid RRULE"},
		{"FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30", "no occurrence within 400 days"},
		{"FREQ=YEARLY;UNTIL=20251231T000000Z", "no occurrence within 400 days"},
	} {
		_, err := ParseRule(c.rule, at("2026-01-01 00:00"))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseRule(%q) = %v, want an error containing %q", c.rule, err, c.want)
		}
	}
}

func TestParseTime(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Time
	}{
		{"2026-12-01 02:00", time.Date(2026, 11, 30, 17, 0, 0, 0, time.UTC)},
		{"2026-12-01T02:00:30", time.Date(2026, 11, 30, 17, 0, 30, 0, time.UTC)},
		{"2026-12-01T02:00:00+09:00", time.Date(2026, 11, 30, 17, 0, 0, 0, time.UTC)},
		{"2026-12-01T02:00:00Z", time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)},
	} {
		got, err := ParseTime(c.in, jst)
		if err != nil || !got.Equal(c.want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{"", "2026-13-01 02:00", "tomorrow", "2026-12-01"} {
		if _, err := ParseTime(in, jst); err == nil {
			t.Errorf("ParseTime(%q) accepted", in)
		}
	}
}

func TestParseICS(t *testing.T) {
	f, err := os.Open("testdata/vendor.ics")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	events, err := ParseICS(f, jst)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 3 {
		t.Fatalf("got %d events, want 3 (the cancelled one skipped)", len(events))
	}
	var s Schedule
	s.Add(events...)
	for _, c := range []struct {
		now    string
		active bool
		next   string
	}{
		// The one-off patch window crosses midnight.
		{"2026-12-08 22:00", false, "2026-12-08 23:00"},
		{"2026-12-09 01:00", true, "2026-12-15 17:00Z"},
		// The monthly window of 2026-12-08 02:00 is an EXDATE.
		{"2026-12-08 02:30", false, "2026-12-08 23:00"},
		// So is 2027-01-12 (second value of the same EXDATE).
		{"2027-01-01 00:00", false, "2027-02-09 02:00"},
		{"2026-11-10 03:00", true, "2026-12-08 23:00"},
		// The cancelled event (2026-12-01 00:00Z) is no stop.
		{"2026-12-01 10:00", false, "2026-12-08 23:00"},
		{"2026-12-16 02:30", true, "2027-02-09 02:00"},
	} {
		now := at(c.now)
		if _, active := s.Active(now); active != c.active {
			t.Errorf("Active(%s) = %v, want %v", c.now, active, c.active)
		}
		want := c.next
		var wantT time.Time
		if strings.HasSuffix(want, "Z") {
			wantT, _ = time.Parse("2006-01-02 15:04Z", want)
		} else {
			wantT = at(want)
		}
		if next, ok := s.NextStart(now); !ok || !next.Equal(wantT) {
			t.Errorf("NextStart(%s) = %s, want %s", c.now, next.In(jst), want)
		}
	}
}

func TestParseICSErrors(t *testing.T) {
	const head = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\n"
	const tail = "END:VCALENDAR\r\n"
	for _, c := range []struct{ name, body, want string }{
		{"not ics", "hello", "iCalendar"},
		{"no dtstart", "BEGIN:VEVENT\r\nUID:a@x\r\nDTEND:20261201T000000Z\r\nEND:VEVENT\r\n", "event a@x: no DTSTART"},
		{"end before start", "BEGIN:VEVENT\r\nUID:b@x\r\nDTSTART:20261201T020000Z\r\nDTEND:20261201T010000Z\r\nEND:VEVENT\r\n", "event b@x: ends at"},
		{"bad rrule", "BEGIN:VEVENT\r\nUID:c@x\r\nDTSTART:20261201T020000Z\r\nDURATION:PT1H\r\nRRULE:FREQ=SOMETIMES\r\nEND:VEVENT\r\n", "event c@x"},
		{"hourly", "BEGIN:VEVENT\r\nDTSTART:20261201T020000Z\r\nDURATION:PT1H\r\nRRULE:FREQ=HOURLY\r\nEND:VEVENT\r\n", "event #1: RRULE"},
		{"bad tzid", "BEGIN:VEVENT\r\nUID:d@x\r\nDTSTART;TZID=Mars/Olympus:20261201T020000\r\nDURATION:PT1H\r\nEND:VEVENT\r\n", "event d@x: DTSTART"},
		{"year 0 (rrule-go panicked on it)", "BEGIN:VEVENT\r\nUID:f@x\r\nDTSTART:00000101T000000\r\nDURATION:PT1H\r\nRRULE:FREQ=MONTHLY\r\nEND:VEVENT\r\n", "event f@x: DTSTART in the year 0"},
		{"bad exdate", "BEGIN:VEVENT\r\nUID:e@x\r\nDTSTART:20261201T020000Z\r\nDURATION:PT1H\r\nRRULE:FREQ=DAILY\r\nEXDATE:20261202T020000Z,nope\r\nEND:VEVENT\r\n", "event e@x: EXDATE"},
	} {
		t.Run(c.name, func(t *testing.T) {
			body := c.body
			if c.name != "not ics" {
				body = head + body + tail
			}
			_, err := ParseICS(strings.NewReader(body), jst)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
}

func FuzzParseICS(f *testing.F) {
	if b, err := os.ReadFile("testdata/vendor.ics"); err == nil {
		f.Add(string(b))
	}
	f.Add("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:20261201T020000Z\r\nDURATION:PT1H\r\nRRULE:FREQ=DAILY;COUNT=3\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, doc string) {
		events, err := ParseICS(strings.NewReader(doc), jst)
		if err != nil {
			return
		}
		var s Schedule
		s.Add(events...)
		// Whatever parsed must evaluate without a panic and consistently.
		if w, ok := s.Active(now); ok && !w.Contains(now) {
			t.Fatalf("active window %v does not contain now", w)
		}
		if next, ok := s.NextStart(now); ok && !next.After(now) {
			t.Fatalf("next start %v not after now", next)
		}
	})
}

func BenchmarkNextStart(b *testing.B) {
	var s Schedule
	for _, r := range []string{"FREQ=MONTHLY;BYDAY=2TU", "FREQ=WEEKLY;BYDAY=SU", "FREQ=DAILY"} {
		set, err := ParseRule(r, at("2020-01-01 02:00"))
		if err != nil {
			b.Fatal(err)
		}
		s.AddRecurring(Recurring{Rule: set, Duration: time.Hour})
	}
	now := at("2026-12-01 00:00")
	b.ReportAllocs()
	for b.Loop() {
		s.Active(now)
		s.NextStart(now)
	}
}

// FuzzParseRule: RRULE text from the config or a vendor's calendar, then
// evaluated the way a scrape does.
func FuzzParseRule(f *testing.F) {
	for _, s := range []string{"FREQ=MONTHLY;BYDAY=2TU", "RRULE:FREQ=MONTHLY;BYMONTHDAY=-1", "FREQ=WEEKLY;INTERVAL=2;BYDAY=SU,SA;UNTIL=20271231T000000Z", "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;COUNT=3", "FREQ=DAILY;BYSETPOS=-1"} {
		f.Add(s, "2026-01-13 02:00")
	}
	now := at("2026-12-01 00:00")
	f.Fuzz(func(t *testing.T, rule, start string) {
		st, err := ParseTime(start, jst)
		if err != nil {
			return
		}
		set, err := ParseRule(rule, st)
		if err != nil {
			return
		}
		var s Schedule
		s.AddRecurring(Recurring{Rule: set, Duration: time.Hour})
		if next, ok := s.NextStart(now); ok && !next.After(now) {
			t.Fatalf("next start %v not after now", next)
		}
		s.Active(now)
	})
}

func TestParseICSApproval(t *testing.T) {
	ev := func(extra string) string {
		return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:u1\r\nDTSTART;TZID=Asia/Tokyo:20261208T000000\r\nDTEND;TZID=Asia/Tokyo:20261208T060000\r\n" + extra + "END:VEVENT\r\nEND:VCALENDAR\r\n"
	}
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	events, err := ParseICS(strings.NewReader(ev("X-BOSAIMAIL-APPROVED-BY:三重県防災対策部\r\nX-BOSAIMAIL-APPROVED-ON:2026-11-30\r\n")), tokyo)
	if err != nil || len(events) != 1 || !events[0].Approved() || events[0].ApprovedBy != "三重県防災対策部" || events[0].ApprovedOn.Format("2006-01-02") != "2026-11-30" {
		t.Fatalf("approved event: %+v %v", events, err)
	}
	if events, err := ParseICS(strings.NewReader(ev("")), tokyo); err != nil || events[0].Approved() {
		t.Errorf("event without approval: %+v %v", events, err)
	}
	for extra, want := range map[string]string{
		"X-BOSAIMAIL-APPROVED-BY:x\r\n":                                       "needs both",
		"X-BOSAIMAIL-APPROVED-ON:2026-11-30\r\n":                              "needs both",
		"X-BOSAIMAIL-APPROVED-BY:x\r\nX-BOSAIMAIL-APPROVED-ON:30/11/2026\r\n": "want YYYY-MM-DD",
	} {
		if _, err := ParseICS(strings.NewReader(ev(extra)), tokyo); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "u1") {
			t.Errorf("%q: error %v, want %q naming the event", extra, err, want)
		}
	}
}
