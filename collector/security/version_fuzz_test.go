package security

import (
	"regexp"
	"strings"
	"testing"

	"github.com/bosaimail/bosaimail_exporter/config"
	"github.com/bosaimail/bosaimail_exporter/internal/fetch"
)

// FuzzExtractVersion: whatever a host's status page or version endpoint
// answers, the observed version is a non-empty, trimmed string or a
// payload/decode error; never a panic.
func FuzzExtractVersion(f *testing.F) {
	f.Add([]byte(`{"versions":{"httpd":"2.4.58","postfix":3.7}}`))
	f.Add([]byte("Server version: Apache/2.4.58 (Unix)\n"))
	f.Add([]byte(`{"versions":{"httpd":["2.4"]}}`))
	f.Add([]byte(`{"versions":null}`))
	f.Add([]byte("\xff\xfe"))
	jq, err := config.CompileJQ(".versions.httpd")
	if err != nil {
		f.Fatal(err)
	}
	byJQ := &config.ObservedVersion{JQ: ".versions.httpd", Code: jq}
	byRE := &config.ObservedVersion{Regexp: `Apache/(\S*)`, Pattern: regexp.MustCompile(`Apache/(\S*)`)}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, o := range []*config.ObservedVersion{byJQ, byRE} {
			v, err := secExtractVersion(o, body)
			if err != nil {
				if r := fetch.Reason(err); r != fetch.ReasonPayload && r != fetch.ReasonDecode {
					t.Fatalf("reason %q for %v", r, err)
				}
				continue
			}
			if v == "" || v != strings.TrimSpace(v) {
				t.Fatalf("version %q from %q", v, body)
			}
		}
	})
}
