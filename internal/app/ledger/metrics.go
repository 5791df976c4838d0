package ledger

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	webhook     *prometheus.CounterVec
	lastWebhook prometheus.Gauge
	refused     *prometheus.CounterVec
}

var (
	descIncidentsOpen = prometheus.NewDesc("bosaimail_ledger_incidents_open",
		"障害票 whose alerts are still firing (発生中).", nil, nil)
	descIncidents = prometheus.NewDesc("bosaimail_ledger_incidents",
		"障害票 in the ledger.", nil, nil)
	descPending = prometheus.NewDesc("bosaimail_ledger_approvals_pending",
		"Requests waiting for the prefecture's approval, by kind (exemption, maintenance, confirmation).", []string{"kind"}, nil)
	descOldestPending = prometheus.NewDesc("bosaimail_ledger_approval_oldest_pending_timestamp_seconds",
		"When the oldest request still waiting for approval was made, by kind (absent when none waits).", []string{"kind"}, nil)
	descStoreUp = prometheus.NewDesc("bosaimail_ledger_store_up",
		"1 when the ledger database could be read at this scrape.", nil, nil)
)

func newMetrics(reg *prometheus.Registry, st *Store) *metrics {
	m := &metrics{
		webhook: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bosaimail_ledger_webhook_requests_total",
			Help: "Alertmanager webhook requests by outcome (ok, bad_request, too_large, unauthorized, error).",
		}, []string{"outcome"}),
		lastWebhook: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bosaimail_ledger_webhook_last_success_timestamp_seconds",
			Help: "When a webhook payload was last stored.",
		}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bosaimail_ledger_requests_refused_total",
			Help: "Web and API requests refused, by reason (session, csrf, token, role).",
		}, []string{"reason"}),
	}
	for _, o := range []string{"ok", "bad_request", "too_large", "unauthorized", "error"} {
		m.webhook.WithLabelValues(o)
	}
	for _, r := range []string{"session", "csrf", "token", "role"} {
		m.refused.WithLabelValues(r)
	}
	reg.MustRegister(m.webhook, m.lastWebhook, m.refused, storeCollector{st})
	return m
}

// storeCollector reads the counts from the database at scrape time: a
// ledger holds hundreds of records, not millions.
type storeCollector struct{ st *Store }

func (c storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descIncidentsOpen
	ch <- descIncidents
	ch <- descPending
	ch <- descOldestPending
	ch <- descStoreUp
}

func (c storeCollector) Collect(ch chan<- prometheus.Metric) {
	incs, err1 := c.st.Incidents(time.Time{}, time.Time{})
	pending, err2 := c.st.Approvals("", StatePending)
	if err1 != nil || err2 != nil {
		ch <- prometheus.MustNewConstMetric(descStoreUp, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(descStoreUp, prometheus.GaugeValue, 1)
	open := 0
	for _, i := range incs {
		if i.Firing {
			open++
		}
	}
	ch <- prometheus.MustNewConstMetric(descIncidentsOpen, prometheus.GaugeValue, float64(open))
	ch <- prometheus.MustNewConstMetric(descIncidents, prometheus.GaugeValue, float64(len(incs)))
	for _, kind := range []string{KindExemption, KindMaintenance, KindConfirmation} {
		n := 0
		var oldest time.Time
		for _, a := range pending {
			if a.Kind == kind {
				n++
				if oldest.IsZero() || a.RequestedAt.Before(oldest) {
					oldest = a.RequestedAt
				}
			}
		}
		ch <- prometheus.MustNewConstMetric(descPending, prometheus.GaugeValue, float64(n), kind)
		if n > 0 {
			ch <- prometheus.MustNewConstMetric(descOldestPending, prometheus.GaugeValue, float64(oldest.UnixNano())/1e9, kind)
		}
	}
}
