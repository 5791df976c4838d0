// Availability and outage recording rules: the contract's figures
// (DESIGN.md "Recording rules"; the definition is docs/availability.md,
// which the report tool implements minute for minute as well).
//
// The group bosaimail-availability classifies every minute of every known
// service: each evaluation at T looks at the samples of [T-1m, T) (the
// `[1m] offset 1ms` selector), so consecutive evaluations tile time and one
// recorded sample stands for one minute. Minutes nobody observed are not
// dropped: they count against the contractual figure as 稼働未確認 unless an
// approved 稼働確認 record covers them.
local service = import '../lib/service.libsonnet';

{
  local cfg = self._config,
  local unique(a) = std.set(a),
  // Minutes in a whole-minute Prometheus duration such as '1m' or '5m'.
  local minutes(d) =
    local unit = { m: 1, h: 60 }[d[std.length(d) - 1]];
    std.parseInt(d[0:std.length(d) - 1]) * unit,
  local seconds(d) =
    local unit = { s: 1, m: 60, h: 3600 }[d[std.length(d) - 1]];
    std.parseInt(d[0:std.length(d) - 1]) * unit,
  assert seconds(cfg.minOutage) % 60 == 0 && seconds(cfg.minOutage) >= 60 : 'minOutage must be a whole number of minutes (>= 1m)',
  assert seconds(cfg.outageMergeWindow) % 60 == 0 : 'outageMergeWindow must be a whole number of minutes',
  assert cfg.availabilityInterval == '1m' : 'availabilityInterval must be 1m: one recorded sample is one minute of the contract',
  assert seconds(cfg.serviceDownFor) <= seconds(cfg.minOutage) : 'serviceDownFor (%s) must not exceed minOutage (%s): every 停止 must have been paged' % [cfg.serviceDownFor, cfg.minOutage],
  assert cfg.contractYearStartMonth >= 1 && cfg.contractYearStartMonth <= 12 : 'contractYearStartMonth must be 1..12',

  local N = minutes(cfg.minOutage),
  local M = minutes(cfg.outageMergeWindow),
  local P = cfg.availabilityPreviousWindow,
  local C = cfg.availabilityCarryWindow,
  local checks = 'bosaimail_check_up{%s, critical="true"}' % cfg.selector,
  // The minute [T-1m, T) of each series (see the comment above).
  local minute(fn, metric) = '%s(%s[1m] offset 1ms)' % [fn, metric],
  local U = 'bosaimail:availability:services',
  // 対象システム: the contract services as one system, down while any of
  // them is down (docs/availability.md).
  local SYS = cfg.contractSystemName,
  local contract = 'service=~"%s", service!="%s"' % [cfg.contractServices, SYS],
  local asSystem(e) = 'label_replace(%s, "service", "%s", "", "")' % [e, SYS],
  // Contract services outside an approved planned stop this minute.
  local NP = '(%s{%s} unless on (service) (bosaimail:availability:planned_minute{%s} == 1))' % [U, contract, contract],
  // The system's value of a per-service minute flag A (1 up, 0 down,
  // absent unobserved): 0 if any service is 0, absent if any service
  // outside a planned stop is unobserved, else 1.
  local systemOf(A) =
    local a = '(%s and on (service) %s)' % [A, NP];
    asSystem('(min(%(a)s) == 0 or (min(%(a)s) unless on () (count(%(np)s) > count(%(a)s))))' % { a: a, np: NP }),
  local active(metric) = '(max by (service) (%s) == 1)' % minute('max_over_time', '%s{%s}' % [metric, cfg.selector]),
  // Contract year of the minute being classified (its start, in JST):
  // years start on the 1st of contractYearStartMonth 00:00 JST.
  local jst = 'vector(time() + %d)' % (9 * 3600 - 60),
  local contractYear = '(year(%(t)s) - (month(%(t)s) < bool %(m)d))' % { t: jst, m: cfg.contractYearStartMonth },
  local errorWindows = unique(
    [w.long for w in cfg.availabilityBurnRates] +
    [w.short for w in cfg.availabilityBurnRates]
  ),
  // Running sum over the contract year so far of a per-minute series;
  // restarts at the year's first minute, survives a Prometheus restart
  // shorter than availabilityCarryWindow.
  local accumulate(name, expr) = {
    record: name,
    expr: |||
      (%(expr)s)
      + on (service)
      (
        (
          last_over_time(%(name)s[%(C)s])
          and on ()
          (last_over_time(bosaimail:availability:contract_year[%(C)s]) == on () %(year)s)
        )
        or on (service)
        (%(U)s * 0)
      )
    ||| % { expr: expr, name: name, C: C, year: contractYear, U: U },
  },

  prometheusRules+:: {
    groups+: [
      {
        name: 'bosaimail-availability',
        interval: cfg.availabilityInterval,
        // Order matters: each rule reads the samples the rules above it
        // wrote in the same evaluation; rules that read their own name read
        // the previous minute.
        rules: [
          {
            // Per exporter instance, now: every critical check of the service up.
            record: 'bosaimail:service_up:instance',
            expr: '%s\n' % service.upPerInstance(cfg.selector),
          },
          {
            // Up now if at least one instance sees every critical check up.
            record: 'bosaimail:service_up',
            expr: '%s\n' % service.up('bosaimail:service_up:instance'),
          },
          {
            // An approved planned stop in progress now.
            record: 'bosaimail:maintenance_active',
            expr: '%s\n' % service.maintenanceActive(cfg.selector),
          },
          {
            // The services the figures cover: those the exporter reported
            // within a day, from the evaluation after they first appeared. A
            // minute of a known service with no sample is 稼働未確認, not a
            // minute that did not exist.
            record: U,
            expr: |||
              group by (service) (last_over_time(bosaimail:maintenance_active[1d] offset 1ms))
              or
              %s
            ||| % asSystem('group(last_over_time(bosaimail:maintenance_active{%s}[1d] offset 1ms))' % contract),
          },
          {
            // 1 while a known service has no critical check result now.
            record: 'bosaimail:monitoring_gap',
            expr: |||
              (%(U)s{service!="%(sys)s"} unless on (service) bosaimail:service_up)
              or on (service)
              (bosaimail:service_up * 0)
            ||| % { U: U, sys: SYS },
          },
          {
            // 1 in an approved planned stop (any sample of the minute said
            // so), else 0. Unapproved windows never set it (the exporter
            // exposes them as bosaimail_maintenance_unapproved_active).
            record: 'bosaimail:availability:planned_minute',
            // The system is in a planned stop when all of its services are.
            expr: |||
              (max by (service) (%(m)s) == bool 1)
              or on (service)
              %(sys)s
              or on (service)
              (%(U)s * 0)
            ||| % {
              m: minute('max_over_time', 'bosaimail_maintenance_active{%s}' % cfg.selector),
              U: U,
              sys: asSystem('(vector(1) and on () (count(max by (service) (%(m)s) == 1) == count(%(u)s{%(c)s})))' % { u: U, c: contract, m: minute('max_over_time', 'bosaimail_maintenance_active{%s, %s}' % [cfg.selector, contract]) }),
            },
          },
          {
            // 1 for a minute in which at least one vantage point saw every
            // critical check succeed at least once; 0 when every vantage
            // point failed a critical check all minute long (a down minute);
            // absent when nobody observed the minute.
            record: 'bosaimail:availability:up_any_minute',
            expr: '%(s)s\nor\n%(sys)s\n' % {
              s: service.up('min by (service, instance) (%s)' % minute('max_over_time', checks)),
              sys: systemOf(service.up('min by (service, instance) (%s)' % minute('max_over_time', checks))),
            },
          },
          {
            // 1 for a minute in which at least one vantage point saw every
            // probe of every critical check succeed; 0 for a minute with a
            // failure (a down minute, or a 瞬断 when up_any_minute is 1).
            record: 'bosaimail:availability:up_all_minute',
            expr: '%(s)s\nor\n%(sys)s\n' % {
              s: service.up('min by (service, instance) (%s)' % minute('min_over_time', checks)),
              sys: systemOf(service.up('min by (service, instance) (%s)' % minute('min_over_time', checks))),
            },
          },
          {
            // 1 while an approved exemption covers the service (as the
            // exporter lists it at the time); the system's minute is
            // exempt when every down service of it is.
            record: 'bosaimail:availability:exempt_active_minute',
            expr: |||
              %(ex)s
              or on (service)
              %(sys)s
            ||| % {
              ex: active('bosaimail_exemption_active'),
              sys: asSystem('(vector(1) and on () (count(%(d)s) == count(%(d)s and on (service) %(ex)s)))' % { d: '(bosaimail:availability:up_any_minute{%s} == 0 and on (service) %s)' % [contract, NP], ex: active('bosaimail_exemption_active') }),
            },
          },
          {
            // 1 while an approved 稼働確認 record covers the service; the
            // system's minute when every unobserved service of it is.
            record: 'bosaimail:availability:confirm_active_minute',
            expr: |||
              %(cf)s
              or on (service)
              %(sys)s
            ||| % {
              cf: active('bosaimail_confirmation_active'),
              sys: asSystem('(vector(1) and on () (count(%(u)s) == count(%(u)s and on (service) %(cf)s)))' % { u: '(%s unless on (service) bosaimail:availability:up_any_minute)' % NP, cf: active('bosaimail_confirmation_active') }),
            },
          },
          {
            record: 'bosaimail:availability:down_minute',
            expr: |||
              ((bosaimail:availability:up_any_minute == bool 0) unless on (service) (bosaimail:availability:planned_minute == 1))
              or on (service)
              (%(U)s * 0)
            ||| % { U: U },
          },
          {
            // A minute with a failed probe that is not a down minute.
            record: 'bosaimail:availability:blip_minute',
            expr: |||
              (
                (bosaimail:availability:up_all_minute == bool 0)
                and on (service) (bosaimail:availability:up_any_minute == 1)
                unless on (service) (bosaimail:availability:planned_minute == 1)
              )
              or on (service)
              (%(U)s * 0)
            ||| % { U: U },
          },
          {
            // 稼働未確認: a known service's minute outside a planned stop
            // with no observation from any vantage point.
            record: 'bosaimail:availability:unobserved_minute',
            expr: |||
              (
                %(U)s
                unless on (service) bosaimail:availability:up_any_minute
                unless on (service) (bosaimail:availability:planned_minute == 1)
              )
              or on (service)
              (%(U)s * 0)
            ||| % { U: U },
          },
          {
            // 稼働未確認 covered by an approved 稼働確認 record.
            record: 'bosaimail:availability:confirmed_minute',
            expr: |||
              ((bosaimail:availability:unobserved_minute == 1) and on (service) %(conf)s)
              or on (service)
              (%(U)s * 0)
            ||| % { U: U, conf: '(bosaimail:availability:confirm_active_minute == 1)' },
          },
          {
            // Consecutive down minutes up to now, capped at minOutage.
            record: 'bosaimail:outages:down_run_minutes',
            expr: |||
              clamp_max(
                (bosaimail:availability:down_minute == 1)
                + on (service)
                (last_over_time(bosaimail:outages:down_run_minutes[%(P)s]) or on (service) (%(U)s * 0)),
                %(N)d
              )
              or on (service)
              (%(U)s * 0)
            ||| % { P: P, U: U, N: N },
          },
          {
            // Minutes since the last down minute, not counting planned
            // stops (a down interrupted only by a planned stop resumes the
            // same 停止), capped at the merge window.
            record: 'bosaimail:outages:recovery_minutes',
            expr: |||
              (bosaimail:availability:down_minute == 1) * 0
              or on (service)
              (last_over_time(bosaimail:outages:recovery_minutes[%(P)s]) and on (service) (bosaimail:availability:planned_minute == 1))
              or on (service)
              clamp_max(last_over_time(bosaimail:outages:recovery_minutes[%(P)s]) + 1, %(M)d)
              or on (service)
              (%(U)s * %(M)d)
            ||| % { P: P, U: U, M: M },
          },
          {
            // 1 at the minute a 停止 begins: minOutage consecutive down
            // minutes outside a planned stop, not within the merge window
            // of the previous 停止. Reads the previous minute's counted.
            record: 'bosaimail:outages:start',
            expr: |||
              group by (service) (bosaimail:outages:down_run_minutes >= %(N)d)
              unless on (service) last_over_time(bosaimail:outages:counted[%(P)s])
            ||| % { N: N, P: P },
          },
          {
            // 1 while a 停止 is going on or within its merge window.
            record: 'bosaimail:outages:counted',
            expr: |||
              group by (service) (
                (bosaimail:outages:down_run_minutes >= %(N)d)
                or on (service)
                (last_over_time(bosaimail:outages:counted[%(P)s]) and on (service) (bosaimail:outages:recovery_minutes < %(M)d))
              )
            ||| % { N: N, M: M, P: P },
          },
          {
            // 停止 minutes: down minutes of a 停止. When a 停止 starts, the
            // minOutage - 1 down minutes before it are counted at once.
            record: 'bosaimail:availability:stop_minutes',
            expr: |||
              (
                ((bosaimail:availability:down_minute == 1) and on (service) bosaimail:outages:counted)
                + on (service)
                ((bosaimail:outages:start * %(retro)d) or on (service) (%(U)s * 0))
              )
              or on (service)
              (%(U)s * 0)
            ||| % { U: U, retro: N - 1 },
          },
          {
            // 停止 minutes covered by an approved exemption (免責).
            record: 'bosaimail:availability:exempt_minutes',
            expr: |||
              (bosaimail:availability:stop_minutes and on (service) %(ex)s)
              or on (service)
              (%(U)s * 0)
            ||| % { U: U, ex: '(bosaimail:availability:exempt_active_minute == 1)' },
          },
          {
            // 1 at the first 停止 minute not covered by an exemption: the
            // 停止 counts against the contract (one wholly exempted does not).
            record: 'bosaimail:outages:contract_start',
            expr: |||
              group by (service) (
                (bosaimail:availability:stop_minutes > 0) unless on (service) (bosaimail:availability:exempt_minutes > 0)
              )
              unless on (service) last_over_time(bosaimail:outages:contract_counted[%(P)s])
            ||| % { P: P },
          },
          {
            record: 'bosaimail:outages:contract_counted',
            expr: |||
              group by (service) (
                bosaimail:outages:counted
                and on (service)
                (
                  ((bosaimail:availability:stop_minutes > 0) unless on (service) (bosaimail:availability:exempt_minutes > 0))
                  or on (service)
                  last_over_time(bosaimail:outages:contract_counted[%(P)s])
                )
              )
            ||| % { P: P },
          },
          {
            // Minutes against the contract (免責適用後): 停止 not exempted
            // plus 稼働未確認 not confirmed; absent in a planned stop, so the
            // average over a window is the contract's error ratio.
            record: 'bosaimail:availability:bad_minutes',
            expr: |||
              (
                bosaimail:availability:stop_minutes - on (service) bosaimail:availability:exempt_minutes
                + on (service) bosaimail:availability:unobserved_minute - on (service) bosaimail:availability:confirmed_minute
              )
              unless on (service) (bosaimail:availability:planned_minute == 1)
            |||,
          },
          {
            // The same before exemptions (免責適用前).
            record: 'bosaimail:availability:bad_minutes_before_exemptions',
            expr: |||
              (
                bosaimail:availability:stop_minutes
                + on (service) bosaimail:availability:unobserved_minute - on (service) bosaimail:availability:confirmed_minute
              )
              unless on (service) (bosaimail:availability:planned_minute == 1)
            |||,
          },
        ] + [
          {
            // Contractual error ratio (免責適用後) over a burn-rate window.
            record: 'bosaimail:availability:error_ratio_%s' % w,
            expr: |||
              avg_over_time(bosaimail:availability:bad_minutes[%s])
            ||| % w,
          }
          for w in errorWindows
        ] + [
          accumulate('bosaimail:availability:contract_year_%s_minutes' % x.name, x.expr)
          for x in [
            { name: 'planned', expr: 'bosaimail:availability:planned_minute' },
            { name: 'unplanned', expr: 'bosaimail:availability:bad_minutes * 0 + 1 or on (service) (%s * 0)' % U },
            { name: 'stop', expr: 'bosaimail:availability:stop_minutes' },
            { name: 'exempt', expr: 'bosaimail:availability:exempt_minutes' },
            { name: 'unobserved', expr: 'bosaimail:availability:unobserved_minute' },
            { name: 'confirmed', expr: 'bosaimail:availability:confirmed_minute' },
            { name: 'blip', expr: 'bosaimail:availability:blip_minute' },
          ]
        ] + [
          accumulate('bosaimail:outages:count_contract_year_before_exemptions', 'bosaimail:outages:start or on (service) (%s * 0)' % U),
          accumulate('bosaimail:outages:count_contract_year', 'bosaimail:outages:contract_start or on (service) (%s * 0)' % U),
          {
            // The contract year of the minute just classified, e.g. 2026
            // for April 2026 to March 2027 (read by the sums above at the
            // next minute, to restart them in a new year).
            record: 'bosaimail:availability:contract_year',
            expr: '%s\n' % contractYear,
          },
          {
            // 契約稼働率 of the contract year so far (免責適用後).
            record: 'bosaimail:availability:ratio_contract_year',
            expr: |||
              1 - (
                bosaimail:availability:contract_year_stop_minutes - on (service) bosaimail:availability:contract_year_exempt_minutes
                + on (service) bosaimail:availability:contract_year_unobserved_minutes - on (service) bosaimail:availability:contract_year_confirmed_minutes
              ) / on (service) (bosaimail:availability:contract_year_unplanned_minutes > 0)
            |||,
          },
          {
            // The same before exemptions (免責適用前).
            record: 'bosaimail:availability:ratio_contract_year_before_exemptions',
            expr: |||
              1 - (
                bosaimail:availability:contract_year_stop_minutes
                + on (service) bosaimail:availability:contract_year_unobserved_minutes - on (service) bosaimail:availability:contract_year_confirmed_minutes
              ) / on (service) (bosaimail:availability:contract_year_unplanned_minutes > 0)
            |||,
          },
        ],
      },
      {
        name: 'bosaimail-availability-long',
        interval: cfg.availabilityLongInterval,
        rules: [
          {
            // 契約稼働率 over the rolling 30 days (免責適用後).
            record: 'bosaimail:availability:ratio_30d',
            expr: |||
              1 - avg_over_time(bosaimail:availability:bad_minutes[30d])
            |||,
          },
          {
            // Needs a retention of at least 400d (or long-term storage).
            record: 'bosaimail:availability:ratio_365d',
            expr: |||
              1 - avg_over_time(bosaimail:availability:bad_minutes[365d])
            |||,
          },
          {
            // 想定稼働時間 − 計画停止 of the last 30 days, in minutes: the
            // ratio's denominator (the error budget is a share of it).
            record: 'bosaimail:availability:unplanned_minutes_30d',
            expr: |||
              count_over_time(bosaimail:availability:bad_minutes[30d])
            |||,
          },
          {
            // 停止 counted against the contract that began in the last 365
            // days; 0 for a known service without any.
            record: 'bosaimail:outages:count_365d',
            expr: |||
              sum by (service) (sum_over_time(bosaimail:outages:contract_start[365d]))
              or on (service)
              (%(U)s * 0)
            ||| % { U: U },
          },
        ],
      },
    ],
  },
}
