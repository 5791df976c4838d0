package roundtrip

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/bosaimail/bosaimail_exporter/collector/probe"

	"github.com/bosaimail/bosaimail_exporter/collector"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bosaimail/bosaimail_exporter/config"
	"github.com/bosaimail/bosaimail_exporter/internal/canary"
	"github.com/bosaimail/bosaimail_exporter/internal/fetch"
	"github.com/bosaimail/bosaimail_exporter/internal/mailbox"
)

// ReasonMailbox: the test mailbox could not be read (the canary may well
// have arrived); the message of the failure names the step.
const ReasonMailbox = "mailbox"

var (
	roundTripDurationDesc = collector.NewDesc("roundtrip", "duration_seconds",
		"Send-to-arrival time of the latest canary mail that arrived within its deadline (resolution: the poll interval).",
		"service", "check")
	roundTripLastSuccessDesc = collector.NewDesc("roundtrip", "last_success_timestamp_seconds",
		"When a canary mail last arrived within its deadline.", "service", "check")
	roundTripLatencyDesc = collector.NewTypedDesc("histogram", "roundtrip", "latency_seconds",
		"Send-to-arrival time of canary mails, late arrivals included.", "service", "check")
	roundTripLateDesc = collector.NewTypedDesc("counter", "roundtrip", "late_arrivals_total",
		"Canary mails that arrived after their deadline (their run already failed with reason timeout).", "service", "check")
	roundTripDeletedDesc = collector.NewTypedDesc("counter", "roundtrip", "canaries_deleted_total",
		"Canary mails deleted from the test mailbox, by kind: current, late, duplicate, stale (left by another process).",
		"service", "check", "kind")
)

// roundTripBuckets cover a mail service's minutes-scale promise.
var roundTripBuckets = []float64{0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600}

func init() {
	collector.Register("roundtrip", true, newRoundTripCollector)
}

// roundTripCollector runs each roundtrip check in the background on its
// own interval; a scrape only reads the results.
type roundTripCollector struct {
	checks []*roundTrip
	logger log.Logger
}

// roundTrip is one configured roundtrip check.
type roundTrip struct {
	service string
	check   *config.Check
	state   *roundTripState
	logger  log.Logger
	now     func() time.Time
	// runner shares the canary loop between the Sets that run it: a reload
	// that leaves the check unchanged does not send a canary of its own.
	runner *collector.Loop
	// chains is the State's memo of verified certificate chains, which the
	// SMTP send shares with the per-scrape checks (often the same server).
	chains *probe.ChainMemo
}

func newRoundTripCollector(env collector.Env) (collector.Collector, error) {
	c := &roundTripCollector{logger: env.Logger}
	now := env.Now
	if now == nil {
		now = time.Now
	}
	for si := range env.Config.Services {
		svc := &env.Config.Services[si]
		for ci := range svc.Checks {
			chk := &svc.Checks[ci]
			if chk.Kind != config.KindRoundTrip {
				continue
			}
			// The state (pending canaries, histogram) lives as long as the
			// check is configured, across reloads, in the process's State.
			st, err := collector.Keep(env, svc.Name+"/"+chk.Name, nil, func() (*roundTripState, error) { return newRoundTripState(), nil })
			if err != nil {
				return nil, err
			}
			rt, err := collector.Keep(env, svc.Name+"/"+chk.Name+"/loop", chk, func() (*roundTrip, error) {
				rt := &roundTrip{
					service: svc.Name, check: chk, state: st,
					logger: log.With(env.Logger, "service", svc.Name, "check", chk.Name), now: now,
					chains: probe.SharedChainMemo(env),
				}
				rt.runner = &collector.Loop{Name: svc.Name + "/" + chk.Name, Logger: env.Logger, Fn: rt.loop}
				return rt, nil
			})
			if err != nil {
				return nil, err
			}
			c.checks = append(c.checks, rt)
		}
	}
	return c, nil
}

// Run starts one loop per check and returns when ctx ends (reload or
// shutdown). The first canary goes out at once.
func (c *roundTripCollector) Run(ctx context.Context) {
	collector.RunSources(ctx, c.checks, func(rt *roundTrip) collector.Runner { return rt.runner })
}

func (rt *roundTrip) loop(ctx context.Context) {
	interval := rt.check.RoundTrip.Interval.D()
	for {
		start := time.Now()
		rt.RunOnce(ctx)
		wait := interval - time.Since(start)
		if wait < 0 {
			wait = 0
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

func (c *roundTripCollector) Update(_ context.Context, ch chan<- prometheus.Metric) error {
	if len(c.checks) == 0 {
		return collector.ErrNoData
	}
	for _, rt := range c.checks {
		rt.state.collect(ch, rt.service, rt.check)
	}
	return nil
}

// RunOnce sends one canary and waits for it; the result is stored for the
// next scrapes.
func (rt *roundTrip) RunOnce(ctx context.Context) {
	r := rt.check.RoundTrip
	st := rt.state
	tag := canary.New(rt.service, rt.check.Name, rt.now())
	res := &probe.Result{}
	start := time.Now()
	// Registered before sending: a send that fails half-way may still
	// deliver, and then the mail must be recognised and removed.
	st.addPending(tag, start)

	sendCtx, cancel := context.WithTimeout(ctx, rt.check.Timeout.D())
	err := rt.send(sendCtx, tag, res)
	if err != nil && sendCtx.Err() != nil && ctx.Err() == nil {
		err = fetch.Errorf(probe.ReasonTimeout, "sending the canary: %v", err)
	}
	cancel()
	res.Phase("send", time.Since(start))
	if ctx.Err() != nil {
		return // shutting down or reloading: no verdict
	}
	if err != nil {
		st.finish(0, time.Since(start), res, probe.FailureReason(context.Background(), err), 0, time.Time{})
		level.Warn(rt.logger).Log("msg", "roundtrip canary could not be sent", "err", err)
		return
	}

	deadline := start.Add(r.Deadline.D())
	waitStart := time.Now()
	var lastErr error
	polled := false
	for {
		pollCtx, cancel := context.WithDeadline(ctx, earliest(deadline.Add(rt.check.Timeout.D()), time.Now().Add(rt.check.Timeout.D())))
		arrived, err := rt.poll(pollCtx, tag)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			lastErr = err
			level.Debug(rt.logger).Log("msg", "reading the test mailbox failed", "err", err)
		} else {
			polled = true
		}
		if !arrived.IsZero() {
			res.Phase("wait", arrived.Sub(waitStart))
			latency := arrived.Sub(start)
			st.finish(1, time.Since(start), res, "", latency, rt.now())
			return
		}
		next := time.Now().Add(r.PollInterval.D())
		if next.After(deadline) {
			break
		}
		t := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
	res.Phase("wait", time.Since(waitStart))
	reason := probe.ReasonTimeout
	if !polled && lastErr != nil {
		reason = ReasonMailbox
	}
	level.Warn(rt.logger).Log("msg", "roundtrip canary did not arrive in time", "deadline", r.Deadline, "reason", reason, "last_mailbox_error", lastErr)
	st.finish(0, time.Since(start), res, reason, 0, time.Time{})
}

func earliest(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// send hands the canary to the mail service.
func (rt *roundTrip) send(ctx context.Context, tag canary.Tag, res *probe.Result) error {
	s := rt.check.RoundTrip.Send
	if s.SMTP != nil {
		return sendSMTP(ctx, s.SMTP, tag, res, rt.now(), rt.chains)
	}
	return sendHTTP(ctx, s.HTTP, tag, rt.now())
}

func sendSMTP(ctx context.Context, s *config.RoundTripSMTP, tag canary.Tag, res *probe.Result, now time.Time, chains *probe.ChainMemo) error {
	sess, err := probe.OpenSMTP(ctx, &s.SMTPServer, res, chains)
	if err != nil {
		return err
	}
	defer sess.Close()
	if err := sess.Auth(s.Auth); err != nil {
		return err
	}
	if err := sess.Envelope(s.From, s.To); err != nil {
		return err
	}
	return sess.Deliver(ctx, canary.Compose(tag, s.From, s.To, now))
}

// maxAPIResponse bounds what is read of a delivery API's answer.
const maxAPIResponse = 64 << 10

func sendHTTP(ctx context.Context, h *config.RoundTripHTTP, tag canary.Tag, now time.Time) error {
	var body bytes.Buffer
	data := config.RoundTripTemplateData{Tag: tag.String(), Subject: canary.Subject(tag), Text: canary.Text(tag), SentAt: now.In(config.Tokyo).Format(time.RFC3339)}
	if err := h.BodyTemplate.Execute(&body, data); err != nil {
		return fetch.Errorf(probe.ReasonOther, "rendering the request body: %v", err)
	}
	req, err := http.NewRequestWithContext(ctx, h.Method, h.URL.String(), &body)
	if err != nil {
		return fetch.Errorf(probe.ReasonOther, "building request: %v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "bosaimail_exporter")
	for k, v := range h.Headers {
		req.Header.Set(k, v)
	}
	if h.BearerTokenFile != "" {
		tok, err := config.ReadSecretFile(h.BearerTokenFile)
		if err != nil {
			return fetch.Errorf(probe.ReasonAuth, "%v", err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	tlsConf := h.TLSClient
	if tlsConf == nil {
		tlsConf = &tls.Config{}
	}
	transport := &http.Transport{Proxy: nil, DialContext: (&net.Dialer{}).DialContext, TLSClientConfig: tlsConf.Clone(), DisableKeepAlives: true}
	defer transport.CloseIdleConnections()
	resp, err := (&http.Client{Transport: transport}).Do(req)
	if err != nil {
		return probe.ClassifyError(ctx, fmt.Errorf("%s %s: %w", h.Method, fetch.Redact(h.URL.String()), err))
	}
	defer resp.Body.Close()
	answer, err := fetch.ReadAll(resp.Body, maxAPIResponse)
	if err != nil {
		return probe.ClassifyError(ctx, err)
	}
	if !probe.StatusOK(h.ValidStatusCodes, resp.StatusCode) {
		return fetch.Errorf(probe.ReasonStatus, "%s %s: HTTP %d: %s", h.Method, fetch.Redact(h.URL.String()), resp.StatusCode, fetch.PeerText(answer, req))
	}
	return nil
}

// poll reads the mailbox once: it deletes every canary of this check that
// is known (current, late, duplicate) or stale, leaves everything else, and
// returns when the current canary was seen (zero if not).
func (rt *roundTrip) poll(ctx context.Context, cur canary.Tag) (time.Time, error) {
	m := rt.check.RoundTrip.Mailbox
	pw, err := config.ReadSecretFile(m.PasswordFile)
	if err != nil {
		return time.Time{}, &mailbox.Error{Step: mailbox.StepLogin, Err: err}
	}
	sess, err := mailbox.Open(ctx, mailbox.Options{
		Protocol: m.Protocol, Address: m.Address, TLS: m.TLS, TLSConfig: m.TLSClient,
		Username: m.Username, Password: pw, Folder: m.Folder, MaxMessageBytes: m.MaxMessageBytes,
	})
	if err != nil {
		return time.Time{}, err
	}
	msgs, err := sess.List(ctx)
	if err != nil {
		sess.Close(ctx)
		return time.Time{}, err
	}
	st := rt.state
	now := time.Now()
	staleAfter := rt.check.RoundTrip.StaleAfter.D()
	var arrived time.Time
	var del []string
	kinds := map[string]float64{}
	var removed []canary.Tag
	seen := map[canary.Tag]bool{}
	for _, msg := range msgs {
		if st.skipped(msg.ID) {
			continue
		}
		if msg.Size > m.MaxMessageBytes {
			st.skip(msg.ID) // a canary is small: this one is not ours
			continue
		}
		raw, err := sess.Fetch(ctx, msg.ID)
		if err != nil {
			sess.Close(ctx)
			return time.Time{}, err
		}
		ours := false
		foreign := false
		for _, t := range canary.Scan(raw) {
			if !t.SameCheck(cur) {
				continue
			}
			if seen[t] && t != cur {
				ours = true
				kinds["duplicate"]++
				continue
			}
			seen[t] = true
			switch kind, sentAt := st.classify(t, cur, rt.now(), staleAfter); kind {
			case "current":
				ours = true
				removed = append(removed, t)
				if arrived.IsZero() {
					arrived = now
					kinds["current"]++
					st.markArrived(t)
				} else {
					kinds["duplicate"]++
				}
			case "late":
				// Counted when seen, not when deleted: lateness is about
				// arrival, and a failed deletion must not hide it.
				ours = true
				removed = append(removed, t)
				kinds["late"]++
				st.recordLate(t, now.Sub(sentAt))
			case "leftover":
				// Arrived in an earlier poll whose deletion did not complete.
				ours = true
				removed = append(removed, t)
				kinds["current"]++
			case "duplicate", "stale":
				ours = true
				kinds[kind]++
			default:
				foreign = true // a fresh canary of another exporter instance
			}
		}
		switch {
		case ours:
			del = append(del, msg.ID)
		case !foreign:
			st.skip(msg.ID)
		}
	}
	if err := sess.Delete(ctx, del); err != nil {
		sess.Close(ctx)
		return arrived, err
	}
	if err := sess.Close(ctx); err != nil {
		// Deletion is not final: the canaries stay known and are removed
		// by a later poll.
		return arrived, err
	}
	st.deleted(kinds, removed, staleAfter)
	return arrived, nil
}

// --- state kept across scrapes and reloads ---

type roundTripState struct {
	mu sync.Mutex

	ran         bool
	up          float64
	runDuration time.Duration
	res         *probe.Result

	lastRoundTrip time.Duration
	lastSuccess   time.Time

	buckets []uint64
	count   uint64
	sum     float64

	late     float64
	deletedN map[string]float64
	failures map[string]float64

	// pending: canaries sent and not yet removed from the mailbox, by tag.
	pending map[canary.Tag]*pendingCanary
	// unrelated: mailbox message IDs known not to be canaries of this
	// check, so a mailbox full of other mail is read once, not every poll.
	unrelated map[string]bool
}

type pendingCanary struct {
	sent    time.Time
	arrived bool // seen in the mailbox (in time or late)
	removed bool // deleted from the mailbox; further copies are duplicates
}

func newRoundTripState() *roundTripState {
	return &roundTripState{
		buckets: make([]uint64, len(roundTripBuckets)), deletedN: map[string]float64{}, failures: map[string]float64{},
		pending: map[canary.Tag]*pendingCanary{}, unrelated: map[string]bool{},
	}
}

// maxPending and maxUnrelated bound the state whatever happens.
const (
	maxPending   = 1000
	maxUnrelated = 100000
)

func (s *roundTripState) addPending(t canary.Tag, sent time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.pending) >= maxPending {
		var oldest canary.Tag
		for k, p := range s.pending {
			if oldest == (canary.Tag{}) || p.sent.Before(s.pending[oldest].sent) {
				oldest = k
			}
		}
		delete(s.pending, oldest)
	}
	s.pending[t] = &pendingCanary{sent: sent}
}

func (s *roundTripState) skipped(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unrelated[id]
}

func (s *roundTripState) skip(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.unrelated) >= maxUnrelated {
		clear(s.unrelated)
	}
	s.unrelated[id] = true
}

// classify says what a canary of this check found in the mailbox is.
func (s *roundTripState) classify(t, cur canary.Tag, now time.Time, staleAfter time.Duration) (kind string, sent time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, known := s.pending[t]
	switch {
	case t == cur:
		return "current", time.Time{}
	case known && p.removed:
		return "duplicate", p.sent
	case known && p.arrived:
		return "leftover", p.sent
	case known:
		return "late", p.sent
	case now.Sub(t.Sent) > staleAfter:
		return "stale", t.Sent
	default:
		return "", time.Time{}
	}
}

func (s *roundTripState) markArrived(t canary.Tag) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.pending[t]; ok {
		p.arrived = true
	}
}

// recordLate counts a canary that arrived after its run had failed.
func (s *roundTripState) recordLate(t canary.Tag, latency time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.pending[t]; ok {
		p.arrived = true
	}
	s.late++
	s.observe(latency)
}

// deleted records a completed cleanup: counts by kind; the removed
// canaries stay known (a later copy is a duplicate) until staleAfter, after
// which any copy is simply stale.
func (s *roundTripState) deleted(kinds map[string]float64, removed []canary.Tag, staleAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, n := range kinds {
		s.deletedN[k] += n
	}
	for _, t := range removed {
		if p, ok := s.pending[t]; ok {
			p.removed = true
		}
	}
	for t, p := range s.pending {
		if time.Since(p.sent) > staleAfter {
			delete(s.pending, t)
		}
	}
}

func (s *roundTripState) observe(d time.Duration) {
	v := d.Seconds()
	for i, b := range roundTripBuckets {
		if v <= b {
			s.buckets[i]++
		}
	}
	s.count++
	s.sum += v
}

// finish stores the verdict of one run.
func (s *roundTripState) finish(up float64, runDuration time.Duration, res *probe.Result, reason string, latency time.Duration, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ran, s.up, s.runDuration, s.res = true, up, runDuration, res
	if up == 1 {
		s.lastRoundTrip, s.lastSuccess = latency, at
		s.observe(latency)
	} else {
		s.failures[reason]++
	}
}

func (s *roundTripState) collect(ch chan<- prometheus.Metric, service string, chk *config.Check) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ran {
		return // no verdict before the first canary had its chance
	}
	probe.Emit(ch, service, chk, s.up, s.runDuration, s.res)
	for reason, n := range s.failures {
		ch <- prometheus.MustNewConstMetric(probe.CheckFailuresDesc, prometheus.CounterValue, n, service, chk.Name, reason)
	}
	if !s.lastSuccess.IsZero() {
		ch <- prometheus.MustNewConstMetric(roundTripDurationDesc, prometheus.GaugeValue, s.lastRoundTrip.Seconds(), service, chk.Name)
		ch <- prometheus.MustNewConstMetric(roundTripLastSuccessDesc, prometheus.GaugeValue, float64(s.lastSuccess.UnixMilli())/1e3, service, chk.Name)
	}
	buckets := make(map[float64]uint64, len(roundTripBuckets))
	for i, b := range roundTripBuckets {
		buckets[b] = s.buckets[i]
	}
	ch <- prometheus.MustNewConstHistogram(roundTripLatencyDesc, s.count, s.sum, buckets, service, chk.Name)
	ch <- prometheus.MustNewConstMetric(roundTripLateDesc, prometheus.CounterValue, s.late, service, chk.Name)
	kinds := make([]string, 0, len(s.deletedN))
	for k := range s.deletedN {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		ch <- prometheus.MustNewConstMetric(roundTripDeletedDesc, prometheus.CounterValue, s.deletedN[k], service, chk.Name, k)
	}
}
