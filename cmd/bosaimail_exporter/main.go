// Command bosaimail_exporter checks a disaster-alert mail service (HTTP,
// SMTP, mail round trip), its cloud, jobs and security feeds, and exposes
// the results to Prometheus.
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
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

	_ "github.com/bosaimail/bosaimail_exporter/collector/all" // registers the collectors and their flags
	"github.com/bosaimail/bosaimail_exporter/config"
	"github.com/bosaimail/bosaimail_exporter/internal/app/exporter"
	"github.com/bosaimail/bosaimail_exporter/internal/fetch"
	"github.com/bosaimail/bosaimail_exporter/internal/logging"
)

// defaultPort 9742: unclaimed on the Prometheus default port allocations
// page (exporters take 9100-9999); see README.
const defaultPort = ":9742"

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	app := kingpin.CommandLine
	app.Name = "bosaimail_exporter"
	app.Help = "Prometheus exporter for a disaster-alert e-mail service."
	var (
		configFile     = app.Flag("config.file", "Path to the configuration file.").Default("bosaimail.yml").String()
		checkConfig    = app.Flag("config.check", "Only check the configuration file and exit (0 if valid).").Bool()
		telemetryPath  = app.Flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").String()
		stateDir       = app.Flag("storage.path", "Directory for persisted state (job reports).").Default("data/").String()
		timeoutOffset  = app.Flag("scrape.timeout-offset", "Subtracted from Prometheus' scrape timeout so the answer arrives in time.").Default("0.5s").Duration()
		defaultTimeout = app.Flag("scrape.default-timeout", "Scrape deadline when the scraper sends no X-Prometheus-Scrape-Timeout-Seconds header.").Default("10s").Duration()
		maxRequests    = app.Flag("web.max-requests", "Maximum number of scrapes running at once; more are answered 503. 0 disables the limit.").Default("10").Int()
		toolkitFlags   = kingpinflag.AddFlags(app, defaultPort)
		logCfg         logging.Config
	)
	logging.AddFlags(app, &logCfg)
	app.Version(version.Print("bosaimail_exporter"))
	logger, err := logging.Parse(app, args, &logCfg, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}

	if *checkConfig {
		cfg, err := config.Load(*configFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, fetch.RedactText(err.Error()))
			return 1
		}
		fmt.Printf("%s: %d services, %d checks: OK\n", *configFile, len(cfg.Services), countChecks(cfg))
		return 0
	}

	level.Info(logger).Log("msg", "starting bosaimail_exporter", "version", version.Info(), "build_context", version.BuildContext())
	static := prometheus.NewRegistry()
	static.MustRegister(
		versioncollector.NewCollector("bosaimail"),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	exp, err := exporter.New(exporter.Options{
		ConfigFile:     *configFile,
		StateDir:       *stateDir,
		Logger:         logger,
		TimeoutOffset:  *timeoutOffset,
		DefaultTimeout: *defaultTimeout,
		MaxRequests:    *maxRequests,
		Static:         static,
	})
	if err != nil {
		level.Error(logger).Log("msg", "cannot start", "err", err)
		return 1
	}
	defer exp.Close()
	// Loading the config leaves garbage (YAML nodes, parsed CA files, the
	// intermediates of compiled expressions) that an idle exporter would
	// keep resident until the runtime's scavenger returns it, minutes
	// later: give it back now.
	debug.FreeOSMemory()

	mux := http.NewServeMux()
	mux.Handle(*telemetryPath, exp)
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "Healthy") })
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) {
		if exp.Config() == nil {
			http.Error(w, "Not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "Ready")
	})
	mux.HandleFunc("/-/reload", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost && r.Method != http.MethodPut {
			w.Header().Set("Allow", "POST, PUT")
			http.Error(w, "use POST to reload", http.StatusMethodNotAllowed)
			return
		}
		if err := exp.Reload(); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "Reloaded")
	})
	mux.HandleFunc("/api/", exp.Route)
	if *telemetryPath != "/" {
		mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/" {
				http.NotFound(w, r)
				return
			}
			landing(exp.Config(), *telemetryPath, logger).ServeHTTP(w, r)
		})
	}

	server := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		MaxHeaderBytes:    64 << 10,
		// The server's own complaints (a failed TLS handshake, a panicking
		// handler) in the exporter's log format, as Prometheus does.
		ErrorLog: logging.StdError(logger, "http"),
	}
	serveErr := make(chan error, 1)
	webLogger, err := logging.Slog(logCfg, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	go func() { serveErr <- web.ListenAndServe(server, toolkitFlags, webLogger) }()

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM)
	for {
		select {
		case err := <-serveErr:
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				level.Error(logger).Log("msg", "web server failed", "err", err)
				return 1
			}
			return 0
		case s := <-sig:
			if s == syscall.SIGHUP {
				_ = exp.Reload() // logged; the old config keeps running on error
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

func countChecks(cfg *config.Config) int {
	n := 0
	for _, s := range cfg.Services {
		n += len(s.Checks)
	}
	return n
}

func checkTarget(c *config.Check) string {
	switch {
	case c.HTTP != nil:
		return fetch.Redact(c.HTTP.URL.String())
	case c.TCP != nil:
		return c.TCP.Address
	}
	return ""
}
