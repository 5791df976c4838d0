package fetch

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestRedact(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"https://status.example.jp/api/v2/summary.json", "https://status.example.jp/api/v2/summary.json"},
		{"https://user:pa55@host.example/x", "https://xxxxx@host.example/x"},
		{"https://host.example:8443", "https://host.example:8443"},
		{"https://t0ken@host.example/x", "https://xxxxx@host.example/x"},
		{"https://host.example/x?api_key=SECRET&page=2", "https://host.example/x?api_key=xxxxx&page=xxxxx"},
		{"https://host.example/x#frag-SECRET", "https://host.example/x"},
		{"https://u:p@host.example:8443/a?token=SECRET#f", "https://xxxxx@host.example:8443/a?token=xxxxx"},
		// Unparseable: cut roughly, never leaking what follows.
		{"https://us%er:SECRET@host/%zz?k=SECRET", "https://xxxxx"},
		{"http://[::1:SECRET@h/?q=SECRET", "http://xxxxx"},
		{"https://u:SECRET/", "https://xxxxx"},
	} {
		got := Redact(tc.in)
		if got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if strings.Contains(got, "SECRET") || strings.Contains(got, "pa55") || strings.Contains(got, "t0ken") {
			t.Errorf("Redact(%q) = %q leaks a secret", tc.in, got)
		}
	}
}

func TestRedactText(t *testing.T) {
	t.Parallel()
	_, perr := url.Parse("https://u:SECRET@h/%zz?api_key=SECRET")
	msgs := []string{
		`Get "https://monitor:SECRET@api.example.jp/health?api_key=SECRET": dial tcp: connection refused`,
		perr.Error(),
		"bosaimail.yml:12: invalid URL `http://a:SECRET@b/?x=SECRET` in services[0]",
		"two: https://x/?k=SECRET and ftp://u:SECRET@f/",
	}
	for _, m := range msgs {
		if got := RedactText(m); strings.Contains(got, "SECRET") {
			t.Errorf("RedactText(%q) = %q", m, got)
		}
	}
	base := &RetryAfterError{After: time.Second, Err: errors.New(`GET https://h/?k=SECRET: 429`)}
	err := RedactError(fmt.Errorf("wrapped: %w", base))
	var ra *RetryAfterError
	if strings.Contains(err.Error(), "SECRET") || !errors.As(err, &ra) || Reason(err) != ReasonRateLimit {
		t.Errorf("RedactError: %v (as %t, reason %s)", err, errors.As(err, &ra), Reason(err))
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"120", 2 * time.Minute, true},
		{" 0 ", 0, true},
		{"31536000", maxRetryAfter, true},                   // a year
		{"99999999999999999999999999", maxRetryAfter, true}, // overflows uint64
		{"9223372036854775807", maxRetryAfter, true},        // overflows a Duration in ns
		{"-5", 0, false},
		{"1.5", 0, false},
		{"Sun, 29 Nov 2026 00:10:00 GMT", 10 * time.Minute, true},
		{"Sat, 28 Nov 2026 00:10:00 GMT", 0, true},             // in the past
		{"Fri, 31 Dec 9999 23:59:59 GMT", maxRetryAfter, true}, // far future
		{"soon", 0, false},
	} {
		got, ok := ParseRetryAfter(tc.in, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseRetryAfter(%q) = %s, %t; want %s, %t", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// A 429 with an enormous Retry-After is a bounded RetryAfterError, never a
// negative or overflowed wait.
func TestGetRetryAfterBounded(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "18446744073709551616")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/?api_key=SECRET", nil)
	_, _, err := Get(srv.Client(), req, 1024)
	var ra *RetryAfterError
	if !errors.As(err, &ra) || ra.After <= 0 || ra.After > maxRetryAfter {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), "SECRET") {
		t.Errorf("error leaks the query: %v", err)
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"120", "0", "", "Sun, 29 Nov 2026 00:10:00 GMT", "99999999999999999999", "-1", "Mon, 02 Jan 2006 15:04:05 MST"} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := ParseRetryAfter(v, now)
		if d < 0 || d > maxRetryAfter {
			t.Fatalf("ParseRetryAfter(%q) = %s", v, d)
		}
		if !ok && d != 0 {
			t.Fatalf("ParseRetryAfter(%q) = %s but not ok", v, d)
		}
	})
}

func FuzzRedact(f *testing.F) {
	for _, s := range []string{"https://u:p@h/x?k=v#f", "http://h", "https://[::1]:80/?a=b", "x://y@z?w"} {
		f.Add(s, "S3CR3Tvalue")
	}
	f.Fuzz(func(t *testing.T, base, secret string) {
		if len(secret) < 8 || strings.ContainsAny(secret, "%&=?#@/:[]+.;, \t\r\n\"'<>`") || strings.Contains(base, secret) || strings.Contains(Redact(base), secret) || strings.Contains("https://h.example/p?token=xxxxx", secret) ||
			strings.IndexFunc(secret, func(r rune) bool { return r < 0x21 || r == 0x7f || r > 0x7e }) >= 0 {
			return
		}
		for i, u := range []string{
			"https://user:" + secret + "@h.example/p",
			"https://h.example/p?key=" + secret,
			base + "?token=" + secret,
		} {
			if strings.Contains(Redact(u), secret) {
				t.Fatalf("secret survives in %q: %q", u, Redact(u))
			}
			// Free text: URLs are recognised by their scheme.
			if i < 2 && strings.Contains(RedactText("err: "+u+" failed"), secret) {
				t.Fatalf("secret survives in text with %q: %q", u, RedactText("err: "+u+" failed"))
			}
		}
	})
}

// Text a peer sent is bounded, on one line, scrubbed of the request's
// secrets, and not quoted (the logger quotes the line once).
func TestPeerText(t *testing.T) {
	t.Parallel()
	req, _ := http.NewRequest(http.MethodGet, "https://u:SECRET-pw@h.example/x?api_key=SECRET-key", nil)
	req.Header.Set("Authorization", "Bearer SECRET-token")
	body := []byte("<h1>\"Denied\"</h1>\r\nrequest: /x?api_key=SECRET-key token SECRET-token pw SECRET-pw\n\x1b[31m" + strings.Repeat("é", 300) + "\xff")
	got := PeerText(body, req)
	if strings.Contains(got, "SECRET") || strings.ContainsAny(got, "\r\n\x1b") || len([]rune(got)) > 123 || strings.HasPrefix(got, `"`) {
		t.Errorf("PeerText = %q", got)
	}
	if !strings.Contains(got, `<h1>"Denied"</h1>`) {
		t.Errorf("PeerText lost the peer's words: %q", got)
	}
}
