// Dashboards, one file each, keyed by output file name (dashboards/*.json).
(import 'overview.libsonnet') +
(import 'availability.libsonnet') +
(import 'checks.libsonnet') +
(import 'jobs.libsonnet') +
(import 'cloud.libsonnet') +
(import 'security.libsonnet') +
(import 'database.libsonnet') +
(import 'hosts.libsonnet')
