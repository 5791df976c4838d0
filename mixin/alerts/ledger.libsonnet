// The incident ledger (bosaimail_ledger, docs/ledger.md): requests left
// waiting for the prefecture, webhooks it refuses, and the ledger itself
// not scraped. Its own thresholds and selector live here so another
// prefecture can override them with `_config+::`.
{
  _config+:: {
    // Selects the ledger's own series (its scrape job).
    ledgerSelector: 'job="bosaimail_ledger"',
    // A request (exemption, planned stop, 稼働確認) waiting longer than
    // this for the prefecture's decision: the monthly report needs it
    // within 10 business days of the month's end.
    ledgerApprovalPendingDays: 5,
    // Refused or failed webhooks within this window fire the alert.
    ledgerWebhookFailureWindow: '15m',
    ledgerDownFor: '5m',
  },
  prometheusAlerts+:: {
    local c = $._config,
    local sel = c.ledgerSelector,
    local rb(name) = c.runbookURL + '#' + std.asciiLower(name),
    groups+: [
      {
        name: 'bosaimail-ledger',
        rules: [
          {
            alert: 'BosaiMailLedgerApprovalPending',
            expr: 'time() - bosaimail_ledger_approval_oldest_pending_timestamp_seconds{%s} > %d' % [sel, c.ledgerApprovalPendingDays * 86400],
            labels: { severity: 'warning', responsible: 'contractor' },
            annotations: {
              summary: '障害台帳の申請（{{ $labels.kind }}）が %d 日以上承認待ちです' % c.ledgerApprovalPendingDays,
              description: '障害台帳（{{ $labels.instance }}）で最も古い申請（種類 {{ $labels.kind }}: exemption=免責、maintenance=計画停止、confirmation=稼働確認）が {{ $value | humanizeDuration }} 承認も却下もされていません。承認されるまで月次報告の稼働率に反映されず、計画停止は監視から除外されません。県の承認者に判断を依頼してください。',
              runbook_url: rb('BosaiMailLedgerApprovalPending'),
            },
          },
          {
            alert: 'BosaiMailLedgerWebhookFailing',
            expr: 'sum by (%s) (increase(bosaimail_ledger_webhook_requests_total{%s, outcome!="ok"}[%s])) > 0' % ['job, instance, outcome', sel, c.ledgerWebhookFailureWindow],
            labels: { severity: 'warning', responsible: 'contractor' },
            annotations: {
              summary: '障害台帳が Alertmanager からの通知を受け付けていません（{{ $labels.outcome }}）',
              description: '障害台帳（{{ $labels.instance }}）は直近 %s に Alertmanager の webhook を {{ $value | humanize }} 件受け付けませんでした（理由 {{ $labels.outcome }}: unauthorized=トークン不一致、bad_request=形式不正、too_large=サイズ超過、error=保存失敗）。障害票が起票されていない障害があるおそれがあります。障害のメールは届いています。' % c.ledgerWebhookFailureWindow,
              runbook_url: rb('BosaiMailLedgerWebhookFailing'),
            },
          },
          {
            alert: 'BosaiMailLedgerDown',
            expr: 'up{%s} == 0' % sel,
            'for': c.ledgerDownFor,
            labels: { severity: 'warning', responsible: 'contractor' },
            annotations: {
              summary: '障害台帳 {{ $labels.instance }} から応答がありません',
              description: '障害台帳（bosaimail_ledger）{{ $labels.instance }} を %s 以上取得できません。この間の障害は Alertmanager が再送しますが、障害票の起票・承認・計画停止の配信（iCalendar）が止まっています。障害のメールは届いています。' % c.ledgerDownFor,
              runbook_url: rb('BosaiMailLedgerDown'),
            },
          },
        ],
      },
    ],
  },
}
