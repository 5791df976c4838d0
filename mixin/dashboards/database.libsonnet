// データベース: the service's PostgreSQL (postgres_exporter) for the DB
// support duties of the contract: failure, performance, reorganisation
// (再編成) and capacity (容量).
local g = import '../lib/dashboard.libsonnet';
local ja = import '../lib/ja.libsonnet';

{
  grafanaDashboards+:: {
    local c = $._config,
    local cm = (import 'common.libsonnet')(c),
    local t = cm.t,
    local f(extra='') = '%s, instance=~"$instance"%s' % [c.postgresSelector, if extra == '' then '' else ', ' + extra],

    'bosaimail-database.json': g.dashboard(
      uid='bosaimail-database',
      title=t('防災メール データベース', 'Disaster mail: database'),
      description=t('PostgreSQL の稼働、接続、性能、再編成の要否（不要行・autovacuum・トランザクション ID）、容量とその予測、レプリケーション。', 'PostgreSQL status, connections, performance, reorganisation needs, capacity and its forecast, replication.'),
      tags=['bosaimail'],
      variables=[
        g.datasourceVar(t('データソース', 'Data source')),
        g.labelVar('instance', t('データベース', 'Database server'), 'pg_up{%s}' % c.postgresSelector, 'instance'),
      ],
      links=cm.links,
      panels=[
        g.row(t('稼働・接続', 'Status and connections')),
        g.stat(
          t('稼働状態', 'Status'),
          t('postgres_exporter から PostgreSQL に接続できているか。', 'Whether postgres_exporter can connect to PostgreSQL.'),
          [g.instant('pg_up{%s}' % f(), '{{instance}}')],
          w=6,
          mappings=cm.upDown,
          steps=[[null, 'red'], [1, 'green']],
        ),
        g.stat(
          t('接続数の使用率', 'Connections used'),
          t('クライアント接続数 ÷（max_connections − 管理者用予約）。%d%% 超が続くと警告。' % std.round(c.databaseConnectionsWarningRatio * 100), 'Client sessions over the connections ordinary roles may open.'),
          [g.instant('bosaimail:database_connections:ratio{%s}' % f(), '{{instance}}')],
          w=6,
          unit='percentunit',
          steps=[[null, 'green'], [c.databaseConnectionsWarningRatio, 'orange']],
        ),
        g.stat(
          t('データ領域が一杯になるまで', 'Data volume full in'),
          t('直近%sのデータベースの増加ペースで、データ領域のディスクが一杯になるまでの日数（増えていなければ表示なし）。' % ja.duration(c.capacityTrendWindow), 'Days until the databases growth fills their volume.'),
          [g.instant('bosaimail:database_volume_days_until_full{%s}' % f(), '{{instance}}')],
          w=6,
          unit='d',
          steps=[[null, 'red'], [c.databaseFullWarningDays, 'green']],
        ),
        g.stat(
          t('ロック数', 'Locks'),
          t('保持・待機中のロックの数（全モード）。急増はロック待ちの連鎖の兆候です。', 'Locks held or awaited, all modes.'),
          [g.instant('sum by (instance) (pg_locks_count{%s})' % f(), '{{instance}}')],
          w=6,
        ),
        g.timeseries(
          t('状態別の接続数', 'Sessions by state'),
          t('pg_stat_activity の状態別のセッション数。idle in transaction の増加はアプリケーションの不具合の兆候です。', 'Sessions by state; idle in transaction growing is an application bug.'),
          [g.target('sum by (instance, state) (pg_stat_activity_count{%s})' % f(), '{{instance}} {{state}}')],
          stack=true,
        ),
        g.timeseries(
          t('最も長いトランザクション', 'Oldest transaction'),
          t('状態別の最も古いトランザクションの経過時間。実行中 %d 秒、放置 %d 秒を超えると警告。' % [c.databaseLongTransactionSeconds, c.databaseIdleInTransactionSeconds], 'Age of the oldest transaction by state.'),
          [g.target('max by (instance, datname, state) (pg_stat_activity_max_tx_duration{%s})' % f('state=~"active|idle in transaction.*"'), '{{datname}} {{state}}')],
          unit='s',
        ),

        g.row(t('性能', 'Performance')),
        g.timeseries(
          t('キャッシュヒット率', 'Cache hit ratio'),
          t('共有バッファから読めた割合（10 分平均）。%d%% 未満が続き、ディスク読込みが多いと警告。' % std.round(c.databaseCacheHitRatio * 100), 'Share of block reads served from shared buffers.'),
          [g.target('bosaimail:database_cache_hit:ratio_rate10m{%s}' % f(), '{{datname}}')],
          w=8,
          unit='percentunit',
        ),
        g.timeseries(
          t('トランザクション数', 'Transactions'),
          t('1 秒あたりのコミットとロールバック。', 'Commits and rollbacks per second.'),
          [
            g.target('sum by (instance, datname) (rate(pg_stat_database_xact_commit{%s}[$__rate_interval]))' % f('datname!=""'), '{{datname}} commit'),
            g.target('sum by (instance, datname) (rate(pg_stat_database_xact_rollback{%s}[$__rate_interval]))' % f('datname!=""'), '{{datname}} rollback'),
          ],
          w=8,
          unit='ops',
        ),
        g.timeseries(
          t('デッドロックとチェックポイント', 'Deadlocks and checkpoints'),
          t('1 時間あたりのデッドロック件数と、要求（WAL 量超過）・定期のチェックポイント数。', 'Deadlocks and requested/timed checkpoints per hour.'),
          [
            g.target('sum by (instance) (rate(pg_stat_database_deadlocks{%s}[$__rate_interval])) * 3600' % f(), '{{instance}} deadlocks'),
            g.target('sum by (instance) (rate(pg_stat_bgwriter_checkpoints_req_total{%s}[$__rate_interval])) * 3600' % f(), '{{instance}} checkpoints requested'),
            g.target('sum by (instance) (rate(pg_stat_bgwriter_checkpoints_timed_total{%s}[$__rate_interval])) * 3600' % f(), '{{instance}} checkpoints timed'),
          ],
          w=8,
        ),

        g.row(t('再編成（DB 運用支援）', 'Reorganisation')),
        g.table(
          t('不要行の多いテーブル', 'Tables with most dead tuples'),
          t('不要行（dead tuple）の割合の高い順。%d%% 超かつ %d 行超が続くと VACUUM・REINDEX 等の再編成を検討します。' % [std.round(c.databaseDeadTupleRatio * 100), c.databaseDeadTuplesMin], 'Tables by dead-tuple ratio; high ones need VACUUM/REINDEX.'),
          [
            g.instant('topk(10, bosaimail:database_dead_tuples:ratio{%s})' % f(), '', 'table'),
            g.instant('pg_stat_user_tables_n_dead_tup{%s}' % f(), '', 'table'),
            g.instant('time() - (pg_stat_user_tables_last_autovacuum{%s} > 0 or pg_stat_user_tables_last_vacuum{%s} > 0)' % [f(), f()], '', 'table'),
          ],
          w=16,
          h=9,
          unit='none',
          columns={ datname: t('データベース', 'Database'), schemaname: t('スキーマ', 'Schema'), relname: t('テーブル', 'Table'), 'Value #A': t('不要行の割合', 'Dead ratio'), 'Value #B': t('不要行数', 'Dead tuples'), 'Value #C': t('最終 VACUUM からの秒数', 'Seconds since vacuum') },
          hide=['Time', '__name__', 'instance', 'job', 'server'],
        ),
        g.timeseries(
          t('トランザクション ID の経過', 'Transaction-ID age'),
          t('周回上限（2^31）に対する割合。%d%% で警告、%d%% で重大。' % [std.round(c.databaseXidAgeWarningRatio * 100), std.round(c.databaseXidAgeCriticalRatio * 100)], 'Share of the 2^31 wraparound horizon.'),
          [g.target('bosaimail:database_xid_age:ratio{%s}' % f(), '{{datname}}')],
          w=8,
          h=9,
          unit='percentunit',
          steps=[[null, 'green'], [c.databaseXidAgeWarningRatio, 'orange'], [c.databaseXidAgeCriticalRatio, 'red']],
        ),

        g.row(t('容量', 'Capacity')),
        g.timeseries(
          t('データベースのサイズ', 'Database size'),
          t('データベースごとのサイズ。', 'Size of each database.'),
          [g.target('pg_database_size_bytes{%s}' % f(), '{{datname}}')],
          unit='bytes',
        ),
        g.table(
          t('大きいテーブル', 'Largest tables'),
          t('索引を含むサイズの大きい順と、直近%sの増加（1日あたり）。' % ja.duration(c.capacityTrendWindow), 'Largest tables and their growth per day.'),
          [
            g.instant('topk(10, pg_stat_user_tables_size_bytes{%s})' % f(), '', 'table'),
            g.instant('deriv(pg_stat_user_tables_size_bytes{%s}[%s]) * 86400' % [f(), c.capacityTrendWindow], '', 'table'),
          ],
          w=12,
          unit='bytes',
          columns={ datname: t('データベース', 'Database'), schemaname: t('スキーマ', 'Schema'), relname: t('テーブル', 'Table'), 'Value #A': t('サイズ', 'Size'), 'Value #B': t('増加/日', 'Growth per day') },
          hide=['Time', '__name__', 'instance', 'job', 'server'],
        ),

        g.row(t('レプリケーション', 'Replication')),
        g.timeseries(
          t('レプリカの遅延', 'Replica lag'),
          t('レプリカがプライマリの更新を反映するまでの遅れ（プライマリと追いついたレプリカは 0）。%d 秒超が続くと警告。' % c.databaseReplicationLagSeconds, 'Replica replay lag; 0 on a primary and a caught-up replica.'),
          [g.target('pg_replication_lag_seconds{%s}' % f(), '{{instance}}')],
          w=24,
          unit='s',
        ),
      ],
    ),
  },
}
