// Package config is the exporter's configuration file: its schema, strict
// decoding (an unknown key or a wrong type is an error), defaults, and
// validation that names the file, line and key of every problem.
//
// Each area of the product has its own file here (checks.go, maintenance.go,
// cloud.go, jobs.go, security.go, delivery.go) with its types, defaults and
// validation; this file ties them together.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"
	"unicode"

	"gopkg.in/yaml.v3"
)

// MaxFileBytes bounds the config file; a larger one is surely a mistake.
const MaxFileBytes = 16 << 20

// Config is the whole configuration file.
type Config struct {
	Global      Global            `yaml:"global"`
	Services    []Service         `yaml:"services"`
	Maintenance MaintenanceConfig `yaml:"maintenance"`
	Cloud       CloudConfig       `yaml:"cloud"`
	Jobs        JobsConfig        `yaml:"jobs"`
	Security    SecurityConfig    `yaml:"security"`
	Delivery    DeliveryConfig    `yaml:"delivery"`

	// File is the path the config was loaded from; relative paths inside the
	// config (CA files, secret files, state) are taken relative to it.
	File string `yaml:"-"`
}

// Global holds settings that apply to every check.
type Global struct {
	// CheckTimeout bounds one per-scrape check when the check sets none; the
	// scrape deadline bounds it further.
	CheckTimeout Duration `yaml:"check_timeout"`
	// MaxBodyBytes bounds how much of a response body any check or source reads.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// CheckConcurrency bounds how many per-scrape checks of one scrape run
	// at once (default DefaultCheckConcurrency). Each check in flight holds
	// a connection, its buffers and goroutines, so the bound is what keeps
	// the exporter's memory flat however many checks are configured.
	CheckConcurrency int `yaml:"check_concurrency"`
	// MaxRetryAfter caps how long a background source obeys a peer's
	// Retry-After (a 429/503 answer asking for a year would otherwise keep
	// the source down until a restart). Default 1h.
	MaxRetryAfter Duration `yaml:"max_retry_after"`
	// SystemName is the name of the watched system as the contract gives it
	// (e.g. 防災みえメール配信サービス). Mails, dashboards and the report
	// take it from bosaimail_system_info, so another prefecture changes it
	// here and nowhere else.
	SystemName string `yaml:"system_name"`
}

// DefaultCheckConcurrency lets a scrape of 200 checks that each take 100 ms
// finish in under a second, with the memory of 32 connections at most.
const DefaultCheckConcurrency = 32

// Load reads, decodes strictly, defaults and validates a config file.
func Load(path string) (*Config, error) {
	data, err := ReadFileBounded(path, MaxFileBytes, "config")
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// ReadFileBounded reads a whole file of at most limit bytes; what names the
// kind of file in errors ("config", "exemption file", ...). A larger file is
// an error, never silently cut.
func ReadFileBounded(path string, limit int64, what string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", what, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s %s: %w", what, path, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s %s is larger than %d bytes", what, path, limit)
	}
	return data, nil
}

// Parse decodes a config document; file is used in error messages and to
// resolve relative paths.
func Parse(file string, data []byte) (*Config, error) {
	cfg := &Config{}
	root, err := DecodeStrict(file, data, cfg)
	if err != nil {
		return nil, err
	}
	cfg.File = file
	cfg.setDefaults()
	v := NewValidator(file, root)
	cfg.validate(v)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// DecodeStrict decodes one YAML document into out, refusing unknown keys,
// wrong types and further documents, with errors as "file:line: msg". It
// returns the node tree for a Validator, which names lines in its errors.
// Every YAML file of the product (config, acknowledgements, exemptions)
// goes through it.
func DecodeStrict(file string, data []byte, out any) (*yaml.Node, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, locate(file, err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return &root, nil
	}
	// A fresh strict decoder over the bytes: custom unmarshalers that call
	// node.Decode would lose strictness, so the schema types have none
	// except for scalar leaves (Duration, URL).
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(out); err != nil && !errors.Is(err, io.EOF) {
		return nil, locate(file, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, fmt.Errorf("%s: more than one YAML document; only one is allowed", file)
	}
	return &root, nil
}

var lineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): `)

// locate turns yaml.v3's "line N: msg" errors into "file:N: msg", one per line.
func locate(file string, err error) error {
	var te *yaml.TypeError
	var msgs []string
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	out := make([]string, 0, len(msgs))
	for _, m := range msgs {
		m = strings.TrimPrefix(m, "yaml: ")
		if sm := lineRE.FindStringSubmatch(m); sm != nil {
			out = append(out, fmt.Sprintf("%s:%s: %s", file, sm[1], m[len(sm[0]):]))
		} else {
			out = append(out, fmt.Sprintf("%s: %s", file, m))
		}
	}
	return errors.New(strings.Join(out, "\n"))
}

func (c *Config) setDefaults() {
	if c.Global.CheckTimeout == 0 {
		c.Global.CheckTimeout = Duration(10e9)
	}
	if c.Global.MaxBodyBytes == 0 {
		c.Global.MaxBodyBytes = 1 << 20
	}
	if c.Global.CheckConcurrency == 0 {
		c.Global.CheckConcurrency = DefaultCheckConcurrency
	}
	if c.Global.MaxRetryAfter == 0 {
		c.Global.MaxRetryAfter = Duration(time.Hour)
	}
	for i := range c.Services {
		c.Services[i].setDefaults(&c.Global)
	}
	c.Maintenance.setDefaults()
	c.Cloud.setDefaults()
	c.Jobs.setDefaults()
	c.Security.setDefaults()
	c.Delivery.setDefaults()
}

func (c *Config) validate(v *Validator) {
	if c.Global.CheckTimeout <= 0 {
		v.Errorf("global.check_timeout", "must be positive")
	}
	if c.Global.MaxBodyBytes < 0 {
		v.Errorf("global.max_body_bytes", "must not be negative")
	}
	if c.Global.CheckConcurrency < 0 {
		v.Errorf("global.check_concurrency", "must be positive (or 0 for the default %d)", DefaultCheckConcurrency)
	}
	if c.Global.MaxRetryAfter < Duration(time.Second) || c.Global.MaxRetryAfter > Duration(7*24*time.Hour) {
		v.Errorf("global.max_retry_after", "must be between 1s and 7d, got %s", c.Global.MaxRetryAfter)
	}
	if strings.ContainsFunc(c.Global.SystemName, unicode.IsControl) {
		v.Errorf("global.system_name", "must be one line of text without control characters")
	}
	names := make([]string, len(c.Services))
	for i := range c.Services {
		names[i] = c.Services[i].Name
		c.Services[i].validate(v, fmt.Sprintf("services[%d]", i), c)
	}
	v.Unique("service", names, func(i int) string { return fmt.Sprintf("services[%d].name", i) })
	c.Maintenance.validate(v, "maintenance", c)
	c.Cloud.validate(v, "cloud", c)
	c.Jobs.validate(v, "jobs", c)
	c.Security.validate(v, "security", c)
	c.Delivery.validate(v, "delivery", c)
}

// Resolve makes a path from the config relative to the config file's
// directory, as Prometheus does for its own files.
func (c *Config) Resolve(p string) string {
	if p == "" || strings.HasPrefix(p, "/") || c.File == "" {
		return p
	}
	dir := c.File
	if i := strings.LastIndex(dir, "/"); i >= 0 {
		dir = dir[:i]
	} else {
		dir = "."
	}
	return dir + "/" + p
}

// Service returns the named service, or nil.
func (c *Config) Service(name string) *Service {
	for i := range c.Services {
		if c.Services[i].Name == name {
			return &c.Services[i]
		}
	}
	return nil
}

// labelValueRE restricts names that become label values and URL path parts:
// readable, stable, no spaces.
var labelValueRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// CheckName reports a problem when name is not a usable identifier.
func (v *Validator) CheckName(path, name string) {
	switch {
	case name == "":
		v.Errorf(path, "a name is required")
	case len(name) > 64:
		v.Errorf(path, "name %q is longer than 64 characters", name)
	case !labelValueRE.MatchString(name):
		v.Errorf(path, "name %q must start with a letter or digit and contain only letters, digits, '_', '.' and '-'", name)
	}
}
