// Delivery performance (issue 12): how fast a broadcast drains, when it
// will be done, and how long finished broadcasts took.
{
  prometheusRules+:: {
    local sel = $._config.selector,
    local finished = 'state=~"delivered|bounced"',
    local remaining = 'state=~"queued|deferred"',
    local bkeys = 'broadcast, instance, job',
    groups+: [
      {
        name: 'bosaimail-delivery.rules',
        rules: [
          // Recipients leaving a broadcast per second (delivered or bounced:
          // both are done). deriv, not rate: the counts are gauges of the
          // service's statistics, and a correction downwards is not a reset.
          {
            record: 'bosaimail:broadcast_drain_rate:rate1m',
            expr: 'sum without (state) (clamp_min(deriv(bosaimail_broadcast_recipients{%s,%s}[1m]), 0))' % [sel, finished],
          },
          {
            record: 'bosaimail:broadcast_drain_rate:rate5m',
            expr: 'sum without (state) (clamp_min(deriv(bosaimail_broadcast_recipients{%s,%s}[5m]), 0))' % [sel, finished],
          },
          {
            record: 'bosaimail:broadcast_remaining',
            expr: 'sum without (state) (bosaimail_broadcast_recipients{%s,%s})' % [sel, remaining],
          },
          // Seconds until the broadcast is delivered at the current rate
          // (+Inf when it does not drain at all).
          {
            record: 'bosaimail:broadcast_eta_seconds',
            expr: '(bosaimail:broadcast_remaining > 0) / bosaimail:broadcast_drain_rate:rate5m',
          },
          // Total time the running broadcast will have taken: elapsed plus
          // ETA. This is what the objective is about.
          {
            record: 'bosaimail:broadcast_projected_completion_seconds',
            expr: |||
              (time() - bosaimail_broadcast_started_timestamp_seconds{%s} + on (%s) bosaimail:broadcast_eta_seconds)
              unless on (%s) bosaimail_broadcast_completed_timestamp_seconds{%s}
            ||| % [sel, bkeys, bkeys, sel],
          },
          {
            record: 'bosaimail:broadcast_completion_seconds',
            expr: 'bosaimail_broadcast_completed_timestamp_seconds{%s} - on (%s) bosaimail_broadcast_started_timestamp_seconds{%s}' % [sel, bkeys, sel],
          },
          // The MTA queue (held mail excluded: it is held on purpose).
          {
            record: 'bosaimail:queue_recipients:sum',
            expr: 'sum without (queue) (bosaimail_queue_recipients{%s,queue!="hold"})' % sel,
          },
          // Net drain: recipients leaving the queue minus those arriving.
          {
            record: 'bosaimail:queue_drain_rate:rate1m',
            expr: 'clamp_min(-deriv(bosaimail:queue_recipients:sum[1m]), 0)',
          },
          {
            record: 'bosaimail:queue_drain_rate:rate5m',
            expr: 'clamp_min(-deriv(bosaimail:queue_recipients:sum[5m]), 0)',
          },
          {
            record: 'bosaimail:queue_eta_seconds',
            expr: '(bosaimail:queue_recipients:sum > 0) / bosaimail:queue_drain_rate:rate5m',
          },
        ],
      },
    ],
  },
}
