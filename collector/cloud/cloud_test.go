package cloud

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/bosaimail/bosaimail_exporter/collector/maintenance" // the calendar that reads the announcements

	"github.com/bosaimail/bosaimail_exporter/internal/testkit/collectortest"

	"github.com/bosaimail/bosaimail_exporter/collector"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/bosaimail/bosaimail_exporter/config"
	"github.com/bosaimail/bosaimail_exporter/internal/fetch"
)

var fetchReason = fetch.Reason

// -update-cloud rewrites the golden files; review their diff before committing.
var updateCloudGolden = flag.Bool("update-cloud", false, "rewrite collector/cloud/testdata/*.prom")

var cloudNow = time.Date(2026, 11, 25, 9, 30, 0, 0, time.UTC)

func cloudPayload(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "cloud", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fakeCloud serves recorded payloads the way each provider does, and checks
// what real clients must send (bearer token, SigV4 signature, paging).
func fakeCloud(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	var srv *httptest.Server
	serve := func(path, file, ctype string) {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", ctype)
			w.Write(cloudPayload(t, file))
		})
	}
	serve("/sp/api/v2/summary.json", "statuspage_summary.json", "application/json")
	serve("/sp-empty/api/v2/summary.json", "statuspage_empty.json", "application/json")
	serve("/gcp/incidents.json", "gcp_incidents.json", "application/json")
	serve("/feed.xml", "feed_rss.xml", "application/rss+xml")
	serve("/atom.xml", "feed_atom.xml", "application/atom+xml")
	mux.HandleFunc("/quota.json", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer json-token" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		io.WriteString(w, `{"plan":"business","status":"ok","limits":[{"name":"daily","used":4500,"max":5000},{"name":"monthly","used":10000,"max":100000}]}`)
	})
	mux.HandleFunc("/azure/subscriptions/00000000-1111-2222-3333-444444444444/providers/Microsoft.ResourceHealth/availabilityStatuses", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer azure-token" {
			http.Error(w, `{"error":{"code":"InvalidAuthenticationToken"}}`, http.StatusUnauthorized)
			return
		}
		if r.URL.Query().Get("api-version") != "2022-10-01" {
			http.Error(w, "api-version", http.StatusBadRequest)
			return
		}
		file := "azure_page1.json"
		if r.URL.Query().Get("$skiptoken") != "" {
			file = "azure_page2.json"
		}
		w.Write([]byte(strings.ReplaceAll(string(cloudPayload(t, file)), "{{BASE}}", srv.URL+"/azure")))
	})
	awsHandler := func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKIDCLOUDTEST/") {
			http.Error(w, `{"__type":"UnrecognizedClientException","message":"unsigned"}`, http.StatusForbidden)
			return
		}
		switch {
		case r.Method == http.MethodPost && r.Header.Get("X-Amz-Target") == "AWSHealth_20160804.DescribeEvents":
			if !strings.Contains(auth, "/us-east-1/health/aws4_request") {
				http.Error(w, "bad scope "+auth, http.StatusForbidden)
				return
			}
			var in struct {
				NextToken string `json:"nextToken"`
				Filter    struct {
					Services         []string `json:"services"`
					EventStatusCodes []string `json:"eventStatusCodes"`
				} `json:"filter"`
			}
			json.NewDecoder(r.Body).Decode(&in)
			if strings.Join(in.Filter.Services, ",") != "SES,EC2" || strings.Join(in.Filter.EventStatusCodes, ",") != "open,upcoming" {
				http.Error(w, `{"__type":"ValidationException","message":"filter"}`, http.StatusBadRequest)
				return
			}
			file := "health_events_page1.json"
			if in.NextToken != "" {
				file = "health_events_page2.json"
			}
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			w.Write(cloudPayload(t, file))
		case r.Method == http.MethodGet && r.URL.Path == "/aws/v2/email/account":
			if !strings.Contains(auth, "/ap-northeast-1/ses/aws4_request") {
				http.Error(w, "bad scope "+auth, http.StatusForbidden)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.Write(cloudPayload(t, "ses_get_account.json"))
		default:
			http.Error(w, `{"__type":"UnknownOperationException"}`, http.StatusBadRequest)
		}
	}
	mux.HandleFunc("/aws", awsHandler)
	mux.HandleFunc("/aws/", awsHandler)
	srv = httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// loadCloudConfig writes the server's CA and the token files next to a
// config whose {url} and {ca} placeholders are filled in.
func loadCloudConfig(t *testing.T, srv *httptest.Server, body string) *config.Config {
	t.Helper()
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600)
	os.WriteFile(filepath.Join(dir, "azure.token"), []byte("azure-token\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "json.token"), []byte("json-token"), 0o600)
	body = strings.NewReplacer("{url}", srv.URL, "{ca}", ca).Replace(body)
	p := filepath.Join(dir, "bosaimail.yml")
	os.WriteFile(p, []byte(body), 0o600)
	cfg, err := config.Load(p)
	if err != nil {
		t.Fatalf("config: %v\n%s", err, body)
	}
	return cfg
}

func newTestCloud(t *testing.T, cfg *config.Config) *cloudCollector {
	t.Helper()
	c, err := newCloudCollector(collector.Env{Config: cfg, Now: func() time.Time { return cloudNow }})
	if err != nil {
		t.Fatal(err)
	}
	return c.(*cloudCollector)
}

func TestCloudSources(t *testing.T) {
	collectortest.IsolateAWS(t, "AKIDCLOUDTEST", "cloudtestsecret")
	srv := fakeCloud(t)
	// With AWS_CA_BUNDLE set (as on many hosts) the adapter must still start
	// and use tls_config for the service calls.
	bundle := filepath.Join(t.TempDir(), "bundle.pem")
	os.WriteFile(bundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600)
	t.Setenv("AWS_CA_BUNDLE", bundle)
	tls := "tls_config: {ca_file: {ca}}"
	cases := []struct {
		name    string
		source  string
		metrics []string
		want    string
	}{
		{
			name:    "statuspage",
			source:  "{name: sendgrid, type: statuspage, url: '{url}/sp/api/v2/summary.json', " + tls + "}",
			metrics: []string{"bosaimail_cloud_component_status", "bosaimail_cloud_events_open", "bosaimail_cloud_maintenance_start_timestamp_seconds", "bosaimail_cloud_maintenance_end_timestamp_seconds"},
			want:    "statuspage.prom",
		},
		{
			name:    "statuspage component filter",
			source:  "{name: sendgrid, type: statuspage, url: '{url}/sp/api/v2/summary.json', components: [SMTP], " + tls + "}",
			metrics: []string{"bosaimail_cloud_component_status", "bosaimail_cloud_events_open", "bosaimail_cloud_maintenance_start_timestamp_seconds"},
			want:    "statuspage_filtered.prom",
		},
		{
			name:    "statuspage empty lists",
			source:  "{name: quiet, type: statuspage, url: '{url}/sp-empty/api/v2/summary.json', " + tls + "}",
			metrics: []string{"bosaimail_cloud_component_status", "bosaimail_cloud_events_open", "bosaimail_source_up"},
			want:    "statuspage_empty.prom",
		},
		{
			name:    "google cloud",
			source:  "{name: gcp, type: google_cloud, url: '{url}/gcp/incidents.json', components: [Google Cloud SQL, Cloud Run, Google Compute Engine], locations: [asia-northeast1], " + tls + "}",
			metrics: []string{"bosaimail_cloud_component_status", "bosaimail_cloud_events_open"},
			want:    "gcp.prom",
		},
		{
			name:    "azure paging",
			source:  "{name: azure, type: azure, url: '{url}/azure', subscription_id: 00000000-1111-2222-3333-444444444444, bearer_token_file: azure.token, " + tls + "}",
			metrics: []string{"bosaimail_cloud_component_status", "bosaimail_cloud_events_open"},
			want:    "azure.prom",
		},
		{
			name:    "aws health paging",
			source:  "{name: aws, type: aws_health, region: us-east-1, endpoint: '{url}/aws', components: [SES, EC2], " + tls + "}",
			metrics: []string{"bosaimail_cloud_component_status", "bosaimail_cloud_events_open", "bosaimail_cloud_maintenance_start_timestamp_seconds", "bosaimail_cloud_maintenance_end_timestamp_seconds"},
			want:    "aws_health.prom",
		},
		{
			name:    "ses quota",
			source:  "{name: ses, type: aws_ses, region: ap-northeast-1, endpoint: '{url}/aws', " + tls + "}",
			metrics: []string{"bosaimail_cloud_quota_used_ratio", "bosaimail_cloud_quota_used", "bosaimail_cloud_quota_limit", "bosaimail_cloud_sending_enabled"},
			want:    "ses.prom",
		},
		{
			name: "rss feed rules",
			source: "{name: sakura, type: feed, url: '{url}/feed.xml', " + tls + ", rules: [" +
				"{match: '【復旧】', category: ignore}, {match: '【障害】', category: issue, component: tokyo2}, " +
				"{match: '【メンテナンス】', category: maintenance, component: tokyo2-storage}, {match: 'お知らせ', category: notification}]}",
			metrics: []string{"bosaimail_cloud_component_status", "bosaimail_cloud_events_open", "bosaimail_cloud_maintenance_start_timestamp_seconds"},
			want:    "feed.prom",
		},
		{
			name:    "atom feed",
			source:  "{name: gio, type: feed, url: '{url}/atom.xml', " + tls + ", rules: [{match: 'メンテナンス', category: maintenance, component: mail-gw}]}",
			metrics: []string{"bosaimail_cloud_component_status", "bosaimail_cloud_events_open"},
			want:    "atom.prom",
		},
		{
			name: "json with jq and value_map",
			source: "{name: mailapi, type: json, url: '{url}/quota.json', bearer_token_file: json.token, " + tls + ", metrics: [" +
				"{name: status, query: '.status', value_map: {ok: 1, degraded: 0.5, down: 0}}, " +
				"{name: used, query: '.limits[] | {key: .name, value: (.used / .max)}', quota: send}]}",
			metrics: []string{"bosaimail_cloud_json_value", "bosaimail_cloud_quota_used_ratio"},
			want:    "json.prom",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := loadCloudConfig(t, srv, "cloud:\n  sources:\n  - "+tc.source+"\n")
			c := newTestCloud(t, cfg)
			for _, s := range c.sources {
				if err := s.src.RefreshOnce(context.Background()); err != nil {
					t.Fatalf("refresh: %v", err)
				}
			}
			golden := filepath.Join("testdata", tc.want)
			if *updateCloudGolden {
				out, err := testutil.CollectAndFormat(collector.Adapt(context.Background(), c), expfmt.TypeTextPlain, tc.metrics...)
				if err != nil {
					t.Fatal(err)
				}
				os.WriteFile(golden, out, 0o644)
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if err := testutil.CollectAndCompare(collector.Adapt(context.Background(), c), strings.NewReader(string(want)), tc.metrics...); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestCloudFaults: a bad peer makes the source down with a bounded reason
// while its last good values stay exported.
func TestCloudFaults(t *testing.T) {
	summary := cloudPayload(t, "statuspage_summary.json")
	var mode atomicString
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch mode.Load() {
		case "good":
			w.Write(summary)
		case "html":
			io.WriteString(w, "<!DOCTYPE html><html><body>メンテナンス中</body></html>")
		case "malformed":
			w.Write(summary[:len(summary)/2])
		case "ratelimit":
			w.Header().Set("Retry-After", "120")
			w.WriteHeader(http.StatusTooManyRequests)
		case "huge":
			w.Write([]byte(`{"components":[` + strings.Repeat(`{"name":"x","status":"operational"},`, 150000)))
		case "hang":
			// Never answer, even after the client gave up: over TLS the
			// client's close_notify reaches the server before the socket
			// closes, and an empty 200 written then can still be read,
			// which would turn the expected timeout into a decode error.
			<-r.Context().Done()
			panic(http.ErrAbortHandler)
		}
	}))
	defer srv.Close()
	cfg := loadCloudConfig(t, srv, "cloud:\n  sources:\n  - {name: sp, type: statuspage, url: '{url}/summary.json', timeout: 3s, max_body_bytes: 1048576, tls_config: {ca_file: {ca}}}\n")
	c := newTestCloud(t, cfg)
	src := c.sources[0].src
	mode.Store("good")
	if err := src.RefreshOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ mode, reason string }{
		{"html", "payload"}, {"malformed", "decode"}, {"ratelimit", "rate_limited"}, {"huge", "too_large"}, {"hang", "timeout"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			mode.Store(tc.mode)
			err := src.RefreshOnce(context.Background())
			if err == nil {
				t.Fatal("refresh succeeded")
			}
			if got := fetchReason(err); got != tc.reason {
				t.Errorf("reason %q, want %q (%v)", got, tc.reason, err)
			}
			want := `
# HELP bosaimail_source_up 1 if the latest refresh of a background source succeeded, 0 if it failed (its last good values are still exported).
# TYPE bosaimail_source_up gauge
bosaimail_source_up{collector="cloud",source="sp"} 0
`
			if err := testutil.CollectAndCompare(collector.Adapt(context.Background(), c), strings.NewReader(want), "bosaimail_source_up"); err != nil {
				t.Error(err)
			}
			// The last good state is still there (stale, its age visible in
			// bosaimail_source_last_success_timestamp_seconds).
			if n := testutil.CollectAndCount(collector.Adapt(context.Background(), c), "bosaimail_cloud_component_status"); n != 30 {
				t.Errorf("%d component series after a failure, want the 30 of the last good refresh", n)
			}
		})
	}
}

type atomicString struct{ v atomic.Value }

func (a *atomicString) Store(s string) { a.v.Store(s) }
func (a *atomicString) Load() string   { s, _ := a.v.Load().(string); return s }

// TestCloudMaintenanceWindows: only sources that opted in offer windows,
// and only maintenances that have not ended.
func TestCloudMaintenanceWindows(t *testing.T) {
	srv := fakeCloud(t)
	cfg := loadCloudConfig(t, srv, `services:
  - name: mail
    checks: []
cloud:
  sources:
  - {name: sendgrid, type: statuspage, url: '{url}/sp/api/v2/summary.json', components: [SMTP, Event Webhook], maintenance_services: [mail], tls_config: {ca_file: {ca}}}
  - {name: other, type: statuspage, url: '{url}/sp/api/v2/summary.json', tls_config: {ca_file: {ca}}}
`)
	c := newTestCloud(t, cfg)
	for _, s := range c.sources {
		if err := s.src.RefreshOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	got := c.MaintenanceWindows(cloudNow)
	want := []collector.MaintenanceWindow{
		{Service: "mail", Provider: "sendgrid", Component: "Event Webhook", Title: "Webhook インフラ定期メンテナンス",
			Start: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC), End: time.Date(2026, 11, 25, 11, 0, 0, 0, time.UTC)},
		{Service: "mail", Provider: "sendgrid", Component: "SMTP", Title: "SMTP relay upgrade",
			Start: time.Date(2026, 11, 30, 17, 0, 0, 0, time.UTC), End: time.Date(2026, 11, 30, 19, 0, 0, 0, time.UTC)},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		if got[i].Service != want[i].Service || got[i].Component != want[i].Component || got[i].Title != want[i].Title ||
			!got[i].Start.Equal(want[i].Start) || !got[i].End.Equal(want[i].End) {
			t.Errorf("window %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	// After the webhook window ended, only the SMTP one is left.
	if n := len(c.MaintenanceWindows(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))); n != 1 {
		t.Errorf("%d windows after the first ended, want 1", n)
	}
}

// TestCloudMaintenanceFeedsCalendar: an opted-in provider maintenance in
// progress is shown for the service as a window without approval
// (bosaimail_maintenance_unapproved_active): it becomes a planned stop
// (bosaimail_maintenance_active) only once approved (docs/availability.md).
func TestCloudMaintenanceFeedsCalendar(t *testing.T) {
	srv := fakeCloud(t)
	cfg := loadCloudConfig(t, srv, `services:
  - name: mail
    checks: []
  - name: web
    checks: []
cloud:
  sources:
  - {name: sendgrid, type: statuspage, url: '{url}/sp/api/v2/summary.json', components: [SMTP, Event Webhook], maintenance_services: [mail], tls_config: {ca_file: {ca}}}
`)
	c := newTestCloud(t, cfg)
	for _, s := range c.sources {
		if err := s.src.RefreshOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	ann := &collector.Announcements{}
	defer ann.Serve(c)()
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC) // inside the webhook window
	m, err := collector.Build("maintenance", collector.Env{Config: cfg, Now: func() time.Time { return now }, Announcements: ann})
	if err != nil {
		t.Fatal(err)
	}
	want := `
# HELP bosaimail_maintenance_active 1 while the service is in an approved planned stop (計画停止: a window with approved_by and approved_on), else 0; present for every configured service.
# TYPE bosaimail_maintenance_active gauge
bosaimail_maintenance_active{service="mail"} 0
bosaimail_maintenance_active{service="web"} 0
# HELP bosaimail_maintenance_unapproved_active 1 while a maintenance window without approval (未承認, including provider maintenance) covers the service, else 0: shown, but it excludes nothing and inhibits nothing.
# TYPE bosaimail_maintenance_unapproved_active gauge
bosaimail_maintenance_unapproved_active{service="mail"} 1
bosaimail_maintenance_unapproved_active{service="web"} 0
`
	if err := testutil.CollectAndCompare(collector.Adapt(context.Background(), m), strings.NewReader(want), "bosaimail_maintenance_active", "bosaimail_maintenance_unapproved_active"); err != nil {
		t.Error(err)
	}
}
