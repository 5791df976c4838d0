// Command bosaimail_sim is a simulated disaster-alert mail service for the
// demo and end-to-end tests: JSON health/readiness, a delivery API that
// forwards to an SMTP server (mailpit), and a fault-injection API.
//
//	bosaimail_sim --smtp.address=127.0.0.1:1025
//	curl -X PUT -d '{"stop_forwarding":true}' http://127.0.0.1:9743/api/v1/faults
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-kit/log/level"

	"github.com/bosaimail/bosaimail_exporter/internal/app/sim"
	"github.com/bosaimail/bosaimail_exporter/internal/logging"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:]))
}

// run serves until ctx ends (a signal) or a listener fails.
func run(ctx context.Context, args []string) int {
	app := kingpin.New("bosaimail_sim", "Simulated disaster-alert mail service with fault injection (demo and e2e tests).")
	var (
		listen      = app.Flag("web.listen-address", "Address of the HTTP API.").Default("127.0.0.1:9743").String()
		tlsListen   = app.Flag("web.tls-listen-address", "Address of an HTTPS listener serving the same API with a generated certificate (empty: none). The expired_cert fault applies to it.").Default("").String()
		tlsHosts    = app.Flag("web.tls-host", "Host name or IP the generated certificate is for (repeatable).").Default("127.0.0.1", "localhost").Strings()
		caFile      = app.Flag("web.tls-ca-file", "Where to write the CA certificate that signed the generated certificates, for clients to trust.").Default("").String()
		smtpAddr    = app.Flag("smtp.address", "SMTP server deliveries are forwarded to (plain SMTP, e.g. mailpit).").Default("127.0.0.1:1025").String()
		smtpTimeout = app.Flag("smtp.timeout", "Bound of one forward to SMTP.").Default("30s").Duration()
		from        = app.Flag("mail.from", "Sender address of the alert mails.").Default("bosai@example.jp").String()
		bcastRate   = app.Flag("broadcast.rate", "Delivery rate of simulated broadcasts, recipients per second (POST /api/v1/broadcasts).").Default("50").Float64()
		logCfg      logging.Config
	)
	logging.AddFlags(app, &logCfg)
	logger, err := logging.Parse(app, args, &logCfg, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if *tlsListen != "" && *caFile == "" {
		level.Error(logger).Log("msg", "--web.tls-listen-address needs --web.tls-ca-file (clients must be able to trust the generated certificate)")
		return 2
	}
	s := sim.New(sim.Options{SMTPAddress: *smtpAddr, From: *from, SMTPTimeout: *smtpTimeout, Logger: logger})
	// Broadcast mode: a disaster mail to N recipients draining at a set
	// rate, with its statistics API and a postqueue-style dump.
	if *bcastRate <= 0 {
		level.Error(logger).Log("msg", "--broadcast.rate must be positive")
		return 2
	}
	bcast := sim.NewBroadcaster(sim.BroadcastOptions{SMTPAddress: *smtpAddr, Rate: *bcastRate, From: *from})
	defer bcast.Close()
	bcast.Register(s.Mux())

	var servers []*http.Server
	// Every early return (a listener that fails) also stops what started.
	defer func() {
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, srv := range servers {
			_ = srv.Shutdown(shutdown)
		}
	}()
	errc := make(chan error, 2)
	serve := func(srv *http.Server, l net.Listener, tlsOn bool) {
		servers = append(servers, srv)
		go func() {
			var err error
			if tlsOn {
				err = srv.ServeTLS(l, "", "")
			} else {
				err = srv.Serve(l)
			}
			if !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
	}
	newServer := func() *http.Server {
		return &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: time.Minute}
	}

	l, err := net.Listen("tcp", *listen)
	if err != nil {
		level.Error(logger).Log("msg", "cannot listen", "address", *listen, "err", err)
		return 1
	}
	serve(newServer(), l, false)
	level.Info(logger).Log("msg", "simulator listening", "address", l.Addr().String(), "smtp", *smtpAddr)

	if *tlsListen != "" {
		caPEM, valid, expired, err := sim.Certificates(*tlsHosts...)
		if err != nil {
			level.Error(logger).Log("msg", "generating certificates", "err", err)
			return 1
		}
		if err := os.WriteFile(*caFile, caPEM, 0o644); err != nil {
			level.Error(logger).Log("msg", "writing the CA file", "err", err)
			return 1
		}
		tl, err := net.Listen("tcp", *tlsListen)
		if err != nil {
			level.Error(logger).Log("msg", "cannot listen", "address", *tlsListen, "err", err)
			return 1
		}
		srv := newServer()
		srv.TLSConfig = s.TLSConfig(valid, expired)
		serve(srv, tl, true)
		level.Info(logger).Log("msg", "simulator listening (HTTPS)", "address", tl.Addr().String(), "ca_file", *caFile)
	}

	code := 0
	select {
	case <-ctx.Done():
	case err := <-errc:
		level.Error(logger).Log("msg", "server failed", "err", err)
		code = 1
	}
	return code
}
