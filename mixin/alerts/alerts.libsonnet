// Each area contributes its groups from its own file.
local ja = import '../lib/ja.libsonnet';

(import 'availability.libsonnet') +
(import 'checks.libsonnet') +
(import 'cloud.libsonnet') +
(import 'jobs.libsonnet') +
(import 'security.libsonnet') +
(import 'delivery.libsonnet') +
(import 'ledger.libsonnet') +
(import 'database.libsonnet') +
(import 'hosts.libsonnet') +
{
  // Every alert, whichever file adds it, carries the names people use:
  // system_name (global.system_name) heads the mail, service_name
  // (services[].description) replaces the service ID in it. Both come from
  // the exporter's info series; an empty one is dropped by Prometheus.
  prometheusAlerts+:: {
    local sel = $._config.selector,
    groups: [
      g {
        rules: [
          if std.objectHas(r, 'alert') then r {
            annotations+: {
              system_name: ja.systemName(sel),
              service_name: '{{ if $labels.service }}%s{{ end }}' % ja.serviceName(sel),
            },
          } else r
          for r in g.rules
        ],
      }
      for g in super.groups
    ],
  },
}
