// Recording rules over postgres_exporter's series: the ratios the database
// alerts, the dashboard and the report's capacity section share, written
// once. Labels keep job and instance so several database servers stay apart.
{
  prometheusRules+:: {
    local c = $._config,
    local sel = c.postgresSelector,
    local by = 'job, instance',
    local host(expr) = 'label_replace(%s, "host", "$1", "instance", "%s")' % [expr, c.hostFromInstance],
    groups+: [
      {
        name: 'bosaimail-database.rules',
        rules: [
          // Client sessions over the connections ordinary roles may open.
          {
            record: 'bosaimail:database_connections:ratio',
            expr: |||
              sum by (%(by)s) (pg_stat_activity_count{%(sel)s})
              /
              on (%(by)s) (
                max by (%(by)s) (pg_settings_max_connections{%(sel)s})
                - on (%(by)s) max by (%(by)s) (pg_settings_superuser_reserved_connections{%(sel)s})
              )
            ||| % { by: by, sel: sel },
          },
          // Share of block reads served from shared buffers (NaN while the
          // database reads nothing).
          {
            record: 'bosaimail:database_cache_hit:ratio_rate10m',
            expr: |||
              sum by (%(by)s, datname) (rate(pg_stat_database_blks_hit{%(sel)s, datname!=""}[10m]))
              /
              (
                sum by (%(by)s, datname) (rate(pg_stat_database_blks_hit{%(sel)s, datname!=""}[10m]))
                + sum by (%(by)s, datname) (rate(pg_stat_database_blks_read{%(sel)s, datname!=""}[10m]))
              )
            ||| % { by: by, sel: sel },
          },
          {
            record: 'bosaimail:database_blocks_read:rate10m',
            expr: 'sum by (%s, datname) (rate(pg_stat_database_blks_read{%s, datname!=""}[10m]))' % [by, sel],
          },
          // Share of checkpoints forced by WAL volume rather than by
          // checkpoint_timeout over the last hour.
          {
            record: 'bosaimail:database_checkpoints_requested:ratio_rate1h',
            expr: |||
              sum by (%(by)s) (rate(pg_stat_bgwriter_checkpoints_req_total{%(sel)s}[1h]))
              /
              (
                sum by (%(by)s) (rate(pg_stat_bgwriter_checkpoints_req_total{%(sel)s}[1h]))
                + sum by (%(by)s) (rate(pg_stat_bgwriter_checkpoints_timed_total{%(sel)s}[1h]))
              )
            ||| % { by: by, sel: sel },
          },
          // Transaction-ID age over the 2^31 wraparound horizon, the older
          // of plain and multixact IDs.
          {
            record: 'bosaimail:database_xid_age:ratio',
            expr: |||
              max by (%(by)s, datname) (
                label_replace(pg_database_wraparound_age_datfrozenxid{%(sel)s}, "kind", "xid", "", "")
                or
                label_replace(pg_database_wraparound_age_datminmxid{%(sel)s}, "kind", "mxid", "", "")
              ) / 2147483648
            ||| % { by: by, sel: sel },
          },
          // Dead tuples over all tuples, per table.
          {
            record: 'bosaimail:database_dead_tuples:ratio',
            expr: |||
              pg_stat_user_tables_n_dead_tup{%(sel)s}
              / on (%(by)s, datname, schemaname, relname)
              (pg_stat_user_tables_n_live_tup{%(sel)s} + on (%(by)s, datname, schemaname, relname) pg_stat_user_tables_n_dead_tup{%(sel)s} > 0)
            ||| % { by: by, sel: sel },
          },
          // Dead tuples beyond autovacuum's own trigger
          // (autovacuum_vacuum_threshold + scale_factor * live tuples):
          // positive means autovacuum should have cleaned the table.
          {
            record: 'bosaimail:database_dead_tuples_over_autovacuum_trigger',
            expr: |||
              pg_stat_user_tables_n_dead_tup{%(sel)s}
              - on (%(by)s) group_left ()
              max by (%(by)s) (pg_settings_autovacuum_vacuum_threshold{%(sel)s})
              - pg_stat_user_tables_n_live_tup{%(sel)s}
              * on (%(by)s) group_left ()
              max by (%(by)s) (pg_settings_autovacuum_vacuum_scale_factor{%(sel)s})
            ||| % { by: by, sel: sel },
          },
          // Growth of each database in bytes per second over the capacity
          // window, with the host its server runs on.
          {
            record: 'bosaimail:database_size_bytes:deriv',
            expr: host('deriv(pg_database_size_bytes{%s}[%s])' % [sel, c.capacityTrendWindow]),
          },
          // Days until the databases' net growth fills the volume that holds
          // them (absent while they do not grow). `or on (host)` keeps the
          // most specific mountpoint a host has.
          {
            record: 'bosaimail:database_volume_days_until_full',
            expr: |||
              (
                %(avail)s
              )
              / on (host) group_right ()
              (sum by (%(by)s, host) (bosaimail:database_size_bytes:deriv) > 0)
              / 86400
            ||| % { by: by, avail: std.join('\n  or on (host)\n', [
              'max by (host) (%s)' % host('node_filesystem_avail_bytes{%s, mountpoint="%s"}' % [c.nodeSelector, m])
              for m in c.databaseVolumeMountpoints
            ]) },
          },
        ],
      },
    ],
  },
}
