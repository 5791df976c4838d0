// The bosaimail monitoring mixin: alerts, recording rules and dashboards for
// the disaster-alert mail service, after the monitoring-mixins conventions.
(import 'config.libsonnet') +
(import 'alerts/alerts.libsonnet') +
(import 'rules/rules.libsonnet') +
(import 'dashboards/dashboards.libsonnet')
