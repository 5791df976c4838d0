// quote_keys=false: readable rule files; values stay quoted.
std.manifestYamlDoc((import 'mixin.libsonnet').prometheusRules, quote_keys=false)
