// Package jobstate is what the exporter knows about each scheduled job: the
// reports jobs send (push bodies, status files), the state they add up to,
// and its crash-safe persistence in an embedded bbolt database, so a report
// answered 2xx survives a restart or a crash of the exporter.
package jobstate

import (
	"time"
)

// Kind is what a report says about a run.
type Kind string

// The kinds of report, also the last element of the push URL.
const (
	Start   Kind = "start"
	Success Kind = "success"
	Fail    Kind = "fail"
)

// ParseKind accepts the three push actions.
func ParseKind(s string) (Kind, bool) {
	switch k := Kind(s); k {
	case Start, Success, Fail:
		return k, true
	}
	return "", false
}

// Report is the optional detail of a report.
type Report struct {
	ExitCode        *int
	DurationSeconds *float64
	Message         string
}

// State is the known state of one job. The zero time means "never".
type State struct {
	// FirstSeen is when the job was first configured: a job that never
	// reported is due one period after it.
	FirstSeen   time.Time `json:"first_seen"`
	LastStart   time.Time `json:"last_start,omitzero"`
	LastFinish  time.Time `json:"last_finish,omitzero"`
	LastSuccess time.Time `json:"last_success,omitzero"`
	// LastOK is the outcome of the run that finished at LastFinish.
	LastOK bool `json:"last_ok"`
	// LastDuration in seconds, when known (HasDuration).
	LastDuration float64 `json:"last_duration_seconds"`
	HasDuration  bool    `json:"has_duration"`
	LastExitCode *int    `json:"last_exit_code,omitempty"`
	LastMessage  string  `json:"last_message,omitempty"`
	// RemovedAt is when the job left the config. Its history is kept for
	// the retention period and is its own again if the job comes back.
	RemovedAt time.Time `json:"removed_at,omitzero"`
}

// Reported tells whether any run of the job was ever reported.
func (s State) Reported() bool { return !s.LastStart.IsZero() || !s.LastFinish.IsZero() }

// Running tells whether a run started after the last finished one.
func (s State) Running() bool { return !s.LastStart.IsZero() && s.LastStart.After(s.LastFinish) }

// Apply adds one report received at time at.
func (s *State) Apply(kind Kind, at time.Time, r Report) {
	if kind == Start {
		s.LastStart = at
		return
	}
	switch {
	case r.DurationSeconds != nil:
		s.LastDuration, s.HasDuration = *r.DurationSeconds, true
	case s.Running() && !at.Before(s.LastStart):
		s.LastDuration, s.HasDuration = at.Sub(s.LastStart).Seconds(), true
	default:
		s.LastDuration, s.HasDuration = 0, false
	}
	s.LastFinish = at
	s.LastOK = kind == Success
	if s.LastOK {
		s.LastSuccess = at
	}
	s.LastExitCode = r.ExitCode
	s.LastMessage = r.Message
}

// Merge combines what two sources (the push store and a status file) say
// about one job: each part of the state is taken from the source that saw
// it last. FirstSeen is a's.
func Merge(a, b State) State {
	out := a
	if b.LastFinish.After(a.LastFinish) {
		out.LastFinish, out.LastOK = b.LastFinish, b.LastOK
		out.LastDuration, out.HasDuration = b.LastDuration, b.HasDuration
		out.LastExitCode, out.LastMessage = b.LastExitCode, b.LastMessage
	}
	if b.LastSuccess.After(out.LastSuccess) {
		out.LastSuccess = b.LastSuccess
	}
	if b.LastStart.After(out.LastStart) {
		out.LastStart = b.LastStart
	}
	return out
}
