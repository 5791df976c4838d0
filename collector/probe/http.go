package probe

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"time"

	"github.com/itchyny/gojq"

	"github.com/bosaimail/bosaimail_exporter/config"
	"github.com/bosaimail/bosaimail_exporter/internal/fetch"
)

func init() {
	registerProber(config.KindHTTP, probeHTTP)
}

// probeHTTP requests the configured URL on a fresh connection (so DNS,
// connect and TLS are measured and the served certificate is seen every
// time, as a user would meet them) and judges status, body and JSON.
func probeHTTP(ctx context.Context, chk *config.Check, res *Result, chains *ChainMemo) error {
	h := chk.HTTP
	var body *bytes.Reader
	if h.Body != "" {
		body = bytes.NewReader([]byte(h.Body))
	}
	var req *http.Request
	var err error
	if body != nil {
		req, err = http.NewRequestWithContext(ctx, h.Method, h.URL.String(), body)
	} else {
		req, err = http.NewRequestWithContext(ctx, h.Method, h.URL.String(), nil)
	}
	if err != nil {
		return fetch.Errorf(ReasonOther, "building request: %v", err)
	}
	req.Header.Set("User-Agent", "bosaimail_exporter")
	for k, v := range h.Headers {
		if strings.EqualFold(k, "Host") {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	if err := setCredentials(req, h); err != nil {
		return fetch.Errorf(ReasonAuth, "%v", err)
	}

	dialer := &net.Dialer{}
	transport := &http.Transport{
		Proxy:                  nil, // a health check measures the service, not a proxy
		DialContext:            dialer.DialContext,
		DialTLSContext:         tlsDialer(dialer, h.TLSClient, chains),
		DisableKeepAlives:      true,
		DisableCompression:     false,
		MaxResponseHeaderBytes: 64 << 10,
		// A check sends one small request and reads one bounded answer
		// over a connection used once; the 4 KiB defaults only add to the
		// peak heap when hundreds of checks run at once (about 2 MB of
		// peak RSS with 200 checks, bench/compare).
		WriteBufferSize: 1 << 10,
		ReadBufferSize:  2 << 10,
		// HTTP/1.1, as most health checkers speak: setting up h2 would add
		// to the cost of a connection that carries one request.
		ForceAttemptHTTP2: false,
	}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport}
	if !*h.FollowRedirects {
		client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	} else {
		client.CheckRedirect = func(_ *http.Request, via []*http.Request) error {
			if len(via) >= 10 {
				return errors.New("stopped after 10 redirects")
			}
			return nil
		}
	}

	tr := &phaseTracer{res: res}
	defer tr.finish()
	req = req.WithContext(httptrace.WithClientTrace(ctx, tr.trace()))
	resp, err := client.Do(req)
	if err != nil {
		return ClassifyError(ctx, err)
	}
	defer resp.Body.Close()
	res.StatusCode = resp.StatusCode
	res.SetTLS(resp.TLS)
	transferStart := time.Now()
	data, err := fetch.ReadAll(resp.Body, h.MaxBodyBytes)
	res.Phase("transfer", time.Since(transferStart))
	if err != nil {
		if fetch.Reason(err) == fetch.ReasonTooLarge {
			return fetch.Errorf(ReasonBody, "%v", err)
		}
		return ClassifyError(ctx, err)
	}
	if !StatusOK(h.ValidStatusCodes, resp.StatusCode) {
		return fetch.Errorf(ReasonStatus, "unexpected status code %d", resp.StatusCode)
	}
	for _, re := range h.BodyMustMatch {
		if !re.Match(data) {
			return fetch.Errorf(ReasonBody, "body does not match %q", re.String())
		}
	}
	for _, re := range h.BodyMustNotMatch {
		if re.Match(data) {
			return fetch.Errorf(ReasonBody, "body matches %q", re.String())
		}
	}
	return checkJSON(ctx, h, data)
}

// checkJSON applies the expect_json expressions to a body a peer sent.
func checkJSON(ctx context.Context, h *config.HTTPCheck, data []byte) error {
	if len(h.JSONExpectations) == 0 {
		return nil
	}
	var doc any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return fetch.Errorf(ReasonBody, "body is not JSON: %v", err)
	}
	// One document: anything after it ("{...}0", a second object) means
	// the answer is not what the service says it is.
	if _, err := dec.Token(); err != io.EOF {
		return fetch.Errorf(ReasonBody, "body is not JSON: data after the document")
	}
	doc = normalizeJSON(doc)
	for i, code := range h.JSONExpectations {
		ok, err := jqTrue(ctx, code, doc)
		if err != nil {
			return fetch.Errorf(ReasonBody, "expect_json[%d] %q: %v", i, h.ExpectJSON[i], err)
		}
		if !ok {
			return fetch.Errorf(ReasonBody, "expect_json[%d] %q is not true", i, h.ExpectJSON[i])
		}
	}
	return nil
}

func setCredentials(req *http.Request, h *config.HTTPCheck) error {
	if h.BearerTokenFile != "" {
		tok, err := config.ReadSecretFile(h.BearerTokenFile)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if h.BasicAuth != nil {
		pw := ""
		if h.BasicAuth.PasswordFile != "" {
			var err error
			if pw, err = config.ReadSecretFile(h.BasicAuth.PasswordFile); err != nil {
				return err
			}
		}
		req.SetBasicAuth(h.BasicAuth.Username, pw)
	}
	return nil
}

// StatusOK tells whether code is one of valid (any 2xx when valid is empty).
func StatusOK(valid []int, code int) bool {
	if len(valid) == 0 {
		return code >= 200 && code <= 299
	}
	for _, v := range valid {
		if v == code {
			return true
		}
	}
	return false
}

// ClassifyError gives a connection or request error its bounded reason; a
// deadline hit is a timeout whatever the error says.
func ClassifyError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fetch.Errorf(ReasonTimeout, "%v", err)
	}
	var fe *fetch.Error
	if errors.As(err, &fe) {
		return err
	}
	return fetch.Errorf(fetch.Reason(err), "%v", err)
}

// phaseTracer times the phases of one request with net/http/httptrace.
// The transport calls it from its own goroutines, some of which (a dial
// raced against another, a dial abandoned at the deadline) still run after
// the request returned; so it keeps what it timed under its own lock and
// hands it to the result once, in finish, ignoring anything later.
type phaseTracer struct {
	res *Result

	mu                                          sync.Mutex
	finished                                    bool
	timed                                       Result
	dnsStart, connStart, tlsStart, wroteRequest time.Time
}

// finish moves the timed phases into the result; the tracer records nothing
// after it.
func (p *phaseTracer) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.finished = true
	for _, ph := range p.timed.phases {
		p.res.Phase(ph.name, ph.d)
	}
}

// mark notes the start of a phase.
func (p *phaseTracer) mark(at *time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.finished {
		*at = time.Now()
	}
}

// done records a phase that began at *since.
func (p *phaseTracer) done(name string, since *time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.finished && !since.IsZero() {
		p.timed.Phase(name, time.Since(*since))
	}
}

func (p *phaseTracer) trace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		DNSStart:             func(httptrace.DNSStartInfo) { p.mark(&p.dnsStart) },
		DNSDone:              func(httptrace.DNSDoneInfo) { p.done("dns", &p.dnsStart) },
		ConnectStart:         func(string, string) { p.mark(&p.connStart) },
		ConnectDone:          func(string, string, error) { p.done("connect", &p.connStart) },
		TLSHandshakeStart:    func() { p.mark(&p.tlsStart) },
		TLSHandshakeDone:     func(tls.ConnectionState, error) { p.done("tls", &p.tlsStart) },
		WroteRequest:         func(httptrace.WroteRequestInfo) { p.mark(&p.wroteRequest) },
		GotFirstResponseByte: func() { p.done("processing", &p.wroteRequest) },
	}
}

// tlsDialer connects and completes the TLS handshake itself, so that the
// peer's chain is verified for the host actually dialed (a redirect may
// lead elsewhere) through chains. base (nil: defaults) is copied
// per connection, so a plain-http check copies nothing. It reports the handshake to the
// request's httptrace like http.Transport's own dialer does, so the tls
// phase is timed the same way.
func tlsDialer(dialer *net.Dialer, base *tls.Config, chains *ChainMemo) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		raw, err := dialer.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			raw.Close()
			return nil, err
		}
		conf := &tls.Config{}
		if base != nil {
			conf = base.Clone()
		}
		conn := tls.Client(raw, chains.verifyThrough(withCurves(conf), host))
		trace := httptrace.ContextClientTrace(ctx)
		if trace != nil && trace.TLSHandshakeStart != nil {
			trace.TLSHandshakeStart()
		}
		err = conn.HandshakeContext(ctx)
		if trace != nil && trace.TLSHandshakeDone != nil {
			trace.TLSHandshakeDone(conn.ConnectionState(), err)
		}
		if err != nil {
			raw.Close()
			return nil, err
		}
		return conn, nil
	}
}

// normalizeJSON turns json.Number into float64/int so jq comparisons such as
// '.queue < 100' behave as in jq itself.
func normalizeJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalizeJSON(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = normalizeJSON(e)
		}
		return x
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return int(i)
		}
		f, _ := x.Float64()
		return f
	default:
		return v
	}
}

// jqTrue runs a compiled jq expression and requires its first result to be
// the boolean true.
func jqTrue(ctx context.Context, code *gojq.Code, doc any) (bool, error) {
	iter := code.RunWithContext(ctx, doc)
	v, ok := iter.Next()
	if !ok {
		return false, errors.New("no result")
	}
	if err, isErr := v.(error); isErr {
		return false, err
	}
	b, isBool := v.(bool)
	if !isBool {
		return false, fmt.Errorf("result %v is not a boolean", v)
	}
	return b, nil
}

func withCurves(c *tls.Config) *tls.Config {
	if len(c.CurvePreferences) == 0 {
		c.CurvePreferences = []tls.CurveID{tls.X25519, tls.CurveP256}
	}
	return c
}
