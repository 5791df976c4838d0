package delivery

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bosaimail/bosaimail_exporter/internal/testkit/collectortest"

	"github.com/bosaimail/bosaimail_exporter/collector"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/bosaimail/bosaimail_exporter/internal/app/sim"
	"github.com/bosaimail/bosaimail_exporter/internal/testkit/mailtest"
)

// A broadcast through the simulator into real mailpit, watched by the
// delivery collectors exactly as configured in production: the statistics
// API with the default field mapping and the queue dump over HTTP.
func TestDeliveryCollectorsFollowSimulatedBroadcast(t *testing.T) {
	mp := mailtest.StartMailpit(t, mailtest.MailpitOptions{AllowedRecipients: "^user"})
	b := sim.NewBroadcaster(sim.BroadcastOptions{SMTPAddress: mp.SMTP, Rate: 250, BatchSize: 25})
	mux := http.NewServeMux()
	b.Register(mux)
	srv := httptest.NewServer(mux)
	defer func() {
		srv.Close()
		b.Close()
	}()

	cfg := deliveryConfig(t, "delivery:\n  stats:\n    url: "+srv.URL+"/api/v1/broadcasts\n  queue:\n    url: "+srv.URL+"/api/v1/postqueue\n", nil)
	stats := newDeliveryCollector(t, newDeliveryStatsCollector, cfg).(*deliveryStatsCollector)
	queue := newDeliveryCollector(t, newDeliveryQueueCollector, cfg).(*deliveryQueueCollector)

	resp, err := http.Post(srv.URL+"/api/v1/broadcasts", "application/json", strings.NewReader(`{"recipients": 500, "invalid_every": 20, "domain": "三重.jp"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	sawQueued := false
	for {
		if err := stats.src.RefreshOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if err := queue.src.RefreshOnce(ctx); err != nil {
			t.Fatal(err)
		}
		s, _ := queue.src.Snapshot()
		sawQueued = sawQueued || s.Queues["incoming"].Recipients+s.Queues["active"].Recipients > 0
		bs, _ := stats.src.Snapshot()
		if len(bs) == 1 && !bs[0].Finished.IsZero() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("broadcast did not finish: %+v", bs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// At 250/s the 500 recipients take 2 s: the dumps taken meanwhile
	// must have shown them queued.
	if !sawQueued {
		t.Error("no queue dump showed the broadcast's recipients queued")
	}
	if err := queue.src.RefreshOnce(ctx); err != nil {
		t.Fatal(err)
	}
	bs, _ := stats.src.Snapshot()
	id := bs[0].ID
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(collector.Adapt(ctx, stats), collector.Adapt(ctx, queue))
	want := `bosaimail_broadcast_recipients{broadcast="` + id + `",state="bounced"} 25
bosaimail_broadcast_recipients{broadcast="` + id + `",state="deferred"} 0
bosaimail_broadcast_recipients{broadcast="` + id + `",state="delivered"} 475
bosaimail_broadcast_recipients{broadcast="` + id + `",state="queued"} 0
bosaimail_delivery_bounce_ratio{source="stats"} 0.05
bosaimail_queue_recipients{queue="active"} 0
bosaimail_queue_recipients{queue="deferred"} 0
bosaimail_queue_recipients{queue="hold"} 0
bosaimail_queue_recipients{queue="incoming"} 0
bosaimail_queue_recipients{queue="maildrop"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(collectortest.WithHelp(want)), "bosaimail_broadcast_recipients", "bosaimail_delivery_bounce_ratio", "bosaimail_queue_recipients"); err != nil {
		t.Error(err)
	}
	// 500 recipients in transactions of 25: 20 messages in mailpit.
	if n := mp.MessageCount(t); n != 20 {
		t.Errorf("mailpit holds %d messages, want 20", n)
	}
}
