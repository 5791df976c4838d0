// The service's own machines (性能・容量・故障・縮退 of the servers the mail
// service runs on), from node_exporter's series.
local ja = import '../lib/ja.libsonnet';

{
  prometheusAlerts+:: {
    local c = $._config,
    local sel = c.nodeSelector,
    local fs = '%s, %s' % [c.nodeSelector, c.hostFilesystemSelector],
    local rb(name) = c.runbookURL + '#' + std.asciiLower(name),
    local filling(t) = 'predict_linear(node_filesystem_avail_bytes{%(fs)s}[%(window)s], %(days)d * 86400) < 0 and on (job, instance, device, mountpoint) bosaimail:host_filesystem_avail:ratio{%(fs)s} < %(ratio)g and on (job, instance, device, mountpoint) node_filesystem_readonly{%(fs)s} == 0' % { fs: fs, window: c.hostFilesystemTrendWindow, days: t.days, ratio: t.ratio },
    local alert(name, expr, forDur, severity, summary, description) = {
      alert: name,
      expr: expr,
      [if forDur != '0m' then 'for']: forDur,
      labels: { severity: severity, responsible: 'contractor' },
      annotations: { summary: summary, description: description, runbook_url: rb(name) },
    },
    groups+: [
      {
        name: 'bosaimail-hosts',
        rules: [
          alert(
            'BosaiMailHostExporterDown',
            'up{%s} == 0' % sel,
            c.hostExporterDownFor,
            'warning',
            'サーバ {{ $labels.instance }} の監視（node_exporter）が応答しません',
            'Prometheus が node_exporter（{{ $labels.instance }}）を%s以上取得できません。サーバが停止しているか、監視が止まっています。この間はディスク・メモリ等の異常を検知できません。' % ja.duration(c.hostExporterDownFor),
          ),
        ] + [
          // The tiers exclude each other: one mail per filesystem, the
          // worse one.
          alert(
            'BosaiMailFilesystemFillingUp',
            if t.severity == 'warning' then
              '(%s)\nunless on (job, instance, device, mountpoint)\n(%s)' % [filling(t), filling(tiers[1])]
            else filling(t),
            c.hostFilesystemFillingFor,
            t.severity,
            'サーバ {{ $labels.instance }} の {{ $labels.mountpoint }} が %d 日以内に一杯になる見込みです' % t.days,
            'サーバ {{ $labels.instance }} のファイルシステム {{ $labels.mountpoint }}（{{ $labels.device }}）は空きが %d%% 未満で、直近%sの傾向が続くと %d 日以内に空きがなくなります。ログ・バックアップ・データベースの増加を確認し、不要ファイルの削除か容量の拡張をしてください。' % [std.round(t.ratio * 100), ja.duration(c.hostFilesystemTrendWindow), t.days],
          )
          for tiers in [[
            { severity: 'warning', days: c.hostFilesystemFullWarningDays, ratio: c.hostFilesystemFillingWarningFreeRatio },
            { severity: 'critical', days: c.hostFilesystemFullCriticalDays, ratio: c.hostFilesystemFillingCriticalFreeRatio },
          ]]
          for t in tiers
        ] + [
          alert(
            'BosaiMailFilesystemSpaceLow',
            'bosaimail:host_filesystem_avail:ratio{%s} < %g >= %g and on (job, instance, device, mountpoint) node_filesystem_readonly{%s} == 0' % [fs, t.ratio, t.floor, fs],
            c.hostFilesystemFor,
            t.severity,
            'サーバ {{ $labels.instance }} の {{ $labels.mountpoint }} の空き容量が少なくなっています',
            'サーバ {{ $labels.instance }} のファイルシステム {{ $labels.mountpoint }}（{{ $labels.device }}）の空きは {{ $value | humanizePercentage }} です（しきい値 %d%%）。空きがなくなるとメールの受付・配信、データベースの更新、ログの記録が止まります。' % std.round(t.ratio * 100),
          )
          for t in [
            { severity: 'warning', ratio: c.hostFilesystemFreeWarningRatio, floor: c.hostFilesystemFreeCriticalRatio },
            { severity: 'critical', ratio: c.hostFilesystemFreeCriticalRatio, floor: 0 },
          ]
        ] + [
          alert(
            'BosaiMailFilesystemInodesLow',
            'bosaimail:host_filesystem_files_free:ratio{%s} < %g >= %g and on (job, instance, device, mountpoint) node_filesystem_readonly{%s} == 0' % [fs, t.ratio, t.floor, fs],
            c.hostFilesystemFor,
            t.severity,
            'サーバ {{ $labels.instance }} の {{ $labels.mountpoint }} の inode が不足しています',
            'サーバ {{ $labels.instance }} のファイルシステム {{ $labels.mountpoint }}（{{ $labels.device }}）の空き inode は {{ $value | humanizePercentage }} です（しきい値 %d%%）。容量に空きがあっても新しいファイルを作れなくなり、メールキューやログの書込みが失敗します。小さなファイルの大量発生（キュー滞留、セッションファイル等）を確認してください。' % std.round(t.ratio * 100),
          )
          for t in [
            { severity: 'warning', ratio: c.hostInodesFreeWarningRatio, floor: c.hostInodesFreeCriticalRatio },
            { severity: 'critical', ratio: c.hostInodesFreeCriticalRatio, floor: 0 },
          ]
        ] + [
          alert(
            'BosaiMailHostMemoryPressure',
            'bosaimail:host_memory_available:ratio{%s} < %g' % [sel, c.hostMemoryAvailableRatio],
            c.hostMemoryFor,
            'warning',
            'サーバ {{ $labels.instance }} のメモリが不足しています',
            'サーバ {{ $labels.instance }} の利用可能なメモリ（MemAvailable）が全体の {{ $value | humanizePercentage }} です（しきい値 %d%%、%s継続）。スワップによる性能低下や、OOM killer によるプロセスの強制終了のおそれがあります。' % [std.round(c.hostMemoryAvailableRatio * 100), ja.duration(c.hostMemoryFor)],
          ),
          alert(
            'BosaiMailHostOOMKill',
            'increase(node_vmstat_oom_kill{%s}[15m]) > 0' % sel,
            '0m',
            'warning',
            'サーバ {{ $labels.instance }} でメモリ不足によりプロセスが強制終了されました',
            'サーバ {{ $labels.instance }} で直近 15 分に {{ $value | printf "%.0f" }} 回、OOM killer がプロセスを強制終了しました。メール配信・データベース等のプロセスが止まっていないか、直ちに確認してください（journalctl -k | grep -i oom）。',
          ),
          alert(
            'BosaiMailHostCPUSaturated',
            'bosaimail:host_cpu_busy:ratio_rate5m{%s} > %g' % [sel, c.hostCPUBusyRatio],
            c.hostCPUFor,
            'warning',
            'サーバ {{ $labels.instance }} の CPU が飽和しています',
            'サーバ {{ $labels.instance }} の CPU 使用率が {{ $value | humanizePercentage }} です（しきい値 %d%%、%s継続）。配信処理の遅延や応答の悪化が起きます。負荷の高いプロセスを確認してください。' % [std.round(c.hostCPUBusyRatio * 100), ja.duration(c.hostCPUFor)],
          ),
          alert(
            'BosaiMailHostClockSkew',
            'abs(node_timex_offset_seconds{%s}) > %g' % [sel, c.hostClockSkewSeconds],
            c.hostClockFor,
            'warning',
            'サーバ {{ $labels.instance }} の時刻がずれています',
            'サーバ {{ $labels.instance }} の時刻が NTP の基準から {{ $value | printf "%%.3g" }} 秒ずれています（しきい値 %g 秒）。TLS 証明書の検証、定期ジョブの起動時刻、ログ・障害記録の時刻が狂います。' % c.hostClockSkewSeconds,
          ),
          alert(
            'BosaiMailHostClockNotSynchronising',
            'min_over_time(node_timex_sync_status{%s}[5m]) == 0 and node_timex_maxerror_seconds{%s} >= 16' % [sel, sel],
            c.hostClockFor,
            'warning',
            'サーバ {{ $labels.instance }} の時刻が NTP と同期していません',
            'サーバ {{ $labels.instance }} の時刻が NTP と同期していません（chrony / systemd-timesyncd の停止、NTP サーバへの通信不可）。時刻のずれが広がると、TLS 証明書の検証や定期ジョブの起動時刻が狂います。',
          ),
          alert(
            'BosaiMailHostSystemdUnitFailed',
            'node_systemd_unit_state{%s, state="failed", name=~"%s"} == 1' % [sel, c.hostUnits],
            c.hostUnitFailedFor,
            'critical',
            'サーバ {{ $labels.instance }} のサービス {{ $labels.name }} が停止（failed）しています',
            'サーバ {{ $labels.instance }} の systemd ユニット {{ $labels.name }} が failed 状態です。メール配信基盤の構成要素が止まっています。systemctl status {{ $labels.name }} と journalctl -u {{ $labels.name }} で原因を確認し、復旧してください。',
          ),
        ],
      },
    ],
  },
}
