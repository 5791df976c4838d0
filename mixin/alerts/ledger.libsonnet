// The incident ledger (bosaimail_ledger, docs/ledger.md): requests left
// waiting for the prefecture, webhooks it refuses, and the ledger itself
// not scraped. Its own thresholds and selector live here so another
// prefecture can override them with `_config+::`.
local ja = import '../lib/ja.libsonnet';

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
    // The request's kind and the refusal's reason in words.
    local kindText = '{{ if eq $labels.kind "exemption" }}免責の{{ else if eq $labels.kind "maintenance" }}計画停止の{{ else if eq $labels.kind "confirmation" }}稼働確認の{{ else }}{{ $labels.kind }} の{{ end }}',
    local outcomeText = '{{ if eq $labels.outcome "unauthorized" }}トークン不一致{{ else if eq $labels.outcome "bad_request" }}形式不正{{ else if eq $labels.outcome "too_large" }}サイズ超過{{ else if eq $labels.outcome "error" }}保存失敗{{ else }}{{ $labels.outcome }}{{ end }}',
    groups+: [
      {
        name: 'bosaimail-ledger',
        rules: [
          {
            alert: 'BosaiMailLedgerApprovalPending',
            expr: 'time() - bosaimail_ledger_approval_oldest_pending_timestamp_seconds{%s} > %d' % [sel, c.ledgerApprovalPendingDays * 86400],
            labels: { severity: 'warning', responsible: 'contractor' },
            annotations: {
              summary: '障害台帳で%s申請が %d 日以上承認待ちです' % [kindText, c.ledgerApprovalPendingDays],
              description: '障害台帳（{{ $labels.instance }}）で最も古い%s申請が%sの間、承認も却下もされていません。承認されるまで月次報告の稼働率に反映されず、計画停止は監視から除外されません。県の承認者に判断を依頼してください。' % [kindText, ja.durationOf('$value')],
              runbook_url: rb('BosaiMailLedgerApprovalPending'),
            },
          },
          {
            alert: 'BosaiMailLedgerWebhookFailing',
            expr: 'sum by (%s) (increase(bosaimail_ledger_webhook_requests_total{%s, outcome!="ok"}[%s])) > 0' % ['job, instance, outcome', sel, c.ledgerWebhookFailureWindow],
            labels: { severity: 'warning', responsible: 'contractor' },
            annotations: {
              summary: '障害台帳が Alertmanager からの通知を受け付けていません（%s）' % outcomeText,
              description: '障害台帳（{{ $labels.instance }}）は直近%sに Alertmanager からの通知（webhook）を {{ $value | printf "%%.0f" }} 件受け付けませんでした（理由: %s）。障害票が起票されていない障害があるおそれがあります。障害のメールは届いています。' % [ja.duration(c.ledgerWebhookFailureWindow), outcomeText],
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
              description: '障害台帳（bosaimail_ledger）{{ $labels.instance }} を%s以上取得できません。この間の障害は Alertmanager が再送しますが、障害票の起票・承認・計画停止の配信（iCalendar）が止まっています。障害のメールは届いています。' % ja.duration(c.ledgerDownFor),
              runbook_url: rb('BosaiMailLedgerDown'),
            },
          },
        ],
      },
    ],
  },
}
