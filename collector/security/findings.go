package security

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"

	"github.com/bosaimail/bosaimail_exporter/collector"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/itchyny/gojq"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bosaimail/bosaimail_exporter/config"
	"github.com/bosaimail/bosaimail_exporter/internal/advisory"
	"github.com/bosaimail/bosaimail_exporter/internal/fetch"
)

var (
	secFindingsDesc = collector.NewDesc("security", "findings",
		"Active security findings (AWS Security Hub, WAF/IDS feeds), by feed and severity.", "source", "severity")
	secFindingsInvalidDesc = collector.NewDesc("security", "findings_invalid_records",
		"Records of a findings feed that could not be read in its last refresh (skipped, see the log for the line).", "source")
)

const (
	// secFindingsMaxBytes bounds one feed download or file.
	secFindingsMaxBytes = 64 << 20
	// secFindingsMaxLine bounds one JSON line.
	secFindingsMaxLine = 1 << 20
	// secFindingsMaxPages bounds a Security Hub sweep (100 findings each).
	secFindingsMaxPages = 500
)

type secFindingsResult struct {
	Counts  map[string]int
	Invalid int
}

type securityFindings struct {
	feeds []*secFindingsFeed
}

type secFindingsFeed struct {
	cfg    *config.FindingsFeed
	src    *collector.Source[secFindingsResult]
	client *http.Client
	logger log.Logger
	// securityHub counts the findings of an aws_securityhub feed (the AWS
	// adapter, findings_aws.go, or its absence in a build without AWS).
	securityHub func(ctx context.Context, res *secFindingsResult) error
}

func init() {
	collector.Register("security_findings", true, newSecurityFindings)
}

func newSecurityFindings(env collector.Env) (collector.Collector, error) {
	c := &securityFindings{}
	logger := env.Logger
	if logger == nil {
		logger = log.NewNopLogger()
	}
	for i := range env.Config.Security.Findings {
		fc := &env.Config.Security.Findings[i]
		f, err := collector.Keep(env, fc.Name, fc, func() (*secFindingsFeed, error) {
			tr := http.DefaultTransport.(*http.Transport).Clone()
			f := &secFindingsFeed{cfg: fc, client: &http.Client{Transport: tr}, logger: logger}
			if fc.Kind == "aws_securityhub" {
				// The client the AWS configuration built (it honours
				// AWS_CA_BUNDLE) unless a test sets one.
				f.client = nil
				sh, err := newSecurityHubCounter(f)
				if err != nil {
					return nil, fmt.Errorf("security.findings %s: %w", fc.Name, err)
				}
				f.securityHub = sh
			}
			f.src = &collector.Source[secFindingsResult]{MaxRetryAfter: env.MaxRetryAfter(),
				Collector: "security_findings", Name: fc.Name, Interval: fc.Interval.D(), Timeout: fc.Timeout.D(),
				Logger: env.Logger, Now: env.Now, Refresh: f.refresh, OnStop: tr.CloseIdleConnections,
			}
			return f, nil
		})
		if err != nil {
			return nil, err
		}
		c.feeds = append(c.feeds, f)
	}
	return c, nil
}

func (f *secFindingsFeed) refresh(ctx context.Context) (secFindingsResult, error) {
	res := secFindingsResult{Counts: map[string]int{}}
	switch f.cfg.Kind {
	case "aws_securityhub":
		return res, f.securityHub(ctx, &res)
	case "jsonl_file":
		file, err := os.Open(f.cfg.ResolvedPath)
		if err != nil {
			return res, fetch.Errorf(fetch.ReasonOther, "%v", err)
		}
		defer file.Close()
		return res, f.readRecords(ctx, fetch.LimitedReader(file, secFindingsMaxBytes), &res)
	default:
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.cfg.URL.String(), nil)
		if err != nil {
			return res, fetch.Errorf(fetch.ReasonOther, "%v", err)
		}
		tok, err := config.ReadOptionalSecret(f.cfg.BearerTokenFile)
		if err != nil {
			return res, fetch.Errorf(fetch.ReasonOther, "bearer token: %v", err)
		}
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		body, _, err := fetch.Get(f.client, req, secFindingsMaxBytes)
		if err != nil {
			return res, err
		}
		return res, f.readRecords(ctx, bytes.NewReader(body), &res)
	}
}

// readRecords reads a JSON array or JSON values one after another (JSON
// lines) and maps each record with the configured jq expressions. A record
// that cannot be read is skipped and counted, so one corrupt line in a WAF
// log does not hide the others.
func (f *secFindingsFeed) readRecords(ctx context.Context, r io.Reader, res *secFindingsResult) error {
	br := bufio.NewReaderSize(r, 64<<10)
	first, err := secFirstNonSpace(br)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty feed: no active findings
		}
		return secReadErr(err)
	}
	if first == '[' {
		d := json.NewDecoder(br)
		if _, err := d.Token(); err != nil {
			return fetch.Errorf(fetch.ReasonDecode, "%v", err)
		}
		for i := 0; d.More(); i++ {
			var rec any
			if err := d.Decode(&rec); err != nil {
				return fetch.Errorf(fetch.ReasonDecode, "findings array element %d: %v", i, err)
			}
			f.mapRecord(ctx, rec, i+1, res)
		}
		return nil
	}
	sc := bufio.NewScanner(br)
	sc.Buffer(make([]byte, 64<<10), secFindingsMaxLine)
	for line := 1; sc.Scan(); line++ {
		b := sc.Bytes()
		if len(secTrimSpace(b)) == 0 {
			continue
		}
		var rec any
		if err := json.Unmarshal(b, &rec); err != nil {
			res.Invalid++
			level.Warn(f.logger).Log("msg", "skipping unreadable finding", "source", f.cfg.Name, "line", line, "err", err)
			continue
		}
		f.mapRecord(ctx, rec, line, res)
	}
	if err := sc.Err(); err != nil {
		return secReadErr(err)
	}
	return nil
}

func secReadErr(err error) error {
	var fe *fetch.Error
	if errors.As(err, &fe) {
		return err
	}
	if errors.Is(err, bufio.ErrTooLong) {
		return fetch.Errorf(fetch.ReasonTooLarge, "a finding is longer than %d bytes", secFindingsMaxLine)
	}
	return fetch.Errorf(fetch.ReasonOther, "%v", err)
}

func (f *secFindingsFeed) mapRecord(ctx context.Context, rec any, pos int, res *secFindingsResult) {
	active, err := secJQFirst(ctx, f.cfg.ActiveCode, rec)
	if err != nil {
		res.Invalid++
		level.Warn(f.logger).Log("msg", "finding: active expression failed", "source", f.cfg.Name, "record", pos, "err", err)
		return
	}
	if b, ok := active.(bool); !ok || !b {
		return
	}
	sev, err := secJQFirst(ctx, f.cfg.SeverityCode, rec)
	if err != nil {
		res.Invalid++
		level.Warn(f.logger).Log("msg", "finding: severity expression failed", "source", f.cfg.Name, "record", pos, "err", err)
		return
	}
	s, _ := sev.(string)
	res.Counts[advisory.NormalizeSeverity(s)]++
}

func secJQFirst(ctx context.Context, code *gojq.Code, v any) (any, error) {
	iter := code.RunWithContext(ctx, v)
	out, ok := iter.Next()
	if !ok {
		return nil, nil
	}
	if err, isErr := out.(error); isErr {
		return nil, err
	}
	return out, nil
}

func secFirstNonSpace(br *bufio.Reader) (byte, error) {
	for {
		b, err := br.ReadByte()
		if err != nil {
			return 0, err
		}
		if b != ' ' && b != '\t' && b != '\n' && b != '\r' {
			return b, br.UnreadByte()
		}
	}
}

func secTrimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

func (c *securityFindings) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, f := range c.feeds {
		wg.Add(1)
		go func() { defer wg.Done(); f.src.Run(ctx) }()
	}
	wg.Wait()
}

func (c *securityFindings) Update(ctx context.Context, ch chan<- prometheus.Metric) error {
	if len(c.feeds) == 0 {
		return collector.ErrNoData
	}
	for _, f := range c.feeds {
		f.src.CollectStatus(ch)
		res, ok := f.src.Snapshot()
		if !ok {
			continue
		}
		for _, sev := range advisory.Severities {
			ch <- prometheus.MustNewConstMetric(secFindingsDesc, prometheus.GaugeValue, float64(res.Counts[sev]), f.cfg.Name, sev)
		}
		ch <- prometheus.MustNewConstMetric(secFindingsInvalidDesc, prometheus.GaugeValue, float64(res.Invalid), f.cfg.Name)
	}
	return nil
}
