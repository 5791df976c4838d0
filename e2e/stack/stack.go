// Package stack runs the whole monitoring pipeline on 127.0.0.1 from the
// real programs: the simulated mail service (bosaimail_sim, one per
// service), the mail server it sends through (mailpit "service mail"), the
// exporter, Prometheus with the mixin's rules, Alertmanager with the
// example configuration, the contractor's mail server that receives the
// alert mail (mailpit "ops mail") and a heartbeat receiver standing in for
// the external dead man's switch.
//
// The e2e test and `make demo` both use it, so the demo shows exactly what
// the test checks. Alert mail and service mail go to different mailpits on
// purpose: in production the alert path must not depend on the mail
// service it watches.
package stack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/bosaimail/bosaimail_exporter/internal/testkit/testcerts"
)

// Sim is one simulated service: its name (the `service` label) and ports.
type Sim struct {
	Service string
	HTTP    int
	// HTTPS, when set, serves the same API with a certificate the
	// simulator generates (the expired_cert fault applies to it).
	HTTPS int
}

// Ports of every listener. A zero port is replaced by a free one.
type Ports struct {
	Exporter, Prometheus, Alertmanager              int
	OpsMailUI, OpsMailSMTP                          int
	ServiceMailUI, ServiceMailSMTP, ServiceMailPOP3 int
	Heartbeat                                       int
	// Ledger is the incident ledger; Alertmanager2 the second
	// Alertmanager of Config.SecondAlertmanager.
	Ledger, Alertmanager2 int
	Sims                  []Sim
}

// DemoPorts are the fixed ports of `make demo`. examples/demo/bosaimail.yml
// names the simulators' and the service mail server's addresses with these
// ports; with other ports the stack rewrites them in its copy.
func DemoPorts() Ports {
	return Ports{
		Exporter: 9742, Prometheus: 9090, Alertmanager: 9093,
		OpsMailUI: 8025, OpsMailSMTP: 1025,
		ServiceMailUI: 8026, ServiceMailSMTP: 1026, ServiceMailPOP3: 1110,
		Heartbeat: 9099, Ledger: 9743,
		Sims: []Sim{
			{Service: "delivery", HTTP: 9751, HTTPS: 9752},
			{Service: "registration", HTTP: 9753},
			{Service: "admin", HTTP: 9755},
		},
	}
}

// FreePorts returns the demo's layout with every port zero (chosen free).
func FreePorts() Ports {
	var p Ports
	for _, s := range DemoPorts().Sims {
		s.HTTP = 0
		if s.HTTPS != 0 {
			s.HTTPS = -1 // wanted, port to be chosen
		}
		p.Sims = append(p.Sims, s)
	}
	return p
}

// Config of a stack.
type Config struct {
	// Root is the repository (examples/, rules/). Bin holds this
	// repository's programs (bosaimail_exporter, bosaimail_sim), Tools the
	// pinned ones (prometheus, alertmanager, mailpit); default Bin.
	Root, Bin, Tools string
	// Dir receives the generated configurations, data and logs.
	Dir   string
	Ports Ports
	// ExporterConfig is the exporter configuration written for the demo
	// ports (default examples/demo/bosaimail.yml).
	ExporterConfig string
	// Prometheus intervals (defaults 15s, as in examples/prometheus.yml).
	ScrapeInterval, EvalInterval time.Duration
	// Rules is the glob of the rule files Prometheus loads (default
	// rules/*.yaml of Root: the mixin's generated rules).
	Rules string
	// Log, when set, receives one line per started program.
	Log io.Writer
	// SecondAlertmanager runs another, unclustered Alertmanager that
	// Prometheus notifies as well.
	SecondAlertmanager bool
}

// Stack is a running pipeline.
type Stack struct {
	cfg   Config
	procs []*proc
	// Heartbeat records the Watchdog pings Alertmanager sends.
	Heartbeat *Heartbeat
	// OpsMail receives the alert mail; ServiceMail the simulated service's.
	OpsMail, ServiceMail *Mailbox
	// ExporterConfigPath is the live exporter configuration (edit it and
	// ReloadExporter to change checks or maintenance windows).
	ExporterConfigPath string

	client *http.Client
	// The incident ledger runs when Bin holds bosaimail_ledger.
	ledgerRunning  bool
	ledgerAPIToken string
}

// URLs of the stack's user interfaces and APIs.
func (s *Stack) ExporterURL() string     { return "http://" + addr(s.cfg.Ports.Exporter) }
func (s *Stack) PrometheusURL() string   { return "http://" + addr(s.cfg.Ports.Prometheus) }
func (s *Stack) AlertmanagerURL() string { return "http://" + addr(s.cfg.Ports.Alertmanager) }
func (s *Stack) Ports() Ports            { return s.cfg.Ports }

// SimURL is the plain-HTTP base URL of a service's simulator.
func (s *Stack) SimURL(service string) (string, error) {
	for _, sim := range s.cfg.Ports.Sims {
		if sim.Service == service {
			return "http://" + addr(sim.HTTP), nil
		}
	}
	return "", fmt.Errorf("no simulator for service %q", service)
}

// Start runs the stack and waits until every program is ready. On error
// everything already started is stopped.
func Start(ctx context.Context, cfg Config) (s *Stack, err error) {
	if cfg.ExporterConfig == "" {
		cfg.ExporterConfig = filepath.Join(cfg.Root, "examples", "demo", "bosaimail.yml")
	}
	if cfg.Rules == "" {
		cfg.Rules = filepath.Join(cfg.Root, "rules", "*.yaml")
	}
	if cfg.ScrapeInterval == 0 {
		cfg.ScrapeInterval = 15 * time.Second
	}
	if cfg.EvalInterval == 0 {
		cfg.EvalInterval = 15 * time.Second
	}
	s, err = startAlerting(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()
	if err := s.startServiceMail(ctx); err != nil {
		return s, err
	}
	for _, sim := range cfg.Ports.Sims {
		if err := s.startSim(ctx, sim); err != nil {
			return s, err
		}
	}
	if err := s.startExporter(ctx); err != nil {
		return s, err
	}
	if err := s.startPrometheus(ctx); err != nil {
		return s, err
	}
	return s, nil
}

// StartAlerting runs only the alert delivery part: the heartbeat
// receiver, the ops mail server and Alertmanager, for tests that post
// alerts to Alertmanager themselves.
func StartAlerting(ctx context.Context, cfg Config) (*Stack, error) {
	return startAlerting(ctx, cfg)
}

func startAlerting(ctx context.Context, cfg Config) (s *Stack, err error) {
	if cfg.Tools == "" {
		cfg.Tools = cfg.Bin
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	if err := assignPorts(&cfg.Ports); err != nil {
		return nil, err
	}
	for _, d := range []string{"logs", "data/prometheus", "data/alertmanager", "data/exporter", "tls"} {
		if err := os.MkdirAll(filepath.Join(cfg.Dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	s = &Stack{cfg: cfg, client: &http.Client{Timeout: 10 * time.Second}}
	s.OpsMail = &Mailbox{UI: "http://" + addr(cfg.Ports.OpsMailUI), client: s.client}
	s.ServiceMail = &Mailbox{UI: "http://" + addr(cfg.Ports.ServiceMailUI), client: s.client}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()
	if s.Heartbeat, err = startHeartbeat(cfg.Ports.Heartbeat); err != nil {
		return s, fmt.Errorf("heartbeat receiver: %w", err)
	}
	if err := s.startOpsMail(ctx); err != nil {
		return s, err
	}
	if err := s.startLedger(ctx); err != nil {
		return s, err
	}
	if err := s.startAlertmanager(ctx); err != nil {
		return s, err
	}
	return s, nil
}

// assignPorts fills zero ports with free ones and checks fixed ones are
// free, naming the one that is taken.
func assignPorts(p *Ports) error {
	pick := func(name string, v *int) error {
		if *v > 0 {
			if err := portFree(*v); err != nil {
				return fmt.Errorf("port %d for %s is taken: %w", *v, name, err)
			}
			return nil
		}
		port, err := freePort()
		*v = port
		return err
	}
	for name, v := range map[string]*int{
		"exporter": &p.Exporter, "prometheus": &p.Prometheus, "alertmanager": &p.Alertmanager,
		"ops mail UI": &p.OpsMailUI, "ops mail SMTP": &p.OpsMailSMTP,
		"service mail UI": &p.ServiceMailUI, "service mail SMTP": &p.ServiceMailSMTP, "service mail POP3": &p.ServiceMailPOP3,
		"heartbeat": &p.Heartbeat, "ledger": &p.Ledger, "alertmanager 2": &p.Alertmanager2,
	} {
		if err := pick(name, v); err != nil {
			return err
		}
	}
	for i := range p.Sims {
		if err := pick("simulator "+p.Sims[i].Service, &p.Sims[i].HTTP); err != nil {
			return err
		}
		if p.Sims[i].HTTPS != 0 {
			if p.Sims[i].HTTPS < 0 {
				p.Sims[i].HTTPS = 0
			}
			if err := pick("simulator "+p.Sims[i].Service+" (HTTPS)", &p.Sims[i].HTTPS); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *Stack) path(parts ...string) string {
	return filepath.Join(append([]string{s.cfg.Dir}, parts...)...)
}

func (s *Stack) start(ctx context.Context, name, bin string, args ...string) (*proc, error) {
	dir := s.cfg.Tools
	if strings.HasPrefix(bin, "bosaimail_") {
		dir = s.cfg.Bin
	}
	p, err := startProc(name, s.cfg.Dir, s.path("logs"), filepath.Join(dir, bin), args...)
	if err != nil {
		return nil, err
	}
	s.procs = append(s.procs, p)
	fmt.Fprintf(s.cfg.Log, "started %s (pid %d), log %s\n", name, p.cmd.Process.Pid, p.logPath)
	return p, nil
}

// startOpsMail runs the contractor's mail server: STARTTLS required with a
// certificate from a throw-away CA, and authentication with the password
// of examples/alertmanager/secrets/smtp-password.
func (s *Stack) startOpsMail(ctx context.Context) error {
	ca, err := testcerts.NewCA()
	if err != nil {
		return err
	}
	leaf, err := ca.Leaf([]string{"127.0.0.1", "localhost"}, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	if err != nil {
		return err
	}
	if _, err := ca.WriteCAFile(s.path("tls")); err != nil {
		return err
	}
	certFile, keyFile, err := testcerts.WriteKeyPair(s.path("tls"), "ops-mail", leaf)
	if err != nil {
		return err
	}
	user, password, err := s.smtpAccount()
	if err != nil {
		return err
	}
	authFile := s.path("tls", "ops-mail-auth")
	if err := os.WriteFile(authFile, []byte(user+":"+password+"\n"), 0o600); err != nil {
		return err
	}
	p, err := s.start(ctx, "mailpit-ops", "mailpit",
		"--disable-version-check", "--quiet",
		"--database", s.path("data", "mailpit-ops.db"),
		"--listen", addr(s.cfg.Ports.OpsMailUI),
		"--smtp", addr(s.cfg.Ports.OpsMailSMTP),
		"--smtp-tls-cert", certFile, "--smtp-tls-key", keyFile, "--smtp-require-starttls",
		"--smtp-auth-file", authFile,
		"--smtp-disable-rdns",
	)
	if err != nil {
		return err
	}
	return p.waitHTTP(ctx, s.client, s.OpsMail.UI+"/readyz")
}

// smtpAccount reads the alert mail account from the example configuration
// and its secret file.
func (s *Stack) smtpAccount() (user, password string, err error) {
	amDir := filepath.Join(s.cfg.Root, "examples", "alertmanager")
	b, err := os.ReadFile(filepath.Join(amDir, "alertmanager.yml"))
	if err != nil {
		return "", "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "smtp_auth_username:"); ok {
			user = strings.TrimSpace(v)
		}
	}
	if user == "" {
		return "", "", errors.New("examples/alertmanager/alertmanager.yml: no smtp_auth_username")
	}
	pw, err := os.ReadFile(filepath.Join(amDir, "secrets", "smtp-password"))
	if err != nil {
		return "", "", err
	}
	return user, strings.TrimSpace(string(pw)), nil
}

// startServiceMail runs the simulated service's outgoing mail server (plain
// SMTP, as the simulator forwards) with POP3 for round-trip checks.
func (s *Stack) startServiceMail(ctx context.Context) error {
	// The test mailbox of the round-trip check; its password is the demo
	// configuration's secret, so the exporter logs in with what it reads.
	pw, err := os.ReadFile(filepath.Join(filepath.Dir(s.cfg.ExporterConfig), "secrets", "canary-mailbox-password"))
	if err != nil {
		return fmt.Errorf("service mail: %w", err)
	}
	auth := s.path("tls", "service-mail-pop3-auth")
	if err := os.WriteFile(auth, []byte("canary:"+strings.TrimSpace(string(pw))+"\n"), 0o600); err != nil {
		return err
	}
	p, err := s.start(ctx, "mailpit-service", "mailpit",
		"--disable-version-check", "--quiet",
		"--database", s.path("data", "mailpit-service.db"),
		"--listen", addr(s.cfg.Ports.ServiceMailUI),
		"--smtp", addr(s.cfg.Ports.ServiceMailSMTP),
		"--smtp-auth-accept-any", "--smtp-auth-allow-insecure", "--smtp-disable-rdns",
		"--pop3", addr(s.cfg.Ports.ServiceMailPOP3), "--pop3-auth-file", auth,
	)
	if err != nil {
		return err
	}
	return p.waitHTTP(ctx, s.client, s.ServiceMail.UI+"/readyz")
}

func (s *Stack) startSim(ctx context.Context, sim Sim) error {
	args := []string{
		"--web.listen-address", addr(sim.HTTP),
		"--smtp.address", addr(s.cfg.Ports.ServiceMailSMTP),
	}
	if sim.HTTPS != 0 {
		args = append(args,
			"--web.tls-listen-address", addr(sim.HTTPS),
			"--web.tls-ca-file", s.path("sim-"+sim.Service+"-ca.pem"))
	}
	p, err := s.start(ctx, "sim-"+sim.Service, "bosaimail_sim", args...)
	if err != nil {
		return err
	}
	if err := p.waitHTTP(ctx, s.client, "http://"+addr(sim.HTTP)+"/healthz"); err != nil {
		return err
	}
	if sim.HTTPS != 0 {
		return p.waitTCP(ctx, addr(sim.HTTPS))
	}
	return nil
}

// exporterConfig copies the exporter configuration into the work
// directory, with the demo's addresses replaced by the stack's.
func (s *Stack) exporterConfig() error {
	b, err := os.ReadFile(s.cfg.ExporterConfig)
	if err != nil {
		return err
	}
	demo := DemoPorts()
	var pairs []string
	pair := func(from, to int) {
		if from != to {
			pairs = append(pairs, addr(from), addr(to))
		}
	}
	pair(demo.ServiceMailSMTP, s.cfg.Ports.ServiceMailSMTP)
	pair(demo.ServiceMailPOP3, s.cfg.Ports.ServiceMailPOP3)
	for _, d := range demo.Sims {
		for _, sim := range s.cfg.Ports.Sims {
			if sim.Service == d.Service {
				pair(d.HTTP, sim.HTTP)
				if d.HTTPS != 0 {
					pair(d.HTTPS, sim.HTTPS)
				}
			}
		}
	}
	b = []byte(strings.NewReplacer(pairs...).Replace(string(b)))
	b = s.ledgerCalendars(b)
	s.ExporterConfigPath = s.path("bosaimail.yml")
	if err := os.WriteFile(s.ExporterConfigPath, b, 0o644); err != nil {
		return err
	}
	// Secrets are read relative to the configuration: bring them along.
	return copyDir(filepath.Join(filepath.Dir(s.cfg.ExporterConfig), "secrets"), s.path("secrets"))
}

// copyDir copies the regular files of src (if it exists) into dst.
func copyDir(src, dst string) error {
	entries, err := os.ReadDir(src)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dst, 0o700); err != nil {
		return err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o600); err != nil {
			return err
		}
	}
	return nil
}

func (s *Stack) startExporter(ctx context.Context) error {
	if err := s.exporterConfig(); err != nil {
		return err
	}
	p, err := s.start(ctx, "exporter", "bosaimail_exporter",
		"--config.file", s.ExporterConfigPath,
		"--web.listen-address", addr(s.cfg.Ports.Exporter),
		"--storage.path", s.path("data", "exporter"),
	)
	if err != nil {
		return err
	}
	return p.waitHTTP(ctx, s.client, s.ExporterURL()+"/-/ready")
}

// alertmanagerConfig is the example's Alertmanager configuration for the
// stack: its mail server and CA, and the heartbeat receiver's URL in the
// file the example reads it from.
func (s *Stack) alertmanagerConfig() ([]byte, error) {
	hbFile := s.path("tls", "heartbeat-url")
	if err := os.WriteFile(hbFile, []byte(s.Heartbeat.URL+"\n"), 0o600); err != nil {
		return nil, err
	}
	return AlertmanagerTestConfig(filepath.Join(s.cfg.Root, "examples", "alertmanager", "alertmanager.yml"),
		addr(s.cfg.Ports.OpsMailSMTP), s.path("tls", "ca.pem"), hbFile)
}

func (s *Stack) startAlertmanager(ctx context.Context) error {
	cfg, err := s.alertmanagerConfig()
	if err != nil {
		return err
	}
	if cfg, err = s.ledgerWebhook(cfg); err != nil {
		return err
	}
	cfgPath := s.path("alertmanager.yml")
	if err := os.WriteFile(cfgPath, cfg, 0o644); err != nil {
		return err
	}
	p, err := s.start(ctx, "alertmanager", "alertmanager",
		"--config.file", cfgPath,
		"--storage.path", s.path("data", "alertmanager"),
		"--web.listen-address", addr(s.cfg.Ports.Alertmanager),
		"--web.external-url", s.AlertmanagerURL(),
		"--cluster.listen-address=",
	)
	if err != nil {
		return err
	}
	if err := p.waitHTTP(ctx, s.client, s.AlertmanagerURL()+"/-/ready"); err != nil {
		return err
	}
	if s.cfg.SecondAlertmanager {
		return s.startSecondAlertmanager(ctx, cfgPath)
	}
	return nil
}

func (s *Stack) startPrometheus(ctx context.Context) error {
	cfg := fmt.Sprintf(`# Generated by e2e/stack for %s.
global:
  scrape_interval: %s
  scrape_timeout: %s
  evaluation_interval: %s
  external_labels:
    prefecture: demo
rule_files:
  - %s
alerting:
  alertmanagers:
    - static_configs:
        - targets: [%s]
scrape_configs:
  - job_name: bosaimail
    static_configs:
      - targets: [%q]
`, s.cfg.Dir, s.cfg.ScrapeInterval, s.cfg.ScrapeInterval, s.cfg.EvalInterval,
		strconv.Quote(s.cfg.Rules),
		s.alertmanagerTargets(), addr(s.cfg.Ports.Exporter))
	cfgPath := s.path("prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return err
	}
	p, err := s.start(ctx, "prometheus", "prometheus",
		"--config.file", cfgPath,
		"--storage.tsdb.path", s.path("data", "prometheus"),
		"--web.listen-address", addr(s.cfg.Ports.Prometheus),
		// The graph link of every mail is built from it, as in production
		// (docs/operations.md), not from the host's name.
		"--web.external-url", s.PrometheusURL(),
	)
	if err != nil {
		return err
	}
	return p.waitHTTP(ctx, s.client, s.PrometheusURL()+"/-/ready")
}

// Stop ends every program (last started first) and the heartbeat receiver.
// It reports programs that had to be killed or had died on their own.
func (s *Stack) Stop() error {
	var errs []error
	for i := len(s.procs) - 1; i >= 0; i-- {
		p := s.procs[i]
		if p.exited() {
			errs = append(errs, fmt.Errorf("%s had exited before the stop (%v); log %s:\n%s", p.name, p.err, p.logPath, indent(p.tail(1500))))
			p.logFile.Close()
			continue
		}
		if err := p.stop(10 * time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	s.procs = nil
	if s.Heartbeat != nil {
		s.Heartbeat.close()
	}
	return errors.Join(errs...)
}

// Logs returns the tail of every program's log, for a failing test.
func (s *Stack) Logs(n int64) string {
	var b strings.Builder
	for _, p := range s.procs {
		fmt.Fprintf(&b, "--- %s (%s)\n%s\n", p.name, p.logPath, indent(p.tail(n)))
	}
	return b.String()
}

// SetFaults injects faults into a service's simulator (the JSON of its
// PUT /api/v1/faults, e.g. {"health_fail": true}); ClearFaults lifts them.
func (s *Stack) SetFaults(ctx context.Context, service, faultsJSON string) error {
	return s.simFaults(ctx, service, http.MethodPut, faultsJSON)
}

// ClearFaults makes a service's simulator healthy again.
func (s *Stack) ClearFaults(ctx context.Context, service string) error {
	return s.simFaults(ctx, service, http.MethodDelete, "")
}

func (s *Stack) simFaults(ctx context.Context, service, method, body string) error {
	base, err := s.SimURL(service)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, base+"/api/v1/faults", strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	return s.do(req)
}

// ReloadExporter makes the exporter re-read its configuration.
func (s *Stack) ReloadExporter(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.ExporterURL()+"/-/reload", nil)
	if err != nil {
		return err
	}
	return s.do(req)
}

func (s *Stack) do(req *http.Request) error {
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: HTTP %d: %s", req.Method, req.URL, resp.StatusCode, bytes.TrimSpace(body))
	}
	return nil
}

// Exited names a program of the stack that has ended, or returns "".
func (s *Stack) Exited() string {
	for _, p := range s.procs {
		if p.exited() {
			return p.name
		}
	}
	return ""
}
