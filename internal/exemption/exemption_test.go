package exemption

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bosaimail/bosaimail_exporter/config"
)

const valid = `exemptions:
  - id: EX-1
    incident: mail-20260902-1000
    category: 自然災害
    reason: 台風
    approved_by: 災害対策課
    approved_on: 2026-09-10
  - id: EX-2
    service: mail
    start: 2026-10-12 03:00
    end: 2026-10-12T05:00:00+09:00
    category: 通信回線障害
    reason: 回線障害
    approved_by: 災害対策課
    approved_on: 2026-11-04
`

func TestParseValid(t *testing.T) {
	f, err := Parse("ex.yml", []byte(valid))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Exemptions) != 2 {
		t.Fatalf("%d exemptions", len(f.Exemptions))
	}
	e := f.Exemptions[1]
	if e.Line != 8 || !e.Start.Equal(time.Date(2026, 10, 12, 3, 0, 0, 0, config.Tokyo)) || !e.End.Equal(time.Date(2026, 10, 11, 20, 0, 0, 0, time.UTC)) {
		t.Errorf("second exemption: line %d, %s..%s", e.Line, e.Start, e.End)
	}
	if got := e.Where("ex.yml"); got != "ex.yml:8 (EX-2)" {
		t.Errorf("Where = %q", got)
	}
	if s, err := IncidentStart(f.Exemptions[0].Incident); err != nil || !s.Equal(time.Date(2026, 9, 2, 10, 0, 0, 0, config.Tokyo)) {
		t.Errorf("IncidentStart = %s, %v", s, err)
	}
	if id := IncidentID("mail", time.Date(2026, 9, 2, 1, 0, 0, 0, time.UTC)); id != "mail-20260902-1000" {
		t.Errorf("IncidentID = %q", id)
	}
}

// TestParseInvalid: every problem names file:line and the key.
func TestParseInvalid(t *testing.T) {
	entry := func(lines ...string) string {
		return "exemptions:\n  - " + strings.Join(lines, "\n    ") + "\n"
	}
	ok := []string{"category: 火災", "reason: r", "approved_by: a", "approved_on: 2026-11-01"}
	tests := []struct {
		name, doc string
		want      []string
	}{
		{"unknown key", entry(append([]string{"id: E", "incident: mail-20261003-1405", "aproved: x"}, ok...)...), []string{"ex.yml:4: field aproved not found"}},
		{"not yaml", "exemptions: [", []string{"ex.yml:1: did not find expected node content"}},
		{"two documents", valid + "---\n" + valid, []string{"more than one YAML document"}},
		{"empty", "", []string{"exemptions: no exemptions"}},
		{"bad time", entry(append([]string{"id: E", "start: yesterday", "end: 2026-10-01 00:00"}, ok...)...), []string{`ex.yml:3: invalid time "yesterday"`}},
		{"bad date", entry("id: E", "incident: mail-20261003-1405", "category: 火災", "reason: r", "approved_by: a", "approved_on: 11/01"), []string{`ex.yml:7: invalid date "11/01"`}},
		{"neither", entry(append([]string{"id: E"}, ok...)...), []string{"ex.yml:2: exemptions[0]: give either incident"}},
		{"both", entry(append([]string{"id: E", "incident: mail-20261003-1405", "start: 2026-10-01 00:00", "end: 2026-10-01 01:00"}, ok...)...), []string{"ex.yml:3: exemptions[0].incident: give either incident or start/end, not both"}},
		{"bad incident", entry(append([]string{"id: E", "incident: mail-2026"}, ok...)...), []string{`ex.yml:3: exemptions[0].incident: "mail-2026" is not an outage id`}},
		{"impossible incident date", entry(append([]string{"id: E", "incident: mail-20261399-1405"}, ok...)...), []string{`invalid date and time "20261399-1405"`}},
		{"service with incident", entry(append([]string{"id: E", "incident: mail-20261003-1405", "service: mail"}, ok...)...), []string{"ex.yml:4: exemptions[0].service: not used with incident"}},
		{"end before start", entry(append([]string{"id: E", "start: 2026-10-01 02:00", "end: 2026-10-01 01:00"}, ok...)...), []string{"ex.yml:4: exemptions[0].end: must be after start (2026-10-01 02:00)"}},
		{"missing end", entry(append([]string{"id: E", "start: 2026-10-01 02:00"}, ok...)...), []string{"exemptions[0].end: missing"}},
		{"unknown category", entry("id: E", "incident: mail-20261003-1405", "category: 停電", "reason: r", "approved_by: a", "approved_on: 2026-11-01"), []string{`ex.yml:4: exemptions[0].category: unknown category "停電"`}},
		{"not approved", entry("id: E", "incident: mail-20261003-1405", "category: 火災", "reason: r"), []string{"exemptions[0].approved_by: missing", "exemptions[0].approved_on: missing"}},
		{"no id", entry(append([]string{"incident: mail-20261003-1405"}, ok...)...), []string{"ex.yml:2: exemptions[0].id: missing"}},
		{"duplicate id", valid + "  - id: EX-1\n    incident: mail-20261003-1405\n    category: 火災\n    reason: r\n    approved_by: a\n    approved_on: 2026-11-01\n", []string{`ex.yml:16: exemptions[2].id: duplicate exemption id "EX-1"`}},
		{"wrong type", "exemptions:\n  - id: [a]\n", []string{"ex.yml:2: cannot unmarshal !!seq into string"}},
		{"confirmation without evidence or approval", "confirmations:\n  - id: CF\n    service: mail\n    start: 2026-10-01 00:00\n    end: 2026-10-01 01:00\n",
			[]string{"ex.yml:2: confirmations[0].evidence: missing", "confirmations[0].approved_by: missing", "confirmations[0].approved_on: missing"}},
		{"confirmation backwards", "confirmations:\n  - {id: CF, start: 2026-10-01 02:00, end: 2026-10-01 01:00, evidence: e, approved_by: a, approved_on: 2026-11-01}\n",
			[]string{"confirmations[0].end: must be after start"}},
		{"confirmation unknown key", "confirmations:\n  - {id: CF, incident: mail-20261003-1405}\n", []string{"field incident not found"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("ex.yml", []byte(tt.doc))
			if err == nil {
				t.Fatalf("no error for\n%s", tt.doc)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

func TestConfirmations(t *testing.T) {
	doc := valid + `confirmations:
  - id: CF-1
    service: mail
    start: 2026-10-20 10:00
    end: 2026-10-20 10:30
    evidence: 配信ログ
    approved_by: a
    approved_on: 2026-11-04
`
	f, err := Parse("ex.yml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Confirmations) != 1 || f.Confirmations[0].Line != 17 || f.Confirmations[0].Where("ex.yml") != "ex.yml:17 (CF-1)" {
		t.Fatalf("confirmations %+v", f.Confirmations)
	}
	at := func(s string) time.Time { t, _ := ParseTime(s); return t }
	for _, tt := range []struct {
		svc, at string
		want    bool
	}{{"mail", "2026-10-20 10:00", true}, {"mail", "2026-10-20 10:29:59", true}, {"mail", "2026-10-20 10:30", false}, {"web", "2026-10-20 10:10", false}} {
		if got := f.ConfirmedAt(tt.svc, at(tt.at)); got != tt.want {
			t.Errorf("ConfirmedAt(%s, %s) = %v", tt.svc, tt.at, got)
		}
	}
	// Only time-range exemptions are active by time; one naming an outage
	// id is applied by the report.
	if !f.ExemptAt("mail", at("2026-10-12 03:30")) || f.ExemptAt("mail", at("2026-10-12 05:00")) {
		t.Errorf("ExemptAt")
	}
	// A file of confirmations only is valid.
	if _, err := Parse("ex.yml", []byte(doc[strings.Index(doc, "confirmations:"):])); err != nil {
		t.Errorf("confirmations only: %v", err)
	}
}

func TestLoad(t *testing.T) {
	if _, err := Load("/nonexistent/ex.yml"); err == nil || !strings.Contains(err.Error(), "/nonexistent/ex.yml") {
		t.Errorf("missing file: %v", err)
	}
	big := t.TempDir() + "/big.yml"
	if err := os.WriteFile(big, make([]byte, MaxFileBytes+1), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("big file: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(valid))
	f.Add([]byte("exemptions:\n  - {id: a, start: '2026-10-01 00:00', end: '2026-10-01 01:00', category: 火災, reason: r, approved_by: a, approved_on: 2026-10-01}\n"))
	f.Add([]byte("exemptions: [{incident: x-20261301-0000}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ef, err := Parse("fuzz.yml", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.yml") {
				t.Errorf("error does not name the file: %v", err)
			}
			return
		}
		for _, e := range ef.Exemptions {
			if e.Incident == "" && !e.End.After(e.Start.Time) {
				t.Errorf("accepted an empty range: %+v", e)
			}
			if _, ok := Categories[e.Category]; !ok {
				t.Errorf("accepted category %q", e.Category)
			}
		}
	})
}
