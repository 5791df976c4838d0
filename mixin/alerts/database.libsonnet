// The service's PostgreSQL: failure, saturation, replication, sessions,
// reorganisation needs (DB 運用支援: 再編成, 容量, 性能) and the integrity
// of the live database (業務データの完全性), from postgres_exporter's series
// and the jobs push API. Thresholds are in config.libsonnet.
local ja = import '../lib/ja.libsonnet';

{
  prometheusAlerts+:: {
    local c = $._config,
    local sel = c.postgresSelector,
    local rb(name) = c.runbookURL + '#' + std.asciiLower(name),
    local alert(name, expr, forDur, severity, summary, description) = {
      alert: name,
      expr: expr,
      [if forDur != '0m' then 'for']: forDur,
      labels: { severity: severity, responsible: 'contractor' },
      annotations: { summary: summary, description: description, runbook_url: rb(name) },
    },
    groups+: [
      {
        name: 'bosaimail-database',
        rules: [
          alert(
            'BosaiMailDatabaseDown',
            'pg_up{%s} == 0' % sel,
            c.databaseDownFor,
            'critical',
            'データベース {{ $labels.instance }} に接続できません',
            'postgres_exporter（{{ $labels.instance }}）が PostgreSQL に%s以上接続できません。データベースの停止、接続数の上限、認証・ネットワークの異常が考えられます。登録者情報の参照・更新と配信が止まるおそれがあります。' % ja.duration(c.databaseDownFor),
          ),
          alert(
            'BosaiMailDatabaseUnresponsive',
            'scrape_duration_seconds{%s} >= %g and on (job, instance) up{%s} == 0' % [sel, c.databaseUnresponsiveScrapeSeconds, sel],
            c.databaseDownFor,
            'critical',
            'データベース {{ $labels.instance }} が応答しません',
            'postgres_exporter（{{ $labels.instance }}）の取得が、データベースの応答を待って時間切れ（{{ $value | humanize }}秒）になる状態が%s以上続いています。接続は受け付けるが処理が進まない状態（ロック待ちの滞留、ディスクの応答停止、プロセスの停止）が考えられます。登録者情報の参照・更新と配信が止まるおそれがあります。' % ja.duration(c.databaseDownFor),
          ),
          alert(
            'BosaiMailDatabaseExporterDown',
            'up{%s} == 0' % sel,
            c.databaseExporterDownFor,
            'warning',
            'データベースの監視（postgres_exporter {{ $labels.instance }}）が応答しません',
            'Prometheus が postgres_exporter（{{ $labels.instance }}）を%s以上取得できません。この間はデータベースの障害を検知できません。' % ja.duration(c.databaseExporterDownFor),
          ),
          alert(
            'BosaiMailDatabaseConnectionsNearMax',
            'bosaimail:database_connections:ratio{%s} > %g' % [sel, c.databaseConnectionsWarningRatio],
            c.databaseConnectionsFor,
            'warning',
            'データベース {{ $labels.instance }} の接続数が上限に近づいています',
            'データベース {{ $labels.instance }} の接続数が上限（max_connections から管理者用の予約分を除いた数）の {{ $value | humanizePercentage }} に達しています（しきい値 %d%%）。上限に達すると新しい接続が拒否され、配信・登録処理が失敗します。' % std.round(c.databaseConnectionsWarningRatio * 100),
          ),
          alert(
            'BosaiMailDatabaseReplicationLagging',
            'pg_replication_lag_seconds{%s} > %d' % [sel, c.databaseReplicationLagSeconds],
            c.databaseReplicationFor,
            'warning',
            'データベースのレプリカ {{ $labels.instance }} の反映が遅れています',
            'レプリカ {{ $labels.instance }} はプライマリの更新を%s遅れて反映しています（しきい値%s）。切替え時にこの間の更新が失われるおそれがあります。' % [ja.durationOf('$value'), ja.secondsText(c.databaseReplicationLagSeconds)],
          ),
          alert(
            'BosaiMailDatabaseReplicationBroken',
            |||
              (pg_replication_slots_active{%(sel)s} == 0)
              or
              (pg_replication_is_replica{%(sel)s} == 1 and on (job, instance) pg_replication_wal_receiver_streaming{%(sel)s} == 0)
            ||| % { sel: sel },
            c.databaseReplicationFor,
            'critical',
            'データベース {{ $labels.instance }} のレプリケーションが停止しています',
            'データベース {{ $labels.instance }} でレプリケーションが%s以上止まっています（プライマリ側のレプリケーションスロット{{ if $labels.slot_name }} {{ $labels.slot_name }} {{ end }}が未使用、またはレプリカが WAL を受信していません）。冗長性が失われ、スロットが残る場合はプライマリの WAL が溜まり続けてディスクを使い切ります。' % ja.duration(c.databaseReplicationFor),
          ),
          alert(
            'BosaiMailDatabaseLongRunningTransaction',
            'pg_stat_activity_max_tx_duration{%s, state="active"} > %d' % [sel, c.databaseLongTransactionSeconds],
            c.databaseSessionFor,
            'warning',
            'データベース {{ $labels.datname }} で長時間実行中のトランザクションがあります',
            'データベース {{ $labels.datname }}（{{ $labels.instance }}）で%s実行中のトランザクションがあります（しきい値%s）。ロックの保持や VACUUM の妨げにより、他の処理の遅延やテーブルの肥大化を招きます。' % [ja.durationOf('$value'), ja.secondsText(c.databaseLongTransactionSeconds)],
          ),
          alert(
            'BosaiMailDatabaseIdleInTransaction',
            'pg_stat_activity_max_tx_duration{%s, state=~"idle in transaction.*"} > %d' % [sel, c.databaseIdleInTransactionSeconds],
            c.databaseSessionFor,
            'warning',
            'データベース {{ $labels.datname }} でトランザクションを開いたまま放置されたセッションがあります',
            'データベース {{ $labels.datname }}（{{ $labels.instance }}）で、トランザクションを開始したまま%s何もしていないセッション（{{ $labels.state }}）があります（しきい値%s）。ロックを保持し続け、VACUUM による不要領域の回収も止めます。アプリケーションのトランザクション処理の不具合が疑われます。' % [ja.durationOf('$value'), ja.secondsText(c.databaseIdleInTransactionSeconds)],
          ),
          alert(
            'BosaiMailDatabaseDeadlocks',
            'increase(pg_stat_database_deadlocks{%s, datname!=""}[%s]) > %d' % [sel, c.databaseDeadlocksWindow, c.databaseDeadlocks],
            '0m',
            'warning',
            'データベース {{ $labels.datname }} でデッドロックが続いています',
            'データベース {{ $labels.datname }}（{{ $labels.instance }}）で直近%sに {{ $value | printf "%%.0f" }} 件のデッドロックが発生しました（しきい値 %d 件）。デッドロックになったトランザクションは取り消され、処理が失敗しています。' % [ja.duration(c.databaseDeadlocksWindow), c.databaseDeadlocks],
          ),
        ] + [
          alert(
            'BosaiMailDatabaseTransactionIDWraparound',
            'bosaimail:database_xid_age:ratio{%s} > %g' % [sel, t.ratio] + (if t.ceiling != null then ' <= %g' % t.ceiling else ''),
            c.databaseXidAgeFor,
            t.severity,
            'データベース {{ $labels.datname }} のトランザクション ID が周回（wraparound）に近づいています',
            'データベース {{ $labels.datname }}（{{ $labels.instance }}）の最も古い未凍結トランザクション ID の経過が周回上限（約 21 億）の {{ $value | humanizePercentage }} に達しました（しきい値 %d%%）。上限に近づくと PostgreSQL は書込みを停止します。VACUUM（FREEZE）が進んでいるか直ちに確認してください。' % std.round(t.ratio * 100),
          )
          for t in [
            { severity: 'warning', ratio: c.databaseXidAgeWarningRatio, ceiling: c.databaseXidAgeCriticalRatio },
            { severity: 'critical', ratio: c.databaseXidAgeCriticalRatio, ceiling: null },
          ]
        ] + [
          alert(
            'BosaiMailDatabaseDeadTuplesHigh',
            'bosaimail:database_dead_tuples:ratio{%s} > %g and on (job, instance, datname, schemaname, relname) pg_stat_user_tables_n_dead_tup{%s} > %d' % [sel, c.databaseDeadTupleRatio, sel, c.databaseDeadTuplesMin],
            c.databaseDeadTuplesFor,
            'warning',
            'テーブル {{ $labels.schemaname }}.{{ $labels.relname }} に不要行が溜まっています（再編成の検討）',
            'データベース {{ $labels.datname }}（{{ $labels.instance }}）のテーブル {{ $labels.schemaname }}.{{ $labels.relname }} の不要行（dead tuple）が全体の {{ $value | humanizePercentage }} です（しきい値 %d%%、%s継続）。性能劣化の原因になります。VACUUM・REINDEX 等の再編成（DB 運用支援）を計画してください。' % [std.round(c.databaseDeadTupleRatio * 100), ja.duration(c.databaseDeadTuplesFor)],
          ),
          alert(
            'BosaiMailDatabaseAutovacuumNotKeepingUp',
            'bosaimail:database_dead_tuples_over_autovacuum_trigger{%s} > 0' % sel,
            c.databaseAutovacuumBehindFor,
            'warning',
            'テーブル {{ $labels.schemaname }}.{{ $labels.relname }} の autovacuum が追いついていません',
            'データベース {{ $labels.datname }}（{{ $labels.instance }}）のテーブル {{ $labels.schemaname }}.{{ $labels.relname }} は、autovacuum が動くべき量を不要行が%s以上超えたままです（超過 {{ $value | printf "%%.0f" }} 行）。autovacuum が止められているか、長時間のトランザクションが回収を妨げています。' % ja.duration(c.databaseAutovacuumBehindFor),
          ),
          alert(
            'BosaiMailDatabaseVolumeFillingUp',
            'bosaimail:database_volume_days_until_full{%s} < %d' % [sel, c.databaseFullWarningDays],
            c.databaseVolumeFillingFor,
            'warning',
            'データベース {{ $labels.instance }} の増加で {{ $value | printf "%.0f" }} 日後にディスクが一杯になる見込みです',
            'データベース {{ $labels.instance }} の直近%sの増加ペースが続くと、データ領域のディスク（ホスト {{ $labels.host }}）が約 {{ $value | printf "%%.0f" }} 日で一杯になります（しきい値 %d 日）。容量の拡張、不要データの削除、再編成を計画してください。' % [ja.duration(c.capacityTrendWindow), c.databaseFullWarningDays],
          ),
          alert(
            'BosaiMailDatabaseCacheHitRatioLow',
            'bosaimail:database_cache_hit:ratio_rate10m{%s} < %g and on (job, instance, datname) bosaimail:database_blocks_read:rate10m{%s} > %g' % [sel, c.databaseCacheHitRatio, sel, c.databaseCacheMinReadsPerSecond],
            c.databaseCacheFor,
            'warning',
            'データベース {{ $labels.datname }} のキャッシュヒット率が低下しています',
            'データベース {{ $labels.datname }}（{{ $labels.instance }}）の共有バッファのヒット率が {{ $value | humanizePercentage }} です（しきい値 %d%%、%s継続）。ディスク読込みが増えて応答が遅くなっています。データ量の増加、索引の欠落、メモリ設定（shared_buffers）を確認してください。' % [std.round(c.databaseCacheHitRatio * 100), ja.duration(c.databaseCacheFor)],
          ),
          alert(
            'BosaiMailDatabaseCheckpointPressure',
            'bosaimail:database_checkpoints_requested:ratio_rate1h{%s} > %g and on (job, instance) sum by (job, instance) (increase(pg_stat_bgwriter_checkpoints_req_total{%s}[1h])) >= %d' % [sel, c.databaseCheckpointReqRatio, sel, c.databaseCheckpointsReqMin],
            c.databaseCheckpointFor,
            'warning',
            'データベース {{ $labels.instance }} でチェックポイントが頻発しています',
            'データベース {{ $labels.instance }} の直近 1 時間のチェックポイントの {{ $value | humanizePercentage }} が、定期（checkpoint_timeout）ではなく WAL 量の超過で発生しています。書込み負荷が高く、I/O の集中で応答が遅くなります。max_wal_size の見直しや大量更新の時間帯を確認してください。',
          ),
          alert(
            'BosaiMailDatabaseIntegrityCheckFailed',
            'bosaimail_job_last_run_success{%s, job_name=~"%s"} == 0' % [c.selector, c.databaseIntegrityJobs],
            '0m',
            'critical',
            'データベースの整合性検査 {{ $labels.job_name }} が失敗しました（データ破損の可能性）',
            '稼働中のデータベースの整合性検査（pg_amcheck 等）{{ $labels.job_name }} が失敗として報告されました。索引・テーブルの破損が検出されたか、検査そのものが実行できませんでした。契約上の「業務データの完全性を担保できない事象」に当たる可能性があります。終了コードとメッセージは /api/v1/jobs/{{ $labels.job_name }} で確認できます。',
          ),
          alert(
            'BosaiMailDatabaseIntegrityCheckOverdue',
            'bosaimail_job_next_due_timestamp_seconds{%s, job_name=~"%s"} < time()' % [c.selector, c.databaseIntegrityJobs],
            c.databaseIntegrityOverdueFor,
            'warning',
            'データベースの整合性検査 {{ $labels.job_name }} が予定どおり実行されていません',
            'データベースの整合性検査 {{ $labels.job_name }} は%sまでに結果を報告するはずでしたが、報告がありません。検査されていない期間は、データの完全性を確認できていません。' % ja.jstOf('$value'),
          ),
        ],
      },
    ],
  },
}
