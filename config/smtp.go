package config

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/mail"
	"strings"

	commoncfg "github.com/prometheus/common/config"
)

// TLS modes of a mail connection.
const (
	// MailTLSStartTLS upgrades a plain connection with STARTTLS (SMTP
	// submission on 587, IMAP on 143).
	MailTLSStartTLS = "starttls"
	// MailTLSImplicit speaks TLS from the first byte (SMTPS on 465, IMAPS on
	// 993, POP3S on 995).
	MailTLSImplicit = "implicit"
	// MailTLSNone is a plain connection (only sensible on a trusted network).
	MailTLSNone = "none"
)

// SMTPServer is how to reach and log in to an SMTP server. The smtp check
// and the roundtrip check's SMTP submission share it.
type SMTPServer struct {
	// Address is host:port.
	Address string `yaml:"address"`
	// TLS is starttls, implicit or none; default implicit for port 465 and
	// starttls otherwise.
	TLS       string              `yaml:"tls"`
	TLSConfig commoncfg.TLSConfig `yaml:"tls_config"`
	// HeloName is the name sent with EHLO; default "localhost".
	HeloName string    `yaml:"helo_name"`
	Auth     *SMTPAuth `yaml:"auth"`

	TLSClient *tls.Config `yaml:"-"`
}

// SMTPAuth logs in with SASL; the password only ever comes from a file.
type SMTPAuth struct {
	Username     string `yaml:"username"`
	PasswordFile string `yaml:"password_file"`
	// Mechanism is PLAIN (default) or LOGIN.
	Mechanism string `yaml:"mechanism"`
	// AllowInsecure permits AUTH over a connection without TLS (a test
	// server on loopback); otherwise that is a config error, because the
	// password would cross the network in clear.
	AllowInsecure bool `yaml:"allow_insecure"`
}

// SMTPCheck is the per-scrape SMTP dialog check: connect, banner, EHLO,
// STARTTLS, advertised extensions, optional AUTH, optional MAIL FROM/RCPT TO
// acceptance (never DATA: no mail is sent), QUIT.
type SMTPCheck struct {
	SMTPServer `yaml:",inline"`
	// RequireExtensions must all be advertised in the (post-TLS) EHLO
	// answer, e.g. [AUTH, SIZE, PIPELINING]. STARTTLS is implied by
	// tls: starttls.
	RequireExtensions []string `yaml:"require_extensions"`
	// MinMessageSize, when set, fails the check if the server advertises a
	// SIZE limit below it (a broadcast mail must fit).
	MinMessageSize int64 `yaml:"min_message_size"`
	// MailFrom and RcptTo run the acceptance test: the server must accept
	// the envelope; the transaction is then reset without DATA.
	MailFrom string   `yaml:"mail_from"`
	RcptTo   []string `yaml:"rcpt_to"`
}

func (s *SMTPServer) setDefaults() {
	if s.TLS == "" {
		if _, port, err := net.SplitHostPort(s.Address); err == nil && port == "465" {
			s.TLS = MailTLSImplicit
		} else {
			s.TLS = MailTLSStartTLS
		}
	}
	if s.HeloName == "" {
		s.HeloName = "localhost"
	}
	if s.Auth != nil && s.Auth.Mechanism == "" {
		s.Auth.Mechanism = "PLAIN"
	}
}

func (s *SMTPCheck) setDefaults() { s.SMTPServer.setDefaults() }

func (s *SMTPServer) validate(v *Validator, path string, cfg *Config) {
	ValidateHostPort(v, path+".address", s.Address)
	validateMailTLS(v, path+".tls", s.TLS, true)
	if strings.ContainsAny(s.HeloName, " \t\r\n") {
		v.Errorf(path+".helo_name", "helo_name %q must be one word (a host name)", s.HeloName)
	}
	if a := s.Auth; a != nil {
		if a.Username == "" {
			v.Errorf(path+".auth.username", "a user name is required")
		}
		if a.PasswordFile == "" {
			v.Errorf(path+".auth.password_file", "a password file is required (passwords are never written in the config)")
		} else {
			v.SecretFile(path+".auth.password_file", &a.PasswordFile, cfg)
		}
		switch strings.ToUpper(a.Mechanism) {
		case "PLAIN", "LOGIN":
			a.Mechanism = strings.ToUpper(a.Mechanism)
		default:
			v.Errorf(path+".auth.mechanism", "unsupported mechanism %q (want PLAIN or LOGIN)", a.Mechanism)
		}
		if s.TLS == MailTLSNone && !a.AllowInsecure {
			v.Errorf(path+".auth", "AUTH without TLS sends the password in clear; use tls: starttls or implicit (or allow_insecure: true for a loopback test server)")
		}
	}
	s.TLSClient = mailTLSClient(v, path+".tls_config", &s.TLSConfig, s.Address, cfg)
}

func (s *SMTPCheck) validate(v *Validator, path string, cfg *Config) {
	s.SMTPServer.validate(v, path, cfg)
	for i, ext := range s.RequireExtensions {
		if ext == "" || strings.ContainsAny(ext, " \t\r\n") {
			v.Errorf(fmt.Sprintf("%s.require_extensions[%d]", path, i), "extension %q must be one keyword such as AUTH or SIZE", ext)
			continue
		}
		s.RequireExtensions[i] = strings.ToUpper(ext)
	}
	if s.MinMessageSize < 0 {
		v.Errorf(path+".min_message_size", "must not be negative")
	}
	if len(s.RcptTo) > 0 && s.MailFrom == "" {
		v.Errorf(path+".mail_from", "rcpt_to needs mail_from (the envelope sender of the acceptance test)")
	}
	if s.MailFrom != "" {
		validateAddress(v, path+".mail_from", s.MailFrom)
	}
	for i, a := range s.RcptTo {
		validateAddress(v, fmt.Sprintf("%s.rcpt_to[%d]", path, i), a)
	}
}

func validateMailTLS(v *Validator, path, mode string, starttlsOK bool) {
	switch mode {
	case MailTLSImplicit, MailTLSNone:
	case MailTLSStartTLS:
		if !starttlsOK {
			v.Errorf(path, "starttls is not supported here (want implicit or none)")
		}
	default:
		want := "starttls, implicit or none"
		if !starttlsOK {
			want = "implicit or none"
		}
		v.Errorf(path, "unknown TLS mode %q (want %s)", mode, want)
	}
}

// mailTLSClient builds the client TLS config; the server name defaults to
// the host of address so the certificate is verified against it.
func mailTLSClient(v *Validator, path string, t *commoncfg.TLSConfig, address string, cfg *Config) *tls.Config {
	tc := ValidateTLS(v, path, t, cfg)
	if tc == nil {
		return nil
	}
	if tc.ServerName == "" {
		if host, _, err := net.SplitHostPort(address); err == nil {
			tc.ServerName = host
		}
	}
	return tc
}

// validateAddress accepts a bare mail address (local@domain), the form SMTP
// envelopes use.
func validateAddress(v *Validator, path, addr string) {
	a, err := mail.ParseAddress(addr)
	if err != nil || a.Address != addr || a.Name != "" {
		v.Errorf(path, "%q is not a bare mail address such as alert@example.jp", addr)
	}
}
