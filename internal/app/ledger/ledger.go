// Package ledger is the incident ledger (障害台帳) of bosaimail_ledger: it
// opens a 障害票 per incident from Alertmanager's webhook, lets the
// contractor write 事象・原因・対処・状況 on a Japanese web page, keeps
// every change, and carries the prefecture's approvals of exemptions (免責),
// planned stops (計画停止) and 稼働確認 records, which it serves as the
// iCalendar feed the exporter reads and the exemption file the monthly
// report reads.
package ledger

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/gorilla/csrf"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Options configure a Server.
type Options struct {
	Store *Store
	// Users by name (LoadUsers); read again by Server.SetUsers.
	Users map[string]*User
	// WebhookToken is the bearer token Alertmanager sends; APIToken lets
	// the report and the exporter read the API and the feeds (as a bearer
	// token or ?token=). An empty APIToken makes the feeds public.
	WebhookToken, APIToken []byte
	// MaxWebhookBytes bounds a webhook payload.
	MaxWebhookBytes int64
	// Merge joins alerts to a 障害票 resolved less than this long ago (the
	// mixin's outageMergeWindow: the report counts them as one outage).
	Merge time.Duration
	// SessionMaxAge is how long a login lasts.
	SessionMaxAge time.Duration
	// ExemptionLead is how far before the first alert an exemption request
	// starts by default: the service was down for the alert's `for` before
	// the alert fired.
	ExemptionLead time.Duration
	// Services offered in the forms (the exporter's services); free text
	// when empty.
	Services []string
	// Host names the feed's UIDs.
	Host     string
	Registry *prometheus.Registry
	Logger   log.Logger
	Now      func() time.Time
}

// Server serves the ledger.
type Server struct {
	o       Options
	users   atomic.Pointer[map[string]*User]
	sess    *sessions
	csrfKey []byte
	m       *metrics
	logins  *loginLimiter
	handler http.Handler
}

// New builds the server; the session and CSRF keys are kept in the store
// so logins survive a restart.
func New(o Options) (*Server, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = log.NewNopLogger()
	}
	if o.MaxWebhookBytes == 0 {
		o.MaxWebhookBytes = 1 << 20
	}
	if o.SessionMaxAge == 0 {
		o.SessionMaxAge = 12 * time.Hour
	}
	if o.Host == "" {
		o.Host = "bosaimail-ledger"
	}
	hashKey, err := o.Store.Secret("session-hash-key", randomKey(64))
	if err != nil {
		return nil, err
	}
	blockKey, err := o.Store.Secret("session-block-key", randomKey(32))
	if err != nil {
		return nil, err
	}
	csrfKey, err := o.Store.Secret("csrf-key", randomKey(32))
	if err != nil {
		return nil, err
	}
	s := &Server{o: o, sess: newSessions(hashKey, blockKey, o.SessionMaxAge), csrfKey: csrfKey, logins: newLoginLimiter(o.Now)}
	s.SetUsers(o.Users)
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
		s.o.Registry = o.Registry
	}
	s.m = newMetrics(o.Registry, o.Store)
	s.handler = s.routes()
	return s, nil
}

// SetUsers replaces the users (on SIGHUP).
func (s *Server) SetUsers(u map[string]*User) { s.users.Store(&u) }

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	// Machine endpoints: their own tokens, no cookies, no CSRF.
	mux.HandleFunc("POST /api/v1/alerts", s.webhook)
	mux.HandleFunc("GET /api/v1/incidents", s.apiAuth(s.apiIncidents))
	mux.HandleFunc("GET /feeds/maintenance.ics", s.apiAuth(s.feedICS))
	mux.HandleFunc("GET /feeds/exemptions.yaml", s.apiAuth(s.feedExemptions))
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.o.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /-/healthy", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("Healthy\n")) })
	mux.HandleFunc("GET /-/ready", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("Ready\n")) })

	// The web page: a session on every page but the login, a CSRF token
	// on every form.
	web := http.NewServeMux()
	web.HandleFunc("GET /login", s.loginPage)
	web.HandleFunc("POST /login", s.login)
	web.HandleFunc("POST /logout", s.logout)
	web.HandleFunc("GET /{$}", s.need(s.index))
	web.HandleFunc("GET /incidents/{id}", s.need(s.incidentPage))
	web.HandleFunc("POST /incidents/{id}", s.need(s.editIncident))
	web.HandleFunc("POST /incidents/{id}/exemption", s.need(s.requestExemption))
	web.HandleFunc("GET /approvals", s.need(s.approvalsPage))
	web.HandleFunc("POST /approvals", s.need(s.requestApproval))
	web.HandleFunc("POST /approvals/{id}", s.need(s.decide))
	errH := csrf.ErrorHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.m.refused.WithLabelValues("csrf").Inc()
		s.errorPage(w, r, http.StatusForbidden, "フォームの確認用トークンがないか正しくありません。画面を開き直してから、もう一度送信してください。")
	}))
	protect := func(secure bool) http.Handler {
		return csrf.Protect(s.csrfKey,
			csrf.Path("/"), csrf.HttpOnly(true), csrf.SameSite(csrf.SameSiteLaxMode), csrf.Secure(secure),
			csrf.FieldName("csrf_token"), csrf.CookieName("bosaimail_ledger_csrf"), errH)(web)
	}
	// A Secure cookie never comes back over plain HTTP (the loopback demo),
	// so the cookie's flag follows the scheme; the key is the same.
	overTLS, plain := protect(true), protect(false)
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
		w.Header().Set("Referrer-Policy", "same-origin")
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 256<<10)
		}
		if r.TLS != nil {
			overTLS.ServeHTTP(w, r)
			return
		}
		// gorilla/csrf checks the Referer of HTTPS requests only; a
		// plain-HTTP request is marked so it is not refused for lacking one.
		plain.ServeHTTP(w, csrf.PlaintextHTTPRequest(r))
	}))
	return mux
}

// sessionUser is the user of the request's session: nil without one, when
// the user was removed, or when the user logged out after this session
// began (a copied cookie dies with the logout). A store that cannot be
// read admits nobody.
func (s *Server) sessionUser(r *http.Request) *User {
	name, login, ok := s.sess.get(r, s.o.Now())
	if !ok {
		return nil
	}
	u := (*s.users.Load())[name]
	if u == nil {
		return nil
	}
	out, err := s.o.Store.LoggedOut(name)
	if err != nil {
		level.Error(s.o.Logger).Log("msg", "reading the logout time", "user", name, "err", err)
		return nil
	}
	if !login.After(out) {
		return nil
	}
	return u
}

// need requires a session; without one a page redirects to the login and
// a form post is refused.
func (s *Server) need(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u := s.sessionUser(r)
		if u == nil {
			s.m.refused.WithLabelValues("session").Inc()
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/login?next="+urlQueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			s.errorPage(w, r, http.StatusUnauthorized, "ログインしていないか、ログインの有効期限が切れています。ログインし直してください。")
			return
		}
		h(w, withUser(r, u))
	}
}

// apiAuth admits the API token, or a logged-in user.
func (s *Server) apiAuth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if len(s.o.APIToken) == 0 || bearerOK(r, s.o.APIToken, true) {
			h(w, r)
			return
		}
		if s.sessionUser(r) != nil {
			h(w, r)
			return
		}
		s.m.refused.WithLabelValues("token").Inc()
		w.Header().Set("WWW-Authenticate", `Bearer realm="bosaimail_ledger"`)
		http.Error(w, "unauthorized: give the API token (Authorization: Bearer ...)", http.StatusUnauthorized)
	}
}

func (s *Server) webhook(w http.ResponseWriter, r *http.Request) {
	if !bearerOK(r, s.o.WebhookToken, false) {
		s.m.webhook.WithLabelValues("unauthorized").Inc()
		w.Header().Set("WWW-Authenticate", `Bearer realm="bosaimail_ledger"`)
		http.Error(w, "unauthorized: the webhook needs its bearer token (http_config.authorization.credentials_file)", http.StatusUnauthorized)
		return
	}
	body, err := readBounded(r.Body, s.o.MaxWebhookBytes)
	if errors.Is(err, errTooLarge) {
		s.m.webhook.WithLabelValues("too_large").Inc()
		http.Error(w, "payload larger than "+strconv.FormatInt(s.o.MaxWebhookBytes, 10)+" bytes (--webhook.max-bytes)", http.StatusRequestEntityTooLarge)
		return
	}
	if err != nil {
		s.m.webhook.WithLabelValues("bad_request").Inc()
		http.Error(w, "reading the payload: "+err.Error(), http.StatusBadRequest)
		return
	}
	msg, err := ParseMessage(bytes.NewReader(body))
	if err != nil {
		s.m.webhook.WithLabelValues("bad_request").Inc()
		level.Warn(s.o.Logger).Log("msg", "webhook payload refused", "remote", r.RemoteAddr, "err", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	res, err := s.o.Store.Ingest(msg, s.o.Merge, s.o.Now())
	if err != nil {
		// Alertmanager retries a 5xx: nothing is lost.
		s.m.webhook.WithLabelValues("error").Inc()
		level.Error(s.o.Logger).Log("msg", "storing a webhook failed", "err", err)
		http.Error(w, "storing failed: "+err.Error(), http.StatusInternalServerError)
		return
	}
	s.m.webhook.WithLabelValues("ok").Inc()
	s.m.lastWebhook.SetToCurrentTime()
	level.Info(s.o.Logger).Log("msg", "webhook", "receiver", msg.Receiver, "alerts", len(msg.Alerts), "opened", res.Opened, "attached", res.Attached, "resolved", res.Resolved, "duplicate", res.Duplicate, "ignored", res.Ignored)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(res)
}

// apiIncidents lists the 障害票 overlapping ?from= and ?to= (RFC 3339).
func (s *Server) apiIncidents(w http.ResponseWriter, r *http.Request) {
	var from, to time.Time
	for name, dst := range map[string]*time.Time{"from": &from, "to": &to} {
		if v := r.URL.Query().Get(name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				http.Error(w, name+": want an RFC 3339 time: "+err.Error(), http.StatusBadRequest)
				return
			}
			*dst = t
		}
	}
	incs, err := s.o.Store.Incidents(from, to)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if incs == nil {
		incs = []*Incident{}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"incidents": incs})
}

func (s *Server) feedICS(w http.ResponseWriter, r *http.Request) {
	all, err := s.o.Store.Approvals(KindMaintenance, StateApproved)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := WriteICS(&buf, all, r.URL.Query().Get("service"), s.o.Host, s.o.Now()); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/calendar; charset=utf-8")
	w.Write(buf.Bytes())
}

// feedExemptions serves the approved exemptions, and with
// ?confirmations=1 the 稼働確認 records too, in the exemption file format.
func (s *Server) feedExemptions(w http.ResponseWriter, r *http.Request) {
	all, err := s.o.Store.Approvals("", StateApproved)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := WriteExemptions(&buf, Exemptions(all, r.URL.Query().Get("confirmations") == "1")); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/yaml; charset=utf-8")
	w.Write(buf.Bytes())
}
