// 監視詳細: per check latency by phase, failure reasons, TLS expiry,
// round-trip latency distribution, and the exporter's own health.
local g = import '../lib/dashboard.libsonnet';

{
  grafanaDashboards+:: {
    local cm = (import 'common.libsonnet')($._config),
    local t = cm.t,

    'bosaimail-checks.json': g.dashboard(
      uid='bosaimail-checks',
      title=t('防災メール 監視詳細', 'Disaster mail: checks'),
      description=t('チェックごとの応答時間（段階別）、失敗理由、証明書期限、メール到達時間の分布、エクスポーター自身の状態。', 'Per check latency by phase, failure reasons, certificate expiry, round-trip distribution and exporter health.'),
      tags=['bosaimail'],
      variables=cm.variables(),
      links=cm.links,
      panels=[
        g.row(t('チェック', 'Checks')),
        g.table(
          t('チェック一覧', 'Checks'),
          t('設定されたすべてのチェックの最新結果。重要=true のチェックがサービスの稼働を決めます。', 'Latest result of every configured check; critical=true checks decide whether the service is up.'),
          [g.instant('bosaimail_check_up{%s}' % cm.fs(), '', 'table')],
          h=9,
          mappings=cm.upDown,
          columns={ service: t('サービス', 'Service'), check: t('チェック', 'Check'), kind: t('種別', 'Kind'), critical: t('重要', 'Critical'), instance: t('エクスポーター', 'Exporter'), Value: t('状態', 'State') },
          hide=['Time', '__name__', 'job'],
        ),
        g.timeseries(
          t('応答時間', 'Check duration'),
          t('各チェックにかかった時間。', 'How long each check took.'),
          [g.target(cm.named('bosaimail_check_duration_seconds{%s}' % cm.fs()), '{{name}} / {{check}}')],
          unit='s',
        ),
        g.timeseries(
          t('段階別の所要時間', 'Duration by phase'),
          t('DNS・接続・TLS・応答待ち・転送など段階ごとの時間（積み上げ）。', 'Time spent in each phase (DNS, connect, TLS, processing, transfer), stacked.'),
          [g.target('bosaimail_check_phase_duration_seconds{%s}' % cm.fs(), '{{check}} {{phase}}')],
          unit='s',
          stack=true,
        ),
        g.timeseries(
          t('失敗理由', 'Failure reasons'),
          t('失敗したチェックの理由別件数（timeout, connect, tls, status, body など）。', 'Failed checks by reason.'),
          [g.target('sum by (service, check, reason) (increase(bosaimail_check_failures_total{%s}[$__rate_interval]))' % cm.fs(), '{{check}}: {{reason}}')],
          unit='short',
          stack=true,
        ),
        g.timeseries(
          t('HTTP ステータスコード', 'HTTP status codes'),
          t('HTTP チェックが受け取ったステータスコード（0 は応答なし）。', 'Status codes of HTTP checks (0: no answer).'),
          [g.target(cm.named('bosaimail_check_http_status_code{%s}' % cm.fs()), '{{name}} / {{check}}')],
        ),
        g.table(
          t('証明書の有効期限', 'Certificate expiry'),
          t('サーバーが実際に提示した証明書（リーフ）の残り日数。', 'Days left on the leaf certificate each server actually presents.'),
          [g.instant('(min by (service, check, kind) (bosaimail_check_tls_not_after_timestamp_seconds{%s}) - time()) / 86400' % cm.fs(), '', 'table')],
          w=12,
          h=8,
          unit='d',
          steps=[[null, 'red'], [14, 'orange'], [30, 'green']],
          columns={ service: t('サービス', 'Service'), check: t('チェック', 'Check'), kind: t('種別', 'Kind'), Value: t('残り日数', 'Days left') },
        ),

        g.row(t('メール到達', 'Mail round trip')),
        g.heatmap(
          t('メール到達時間の分布', 'Round-trip time distribution'),
          t('試験メールの送信から受信までの時間の分布（ヒストグラム）。', 'Distribution of canary mail send-to-arrival time.'),
          [g.target('sum by (le) (increase(bosaimail_roundtrip_latency_seconds_bucket{%s}[$__rate_interval]))' % cm.fs(), '{{le}}')],
          w=12,
        ),
        g.timeseries(
          t('最後にメールが届いてからの時間', 'Time since last delivered canary'),
          t('最後に試験メールの到達を確認してからの経過時間。', 'Time since a canary mail last arrived.'),
          [g.target(cm.named('time() - bosaimail_roundtrip_last_success_timestamp_seconds{%s}' % cm.fs()), '{{name}} / {{check}}')],
          w=12,
          unit='s',
        ),

        g.row(t('エクスポーター', 'Exporter')),
        g.table(
          t('情報源の状態', 'Background sources'),
          t('クラウド・セキュリティ・配信統計などの情報源の最新取得結果と、最後に成功してからの時間。', 'Latest refresh result of each background source and time since its last success.'),
          [
            g.instant('bosaimail_source_up{%s}' % cm.f(), '', 'table'),
            g.instant('time() - bosaimail_source_last_success_timestamp_seconds{%s}' % cm.f(), '', 'table'),
          ],
          w=12,
          h=8,
          mappings=cm.okFail,
          columns={ collector: t('収集器', 'Collector'), source: t('情報源', 'Source'), 'Value #A': t('状態', 'State'), 'Value #B': t('最終成功からの秒数', 'Seconds since success') },
          hide=['Time', '__name__', 'job', 'instance'],
        ),
        g.timeseries(
          t('収集器の所要時間', 'Collector duration'),
          t('スクレイプごとの各収集器の所要時間。', 'Time each collector takes per scrape.'),
          [g.target('bosaimail_collector_duration_seconds{%s}' % cm.f(), '{{instance}} {{collector}}')],
          w=12,
          unit='s',
        ),
        g.timeseries(
          t('拒否された収集', 'Rejected scrapes'),
          t('同時に実行できる収集の上限（--web.max-requests）を超えて 503 で断った収集の数。0 以外なら Prometheus 以外のクライアントが /metrics を頻繁に取得していないか確認します。', 'Scrapes answered 503 because --web.max-requests scrapes were already running.'),
          [g.target('sum by (instance) (increase(bosaimail_exporter_scrapes_rejected_total{%s}[$__rate_interval]))' % cm.f(), '{{instance}}')],
          w=12,
        ),
      ],
    ),
  },
}
