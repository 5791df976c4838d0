package config

import (
	"strings"
	"testing"
	"time"
)

// FuzzParseSchedule: any schedule string is accepted or refused with an
// error naming it; an accepted one gives next times strictly after the
// reference (or zero: never), in Japan time, and NextDue adds the grace.
func FuzzParseSchedule(f *testing.F) {
	for _, s := range []string{"0 2 * * *", "@daily", "@every 2h", "*/15 9-17 * * 1-5", "0 0 30 2 *", "TZ=UTC 0 0 * * *", "@every 0s", "59 23 31 12 *"} {
		f.Add(s)
	}
	ref := time.Date(2026, 11, 25, 3, 0, 0, 0, Tokyo)
	f.Fuzz(func(t *testing.T, spec string) {
		sched, err := ParseSchedule(spec)
		if err != nil {
			if !strings.Contains(err.Error(), "schedule") {
				t.Fatalf("error %q does not say what was wrong", err)
			}
			return
		}
		next := sched.Next(ref)
		if !next.IsZero() && !next.After(ref) {
			t.Fatalf("%q: next %v is not after %v", spec, next, ref)
		}
		j := &Job{Cron: sched, Grace: Duration(15 * time.Minute)}
		if due := j.NextDue(ref); !next.IsZero() && !due.Equal(next.Add(15*time.Minute)) {
			t.Fatalf("%q: due %v, next %v", spec, due, next)
		}
	})
}

// FuzzParseAcknowledgements: any acknowledgement file is accepted (every
// entry then has an id, a known status, a reason and a date) or refused
// with an error naming the file; never a panic.
func FuzzParseAcknowledgements(f *testing.F) {
	f.Add([]byte("acknowledgements:\n  - {id: JVNDB-2026-000001, status: patched, reason: 更新済み, date: 2026-11-20}\n"))
	f.Add([]byte("acknowledgements:\n  - {id: CVE-2026-1, status: accepted, reason: x, date: 2026-11-20, expires: 2026-12-31}\n"))
	f.Add([]byte("acknowledgements: [{id: a, status: nope}]\n"))
	f.Add([]byte("- a\n- b\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		acks, err := ParseAcknowledgements("acks.yml", data)
		if err != nil {
			if !strings.Contains(err.Error(), "acks.yml") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		for _, a := range acks {
			if a.ID == "" || strings.TrimSpace(a.Reason) == "" {
				t.Fatalf("accepted an incomplete acknowledgement %+v", a)
			}
			switch a.Status {
			case "patched", "not_applicable", "mitigated", "accepted":
			default:
				t.Fatalf("accepted status %q", a.Status)
			}
		}
	})
}
