// Recording rules over node_exporter's series of the service's own
// machines, shared by the host alerts, the dashboard and the report.
{
  prometheusRules+:: {
    local c = $._config,
    local sel = c.nodeSelector,
    local fs = '%s, %s' % [c.nodeSelector, c.hostFilesystemSelector],
    groups+: [
      {
        name: 'bosaimail-hosts.rules',
        rules: [
          // CPU time neither idle nor waiting for I/O, averaged over CPUs.
          {
            record: 'bosaimail:host_cpu_busy:ratio_rate5m',
            expr: '1 - avg by (job, instance) (sum without (mode) (rate(node_cpu_seconds_total{%s, mode=~"idle|iowait"}[5m])))' % sel,
          },
          {
            record: 'bosaimail:host_memory_available:ratio',
            expr: 'node_memory_MemAvailable_bytes{%s} / node_memory_MemTotal_bytes{%s}' % [sel, sel],
          },
          {
            record: 'bosaimail:host_filesystem_avail:ratio',
            expr: 'node_filesystem_avail_bytes{%s} / node_filesystem_size_bytes{%s}' % [fs, fs],
          },
          {
            record: 'bosaimail:host_filesystem_files_free:ratio',
            expr: 'node_filesystem_files_free{%s} / (node_filesystem_files{%s} > 0)' % [fs, fs],
          },
          // Days until the filesystem is full at its trend over the
          // capacity window (absent while it does not fill).
          {
            record: 'bosaimail:host_filesystem_days_until_full',
            expr: 'node_filesystem_avail_bytes{%s} / (-deriv(node_filesystem_avail_bytes{%s}[%s]) > 0) / 86400' % [fs, fs, c.capacityTrendWindow],
          },
        ],
      },
    ],
  },
}
