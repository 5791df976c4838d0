package roundtrip

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bosaimail/bosaimail_exporter/internal/testkit/collectortest"

	"github.com/bosaimail/bosaimail_exporter/collector/probe"

	"github.com/bosaimail/bosaimail_exporter/collector"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/bosaimail/bosaimail_exporter/internal/app/sim"
	"github.com/bosaimail/bosaimail_exporter/internal/canary"
	"github.com/bosaimail/bosaimail_exporter/internal/testkit/mailtest"
	"github.com/bosaimail/bosaimail_exporter/internal/testkit/testbin"
)

// roundTripFor builds the roundtrip collector of a one-check config.
func roundTripFor(t *testing.T, checkYAML string) (*roundTripCollector, *roundTrip) {
	t.Helper()
	cfg := collectortest.ChecksConfig(t, checkYAML)
	c, err := newRoundTripCollector(collector.Env{Config: cfg, Logger: log.NewNopLogger()})
	if err != nil {
		t.Fatal(err)
	}
	rc := c.(*roundTripCollector)
	if len(rc.checks) != 1 {
		t.Fatalf("%d roundtrip checks", len(rc.checks))
	}
	return rc, rc.checks[0]
}

// gauge returns the value of the series of name whose labels include want
// (NaN-free: absent is -1).
func gauge(t *testing.T, c collector.Collector, name string, want map[string]string) float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(collectortest.Bounded(c, 20*time.Second))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, lp := range m.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			for k, v := range want {
				if got[k] != v {
					continue next
				}
			}
			switch {
			case m.Gauge != nil:
				return m.GetGauge().GetValue()
			case m.Counter != nil:
				return m.GetCounter().GetValue()
			case m.Histogram != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return -1
}

func runOnce(t *testing.T, rt *roundTrip) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rt.RunOnce(ctx)
}

func TestRoundTripSMTPToPOP3(t *testing.T) {
	mp := mailtest.StartMailpit(t, mailtest.MailpitOptions{})
	for _, s := range []string{"台風情報 1", "台風情報 2", "地震情報"} {
		mailtest.SendMail(t, mp.SMTP, "a@example.jp", []string{"box@example.jp"}, []byte("Subject: "+s+"\r\n\r\nunrelated\r\n"))
	}
	c, rt := roundTripFor(t, fmt.Sprintf(`name: rt-smtp-pop3
kind: roundtrip
timeout: 5s
roundtrip:
  interval: 10s
  deadline: 5s
  poll_interval: 100ms
  send:
    smtp: {address: %s, tls: none, from: canary@example.jp, to: [box@example.jp]}
  mailbox: {protocol: pop3, address: %s, username: %s, password_file: %s}`, mp.SMTP, mp.POP3, mp.User, mp.PasswordFile))

	if v := gauge(t, c, "bosaimail_check_up", nil); v != -1 {
		t.Fatalf("check_up before the first run = %v, want absent", v)
	}
	for run := 1; run <= 2; run++ {
		runOnce(t, rt)
		if v := gauge(t, c, "bosaimail_check_up", map[string]string{"kind": "roundtrip", "check": "rt-smtp-pop3"}); v != 1 {
			t.Fatalf("run %d: check_up = %v, want 1 (failures: %v)", run, v, rt.state.failures)
		}
		if n := mp.MessageCount(t); n != 3 {
			t.Fatalf("run %d: %d messages in the mailbox, want the 3 unrelated ones (canary deleted)", run, n)
		}
	}
	if v := gauge(t, c, "bosaimail_roundtrip_duration_seconds", nil); v <= 0 {
		t.Errorf("roundtrip duration %v", v)
	}
	if v := gauge(t, c, "bosaimail_roundtrip_last_success_timestamp_seconds", nil); v < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("last success %v", v)
	}
	want := `
# HELP bosaimail_roundtrip_canaries_deleted_total Canary mails deleted from the test mailbox, by kind: current, late, duplicate, stale (left by another process).
# TYPE bosaimail_roundtrip_canaries_deleted_total counter
bosaimail_roundtrip_canaries_deleted_total{check="rt-smtp-pop3",kind="current",service="delivery"} 2
# HELP bosaimail_roundtrip_late_arrivals_total Canary mails that arrived after their deadline (their run already failed with reason timeout).
# TYPE bosaimail_roundtrip_late_arrivals_total counter
bosaimail_roundtrip_late_arrivals_total{check="rt-smtp-pop3",service="delivery"} 0
`
	if err := testutil.CollectAndCompare(collectortest.Bounded(c, 20*time.Second), strings.NewReader(want), "bosaimail_roundtrip_canaries_deleted_total", "bosaimail_roundtrip_late_arrivals_total"); err != nil {
		t.Error(err)
	}
	if v := gauge(t, c, "bosaimail_roundtrip_latency_seconds", nil); v != 2 {
		t.Errorf("latency histogram holds %v observations, want 2", v)
	}
	// The unrelated mails were read once and are skipped since.
	rt.state.mu.Lock()
	skipped := len(rt.state.unrelated)
	rt.state.mu.Unlock()
	if skipped != 3 {
		t.Errorf("%d unrelated messages remembered, want 3", skipped)
	}
}

// TestRoundTripSimulatorFault drives the round trip through the simulator's
// delivery API into mailpit, then stops forwarding in the simulator: the
// check must go down within one interval plus its deadline.
func TestRoundTripSimulatorFault(t *testing.T) {
	mp := mailtest.StartMailpit(t, mailtest.MailpitOptions{})
	s := sim.New(sim.Options{SMTPAddress: mp.SMTP, SMTPTimeout: 5 * time.Second})
	hs := httptest.NewServer(s.Handler())
	defer hs.Close()
	token := filepath.Join(t.TempDir(), "token")
	os.WriteFile(token, []byte("t0ken\n"), 0o600)
	const interval, deadline = 1500 * time.Millisecond, 1000 * time.Millisecond
	c, _ := roundTripFor(t, fmt.Sprintf(`name: rt-sim
kind: roundtrip
timeout: 5s
roundtrip:
  interval: %dms
  deadline: %dms
  poll_interval: 100ms
  send:
    http:
      url: %s/api/v1/deliveries
      bearer_token_file: %s
      body: '{"to": ["box@example.jp"], "subject": {{json .Subject}}, "body": {{json .Text}}}'
  mailbox: {protocol: pop3, address: %s, username: %s, password_file: %s}`, interval.Milliseconds(), deadline.Milliseconds(), hs.URL, token, mp.POP3, mp.User, mp.PasswordFile))

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	up := map[string]string{"check": "rt-sim"}
	waitFor := func(what string, limit time.Duration, ok func() bool) time.Duration {
		t.Helper()
		start := time.Now()
		for !ok() {
			if time.Since(start) > limit {
				t.Fatalf("%s: not within %s", what, limit)
			}
			time.Sleep(20 * time.Millisecond)
		}
		return time.Since(start)
	}
	waitFor("first round trip up", 10*time.Second, func() bool { return gauge(t, c, "bosaimail_check_up", up) == 1 })
	if n := mp.MessageCount(t); n != 0 {
		t.Errorf("%d canaries left in the mailbox", n)
	}

	s.SetFaults(sim.Faults{StopForwarding: true})
	// Worst case: a run has just started before the fault (its canary still
	// arrives), the next starts one interval later and fails at its deadline.
	took := waitFor("round trip down after stop_forwarding", interval+deadline+2*time.Second, func() bool {
		return gauge(t, c, "bosaimail_check_up", up) == 0
	})
	t.Logf("down %s after the fault (interval %s + deadline %s)", took.Round(time.Millisecond), interval, deadline)
	if v := gauge(t, c, "bosaimail_check_failures_total", map[string]string{"check": "rt-sim", "reason": "timeout"}); v < 1 {
		t.Errorf("failures_total{reason=timeout} = %v", v)
	}

	s.SetFaults(sim.Faults{})
	waitFor("recovery", interval+deadline+5*time.Second, func() bool { return gauge(t, c, "bosaimail_check_up", up) == 1 })
}

// deliveryAPI is a stand-in mail service API in front of an IMAP mailbox:
// it composes the mail as a Japanese service would (encoded subject) and
// can hold mails back or deliver them twice.
type deliveryAPI struct {
	imap *mailtest.IMAP
	t    *testing.T

	mu    sync.Mutex
	hold  bool
	twice bool
	held  [][]byte
}

func (d *deliveryAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req struct{ Subject, Text string }
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	raw := []byte("From: bosai@example.jp\r\nTo: box@example.jp\r\nSubject: " + mime.BEncoding.Encode("UTF-8", req.Subject) +
		"\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n" + req.Text + "\r\n")
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.hold:
		d.held = append(d.held, raw)
	case d.twice:
		d.imap.Deliver(d.t, raw)
		d.imap.Deliver(d.t, raw)
	default:
		d.imap.Deliver(d.t, raw)
	}
	w.WriteHeader(http.StatusCreated)
}

func (d *deliveryAPI) set(hold, twice bool) {
	d.mu.Lock()
	d.hold, d.twice = hold, twice
	d.mu.Unlock()
}

func (d *deliveryAPI) release() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, raw := range d.held {
		d.imap.Deliver(d.t, raw)
	}
	d.held = nil
}

func TestRoundTripHTTPToIMAP(t *testing.T) {
	cert := mailtest.ValidCert(t)
	box := mailtest.StartIMAP(t, cert, false)
	api := &deliveryAPI{imap: box, t: t}
	hs := httptest.NewServer(api)
	defer hs.Close()
	pw := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pw, []byte(box.Password), 0o600)
	unrelated := []byte("From: x@example.jp\r\nSubject: =?UTF-8?B?5Y+w6aKo?=\r\n\r\nunrelated\r\n")
	box.Deliver(t, unrelated)

	c, rt := roundTripFor(t, fmt.Sprintf(`name: rt-imap
kind: roundtrip
timeout: 5s
roundtrip:
  interval: 1m
  deadline: 500ms
  poll_interval: 100ms
  stale_after: 10m
  send:
    http:
      url: %s
      valid_status_codes: [201]
      body: '{"subject": {{json .Subject}}, "text": {{json .Text}}}'
  mailbox: {protocol: imap, address: %s, tls: starttls, tls_config: {ca_file: %s}, username: %s, password_file: %s}`,
		hs.URL, box.Addr, mailtest.CAFile(t, cert), box.User, pw))
	labels := map[string]string{"check": "rt-imap"}
	deleted := func(kind string) float64 {
		return gauge(t, c, "bosaimail_roundtrip_canaries_deleted_total", map[string]string{"check": "rt-imap", "kind": kind})
	}

	// A canary delivered twice: up, both copies removed.
	api.set(false, true)
	runOnce(t, rt)
	if v := gauge(t, c, "bosaimail_check_up", labels); v != 1 {
		t.Fatalf("duplicate delivery: check_up %v (failures %v)", v, rt.state.failures)
	}
	if deleted("current") != 1 || deleted("duplicate") != 1 || box.Count(t) != 1 {
		t.Errorf("after a duplicate: current=%v duplicate=%v, %d messages left", deleted("current"), deleted("duplicate"), box.Count(t))
	}

	// A canary held back past the deadline: down with reason timeout ...
	api.set(true, false)
	runOnce(t, rt)
	if v := gauge(t, c, "bosaimail_check_up", labels); v != 0 {
		t.Fatalf("held canary: check_up %v", v)
	}
	if v := gauge(t, c, "bosaimail_check_failures_total", map[string]string{"check": "rt-imap", "reason": "timeout"}); v != 1 {
		t.Errorf("failures{timeout} = %v", v)
	}
	// ... and when it finally arrives it is counted late and removed.
	api.release()
	// Canaries of the same check from another exporter: a fresh one is left
	// to its owner, a stale one is removed.
	foreign := canary.New("delivery", "rt-imap", time.Now())
	stale := canary.New("delivery", "rt-imap", time.Now().Add(-time.Hour))
	otherCheck := canary.New("delivery", "another-check", time.Now().Add(-time.Hour))
	for _, tag := range []canary.Tag{foreign, stale, otherCheck} {
		box.Deliver(t, canary.Compose(tag, "canary@example.jp", []string{"box@example.jp"}, tag.Sent))
	}
	api.set(false, false)
	runOnce(t, rt)
	if v := gauge(t, c, "bosaimail_check_up", labels); v != 1 {
		t.Fatalf("after release: check_up %v", v)
	}
	if v := gauge(t, c, "bosaimail_roundtrip_late_arrivals_total", labels); v != 1 {
		t.Errorf("late arrivals %v, want 1", v)
	}
	if deleted("late") != 1 || deleted("stale") != 1 {
		t.Errorf("late=%v stale=%v", deleted("late"), deleted("stale"))
	}
	if v := gauge(t, c, "bosaimail_roundtrip_latency_seconds", labels); v != 3 {
		t.Errorf("latency observations %v, want 3 (two in time, one late)", v)
	}
	// Left: the unrelated mail, the fresh foreign canary, the other check's.
	if n := box.Count(t); n != 3 {
		t.Errorf("%d messages left, want 3", n)
	}
}

func TestRoundTripFailures(t *testing.T) {
	mp := mailtest.StartMailpit(t, mailtest.MailpitOptions{})
	bad := filepath.Join(t.TempDir(), "bad")
	os.WriteFile(bad, []byte("wrong"), 0o600)
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, `{"error":"queue full"}`, http.StatusServiceUnavailable)
	}))
	defer failing.Close()
	for _, tc := range []struct {
		name, send, mailbox, reason string
	}{
		{"mailbox login refused",
			fmt.Sprintf("smtp: {address: %s, tls: none, from: canary@example.jp, to: [box@example.jp]}", mp.SMTP),
			fmt.Sprintf("{protocol: pop3, address: %s, username: canary, password_file: %s}", mp.POP3, bad), ReasonMailbox},
		{"delivery API refuses",
			fmt.Sprintf("http: {url: %s, body: '{\"s\": {{json .Subject}}}'}", failing.URL),
			fmt.Sprintf("{protocol: pop3, address: %s, username: canary, password_file: %s}", mp.POP3, mp.PasswordFile), probe.ReasonStatus},
		{"smtp server unreachable",
			fmt.Sprintf("smtp: {address: %s, tls: none, from: canary@example.jp, to: ['box@example.jp']}", mailtest.FreePort(t)),
			fmt.Sprintf("{protocol: pop3, address: %s, username: canary, password_file: %s}", mp.POP3, mp.PasswordFile), probe.ReasonConnect},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := "rt-fail-" + strings.ReplaceAll(tc.name, " ", "-")
			c, rt := roundTripFor(t, fmt.Sprintf("name: %s\nkind: roundtrip\ntimeout: 2s\nroundtrip:\n  interval: 10s\n  deadline: 300ms\n  poll_interval: 100ms\n  send:\n    %s\n  mailbox: %s", name, tc.send, tc.mailbox))
			runOnce(t, rt)
			if v := gauge(t, c, "bosaimail_check_up", map[string]string{"check": name}); v != 0 {
				t.Fatalf("check_up %v, want 0", v)
			}
			var reasons []string
			for r := range rt.state.failures {
				reasons = append(reasons, r)
			}
			sort.Strings(reasons)
			if strings.Join(reasons, ",") != tc.reason {
				t.Errorf("failure reasons %v, want %s", reasons, tc.reason)
			}
		})
	}
	// Only the canary whose mailbox could not be read is still there; a
	// later successful poll of that check removes it.
	if n := mp.MessageCount(t); n != 1 {
		t.Errorf("%d canaries in the mailbox, want 1", n)
	}
}

// TestRoundTripLatencyMailpit measures the send-to-arrival latency through
// mailpit (SMTP in, POP3 out) over 20 round trips and logs the median; the
// figure depends on the poll interval, which bounds its resolution.
func TestRoundTripLatencyMailpit(t *testing.T) {
	if testing.Short() {
		t.Skip("measurement")
	}
	mp := mailtest.StartMailpit(t, mailtest.MailpitOptions{})
	_, rt := roundTripFor(t, fmt.Sprintf(`name: rt-latency
kind: roundtrip
timeout: 5s
roundtrip:
  interval: 10s
  deadline: 5s
  poll_interval: 100ms
  send:
    smtp: {address: %s, tls: none, from: canary@example.jp, to: [box@example.jp]}
  mailbox: {protocol: pop3, address: %s, username: %s, password_file: %s}`, mp.SMTP, mp.POP3, mp.User, mp.PasswordFile))
	var lat []time.Duration
	for range 20 {
		runOnce(t, rt)
		rt.state.mu.Lock()
		up, d := rt.state.up, rt.state.lastRoundTrip
		rt.state.mu.Unlock()
		if up != 1 {
			t.Fatalf("round trip failed: %v", rt.state.failures)
		}
		lat = append(lat, d)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	t.Logf("round trip through mailpit over 20 runs: min %s, median %s, max %s (poll interval 100ms)",
		lat[0].Round(time.Millisecond), ((lat[9] + lat[10]) / 2).Round(time.Millisecond), lat[19].Round(time.Millisecond))
}

// TestMailMetricsPromtool runs the real promtool over what the smtp and
// roundtrip checks export after a run each.
func TestMailMetricsPromtool(t *testing.T) {
	promtool := testbin.Path(t, "promtool")
	mp := mailtest.StartMailpit(t, mailtest.MailpitOptions{})
	cfg := collectortest.ChecksConfig(t,
		"name: smtp-lint\nkind: smtp\nsmtp: {address: "+mp.SMTP+", tls: none}",
		fmt.Sprintf("name: rt-lint\nkind: roundtrip\nroundtrip:\n  interval: 1m\n  deadline: 5s\n  poll_interval: 100ms\n  send:\n    smtp: {address: %s, tls: none, from: canary@example.jp, to: [box@example.jp]}\n  mailbox: {protocol: pop3, address: %s, username: %s, password_file: %s}",
			mp.SMTP, mp.POP3, mp.User, mp.PasswordFile))
	checks, err := collector.Build("checks", collector.Env{Config: cfg, Logger: log.NewNopLogger()})
	if err != nil {
		t.Fatal(err)
	}
	rc, err := newRoundTripCollector(collector.Env{Config: cfg, Logger: log.NewNopLogger()})
	if err != nil {
		t.Fatal(err)
	}
	runOnce(t, rc.(*roundTripCollector).checks[0])
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(collectortest.Bounded(checks, 20*time.Second), collectortest.Bounded(rc, 20*time.Second))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	enc := expfmt.NewEncoder(&out, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{"bosaimail_roundtrip_latency_seconds_bucket", `bosaimail_check_up{check="smtp-lint",critical="true",kind="smtp",service="delivery"} 1`,
		`bosaimail_check_up{check="rt-lint",critical="true",kind="roundtrip",service="delivery"} 1`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %s", want)
		}
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(out.Bytes())
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil || strings.TrimSpace(stderr.String()) != "" {
		t.Fatalf("promtool check metrics: %v\n%s\n--- output ---\n%s", err, stderr.String(), out.String())
	}
}

// TestRoundTripStateClassify walks one canary through its life: sent,
// seen, (deletion failed: leftover), removed (a copy is a duplicate), and
// a canary nobody here sent: foreign while fresh, stale when old.
func TestRoundTripStateClassify(t *testing.T) {
	st := newRoundTripState()
	now := time.Now()
	cur := canary.New("svc", "state-test", now)
	old := canary.New("svc", "state-test", now.Add(-time.Minute))
	st.addPending(old, now.Add(-time.Minute))
	st.addPending(cur, now)
	foreign := canary.New("svc", "state-test", now)
	stale := canary.New("svc", "state-test", now.Add(-time.Hour))
	for _, step := range []struct {
		do   func()
		tag  canary.Tag
		want string
	}{
		{nil, cur, "current"},
		{nil, old, "late"},
		{func() { st.recordLate(old, time.Minute) }, old, "leftover"},
		{func() { st.deleted(map[string]float64{"late": 1}, []canary.Tag{old}, 10*time.Minute) }, old, "duplicate"},
		{nil, foreign, ""},
		{nil, stale, "stale"},
	} {
		if step.do != nil {
			step.do()
		}
		if got, _ := st.classify(step.tag, cur, now, 10*time.Minute); got != step.want {
			t.Errorf("classify(%s) = %q, want %q", step.tag, got, step.want)
		}
	}
	if st.late != 1 || st.count != 1 || st.deletedN["late"] != 1 {
		t.Errorf("late=%v observations=%d deleted=%v", st.late, st.count, st.deletedN)
	}
}

// A reload that leaves a round trip check unchanged keeps its canary loop:
// no canary of its own is sent (a reload storm must not become a canary
// storm), and the loop is the same one.
func TestRoundTripKeptAcrossReloads(t *testing.T) {
	t.Parallel()
	var sends atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sends.Add(1)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	os.WriteFile(pw, []byte("pw\n"), 0o600)
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := l.Addr().String()
	l.Close()
	cfg := collectortest.ChecksConfig(t, fmt.Sprintf(`name: rt
kind: roundtrip
timeout: 5s
roundtrip:
  interval: 1h
  deadline: 30m
  send:
    http:
      url: %s/send
      body: '{"subject": {{json .Subject}}}'
  mailbox: {protocol: pop3, address: %s, username: u, password_file: %s}`, srv.URL, closed, pw))
	st := collector.NewState(nil)
	defer st.Close()
	newSet := func() *collector.Set {
		set, err := collector.NewSet(collector.Env{Config: cfg, State: st, Logger: log.NewNopLogger()}, []string{"roundtrip"})
		if err != nil {
			t.Fatal(err)
		}
		set.Start()
		return set
	}
	set := newSet()
	deadline := time.Now().Add(10 * time.Second)
	for sends.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if sends.Load() != 1 {
		t.Fatalf("%d canaries sent at start, want 1", sends.Load())
	}
	for i := 0; i < 20; i++ {
		next := newSet()
		set.Stop()
		set = next
	}
	set.Stop()
	st.Close() // waits for the loop to end: any canary a reload started is sent by now
	if n := sends.Load(); n != 1 {
		t.Errorf("%d canaries sent over 20 unchanged reloads, want the first only", n)
	}
}
