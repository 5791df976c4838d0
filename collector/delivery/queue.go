package delivery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strings"
	"time"

	"github.com/bosaimail/bosaimail_exporter/collector"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bosaimail/bosaimail_exporter/config"
	"github.com/bosaimail/bosaimail_exporter/internal/fetch"
	"github.com/bosaimail/bosaimail_exporter/internal/postqueue"
)

var (
	queueMessagesDesc = collector.NewDesc("queue", "messages",
		"Messages in the MTA queue (Postfix postqueue -j), by queue (incoming, active, deferred, hold, maildrop).", "queue")
	queueRecipientsDesc = collector.NewDesc("queue", "recipients",
		"Recipients of the messages in the MTA queue, by queue.", "queue")
	queueOldestAgeDesc = collector.NewDesc("queue", "oldest_message_age_seconds",
		"Age of the oldest message in the queue (0 when the queue is empty).", "queue")
	queueSizeDesc = collector.NewDesc("queue", "size_bytes",
		"Total size of the messages in the queue.", "queue")
	queueDeferralReasonsDesc = collector.NewDesc("queue", "deferral_reasons",
		"Deferred recipients in the queue by bucketed reason (timeout, connection_refused, greylisting, mailbox_full, dns, tls, rate_limited, other).", "reason")
	queueMalformedDesc = collector.NewDesc("queue", "malformed_lines",
		"Lines of the latest queue dump that could not be parsed and were skipped.", "source")
)

func init() {
	collector.Register("delivery_queue", true, newDeliveryQueueCollector)
}

// deliveryQueueCollector reads the MTA queue in the background: a queue of
// a million messages takes seconds to list and must never block a scrape.
type deliveryQueueCollector struct {
	src *collector.Source[*postqueue.Summary]
	now func() time.Time
}

func newDeliveryQueueCollector(env collector.Env) (collector.Collector, error) {
	c := &deliveryQueueCollector{now: env.Now}
	if c.now == nil {
		c.now = time.Now
	}
	q := env.Config.Delivery.Queue
	if q == nil {
		return c, nil
	}
	var err error
	c.src, err = collector.Keep(env, queueSourceName(q), q, func() (*collector.Source[*postqueue.Summary], error) {
		read, closeIdle := queueReader(q)
		return &collector.Source[*postqueue.Summary]{MaxRetryAfter: env.MaxRetryAfter(),
			Collector: "delivery_queue", Name: queueSourceName(q),
			Interval: q.Interval.D(), Timeout: q.Timeout.D(), Logger: env.Logger, Now: env.Now,
			Refresh: func(ctx context.Context) (*postqueue.Summary, error) {
				return read(ctx, func(r io.Reader) (*postqueue.Summary, error) {
					s, err := postqueue.Parse(fetch.LimitedReader(r, q.MaxBytes), q.MaxLineBytes)
					if errors.Is(err, postqueue.ErrGarbage) {
						err = fetch.Errorf(fetch.ReasonPayload, "%v", err)
					}
					return s, err
				})
			},
			OnStop: closeIdle,
		}, nil
	})
	return c, err
}

func queueSourceName(q *config.QueueSource) string {
	switch {
	case len(q.Command) > 0:
		return "command"
	case q.File != "":
		return "file"
	}
	return "url"
}

type queueParse func(io.Reader) (*postqueue.Summary, error)

// queueReader returns how one dump is obtained and parsed while streaming
// (the dump is never held in memory whole), and what closes its idle
// connections when the source stops.
func queueReader(q *config.QueueSource) (func(context.Context, queueParse) (*postqueue.Summary, error), func()) {
	switch {
	case len(q.Command) > 0:
		return func(ctx context.Context, parse queueParse) (*postqueue.Summary, error) {
			return runQueueCommand(ctx, q.Command, parse)
		}, func() {}
	case q.File != "":
		return func(_ context.Context, parse queueParse) (*postqueue.Summary, error) {
			f, err := os.Open(q.ResolvedFile)
			if err != nil {
				return nil, fetch.Errorf(fetch.ReasonOther, "queue dump: %v", err)
			}
			defer f.Close()
			s, err := parse(f)
			if err != nil {
				return nil, fmt.Errorf("queue dump %s: %w", q.ResolvedFile, err)
			}
			return s, nil
		}, func() {}
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: q.TLSClient, ResponseHeaderTimeout: q.Timeout.D()}}
	return func(ctx context.Context, parse queueParse) (*postqueue.Summary, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, q.URL.String(), nil)
		if err != nil {
			return nil, err
		}
		tok, err := config.ReadOptionalSecret(q.BearerTokenFile)
		if err != nil {
			return nil, fetch.Errorf(fetch.ReasonOther, "bearer token: %v", err)
		}
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		where := "GET " + fetch.Redact(q.URL.String())
		resp, err := client.Do(req)
		if err != nil {
			return nil, &fetch.Error{Reason: fetch.Reason(err), Err: fmt.Errorf("%s: %w", where, err)}
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			// Reuse fetch's handling of Retry-After and status errors on a
			// bounded snippet of the body.
			resp.Body = io.NopCloser(io.LimitReader(resp.Body, 4096))
			_, _, err := fetch.Get(&http.Client{Transport: deliveryReplay{resp}}, req, 4096)
			return nil, err
		}
		s, err := parse(resp.Body)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		return s, nil
	}, client.CloseIdleConnections
}

// deliveryReplay answers with an already received response, so fetch.Get can
// classify it.
type deliveryReplay struct{ resp *http.Response }

func (r deliveryReplay) RoundTrip(*http.Request) (*http.Response, error) { return r.resp, nil }

// runQueueCommand runs postqueue with ctx's deadline. A hung postqueue is
// killed at the deadline, and WaitDelay makes sure a child that keeps the
// pipe open cannot hold the refresh either.
func runQueueCommand(ctx context.Context, argv []string, parse queueParse) (*postqueue.Summary, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.WaitDelay = time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &deliveryStderr{buf: &stderr, left: 4096}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fetch.Errorf(fetch.ReasonOther, "starting %s: %v", argv[0], err)
	}
	s, perr := parse(stdout)
	if perr != nil {
		// Drain nothing more: stop the command so Wait returns.
		_ = cmd.Process.Kill()
	}
	werr := cmd.Wait()
	msg := strings.TrimSpace(stderr.String())
	switch {
	case ctx.Err() != nil:
		return nil, fetch.Errorf(fetch.ReasonTimeout, "%s did not finish in time (killed): %v", argv[0], ctx.Err())
	case perr != nil:
		return nil, fmt.Errorf("%s output: %w", argv[0], perr)
	case werr != nil:
		var ee *exec.ExitError
		if errors.As(werr, &ee) {
			return nil, fetch.Errorf(fetch.ReasonOther, "%s exited with %d: %s", argv[0], ee.ExitCode(), msg)
		}
		return nil, fetch.Errorf(fetch.ReasonOther, "%s: %v", argv[0], werr)
	}
	return s, nil
}

type deliveryStderr struct {
	buf  *bytes.Buffer
	left int
}

func (l *deliveryStderr) Write(p []byte) (int, error) {
	n := len(p)
	if l.left > 0 {
		k := min(len(p), l.left)
		l.buf.Write(p[:k])
		l.left -= k
	}
	return n, nil
}

func (c *deliveryQueueCollector) Run(ctx context.Context) {
	if c.src != nil {
		c.src.Run(ctx)
	}
}

func (c *deliveryQueueCollector) Update(_ context.Context, ch chan<- prometheus.Metric) error {
	if c.src == nil {
		return collector.ErrNoData
	}
	c.src.CollectStatus(ch)
	s, ok := c.src.Snapshot()
	if !ok {
		return nil
	}
	now := c.now()
	names := make([]string, 0, len(s.Queues))
	for n := range s.Queues {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		q := s.Queues[n]
		ch <- prometheus.MustNewConstMetric(queueMessagesDesc, prometheus.GaugeValue, float64(q.Messages), n)
		ch <- prometheus.MustNewConstMetric(queueRecipientsDesc, prometheus.GaugeValue, float64(q.Recipients), n)
		ch <- prometheus.MustNewConstMetric(queueSizeDesc, prometheus.GaugeValue, float64(q.SizeBytes), n)
		age := 0.0
		if !q.OldestArrival.IsZero() {
			// Ages grow between refreshes: the oldest message is as old as
			// now, not as the dump (a stale dump shows in source metrics).
			age = max(0, now.Sub(q.OldestArrival).Seconds())
		}
		ch <- prometheus.MustNewConstMetric(queueOldestAgeDesc, prometheus.GaugeValue, age, n)
	}
	for _, r := range postqueue.Reasons {
		ch <- prometheus.MustNewConstMetric(queueDeferralReasonsDesc, prometheus.GaugeValue, float64(s.Deferrals[r]), r)
	}
	ch <- prometheus.MustNewConstMetric(queueMalformedDesc, prometheus.GaugeValue, float64(s.Malformed), c.src.Name)
	return nil
}
