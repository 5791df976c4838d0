// Package fetch is the one place where the exporter reads from HTTP peers
// it does not control (cloud status APIs, security feeds, statistics
// APIs): every read has a deadline and a size bound, and every failure
// carries a short, bounded reason for metrics.
package fetch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Failure reasons. The set is small and fixed so that reason labels stay
// bounded.
const (
	ReasonTimeout   = "timeout"
	ReasonDNS       = "dns"
	ReasonConnect   = "connect"
	ReasonTLS       = "tls"
	ReasonStatus    = "status"
	ReasonTooLarge  = "too_large"
	ReasonRateLimit = "rate_limited"
	ReasonDecode    = "decode"
	ReasonPayload   = "payload"
	ReasonOther     = "other"
)

// Error is a failure with its reason.
type Error struct {
	Reason string
	Err    error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an Error with a reason.
func Errorf(reason, format string, args ...any) error {
	return &Error{Reason: reason, Err: fmt.Errorf(format, args...)}
}

// RetryAfterError is returned for 429/503 answers that say when to retry.
type RetryAfterError struct {
	After time.Duration
	Err   error
}

func (e *RetryAfterError) Error() string { return e.Err.Error() }
func (e *RetryAfterError) Unwrap() error { return e.Err }

// Reason classifies any error into the bounded reason set.
func Reason(err error) string {
	if err == nil {
		return ""
	}
	var fe *Error
	if errors.As(err, &fe) {
		return fe.Reason
	}
	var ra *RetryAfterError
	if errors.As(err, &ra) {
		return ReasonRateLimit
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return ReasonTimeout
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return ReasonTimeout
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return ReasonDNS
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return ReasonConnect
	}
	msg := err.Error()
	if strings.Contains(msg, "tls:") || strings.Contains(msg, "x509:") {
		return ReasonTLS
	}
	return ReasonOther
}

// Get performs req and returns at most limit bytes of a 2xx body. A body
// over the limit is an error (never silently truncated data), as is a non-2xx
// status; 429 and 503 honour Retry-After. The request's context carries the
// deadline.
func Get(client *http.Client, req *http.Request, limit int64) ([]byte, *http.Response, error) {
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, &Error{Reason: Reason(err), Err: fmt.Errorf("%s %s: %w", req.Method, Redact(req.URL.String()), err)}
	}
	defer resp.Body.Close()
	body, err := ReadAll(resp.Body, limit)
	if err != nil {
		return nil, resp, fmt.Errorf("%s %s: %w", req.Method, Redact(req.URL.String()), err)
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		if after, ok := ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			return nil, resp, &RetryAfterError{After: after, Err: fmt.Errorf("%s %s: HTTP %d, retry after %s", req.Method, Redact(req.URL.String()), resp.StatusCode, after)}
		}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, resp, Errorf(ReasonStatus, "%s %s: HTTP %d: %s", req.Method, Redact(req.URL.String()), resp.StatusCode, PeerText(body, req))
	}
	return body, resp, nil
}

// ReadAll reads r up to limit bytes; more is a too_large error.
func ReadAll(r io.Reader, limit int64) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, &Error{Reason: Reason(err), Err: fmt.Errorf("reading body: %w", err)}
	}
	if int64(len(body)) > limit {
		return nil, Errorf(ReasonTooLarge, "body larger than %d bytes", limit)
	}
	return body, nil
}

// LimitedReader returns a reader that fails with a too_large error once more
// than limit bytes have been read, for streaming decoders.
func LimitedReader(r io.Reader, limit int64) io.Reader {
	return &limitedReader{r: r, left: limit, limit: limit}
}

type limitedReader struct {
	r           io.Reader
	left, limit int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.left < 0 {
		return 0, Errorf(ReasonTooLarge, "body larger than %d bytes", l.limit)
	}
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return n, Errorf(ReasonTooLarge, "body larger than %d bytes", l.limit)
	}
	return n, err
}

// LooksLikeHTML tells whether a body that should be JSON or XML is an HTML
// error page (proxies and captive portals answer 200 with one).
func LooksLikeHTML(body []byte) bool {
	b := bytes.TrimSpace(body)
	if len(b) > 512 {
		b = b[:512]
	}
	lower := bytes.ToLower(b)
	return bytes.HasPrefix(lower, []byte("<!doctype html")) || bytes.HasPrefix(lower, []byte("<html")) || bytes.Contains(lower, []byte("<body"))
}

// redacted stands for every hidden part of a URL.
const redacted = "xxxxx"

// Redact is the one way a URL is shown anywhere (landing page, logs,
// errors, reload answers, --config.check): credentials in the user part are
// replaced, every query value is replaced (keys stay, so an operator sees
// which parameters are set: api_key=xxxxx), and the fragment is dropped.
// What cannot be parsed as a URL shows only its scheme.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" {
		return redactRough(raw)
	}
	if u.User != nil {
		u.User = url.User(redacted)
	}
	if u.RawQuery != "" {
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil {
			u.RawQuery = redacted
		} else {
			for k, vs := range q {
				for i := range vs {
					vs[i] = redacted
				}
				q[k] = vs
			}
			u.RawQuery = q.Encode()
		}
	}
	u.Fragment, u.RawFragment = "", ""
	return u.String()
}

// redactRough shows of a URL that does not parse only its scheme: which
// part of it is a secret cannot be told (the config error that quotes it
// names the file, line and key anyway).
func redactRough(u string) string {
	if i := strings.Index(u, "://"); i >= 0 && i <= 16 {
		return u[:i+3] + redacted
	}
	return redacted
}

// urlInText finds what looks like a URL in free text (an error message, a
// log line): a scheme, "://" and everything up to white space or a quote.
var urlInText = regexp.MustCompile("[a-zA-Z][a-zA-Z0-9+.-]{0,15}://[^\\s\"'<>`]+")

// RedactText redacts every URL in a message (see Redact): for errors that
// come from libraries (net/url, net/http, YAML) and may quote a URL whole.
func RedactText(s string) string {
	return urlInText.ReplaceAllStringFunc(s, Redact)
}

// RedactError returns err with every URL in its message redacted (nil for
// nil); its reason (Reason) is kept.
func RedactError(err error) error {
	if err == nil {
		return nil
	}
	msg := RedactText(err.Error())
	if msg == err.Error() {
		return err
	}
	return &Error{Reason: Reason(err), Err: redactedError{msg: msg, err: err}}
}

// redactedError shows the redacted message but still unwraps to the
// original, so errors.Is/As keep working.
type redactedError struct {
	msg string
	err error
}

func (e redactedError) Error() string { return e.msg }
func (e redactedError) Unwrap() error { return e.err }

// maxRetryAfter bounds what ParseRetryAfter returns, far above any cap a
// source applies, so no arithmetic on it can overflow.
const maxRetryAfter = 365 * 24 * time.Hour

// ParseRetryAfter reads a Retry-After header (delay-seconds or an HTTP
// date) relative to now. The result is never negative and never above a
// year, whatever the peer sent (a huge number does not overflow into a
// negative wait); false when the header is absent or not understood.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if isDigits(v) {
		secs, err := strconv.ParseUint(v, 10, 64)
		if err != nil || secs > uint64(maxRetryAfter/time.Second) {
			return maxRetryAfter, true // larger than a uint64 or a year
		}
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		d := t.Sub(now) // saturates instead of overflowing
		switch {
		case d <= 0:
			return 0, true
		case d > maxRetryAfter:
			return maxRetryAfter, true
		}
		return d, true
	}
	return 0, false
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// Scrub hides in text from a peer (an error page that echoes the request)
// the secrets the request carried: its query values, its user part and
// its credential headers. A peer's bytes never bring our secrets into a log.
func Scrub(text string, req *http.Request) string {
	if req == nil {
		return text
	}
	var secrets []string
	if u := req.URL; u != nil {
		for _, vs := range u.Query() {
			secrets = append(secrets, vs...)
		}
		if u.User != nil {
			secrets = append(secrets, u.User.Username())
			if p, ok := u.User.Password(); ok {
				secrets = append(secrets, p)
			}
		}
	}
	for _, h := range []string{"Authorization", "X-Api-Key", "Apikey", "X-Job-Token"} {
		if v := req.Header.Get(h); v != "" {
			secrets = append(secrets, v)
			if _, tok, ok := strings.Cut(v, " "); ok {
				secrets = append(secrets, tok)
			}
		}
	}
	for _, sec := range secrets {
		if len(sec) >= 4 { // shorter values (page=2) are no secrets and would garble the text
			text = strings.ReplaceAll(text, sec, redacted)
			if esc := url.QueryEscape(sec); esc != sec {
				text = strings.ReplaceAll(text, esc, redacted)
			}
		}
	}
	return text
}

// PeerText is how bytes a peer sent are put into an error or a log line:
// the secrets the request carried are scrubbed (Scrub), control characters
// and invalid UTF-8 become spaces or U+FFFD so the text stays on one line,
// and it is bounded (120 characters). It is not quoted: the logger quotes
// the whole message once.
func PeerText(b []byte, req *http.Request) string {
	return snippet([]byte(Scrub(string(head(b, 4096)), req)))
}

func head(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

func snippet(b []byte) string {
	s := strings.ToValidUTF8(strings.TrimSpace(string(b)), "\uFFFD")
	if r := []rune(s); len(r) > 120 {
		s = string(r[:120]) + "..."
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == 0x2028 || r == 0x2029 {
			return ' '
		}
		return r
	}, s)
}
