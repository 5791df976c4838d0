// 稼働率: the contract's figures per service, as docs/availability.md
// defines them: the selected range (the monthly report's figures for a
// month), the contract year, the rolling windows, and a timeline.
local g = import '../lib/dashboard.libsonnet';

{
  grafanaDashboards+:: {
    local cm = (import 'common.libsonnet')($._config),
    local t = cm.t,
    local objective = $._config.availabilityObjective,
    local outageBudget = $._config.outageBudget,
    // Sum over the range of a minute series, and of its minutes covered by
    // an approved record (exemption, 稼働確認) as the exporter lists the
    // records now: records approved after the fact apply to the range as
    // in the monthly report (the recorded series only knew the records of
    // their time). The sample at T stands for the minute [T-1m, T).
    local sum(series) = 'sum_over_time(%s{service=~"$service"}[$__range])' % series,
    // Where no record applies (or for the 対象システム, whose records are its
    // services'), the recorded figure of the time.
    local covered(series, record, live) =
      '(sum_over_time((%(s)s{service=~"$service"} > 0 and on (service) ((%(r)s_window_start_timestamp_seconds{%(sel)s} @ end() <= (time() - 60)) and on (service, id) (%(r)s_window_end_timestamp_seconds{%(sel)s} @ end() > (time() - 60))))[$__range:1m]) or on (service) %(live)s)' % { s: series, r: record, live: sum(live), sel: $._config.selector },
    local exempt = covered('bosaimail:availability:stop_minutes', 'bosaimail_exemption', 'bosaimail:availability:exempt_minutes'),
    local confirmed = covered('bosaimail:availability:unobserved_minute', 'bosaimail_confirmation', 'bosaimail:availability:confirmed_minute'),
    local unplanned = 'count_over_time(bosaimail:availability:bad_minutes{service=~"$service"}[$__range])',

    'bosaimail-availability.json': g.dashboard(
      uid='bosaimail-availability',
      title=t('防災メール 稼働率', 'Disaster mail: availability'),
      description=t('契約稼働率（承認済みの計画停止を除き、稼働未確認を含む）と停止回数。表示期間の既定は今月です。', 'Contractual availability and outages. The default range is this month.'),
      tags=['bosaimail'],
      variables=cm.variables(instance=false),
      links=cm.links,
      from='now/M',
      refresh='5m',
      panels=[
        g.row(t('表示期間（既定: 今月）', 'Selected range (default: this month)')),
        g.stat(
          t('稼働率（免責適用後）', 'Availability (after exemptions)'),
          t('表示期間の契約稼働率 = 1 −（停止時間 − 免責 + 稼働未確認 − 稼働確認済み）÷（想定稼働時間 − 計画停止）。1分単位。月次報告と同じ定義で、エクスポーターが現在読んでいる免責・稼働確認を後から承認されたものも含めて適用します（docs/availability.md）。', 'Contractual availability over the range, as the monthly report computes it, with the exemptions and 稼働確認 records the exporter lists now (docs/availability.md).'),
          [g.instant('1 - (%s - on (service) %s + on (service) %s - on (service) %s) / on (service) %s' % [sum('bosaimail:availability:stop_minutes'), exempt, sum('bosaimail:availability:unobserved_minute'), confirmed, unplanned], '{{service}}')],
          w=6,
          h=5,
          unit='percentunit',
          steps=[[null, 'red'], [objective, 'green']],
          colorMode='value',
        ),
        g.stat(
          t('稼働率（免責適用前）', 'Availability (before exemptions)'),
          t('表示期間の稼働率（免責を適用しない値）。', 'Availability over the range without exemptions.'),
          [g.instant('1 - (%s + on (service) %s - on (service) %s) / on (service) %s' % [sum('bosaimail:availability:stop_minutes'), sum('bosaimail:availability:unobserved_minute'), confirmed, unplanned], '{{service}}')],
          w=6,
          h=5,
          unit='percentunit',
          steps=[[null, 'red'], [objective, 'green']],
          colorMode='value',
        ),
        g.stat(
          t('停止時間・稼働未確認（分）', 'Downtime and unobserved minutes'),
          t('表示期間の停止時間（停止分）と稼働未確認の分数。', 'Downtime and unobserved minutes in the range.'),
          [
            g.instant('sum_over_time(bosaimail:availability:stop_minutes{service=~"$service"}[$__range])', '{{service}} ' + t('停止', 'down')),
            g.instant('sum_over_time(bosaimail:availability:unobserved_minute{service=~"$service"}[$__range])', '{{service}} ' + t('稼働未確認', 'unobserved')),
          ],
          w=6,
          h=5,
          unit='m',
          colorMode='value',
        ),
        g.stat(
          t('停止回数（免責適用後）', 'Outages (after exemptions)'),
          t('表示期間に始まった停止の回数（免責適用後）。', 'Outages that began in the range, after exemptions.'),
          [g.instant('sum_over_time(bosaimail:outages:contract_start{service=~"$service"}[$__range]) or (bosaimail:availability:services{service=~"$service"} * 0)', '{{service}}')],
          w=6,
          h=5,
          colorMode='value',
        ),
        g.row(t('契約年度', 'Contract year')),
        g.stat(
          t('契約年度の稼働率（免責適用後）', 'Contract year availability'),
          t('今契約年度（%d 月 1 日から）の契約稼働率。目標: %s%%' % [$._config.contractYearStartMonth, std.toString(objective * 100)], 'Contractual availability of the contract year so far.'),
          [g.instant('bosaimail:availability:ratio_contract_year{service=~"$service"}', '{{service}}')],
          w=8,
          h=5,
          unit='percentunit',
          steps=[[null, 'red'], [objective, 'green']],
          colorMode='value',
        ),
        g.stat(
          t('契約年度の停止回数（免責適用後）', 'Contract year outages'),
          t('今契約年度の停止回数。契約年度あたり %d 回が上限です。計画停止中に収まる停止は数えません。' % outageBudget, 'Outages of the contract year so far against the budget.'),
          [g.instant('bosaimail:outages:count_contract_year{service=~"$service"}', '{{service}}')],
          w=8,
          h=5,
          steps=[[null, 'green'], [outageBudget - 1, 'orange'], [outageBudget, 'red']],
          colorMode='value',
        ),
        g.stat(
          t('稼働率（直近30日・365日）', 'Availability (30d, 365d)'),
          t('直近30日・365日の契約稼働率（移動窓、免責適用後）。', 'Contractual availability over the rolling 30 and 365 days.'),
          [
            g.instant('bosaimail:availability:ratio_30d{service=~"$service"}', '{{service}} 30d'),
            g.instant('bosaimail:availability:ratio_365d{service=~"$service"}', '{{service}} 365d'),
          ],
          w=8,
          h=5,
          unit='percentunit',
          steps=[[null, 'red'], [objective, 'green']],
          colorMode='value',
        ),
        g.stat(
          t('残りの停止許容時間（直近30日）', 'Error budget left (30d)'),
          t('直近30日で、目標 %s%% を守りながらあと停止してよい分数。負なら目標未達。' % std.toString(objective * 100), 'Minutes of downtime left in the 30-day budget; negative means the objective is missed.'),
          // budget - bad minutes = (ratio - objective) * minutes outside planned stops
          [g.instant('(bosaimail:availability:ratio_30d{service=~"$service"} - %s) * bosaimail:availability:unplanned_minutes_30d{service=~"$service"}' % std.toString(objective), '{{service}}')],
          w=12,
          h=5,
          unit='m',
          steps=[[null, 'red'], [0, 'orange'], [30, 'green']],
          colorMode='value',
        ),
        g.stat(
          t('停止回数（直近365日）', 'Outages (365d)'),
          t('直近365日の停止回数（免責適用後、移動窓）。', 'Outages in the rolling 365 days, after exemptions.'),
          [g.instant('bosaimail:outages:count_365d{service=~"$service"}', '{{service}}')],
          w=12,
          h=5,
          steps=[[null, 'green'], [outageBudget - 1, 'orange'], [outageBudget, 'red']],
          colorMode='value',
        ),

        g.row(t('推移', 'History')),
        g.stateTimeline(
          t('稼働と計画停止のタイムライン', 'Up, down and planned stops'),
          t('各サービスの稼働（緑）・停止（赤）と承認済みの計画停止（青）、稼働未確認（紫）。', 'Up (green), down (red), approved planned stops (blue) and unobserved time (purple) per service.'),
          [
            g.target('bosaimail:service_up{service=~"$service"}', '{{service}}'),
            g.target('bosaimail:maintenance_active{service=~"$service"} * 2', '{{service}} ' + t('計画停止', 'planned stop')),
            g.target('bosaimail:monitoring_gap{service=~"$service"} * 3', '{{service}} ' + t('稼働未確認', 'unobserved')),
          ],
          h=8,
          mappings=g.valueMap({
            '1': [t('正常', 'Up'), 'green'],
            '0': [t('停止', 'Down'), 'red'],
            '2': [t('計画停止', 'Planned stop'), 'blue'],
            '3': [t('稼働未確認', 'Unobserved'), 'purple'],
          }),
        ),
        g.timeseries(
          t('稼働率の推移（直近30日・契約年度）', 'Availability over time (30d, contract year)'),
          t('直近30日と契約年度の契約稼働率の推移と目標。', 'Rolling 30-day and contract-year availability against the objective.'),
          [
            g.target('bosaimail:availability:ratio_30d{service=~"$service"}', '{{service}} 30d'),
            g.target('bosaimail:availability:ratio_contract_year{service=~"$service"}', '{{service}} ' + t('契約年度', 'contract year')),
          ],
          w=24,
          unit='percentunit',
          steps=[[null, 'red'], [objective, 'green']],
        ),
      ],
    ),
  },
}
