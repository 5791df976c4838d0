// Command bosaimail_demo runs the whole monitoring pipeline on 127.0.0.1
// (`make demo`): simulated mail service, its mail server, the exporter,
// Prometheus with the mixin's rules, Alertmanager with the example
// configuration and the contractor's mailbox, then tells how to break the
// service and where the Japanese alert mail appears. Ctrl-C stops it all.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/bosaimail/bosaimail_exporter/e2e/stack"
)

// marker identifies a directory this program owns and may empty.
const marker = ".bosaimail-demo"

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bosaimail_demo:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		bin      = flag.String("bin", "bin", "directory with bosaimail_exporter and bosaimail_sim")
		tools    = flag.String("tools", "", "directory with prometheus, alertmanager and mailpit (default: -bin)")
		dir      = flag.String("dir", ".build/demo", "work directory (configurations, data, logs); emptied at start")
		root     = flag.String("root", ".", "repository root (examples/, rules/)")
		interval = flag.Duration("interval", 5*time.Second, "Prometheus scrape and evaluation interval")
		free     = flag.Bool("free-ports", false, "use free ports instead of the fixed demo ports")
	)
	flag.Parse()
	abs := func(p *string) error {
		a, err := filepath.Abs(*p)
		*p = a
		return err
	}
	if *tools == "" {
		*tools = *bin
	}
	for _, p := range []*string{bin, tools, dir, root} {
		if err := abs(p); err != nil {
			return err
		}
	}
	if err := cleanDir(*dir); err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	ports := stack.DemoPorts()
	if *free {
		ports = stack.FreePorts()
	}
	startCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	fmt.Println("starting the demo stack (work directory " + *dir + ") ...")
	s, err := stack.Start(startCtx, stack.Config{
		Root: *root, Bin: *bin, Tools: *tools, Dir: *dir, Ports: ports,
		ScrapeInterval: *interval, EvalInterval: *interval, Log: os.Stdout,
	})
	if err != nil {
		if !*free && strings.Contains(err.Error(), "is taken") {
			err = fmt.Errorf("%w\n(another program uses the demo's fixed ports: stop it, or run make demo DEMO_FLAGS=-free-ports)", err)
		}
		return err
	}
	defer func() {
		fmt.Println("\nstopping ...")
		if err := s.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
		fmt.Println("stopped; logs and data are in " + *dir)
	}()
	printHelp(s)
	return watch(ctx, s)
}

// cleanDir empties dir if a previous demo made it, or creates it.
func cleanDir(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, marker)); err == nil {
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
	} else if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return fmt.Errorf("%s exists and was not made by the demo: choose another -dir", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, marker), nil, 0o644)
}

func printHelp(s *stack.Stack) {
	p := s.Ports()
	sim := func(service string) string { u, _ := s.SimURL(service); return u }
	fmt.Printf(`
防災みえメール配信サービス 監視デモ is running.

  exporter            %[1]s/            (metrics: %[1]s/metrics)
  Prometheus          %[2]s/api/v1/alerts  (API: Prometheus built by go install has no web UI)
  Alertmanager        %[3]s/
  alert mail (受託者)  %[4]s/            the contractor's and the prefecture's mailbox
  service mail        %[5]s/            mail sent by the simulated service (canaries)
  simulators          delivery %[6]s (HTTPS port %[9]d), registration %[7]s, admin %[8]s
  exporter config     %[10]s  (edit, then: curl -X POST %[1]s/-/reload)

Break the delivery service (its health check fails):
  curl -X PUT -d '{"health_fail": true}' %[6]s/api/v1/faults
About a minute later BosaiMailServiceDown fires; the Japanese mail
【障害発生】緊急情報メール配信が停止（全監視点で1分以上） arrives in %[4]s/ for the on-call
and the prefecture. Repair it, and 【復旧】 follows:
  curl -X DELETE %[6]s/api/v1/faults
Other faults (same URL): {"stop_forwarding": true} (mail silently lost: the round
trip fails), {"error_500": true}, {"delay": "10s"}, {"expired_cert": true}.
Send a disaster broadcast to 2,000 recipients and watch it drain
(bosaimail_broadcast_recipients, bosaimail:broadcast_eta_seconds):
  curl -X POST -d '{"recipients": 2000}' %[6]s/api/v1/broadcasts
`, s.ExporterURL(), s.PrometheusURL(), s.AlertmanagerURL(), s.OpsMail.UI, s.ServiceMail.UI,
		sim("delivery"), sim("registration"), sim("admin"), p.Sims[0].HTTPS, s.ExporterConfigPath)
	printLedger(s)
	fmt.Println("\nNew alert mail is listed below. Ctrl-C stops everything.")
}

// printLedger tells where the incident ledger is and how to log in.
func printLedger(s *stack.Stack) {
	if s.LedgerURL() == "" {
		fmt.Println("\n(the incident ledger is not running: build it with make build)")
		return
	}
	roles := map[string]string{"contractor": "受託者: 障害票を書き、免責・計画停止を申請する", "approver": "県の承認者: 申請を承認・却下し、重要障害を指定する", "viewer": "閲覧のみ"}
	fmt.Printf(`
Incident ledger (障害台帳)  %s/
  The fault above opens a 障害票 there within seconds of its mail. Demo logins:
`, s.LedgerURL())
	for _, l := range stack.LedgerLogins() {
		fmt.Printf("    %-8s / %-13s %s\n", l.User, l.Password, roles[l.Role])
	}
	fmt.Printf(`  Approved planned stops reach the exporter through %s/feeds/maintenance.ics
  (bosaimail_maintenance_active); the monthly report reads it with
  bosaimail_report --ledger.url=%s --ledger.token-file=%s
`, s.LedgerURL(), s.LedgerURL(), s.LedgerAPITokenFile())
}

// watch prints new alert mail and the first heartbeat until ctx ends or a
// program dies.
func watch(ctx context.Context, s *stack.Stack) error {
	seen := map[string]bool{}
	heartbeat := false
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		if name := s.Exited(); name != "" {
			return errors.New(name + " exited unexpectedly; see its log in the work directory")
		}
		if hb := s.Heartbeat.Status(); !heartbeat && hb.Pings > 0 {
			heartbeat = true
			fmt.Printf("%s heartbeat: Watchdog received (the dead man's switch is being fed)\n", hb.Last.Format(time.TimeOnly))
		}
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		msgs, err := s.OpsMail.Messages(lctx)
		cancel()
		if err != nil {
			continue
		}
		for i := len(msgs) - 1; i >= 0; i-- {
			m := msgs[i]
			if seen[m.ID] {
				continue
			}
			seen[m.ID] = true
			fmt.Printf("%s mail to %v: %s\n", m.Created.Local().Format(time.TimeOnly), m.Recipients(), m.Subject)
		}
	}
}
