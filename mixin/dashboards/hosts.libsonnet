// サーバ: the service's own machines (node_exporter): disks and their
// forecast, memory, CPU and clock.
local g = import '../lib/dashboard.libsonnet';
local ja = import '../lib/ja.libsonnet';

{
  grafanaDashboards+:: {
    local c = $._config,
    local cm = (import 'common.libsonnet')(c),
    local t = cm.t,
    local f(extra='') = '%s, instance=~"$instance"%s' % [c.nodeSelector, if extra == '' then '' else ', ' + extra],
    local fs = f(c.hostFilesystemSelector),

    'bosaimail-hosts.json': g.dashboard(
      uid='bosaimail-hosts',
      title=t('防災メール サーバ', 'Disaster mail: servers'),
      description=t('サービスを動かすサーバのディスク容量と満杯予測、inode、メモリ、CPU、時刻同期。', 'Disk space and its forecast, inodes, memory, CPU and clock of the service machines.'),
      tags=['bosaimail'],
      variables=[
        g.datasourceVar(t('データソース', 'Data source')),
        g.labelVar('instance', t('サーバ', 'Server'), 'node_uname_info{%s}' % c.nodeSelector, 'instance'),
      ],
      links=cm.links,
      panels=[
        g.row(t('ディスク', 'Disks')),
        g.table(
          t('ファイルシステム', 'Filesystems'),
          t('空き容量、空き inode、直近%sの傾向で一杯になるまでの日数（増えていなければ空欄）。' % ja.duration(c.capacityTrendWindow), 'Free space, free inodes and days until full.'),
          [
            g.instant('bosaimail:host_filesystem_avail:ratio{%s}' % fs, '', 'table'),
            g.instant('bosaimail:host_filesystem_files_free:ratio{%s}' % fs, '', 'table'),
            g.instant('node_filesystem_size_bytes{%s}' % fs, '', 'table'),
            g.instant('bosaimail:host_filesystem_days_until_full{%s}' % fs, '', 'table'),
          ],
          h=8,
          columns={ mountpoint: t('マウント', 'Mount'), device: t('デバイス', 'Device'), 'Value #A': t('空き容量', 'Free'), 'Value #B': t('空き inode', 'Free inodes'), 'Value #C': t('サイズ(B)', 'Size (B)'), 'Value #D': t('満杯まで(日)', 'Days until full') },
          hide=['Time', '__name__', 'job', 'fstype'],
        ),
        g.timeseries(
          t('空き容量', 'Free space'),
          t('ファイルシステムごとの空き容量。', 'Free space per filesystem.'),
          [g.target('node_filesystem_avail_bytes{%s}' % fs, '{{instance}} {{mountpoint}}')],
          unit='bytes',
        ),
        g.timeseries(
          t('空き容量の割合', 'Free space ratio'),
          t('空き容量の割合。%d%% で警告、%d%% で重大。' % [std.round(c.hostFilesystemFreeWarningRatio * 100), std.round(c.hostFilesystemFreeCriticalRatio * 100)], 'Free space ratio per filesystem.'),
          [g.target('bosaimail:host_filesystem_avail:ratio{%s}' % fs, '{{instance}} {{mountpoint}}')],
          unit='percentunit',
          steps=[[null, 'red'], [c.hostFilesystemFreeCriticalRatio, 'orange'], [c.hostFilesystemFreeWarningRatio, 'green']],
        ),

        g.row(t('メモリ・CPU', 'Memory and CPU')),
        g.timeseries(
          t('利用可能なメモリ', 'Available memory'),
          t('MemAvailable ÷ MemTotal。%d%% 未満が続くと警告。' % std.round(c.hostMemoryAvailableRatio * 100), 'MemAvailable over MemTotal.'),
          [g.target('bosaimail:host_memory_available:ratio{%s}' % f(), '{{instance}}')],
          w=8,
          unit='percentunit',
        ),
        g.timeseries(
          t('CPU 使用率', 'CPU busy'),
          t('アイドルと I/O 待ち以外の CPU 時間の割合（全 CPU 平均）。%d%% 超が続くと警告。' % std.round(c.hostCPUBusyRatio * 100), 'CPU time neither idle nor iowait.'),
          [g.target('bosaimail:host_cpu_busy:ratio_rate5m{%s}' % f(), '{{instance}}')],
          w=8,
          unit='percentunit',
        ),
        g.timeseries(
          t('OOM とロードアベレージ', 'OOM kills and load'),
          t('OOM killer による強制終了の回数（増えたら要確認）と 1 分ロードアベレージ。', 'OOM kills and 1-minute load average.'),
          [
            g.target('node_vmstat_oom_kill{%s}' % f(), '{{instance}} OOM'),
            g.target('node_load1{%s}' % f(), '{{instance}} load1'),
          ],
          w=8,
        ),

        g.row(t('時刻', 'Clock')),
        g.timeseries(
          t('時刻のずれ', 'Clock offset'),
          t('NTP の基準からのずれ（秒）。±%g 秒を超えると警告。' % c.hostClockSkewSeconds, 'Offset from NTP.'),
          [g.target('node_timex_offset_seconds{%s}' % f(), '{{instance}}')],
          unit='s',
        ),
        g.stateTimeline(
          t('NTP 同期状態', 'NTP synchronised'),
          t('カーネルの時刻同期状態（緑: 同期、赤: 未同期）。', 'Kernel clock synchronisation status.'),
          [g.target('node_timex_sync_status{%s}' % f(), '{{instance}}')],
          w=12,
          mappings=g.valueMap({ '1': [t('同期', 'Synchronised'), 'green'], '0': [t('未同期', 'Not synchronised'), 'red'] }),
        ),
      ],
    ),
  },
}
