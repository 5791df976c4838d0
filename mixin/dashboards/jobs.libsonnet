// ジョブ・バックアップ: scheduled job outcomes, backup freshness and size,
// and data-integrity verification (the contract requires zero incidents).
local g = import '../lib/dashboard.libsonnet';

{
  grafanaDashboards+:: {
    local cm = (import 'common.libsonnet')($._config),
    local t = cm.t,

    'bosaimail-jobs.json': g.dashboard(
      uid='bosaimail-jobs',
      title=t('防災メール ジョブ・バックアップ', 'Disaster mail: jobs and backups'),
      description=t('定期ジョブ（バックアップ等）の実行結果、バックアップの鮮度とサイズ、データ完全性の検証結果。', 'Scheduled job outcomes, backup freshness and size, and integrity verification.'),
      tags=['bosaimail'],
      variables=cm.variables(service=false),
      links=cm.links,
      panels=[
        g.row(t('定期ジョブ', 'Scheduled jobs')),
        g.table(
          t('ジョブの最新結果', 'Latest job results'),
          t('各ジョブの最新実行の成否、最後に成功してからの時間、次の期限までの時間（負なら遅延）。', 'Latest run result, time since last success, and time until due (negative: overdue).'),
          [
            g.instant('bosaimail_job_last_run_success{%s}' % cm.f(), '', 'table'),
            g.instant('time() - bosaimail_job_last_success_timestamp_seconds{%s}' % cm.f(), '', 'table'),
            g.instant('bosaimail_job_next_due_timestamp_seconds{%s} - time()' % cm.f(), '', 'table'),
          ],
          h=9,
          mappings=cm.okFail,
          columns={ job_name: t('ジョブ', 'Job'), 'Value #A': t('最新結果', 'Latest'), 'Value #B': t('最終成功からの秒数', 'Seconds since success'), 'Value #C': t('期限までの秒数', 'Seconds until due') },
          hide=['Time', '__name__', 'instance', 'job'],
        ),
        g.timeseries(
          t('ジョブの所要時間', 'Job duration'),
          t('各ジョブの直近の実行時間。', 'Duration of the latest run of each job.'),
          [g.target('bosaimail_job_last_duration_seconds{%s}' % cm.f(), '{{job_name}}')],
          unit='s',
        ),
        g.stateTimeline(
          t('ジョブ結果の推移', 'Job results over time'),
          t('各ジョブの最新結果の推移（緑: 成功、赤: 失敗）。', 'Latest result of each job over time.'),
          [g.target('bosaimail_job_last_run_success{%s}' % cm.f(), '{{job_name}}')],
          w=12,
          mappings=cm.okFail,
        ),

        g.row(t('バックアップ', 'Backups')),
        g.timeseries(
          t('最新バックアップの経過時間', 'Age of the newest backup'),
          t('各バックアップ先の最新ファイルが作られてからの時間。', 'Time since the newest artefact of each backup was written.'),
          [g.target('time() - bosaimail_backup_last_timestamp_seconds{%s}' % cm.f(), '{{backup}}')],
          unit='s',
        ),
        g.timeseries(
          t('バックアップのサイズ', 'Backup size'),
          t('最新バックアップのサイズ。急な減少は不完全なバックアップの兆候です。', 'Size of the newest backup; a sudden drop suggests an incomplete backup.'),
          [g.target('bosaimail_backup_size_bytes{%s}' % cm.f(), '{{backup}}')],
          unit='bytes',
        ),

        g.row(t('データ完全性', 'Data integrity')),
        g.table(
          t('完全性検証', 'Integrity verification'),
          t('チェックサム台帳との照合結果。不一致が 1 件でもあれば改ざん・破損の疑いとして直ちに対応します。', 'Verification against checksum manifests; any mismatch is a suspected tampering or corruption.'),
          [
            g.instant('bosaimail_integrity_verified{%s}' % cm.f(), '', 'table'),
            g.instant('bosaimail_integrity_mismatches{%s}' % cm.f(), '', 'table'),
            g.instant('time() - bosaimail_integrity_last_check_timestamp_seconds{%s}' % cm.f(), '', 'table'),
          ],
          h=8,
          mappings=cm.okFail,
          columns={ dataset: t('データセット', 'Data set'), 'Value #A': t('検証結果', 'Verified'), 'Value #B': t('不一致数', 'Mismatches'), 'Value #C': t('最終検証からの秒数', 'Seconds since check') },
          hide=['Time', '__name__', 'instance', 'job'],
        ),
      ],
    ),
  },
}
