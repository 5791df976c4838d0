// Alerts on individual checks (http, tcp, smtp, roundtrip). The service-level
// page is BosaiMailServiceDown (availability); these say which check broke.
{
  local cfg = self._config,
  local runbook(name) = cfg.runbookURL + '#' + std.asciiLower(name),

  prometheusAlerts+:: {
    groups+: [
      {
        name: 'bosaimail-checks',
        rules: [
          {
            alert: 'BosaiMailCheckFailing',
            // Down as seen from every exporter instance (max over instances),
            // the same view bosaimail:service_up takes.
            expr: |||
              max by (service, check, kind, critical) (bosaimail_check_up{%(selector)s}) == 0
            ||| % cfg,
            'for': cfg.checkFailingFor,
            labels: {
              severity: 'warning',
              responsible: 'contractor',
            },
            annotations: {
              summary: '{{ $labels.service }} のチェック {{ $labels.check }}（{{ $labels.kind }}）が失敗しています',
              description: '{{ $labels.service }} のチェック {{ $labels.check }}（種類 {{ $labels.kind }}、稼働率判定対象 {{ $labels.critical }}）が %(checkFailingFor)s 以上、すべての監視拠点から失敗しています。失敗理由は bosaimail_check_failures_total の reason ラベルで確認してください。' % cfg,
              runbook_url: runbook('BosaiMailCheckFailing'),
            },
          },
          {
            alert: 'BosaiMailRoundTripSlow',
            // The latest canary that arrived in time, from the fastest
            // instance: slow everywhere means the mail path itself is slow.
            expr: |||
              min by (service, check) (bosaimail_roundtrip_duration_seconds{%(selector)s}) > %(roundTripSlowSeconds)s
            ||| % cfg,
            'for': cfg.roundTripSlowFor,
            labels: {
              severity: 'warning',
              responsible: 'contractor',
            },
            annotations: {
              summary: '{{ $labels.service }} の到達確認メールが遅延しています（{{ $value | humanizeDuration }}）',
              description: '{{ $labels.service }} の到達確認メール（{{ $labels.check }}）の送信から受信までが {{ $value | humanizeDuration }} かかっています（基準 %(roundTripSlowSeconds)s 秒、%(roundTripSlowFor)s 継続）。災害時の一斉配信が遅れるおそれがあります。配信キューと送信先 MTA の状況を確認してください。' % cfg,
              runbook_url: runbook('BosaiMailRoundTripSlow'),
            },
          },
        ] + [
          {
            alert: 'BosaiMailTLSCertExpiringSoon',
            // The leaf certificate actually served (after STARTTLS for smtp),
            // the earliest expiry any instance saw.
            expr: |||
              min by (service, check, kind) (bosaimail_check_tls_not_after_timestamp_seconds{%(selector)s}) - time() < %(upper)s * 86400%(lower)s
            ||| % (cfg + tier),
            'for': '1h',
            labels: {
              severity: tier.severity,
              responsible: 'contractor',
            },
            annotations: {
              summary: '{{ $labels.service }} の TLS 証明書の有効期限が近づいています（残り {{ $value | humanizeDuration }}）',
              description: '{{ $labels.service }} のチェック {{ $labels.check }}（{{ $labels.kind }}）で提示された証明書の有効期限まで残り {{ $value | humanizeDuration }} です（%(upper)s 日未満）。期限切れになると利用者の登録や配信が止まります。証明書を更新してください。' % (cfg + tier),
              runbook_url: runbook('BosaiMailTLSCertExpiringSoon'),
            },
          }
          for tier in [
            {
              severity: 'warning',
              upper: cfg.tlsCertExpiryWarningDays,
              lower: ' >= %s * 86400' % cfg.tlsCertExpiryCriticalDays,
            },
            {
              severity: 'critical',
              upper: cfg.tlsCertExpiryCriticalDays,
              lower: '',
            },
          ]
        ],
      },
    ],
  },
}
