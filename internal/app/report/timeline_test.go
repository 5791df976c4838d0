package report

import (
	"math"
	"reflect"
	"testing"
	"time"
)

// states builds minute values from a picture: '+' up, '-' down, 'm' planned
// stop, '.' no data.
func states(pic string) (up, maint []float64) {
	for _, c := range pic {
		u, m := math.NaN(), 0.0
		switch c {
		case '+':
			u = 1
		case '-':
			u = 0
		case 'm':
			u, m = 0, 1
		}
		up, maint = append(up, u), append(maint, m)
	}
	return up, maint
}

func TestOutages(t *testing.T) {
	g := Grid{Start: jstAt(2026, 10, 1, 0, 0, 0)}
	tests := []struct {
		name  string
		pic   string
		merge int
		want  [][3]int // first, last, down
	}{
		{"none", "++++..mm++", 5, nil},
		{"recovery shorter than the window merges", "+--++++-+", 5, [][3]int{{1, 7, 3}}},
		{"recovery as long as the window does not", "+--+++++-+", 5, [][3]int{{1, 2, 2}, {8, 8, 1}}},
		{"planned stop is not down", "+mmmm+", 5, nil},
		{"gap between downs counts as time, not down", "-...-", 5, [][3]int{{0, 4, 2}}},
		{"no merge window", "-+-", 0, [][3]int{{0, 0, 1}, {2, 2, 1}}},
		{"down at both ends", "-++++++-", 3, [][3]int{{0, 0, 1}, {7, 7, 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up, maint := states(tt.pic)
			g.N = len(up)
			tl := classify("mail", up, maint)
			var got [][3]int
			for _, o := range tl.outages(g, tt.merge) {
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
	up, maint := states("++--mm..+")
	tl := classify("mail", up, maint)
	tl.exempt[3] = true
	got := tl.count(0, len(up))
	want := counts{Minutes: 9, Up: 3, Down: 2, Maintenance: 2, Gap: 2, ExemptDown: 1}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
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
		m, err := ParseMonth(tt.month)
		if err != nil {
			t.Fatal(err)
		}
		if got := ContractYearStart(m); !got.Equal(tt.year) {
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
	up, maint := make([]float64, n), make([]float64, n)
	for i := range up {
		up[i] = 1
		switch {
		case i%10007 < 7:
			up[i] = 0
		case i%4001 == 0:
			up[i] = math.NaN()
		case i%20011 < 60:
			maint[i] = 1
		}
	}
	g := Grid{Start: jstAt(2026, 4, 1, 0, 0, 0), N: n}
	b.ReportAllocs()
	for b.Loop() {
		tl := classify("mail", up, maint)
		if len(tl.outages(g, 5)) == 0 {
			b.Fatal("no outages")
		}
		_ = tl.count(0, n)
	}
}
