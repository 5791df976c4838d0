package ledger

import (
	"bytes"
	"fmt"
	"io"
	"time"

	"github.com/emersion/go-ical"
	"gopkg.in/yaml.v3"

	"github.com/bosaimail/bosaimail_exporter/config"
)

var jst = config.Tokyo

// iCalendar properties that record the prefecture's approval of a planned
// stop; the exporter's calendar source may require them.
const (
	PropApprovedBy = "X-BOSAIMAIL-APPROVED-BY"
	PropApprovedOn = "X-BOSAIMAIL-APPROVED-ON"
	PropService    = "X-BOSAIMAIL-SERVICE"
)

// WriteICS writes the approved planned stops (of service, or all when
// empty) as an iCalendar feed the exporter's maintenance calendars read.
func WriteICS(w io.Writer, stops []*Approval, service, host string, now time.Time) error {
	cal := ical.NewCalendar()
	cal.Props.SetText(ical.PropVersion, "2.0")
	cal.Props.SetText(ical.PropProductID, "-//bosaimail//bosaimail_ledger//JA")
	setX(cal.Props, "X-WR-CALNAME", "承認済み計画停止")
	for _, a := range stops {
		if a.Kind != KindMaintenance || a.State != StateApproved || (service != "" && a.Service != service) {
			continue
		}
		ev := ical.NewEvent()
		ev.Props.SetText(ical.PropUID, fmt.Sprintf("maintenance-%d@%s", a.ID, host))
		ev.Props.SetDateTime(ical.PropDateTimeStamp, a.DecidedAt.UTC())
		ev.Props.SetDateTime(ical.PropDateTimeStart, a.Start.UTC())
		ev.Props.SetDateTime(ical.PropDateTimeEnd, a.End.UTC())
		ev.Props.SetText(ical.PropSummary, fmt.Sprintf("計画停止 %s: %s", a.Service, a.Reason))
		ev.Props.SetText(ical.PropDescription, fmt.Sprintf("申請 %s（%s）、承認 %s（%s）",
			a.RequestedBy, a.RequestedAt.In(jst).Format("2006-01-02 15:04"), a.DecidedBy, a.DecidedAt.In(jst).Format("2006-01-02 15:04")))
		setX(ev.Props, PropService, a.Service)
		setX(ev.Props, PropApprovedBy, a.DecidedBy)
		setX(ev.Props, PropApprovedOn, a.DecidedAt.In(jst).Format("2006-01-02"))
		cal.Children = append(cal.Children, ev.Component)
	}
	if len(cal.Children) == 0 {
		// go-ical refuses a calendar without components; an empty feed
		// still has to be a valid calendar (no planned stops).
		var b bytes.Buffer
		fmt.Fprintf(&b, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bosaimail//bosaimail_ledger//JA\r\nX-WR-CALNAME:承認済み計画停止\r\nEND:VCALENDAR\r\n")
		_, err := w.Write(b.Bytes())
		return err
	}
	return ical.NewEncoder(w).Encode(cal)
}

// ExemptionEntry and ConfirmationEntry are the entries of the exemption
// file (internal/exemption) as the ledger exports them.
type ExemptionEntry struct {
	ID         string `yaml:"id"`
	Service    string `yaml:"service"`
	Start      string `yaml:"start"`
	End        string `yaml:"end"`
	Category   string `yaml:"category"`
	Reason     string `yaml:"reason"`
	ApprovedBy string `yaml:"approved_by"`
	ApprovedOn string `yaml:"approved_on"`
}

type ConfirmationEntry struct {
	ID         string `yaml:"id"`
	Service    string `yaml:"service"`
	Start      string `yaml:"start"`
	End        string `yaml:"end"`
	Evidence   string `yaml:"evidence"`
	ApprovedBy string `yaml:"approved_by"`
	ApprovedOn string `yaml:"approved_on"`
}

// ExemptionFile is the exported exemption file.
type ExemptionFile struct {
	Exemptions    []ExemptionEntry    `yaml:"exemptions"`
	Confirmations []ConfirmationEntry `yaml:"confirmations,omitempty"`
}

// Exemptions builds the exemption file from the approved requests;
// confirmations are left out unless withConfirmations.
func Exemptions(all []*Approval, withConfirmations bool) ExemptionFile {
	f := ExemptionFile{Exemptions: []ExemptionEntry{}}
	// Oldest first, so the file reads in the order things were approved.
	for i := len(all) - 1; i >= 0; i-- {
		a := all[i]
		if a.State != StateApproved {
			continue
		}
		start, end := a.Start.In(jst).Format(time.RFC3339), a.End.In(jst).Format(time.RFC3339)
		on := a.DecidedAt.In(jst).Format("2006-01-02")
		switch a.Kind {
		case KindExemption:
			reason := a.Reason
			if a.Incident != 0 {
				reason = fmt.Sprintf("障害票 %d: %s", a.Incident, a.Reason)
			}
			f.Exemptions = append(f.Exemptions, ExemptionEntry{
				ID: fmt.Sprintf("ledger-%d", a.ID), Service: a.Service, Start: start, End: end,
				Category: a.Category, Reason: reason, ApprovedBy: a.DecidedBy, ApprovedOn: on,
			})
		case KindConfirmation:
			if withConfirmations {
				f.Confirmations = append(f.Confirmations, ConfirmationEntry{
					ID: fmt.Sprintf("ledger-%d", a.ID), Service: a.Service, Start: start, End: end,
					Evidence: a.Reason, ApprovedBy: a.DecidedBy, ApprovedOn: on,
				})
			}
		}
	}
	return f
}

// WriteExemptions writes the file as YAML.
func WriteExemptions(w io.Writer, f ExemptionFile) error {
	fmt.Fprintln(w, "# 承認済みの免責・稼働確認（bosaimail_ledger が出力。編集は台帳の画面で行う）")
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(f); err != nil {
		return err
	}
	return enc.Close()
}

// setX sets an extension property as plain text, without the VALUE=TEXT
// parameter go-ical adds (text is the default type of X- properties, and
// simple readers match "NAME:value").
func setX(props ical.Props, name, text string) {
	p := ical.NewProp(name)
	p.SetText(text)
	p.Params.Del(ical.ParamValue)
	props.Set(p)
}
