package config

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strconv"

	"github.com/itchyny/gojq"
	commoncfg "github.com/prometheus/common/config"
)

// Check kinds. Per-scrape kinds run while Prometheus scrapes; roundtrip is a
// background source because one round trip takes longer than a scrape.
const (
	KindHTTP      = "http"
	KindTCP       = "tcp"
	KindSMTP      = "smtp"
	KindRoundTrip = "roundtrip"
)

// Service is one part of the mail service the operator names (delivery,
// registration, admin, ...). Availability is computed per service from its
// critical checks.
type Service struct {
	Name        string              `yaml:"name"`
	Description string              `yaml:"description"`
	Checks      []Check             `yaml:"checks"`
	Maintenance []MaintenanceWindow `yaml:"maintenance"`
}

// Check is one health check of a service; exactly one kind block is set.
type Check struct {
	Name string `yaml:"name"`
	Kind string `yaml:"kind"`
	// Critical checks decide whether the service is up (bosaimail:service_up);
	// default true.
	Critical *bool    `yaml:"critical"`
	Timeout  Duration `yaml:"timeout"`

	HTTP      *HTTPCheck      `yaml:"http"`
	TCP       *TCPCheck       `yaml:"tcp"`
	SMTP      *SMTPCheck      `yaml:"smtp"`
	RoundTrip *RoundTripCheck `yaml:"roundtrip"`
}

// IsCritical reports the effective critical flag.
func (c *Check) IsCritical() bool { return c.Critical == nil || *c.Critical }

// HTTPCheck requests a URL and judges the answer.
type HTTPCheck struct {
	URL     URL               `yaml:"url"`
	Method  string            `yaml:"method"`
	Headers map[string]string `yaml:"headers"`
	Body    string            `yaml:"body"`
	// ValidStatusCodes defaults to any 2xx.
	ValidStatusCodes []int `yaml:"valid_status_codes"`
	// FailIfBodyNotMatchesRegexp: every pattern must match the body.
	FailIfBodyNotMatchesRegexp []string `yaml:"fail_if_body_not_matches_regexp"`
	// FailIfBodyMatchesRegexp: no pattern may match the body.
	FailIfBodyMatchesRegexp []string `yaml:"fail_if_body_matches_regexp"`
	// ExpectJSON: jq expressions over the JSON body that must all yield true,
	// e.g. '.status == "ok"'.
	ExpectJSON      []string `yaml:"expect_json"`
	FollowRedirects *bool    `yaml:"follow_redirects"`
	// BearerTokenFile and BasicAuth send credentials read from files.
	BearerTokenFile string              `yaml:"bearer_token_file"`
	BasicAuth       *BasicAuth          `yaml:"basic_auth"`
	TLSConfig       commoncfg.TLSConfig `yaml:"tls_config"`
	// MaxBodyBytes bounds how much of the body is read; defaults to
	// global.max_body_bytes. A larger body is a failure, not truncated.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`

	TLSClient        *tls.Config      `yaml:"-"`
	BodyMustMatch    []*regexp.Regexp `yaml:"-"`
	BodyMustNotMatch []*regexp.Regexp `yaml:"-"`
	JSONExpectations []*gojq.Code     `yaml:"-"`
}

// BasicAuth is a user name and a password read from a file.
type BasicAuth struct {
	Username     string `yaml:"username"`
	PasswordFile string `yaml:"password_file"`
}

// TCPCheck connects to an address, optionally with TLS.
type TCPCheck struct {
	Address   string              `yaml:"address"`
	TLS       bool                `yaml:"tls"`
	TLSConfig commoncfg.TLSConfig `yaml:"tls_config"`

	TLSClient *tls.Config `yaml:"-"`
}

func (s *Service) setDefaults(g *Global) {
	for i := range s.Checks {
		c := &s.Checks[i]
		if c.Timeout == 0 {
			c.Timeout = g.CheckTimeout
		}
		if c.HTTP != nil {
			if c.HTTP.Method == "" {
				c.HTTP.Method = http.MethodGet
			}
			if c.HTTP.MaxBodyBytes == 0 {
				c.HTTP.MaxBodyBytes = g.MaxBodyBytes
			}
			if c.HTTP.FollowRedirects == nil {
				t := true
				c.HTTP.FollowRedirects = &t
			}
		}
		if c.SMTP != nil {
			c.SMTP.setDefaults()
		}
		if c.RoundTrip != nil {
			c.RoundTrip.setDefaults()
		}
	}
	for i := range s.Maintenance {
		s.Maintenance[i].setDefaults()
	}
}

func (s *Service) validate(v *Validator, path string, cfg *Config) {
	v.CheckName(path+".name", s.Name)
	names := make([]string, len(s.Checks))
	for i := range s.Checks {
		names[i] = s.Checks[i].Name
		s.Checks[i].validate(v, fmt.Sprintf("%s.checks[%d]", path, i), cfg)
	}
	v.Unique("check", names, func(i int) string { return fmt.Sprintf("%s.checks[%d].name", path, i) })
	for i := range s.Maintenance {
		s.Maintenance[i].validate(v, fmt.Sprintf("%s.maintenance[%d]", path, i), cfg)
	}
}

func (c *Check) validate(v *Validator, path string, cfg *Config) {
	v.CheckName(path+".name", c.Name)
	if c.Timeout <= 0 {
		v.Errorf(path+".timeout", "must be positive")
	}
	blocks := map[string]bool{KindHTTP: c.HTTP != nil, KindTCP: c.TCP != nil, KindSMTP: c.SMTP != nil, KindRoundTrip: c.RoundTrip != nil}
	set, ok := blocks[c.Kind]
	switch {
	case c.Kind == "":
		v.Errorf(path+".kind", "a kind is required (http, tcp, smtp or roundtrip)")
		return
	case !ok:
		v.Errorf(path+".kind", "unknown kind %q (want http, tcp, smtp or roundtrip)", c.Kind)
		return
	case !set:
		v.Errorf(path, "kind %q needs a %q block", c.Kind, c.Kind)
	}
	for k, present := range blocks {
		if present && k != c.Kind {
			v.Errorf(path+"."+k, "block %q does not belong to a check of kind %q", k, c.Kind)
		}
	}
	switch {
	case c.HTTP != nil && c.Kind == KindHTTP:
		c.HTTP.validate(v, path+".http", cfg)
	case c.TCP != nil && c.Kind == KindTCP:
		c.TCP.validate(v, path+".tcp", cfg)
	case c.SMTP != nil && c.Kind == KindSMTP:
		c.SMTP.validate(v, path+".smtp", cfg)
	case c.RoundTrip != nil && c.Kind == KindRoundTrip:
		c.RoundTrip.validate(v, path+".roundtrip", cfg)
	}
}

func (h *HTTPCheck) validate(v *Validator, path string, cfg *Config) {
	if h.URL.IsZero() {
		v.Errorf(path+".url", "a URL is required")
	}
	switch h.Method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodOptions:
	default:
		v.Errorf(path+".method", "unsupported method %q", h.Method)
	}
	for i, code := range h.ValidStatusCodes {
		if code < 100 || code > 599 {
			v.Errorf(fmt.Sprintf("%s.valid_status_codes[%d]", path, i), "%d is not an HTTP status code", code)
		}
	}
	h.BodyMustMatch = compileRegexps(v, path+".fail_if_body_not_matches_regexp", h.FailIfBodyNotMatchesRegexp)
	h.BodyMustNotMatch = compileRegexps(v, path+".fail_if_body_matches_regexp", h.FailIfBodyMatchesRegexp)
	h.JSONExpectations = h.JSONExpectations[:0]
	for i, src := range h.ExpectJSON {
		code, err := CompileJQ(src)
		if err != nil {
			v.Errorf(fmt.Sprintf("%s.expect_json[%d]", path, i), "%v", err)
			continue
		}
		h.JSONExpectations = append(h.JSONExpectations, code)
	}
	v.SecretFile(path+".bearer_token_file", &h.BearerTokenFile, cfg)
	if h.BasicAuth != nil {
		if h.BasicAuth.Username == "" {
			v.Errorf(path+".basic_auth.username", "a user name is required")
		}
		if h.BasicAuth.PasswordFile == "" {
			v.Errorf(path+".basic_auth.password_file", "a password file is required (passwords are never written in the config)")
		}
		v.SecretFile(path+".basic_auth.password_file", &h.BasicAuth.PasswordFile, cfg)
		if h.BearerTokenFile != "" {
			v.Errorf(path+".basic_auth", "use either basic_auth or bearer_token_file, not both")
		}
	}
	if h.MaxBodyBytes < 0 {
		v.Errorf(path+".max_body_bytes", "must not be negative")
	}
	h.TLSClient = ValidateTLS(v, path+".tls_config", &h.TLSConfig, cfg)
}

func (t *TCPCheck) validate(v *Validator, path string, cfg *Config) {
	ValidateHostPort(v, path+".address", t.Address)
	t.TLSClient = ValidateTLS(v, path+".tls_config", &t.TLSConfig, cfg)
}

// ValidateHostPort reports a problem unless addr is host:port.
func ValidateHostPort(v *Validator, path, addr string) {
	if addr == "" {
		v.Errorf(path, "an address (host:port) is required")
		return
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		v.Errorf(path, "address %q is not host:port", addr)
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		v.Errorf(path, "address %q has an invalid port", addr)
	}
}

// ValidateTLS resolves the TLS files relative to the config, loads them and
// returns the client TLS config (nil after reporting a problem).
func ValidateTLS(v *Validator, path string, t *commoncfg.TLSConfig, cfg *Config) *tls.Config {
	for _, f := range []*string{&t.CAFile, &t.CertFile, &t.KeyFile} {
		*f = cfg.Resolve(*f)
	}
	tc, err := commoncfg.NewTLSConfig(t)
	if err != nil {
		v.Errorf(path, "%v", err)
		return nil
	}
	// Checks of one document that trust the same CA share one pool: 200
	// https checks would otherwise keep 200 copies of it, and a chain
	// verified for one of them would not count for the others (the
	// verification memo is keyed by pool).
	if tc.RootCAs != nil && (t.CAFile != "" || t.CA != "") {
		key := t.CAFile + "\x00" + string(t.CA)
		if pool, ok := v.rootPools[key]; ok {
			tc.RootCAs = pool
		} else {
			if v.rootPools == nil {
				v.rootPools = map[string]*x509.CertPool{}
			}
			v.rootPools[key] = tc.RootCAs
		}
	}
	return tc
}

func compileRegexps(v *Validator, path string, srcs []string) []*regexp.Regexp {
	out := make([]*regexp.Regexp, 0, len(srcs))
	for i, s := range srcs {
		re, err := regexp.Compile(s)
		if err != nil {
			v.Errorf(fmt.Sprintf("%s[%d]", path, i), "invalid regexp: %v", err)
			continue
		}
		out = append(out, re)
	}
	return out
}

// CompileJQ compiles a jq expression (github.com/itchyny/gojq), the one
// expression language of the config: HTTP body expectations and the generic
// JSON sources use it.
func CompileJQ(src string) (*gojq.Code, error) {
	q, err := gojq.Parse(src)
	if err != nil {
		return nil, fmt.Errorf("invalid jq expression %q: %v", src, err)
	}
	code, err := gojq.Compile(q)
	if err != nil {
		return nil, fmt.Errorf("invalid jq expression %q: %v", src, err)
	}
	return code, nil
}
