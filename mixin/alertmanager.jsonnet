// Alertmanager template text generated from the alert rules
// (examples/alertmanager/templates/bosaimail_rules.tmpl).
//
// Prometheus sends an alert's StartsAt as the moment it started firing,
// after its `for` period; the fault began that much earlier. Alertmanager's
// templates cannot do arithmetic on a number read from an annotation, but
// they can pass a constant to time.Time.Add: this file gives each rule's
// `for` as such a constant, so the mail shows when the fault began and how
// long it lasted, not when the alert fired.
local ja = import 'lib/ja.libsonnet';
local mixin = import 'mixin.libsonnet';

local rules = std.flattenArrays([
  [r for r in g.rules if std.objectHas(r, 'alert')]
  for g in mixin.prometheusAlerts.groups
]);
local forSeconds(r) = if std.objectHas(r, 'for') then ja.seconds(r['for']) else 0;
// A rule is told apart by its name, and by its own labels when rules of the
// same name wait differently (e.g. the burn-rate pairs).
local cond(r) =
  local same = [o for o in rules if o.alert == r.alert];
  local differ = std.length(std.set([forSeconds(o) for o in same])) > 1;
  local labels = if differ then std.objectFields(r.labels) else [];
  if std.length(labels) == 0 then '(eq .Labels.alertname "%s")' % r.alert
  else '(and (eq .Labels.alertname "%s") %s)' % [r.alert, std.join(' ', ['(eq (index .Labels "%s") "%s")' % [k, r.labels[k]] for k in labels])];
local waiting = std.uniq(std.sort([
  { cond: cond(r), ns: '%d' % (forSeconds(r) * 1000000000) }
  for r in rules
  if forSeconds(r) > 0
], function(x) x.cond), function(x) x.cond);

local branches(call) = std.join('', [
  '%s %s }}%s\n' % [if i == 0 then '{{ if' else '{{- else if', waiting[i].cond, call('(.StartsAt.Add -%s)' % waiting[i].ns)]
  for i in std.range(0, std.length(waiting) - 1)
]) + '{{- else }}%s\n{{- end }}' % call('.StartsAt');

|||
  {{/*
    GENERATED from mixin/ (make mixin): do not edit. Each alert rule's `for`
    period, so that a mail reports when the fault began (StartsAt - for)
    and, on recovery, how long it lasted from then (EndsAt - began).
  */}}

  {{/* When the fault began, in JST. Argument: one alert. */}}
  {{ define "bosaimail.began" -}}
  %s
  {{- end }}

  {{/* How long the fault lasted until recovery. Argument: one resolved alert. */}}
  {{ define "bosaimail.lasted" -}}
  %s
  {{- end }}
||| % [
  branches(function(t) '{{ template "bosaimail.jst" %s }}' % t),
  branches(function(t) '{{ template "bosaimail.duration" (.EndsAt.Sub %s).Seconds }}' % t),
]
