// Command bosaimail_report writes the monthly operations report
// (運用保守業務報告書（月次）) of the disaster-alert mail service from the
// Prometheus HTTP API, as XLSX, Markdown and CSV in Japanese.
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-kit/log/level"
	commonconfig "github.com/prometheus/common/config"
	"github.com/prometheus/common/version"

	"github.com/bosaimail/bosaimail_exporter/internal/app/report"
	"github.com/bosaimail/bosaimail_exporter/internal/exemption"
	"github.com/bosaimail/bosaimail_exporter/internal/logging"
)

func main() {
	os.Exit(run(os.Args[1:], time.Now))
}

func run(args []string, now func() time.Time) int {
	app := kingpin.New("bosaimail_report", "Writes the monthly operations report (運用保守業務報告書（月次）) from Prometheus.")
	var (
		promURLs    = app.Flag("prometheus.url", "Base URL of the Prometheus HTTP API; repeat it for the replicas of an HA pair (a minute is 稼働未確認 only if no replica observed it).").Default("http://127.0.0.1:9090").Strings()
		httpConfig  = app.Flag("prometheus.http-config", "Optional file with the HTTP client settings (TLS, basic auth, bearer token) for Prometheus, in Prometheus' http_config format.").ExistingFile()
		timeout     = app.Flag("prometheus.timeout", "Timeout of each query.").Default("2m").Duration()
		maxBytes    = app.Flag("prometheus.max-response-bytes", "Largest answer read from Prometheus.").Default("268435456").Int64()
		month       = app.Flag("month", "Calendar month in JST, YYYY-MM (default: the previous month).").String()
		outDir      = app.Flag("out", "Directory to write the report into.").Default(".").String()
		formats     = app.Flag("format", "Comma-separated formats: xlsx, md, csv.").Default("xlsx,md,csv").String()
		exemptions  = app.Flag("exemptions", "YAML file of agreed exemptions (免責), see docs/report.md.").ExistingFile()
		ledgerURL   = app.Flag("ledger.url", "Base URL of the incident ledger (bosaimail_ledger): 障害票 and, without --exemptions, the approved exemptions come from it. See docs/ledger.md.").String()
		ledgerToken = app.Flag("ledger.token-file", "File holding the ledger's API token (its --api.token-file).").ExistingFile()
		sel         = app.Flag("selector", "Label matchers that select the exporter's series (the mixin's selector).").Default(`job="bosaimail"`).String()
		merge       = app.Flag("outage.merge-window", "停止 separated by a shorter recovery (planned stops not counted) are one 停止 (the mixin's outageMergeWindow).").Default("5m").Duration()
		minOutage   = app.Flag("outage.min-duration", "A down shorter than this is a 瞬断, not a 停止 (the mixin's minOutage); whole minutes.").Default("1m").Duration()
		contractSvc = app.Flag("contract-services", "Regular expression of the services of the contract, reported together as 対象システム, down while any of them is down (the mixin's contractServices).").Default(".+").String()
		yearStart   = app.Flag("contract-year.start-month", "First month of the contract year (the mixin's contractYearStartMonth).").Default("4").Int()
		target      = app.Flag("availability.target", "Contractual availability outside planned stops.").Default("0.995").Float64()
		maxOutages  = app.Flag("outage.max-per-year", "Contractual limit of 停止 per contract year.").Default("3").Int()
		antivirusAg = app.Flag("antivirus.max-age", "Antivirus signature age above which a minute counts as stale.").Default("24h").Duration()
		logCfg      logging.Config
	)
	// The capacity and database-integrity sections read the third-party
	// exporters the mixin's database and hosts sections read.
	dbDefaults := report.DefaultDatabaseOptions()
	var (
		pgSel     = app.Flag("database.selector", "Label matchers that select postgres_exporter's series (the mixin's postgresSelector).").Default(dbDefaults.PostgresSelector).String()
		nodeSel   = app.Flag("node.selector", "Label matchers that select node_exporter's series (the mixin's nodeSelector).").Default(dbDefaults.NodeSelector).String()
		fsSel     = app.Flag("node.filesystem-selector", "Label matchers of the watched filesystems (the mixin's hostFilesystemSelector).").Default(dbDefaults.FilesystemSelector).String()
		hostRE    = app.Flag("database.host-from-instance", "Regex whose first group is the host of an instance label (the mixin's hostFromInstance).").Default(dbDefaults.HostFromInstance).String()
		volumes   = app.Flag("database.volume-mountpoints", "Comma-separated mountpoints; the first a database host has holds the database (the mixin's databaseVolumeMountpoints).").Default(strings.Join(dbDefaults.DatabaseVolumeMountpoints, ",")).String()
		integJobs = app.Flag("database.integrity-jobs", "Regex of the job_name of the live-database consistency checks (the mixin's databaseIntegrityJobs).").Default(dbDefaults.IntegrityJobs).String()
	)
	logging.AddFlags(app, &logCfg)
	app.Version(version.Print("bosaimail_report"))
	logger, err := logging.Parse(app, args, &logCfg, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	fail := func(msg string, err error) int {
		level.Error(logger).Log("msg", msg, "err", err)
		return 1
	}

	m := report.PreviousMonth(now())
	if *month != "" {
		if m, err = report.ParseMonth(*month); err != nil {
			return fail("bad --month", err)
		}
	}
	var fmts []string
	for _, f := range strings.Split(*formats, ",") {
		if f = strings.TrimSpace(f); f != "" {
			fmts = append(fmts, f)
		}
	}
	for _, f := range fmts {
		if !contains(report.Formats, f) {
			return fail("bad --format", fmt.Errorf("unknown format %q: one of %s", f, strings.Join(report.Formats, ", ")))
		}
	}
	if len(fmts) == 0 {
		return fail("bad --format", fmt.Errorf("no format given"))
	}
	if *target <= 0 || *target > 1 {
		return fail("bad --availability.target", fmt.Errorf("%v is not a ratio in (0, 1]", *target))
	}
	if *merge < 0 || *merge%time.Minute != 0 {
		return fail("bad --outage.merge-window", fmt.Errorf("%s is not a whole, non-negative number of minutes", *merge))
	}
	if *minOutage < time.Minute || *minOutage%time.Minute != 0 {
		return fail("bad --outage.min-duration", fmt.Errorf("%s is not a whole number of minutes (at least 1m)", *minOutage))
	}
	contractRE, err := regexp.Compile("^(?:" + *contractSvc + ")$")
	if err != nil {
		return fail("bad --contract-services", err)
	}
	if *yearStart < 1 || *yearStart > 12 {
		return fail("bad --contract-year.start-month", fmt.Errorf("%d is not a month 1..12", *yearStart))
	}
	var ex *exemption.File
	if *exemptions != "" {
		if ex, err = exemption.Load(*exemptions); err != nil {
			return fail("bad exemption file", err)
		}
	}
	var rt http.RoundTripper
	if *httpConfig != "" {
		hc, _, err := commonconfig.LoadHTTPConfigFile(*httpConfig)
		if err != nil {
			return fail("bad --prometheus.http-config", err)
		}
		if rt, err = commonconfig.NewRoundTripperFromConfig(*hc, "bosaimail_report"); err != nil {
			return fail("bad --prometheus.http-config", err)
		}
	}
	dbOpts := report.DatabaseOptions{PostgresSelector: *pgSel, NodeSelector: *nodeSel, FilesystemSelector: *fsSel,
		HostFromInstance: *hostRE, DatabaseVolumeMountpoints: splitList(*volumes), IntegrityJobs: *integJobs}
	if err := dbOpts.Check(); err != nil {
		return fail("bad --database.* flag", err)
	}
	var qs []*report.Querier
	for _, u := range *promURLs {
		q, err := report.NewQuerier(u, rt, *timeout, *maxBytes)
		if err != nil {
			return fail("bad --prometheus.url", err)
		}
		qs = append(qs, q)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var ledgerIncidents []report.LedgerIncident
	if *ledgerURL != "" {
		ledgerIncidents, ex, err = readLedger(ctx, *ledgerURL, *ledgerToken, m, time.Month(*yearStart), ex, *timeout)
		if err != nil {
			return fail("cannot read the incident ledger; nothing was written", err)
		}
	}
	r, err := report.Build(ctx, qs[0], report.Options{
		Month: m, Selector: *sel, MergeWindow: *merge, MinOutage: *minOutage, YearStartMonth: time.Month(*yearStart), Replicas: qs[1:],
		ContractServices: contractRE, SystemName: "対象システム",
		Target: *target, MaxOutages: *maxOutages,
		AntivirusMaxAge: *antivirusAg, Exemptions: ex, Now: now, Logger: logger,
		Database: dbOpts,
	})
	if err != nil {
		return fail("cannot build the report; nothing was written", err)
	}
	r.Ledger = ledgerIncidents
	paths, err := r.Write(*outDir, fmts)
	if err != nil {
		return fail("cannot write the report", err)
	}
	for _, p := range paths {
		level.Info(logger).Log("msg", "wrote", "file", p)
	}
	return 0
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
