// Delivery performance (issue 12): a service that is up but delivers an
// evacuation order an hour late has failed the people who registered.
local ja = import '../lib/ja.libsonnet';

{
  prometheusAlerts+:: {
    local c = $._config,
    local sel = c.selector,
    local rb(name) = c.runbookURL + '#' + std.asciiLower(name),
    groups+: [
      {
        name: 'bosaimail-delivery',
        rules: [
          {
            alert: 'BosaiMailDeliveryBacklog',
            expr: 'bosaimail:broadcast_projected_completion_seconds > %d' % c.broadcastObjectiveSeconds,
            'for': c.broadcastBacklogFor,
            labels: { severity: 'critical', responsible: 'contractor' },
            annotations: {
              summary: '一斉配信「{{ $labels.broadcast }}」が目標時間（%s）内に配信し終わらない見込みです' % ja.secondsText(c.broadcastObjectiveSeconds),
              description: '一斉配信「{{ $labels.broadcast }}」（{{ $labels.instance }}）は現在の配信速度では開始から%sで完了する見込みで、目標の%sを超えます。配信速度（bosaimail:broadcast_drain_rate:rate5m）、送信キュー、遅延の理由を確認してください。' % [ja.durationOf('$value'), ja.secondsText(c.broadcastObjectiveSeconds)],
              runbook_url: rb('BosaiMailDeliveryBacklog'),
            },
          },
          {
            alert: 'BosaiMailQueueStuck',
            expr: |||
              bosaimail_queue_oldest_message_age_seconds{%s,queue=~"incoming|active"} > %d
              and on (instance, job)
              bosaimail:queue_drain_rate:rate5m == 0
            ||| % [sel, c.queueStuckAgeSeconds],
            'for': c.queueStuckFor,
            labels: { severity: 'critical', responsible: 'contractor' },
            annotations: {
              summary: 'メール送信キュー（{{ $labels.queue }}）が滞留しています',
              description: '{{ $labels.instance }} の {{ $labels.queue }} キューで最も古いメールは%s前のもので、キューが減っていません。メールサーバー（Postfix）の配送が止まっています。' % ja.durationOf('$value'),
              runbook_url: rb('BosaiMailQueueStuck'),
            },
          },
          {
            alert: 'BosaiMailBounceRateHigh',
            expr: 'bosaimail_delivery_bounce_ratio{%s} > %g' % [sel, c.bounceRatioThreshold],
            'for': c.deliveryRatioFor,
            labels: { severity: 'warning', responsible: 'contractor' },
            annotations: {
              summary: 'バウンス率が%s%%を超えています（{{ $labels.source }}）' % ja.percent(c.bounceRatioThreshold),
              description: '{{ $labels.instance }} の {{ $labels.source }} によるバウンス率は{{ $value | humanizePercentage }}です。%s%%を超えると、Amazon SES などの送信事業者が送信元の評価を下げ、送信停止の審査に入ります。登録アドレスの無効化処理を確認してください。' % ja.percent(c.bounceRatioThreshold),
              runbook_url: rb('BosaiMailBounceRateHigh'),
            },
          },
          {
            alert: 'BosaiMailComplaintRateHigh',
            expr: 'bosaimail_delivery_complaint_ratio{%s} > %g' % [sel, c.complaintRatioThreshold],
            'for': c.deliveryRatioFor,
            labels: { severity: 'warning', responsible: 'contractor' },
            annotations: {
              summary: '苦情（迷惑メール報告）率が%s%%を超えています（{{ $labels.source }}）' % ja.percent(c.complaintRatioThreshold),
              description: '{{ $labels.instance }} の {{ $labels.source }} による苦情率は{{ $value | humanizePercentage }}です。%s%%を超えると送信事業者による審査の対象となり、緊急時に配信できなくなるおそれがあります。配信停止手続きの案内と登録確認の運用を確認してください。' % ja.percent(c.complaintRatioThreshold),
              runbook_url: rb('BosaiMailComplaintRateHigh'),
            },
          },
        ],
      },
    ],
  },
}
