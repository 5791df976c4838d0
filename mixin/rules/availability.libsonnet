// Availability and outage recording rules: the contract's figures
// (DESIGN.md "Recording rules"; the maths is explained in
// docs/availability.md, which the report tool relies on).
//
// Every figure is built from bosaimail:service_up:unplanned, one sample per
// evaluation: 1 up, 0 down, and no sample at all during planned maintenance
// or while no exporter was scraped. Averages over that series therefore take
// maintenance and monitoring gaps out of numerator and denominator alike.
local service = import '../lib/service.libsonnet';

{
  local cfg = self._config,
  local unique(a) = std.set(a),
  // Seconds in a simple Prometheus duration such as '30s', '1m' or '1h'.
  local seconds(d) =
    local unit = { s: 1, m: 60, h: 3600 }[d[std.length(d) - 1]];
    std.parseInt(d[0:std.length(d) - 1]) * unit,
  // Every window the burn-rate alerts need, as error-ratio rollups.
  local errorWindows = unique(
    [w.long for w in cfg.availabilityBurnRates] +
    [w.short for w in cfg.availabilityBurnRates]
  ),

  prometheusRules+:: {
    groups+: [
      {
        name: 'bosaimail-availability',
        interval: cfg.availabilityInterval,
        // Order matters: each rule reads the samples the rules above it
        // wrote in the same evaluation.
        rules: [
          {
            // Per exporter instance: every critical check of the service up.
            record: 'bosaimail:service_up:instance',
            expr: '%s\n' % service.upPerInstance(cfg.selector),
          },
          {
            // Up if at least one instance sees every critical check up: one
            // vantage point's network trouble is not an outage.
            record: 'bosaimail:service_up',
            expr: '%s\n' % service.up('bosaimail:service_up:instance'),
          },
          {
            record: 'bosaimail:maintenance_active',
            expr: '%s\n' % service.maintenanceActive(cfg.selector),
          },
          {
            // The contract's view: up (1) or down (0) outside planned stops;
            // absent during a planned stop and during a monitoring gap.
            record: 'bosaimail:service_up:unplanned',
            expr: |||
              bosaimail:service_up unless on (service) (bosaimail:maintenance_active == 1)
            |||,
          },
          {
            // 1 for a configured service the exporter does not report now
            // (exporter not scraped, or no critical check result): this
            // time counts neither as up nor as down, so it is shown.
            // 0 while it is observed.
            record: 'bosaimail:monitoring_gap',
            expr: |||
              (
                group by (service) (last_over_time(bosaimail:maintenance_active[1d]))
                unless on (service) bosaimail:service_up
              )
              or on (service)
              (bosaimail:service_up * 0)
            |||,
          },
          {
            // 1 at the first unplanned down sample of an outage. Read before
            // bosaimail:outages:counted is written for this evaluation, so
            // it sees the previous evaluation's state.
            record: 'bosaimail:outages:start',
            expr: |||
              group by (service) (bosaimail:service_up:unplanned == 0)
              unless on (service) last_over_time(bosaimail:outages:counted[%(availabilityPreviousWindow)s])
            ||| % cfg,
          },
          {
            // 1 while the current down period (downs merged across
            // recoveries shorter than outageMergeWindow) has already been
            // counted as an outage. It carries itself forward through a
            // planned stop, so a down that runs into maintenance and out of
            // it again is one outage; a down wholly inside maintenance never
            // sets it.
            record: 'bosaimail:outages:counted',
            expr: |||
              group by (service) (
                (
                  (bosaimail:service_up:unplanned == 0)
                  or on (service)
                  last_over_time(bosaimail:outages:counted[%(availabilityPreviousWindow)s])
                )
                and on (service)
                (min_over_time(bosaimail:service_up[%(outageMergeWindow)s]) == 0)
              )
            ||| % cfg,
          },
        ] + [
          {
            // Fraction of unplanned observed time the service was down.
            record: 'bosaimail:availability:error_ratio_%s' % w,
            expr: |||
              1 - avg_over_time(bosaimail:service_up:unplanned[%s])
            ||| % w,
          }
          for w in errorWindows
        ],
      },
      {
        name: 'bosaimail-availability-long',
        interval: cfg.availabilityLongInterval,
        rules: [
          {
            // Up samples over observed samples, both outside planned stops.
            record: 'bosaimail:availability:ratio_30d',
            expr: |||
              avg_over_time(bosaimail:service_up:unplanned[30d])
            |||,
          },
          {
            // Needs a retention of at least 400d (or long-term storage).
            record: 'bosaimail:availability:ratio_365d',
            expr: |||
              avg_over_time(bosaimail:service_up:unplanned[365d])
            |||,
          },
          {
            // Observed time outside planned stops, in seconds: the ratio's
            // denominator, for the report tool and to make gaps visible.
            record: 'bosaimail:availability:observed_seconds_30d',
            expr: |||
              count_over_time(bosaimail:service_up:unplanned[30d]) * %(seconds)d
            ||| % { seconds: seconds(cfg.availabilityInterval) },
          },
          {
            // Unplanned outages that started in the last 365 days; 0 for a
            // configured service without any.
            record: 'bosaimail:outages:count_365d',
            expr: |||
              sum by (service) (sum_over_time(bosaimail:outages:start[365d]))
              or on (service)
              (group by (service) (last_over_time(bosaimail:maintenance_active[1d])) * 0)
            |||,
          },
        ],
      },
    ],
  },
}
