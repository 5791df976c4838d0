// Alerts on individual checks (http, tcp, smtp, roundtrip). The service-level
// page is BosaiMailServiceDown (availability); these say which check broke.
local ja = import '../lib/ja.libsonnet';

{
  local cfg = self._config,
  local runbook(name) = cfg.runbookURL + '#' + std.asciiLower(name),
  local svc = ja.serviceName(cfg.selector),

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
              summary: '%(svc)sのチェック「{{ $labels.check }}」が失敗しています（全監視点で%(for)s以上）' % { svc: svc, 'for': ja.duration(cfg.checkFailingFor) },
              description: '%(svc)sのチェック「{{ $labels.check }}」（%(kind)s）が、すべての監視点で%(for)s以上失敗しています。{{ if eq $labels.critical "true" }}稼働率判定の対象のチェックです。{{ else }}稼働率判定の対象外のチェックです。{{ end }}失敗の理由は、ダッシュボード「チェック」または指標 bosaimail_check_failures_total の reason で確認してください。' % { svc: svc, kind: ja.checkKind, 'for': ja.duration(cfg.checkFailingFor) },
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
              summary: '%(svc)sの到達確認メールが遅れています（送信から受信まで%(dur)s）' % { svc: svc, dur: ja.durationOf('$value') },
              description: '%(svc)sの到達確認メール（{{ $labels.check }}）の送信から受信までに%(dur)sかかっています（基準%(limit)s、%(for)s継続）。災害時の一斉配信が遅れるおそれがあります。配信キューと送信先メールサーバーの状況を確認してください。' % { svc: svc, dur: ja.durationOf('$value'), limit: ja.secondsText(cfg.roundTripSlowSeconds), 'for': ja.duration(cfg.roundTripSlowFor) },
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
              summary: '%(svc)sの TLS 証明書の有効期限が近づいています（残り%(dur)s）' % { svc: svc, dur: ja.durationOf('$value') },
              description: '%(svc)sのチェック「{{ $labels.check }}」（%(kind)s）で提示された TLS 証明書の有効期限まで、残り%(dur)sです（基準%(upper)s日未満）。期限が切れると利用者登録やメール配信が止まります。証明書を更新してください。' % { svc: svc, kind: ja.checkKind, dur: ja.durationOf('$value'), upper: tier.upper },
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
