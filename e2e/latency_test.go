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
// generated and Alertmanager as in the example. It takes a few minutes a
// round, so it runs only when E2E_LATENCY_ROUNDS is set (`make
// e2e-latency`, 5 rounds for the median the operations guide quotes).
//
// It asserts that every fault mails and every repair brings the 【復旧】
// mail; the figures are printed, not asserted (a shared machine's timing
// is not a test result).
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
	s, err := stack.Start(ctx, stack.Config{
		Root: testbin.RepoRoot(), Bin: bin, Tools: tools, Dir: t.TempDir(), Ports: stack.FreePorts(),
		ScrapeInterval: interval, EvalInterval: interval, Rules: rules,
	})
	if err != nil {
		t.Fatal(err)
	}
	stopOnCleanup(t, s)
	waitHealthy(ctx, t, s)

	var latencies []time.Duration
	for round := 1; round <= rounds; round++ {
		if err := s.OpsMail.DeleteAll(ctx); err != nil {
			t.Fatal(err)
		}
		// A fresh fault: Alertmanager keeps the group of the last round
		// until its next group_interval tick (1m) after the recovery mail;
		// a fault firing before that is mailed on the tick, not after
		// group_wait. The recovery mail came on a tick, and a random pause
		// makes the fault hit another phase of the scrape and evaluation
		// cycles every round (else five rounds would measure one case).
		if round > 1 {
			time.Sleep(time.Minute + time.Second)
		}
		time.Sleep(rand.N(interval))
		injected := time.Now()
		if err := s.SetFaults(ctx, "delivery", `{"health_fail": true}`); err != nil {
			t.Fatal(err)
		}
		m := waitMail(ctx, t, s.OpsMail, mailMatch{to: oncall, subjectPrefix: "【障害発生】delivery BosaiMailServiceDown"})
		latency := m.Created.Sub(injected)
		latencies = append(latencies, latency)
		t.Logf("round %d: fault-to-mail %.1fs", round, latency.Seconds())
		if err := s.ClearFaults(ctx, "delivery"); err != nil {
			t.Fatal(err)
		}
		waitMail(ctx, t, s.OpsMail, mailMatch{to: oncall, subjectPrefix: "【復旧】delivery BosaiMailServiceDown"})
	}
	slices.Sort(latencies)
	t.Logf("fault-to-mail at scrape and global evaluation interval %s (rule groups with an interval of their own keep it) over %d round(s): median %.1fs, min %.1fs, max %.1fs",
		interval, len(latencies), latencies[len(latencies)/2].Seconds(), latencies[0].Seconds(), latencies[len(latencies)-1].Seconds())
}
