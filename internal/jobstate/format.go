package jobstate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// Bounds of what a report may carry; a report is a short note, not a log.
const (
	MaxMessageBytes = 1024
	// MaxStatusFileBytes bounds one status file.
	MaxStatusFileBytes = 64 << 10
	maxDuration        = 366 * 24 * 3600.0
)

// pushBody is the optional JSON body of a push.
type pushBody struct {
	ExitCode        *int     `json:"exit_code"`
	DurationSeconds *float64 `json:"duration_seconds"`
	Message         *string  `json:"message"`
}

// ParsePushBody reads the body of POST /api/v1/jobs/<job>/<kind>: empty, or
// a JSON object {"exit_code": 0, "duration_seconds": 12.5, "message": "..."}
// with every field optional. Unknown fields are errors so a typo is not
// silently ignored.
func ParsePushBody(kind Kind, data []byte) (Report, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return Report{}, nil
	}
	var b pushBody
	if err := decodeStrict(data, &b); err != nil {
		return Report{}, err
	}
	r := Report{ExitCode: b.ExitCode, DurationSeconds: b.DurationSeconds}
	if b.Message != nil {
		r.Message = *b.Message
	}
	return r, checkReport(kind, r)
}

// StatusFile is the JSON file a job writes (atomically: write a temporary
// file that the configured glob does not match, then rename it) to report
// its latest run.
type StatusFile struct {
	Job string `json:"job"`
	// Status is "running", "success" or "failure".
	Status          string    `json:"status"`
	StartedAt       time.Time `json:"started_at,omitzero"`
	FinishedAt      time.Time `json:"finished_at,omitzero"`
	ExitCode        *int      `json:"exit_code,omitempty"`
	DurationSeconds *float64  `json:"duration_seconds,omitempty"`
	Message         string    `json:"message,omitempty"`
}

// ParseStatusFile decodes and checks a status file.
func ParseStatusFile(data []byte) (StatusFile, error) {
	var f StatusFile
	if len(data) > MaxStatusFileBytes {
		return f, fmt.Errorf("status file is larger than %d bytes", MaxStatusFileBytes)
	}
	if err := decodeStrict(data, &f); err != nil {
		return f, err
	}
	if f.Job == "" {
		return f, errors.New(`"job" is required`)
	}
	kind := Success
	switch f.Status {
	case "running":
		if f.StartedAt.IsZero() {
			return f, errors.New(`status "running" needs "started_at"`)
		}
		if !f.FinishedAt.IsZero() {
			return f, errors.New(`status "running" must not have "finished_at"`)
		}
		return f, nil
	case "success":
	case "failure":
		kind = Fail
	default:
		return f, fmt.Errorf(`"status" must be "running", "success" or "failure", not %q`, f.Status)
	}
	if f.FinishedAt.IsZero() {
		return f, fmt.Errorf(`status %q needs "finished_at"`, f.Status)
	}
	if !f.StartedAt.IsZero() && f.StartedAt.After(f.FinishedAt) {
		return f, errors.New(`"started_at" is after "finished_at"`)
	}
	return f, checkReport(kind, Report{ExitCode: f.ExitCode, DurationSeconds: f.DurationSeconds, Message: f.Message})
}

// State turns the file into the state it reports.
func (f StatusFile) State() State {
	var s State
	if !f.StartedAt.IsZero() {
		s.Apply(Start, f.StartedAt, Report{})
	}
	if f.Status == "running" {
		return s
	}
	kind := Success
	if f.Status == "failure" {
		kind = Fail
	}
	s.Apply(kind, f.FinishedAt, Report{ExitCode: f.ExitCode, DurationSeconds: f.DurationSeconds, Message: f.Message})
	return s
}

func checkReport(kind Kind, r Report) error {
	if r.ExitCode != nil {
		c := *r.ExitCode
		if c < 0 || c > 255 {
			return fmt.Errorf(`"exit_code" %d is not between 0 and 255`, c)
		}
		if kind == Success && c != 0 {
			return fmt.Errorf(`"exit_code" %d contradicts a success report; report a failure instead`, c)
		}
	}
	if d := r.DurationSeconds; d != nil && (math.IsNaN(*d) || *d < 0 || *d > maxDuration) {
		return fmt.Errorf(`"duration_seconds" %v is not between 0 and %v`, *d, maxDuration)
	}
	if len(r.Message) > MaxMessageBytes {
		return fmt.Errorf(`"message" is longer than %d bytes`, MaxMessageBytes)
	}
	if !utf8.ValidString(r.Message) {
		return errors.New(`"message" is not valid UTF-8`)
	}
	if strings.ContainsFunc(r.Message, func(c rune) bool { return c < 0x20 && c != '\n' && c != '\t' }) {
		return errors.New(`"message" contains control characters`)
	}
	return nil
}

// decodeStrict decodes exactly one JSON object with no unknown fields.
func decodeStrict(data []byte, v any) error {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return errors.New("malformed JSON: expected an object")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("malformed JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("malformed JSON: trailing data after the object")
	}
	return nil
}
