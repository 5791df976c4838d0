// Alerts on cloud and mail provider status, announced maintenance, sending
// quota and the background sources that feed them (issue 5).
local ja = import '../lib/ja.libsonnet';

{
  local cfg = self._config,
  local runbook(name) = cfg.runbookURL + '#' + std.asciiLower(name),

  prometheusAlerts+:: {
    groups+: [
      {
        name: 'bosaimail-cloud',
        rules: [
          {
            alert: 'BosaiMailCloudDegraded',
            // max over exporter instances: one instance that sees the
            // provider's own statement is enough.
            expr: |||
              max by (provider, component, status) (bosaimail_cloud_component_status{%(selector)s, status=~"%(statuses)s"}) == 1
            ||| % (cfg + tier),
            'for': cfg.cloudDegradedFor,
            labels: {
              severity: tier.severity,
              responsible: 'cloud',
            },
            annotations: {
              summary: 'クラウド事業者 {{ $labels.provider }} の {{ $labels.component }} が%(text)sしています（%(status)s）' % (tier { status: ja.cloudStatus }),
              description: 'クラウド事業者 {{ $labels.provider }} が、{{ $labels.component }} の状態を「%(status)s」と公表しています（%(for)s継続）。事業者の障害情報を確認し、メール配信への影響（送信の遅れ・失敗）を調べてください。事業者側の障害は障害票に記録し、免責条件に当たるかを判断してください。' % { status: ja.cloudStatus, 'for': ja.duration(cfg.cloudDegradedFor) },
              runbook_url: runbook('BosaiMailCloudDegraded'),
            },
          }
          for tier in [
            { severity: 'warning', statuses: 'degraded|partial_outage', text: '縮退' },
            { severity: 'critical', statuses: 'major_outage', text: '停止' },
          ]
        ] + [
          {
            alert: 'BosaiMailCloudMaintenanceScheduled',
            // The earliest announced start any instance saw; fires once in
            // each window so the contractor can register the planned stop
            // (計画停止) and tell the prefecture in time.
            expr: |||
              min by (provider, component) (bosaimail_cloud_maintenance_start_timestamp_seconds{%(selector)s}) - time() <= %(upper)s * 86400 > %(lower)s * 86400
            ||| % (cfg + ahead),
            labels: {
              severity: 'info',
              responsible: 'cloud',
              ahead: ahead.label,
            },
            annotations: {
              summary: 'クラウド事業者 {{ $labels.provider }} の {{ $labels.component }} で、%(text)sにメンテナンスが予定されています' % ahead,
              description: 'クラウド事業者 {{ $labels.provider }} が、{{ $labels.component }} のメンテナンスを予告しています（開始まで%s）。サービスへの影響を確認し、影響がある場合は計画停止として登録して、事前に県へ連絡してください。' % ja.durationOf('$value'),
              runbook_url: runbook('BosaiMailCloudMaintenanceScheduled'),
            },
          }
          for ahead in [
            { label: '7d', upper: cfg.cloudMaintenanceNoticeDays[0], lower: cfg.cloudMaintenanceNoticeDays[1], text: '%d日以内' % cfg.cloudMaintenanceNoticeDays[0] },
            { label: '1d', upper: cfg.cloudMaintenanceNoticeDays[1], lower: 0, text: '%d日以内' % cfg.cloudMaintenanceNoticeDays[1] },
          ]
        ] + [
          {
            alert: 'BosaiMailSendQuotaNearlyExhausted',
            // A disaster broadcast is a burst: the quota must have room
            // before it starts, so the ratio itself is the signal.
            expr: |||
              max by (provider, quota) (bosaimail_cloud_quota_used_ratio{%(selector)s}) >= %(lower)s%(upper)s
            ||| % (cfg + tier),
            'for': tier['for'],
            labels: {
              severity: tier.severity,
              responsible: 'contractor',
            },
            annotations: {
              summary: '{{ $labels.provider }} の送信枠（{{ $labels.quota }}）を{{ $value | humanizePercentage }}使用しています',
              description: '{{ $labels.provider }} の送信枠（{{ $labels.quota }}）の使用率が{{ $value | humanizePercentage }}です（%(text)s）。この状態で災害時の一斉配信が始まると送信枠を超えて配信が止まるおそれがあります。不要な送信を止め、事業者に上限引き上げを申請してください。' % tier,
              runbook_url: runbook('BosaiMailSendQuotaNearlyExhausted'),
            },
          }
          for tier in [
            { severity: 'warning', lower: cfg.sendQuotaWarningRatio, upper: ' < %s' % cfg.sendQuotaCriticalRatio, 'for': cfg.sendQuotaWarningFor, text: '警告の基準%s%%' % ja.percent(cfg.sendQuotaWarningRatio) },
            { severity: 'critical', lower: cfg.sendQuotaCriticalRatio, upper: '', 'for': '0m', text: '重大の基準%s%%' % ja.percent(cfg.sendQuotaCriticalRatio) },
          ]
        ] + [
          {
            alert: 'BosaiMailSendingDisabled',
            expr: |||
              max by (provider) (bosaimail_cloud_sending_enabled{%(selector)s}) == 0
            ||| % cfg,
            'for': '5m',
            labels: {
              severity: 'critical',
              responsible: 'cloud',
            },
            annotations: {
              summary: '{{ $labels.provider }} でメール送信が停止されています',
              description: 'メール送信事業者 {{ $labels.provider }} が、このアカウントからの送信を停止しています。バウンス率・苦情率による停止や審査の可能性があります。災害時の配信ができないため、直ちに事業者の通知を確認してください。',
              runbook_url: runbook('BosaiMailSendingDisabled'),
            },
          },
          {
            alert: 'BosaiMailSourceFailing',
            // Failing as seen from every exporter instance; the last good
            // values are still exported, so the age tells how stale they are.
            expr: |||
              max by (collector, source) (bosaimail_source_up{%(selector)s}) == 0
            ||| % cfg,
            'for': cfg.sourceFailingFor,
            labels: {
              severity: 'warning',
              responsible: 'contractor',
            },
            annotations: {
              summary: '監視の情報源「{{ $labels.source }}」（{{ $labels.collector }}）から取得できません',
              description: '監視の情報源「{{ $labels.source }}」（{{ $labels.collector }}）の更新が%s以上失敗しています。表示されている値は最後に取得できた時点のもので、古くなっています。失敗の理由は指標 bosaimail_source_failures_total の reason、最後に成功した時刻は bosaimail_source_last_success_timestamp_seconds で確認してください。' % ja.duration(cfg.sourceFailingFor),
              runbook_url: runbook('BosaiMailSourceFailing'),
            },
          },
        ],
      },
    ],
  },
}
