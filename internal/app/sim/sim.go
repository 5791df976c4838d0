// Package sim is a small simulated disaster-alert mail service for the demo
// and end-to-end tests: JSON health and readiness endpoints, a delivery API
// that forwards mail to a real SMTP server (mailpit), and a fault-injection
// API to break it on purpose (failing health, slowness, HTTP 500, silently
// dropped mail, an expired certificate).
//
// The HTTP mux is extensible: other parts of the simulator (e.g. the
// broadcast mode) mount their handlers with Handle or on Mux().
package sim

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/mail"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/bosaimail/bosaimail_exporter/internal/testkit/testcerts"
)

// Limits of the delivery API.
const (
	MaxRequestBytes = 1 << 20
	MaxRecipients   = 1000
	MaxSubjectBytes = 998
	// MaxDelay bounds an injected slowdown.
	MaxDelay = 5 * time.Minute
)

// Options configure a simulator.
type Options struct {
	// SMTPAddress is where mail is forwarded (host:port, plain SMTP).
	SMTPAddress string
	// From is the sender of the alert mails.
	From   string
	Logger log.Logger
	// SMTPTimeout bounds one forward; default 30s.
	SMTPTimeout time.Duration
}

// Faults is the injected fault state; the zero value is a healthy service.
type Faults struct {
	// HealthFail makes /healthz and /readyz answer 503.
	HealthFail bool `json:"health_fail"`
	// HealthFailRequests makes the next this many requests to /healthz or
	// /readyz answer 503, then the service is healthy again: a blip that
	// one probe sees and the next does not.
	HealthFailRequests int `json:"health_fail_requests"`
	// Delay is added to every API answer (e.g. "3s").
	Delay Duration `json:"delay"`
	// Error500 makes the delivery API answer 500 without sending.
	Error500 bool `json:"error_500"`
	// StopForwarding accepts deliveries (202) but drops the mail: the
	// silent loss only a round-trip check can see.
	StopForwarding bool `json:"stop_forwarding"`
	// ExpiredCert makes the HTTPS listener present an expired certificate.
	ExpiredCert bool `json:"expired_cert"`
}

// Duration is a time.Duration written as "3s" in JSON.
type Duration time.Duration

// MarshalJSON writes the duration as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "3s" (or a number of seconds).
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("invalid duration %q", s)
		}
		*d = Duration(v)
		return nil
	}
	var secs float64
	if err := json.Unmarshal(b, &secs); err != nil {
		return errors.New(`a duration is a string such as "3s" or a number of seconds`)
	}
	*d = Duration(secs * float64(time.Second))
	return nil
}

// Server is the simulated service.
type Server struct {
	opts Options
	mux  *http.ServeMux

	mu     sync.Mutex
	faults Faults

	delivered, dropped, failed, rejected atomic.Int64
	started                              time.Time
}

// New builds a simulator; mount Handler() on an HTTP server.
func New(o Options) *Server {
	if o.Logger == nil {
		o.Logger = log.NewNopLogger()
	}
	if o.SMTPTimeout <= 0 {
		o.SMTPTimeout = 30 * time.Second
	}
	if o.From == "" {
		o.From = "bosai@example.jp"
	}
	s := &Server{opts: o, mux: http.NewServeMux(), started: time.Now()}
	s.mux.HandleFunc("GET /healthz", s.withDelay(s.healthz))
	s.mux.HandleFunc("GET /readyz", s.withDelay(s.readyz))
	s.mux.HandleFunc("GET /api/v1/status", s.withDelay(s.status))
	s.mux.HandleFunc("POST /api/v1/deliveries", s.withDelay(s.deliveries))
	s.mux.HandleFunc("GET /api/v1/faults", s.getFaults)
	s.mux.HandleFunc("PUT /api/v1/faults", s.putFaults)
	s.mux.HandleFunc("DELETE /api/v1/faults", s.deleteFaults)
	return s
}

// Handler serves the simulator.
func (s *Server) Handler() http.Handler { return s.mux }

// Mux is the simulator's mux, for parts that register their own routes.
func (s *Server) Mux() *http.ServeMux { return s.mux }

// Handle mounts another handler on the simulator.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// Faults returns the current fault state.
func (s *Server) Faults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults
}

// SetFaults replaces the fault state.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	s.faults = f
	s.mu.Unlock()
	level.Info(s.opts.Logger).Log("msg", "faults set", "health_fail", f.HealthFail, "health_fail_requests", f.HealthFailRequests, "delay", time.Duration(f.Delay), "error_500", f.Error500, "stop_forwarding", f.StopForwarding, "expired_cert", f.ExpiredCert)
}

func (s *Server) withDelay(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if d := time.Duration(s.Faults().Delay); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-r.Context().Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		h(w, r)
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func apiError(w http.ResponseWriter, code int, format string, args ...any) {
	writeJSON(w, code, map[string]string{"status": "error", "error": fmt.Sprintf(format, args...)})
}

// healthFailing tells whether this health request fails, using up one of
// the HealthFailRequests.
func (s *Server) healthFailing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.faults.HealthFailRequests > 0 {
		s.faults.HealthFailRequests--
		return true
	}
	return s.faults.HealthFail
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	if s.healthFailing() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "fail", "reason": "fault injected: health_fail"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz also checks that the SMTP server answers, as a real service's
// readiness would check its dependencies.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	checks := map[string]string{"smtp": "ok"}
	ok := true
	if s.healthFailing() {
		checks["app"], ok = "fault injected: health_fail", false
	} else {
		checks["app"] = "ok"
	}
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	var d net.Dialer
	if c, err := d.DialContext(ctx, "tcp", s.opts.SMTPAddress); err != nil {
		checks["smtp"], ok = "unreachable", false
	} else {
		c.Close()
	}
	status, code := "ok", http.StatusOK
	if !ok {
		status, code = "fail", http.StatusServiceUnavailable
	}
	writeJSON(w, code, map[string]any{"status": status, "checks": checks})
}

func (s *Server) status(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"service":         "bosaimail-sim",
		"started":         s.started.UTC().Format(time.RFC3339),
		"faults":          s.Faults(),
		"delivered_total": s.delivered.Load(),
		"dropped_total":   s.dropped.Load(),
		"failed_total":    s.failed.Load(),
		"rejected_total":  s.rejected.Load(),
	})
}

func (s *Server) getFaults(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Faults())
}

// putFaults merges the given fields into the fault state: PUT
// {"stop_forwarding": true} leaves the other faults as they are.
func (s *Server) putFaults(w http.ResponseWriter, r *http.Request) {
	f := s.Faults()
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		apiError(w, http.StatusBadRequest, "faults: %v", err)
		return
	}
	if f.HealthFailRequests < 0 {
		apiError(w, http.StatusBadRequest, "faults: health_fail_requests must not be negative")
		return
	}
	if f.Delay < 0 || time.Duration(f.Delay) > MaxDelay {
		apiError(w, http.StatusBadRequest, "faults: delay must be between 0 and %s", MaxDelay)
		return
	}
	s.SetFaults(f)
	writeJSON(w, http.StatusOK, f)
}

func (s *Server) deleteFaults(w http.ResponseWriter, _ *http.Request) {
	s.SetFaults(Faults{})
	writeJSON(w, http.StatusOK, Faults{})
}

// Delivery is one request to the delivery API.
type Delivery struct {
	To      []string `json:"to"`
	Subject string   `json:"subject"`
	Body    string   `json:"body"`
}

// Validate reports the first problem of a delivery, naming the field.
func (d *Delivery) Validate() error {
	if len(d.To) == 0 {
		return errors.New("to: at least one recipient is required")
	}
	if len(d.To) > MaxRecipients {
		return fmt.Errorf("to: %d recipients, at most %d", len(d.To), MaxRecipients)
	}
	for i, a := range d.To {
		p, err := mail.ParseAddress(a)
		if err != nil || p.Address != a {
			return fmt.Errorf("to[%d]: %q is not a bare mail address", i, a)
		}
	}
	if strings.TrimSpace(d.Subject) == "" {
		return errors.New("subject: required")
	}
	if len(d.Subject) > MaxSubjectBytes || strings.ContainsAny(d.Subject, "\r\n") {
		return fmt.Errorf("subject: must be one line of at most %d bytes", MaxSubjectBytes)
	}
	return nil
}

// DecodeDelivery reads a delivery request strictly (unknown fields are
// errors) and validates it.
func DecodeDelivery(r io.Reader) (*Delivery, error) {
	dec := json.NewDecoder(io.LimitReader(r, MaxRequestBytes+1))
	dec.DisallowUnknownFields()
	var d Delivery
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("invalid JSON: %v", err)
	}
	if dec.More() {
		return nil, errors.New("invalid JSON: more than one value")
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return &d, nil
}

// ErrInjected500 and ErrDropped tell callers of Deliver what a fault did.
var (
	ErrInjected500 = errors.New("fault injected: error_500")
)

// Deliver sends one delivery through the faults: an error_500 fault fails
// it, stop_forwarding drops it silently (nil error, dropped=true).
func (s *Server) Deliver(ctx context.Context, d *Delivery) (id string, dropped bool, err error) {
	f := s.Faults()
	if f.Error500 {
		s.failed.Add(1)
		return "", false, ErrInjected500
	}
	id = newID()
	if f.StopForwarding {
		s.dropped.Add(1)
		level.Info(s.opts.Logger).Log("msg", "delivery dropped (fault stop_forwarding)", "id", id, "recipients", len(d.To))
		return id, true, nil
	}
	if err := s.forward(ctx, id, d); err != nil {
		s.failed.Add(1)
		return "", false, err
	}
	s.delivered.Add(1)
	return id, false, nil
}

func (s *Server) deliveries(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength > MaxRequestBytes {
		s.rejected.Add(1)
		apiError(w, http.StatusRequestEntityTooLarge, "request larger than %d bytes", MaxRequestBytes)
		return
	}
	d, err := DecodeDelivery(r.Body)
	if err != nil {
		s.rejected.Add(1)
		apiError(w, http.StatusBadRequest, "%v", err)
		return
	}
	id, _, err := s.Deliver(r.Context(), d)
	switch {
	case errors.Is(err, ErrInjected500):
		apiError(w, http.StatusInternalServerError, "%v", err)
	case err != nil:
		level.Warn(s.opts.Logger).Log("msg", "forwarding failed", "err", err)
		apiError(w, http.StatusBadGateway, "forwarding to SMTP failed: %v", err)
	default:
		// A dropped delivery answers exactly like a good one: that is the
		// point of the fault.
		writeJSON(w, http.StatusAccepted, map[string]any{"status": "accepted", "id": id, "recipients": len(d.To)})
	}
}

func newID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// forward submits the mail over SMTP, bounded by SMTPTimeout.
func (s *Server) forward(ctx context.Context, id string, d *Delivery) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.SMTPTimeout)
	defer cancel()
	var dialer net.Dialer
	conn, err := dialer.DialContext(ctx, "tcp", s.opts.SMTPAddress)
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	c := smtp.NewClient(conn)
	defer c.Close()
	c.CommandTimeout = s.opts.SMTPTimeout
	if err := c.Hello("bosaimail-sim.localhost"); err != nil {
		return err
	}
	if err := c.SendMail(s.opts.From, d.To, bytes.NewReader(compose(id, s.opts.From, d, time.Now()))); err != nil {
		return err
	}
	return c.Quit()
}

// compose writes the alert mail as a Japanese service would: UTF-8 subject
// in MIME encoded-words, base64 body.
func compose(id, from string, d *Delivery, now time.Time) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: %s\r\n", mime.BEncoding.Encode("UTF-8", "防災メール")+" <"+from+">")
	fmt.Fprintf(&b, "To: %s\r\n", strings.Join(d.To, ", "))
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.BEncoding.Encode("UTF-8", d.Subject))
	fmt.Fprintf(&b, "Date: %s\r\n", now.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%s@bosaimail-sim>\r\n", id)
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	enc := base64.StdEncoding.EncodeToString([]byte(d.Body))
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n")
	return b.Bytes()
}

// TLSConfig serves the valid certificate, or the expired one while the
// expired_cert fault is set (checked per handshake, so it takes effect at
// once).
// GetConfigForClient is used rather than GetCertificate because the latter
// is skipped for clients that send no SNI (any client dialling an IP).
func (s *Server) TLSConfig(valid, expired tls.Certificate) *tls.Config {
	good := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{valid}}
	bad := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{expired}}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{valid},
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			if s.Faults().ExpiredCert {
				return bad, nil
			}
			return good, nil
		},
	}
}

// Certificates makes what the HTTPS listener serves: a valid certificate
// and an expired one for the same hosts, both signed by one new CA (whose
// PEM clients trust), so the expired_cert fault shows as "expired", not as
// an unknown issuer.
func Certificates(hosts ...string) (caPEM []byte, valid, expired tls.Certificate, err error) {
	if len(hosts) == 0 {
		return nil, valid, expired, errors.New("no host names for the certificate")
	}
	ca, err := testcerts.NewCA()
	if err != nil {
		return nil, valid, expired, err
	}
	now := time.Now()
	if valid, err = ca.Leaf(hosts, now.Add(-time.Hour), now.Add(90*24*time.Hour)); err != nil {
		return nil, valid, expired, err
	}
	if expired, err = ca.Leaf(hosts, now.Add(-90*24*time.Hour), now.Add(-24*time.Hour)); err != nil {
		return nil, valid, expired, err
	}
	return ca.PEM, valid, expired, nil
}
