// Package exemption reads the file of agreed exemptions (免責): outages that
// the contract's 免責条件 keep out of the contractual availability and
// outage count, because the contractor is not responsible for them (carrier
// faults, natural disasters, third-party attacks).
//
// The file is decoded strictly (an unknown key or a wrong type is an error)
// and every problem names the file, line and key, as the exporter's own
// configuration does.
package exemption

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/bosaimail/bosaimail_exporter/config"
)

// MaxFileBytes bounds the exemption file; a larger one is surely a mistake.
const MaxFileBytes = 4 << 20

// Categories are the exemption categories, each tied to the clause of the
// contract's 免責条件 (第5 2) that allows it.
var Categories = map[string]string{
	"通信回線障害":     "免責条件(1) 受託者によらない通信回線の故障・障害",
	"ソフトウェア等の障害": "免責条件(1) 受託者によらないソフトウェア等の故障・障害",
	"自然災害":       "免責条件(2) 地震・風水害等の自然災害による被災",
	"火災":         "免責条件(2) 受託者によらない失火・近隣火災からの延焼",
	"第三者による妨害":   "免責条件(3) 第三者による妨害・破壊行為",
	"地域紛争・動乱":    "免責条件(3) 地域紛争・動乱の発生",
}

// File is the exemption file: exemptions (免責) and 稼働確認 records.
type File struct {
	Exemptions []Exemption `yaml:"exemptions"`
	// Confirmations are 稼働確認 records: evidence (provider logs,
	// delivery logs) that the service ran during time nobody monitored, so
	// that 稼働未確認 time does not count against the contract.
	Confirmations []Confirmation `yaml:"confirmations"`

	// Path is where the file was read from, for messages.
	Path string `yaml:"-"`
}

// Exemption is one agreed exemption. It names either an outage by the id the
// report gives it (障害一覧の障害ID), or a time range (optionally limited to
// one service); every down minute it covers leaves the contractual figures.
type Exemption struct {
	// ID is the exemption's own reference, e.g. the approval number.
	ID string `yaml:"id"`
	// Incident is an outage id from the report, e.g. "mail-20261012-0310".
	Incident string `yaml:"incident"`
	// Service limits a time range to one service; empty means every service.
	Service string `yaml:"service"`
	Start   Time   `yaml:"start"`
	End     Time   `yaml:"end"`
	// Category is one of Categories.
	Category string `yaml:"category"`
	Reason   string `yaml:"reason"`
	// ApprovedBy and ApprovedOn record the customer's approval: an exemption
	// counts only once it was agreed.
	ApprovedBy string `yaml:"approved_by"`
	ApprovedOn Date   `yaml:"approved_on"`

	// Line is the line of the entry in the file, for messages.
	Line int `yaml:"-"`
}

// Confirmation is one approved 稼働確認 record over a time range of a
// service (every service when Service is empty).
type Confirmation struct {
	ID      string `yaml:"id"`
	Service string `yaml:"service"`
	Start   Time   `yaml:"start"`
	End     Time   `yaml:"end"`
	// Evidence says what shows the service ran (e.g. the delivery log).
	Evidence   string `yaml:"evidence"`
	ApprovedBy string `yaml:"approved_by"`
	ApprovedOn Date   `yaml:"approved_on"`

	Line int `yaml:"-"`
}

// Where names the entry in messages: "file:line (id)".
func (c *Confirmation) Where(file string) string {
	return fmt.Sprintf("%s:%d (%s)", file, c.Line, c.ID)
}

// Covers tells whether the record or exemption range applies to service at t.
func covers(svc string, start, end Time, service string, t time.Time) bool {
	return (svc == "" || svc == service) && !t.Before(start.Time) && t.Before(end.Time)
}

// ConfirmedAt tells whether an approved 稼働確認 record covers service at t.
func (f *File) ConfirmedAt(service string, t time.Time) bool {
	for _, c := range f.Confirmations {
		if covers(c.Service, c.Start, c.End, service, t) {
			return true
		}
	}
	return false
}

// ExemptAt tells whether a time-range exemption covers service at t.
// Exemptions that name an outage id are applied by the report only: the
// exporter cannot know where that outage ends.
func (f *File) ExemptAt(service string, t time.Time) bool {
	for _, e := range f.Exemptions {
		if e.Incident == "" && covers(e.Service, e.Start, e.End, service, t) {
			return true
		}
	}
	return false
}

// Where names the entry in messages: "file:line (id)".
func (e *Exemption) Where(file string) string {
	return fmt.Sprintf("%s:%d (%s)", file, e.Line, e.ID)
}

// Time is an instant: RFC 3339 ("2026-10-12T03:10:00+09:00") or a JST
// wall-clock time ("2026-10-12 03:10"), the form operators write.
type Time struct{ time.Time }

var timeLayouts = []string{"2006-01-02 15:04", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02T15:04:05"}

// UnmarshalYAML parses the time; the error names the line.
func (t *Time) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: expected a time such as \"2026-10-12 03:10\" (JST) or RFC 3339", n.Line)
	}
	parsed, err := ParseTime(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %v", n.Line, err)
	}
	t.Time = parsed
	return nil
}

// ParseTime parses RFC 3339 or a JST wall-clock time.
func ParseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, l := range timeLayouts {
		if t, err := time.ParseInLocation(l, s, config.Tokyo); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid time %q: want \"2026-10-12 03:10\" (JST) or RFC 3339", s)
}

// Date is a calendar day ("2026-11-05").
type Date struct{ time.Time }

// UnmarshalYAML parses the date; the error names the line.
func (d *Date) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: expected a date such as 2026-11-05", n.Line)
	}
	t, err := time.ParseInLocation("2006-01-02", n.Value, config.Tokyo)
	if err != nil {
		return fmt.Errorf("line %d: invalid date %q: want YYYY-MM-DD", n.Line, n.Value)
	}
	d.Time = t
	return nil
}

// Load reads and checks an exemption file.
func Load(path string) (*File, error) {
	data, err := config.ReadFileBounded(path, MaxFileBytes, "exemption file")
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// IncidentIDPattern is the form of the outage ids the report gives:
// service, then the JST start as YYYYMMDD-HHMM.
var IncidentIDPattern = regexp.MustCompile(`^(.+)-(\d{8}-\d{4})$`)

// Parse decodes and checks an exemption file; file names it in messages.
func Parse(file string, data []byte) (*File, error) {
	out := &File{Path: file}
	root, err := config.DecodeStrict(file, data, out)
	if err != nil {
		return nil, err
	}
	out.Path = file
	setLines(root, out)

	v := config.NewValidator(file, root)
	if len(out.Exemptions) == 0 && len(out.Confirmations) == 0 {
		v.Errorf("exemptions", "no exemptions and no confirmations: the file must list at least one (or leave out --exemptions)")
	}
	ids := make([]string, len(out.Exemptions))
	for i := range out.Exemptions {
		e := &out.Exemptions[i]
		ids[i] = e.ID
		e.validate(v, fmt.Sprintf("exemptions[%d]", i))
	}
	v.Unique("exemption id", ids, func(i int) string { return fmt.Sprintf("exemptions[%d].id", i) })
	cids := make([]string, len(out.Confirmations))
	for i := range out.Confirmations {
		c := &out.Confirmations[i]
		cids[i] = c.ID
		c.validate(v, fmt.Sprintf("confirmations[%d]", i))
	}
	v.Unique("confirmation id", cids, func(i int) string { return fmt.Sprintf("confirmations[%d].id", i) })
	if err := v.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

func (e *Exemption) validate(v *config.Validator, path string) {
	if strings.TrimSpace(e.ID) == "" {
		v.Errorf(path+".id", "missing: give the exemption a reference (e.g. its approval number)")
	}
	hasRange := !e.Start.IsZero() || !e.End.IsZero()
	switch {
	case e.Incident == "" && !hasRange:
		v.Errorf(path, "give either incident (an outage id from the report) or start and end")
	case e.Incident != "" && hasRange:
		v.Errorf(path+".incident", "give either incident or start/end, not both")
	case e.Incident != "":
		if !IncidentIDPattern.MatchString(e.Incident) {
			v.Errorf(path+".incident", "%q is not an outage id such as mail-20261012-0310", e.Incident)
		} else if _, err := IncidentStart(e.Incident); err != nil {
			v.Errorf(path+".incident", "%v", err)
		}
		if e.Service != "" {
			v.Errorf(path+".service", "not used with incident: the id names the service")
		}
	default:
		if e.Start.IsZero() {
			v.Errorf(path+".start", "missing")
		}
		if e.End.IsZero() {
			v.Errorf(path+".end", "missing")
		}
		if !e.Start.IsZero() && !e.End.IsZero() && !e.End.After(e.Start.Time) {
			v.Errorf(path+".end", "must be after start (%s)", e.Start.In(config.Tokyo).Format("2006-01-02 15:04"))
		}
	}
	if e.Category == "" {
		v.Errorf(path+".category", "missing: one of %s", categoryList())
	} else if _, ok := Categories[e.Category]; !ok {
		v.Errorf(path+".category", "unknown category %q: one of %s", e.Category, categoryList())
	}
	if strings.TrimSpace(e.Reason) == "" {
		v.Errorf(path+".reason", "missing: say what happened")
	}
	if strings.TrimSpace(e.ApprovedBy) == "" {
		v.Errorf(path+".approved_by", "missing: an exemption counts only once it was approved")
	}
	if e.ApprovedOn.IsZero() {
		v.Errorf(path+".approved_on", "missing")
	}
}

func (c *Confirmation) validate(v *config.Validator, path string) {
	if strings.TrimSpace(c.ID) == "" {
		v.Errorf(path+".id", "missing: give the record a reference (e.g. its approval number)")
	}
	if c.Start.IsZero() {
		v.Errorf(path+".start", "missing")
	}
	if c.End.IsZero() {
		v.Errorf(path+".end", "missing")
	}
	if !c.Start.IsZero() && !c.End.IsZero() && !c.End.After(c.Start.Time) {
		v.Errorf(path+".end", "must be after start (%s)", c.Start.In(config.Tokyo).Format("2006-01-02 15:04"))
	}
	if strings.TrimSpace(c.Evidence) == "" {
		v.Errorf(path+".evidence", "missing: say what shows the service ran (e.g. the delivery log of the period)")
	}
	if strings.TrimSpace(c.ApprovedBy) == "" {
		v.Errorf(path+".approved_by", "missing: a 稼働確認 record counts only once it was approved")
	}
	if c.ApprovedOn.IsZero() {
		v.Errorf(path+".approved_on", "missing")
	}
}

// IncidentStart is the JST start minute encoded in an outage id.
func IncidentStart(id string) (time.Time, error) {
	m := IncidentIDPattern.FindStringSubmatch(id)
	if m == nil {
		return time.Time{}, fmt.Errorf("%q is not an outage id such as mail-20261012-0310", id)
	}
	t, err := time.ParseInLocation("20060102-1504", m[2], config.Tokyo)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: invalid date and time %q in outage id", id, m[2])
	}
	return t, nil
}

// IncidentService is the service named by an outage id.
func IncidentService(id string) string {
	if m := IncidentIDPattern.FindStringSubmatch(id); m != nil {
		return m[1]
	}
	return ""
}

// IncidentID builds the id of an outage of service that started at start.
func IncidentID(service string, start time.Time) string {
	return service + "-" + start.In(config.Tokyo).Format("20060102-1504")
}

func categoryList() string {
	// A fixed order, the contract's.
	return "通信回線障害, ソフトウェア等の障害, 自然災害, 火災, 第三者による妨害, 地域紛争・動乱"
}

// setLines records each entry's line from the parsed document.
func setLines(root *yaml.Node, f *File) {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	if n.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i+1].Kind != yaml.SequenceNode {
			continue
		}
		for j, item := range n.Content[i+1].Content {
			switch n.Content[i].Value {
			case "exemptions":
				if j < len(f.Exemptions) {
					f.Exemptions[j].Line = item.Line
				}
			case "confirmations":
				if j < len(f.Confirmations) {
					f.Confirmations[j].Line = item.Line
				}
			}
		}
	}
}
