package e2e

import (
	"context"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/bosaimail/bosaimail_exporter/e2e/stack"
	"github.com/bosaimail/bosaimail_exporter/internal/testkit/testbin"
)

// TestFaultToMailProductionIntervals measures the time from a fault to the
// first 【障害発生】 mail at the production intervals of
// examples/prometheus.yml (15 s scrape and evaluation), the rules as
// generated and Alertmanager as in the example. A round takes one to two
// minutes, so it runs only when E2E_LATENCY_ROUNDS is set (`make
// e2e-latency`, 5 rounds for the median the operations guide quotes).
//
// It asserts that every fault mails; the figures are printed, not asserted
// (a shared machine's timing is not a test result).
func TestFaultToMailProductionIntervals(t *testing.T) {
	v := os.Getenv("E2E_LATENCY_ROUNDS")
	if v == "" {
		t.Skip("production-interval latency: run make e2e-latency (or set E2E_LATENCY_ROUNDS)")
	}
	rounds, err := strconv.Atoi(v)
	if err != nil || rounds < 1 {
		t.Fatalf("E2E_LATENCY_ROUNDS=%q: want a positive number", v)
	}
	tools := toolsDir(t, "prometheus", "alertmanager", "mailpit")
	rules := rulesGlob(t, "BosaiMailServiceDown")
	bin := programs(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(rounds)*5*time.Minute+3*time.Minute)
	defer cancel()
	const interval = 15 * time.Second

	var latencies []time.Duration
	for round := 1; round <= rounds; round++ {
		latency := faultToMailRound(ctx, t, bin, tools, rules, interval)
		latencies = append(latencies, latency)
		t.Logf("round %d: fault-to-mail %.1fs", round, latency.Seconds())
	}
	slices.Sort(latencies)
	t.Logf("fault-to-mail at scrape and global evaluation interval %s (rule groups with an interval of their own keep it) over %d round(s): median %.1fs, min %.1fs, max %.1fs",
		interval, len(latencies), latencies[len(latencies)/2].Seconds(), latencies[0].Seconds(), latencies[len(latencies)-1].Seconds())
}

// faultToMailRound starts a stack of its own, injects a fault into the
// delivery service and returns the time to the first 【障害発生】 mail.
//
// A stack per round: Prometheus resends a resolved alert for 15 minutes,
// and while it does Alertmanager keeps the alert's group, so a new fault of
// the same service would be mailed on the group's next group_interval tick
// instead of after group_wait: not the first mail of a fault. A new stack
// also has new scrape and evaluation offsets (they are hashed from the
// addresses), and a random pause puts the fault at a random phase of them.
func faultToMailRound(ctx context.Context, t *testing.T, bin, tools, rules string, interval time.Duration) time.Duration {
	t.Helper()
	s, err := stack.Start(ctx, stack.Config{
		Root: testbin.RepoRoot(), Bin: bin, Tools: tools, Dir: t.TempDir(), Ports: stack.FreePorts(),
		ScrapeInterval: interval, EvalInterval: interval, Rules: rules,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			t.Logf("logs of the stack:\n%s", s.Logs(3000))
		}
		if err := s.Stop(); err != nil {
			t.Errorf("stopping the stack: %v", err)
		}
	}()
	waitHealthy(ctx, t, s)
	time.Sleep(rand.N(interval))
	injected := time.Now()
	if err := s.SetFaults(ctx, "delivery", `{"health_fail": true}`); err != nil {
		t.Fatal(err)
	}
	m := waitMail(ctx, t, s.OpsMail, mailMatch{to: oncall, subjectPrefix: "【障害発生】緊急情報メール配信が停止"})
	return m.Created.Sub(injected)
}
