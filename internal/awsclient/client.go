//go:build !noaws

package awsclient

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/bosaimail/bosaimail_exporter/internal/fetch"
)

// Options describe one AWS service endpoint.
type Options struct {
	// Service is the SigV4 signing name ("health", "securityhub", "ses").
	Service string
	// Host is the endpoint prefix: https://<Host>.<Region>.amazonaws.com
	// ("email" for SES).
	Host   string
	Region string
	// Endpoint overrides the endpoint (tests, VPC endpoints); its path is
	// kept as the prefix of every operation's path.
	Endpoint *url.URL
	// HTTP carries the source's timeout and TLS settings; nil uses the
	// client the SDK's configuration built (which honours AWS_CA_BUNDLE).
	HTTP Doer
	// Credentials replace the SDK's default chain (key files).
	Credentials aws.CredentialsProvider
	// MaxBytes bounds every answer.
	MaxBytes int64
}

// Client sends SigV4-signed requests to one AWS service and decodes the
// few fields the exporter reads.
//
// The SDK's service clients (Health, Security Hub, SES, SESv2) were about
// 5 MB of code and 2-3 MB of memory at start for four read-only calls; the
// parts that are hard to get right stay the SDK's: the credential chain
// (environment, shared files, SSO, web identity, instance role), its
// caching and refresh, and the signer.
type Client struct {
	opts     Options
	creds    aws.CredentialsProvider
	http     Doer
	endpoint *url.URL
	signer   *v4.Signer
}

// New reads the AWS configuration (environment and shared files only:
// credentials are fetched lazily, under each call's deadline).
func New(o Options) (*Client, error) {
	if o.Region == "" {
		return nil, fmt.Errorf("AWS %s: no region", o.Service)
	}
	cfg, err := awsconfig.LoadDefaultConfig(context.Background(), awsconfig.WithRegion(o.Region))
	if err != nil {
		return nil, fmt.Errorf("AWS configuration: %w", err)
	}
	c := &Client{opts: o, creds: o.Credentials, http: o.HTTP, endpoint: o.Endpoint, signer: v4.NewSigner()}
	if c.creds == nil {
		c.creds = cfg.Credentials
	}
	if c.http == nil {
		c.http = cfg.HTTPClient
	}
	if c.http == nil {
		c.http = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	if c.endpoint == nil {
		suffix := "amazonaws.com"
		if strings.HasPrefix(o.Region, "cn-") {
			suffix = "amazonaws.com.cn"
		}
		c.endpoint = &url.URL{Scheme: "https", Host: o.Host + "." + o.Region + "." + suffix, Path: "/"}
	}
	return c, nil
}

// WithHTTP is a copy of c sending through d.
func (c *Client) WithHTTP(d Doer) *Client {
	cp := *c
	cp.http = d
	return &cp
}

// CloseIdleConnections lets a source removed by a reload release its
// connections.
func (c *Client) CloseIdleConnections() {
	if ci, ok := c.http.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// JSONRPC calls an operation of the awsJson1.1 protocol (AWS Health):
// a POST to the endpoint naming the operation in X-Amz-Target.
func (c *Client) JSONRPC(ctx context.Context, target string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fetch.Errorf(fetch.ReasonOther, "%s: %v", target, err)
	}
	h := http.Header{"Content-Type": {"application/x-amz-json-1.1"}, "X-Amz-Target": {target}, "Accept": {"application/json"}}
	b, err := c.do(ctx, target, http.MethodPost, "", h, body)
	if err != nil {
		return err
	}
	return decodeJSON(target, b, out)
}

// REST calls an operation of the restJson1 protocol (Security Hub,
// SESv2): method and path name it, in (nil for none) is the JSON body.
func (c *Client) REST(ctx context.Context, op, method, path string, in, out any) error {
	var body []byte
	h := http.Header{"Accept": {"application/json"}}
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fetch.Errorf(fetch.ReasonOther, "%s: %v", op, err)
		}
		h.Set("Content-Type", "application/json")
	}
	b, err := c.do(ctx, op, method, path, h, body)
	if err != nil {
		return err
	}
	return decodeJSON(op, b, out)
}

// Query calls an operation of the awsQuery protocol (SES): a form POST,
// answered in XML.
func (c *Client) Query(ctx context.Context, action, version string, out any) error {
	form := url.Values{"Action": {action}, "Version": {version}}
	// No Accept: application/json here, which some query services answer
	// in JSON; the XML is what is decoded.
	h := http.Header{"Content-Type": {"application/x-www-form-urlencoded; charset=utf-8"}}
	b, err := c.do(ctx, action, http.MethodPost, "", h, []byte(form.Encode()))
	if err != nil {
		return err
	}
	if err := xml.Unmarshal(b, out); err != nil {
		return fetch.Errorf(fetch.ReasonDecode, "%s: %v", action, err)
	}
	return nil
}

// EpochTime is a timestamp of the AWS JSON protocols: seconds since the
// epoch, with a fraction. A nil *EpochTime (the field was absent) is the
// zero time.
type EpochTime struct{ t time.Time }

func (e *EpochTime) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("timestamp %s: %w", fetch.PeerText(b, nil), err)
	}
	if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1e12 {
		return fmt.Errorf("timestamp %s out of range", fetch.PeerText(b, nil))
	}
	sec, frac := math.Modf(f)
	e.t = time.Unix(int64(sec), int64(math.Round(frac*1e9))).UTC()
	return nil
}

// Time is the timestamp, zero when e is nil.
func (e *EpochTime) Time() time.Time {
	if e == nil {
		return time.Time{}
	}
	return e.t
}

func decodeJSON(op string, b []byte, out any) error {
	if err := json.Unmarshal(b, out); err != nil {
		return fetch.Errorf(fetch.ReasonDecode, "%s: %v", op, err)
	}
	return nil
}

// do signs and sends one request and returns its bounded body, or an
// error with the bounded reason and the service's own error code.
func (c *Client) do(ctx context.Context, op, method, path string, h http.Header, body []byte) ([]byte, error) {
	if c.creds == nil {
		return nil, fetch.Errorf(fetch.ReasonOther, "%s: no AWS credentials found", op)
	}
	creds, err := c.creds.Retrieve(ctx)
	if err != nil {
		// A credential provider's deadline or network failure (STS,
		// instance metadata) keeps its own reason.
		return nil, &fetch.Error{Reason: fetch.Reason(err), Err: fmt.Errorf("%s: AWS credentials: %w", op, err)}
	}
	u := *c.endpoint
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	if u.Path == "" {
		u.Path = "/"
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, fetch.Errorf(fetch.ReasonOther, "%s: %v", op, err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	sum := sha256.Sum256(body)
	if err := c.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), c.opts.Service, c.opts.Region, time.Now()); err != nil {
		return nil, fetch.Errorf(fetch.ReasonOther, "%s: signing: %v", op, err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, &fetch.Error{Reason: fetch.Reason(err), Err: fmt.Errorf("%s: %w", op, fetch.RedactError(err))}
	}
	defer resp.Body.Close()
	b, err := fetch.ReadAll(resp.Body, c.opts.MaxBytes)
	if err != nil {
		return nil, &fetch.Error{Reason: fetch.Reason(err), Err: fmt.Errorf("%s: %w", op, err)}
	}
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return b, nil
	}
	code, msg := serviceError(resp.Header, b, req)
	text := fmt.Sprintf("%s: HTTP %d", op, resp.StatusCode)
	if code != "" {
		text += " " + code
	}
	if msg != "" {
		text += ": " + msg
	}
	if code == "" && msg == "" {
		text += ": " + fetch.PeerText(b, req)
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		if after, ok := fetch.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			return nil, &fetch.RetryAfterError{After: after, Err: fmt.Errorf("%s, retry after %s", text, after)}
		}
		return nil, fetch.Errorf(fetch.ReasonRateLimit, "%s", text)
	}
	return nil, fetch.Errorf(fetch.ReasonStatus, "%s", text)
}

// serviceError reads the error code and message from the three shapes
// AWS answers in: the X-Amzn-ErrorType header, a JSON body (__type or
// code, message in either case) and an awsQuery XML ErrorResponse. Both
// are bounded peer text, scrubbed of what the request carried.
func serviceError(h http.Header, b []byte, req *http.Request) (code, msg string) {
	code = h.Get("X-Amzn-ErrorType")
	var j struct {
		Type     string `json:"__type"`
		Code     string `json:"code"`
		CodeUp   string `json:"Code"`
		Message  string `json:"message"`
		MessageU string `json:"Message"`
	}
	var x struct {
		Error struct {
			Code    string
			Message string
		}
	}
	switch {
	case json.Unmarshal(b, &j) == nil:
		code = firstNonEmpty(code, j.Type, j.Code, j.CodeUp)
		msg = firstNonEmpty(j.Message, j.MessageU)
	case xml.Unmarshal(b, &x) == nil:
		code = firstNonEmpty(code, x.Error.Code)
		msg = x.Error.Message
	}
	// "ThrottlingException:http://internal.amazon.com/coral/..." and
	// "com.amazonaws.health#ThrottlingException" both name
	// ThrottlingException.
	code, _, _ = strings.Cut(code, ":")
	if i := strings.LastIndexByte(code, '#'); i >= 0 {
		code = code[i+1:]
	}
	return fetch.PeerText([]byte(code), req), fetch.PeerText([]byte(msg), req)
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
