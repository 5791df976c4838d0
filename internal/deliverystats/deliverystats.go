// Package deliverystats maps the mail service's delivery-statistics JSON
// into broadcasts, with jq expressions (gojq, the config's one expression
// language) so any service's field names fit without code.
package deliverystats

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/itchyny/gojq"
)

// Mapping locates the broadcasts and their fields. Broadcasts yields each
// broadcast object; the field expressions run on one such object. A nil
// optional expression (Deferred, Bounced, Complaints, Finished) means the
// service does not report it.
type Mapping struct {
	Broadcasts *gojq.Code
	ID         *gojq.Code
	Total      *gojq.Code
	Delivered  *gojq.Code
	Deferred   *gojq.Code
	Bounced    *gojq.Code
	Complaints *gojq.Code
	Started    *gojq.Code
	Finished   *gojq.Code
}

// Broadcast is one broadcast (one alert mail to every registered address).
type Broadcast struct {
	ID         string
	Total      float64
	Delivered  float64
	Deferred   float64
	Bounced    float64
	Complaints float64
	Started    time.Time
	// Finished is zero while the broadcast is still being delivered.
	Finished time.Time
}

// Queued is the recipients not yet attempted: what is neither delivered,
// deferred nor bounced. A lagging statistics API can briefly report more
// outcomes than recipients; that is not negative work left.
func (b Broadcast) Queued() float64 {
	return math.Max(0, b.Total-b.Delivered-b.Deferred-b.Bounced)
}

// MaxIDBytes bounds a broadcast id (it becomes a label value).
const MaxIDBytes = 128

// maxBroadcasts bounds how many broadcasts one document may list.
const maxBroadcasts = 100000

// Decode maps one statistics document. Errors name the broadcast (index and
// id when known) and the field.
func Decode(body []byte, m *Mapping) ([]Broadcast, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("statistics are not JSON: %v", err)
	}
	doc = normalize(doc)
	var out []Broadcast
	iter := m.Broadcasts.Run(doc)
	for i := 0; ; i++ {
		v, ok := iter.Next()
		if !ok {
			break
		}
		if err, ok := v.(error); ok {
			return nil, fmt.Errorf("broadcasts expression: %v", err)
		}
		if i >= maxBroadcasts {
			return nil, fmt.Errorf("more than %d broadcasts", maxBroadcasts)
		}
		b, err := decodeOne(v, m)
		if err != nil {
			where := fmt.Sprintf("broadcast %d", i)
			if b.ID != "" {
				where += fmt.Sprintf(" (%q)", b.ID)
			}
			return nil, fmt.Errorf("%s: %v", where, err)
		}
		out = append(out, b)
	}
	return out, nil
}

func decodeOne(v any, m *Mapping) (Broadcast, error) {
	var b Broadcast
	id, err := first(m.ID, v)
	if err != nil {
		return b, fmt.Errorf("id: %v", err)
	}
	switch x := id.(type) {
	case string:
		b.ID = x
	case float64:
		b.ID = strconv.FormatFloat(x, 'f', -1, 64)
	case int:
		b.ID = strconv.Itoa(x)
	default:
		return b, fmt.Errorf("id: want a string or number, got %s", describe(id))
	}
	if b.ID == "" || len(b.ID) > MaxIDBytes || !validLabel(b.ID) {
		return b, fmt.Errorf("id %q: want 1 to %d printable bytes", truncate(b.ID), MaxIDBytes)
	}
	counts := []struct {
		name     string
		code     *gojq.Code
		dst      *float64
		required bool
	}{
		{"total", m.Total, &b.Total, true},
		{"delivered", m.Delivered, &b.Delivered, true},
		{"deferred", m.Deferred, &b.Deferred, false},
		{"bounced", m.Bounced, &b.Bounced, false},
		{"complaints", m.Complaints, &b.Complaints, false},
	}
	for _, c := range counts {
		if c.code == nil {
			continue
		}
		x, err := first(c.code, v)
		if err != nil {
			return b, fmt.Errorf("%s: %v", c.name, err)
		}
		if x == nil && !c.required {
			continue
		}
		n, err := number(x)
		if err != nil {
			return b, fmt.Errorf("%s: %v", c.name, err)
		}
		if n < 0 {
			return b, fmt.Errorf("%s: %v is negative", c.name, n)
		}
		*c.dst = n
	}
	times := []struct {
		name     string
		code     *gojq.Code
		dst      *time.Time
		required bool
	}{
		{"started", m.Started, &b.Started, true},
		{"finished", m.Finished, &b.Finished, false},
	}
	for _, c := range times {
		if c.code == nil {
			continue
		}
		x, err := first(c.code, v)
		if err != nil {
			return b, fmt.Errorf("%s: %v", c.name, err)
		}
		if x == nil || x == "" {
			if c.required {
				return b, fmt.Errorf("%s: missing", c.name)
			}
			continue
		}
		t, err := timestamp(x)
		if err != nil {
			return b, fmt.Errorf("%s: %v", c.name, err)
		}
		*c.dst = t
	}
	if !b.Finished.IsZero() && b.Finished.Before(b.Started) {
		return b, fmt.Errorf("finished %s is before started %s", b.Finished.Format(time.RFC3339), b.Started.Format(time.RFC3339))
	}
	return b, nil
}

// Latest returns the n most recently started broadcasts, newest first, so
// the label set stays bounded however long the service's history is.
func Latest(bs []Broadcast, n int) []Broadcast {
	out := append([]Broadcast(nil), bs...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Started.After(out[j].Started) })
	seen := map[string]bool{}
	kept := out[:0]
	for _, b := range out {
		if seen[b.ID] {
			continue
		}
		seen[b.ID] = true
		kept = append(kept, b)
	}
	if len(kept) > n {
		kept = kept[:n]
	}
	return kept
}

func first(code *gojq.Code, v any) (any, error) {
	iter := code.Run(v)
	x, ok := iter.Next()
	if !ok {
		return nil, nil
	}
	if err, ok := x.(error); ok {
		return nil, err
	}
	return x, nil
}

func number(x any) (float64, error) {
	switch n := x.(type) {
	case float64:
		if math.IsNaN(n) || math.IsInf(n, 0) {
			return 0, fmt.Errorf("%v is not a count", n)
		}
		return n, nil
	case int:
		return float64(n), nil
	case string:
		// Some services send counts as strings.
		f, err := strconv.ParseFloat(strings.TrimSpace(n), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, fmt.Errorf("%q is not a number", truncate(n))
		}
		return f, nil
	}
	return 0, fmt.Errorf("want a number, got %s", describe(x))
}

// timestamp accepts Unix seconds (or milliseconds, told apart by size) and
// RFC 3339 text; a zone-less "2025-09-01 10:00:00" is read in Asia/Tokyo,
// where the service runs.
func timestamp(x any) (time.Time, error) {
	switch v := x.(type) {
	case float64, int:
		f, _ := number(v)
		if f <= 0 {
			return time.Time{}, fmt.Errorf("%v is not a Unix time", f)
		}
		if f > 1e11 {
			f /= 1000
		}
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(frac*1e9)), nil
	case string:
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			return t, nil
		}
		for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006/01/02 15:04:05"} {
			if t, err := time.ParseInLocation(layout, v, tokyo); err == nil {
				return t, nil
			}
		}
		return time.Time{}, fmt.Errorf("%q is neither RFC 3339 nor a Unix time", truncate(v))
	}
	return time.Time{}, fmt.Errorf("want a time, got %s", describe(x))
}

var tokyo = time.FixedZone("JST", 9*3600)

// normalize turns json.Number into float64 (gojq works on float64 and int).
func normalize(v any) any {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return x.String()
		}
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = normalize(e)
		}
	case []any:
		for i, e := range x {
			x[i] = normalize(e)
		}
	}
	return v
}

func describe(x any) string {
	switch x.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	}
	return fmt.Sprintf("%T", x)
}

func validLabel(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == 0xfffd {
			return false
		}
	}
	return true
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// Fields are the jq sources of a Mapping, as written in the config.
type Fields struct {
	Broadcasts string `yaml:"broadcasts"`
	ID         string `yaml:"id"`
	Total      string `yaml:"total"`
	Delivered  string `yaml:"delivered"`
	Deferred   string `yaml:"deferred"`
	Bounced    string `yaml:"bounced"`
	Complaints string `yaml:"complaints"`
	Started    string `yaml:"started"`
	Finished   string `yaml:"finished"`
}

// DefaultFields match the simulator's API and docs/delivery.md.
var DefaultFields = Fields{
	Broadcasts: ".broadcasts[]",
	ID:         ".id",
	Total:      ".recipients_total",
	Delivered:  ".delivered",
	Deferred:   ".deferred",
	Bounced:    ".bounced",
	Complaints: ".complaints",
	Started:    ".started_at",
	Finished:   ".finished_at",
}

// Each calls fn for every field with its name, source and destination in
// m, so a caller can compile them with its own error reporting.
func (f *Fields) Each(m *Mapping, fn func(name string, src *string, dst **gojq.Code)) {
	fn("broadcasts", &f.Broadcasts, &m.Broadcasts)
	fn("id", &f.ID, &m.ID)
	fn("total", &f.Total, &m.Total)
	fn("delivered", &f.Delivered, &m.Delivered)
	fn("deferred", &f.Deferred, &m.Deferred)
	fn("bounced", &f.Bounced, &m.Bounced)
	fn("complaints", &f.Complaints, &m.Complaints)
	fn("started", &f.Started, &m.Started)
	fn("finished", &f.Finished, &m.Finished)
}

// FillDefaults sets every empty field to its DefaultFields expression.
func (f *Fields) FillDefaults() {
	d := DefaultFields
	var unused Mapping
	var defs []string
	d.Each(&unused, func(_ string, src *string, _ **gojq.Code) { defs = append(defs, *src) })
	i := 0
	f.Each(&unused, func(_ string, src *string, _ **gojq.Code) {
		if *src == "" {
			*src = defs[i]
		}
		i++
	})
}
