package examples

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// Japanese national holidays (内閣府「国民の祝日」) in the office-hours routing
// of the Alertmanager example. The dates come from the maintained dataset
// @holiday-jp/holiday_jp (npm, pinned in mk/holidays.mk); `make
// alertmanager-holidays` extracts the years below into holidays.json and
// rewrites the generated block of alertmanager.yml from it.
var holidaysJS = flag.String("holidays.js", "", "lib/holidays.js of the @holiday-jp/holiday_jp package: rewrite holidays.json and the block in alertmanager.yml")

const (
	holidaysJSON      = "alertmanager/holidays.json"
	amConfigFile      = "alertmanager/alertmanager.yml"
	holidaysFirstYear = 2026
	holidaysLastYear  = 2031
	beginMarker       = "  # BEGIN generated jp-holidays"
	endMarker         = "  # END generated jp-holidays"
)

// holidayFile is holidays.json: the dataset's dates and names for the years
// the example covers, with where they came from.
type holidayFile struct {
	Source   string            `json:"source"`
	Holidays map[string]string `json:"holidays"`
}

var holidayJSRE = regexp.MustCompile(`(?s)date: "(\d{4}-\d{2}-\d{2})",.*?name: "([^"]+)"`)

// parseHolidaysJS reads the dataset's lib/holidays.js: an object literal
// of {date, week, week_en, name, name_en} per holiday.
func parseHolidaysJS(src string) (map[string]string, error) {
	out := map[string]string{}
	for _, m := range holidayJSRE.FindAllStringSubmatch(src, -1) {
		if _, err := time.Parse(time.DateOnly, m[1]); err != nil {
			return nil, fmt.Errorf("holidays.js: bad date %q", m[1])
		}
		out[m[1]] = m[2]
	}
	if len(out) < 100 {
		return nil, fmt.Errorf("holidays.js: only %d holidays found; has the dataset's format changed?", len(out))
	}
	return out, nil
}

// holidayBlock renders the time interval of the holidays, one line a day.
func holidayBlock(f holidayFile) string {
	dates := make([]string, 0, len(f.Holidays))
	for d := range f.Holidays {
		dates = append(dates, d)
	}
	sort.Strings(dates)
	var b strings.Builder
	b.WriteString(beginMarker + ` (make alertmanager-holidays; do not edit)
  # National holidays from ` + f.Source + `.
  - name: jp-holidays
    time_intervals:
`)
	for _, d := range dates {
		t, _ := time.Parse(time.DateOnly, d)
		fmt.Fprintf(&b, "      - {years: [\"%d\"], months: [\"%s\"], days_of_month: [\"%d\"], location: Asia/Tokyo}  # %s %s\n",
			t.Year(), strings.ToLower(t.Month().String()), t.Day(), d, f.Holidays[d])
	}
	b.WriteString(endMarker + "\n")
	return b.String()
}

func replaceBlock(config, block string) (string, error) {
	i := strings.Index(config, beginMarker)
	j := strings.Index(config, endMarker)
	if i < 0 || j < i {
		return "", fmt.Errorf("%s: no generated block between %q and %q", amConfigFile, beginMarker, endMarker)
	}
	return config[:i] + block + config[j+len(endMarker)+1:], nil
}

func TestHolidayIntervals(t *testing.T) {
	if *holidaysJS != "" {
		src, err := os.ReadFile(*holidaysJS)
		if err != nil {
			t.Fatal(err)
		}
		all, err := parseHolidaysJS(string(src))
		if err != nil {
			t.Fatal(err)
		}
		f := holidayFile{Source: os.Getenv("HOLIDAYS_SOURCE"), Holidays: map[string]string{}}
		if f.Source == "" {
			t.Fatal("HOLIDAYS_SOURCE (package@version) is required with -holidays.js")
		}
		for d, name := range all {
			if y := d[:4]; y >= fmt.Sprint(holidaysFirstYear) && y <= fmt.Sprint(holidaysLastYear) {
				f.Holidays[d] = name
			}
		}
		b, err := json.MarshalIndent(f, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(holidaysJSON, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, err := os.ReadFile(amConfigFile)
		if err != nil {
			t.Fatal(err)
		}
		out, err := replaceBlock(string(cfg), holidayBlock(f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(amConfigFile, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	b, err := os.ReadFile(holidaysJSON)
	if err != nil {
		t.Fatal(err)
	}
	var f holidayFile
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("%s: %v", holidaysJSON, err)
	}
	cfg, err := os.ReadFile(amConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	want, err := replaceBlock(string(cfg), holidayBlock(f))
	if err != nil {
		t.Fatal(err)
	}
	if want != string(cfg) {
		t.Fatalf("the jp-holidays block of %s differs from %s: run make alertmanager-holidays", amConfigFile, holidaysJSON)
	}

	// The configuration as Alertmanager reads it: the interval holds the
	// known holidays of every covered year, and the planning route is muted
	// on them.
	var am struct {
		TimeIntervals []struct {
			Name          string `yaml:"name"`
			TimeIntervals []struct {
				Years       []string `yaml:"years"`
				Months      []string `yaml:"months"`
				DaysOfMonth []string `yaml:"days_of_month"`
				Location    string   `yaml:"location"`
			} `yaml:"time_intervals"`
		} `yaml:"time_intervals"`
	}
	if err := yaml.Unmarshal(cfg, &am); err != nil {
		t.Fatal(err)
	}
	has := map[string]bool{}
	for _, ti := range am.TimeIntervals {
		if ti.Name != "jp-holidays" {
			continue
		}
		for _, iv := range ti.TimeIntervals {
			if iv.Location != "Asia/Tokyo" || len(iv.Years) != 1 || len(iv.Months) != 1 || len(iv.DaysOfMonth) != 1 {
				t.Fatalf("jp-holidays: entry %+v is not one day in Asia/Tokyo", iv)
			}
			m, err := time.Parse("January", strings.ToUpper(iv.Months[0][:1])+iv.Months[0][1:])
			if err != nil {
				t.Fatal(err)
			}
			day, err := strconv.Atoi(iv.DaysOfMonth[0])
			if err != nil {
				t.Fatal(err)
			}
			has[fmt.Sprintf("%s-%02d-%02d", iv.Years[0], int(m.Month()), day)] = true
		}
	}
	for d, name := range map[string]string{
		"2027-01-11": "成人の日",        // second Monday of January
		"2026-09-22": "休日",          // the day between two holidays (国民の休日)
		"2027-03-21": "春分の日",        // from the almanac, not a fixed date
		"2030-05-06": "こどもの日 振替休日",  // substitute holiday for 5/5 on a Sunday
		"2031-11-24": "勤労感謝の日 振替休日", // last covered year
	} {
		if !has[d] {
			t.Errorf("jp-holidays has no %s (%s)", d, name)
		}
	}
	for y := holidaysFirstYear; y <= holidaysLastYear; y++ {
		n := 0
		for d := range has {
			if strings.HasPrefix(d, fmt.Sprint(y)) {
				n++
			}
		}
		if n < 15 {
			t.Errorf("jp-holidays: %d holidays in %d, want at least 15 (the 16 national holidays, give or take substitutes)", n, y)
		}
	}
	if !regexp.MustCompile(`mute_time_intervals: \[jp-holidays, year-end\]`).Match(cfg) {
		t.Error("the office-hours route does not mute jp-holidays and year-end")
	}
}
