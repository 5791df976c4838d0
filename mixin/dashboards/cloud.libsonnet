// クラウド: provider component status, open events by category, and
// capacity (sending quota) so a disaster burst does not hit a limit.
local g = import '../lib/dashboard.libsonnet';

{
  grafanaDashboards+:: {
    local cm = (import 'common.libsonnet')($._config),
    local t = cm.t,

    'bosaimail-cloud.json': g.dashboard(
      uid='bosaimail-cloud',
      title=t('防災メール クラウド', 'Disaster mail: cloud'),
      description=t('クラウド事業者の状態、障害・メンテナンス情報、送信枠などの容量。', 'Cloud provider status, incidents and maintenance, and capacity such as sending quota.'),
      tags=['bosaimail'],
      variables=cm.variables(service=false),
      links=cm.links,
      panels=[
        g.row(t('状態', 'Status')),
        g.table(
          t('コンポーネントの状態', 'Component status'),
          t('事業者が公表している各コンポーネントの現在の状態。', 'Current status of each provider component.'),
          [g.instant('bosaimail_cloud_component_status{%s} == 1' % cm.f(), '', 'table')],
          w=12,
          h=10,
          columns={ provider: t('事業者', 'Provider'), component: t('コンポーネント', 'Component'), status: t('状態', 'Status') },
          hide=['Time', '__name__', 'job', 'instance', 'Value'],
        ),
        g.timeseries(
          t('未解決のイベント', 'Open events'),
          t('障害（issue）・予定された変更・メンテナンス・お知らせの件数。', 'Open incidents, scheduled changes, maintenances and notifications.'),
          [g.target('sum by (provider, category) (bosaimail_cloud_events_open{%s})' % cm.f(), '{{provider}} {{category}}')],
          w=12,
          h=10,
          unit='short',
        ),
        g.row(t('容量', 'Capacity')),
        g.bargauge(
          t('送信枠の使用率', 'Sending quota used'),
          t('24時間送信上限などの使用率。災害時の一斉配信で上限に達しないよう 80% で警告します。', 'Share of sending quotas used; warning at 80 % so a disaster burst does not hit the limit.'),
          [g.instant('bosaimail_cloud_quota_used_ratio{%s}' % cm.f(), '{{provider}} {{quota}}')],
          unit='percentunit',
          steps=[[null, 'green'], [0.8, 'orange'], [0.95, 'red']],
          min=0,
          max=1,
        ),
        g.timeseries(
          t('送信枠の使用率の推移', 'Quota use over time'),
          t('送信枠使用率の推移。', 'Quota use over time.'),
          [g.target('bosaimail_cloud_quota_used_ratio{%s}' % cm.f(), '{{provider}} {{quota}}')],
          unit='percentunit',
          steps=[[null, 'green'], [0.8, 'orange'], [0.95, 'red']],
        ),
      ],
    ),
  },
}
