//go:build !noaws

package awsclient

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/bosaimail/bosaimail_exporter/internal/fetch"
)

func testClient(t *testing.T, h http.HandlerFunc) *Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	ep, _ := url.Parse(srv.URL + "/prefix")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	c, err := New(Options{Service: "health", Host: "health", Region: "us-east-1", Endpoint: ep, HTTP: srv.Client(), MaxBytes: 1 << 10,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIDTEST", SecretAccessKey: "secret-key-value"}, nil
		})})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Each protocol puts the operation where AWS expects it, signed for the
// service and region; answers are decoded.
func TestClientProtocols(t *testing.T) {
	var got []string
	c := testClient(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		auth := r.Header.Get("Authorization")
		if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKIDTEST/") || !strings.Contains(auth, "/us-east-1/health/aws4_request") {
			http.Error(w, "unsigned", http.StatusForbidden)
			return
		}
		got = append(got, r.Method+" "+r.URL.Path+" "+r.Header.Get("X-Amz-Target")+" "+r.Header.Get("Content-Type")+" "+string(b))
		if r.Header.Get("Content-Type") == "application/x-www-form-urlencoded; charset=utf-8" {
			if r.Header.Get("Accept") == "application/json" {
				// What some query services would then answer in.
				io.WriteString(w, `{"n":7}`)
				return
			}
			io.WriteString(w, `<R><Result><N>7</N></Result></R>`)
			return
		}
		io.WriteString(w, `{"n":7}`)
	})
	var j struct{ N int }
	var x struct {
		N int `xml:"Result>N"`
	}
	ctx := context.Background()
	if err := c.JSONRPC(ctx, "Svc.Op", map[string]int{"a": 1}, &j); err != nil || j.N != 7 {
		t.Fatalf("JSONRPC: %v %+v", err, j)
	}
	if err := c.REST(ctx, "op", http.MethodPost, "/findings", map[string]int{"b": 2}, &j); err != nil {
		t.Fatal(err)
	}
	if err := c.REST(ctx, "op", http.MethodGet, "/v2/email/account", nil, &j); err != nil {
		t.Fatal(err)
	}
	if err := c.Query(ctx, "GetX", "2010-12-01", &x); err != nil || x.N != 7 {
		t.Fatalf("Query: %v %+v", err, x)
	}
	want := []string{
		`POST /prefix Svc.Op application/x-amz-json-1.1 {"a":1}`,
		`POST /prefix/findings  application/json {"b":2}`,
		`GET /prefix/v2/email/account   `,
		`POST /prefix  application/x-www-form-urlencoded; charset=utf-8 Action=GetX&Version=2010-12-01`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Failures carry the bounded reason and the service's own error code, and
// never the request's signature.
func TestClientErrors(t *testing.T) {
	cases := []struct {
		name          string
		status        int
		header, body  string
		reason, text  string
		retryAfterSet bool
	}{
		{"json __type", 400, "", `{"__type":"com.amazonaws.health#ValidationException","message":"bad filter"}`, fetch.ReasonStatus, "HTTP 400 ValidationException: bad filter", false},
		{"rest header", 403, "ExpiredTokenException:http://internal.amazon.com/coral/", `{"Message":"expired"}`, fetch.ReasonStatus, "HTTP 403 ExpiredTokenException: expired", false},
		{"query xml", 400, "", `<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error></ErrorResponse>`, fetch.ReasonStatus, "HTTP 400 Throttling: Rate exceeded", false},
		{"429 retry-after", 429, "", `{"__type":"TooManyRequestsException"}`, fetch.ReasonRateLimit, "TooManyRequestsException, retry after 30s", true},
		{"503 plain", 503, "", `service unavailable`, fetch.ReasonRateLimit, "HTTP 503: service unavailable", false},
		{"echoed signature", 403, "", `{"message":"signature AWS4-HMAC-SHA256 Credential=AKIDTEST/x"}`, fetch.ReasonStatus, "HTTP 403", false},
		{"too large", 200, "", strings.Repeat("x", 2<<10), fetch.ReasonTooLarge, "larger than 1024 bytes", false},
		{"not json", 200, "", `<html>`, fetch.ReasonDecode, "op:", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := testClient(t, func(w http.ResponseWriter, r *http.Request) {
				if tc.header != "" {
					w.Header().Set("X-Amzn-ErrorType", tc.header)
				}
				if tc.retryAfterSet {
					w.Header().Set("Retry-After", "30")
				}
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			})
			var out struct{}
			err := c.REST(context.Background(), "op", http.MethodGet, "/", nil, &out)
			if err == nil || fetch.Reason(err) != tc.reason || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("err = %v (reason %q), want reason %q and %q", err, fetch.Reason(err), tc.reason, tc.text)
			}
			if strings.Contains(err.Error(), "Signature=") {
				t.Errorf("the request's signature in the error: %v", err)
			}
		})
	}
}

func FuzzServiceError(f *testing.F) {
	f.Add("", []byte(`{"__type":"a#B","message":"m"}`))
	f.Add("X:y", []byte(`<ErrorResponse><Error><Code>C</Code></Error></ErrorResponse>`))
	f.Add("", []byte("\xff<"))
	f.Fuzz(func(t *testing.T, header string, body []byte) {
		h := http.Header{}
		h.Set("X-Amzn-ErrorType", header)
		code, msg := serviceError(h, body, nil)
		if strings.ContainsAny(code+msg, "\n\r") || len([]rune(code)) > 125 || len([]rune(msg)) > 125 {
			t.Fatalf("unbounded or multi-line: %q %q", code, msg)
		}
	})
}

func TestEpochTime(t *testing.T) {
	var v struct{ A, B, C *EpochTime }
	if err := json.Unmarshal([]byte(`{"A":1795593600,"B":1795593600.25}`), &v); err != nil {
		t.Fatal(err)
	}
	if got := v.A.Time(); !got.Equal(time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)) {
		t.Errorf("A = %s", got)
	}
	if got := v.B.Time().Sub(v.A.Time()); got != 250*time.Millisecond {
		t.Errorf("fraction = %s", got)
	}
	if !v.C.Time().IsZero() {
		t.Errorf("absent = %s, want zero", v.C.Time())
	}
	for _, bad := range []string{`"x"`, `1e300`, `true`} {
		var e EpochTime
		if err := json.Unmarshal([]byte(bad), &e); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
