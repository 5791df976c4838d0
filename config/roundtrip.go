package config

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"text/template"
	"time"

	commoncfg "github.com/prometheus/common/config"
)

// Mailbox protocols of the roundtrip check.
const (
	MailboxPOP3 = "pop3"
	MailboxIMAP = "imap"
)

// RoundTripCheck sends a uniquely tagged canary mail (by SMTP submission or
// through the mail service's own HTTP delivery API) and watches a test
// mailbox until exactly that message arrives, then deletes it. It runs in
// the background on its own interval, never per scrape.
type RoundTripCheck struct {
	// Interval between two canaries; default 5m.
	Interval Duration `yaml:"interval"`
	// Deadline is how long a canary may take to arrive before the run
	// fails with reason timeout; default 2m, less than interval.
	Deadline Duration `yaml:"deadline"`
	// PollInterval is how often the mailbox is looked at while waiting; it
	// is also the resolution of the measured latency. Default 2s.
	PollInterval Duration `yaml:"poll_interval"`
	// StaleAfter: canaries of this check that this exporter did not send
	// (another instance, an earlier process) are deleted once older than
	// this; default 2 × interval, so an HA pair never eats each other's
	// canaries.
	StaleAfter Duration      `yaml:"stale_after"`
	Send       RoundTripSend `yaml:"send"`
	Mailbox    Mailbox       `yaml:"mailbox"`
}

// RoundTripSend: exactly one of smtp or http.
type RoundTripSend struct {
	SMTP *RoundTripSMTP `yaml:"smtp"`
	HTTP *RoundTripHTTP `yaml:"http"`
}

// RoundTripSMTP submits the canary over SMTP.
type RoundTripSMTP struct {
	SMTPServer `yaml:",inline"`
	From       string   `yaml:"from"`
	To         []string `yaml:"to"`
}

// RoundTripHTTP asks the mail service to send the canary through its own
// delivery API, so the whole path (API, queue, MTA) is measured.
type RoundTripHTTP struct {
	URL     URL               `yaml:"url"`
	Method  string            `yaml:"method"`
	Headers map[string]string `yaml:"headers"`
	// Body is a Go text/template rendered per canary; fields .Tag, .Subject,
	// .Text and .SentAt, and the function json that quotes a value as a JSON
	// string, e.g. {"subject": {{json .Subject}}, "body": {{json .Text}}}.
	Body string `yaml:"body"`
	// BearerTokenFile sends "Authorization: Bearer <token>".
	BearerTokenFile string `yaml:"bearer_token_file"`
	// ValidStatusCodes defaults to any 2xx.
	ValidStatusCodes []int               `yaml:"valid_status_codes"`
	TLSConfig        commoncfg.TLSConfig `yaml:"tls_config"`

	BodyTemplate *template.Template `yaml:"-"`
	TLSClient    *tls.Config        `yaml:"-"`
}

// Mailbox is the test mailbox the canaries arrive in.
type Mailbox struct {
	// Protocol is pop3 or imap.
	Protocol string `yaml:"protocol"`
	Address  string `yaml:"address"`
	// TLS is implicit (default for ports 993 and 995), starttls (IMAP only)
	// or none.
	TLS          string              `yaml:"tls"`
	TLSConfig    commoncfg.TLSConfig `yaml:"tls_config"`
	Username     string              `yaml:"username"`
	PasswordFile string              `yaml:"password_file"`
	// Folder is the IMAP mailbox; default INBOX.
	Folder string `yaml:"folder"`
	// MaxMessageBytes: larger messages are never fetched (a canary is
	// small); default 256 KiB.
	MaxMessageBytes int64 `yaml:"max_message_bytes"`

	TLSClient *tls.Config `yaml:"-"`
}

// RoundTripTemplateData is what the HTTP body template sees.
type RoundTripTemplateData struct {
	Tag     string
	Subject string
	Text    string
	SentAt  string
}

// RoundTripTemplateFuncs are the functions of the HTTP body template.
var RoundTripTemplateFuncs = template.FuncMap{
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
}

func (r *RoundTripCheck) setDefaults() {
	if r.Interval == 0 {
		r.Interval = Duration(5 * time.Minute)
	}
	if r.Deadline == 0 {
		r.Deadline = Duration(2 * time.Minute)
		if r.Deadline >= r.Interval {
			r.Deadline = r.Interval / 2
		}
	}
	if r.PollInterval == 0 {
		r.PollInterval = Duration(2 * time.Second)
	}
	if r.StaleAfter == 0 {
		r.StaleAfter = 2 * r.Interval
	}
	if s := r.Send.SMTP; s != nil {
		s.SMTPServer.setDefaults()
	}
	if h := r.Send.HTTP; h != nil && h.Method == "" {
		h.Method = http.MethodPost
	}
	m := &r.Mailbox
	if m.TLS == "" {
		m.TLS = MailTLSNone
		if strings.HasSuffix(m.Address, ":993") || strings.HasSuffix(m.Address, ":995") {
			m.TLS = MailTLSImplicit
		}
	}
	if m.Folder == "" {
		m.Folder = "INBOX"
	}
	if m.MaxMessageBytes == 0 {
		m.MaxMessageBytes = 256 << 10
	}
}

func (r *RoundTripCheck) validate(v *Validator, path string, cfg *Config) {
	if r.Interval < Duration(time.Second) {
		v.Errorf(path+".interval", "must be at least 1s")
	}
	if r.Deadline <= 0 {
		v.Errorf(path+".deadline", "must be positive")
	} else if r.Deadline >= r.Interval {
		v.Errorf(path+".deadline", "deadline %s must be shorter than interval %s (one canary at a time)", r.Deadline, r.Interval)
	}
	if r.PollInterval < Duration(100*time.Millisecond) {
		v.Errorf(path+".poll_interval", "must be at least 100ms")
	} else if r.PollInterval > r.Deadline {
		v.Errorf(path+".poll_interval", "poll_interval %s is longer than deadline %s", r.PollInterval, r.Deadline)
	}
	if r.StaleAfter <= r.Deadline {
		v.Errorf(path+".stale_after", "stale_after %s must be longer than deadline %s", r.StaleAfter, r.Deadline)
	}
	switch s := r.Send; {
	case s.SMTP == nil && s.HTTP == nil:
		v.Errorf(path+".send", "one of send.smtp or send.http is required")
	case s.SMTP != nil && s.HTTP != nil:
		v.Errorf(path+".send", "set only one of send.smtp and send.http")
	case s.SMTP != nil:
		s.SMTP.validate(v, path+".send.smtp", cfg)
	default:
		s.HTTP.validate(v, path+".send.http", cfg)
	}
	r.Mailbox.validate(v, path+".mailbox", cfg)
}

func (s *RoundTripSMTP) validate(v *Validator, path string, cfg *Config) {
	s.SMTPServer.validate(v, path, cfg)
	if s.From == "" {
		v.Errorf(path+".from", "an envelope sender is required")
	} else {
		validateAddress(v, path+".from", s.From)
	}
	if len(s.To) == 0 {
		v.Errorf(path+".to", "at least one recipient (the test mailbox's address) is required")
	}
	for i, a := range s.To {
		validateAddress(v, fmt.Sprintf("%s.to[%d]", path, i), a)
	}
}

func (h *RoundTripHTTP) validate(v *Validator, path string, cfg *Config) {
	if h.URL.IsZero() {
		v.Errorf(path+".url", "a URL is required")
	}
	switch h.Method {
	case http.MethodPost, http.MethodPut:
	default:
		v.Errorf(path+".method", "unsupported method %q (want POST or PUT)", h.Method)
	}
	v.SecretFile(path+".bearer_token_file", &h.BearerTokenFile, cfg)
	for k := range h.Headers {
		if strings.EqualFold(k, "Authorization") {
			v.Errorf(path+".headers."+k, "credentials never go in the config; use bearer_token_file")
		}
	}
	for i, code := range h.ValidStatusCodes {
		if code < 100 || code > 599 {
			v.Errorf(fmt.Sprintf("%s.valid_status_codes[%d]", path, i), "%d is not an HTTP status code", code)
		}
	}
	if h.Body == "" {
		v.Errorf(path+".body", "a body template is required; it must carry {{.Tag}} (or .Subject/.Text) so the canary can be recognised")
	} else if t, err := template.New("body").Funcs(RoundTripTemplateFuncs).Option("missingkey=error").Parse(h.Body); err != nil {
		v.Errorf(path+".body", "invalid template: %v", err)
	} else {
		var buf bytes.Buffer
		const tag = "bosaimail-sample-tag"
		sample := RoundTripTemplateData{Tag: tag, Subject: "subject " + tag, Text: "text " + tag, SentAt: "2026-01-01T00:00:00+09:00"}
		switch err := t.Execute(&buf, sample); {
		case err != nil:
			v.Errorf(path+".body", "template fails: %v", err)
		case !json.Valid(buf.Bytes()):
			v.Errorf(path+".body", "template does not render JSON (quote values with the json function): %s", buf.String())
		case !bytes.Contains(buf.Bytes(), []byte(tag)):
			v.Errorf(path+".body", "template uses none of .Tag, .Subject or .Text: the canary could not be recognised")
		default:
			h.BodyTemplate = t
		}
	}
	h.TLSClient = ValidateTLS(v, path+".tls_config", &h.TLSConfig, cfg)
}

func (m *Mailbox) validate(v *Validator, path string, cfg *Config) {
	switch m.Protocol {
	case MailboxPOP3:
		// POP3 servers (mailpit's among them) offer TLS from the first byte;
		// STLS is not supported by the client.
		validateMailTLS(v, path+".tls", m.TLS, false)
	case MailboxIMAP:
		validateMailTLS(v, path+".tls", m.TLS, true)
	case "":
		v.Errorf(path+".protocol", "a protocol is required (pop3 or imap)")
	default:
		v.Errorf(path+".protocol", "unknown protocol %q (want pop3 or imap)", m.Protocol)
	}
	ValidateHostPort(v, path+".address", m.Address)
	if m.Username == "" {
		v.Errorf(path+".username", "a user name is required")
	}
	if m.PasswordFile == "" {
		v.Errorf(path+".password_file", "a password file is required (passwords are never written in the config)")
	} else {
		v.SecretFile(path+".password_file", &m.PasswordFile, cfg)
	}
	if m.MaxMessageBytes < 1024 {
		v.Errorf(path+".max_message_bytes", "must be at least 1024")
	}
	m.TLSClient = mailTLSClient(v, path+".tls_config", &m.TLSConfig, m.Address, cfg)
}
