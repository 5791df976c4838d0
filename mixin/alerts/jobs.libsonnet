// Scheduled jobs, backups and data integrity (issue 6). Thresholds that
// differ per job or backup come from the exporter config as metrics.
local ja = import '../lib/ja.libsonnet';

{
  prometheusAlerts+:: {
    local c = $._config,
    local sel = c.selector,
    local rb(name) = c.runbookURL + '#' + std.asciiLower(name),
    groups+: [
      {
        name: 'bosaimail-jobs',
        rules: [
          {
            alert: 'BosaiMailJobFailed',
            expr: 'bosaimail_job_last_run_success{%s} == 0' % sel,
            'for': c.jobFailedFor,
            labels: { severity: 'warning', responsible: 'contractor' },
            annotations: {
              summary: '定期ジョブ「{{ $labels.job_name }}」の最新の実行が失敗しました',
              description: '定期ジョブ「{{ $labels.job_name }}」（{{ $labels.instance }}）の最新の実行が失敗として報告されました。次に成功が報告されるまで続きます。終了コードとメッセージは /api/v1/jobs/{{ $labels.job_name }} で確認できます。',
              runbook_url: rb('BosaiMailJobFailed'),
            },
          },
          {
            alert: 'BosaiMailJobOverdue',
            expr: '(bosaimail_job_next_due_timestamp_seconds{%s} < time()) and (bosaimail_job_reported{%s} == 1)' % [sel, sel],
            'for': c.jobOverdueFor,
            labels: { severity: 'warning', responsible: 'contractor' },
            annotations: {
              summary: '定期ジョブ「{{ $labels.job_name }}」が予定時刻を過ぎても完了していません',
              description: '定期ジョブ「{{ $labels.job_name }}」（{{ $labels.instance }}）は%s までに完了を報告する予定でしたが、報告がありません。ジョブが起動していないか、実行中のまま止まっているか、報告が届いていません。' % ja.jstOf('$value'),
              runbook_url: rb('BosaiMailJobOverdue'),
            },
          },
          {
            alert: 'BosaiMailJobNeverReported',
            expr: '(bosaimail_job_next_due_timestamp_seconds{%s} < time()) and (bosaimail_job_reported{%s} == 0)' % [sel, sel],
            'for': c.jobOverdueFor,
            labels: { severity: 'warning', responsible: 'contractor' },
            annotations: {
              summary: '定期ジョブ「{{ $labels.job_name }}」から一度も報告がありません',
              description: '定期ジョブ「{{ $labels.job_name }}」（{{ $labels.instance }}）は設定されてから最初の予定時刻（%s）を過ぎましたが、一度も実行結果を報告していません。ジョブへの報告処理（curl）の組込み漏れ、ジョブ名またはトークンの誤りが考えられます。' % ja.jstOf('$value'),
              runbook_url: rb('BosaiMailJobNeverReported'),
            },
          },
          {
            alert: 'BosaiMailBackupStale',
            expr: 'time() - bosaimail_backup_last_timestamp_seconds{%s} > bosaimail_backup_max_age_seconds{%s}' % [sel, sel],
            labels: { severity: 'warning', responsible: 'contractor' },
            annotations: {
              summary: 'バックアップ「{{ $labels.backup }}」が古くなっています',
              description: 'バックアップ「{{ $labels.backup }}」（{{ $labels.instance }}）の最新の完全なバックアップは%s前のものです（許容は設定の max_age）。バックアップジョブが失敗しているか、出力が不完全です。' % ja.durationOf('$value'),
              runbook_url: rb('BosaiMailBackupStale'),
            },
          },
          {
            alert: 'BosaiMailBackupTooSmall',
            expr: 'bosaimail_backup_size_bytes{%s} < %g * bosaimail_backup_previous_size_bytes{%s}' % [sel, 1 - c.backupSizeDropFraction, sel],
            labels: { severity: 'warning', responsible: 'contractor' },
            annotations: {
              summary: 'バックアップ「{{ $labels.backup }}」のサイズが急に小さくなりました',
              description: 'バックアップ「{{ $labels.backup }}」（{{ $labels.instance }}）の最新のバックアップは{{ $value | humanize1024 }}B で、前回より%d%%以上小さくなっています。データの欠落やバックアップ対象の誤りがないか確認してください。' % std.round(c.backupSizeDropFraction * 100),
              runbook_url: rb('BosaiMailBackupTooSmall'),
            },
          },
          {
            alert: 'BosaiMailBackupIncomplete',
            expr: 'bosaimail_backup_incomplete_artefacts{%s} > 0' % sel,
            'for': c.backupIncompleteFor,
            labels: { severity: 'warning', responsible: 'contractor' },
            annotations: {
              summary: 'バックアップ「{{ $labels.backup }}」に不完全なファイルがあります',
              description: 'バックアップ「{{ $labels.backup }}」（{{ $labels.instance }}）で、最新の完全なバックアップより新しいファイル{{ $value }}件が完全性の確認（サイズ、完了マーカー、gzip 検査）に通りません。書込みの中断や破損が考えられます。',
              runbook_url: rb('BosaiMailBackupIncomplete'),
            },
          },
          {
            alert: 'BosaiMailIntegrityViolation',
            expr: 'bosaimail_integrity_verified{%s} == 0' % sel,
            labels: { severity: 'critical', responsible: 'contractor' },
            annotations: {
              summary: 'データセット「{{ $labels.dataset }}」の完全性を確認できません（改ざんの可能性）',
              description: 'データセット「{{ $labels.dataset }}」（{{ $labels.instance }}）のチェックサム検証に失敗しました。ファイルの内容の不一致、欠落、マニフェストにないファイル、またはマニフェスト自体の改ざん（HMAC・署名の不一致）が検出されました。契約上の「業務データの完全性を担保できない事象」に当たる可能性があります。直ちに確認してください。',
              runbook_url: rb('BosaiMailIntegrityViolation'),
            },
          },
        ],
      },
    ],
  },
}
