//go:build !noaws

package awsclient

import (
	"errors"
	"fmt"
	"io"
	"net/http"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithylogging "github.com/aws/smithy-go/logging"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/bosaimail/bosaimail_exporter/internal/fetch"
)

// Err classifies an SDK error into the bounded reasons: a body over its
// bound or a deadline first (the SDK wraps them in its own errors), then
// the HTTP status, then a payload the SDK could not decode.
func Err(op string, err error) error {
	reason := fetch.Reason(err)
	var re *awshttp.ResponseError
	var de *smithy.DeserializationError
	switch {
	case reason == fetch.ReasonTooLarge || reason == fetch.ReasonTimeout:
	case errors.As(err, &re) && (re.HTTPStatusCode() == http.StatusTooManyRequests || re.HTTPStatusCode() == http.StatusServiceUnavailable):
		reason = fetch.ReasonRateLimit
	case errors.As(err, &re) && re.HTTPStatusCode() >= 300:
		reason = fetch.ReasonStatus
	case errors.As(err, &de):
		reason = fetch.ReasonDecode
	}
	return fetch.Errorf(reason, "%s: %v", op, err)
}

// Doer is what the SDK's service clients call (Options.HTTPClient).
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// BoundedDoer bounds every response body of an SDK client, which reads
// bodies itself. It wraps either the SDK's own client (keeping what
// LoadDefaultConfig set up, such as AWS_CA_BUNDLE) or a source's client of
// our own (a cloud source's tls_config and timeout).
type BoundedDoer struct {
	Next  Doer
	Limit int64
}

func (d BoundedDoer) Do(req *http.Request) (*http.Response, error) {
	resp, err := d.Next.Do(req)
	if err != nil || d.Limit <= 0 {
		return resp, err
	}
	resp.Body = limitedBody{Reader: fetch.LimitedReader(resp.Body, d.Limit), Closer: resp.Body}
	return resp, nil
}

type limitedBody struct {
	io.Reader
	io.Closer
}

// NewLogger hands the SDK's own log lines (a retry, a body it could not
// discard) to the exporter's logger, so they keep --log.format instead of
// going to stderr in the SDK's format.
type sdkLogger struct {
	logger log.Logger
	source string
}

func NewLogger(l log.Logger, source string) smithylogging.Logger {
	if l == nil {
		l = log.NewNopLogger()
	}
	return sdkLogger{logger: l, source: source}
}

func (a sdkLogger) Logf(c smithylogging.Classification, format string, v ...any) {
	lvl := level.Debug
	if c == smithylogging.Warn {
		lvl = level.Warn
	}
	lvl(a.logger).Log("msg", fmt.Sprintf(format, v...), "component", "aws-sdk", "source", a.source)
}
