// Package advisory decodes vulnerability feeds as streams: JVN iPedia's
// MyJVN getVulnOverviewList (RSS 1.0 with mod_sec), the NVD CVE API 2.0 and
// CISA's Known Exploited Vulnerabilities catalog. Each decoder hands one
// entry at a time to a callback, so memory stays bounded by the largest
// entry, not the page: a caller keeps only the entries that match its
// inventory.
package advisory

import (
	"errors"
	"strings"
	"time"

	"github.com/bosaimail/bosaimail_exporter/internal/cpe"
)

// Severities, highest first. Every advisory has exactly one.
const (
	Critical = "critical"
	High     = "high"
	Medium   = "medium"
	Low      = "low"
	// None is a rating: CVSS "None" (score 0.0).
	None = "none"
	// Unknown is no rating: the feed gave none, or a word we do not know.
	// An unrated advisory may be anything; it is never reported as none.
	Unknown = "unknown"
)

// Severities lists the severity label values in order, highest first
// (unknown last).
var Severities = []string{Critical, High, Medium, Low, None, Unknown}

// NormalizeSeverity maps a feed's severity word to one of Severities;
// no severity, or one we do not know, is "unknown" so the label set stays
// bounded and an unrated advisory is not mistaken for a harmless one.
func NormalizeSeverity(s string) string {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "critical":
		return Critical
	case "high", "important":
		return High
	case "medium", "moderate":
		return Medium
	case "low":
		return Low
	case "none", "informational", "info":
		return None
	}
	return Unknown
}

// SeverityRank orders severities: critical is 4, none 0.
func SeverityRank(s string) int {
	switch s {
	case Critical:
		return 4
	case High:
		return 3
	case Medium:
		return 2
	case Low:
		return 1
	}
	return 0
}

// Advisory is one vulnerability entry, reduced to what matching and the
// metrics need.
type Advisory struct {
	// ID is the feed's identifier (JVNDB-2024-000123, CVE-2024-1234).
	ID       string
	Title    string
	Link     string
	Severity string
	// CVEs are the CVE identifiers the entry refers to (for an NVD entry,
	// its own ID).
	CVEs      []string
	Published time.Time
	Modified  time.Time
	// Configs state where the advisory applies.
	Configs []cpe.Config
	// KnownExploited is set when the feed itself says so (NVD's
	// cisaExploitAdd).
	KnownExploited bool
}

// ErrStop may be returned by a callback to end decoding early without
// an error.
var ErrStop = errors.New("stop decoding")

// parseTime accepts the timestamp forms the feeds use.
func parseTime(s string) time.Time {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.000", "2006-01-02T15:04:05", "2006-01-02T15:04Z07:00", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t
		}
	}
	return time.Time{}
}
