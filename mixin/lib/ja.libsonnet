// Japanese text for alert annotations: durations, JST times and the names
// people use (docs/glossary.md). Prometheus formats values in English
// ("1m", "10d 0h 0m 0s", "1970-01-01 00:10:00 +0000 UTC"); these helpers
// turn them into 1分, 10日, 2026/09/01 12:04 JST inside the annotation, so
// the mail never has to reformat them.
{
  local units = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 },

  // Seconds of a Prometheus duration literal such as '1m', '2h30m', '90s'.
  seconds(d)::
    local parse(s, acc, num) =
      if s == '' then acc
      else
        local c = s[0];
        local rest = s[1:];
        if std.member('0123456789', c) then parse(rest, acc, num + c)
        else if std.objectHas(units, c) && num != '' then parse(rest, acc + std.parseInt(num) * units[c], '')
        else error 'not a duration literal: ' + d;
    parse(d, 0, ''),

  // A whole number of seconds as Japanese text: 90 -> '1分30秒',
  // 86400 -> '1日', 0 -> '0秒'.
  secondsText(n)::
    local parts = [
      { v: std.floor(n / 86400), u: '日' },
      { v: std.floor(n % 86400 / 3600), u: '時間' },
      { v: std.floor(n % 3600 / 60), u: '分' },
      { v: n % 60, u: '秒' },
    ];
    local t = std.join('', ['%d%s' % [p.v, p.u] for p in parts if p.v != 0]);
    if t == '' then '0秒' else t,

  // A duration literal of the config as Japanese text: '1m' -> '1分'.
  duration(d):: self.secondsText(self.seconds(d)),

  // Template text for a number of seconds known only at evaluation
  // ({{ $value }}): humanizeDuration, then Japanese units, the two largest
  // ones kept ('10d 0h 0m 0s' -> '10日', '2m 30s' -> '2分30秒',
  // '1d 2h 3m 4s' -> '1日2時間').
  durationOf(expr)::
    '{{ %s | humanizeDuration' % expr +
    ' | reReplaceAll `^(-?)(\\d+)d (\\d+)h .*$` `${1}${2}日${3}時間`' +
    ' | reReplaceAll `^(-?)(\\d+)h (\\d+)m .*$` `${1}${2}時間${3}分`' +
    ' | reReplaceAll `^(-?)(\\d+)m (\\d+)s$` `${1}${2}分${3}秒`' +
    ' | reReplaceAll `^(-?[\\d.]+)ms$` `${1}ミリ秒`' +
    ' | reReplaceAll `^(-?[\\d.]+)s$` `${1}秒`' +
    ' | reReplaceAll `(日|時間|分)0(時間|分|秒)$` `${1}` }}',

  // Template text for a Unix time in seconds as JST (Japan has no daylight
  // saving time: a fixed +9h is exact): '2026/09/01 12:04 JST'.
  jstOf(expr)::
    '{{ ((toTime %s).Add 32400000000000).Format "2006/01/02 15:04" }} JST' % expr,

  // A literal ratio as percent text: 0.995 -> '99.5', 0.001 -> '0.1'.
  percent(x):: '%g' % (std.round(x * 100000) / 1000),

  // Template text, Japanese words for label values the exporter gives in
  // English: kind of a check, cloud status, severity of a finding.
  checkKind:: '{{ if eq $labels.kind "http" }}HTTP(S) 応答{{ else if eq $labels.kind "smtp" }}SMTP 応答{{ else if eq $labels.kind "tcp" }}TCP 接続{{ else if eq $labels.kind "roundtrip" }}到達確認メール{{ else }}{{ $labels.kind }}{{ end }}',
  cloudStatus:: '{{ if eq $labels.status "degraded" }}性能低下{{ else if eq $labels.status "partial_outage" }}一部停止{{ else if eq $labels.status "major_outage" }}全面停止{{ else if eq $labels.status "maintenance" }}メンテナンス中{{ else }}{{ $labels.status }}{{ end }}',
  findingSeverity:: '{{ if eq $labels.finding_severity "critical" }}緊急{{ else if eq $labels.finding_severity "high" }}重要{{ else if eq $labels.finding_severity "medium" }}警告{{ else if eq $labels.finding_severity "low" }}注意{{ else }}{{ $labels.finding_severity }}{{ end }}',

  // Template text of the display name of the alert's service
  // (services[].description via bosaimail_service_info); the service ID
  // when the exporter does not say. last_over_time keeps the name while an
  // exporter is down, when the mail matters most.
  serviceName(selector)::
    '{{ with printf `last_over_time(bosaimail_service_info{%s,service=%%q}[1d])` $labels.service | query }}{{ . | first | label "name" }}{{ else }}{{ $labels.service }}{{ end }}' % selector,

  // Template text of the system's name (global.system_name via
  // bosaimail_system_info); empty when not configured.
  systemName(selector)::
    '{{ with query `max by (name) (last_over_time(bosaimail_system_info{%s}[1d]))` }}{{ . | first | label "name" }}{{ end }}' % selector,
}
