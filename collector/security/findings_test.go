package security

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bosaimail/bosaimail_exporter/internal/testkit/collectortest"

	"github.com/bosaimail/bosaimail_exporter/collector"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/bosaimail/bosaimail_exporter/config"
)

func TestSecurityFindings(t *testing.T) {
	// The SDK's credential chain and signer against a local endpoint: the
	// request is SigV4-signed, the recorded answer decoded.
	collectortest.IsolateAWS(t, "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
	var mu sync.Mutex
	var filters []string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/findings":
			auth := r.Header.Get("Authorization")
			if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/") || !strings.Contains(auth, "/ap-northeast-1/securityhub/aws4_request") {
				http.Error(w, `{"message":"The security token included in the request is invalid."}`, http.StatusForbidden)
				return
			}
			var in struct {
				NextToken *string
				Filters   json.RawMessage
			}
			body, _ := io.ReadAll(r.Body)
			if err := json.Unmarshal(body, &in); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			mu.Lock()
			filters = append(filters, string(in.Filters))
			mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			if in.NextToken == nil {
				w.Write(secFixture(t, "securityhub-findings-page1.json"))
			} else {
				w.Write(secFixture(t, "securityhub-findings-page2.json"))
			}
		case "/waf":
			if r.Header.Get("Authorization") != "Bearer waf-token" {
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
			w.Write([]byte(`[{"sev":"High","state":"ACTIVE"},{"sev":"High","state":"ARCHIVED"},{"sev":"Critical","state":"ACTIVE"}]`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	jsonl, _ := filepath.Abs(filepath.Join("..", "..", "testdata", "security", "waf-findings.jsonl"))
	cfg := loadSecConfig(t, `
security:
  findings:
    - {name: securityhub, kind: aws_securityhub, region: ap-northeast-1, endpoint: "`+srv.URL+`"}
    - {name: modsecurity, kind: jsonl_file, path: "`+jsonl+`", active: '.status == "open"'}
    - {name: ids, kind: http, url: "`+srv.URL+`/waf", bearer_token_file: waf.token, severity: .sev, active: '.state == "ACTIVE"'}
`, map[string]string{"waf.token": "waf-token\n"})
	col, err := newSecurityFindings(collector.Env{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	c := col.(*securityFindings)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, f := range c.feeds {
		f.client = srv.Client()
		if err := f.src.RefreshOnce(ctx); err != nil {
			t.Fatalf("%s: %v", f.cfg.Name, err)
		}
	}
	if len(filters) != 2 || !strings.Contains(filters[0], `"RecordState":[{"Comparison":"EQUALS","Value":"ACTIVE"}]`) {
		t.Errorf("Security Hub requests/filters: %q", filters)
	}
	want := `
# HELP bosaimail_security_findings Active security findings (AWS Security Hub, WAF/IDS feeds), by feed and severity.
# TYPE bosaimail_security_findings gauge
bosaimail_security_findings{severity="critical",source="ids"} 1
bosaimail_security_findings{severity="critical",source="modsecurity"} 1
bosaimail_security_findings{severity="critical",source="securityhub"} 1
bosaimail_security_findings{severity="high",source="ids"} 1
bosaimail_security_findings{severity="high",source="modsecurity"} 1
bosaimail_security_findings{severity="high",source="securityhub"} 2
bosaimail_security_findings{severity="low",source="ids"} 0
bosaimail_security_findings{severity="low",source="modsecurity"} 0
bosaimail_security_findings{severity="low",source="securityhub"} 0
bosaimail_security_findings{severity="medium",source="ids"} 0
bosaimail_security_findings{severity="medium",source="modsecurity"} 1
bosaimail_security_findings{severity="medium",source="securityhub"} 1
bosaimail_security_findings{severity="none",source="ids"} 0
bosaimail_security_findings{severity="none",source="modsecurity"} 0
bosaimail_security_findings{severity="none",source="securityhub"} 1
bosaimail_security_findings{severity="unknown",source="ids"} 0
bosaimail_security_findings{severity="unknown",source="modsecurity"} 1
bosaimail_security_findings{severity="unknown",source="securityhub"} 0
# HELP bosaimail_security_findings_invalid_records Records of a findings feed that could not be read in its last refresh (skipped, see the log for the line).
# TYPE bosaimail_security_findings_invalid_records gauge
bosaimail_security_findings_invalid_records{source="ids"} 0
bosaimail_security_findings_invalid_records{source="modsecurity"} 1
bosaimail_security_findings_invalid_records{source="securityhub"} 0
`
	pc := collector.Adapt(context.Background(), c)
	if err := testutil.CollectAndCompare(pc, strings.NewReader(want), "bosaimail_security_findings", "bosaimail_security_findings_invalid_records"); err != nil {
		t.Error(err)
	}
	// Wrong credentials: the service's refusal is a failed refresh; the
	// last counts stay.
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDOTHER")
	if err := c.feeds[0].src.RefreshOnce(ctx); err == nil || !strings.Contains(err.Error(), "Security Hub GetFindings") {
		t.Errorf("bad credentials: %v", err)
	}
	if err := testutil.CollectAndCompare(pc, strings.NewReader(want), "bosaimail_security_findings", "bosaimail_security_findings_invalid_records"); err != nil {
		t.Error(err)
	}
}

func FuzzFindingsRecords(f *testing.F) {
	f.Add([]byte(`[{"severity":"HIGH"}]`))
	f.Add([]byte("{\"severity\":\"LOW\"}\n{bad\n"))
	cfg, err := config.Parse("fuzz.yml", []byte("security:\n  findings:\n    - {name: x, kind: jsonl_file, path: /dev/null}\n"))
	if err != nil {
		f.Fatal(err)
	}
	feed := &secFindingsFeed{cfg: &cfg.Security.Findings[0], logger: secNopLogger()}
	f.Fuzz(func(t *testing.T, data []byte) {
		res := secFindingsResult{Counts: map[string]int{}}
		_ = feed.readRecords(context.Background(), strings.NewReader(string(data)), &res)
		for sev := range res.Counts {
			if sev != "critical" && sev != "high" && sev != "medium" && sev != "low" && sev != "none" && sev != "unknown" {
				t.Fatalf("unbounded severity %q", sev)
			}
		}
	})
}

func secNopLogger() log.Logger { return log.NewNopLogger() }
