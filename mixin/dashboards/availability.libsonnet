// 稼働率: the contract's figures per service: availability against the
// objective with planned stops excluded, error budget left, outages against
// the yearly budget, and a timeline of outages and planned stops.
local g = import '../lib/dashboard.libsonnet';

{
  grafanaDashboards+:: {
    local cm = (import 'common.libsonnet')($._config),
    local t = cm.t,
    local objective = $._config.availabilityObjective,
    local outageBudget = $._config.outageBudget,

    'bosaimail-availability.json': g.dashboard(
      uid='bosaimail-availability',
      title=t('防災メール 稼働率', 'Disaster mail: availability'),
      description=t('契約上の稼働率（計画停止を除く）と障害回数。表示期間の既定は今月です。', 'Contractual availability (planned stops excluded) and outages. The default range is this month.'),
      tags=['bosaimail'],
      variables=cm.variables(instance=false),
      links=cm.links,
      from='now/M',
      refresh='5m',
      panels=[
        g.row(t('稼働率', 'Availability')),
        g.stat(
          t('表示期間の稼働率', 'Availability in the range'),
          t('表示期間（既定: 今月）の稼働率 = 稼働分 ÷ 監視できた分（計画停止・監視欠測を除く）。1分単位。', 'Up minutes over observed minutes in the range (planned stops and monitoring gaps excluded), per minute.'),
          // bosaimail:service_up:unplanned has no sample during planned
          // stops and monitoring gaps, so its average is exactly the
          // contract's ratio (docs/availability.md).
          [g.instant('avg_over_time(bosaimail:service_up:unplanned{service=~"$service"}[$__range])', '{{service}}')],
          w=8,
          h=5,
          unit='percentunit',
          steps=[[null, 'red'], [objective, 'green']],
          colorMode='value',
        ),
        g.stat(
          t('稼働率（30日）', 'Availability (30d)'),
          t('直近30日の稼働率（計画停止を除く）。目標: %s%%' % std.toString(objective * 100), 'Availability over the last 30 days.'),
          [g.instant('bosaimail:availability:ratio_30d{service=~"$service"}', '{{service}}')],
          w=8,
          h=5,
          unit='percentunit',
          steps=[[null, 'red'], [objective, 'green']],
          colorMode='value',
        ),
        g.stat(
          t('稼働率（365日）', 'Availability (365d)'),
          t('直近365日の稼働率（計画停止を除く）。', 'Availability over the last 365 days.'),
          [g.instant('bosaimail:availability:ratio_365d{service=~"$service"}', '{{service}}')],
          w=8,
          h=5,
          unit='percentunit',
          steps=[[null, 'red'], [objective, 'green']],
          colorMode='value',
        ),
        g.stat(
          t('残りの停止許容時間（30日）', 'Error budget left (30d)'),
          t('直近30日で、目標 %s%% を守りながらあと停止してよい分数。負なら目標未達。' % std.toString(objective * 100), 'Minutes of downtime left in the 30-day budget; negative means the objective is missed.'),
          // budget - downtime = (ratio - objective) * observed time
          [g.instant('(bosaimail:availability:ratio_30d{service=~"$service"} - %s) * bosaimail:availability:observed_seconds_30d{service=~"$service"} / 60' % std.toString(objective), '{{service}}')],
          w=12,
          h=5,
          unit='m',
          steps=[[null, 'red'], [0, 'orange'], [30, 'green']],
          colorMode='value',
        ),
        g.stat(
          t('障害回数（365日）', 'Outages (365d)'),
          t('計画外の障害回数。%d 回が年間の上限です。計画停止中に収まる停止は数えません。' % outageBudget, 'Unplanned outages in 365 days; stops wholly inside planned maintenance do not count.'),
          [g.instant('bosaimail:outages:count_365d{service=~"$service"}', '{{service}}')],
          w=12,
          h=5,
          steps=[[null, 'green'], [outageBudget - 1, 'orange'], [outageBudget, 'red']],
          colorMode='value',
        ),

        g.row(t('推移', 'History')),
        g.stateTimeline(
          t('稼働と計画停止のタイムライン', 'Up, down and planned stops'),
          t('各サービスの稼働（緑）・停止（赤）と計画停止（青）。空白は監視欠測です。', 'Up (green), down (red) and planned stops (blue) per service; blank is a monitoring gap.'),
          [
            g.target('bosaimail:service_up{service=~"$service"}', '{{service}}'),
            g.target('bosaimail:maintenance_active{service=~"$service"} * 2', '{{service}} ' + t('計画停止', 'planned stop')),
            g.target('bosaimail:monitoring_gap{service=~"$service"} * 3', '{{service}} ' + t('監視欠測', 'monitoring gap')),
          ],
          h=8,
          mappings=g.valueMap({
            '1': [t('正常', 'Up'), 'green'],
            '0': [t('停止', 'Down'), 'red'],
            '2': [t('計画停止', 'Planned stop'), 'blue'],
            '3': [t('監視欠測', 'Monitoring gap'), 'purple'],
          }),
        ),
        g.timeseries(
          t('稼働率の推移（30日）', 'Availability over time (30d)'),
          t('30日稼働率の推移と目標。', '30-day availability over time against the objective.'),
          [g.target('bosaimail:availability:ratio_30d{service=~"$service"}', '{{service}}')],
          w=24,
          unit='percentunit',
          steps=[[null, 'red'], [objective, 'green']],
        ),
      ],
    ),
  },
}
