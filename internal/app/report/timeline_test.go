package report

import (
	"math"
	"reflect"
	"testing"
	"time"
)

// states builds minute values from a picture: '+' up, '-' down, 'b' a
// 瞬断 minute, 'm' planned stop, 'M' planned stop while down, '.' no data.
func states(pic string) minuteInput {
	var in minuteInput
	for _, c := range pic {
		anyUp, allUp, m := math.NaN(), math.NaN(), 0.0
		switch c {
		case '+':
			anyUp, allUp = 1, 1
		case '-':
			anyUp, allUp = 0, 0
		case 'b':
			anyUp, allUp = 1, 0
		case 'm':
			anyUp, allUp, m = 1, 1, 1
		case 'M':
			anyUp, allUp, m = 0, 0, 1
		}
		in.upAny, in.upAll, in.planned = append(in.upAny, anyUp), append(in.upAll, allUp), append(in.planned, m)
	}
	return in
}

func TestOutages(t *testing.T) {
	g := Grid{Start: jstAt(2026, 10, 1, 0, 0, 0)}
	tests := []struct {
		name          string
		pic           string
		minOut, merge int
		want          [][3]int // first, last, 停止 minutes
	}{
		{"none", "++++..mm++", 1, 5, nil},
		{"a 瞬断 is no 停止", "+b+bb+", 1, 5, nil},
		{"recovery shorter than the window merges", "+--++++-+", 1, 5, [][3]int{{1, 7, 3}}},
		{"recovery as long as the window does not", "+--+++++-+", 1, 5, [][3]int{{1, 2, 2}, {8, 8, 1}}},
		{"planned stop is not down", "+MMMM+", 1, 5, nil},
		{"interrupted only by a planned stop: one", "+--mmmmmmmm--+", 1, 5, [][3]int{{1, 12, 4}}},
		{"down into a planned stop and after it: one", "+-MMMMMMMM-+", 1, 5, [][3]int{{1, 10, 2}}},
		{"down starting in a planned stop counts at its end", "+MMM--+", 1, 5, [][3]int{{4, 5, 2}}},
		{"gap between downs counts as recovery, not down", "-...-", 1, 5, [][3]int{{0, 4, 2}}},
		{"no merge window", "-+-", 1, 0, [][3]int{{0, 0, 1}, {2, 2, 1}}},
		{"down at both ends", "-++++++-", 1, 3, [][3]int{{0, 0, 1}, {7, 7, 1}}},
		{"min outage 3: short downs are no 停止", "+--+--+", 3, 5, nil},
		{"min outage 3: counted from its first minute", "+---+-+", 3, 5, [][3]int{{1, 5, 4}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := states(tt.pic)
			g.N = len(in.upAny)
			tl := classify("mail", in)
			tl.run(tt.minOut, tt.merge)
			var got [][3]int
			for _, o := range tl.outages(g) {
				got = append(got, [3]int{o.first, o.last, o.Down})
				if !o.Start.Equal(g.At(o.first)) || !o.End.Equal(g.At(o.last+1)) {
					t.Errorf("outage %+v: times do not match its minutes", o)
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCount(t *testing.T) {
	tl := classify("mail", states("++--mm..+bM"))
	tl.exemptOn[3] = true
	tl.confirmOn[6] = true
	tl.run(1, 5)
	got := tl.count(0, len(tl.states))
	want := counts{Minutes: 11, Planned: 3, Up: 3, Blip: 1, Down: 2, Stop: 2, ExemptStop: 1, Unobserved: 2, Confirmed: 1}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestBlips(t *testing.T) {
	g := Grid{Start: jstAt(2026, 10, 1, 0, 0, 0)}
	// A 瞬断 of one minute, one of two, and the partial minutes at both
	// ends of a 停止 (not 瞬断).
	tl := classify("mail", states("+b++bb++b--b++"))
	g.N = len(tl.states)
	tl.run(1, 5)
	var got [][2]int
	for _, sp := range tl.blips(g, 0, g.N) {
		got = append(got, [2]int{g.Index(sp.Start), sp.Minutes})
	}
	if want := [][2]int{{1, 1}, {4, 2}}; !reflect.DeepEqual(got, want) {
		t.Errorf("瞬断 %v, want %v", got, want)
	}
}

func TestMonths(t *testing.T) {
	for _, tt := range []struct {
		month string
		year  time.Time
	}{
		{"2026-10", jstAt(2026, 4, 1, 0, 0, 0)},
		{"2026-04", jstAt(2026, 4, 1, 0, 0, 0)},
		{"2027-03", jstAt(2026, 4, 1, 0, 0, 0)},
		{"2027-01", jstAt(2026, 4, 1, 0, 0, 0)},
	} {
		if got := ContractYearStart(jstAt(2026, 12, 1, 0, 0, 0), time.January); !got.Equal(jstAt(2026, 1, 1, 0, 0, 0)) {
			t.Errorf("a calendar contract year starts %s", got)
		}
		m, err := ParseMonth(tt.month)
		if err != nil {
			t.Fatal(err)
		}
		if got := ContractYearStart(m, 0); !got.Equal(tt.year) {
			t.Errorf("%s: contract year starts %s, want %s", tt.month, got, tt.year)
		}
	}
	for _, bad := range []string{"2026-13", "2026/10", "", "10-2026"} {
		if _, err := ParseMonth(bad); err == nil {
			t.Errorf("ParseMonth(%q) accepted", bad)
		}
	}
	// 2026-11-01 00:30 JST is still October 31st in UTC: the previous month
	// is October in JST.
	if got := PreviousMonth(time.Date(2026, 10, 31, 15, 30, 0, 0, time.UTC)); !got.Equal(jstAt(2026, 10, 1, 0, 0, 0)) {
		t.Errorf("PreviousMonth = %s", got)
	}
	if g := NewGrid(jstAt(2026, 10, 1, 0, 0, 0), jstAt(2026, 11, 1, 0, 0, 0)); g.N != 44640 || g.Index(jstAt(2026, 9, 30, 23, 59, 30)) != -1 {
		t.Errorf("grid %+v", g)
	}
}

// BenchmarkYear: the per-service work of a March report (a contract year of
// minutes) once the answers are in: classification, outages and counts.
func BenchmarkYear(b *testing.B) {
	n := 366 * 24 * 60
	in := minuteInput{upAny: make([]float64, n), upAll: make([]float64, n), planned: make([]float64, n)}
	for i := range in.upAny {
		in.upAny[i], in.upAll[i] = 1, 1
		switch {
		case i%10007 < 7:
			in.upAny[i], in.upAll[i] = 0, 0
		case i%4001 == 0:
			in.upAny[i], in.upAll[i] = math.NaN(), math.NaN()
		case i%20011 < 60:
			in.planned[i] = 1
		}
	}
	g := Grid{Start: jstAt(2026, 4, 1, 0, 0, 0), N: n}
	b.ReportAllocs()
	for b.Loop() {
		tl := classify("mail", in)
		tl.run(1, 5)
		if len(tl.outages(g)) == 0 {
			b.Fatal("no outages")
		}
		_ = tl.count(0, n)
	}
}
