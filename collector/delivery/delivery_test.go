package delivery

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bosaimail/bosaimail_exporter/internal/testkit/collectortest"

	"github.com/bosaimail/bosaimail_exporter/collector"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/bosaimail/bosaimail_exporter/config"
	"github.com/bosaimail/bosaimail_exporter/internal/fetch"
)

// deliveryConfig writes yml (with extra files) into a temp dir and loads it
// through the real config loader, so tests exercise defaults and validation.
func deliveryConfig(t *testing.T, yml string, files map[string]string) *config.Config {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(dir, "bosaimail.yml")
	if err := os.WriteFile(p, []byte(strings.ReplaceAll(yml, "$DIR", dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func deliveryTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "delivery", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var deliveryNow = time.Unix(1764101000, 0)

func newDeliveryCollector(t *testing.T, factory collector.Factory, cfg *config.Config) collector.Collector {
	t.Helper()
	c, err := factory(collector.Env{Config: cfg, Logger: log.NewNopLogger(), Now: func() time.Time { return deliveryNow }})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func gatherDelivery(t *testing.T, c collector.Collector, want string, names ...string) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(collector.Adapt(context.Background(), c))
	if err := testutil.GatherAndCompare(reg, strings.NewReader(collectortest.WithHelp(want)), names...); err != nil {
		t.Error(err)
	}
}

const queueGolden = `bosaimail_queue_messages{queue="active"} 2
bosaimail_queue_messages{queue="deferred"} 4
bosaimail_queue_messages{queue="hold"} 1
bosaimail_queue_messages{queue="incoming"} 1
bosaimail_queue_messages{queue="maildrop"} 0
bosaimail_queue_recipients{queue="active"} 3
bosaimail_queue_recipients{queue="deferred"} 7
bosaimail_queue_recipients{queue="hold"} 1
bosaimail_queue_recipients{queue="incoming"} 3
bosaimail_queue_recipients{queue="maildrop"} 0
bosaimail_queue_oldest_message_age_seconds{queue="active"} 200
bosaimail_queue_oldest_message_age_seconds{queue="deferred"} 900
bosaimail_queue_oldest_message_age_seconds{queue="hold"} 2000
bosaimail_queue_oldest_message_age_seconds{queue="incoming"} 140
bosaimail_queue_oldest_message_age_seconds{queue="maildrop"} 0
bosaimail_queue_deferral_reasons{reason="connection_refused"} 0
bosaimail_queue_deferral_reasons{reason="dns"} 1
bosaimail_queue_deferral_reasons{reason="greylisting"} 2
bosaimail_queue_deferral_reasons{reason="mailbox_full"} 1
bosaimail_queue_deferral_reasons{reason="other"} 1
bosaimail_queue_deferral_reasons{reason="rate_limited"} 0
bosaimail_queue_deferral_reasons{reason="timeout"} 1
bosaimail_queue_deferral_reasons{reason="tls"} 1
`

var queueGoldenNames = []string{"bosaimail_queue_messages", "bosaimail_queue_recipients", "bosaimail_queue_oldest_message_age_seconds", "bosaimail_queue_deferral_reasons"}

func TestDeliveryQueueSources(t *testing.T) {
	dump := deliveryTestdata(t, "postqueue.jsonl")
	var status atomic.Int32
	status.Store(200)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer agent-token" {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		if s := status.Load(); s != 200 {
			w.Header().Set("Retry-After", "120")
			w.WriteHeader(int(s))
			return
		}
		io.WriteString(w, dump)
	}))
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	deliveryWriteCA(t, srv, ca)

	cases := []struct {
		name string
		yml  string
	}{
		{"file", "delivery:\n  queue:\n    file: queue.jsonl\n"},
		{"command", "delivery:\n  queue:\n    command: [\"$DIR/postqueue\", \"-j\"]\n"},
		{"url", "delivery:\n  queue:\n    url: " + srv.URL + "/queue\n    bearer_token_file: token\n    tls_config:\n      ca_file: " + ca + "\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := deliveryConfig(t, c.yml, map[string]string{
				"queue.jsonl": dump,
				"postqueue":   "#!/bin/sh\n[ \"$1\" = -j ] || exit 64\ncat \"$(dirname \"$0\")/queue.jsonl\"\n",
				"token":       "agent-token\n",
			})
			col := newDeliveryCollector(t, newDeliveryQueueCollector, cfg).(*deliveryQueueCollector)
			if err := col.src.RefreshOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
			gatherDelivery(t, col, queueGolden+`bosaimail_queue_malformed_lines{source="`+c.name+`"} 2
bosaimail_source_up{collector="delivery_queue",source="`+c.name+`"} 1
`, append(queueGoldenNames, "bosaimail_queue_malformed_lines", "bosaimail_source_up")...)
		})
	}

	t.Run("url 503 keeps last good values", func(t *testing.T) {
		cfg := deliveryConfig(t, cases[2].yml, map[string]string{"token": "agent-token"})
		col := newDeliveryCollector(t, newDeliveryQueueCollector, cfg).(*deliveryQueueCollector)
		if err := col.src.RefreshOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		status.Store(503)
		defer status.Store(200)
		err := col.src.RefreshOnce(context.Background())
		var ra *fetch.RetryAfterError
		if err == nil || !errors.As(err, &ra) || ra.After != 120*time.Second {
			t.Fatalf("err = %v, want a Retry-After of 120s", err)
		}
		gatherDelivery(t, col, queueGolden+`bosaimail_source_up{collector="delivery_queue",source="url"} 0
bosaimail_source_failures_total{collector="delivery_queue",reason="rate_limited",source="url"} 1
`, append(queueGoldenNames, "bosaimail_source_up", "bosaimail_source_failures_total")...)
	})
}

func TestDeliveryQueueFaults(t *testing.T) {
	cases := []struct {
		name, script, extra string
		reason, msg         string
	}{
		{"hangs", "#!/bin/sh\nexec sleep 30\n", "    timeout: 300ms\n", "timeout", "did not finish in time"},
		{"child keeps pipe open", "#!/bin/sh\nsleep 30 &\necho '{\"queue_name\":\"active\"'\nwait\n", "    timeout: 300ms\n", "timeout", "did not finish in time"},
		{"prints garbage", "#!/bin/sh\necho 'postqueue: warning: Mail system is down -- accessing queue directly'\necho '<html>'\n", "", "payload", "no valid postqueue -j line among 2"},
		{"fails", "#!/bin/sh\necho 'postqueue: fatal: Queue report unavailable - mail system is down' >&2\nexit 69\n", "", "other", "exited with 69: postqueue: fatal: Queue report unavailable"},
		{"too large", "#!/bin/sh\nwhile :; do echo '{\"queue_name\":\"active\",\"queue_id\":\"A\",\"arrival_time\":1764100800,\"message_size\":1}'; done\n", "    max_bytes: 100000\n", "too_large", "larger than 100000 bytes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := deliveryConfig(t, "delivery:\n  queue:\n    command: [\"$DIR/postqueue\", \"-j\"]\n"+c.extra, map[string]string{"postqueue": c.script})
			col := newDeliveryCollector(t, newDeliveryQueueCollector, cfg).(*deliveryQueueCollector)
			begin := time.Now()
			err := col.src.RefreshOnce(context.Background())
			if err == nil || fetch.Reason(err) != c.reason || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("err = %v (reason %s), want %s containing %q", err, fetch.Reason(err), c.reason, c.msg)
			}
			if d := time.Since(begin); d > 10*time.Second {
				t.Errorf("refresh took %s: the command was not stopped", d)
			}
			gatherDelivery(t, col, `bosaimail_source_up{collector="delivery_queue",source="command"} 0
`, "bosaimail_source_up", "bosaimail_queue_messages")
		})
	}
}

func TestDeliveryUnconfigured(t *testing.T) {
	cfg := deliveryConfig(t, "{}\n", nil)
	for _, f := range []collector.Factory{newDeliveryQueueCollector, newDeliveryStatsCollector, newDeliverySESCollector} {
		c := newDeliveryCollector(t, f, cfg)
		ch := make(chan prometheus.Metric, 10)
		if err := c.Update(context.Background(), ch); err != collector.ErrNoData {
			t.Errorf("%T: err = %v, want ErrNoData", c, err)
		}
		c.(collector.Runner).Run(context.Background()) // returns at once
	}
}

// deliveryWriteCA writes the httptest TLS server's certificate as a CA file.
func deliveryWriteCA(t *testing.T, srv *httptest.Server, path string) {
	t.Helper()
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(path, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestDeliveryStats(t *testing.T) {
	var body atomic.Value
	body.Store(deliveryTestdata(t, "stats.json"))
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, body.Load().(string))
	}))
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	deliveryWriteCA(t, srv, ca)
	cfg := deliveryConfig(t, "delivery:\n  stats:\n    url: "+srv.URL+"/api/v1/delivery\n    keep_last: 2\n    tls_config:\n      ca_file: "+ca+"\n", nil)
	col := newDeliveryCollector(t, newDeliveryStatsCollector, cfg).(*deliveryStatsCollector)
	if err := col.src.RefreshOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	// keep_last 2: the drill of 2026-11-20 is not exported.
	golden := `bosaimail_broadcast_recipients{broadcast="20261124-0815-kouu",state="bounced"} 150
bosaimail_broadcast_recipients{broadcast="20261124-0815-kouu",state="deferred"} 0
bosaimail_broadcast_recipients{broadcast="20261124-0815-kouu",state="delivered"} 11850
bosaimail_broadcast_recipients{broadcast="20261124-0815-kouu",state="queued"} 0
bosaimail_broadcast_recipients{broadcast="20261125-1002-tsunami",state="bounced"} 300
bosaimail_broadcast_recipients{broadcast="20261125-1002-tsunami",state="deferred"} 1200
bosaimail_broadcast_recipients{broadcast="20261125-1002-tsunami",state="delivered"} 31000
bosaimail_broadcast_recipients{broadcast="20261125-1002-tsunami",state="queued"} 17500
bosaimail_broadcast_started_timestamp_seconds{broadcast="20261124-0815-kouu"} 1.7954757e+09
bosaimail_broadcast_started_timestamp_seconds{broadcast="20261125-1002-tsunami"} 1.79556852e+09
bosaimail_broadcast_completed_timestamp_seconds{broadcast="20261124-0815-kouu"} 1.79547618e+09
bosaimail_delivery_bounce_ratio{source="stats"} 0.010392609699769052
bosaimail_delivery_complaint_ratio{source="stats"} 7.001166861143524e-05
`
	names := []string{"bosaimail_broadcast_recipients", "bosaimail_broadcast_started_timestamp_seconds", "bosaimail_broadcast_completed_timestamp_seconds", "bosaimail_delivery_bounce_ratio", "bosaimail_delivery_complaint_ratio"}
	gatherDelivery(t, col, golden, names...)

	// A lagging replica reports fewer deliveries: refused twice (last good
	// values stay, with a payload reason), believed the third time.
	body.Store(strings.Replace(deliveryTestdata(t, "stats.json"), `"delivered": 31000`, `"delivered": 30000`, 1))
	for i := range 2 {
		err := col.src.RefreshOnce(context.Background())
		if err == nil || fetch.Reason(err) != "payload" || !strings.Contains(err.Error(), `broadcast "20261125-1002-tsunami": delivered went backwards from 31000 to 30000`) {
			t.Fatalf("refresh %d: err = %v", i, err)
		}
	}
	gatherDelivery(t, col, golden+`bosaimail_source_failures_total{collector="delivery_stats",reason="payload",source="stats"} 2
`, append(names, "bosaimail_source_failures_total")...)
	if err := col.src.RefreshOnce(context.Background()); err != nil {
		t.Fatalf("third regression not accepted: %v", err)
	}
	if bs, _ := col.src.Snapshot(); bs[0].Delivered != 30000 {
		t.Fatalf("corrected value not taken: %+v", bs[0])
	}

	for _, c := range []struct{ name, body, reason, msg string }{
		{"html", "<!DOCTYPE html><html><body>メンテナンス中</body></html>", "decode", "HTML page"},
		{"bad field", `{"broadcasts":[{"id":"x","recipients_total":"?","delivered":0,"started_at":1}]}`, "payload", `broadcast 0 ("x"): total`},
	} {
		body.Store(c.body)
		err := col.src.RefreshOnce(context.Background())
		if err == nil || fetch.Reason(err) != c.reason || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: err = %v (reason %s)", c.name, err, fetch.Reason(err))
		}
	}
	if bs, ok := col.src.Snapshot(); !ok || len(bs) != 2 || bs[0].Delivered != 30000 {
		t.Errorf("last good values lost: %+v", bs)
	}
}

func TestDeliverySES(t *testing.T) {
	// The SDK's chain sees another key in the environment: key files, when
	// configured, must win over it.
	collectortest.IsolateAWS(t, "AKIDFROMENVIRONMENT", "envsecret")
	var mode atomic.Value
	var lastAuth, lastBody atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		lastAuth.Store(r.Header.Get("Authorization"))
		lastBody.Store(string(b))
		w.Header().Set("Content-Type", "text/xml")
		switch mode.Load() {
		case "throttle":
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, deliveryTestdata(t, "ses-throttling.xml"))
		case "huge":
			// Well-formed but past the bound: never read whole.
			io.WriteString(w, strings.Repeat("<member><Bounces>0</Bounces></member>", 200000))
		default:
			io.WriteString(w, deliveryTestdata(t, "ses-getsendstatistics.xml"))
		}
	}))
	defer srv.Close()
	base := "delivery:\n  ses:\n    region: ap-northeast-1\n    endpoint: " + srv.URL + "\n"
	for _, tc := range []struct {
		name, yml string
		files     map[string]string
		keyID     string
	}{
		{"key files", base + "    access_key_id_file: ak\n    secret_access_key_file: sk\n",
			map[string]string{"ak": "AKIAIOSFODNN7EXAMPLE\n", "sk": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"}, "AKIAIOSFODNN7EXAMPLE"},
		{"default credential chain", base, nil, "AKIDFROMENVIRONMENT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mode.Store("ok")
			cfg := deliveryConfig(t, tc.yml, tc.files)
			var logs bytes.Buffer
			col, err := newDeliverySESCollector(collector.Env{Config: cfg, Logger: log.NewLogfmtLogger(log.NewSyncWriter(&logs)), Now: func() time.Time { return time.Date(2026, 11, 25, 2, 0, 0, 0, time.UTC) }})
			if err != nil {
				t.Fatal(err)
			}
			c := col.(*deliverySESCollector)
			if err := c.src.RefreshOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
			if a, _ := lastAuth.Load().(string); !strings.HasPrefix(a, "AWS4-HMAC-SHA256 Credential="+tc.keyID+"/") || !strings.Contains(a, "/ap-northeast-1/ses/aws4_request") {
				t.Errorf("request not SigV4-signed for SES with %s: %q", tc.keyID, a)
			}
			if b, _ := lastBody.Load().(string); !strings.Contains(b, "Action=GetSendStatistics") {
				t.Errorf("body = %q", b)
			}
			// The 2026-11-20 point is outside the 24h window.
			golden := `bosaimail_delivery_bounce_ratio{source="ses"} 0.057142857142857144
bosaimail_delivery_complaint_ratio{source="ses"} 0.00028571428571428574
bosaimail_delivery_window_events{event="bounces",source="ses"} 4000
bosaimail_delivery_window_events{event="complaints",source="ses"} 20
bosaimail_delivery_window_events{event="delivery_attempts",source="ses"} 70000
bosaimail_delivery_window_events{event="rejects",source="ses"} 1
bosaimail_delivery_latest_datapoint_timestamp_seconds{source="ses"} 1.7955693e+09
`
			names := []string{"bosaimail_delivery_bounce_ratio", "bosaimail_delivery_complaint_ratio", "bosaimail_delivery_window_events", "bosaimail_delivery_latest_datapoint_timestamp_seconds"}
			gatherDelivery(t, c, golden, names...)

			// A failed refresh keeps the last good figures, marked down.
			for _, f := range []struct{ mode, reason, text string }{
				{"throttle", "status", "Throttling"},
				{"huge", "too_large", "larger than"},
			} {
				mode.Store(f.mode)
				err = c.src.RefreshOnce(context.Background())
				if err == nil || fetch.Reason(err) != f.reason || !strings.Contains(err.Error(), f.text) {
					t.Fatalf("%s: err = %v (reason %s)", f.mode, err, fetch.Reason(err))
				}
				gatherDelivery(t, c, golden+`bosaimail_source_up{collector="delivery_ses",source="ses"} 0
`, append(names, "bosaimail_source_up")...)
			}
		})
	}
}

// A statistics API that lags past the timeout: reason timeout, the refresh
// returns at the deadline and the scrape reads the cache at once.
func TestDeliveryStatsSlowAPI(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer srv.Close()
	cfg := deliveryConfig(t, "delivery:\n  stats:\n    url: "+srv.URL+"/stats\n    timeout: 200ms\n", nil)
	col := newDeliveryCollector(t, newDeliveryStatsCollector, cfg).(*deliveryStatsCollector)
	begin := time.Now()
	err := col.src.RefreshOnce(context.Background())
	if err == nil || fetch.Reason(err) != "timeout" {
		t.Fatalf("err = %v (reason %s)", err, fetch.Reason(err))
	}
	if d := time.Since(begin); d > 5*time.Second {
		t.Errorf("refresh took %s", d)
	}
	gatherDelivery(t, col, `bosaimail_source_up{collector="delivery_stats",source="stats"} 0
bosaimail_source_failures_total{collector="delivery_stats",reason="timeout",source="stats"} 1
`, "bosaimail_source_up", "bosaimail_source_failures_total", "bosaimail_broadcast_recipients")
}
