// quote_keys=false: readable rule files; values stay quoted.
std.manifestYamlDoc((import 'mixin.libsonnet').prometheusAlerts, quote_keys=false)
