// Service-level alerts: the service down, the availability budget burning,
// the yearly outage budget, planned stops (for inhibition) and the health of
// the monitoring itself (exporter down, monitoring gap, Watchdog).
local ja = import '../lib/ja.libsonnet';
local service = import '../lib/service.libsonnet';

{
  local cfg = self._config,
  local runbook(name) = cfg.runbookURL + '#' + std.asciiLower(name),
  local svc = ja.serviceName(cfg.selector),

  prometheusAlerts+:: {
    groups+: [
      {
        name: 'bosaimail-availability-alerts',
        // Shorter than the scrape interval: BosaiMailServiceDown fires at
        // most this long after the second failed scrape instead of up to a
        // scrape interval later, whatever the phase of the evaluation
        // against the scrapes.
        interval: cfg.serviceDownEvalInterval,
        rules: [
          {
            alert: 'BosaiMailServiceDown',
            // Down from every exporter instance and not in a planned stop.
            // The raw series, not the recorded bosaimail:service_up: that
            // is sampled once per availabilityInterval, which would add up
            // to that much to the time before the page.
            expr: |||
              %(up)s == 0
              unless on (service) (%(maintenance)s == 1)
            ||| % {
              up: service.up(service.upPerInstance(cfg.selector)),
              maintenance: service.maintenanceActive(cfg.selector),
            },
            'for': cfg.serviceDownFor,
            labels: {
              severity: 'critical',
              responsible: 'contractor',
            },
            annotations: {
              summary: '%(svc)sが停止（全監視点で%(for)s以上）' % { svc: svc, 'for': ja.duration(cfg.serviceDownFor) },
              description: 'すべての監視点で、%(svc)sの稼働率判定の対象となるチェックが%(for)s以上失敗しています。住民へのメール配信ができていないおそれがあります。承認済みの計画停止中ではないため、%(min)s以上続けばサービスの停止として稼働率と契約年度の停止回数に数えます（それより短いものは瞬断）。失敗しているチェックは、同時に届く「チェックの失敗」の通知とダッシュボード「チェック」で確認してください。' % { svc: svc, 'for': ja.duration(cfg.serviceDownFor), min: ja.duration(cfg.minOutage) },
              runbook_url: runbook('BosaiMailServiceDown'),
            },
          },
        ] + [
          {
            alert: 'BosaiMailAvailabilityBudgetBurn',
            expr: |||
              bosaimail:availability:error_ratio_%(long)s{service!="%(sys)s"} > (%(factor)s * (1 - %(objective)s))
              and on (service)
              bosaimail:availability:error_ratio_%(short)s > (%(factor)s * (1 - %(objective)s))
            ||| % (w { objective: cfg.availabilityObjective, sys: cfg.contractSystemName }),
            'for': w['for'],
            labels: {
              severity: w.severity,
              responsible: 'contractor',
              long_window: w.long,
              short_window: w.short,
            },
            annotations: {
              summary: '%(svc)sの許容停止時間を%(factor)s倍の速さで消費しています（直近%(long)s）' % (w { svc: svc, long: ja.duration(w.long) }),
              description: '%(svc)sの契約上の停止率（停止と稼働未確認の割合。承認済みの計画停止を除く）が、直近%(long)sで{{ $value | humanizePercentage }}です（直近%(short)sでも基準を超えています）。稼働率の目標%(objective)s%%に対する許容停止時間（30日間で%(budgetPct)s%%）を%(factor)s倍の速さで消費しており、このままでは目標を下回ります。' % (w { svc: svc, long: ja.duration(w.long), short: ja.duration(w.short), objective: ja.percent(cfg.availabilityObjective), budgetPct: ja.percent(1 - cfg.availabilityObjective) }),
              runbook_url: runbook('BosaiMailAvailabilityBudgetBurn'),
            },
          }
          for w in cfg.availabilityBurnRates
        ] + [
          {
            alert: 'BosaiMailOutageBudgetAtRisk',
            // Per service; the 対象システム's figures are on the dashboards
            // and in the report. One 停止 left in the contract year. Fires only in the hour
            // after the count rose to that value, so it mails once per new
            // 停止, not every repeat_interval for the rest of the year.
            expr: |||
              bosaimail:outages:count_contract_year{service!="%(contractSystemName)s"} == %(outageBudget)d - 1
              and on (service)
              (bosaimail:outages:count_contract_year > bosaimail:outages:count_contract_year offset %(outageBudgetNoticeFor)s)
            ||| % cfg,
            labels: {
              severity: 'warning',
              responsible: 'contractor',
            },
            annotations: {
              summary: '%(svc)sの今契約年度の停止回数が上限に近づいています（{{ $value }}回、上限%(outageBudget)d回）' % (cfg { svc: svc }),
              description: '%(svc)sのサービスの停止（免責適用後）が、今契約年度（%(startMonth)d月1日から）で{{ $value }}回になりました。契約上の上限は契約年度あたり%(outageBudget)d回で、あと1回で上限に達します。再発防止策を検討し、必要な作業は計画停止として事前に登録してください。この通知は停止回数が増えたときに1回だけ送られます。' % (cfg { svc: svc, startMonth: cfg.contractYearStartMonth }),
              runbook_url: runbook('BosaiMailOutageBudgetAtRisk'),
            },
          },
          {
            alert: 'BosaiMailOutageBudgetExhausted',
            // The count reached (or passed) the budget: once per new 停止,
            // like BosaiMailOutageBudgetAtRisk.
            expr: |||
              bosaimail:outages:count_contract_year{service!="%(contractSystemName)s"} >= %(outageBudget)d
              and on (service)
              (bosaimail:outages:count_contract_year > bosaimail:outages:count_contract_year offset %(outageBudgetNoticeFor)s)
            ||| % cfg,
            labels: {
              severity: 'critical',
              responsible: 'contractor',
            },
            annotations: {
              summary: '%(svc)sの今契約年度の停止回数が上限に達しました（{{ $value }}回、上限%(outageBudget)d回）' % (cfg { svc: svc }),
              description: '%(svc)sのサービスの停止（免責適用後）が、今契約年度（%(startMonth)d月1日から）で{{ $value }}回となり、契約上の上限（契約年度あたり%(outageBudget)d回）に達しました。県への報告と障害票の整理が必要です。この通知は停止回数が増えたときに1回だけ送られます。' % (cfg { svc: svc, startMonth: cfg.contractYearStartMonth }),
              runbook_url: runbook('BosaiMailOutageBudgetExhausted'),
            },
          },
          {
            alert: 'BosaiMailMaintenanceActive',
            // Informational; Alertmanager inhibits the service's other
            // alerts while it fires (examples/alertmanager.yml). The raw
            // series, as for BosaiMailServiceDown: the inhibition starts one
            // scrape into the planned stop, not up to an availability
            // interval later.
            expr: |||
              %s == 1
            ||| % service.maintenanceActive(cfg.selector),
            labels: {
              severity: 'info',
              responsible: 'contractor',
            },
            annotations: {
              summary: '%sは計画停止中です' % svc,
              description: '%sは承認済みの計画停止の時間帯です。この間の時間は稼働率の計算から除き、同じサービスのほかの通知は止めています。' % svc,
              runbook_url: runbook('BosaiMailMaintenanceActive'),
            },
          },
          {
            alert: 'BosaiMailExporterDown',
            expr: |||
              up{%(selector)s} == 0
              or
              absent(up{%(selector)s})
            ||| % cfg,
            'for': cfg.exporterDownFor,
            labels: {
              severity: 'critical',
              responsible: 'contractor',
            },
            annotations: {
              summary: '監視用エクスポーター（{{ $labels.instance }}）から値を取得できません',
              description: 'Prometheus が監視用エクスポーター（{{ $labels.instance }}）から%s以上値を取得できていません。ほかの監視点も動いていなければ、この間は稼働未確認となり、障害を検知できません。稼働未確認の時間は、承認された稼働確認の記録で補わない限り稼働率の計算で停止として扱われます。' % ja.duration(cfg.exporterDownFor),
              runbook_url: runbook('BosaiMailExporterDown'),
            },
          },
          {
            alert: 'BosaiMailMonitoringGap',
            expr: |||
              bosaimail:monitoring_gap == 1
            |||,
            'for': cfg.monitoringGapFor,
            labels: {
              severity: 'warning',
              responsible: 'contractor',
            },
            annotations: {
              summary: '%sの稼働状況を確認できていません（稼働未確認）' % svc,
              description: '%(svc)sの稼働率判定の対象となるチェックの結果が、%(for)s以上どの監視点からも得られていません。この時間は稼働未確認として月次報告に記載され、承認された稼働確認の記録で補わない限り稼働率の計算で停止として扱われます。' % { svc: svc, 'for': ja.duration(cfg.monitoringGapFor) },
              runbook_url: runbook('BosaiMailMonitoringGap'),
            },
          },
          {
            alert: 'Watchdog',
            // Always firing: Alertmanager routes it to a dead man's switch,
            // whose silence means the alerting pipeline is broken.
            expr: 'vector(1)',
            labels: {
              severity: 'info',
              responsible: 'contractor',
            },
            annotations: {
              summary: '監視系の死活確認のための常時発生の通知です',
              description: 'この通知は常に発生しています。外部の死活監視サービスに届かなくなった場合は、Prometheus、Alertmanager または通知経路が停止しています。',
              runbook_url: runbook('Watchdog'),
            },
          },
        ],
      },
    ],
  },
}
