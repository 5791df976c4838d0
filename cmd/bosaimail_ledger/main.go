// Command bosaimail_ledger is the incident ledger (障害台帳): it receives
// Alertmanager's webhook and opens a 障害票 per incident, serves a Japanese
// web page to write and approve them, and serves the approved planned
// stops (iCalendar) and exemptions (YAML) the exporter and the monthly
// report read. See docs/ledger.md.
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/bosaimail/bosaimail_exporter/internal/app/ledger"
	"github.com/bosaimail/bosaimail_exporter/internal/logging"
)

// defaultPort is the exporter's 9742 plus one.
const defaultPort = ":9743"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout))
}

func run(args []string, stdin io.Reader, stdout io.Writer) int {
	app := kingpin.New("bosaimail_ledger", "Incident ledger (障害台帳) of the disaster-alert mail service: Alertmanager webhook, Japanese web page, approvals.")
	app.Command("serve", "Run the ledger (the default).").Default()
	var (
		dbPath       = app.Flag("storage.path", "The ledger's database file (bbolt); created when missing.").Default("data/ledger.db").String()
		usersFile    = app.Flag("users.file", "YAML file of logins with bcrypt hashes and roles (contractor, approver, viewer); re-read on SIGHUP. Required.").String()
		webhookToken = app.Flag("webhook.token-file", "File holding the bearer token Alertmanager's webhook sends. Required.").String()
		apiToken     = app.Flag("api.token-file", "File holding the token of the API and feeds (the report, the exporter's calendar URL as ?token=). Without it the feeds are readable by anyone who can reach the ledger.").String()
		maxBytes     = app.Flag("webhook.max-bytes", "Largest webhook payload accepted.").Default("1048576").Int64()
		merge        = app.Flag("incident.merge-window", "An alert within this time after its 障害票 recovered joins it again (the mixin's outageMergeWindow).").Default("5m").Duration()
		lead         = app.Flag("exemption.lead", "Default start of an exemption request this long before the first alert (the service was down for the alert's `for` before it fired).").Default("5m").Duration()
		sessionAge   = app.Flag("web.session-max-age", "How long a login lasts.").Default("12h").Duration()
		services     = app.Flag("service", "A service offered in the planned-stop and 稼働確認 forms (repeat; the exporter's service names).").Strings()
		host         = app.Flag("web.external-host", "Host name used in the iCalendar UIDs.").Default("bosaimail-ledger").String()
		toolkitFlags = kingpinflag.AddFlags(app, defaultPort)
		logCfg       logging.Config
	)
	app.Command("hash-password", "Read a password from standard input and print its bcrypt hash for the users file.")
	logging.AddFlags(app, &logCfg)
	app.Version(version.Print("bosaimail_ledger"))
	cmd, err := app.Parse(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if cmd == "hash-password" {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		pw := strings.TrimRight(line, "\r\n")
		if pw == "" {
			fmt.Fprintln(os.Stderr, "empty password")
			return 1
		}
		h, err := ledger.HashPassword(pw)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Fprintln(stdout, h)
		return 0
	}
	logger, err := logging.New(logCfg, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	fail := func(msg string, err error) int {
		level.Error(logger).Log("msg", msg, "err", err)
		return 1
	}
	if *usersFile == "" || *webhookToken == "" {
		return fail("missing flags", errors.New("--users.file and --webhook.token-file are required"))
	}
	users, err := ledger.LoadUsers(*usersFile)
	if err != nil {
		return fail("bad --users.file", err)
	}
	wt, err := ledger.ReadToken(*webhookToken)
	if err != nil {
		return fail("bad --webhook.token-file", err)
	}
	at, err := ledger.ReadToken(*apiToken)
	if err != nil {
		return fail("bad --api.token-file", err)
	}
	if *maxBytes <= 0 || *merge < 0 || *lead < 0 || *sessionAge <= 0 {
		return fail("bad flags", errors.New("--webhook.max-bytes and --web.session-max-age must be positive, --incident.merge-window and --exemption.lead not negative"))
	}
	store, err := ledger.OpenStore(*dbPath, 10*time.Second)
	if err != nil {
		return fail("cannot open the database", err)
	}
	defer store.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(versioncollector.NewCollector("bosaimail_ledger"), collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	srv, err := ledger.New(ledger.Options{
		Store: store, Users: users, WebhookToken: wt, APIToken: at, MaxWebhookBytes: *maxBytes,
		Merge: *merge, ExemptionLead: *lead, SessionMaxAge: *sessionAge, Services: *services, Host: *host,
		Registry: reg, Logger: logger,
	})
	if err != nil {
		return fail("cannot start", err)
	}
	level.Info(logger).Log("msg", "starting bosaimail_ledger", "version", version.Info(), "database", *dbPath, "users", len(users))

	server := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          logging.StdError(logger, "http"),
	}
	webLogger, err := logging.Slog(logCfg, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- web.ListenAndServe(server, toolkitFlags, webLogger) }()

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM)
	for {
		select {
		case err := <-serveErr:
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				return fail("web server failed", err)
			}
			return 0
		case s := <-sig:
			if s == syscall.SIGHUP {
				u, err := ledger.LoadUsers(*usersFile)
				if err != nil {
					level.Error(logger).Log("msg", "users file not reloaded; the old one stays in effect", "err", err)
					continue
				}
				srv.SetUsers(u)
				level.Info(logger).Log("msg", "users file reloaded", "users", len(u))
				continue
			}
			level.Info(logger).Log("msg", "shutting down", "signal", s.String())
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = server.Shutdown(ctx)
			cancel()
			return 0
		}
	}
}
