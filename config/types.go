package config

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	_ "time/tzdata" // time_zone names work whatever the host has

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/bosaimail/bosaimail_exporter/internal/fetch"
)

// Duration is a Prometheus-style duration ("30s", "5m", "1d") in YAML.
type Duration time.Duration

// UnmarshalYAML parses a Prometheus duration; the error names the line.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: expected a duration such as 30s or 5m", n.Line)
	}
	md, err := model.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: invalid duration %q: %v", n.Line, n.Value, err)
	}
	*d = Duration(md)
	return nil
}

// MarshalYAML writes the duration back in Prometheus form.
func (d Duration) MarshalYAML() (any, error) { return model.Duration(d).String(), nil }

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return model.Duration(d).String() }

// URL is an absolute http(s) URL, checked when the config is parsed.
type URL struct{ *url.URL }

// UnmarshalYAML parses and checks the URL; the error names the line.
func (u *URL) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: expected a URL", n.Line)
	}
	parsed, err := ParseURL(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %v", n.Line, err)
	}
	u.URL = parsed
	return nil
}

// MarshalYAML writes the URL back as a string.
func (u URL) MarshalYAML() (any, error) {
	if u.URL == nil {
		return "", nil
	}
	return u.URL.String(), nil
}

// String returns the URL, or "" when unset.
func (u URL) String() string {
	if u.URL == nil {
		return ""
	}
	return u.URL.String()
}

// IsZero tells whether the URL was set.
func (u URL) IsZero() bool { return u.URL == nil }

// ParseURL accepts absolute http and https URLs with a host.
func ParseURL(s string) (*url.URL, error) {
	// Errors show the URL redacted: it may carry credentials, and config
	// errors reach the log, the /-/reload answer and --config.check.
	parsed, err := url.Parse(s)
	if err != nil {
		// Not url.Parse's message: it quotes the URL, or a part of it such
		// as a password taken for a port.
		return nil, fmt.Errorf("invalid URL %q: it does not parse as a URL", fetch.Redact(s))
	}
	if parsed.Scheme != "http" && parsed.Scheme != "https" {
		return nil, fmt.Errorf("invalid URL %q: scheme must be http or https", fetch.Redact(s))
	}
	if parsed.Host == "" {
		return nil, fmt.Errorf("invalid URL %q: missing host", fetch.Redact(s))
	}
	return parsed, nil
}

// MaxSecretBytes bounds a secret file: a token or password, never a blob.
const MaxSecretBytes = 64 << 10

// SecretFile applies the one rule for secrets (passwords, tokens, keys):
// the path is resolved in place against the config file's directory, and
// the file must be readable (and not empty) now, so `--config.check` and
// the running exporter agree. Its content is not kept: every use reads the
// file again (ReadSecretFile), so rotating a secret needs no reload. It
// returns the content for checks of its form; what names the key in errors.
// Errors name the path, never the content.
func (v *Validator) SecretFile(what string, file *string, cfg *Config) string {
	if *file == "" {
		return ""
	}
	*file = cfg.Resolve(*file)
	s, err := ReadSecretFile(*file)
	switch {
	case err != nil:
		v.Errorf(what, "%v", err)
	case s == "":
		v.Errorf(what, "file %q is empty", *file)
	}
	return s
}

// ReadOptionalSecret reads a secret file at the time of use, or returns ""
// when none is configured.
func ReadOptionalSecret(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	return ReadSecretFile(path)
}

// ReadSecretFile reads a password or token from a file (the only way secrets
// enter the exporter, so they never sit in the main config or in logs).
// Surrounding white space, including the trailing newline editors add, is
// removed.
func ReadSecretFile(path string) (string, error) {
	if path == "" {
		return "", errors.New("no secret file configured")
	}
	buf, err := ReadFileBounded(path, MaxSecretBytes, "secret file")
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(buf)), nil
}

// ParseTimeZone reads a zone: "" is Asia/Tokyo; an IANA name (the zone
// database is built into the binary, so the host's tzdata does not
// matter) or a fixed offset "+09:00" / "-05:30".
func ParseTimeZone(s string) (*time.Location, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return Tokyo, nil
	case len(s) == 6 && (s[0] == '+' || s[0] == '-') && s[3] == ':':
		t, err := time.Parse("-07:00", s)
		if err != nil {
			return nil, fmt.Errorf("time zone %q: not an offset such as +09:00", s)
		}
		_, off := t.Zone()
		return time.FixedZone("UTC"+s, off), nil
	}
	loc, err := time.LoadLocation(s)
	if err != nil {
		return nil, fmt.Errorf("time zone %q: not a known zone name (e.g. Asia/Tokyo, UTC) nor an offset such as +09:00", s)
	}
	return loc, nil
}

// Tokyo is Asia/Tokyo: JST, UTC+9 all year (no DST). A fixed zone is used so
// the exporter does not depend on the host's tzdata.
var Tokyo = time.FixedZone("JST", 9*60*60)
