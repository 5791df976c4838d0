// Each area contributes its groups from its own file.
(import 'availability.libsonnet') +
(import 'checks.libsonnet') +
(import 'cloud.libsonnet') +
(import 'jobs.libsonnet') +
(import 'security.libsonnet') +
(import 'delivery.libsonnet') +
(import 'ledger.libsonnet') +
(import 'database.libsonnet') +
(import 'hosts.libsonnet') +
{}
