// Service-level alerts: the service down, the availability budget burning,
// the yearly outage budget, planned stops (for inhibition) and the health of
// the monitoring itself (exporter down, monitoring gap, Watchdog).
local service = import '../lib/service.libsonnet';

{
  local cfg = self._config,
  local runbook(name) = cfg.runbookURL + '#' + std.asciiLower(name),
  // Percent text such as '99.5' or '0.5' without float noise.
  local pct(x) = std.toString(std.round(x * 100000) / 1000),

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
              summary: '{{ $labels.service }} が停止しています（計画停止外）',
              description: '{{ $labels.service }} の稼働率判定対象チェックが %(serviceDownFor)s 以上、すべての監視拠点から失敗しています。計画停止中ではないため障害として稼働率と年間障害回数に数えられます。どのチェックが失敗しているかは BosaiMailCheckFailing と bosaimail_check_up で確認してください。' % cfg,
              runbook_url: runbook('BosaiMailServiceDown'),
            },
          },
        ] + [
          {
            alert: 'BosaiMailAvailabilityBudgetBurn',
            expr: |||
              bosaimail:availability:error_ratio_%(long)s > (%(factor)s * (1 - %(objective)s))
              and on (service)
              bosaimail:availability:error_ratio_%(short)s > (%(factor)s * (1 - %(objective)s))
            ||| % (w { objective: cfg.availabilityObjective }),
            'for': w['for'],
            labels: {
              severity: w.severity,
              responsible: 'contractor',
              long_window: w.long,
              short_window: w.short,
            },
            annotations: {
              summary: '{{ $labels.service }} の稼働率の許容停止時間を %s 倍の速さで消費しています' % w.factor,
              description: '{{ $labels.service }} の計画停止を除く停止率が直近 %(long)s で {{ $value | humanizePercentage }} です（直近 %(short)s でも閾値超過）。稼働率目標 %(objective)s %% の許容停止時間（30 日で %(budgetPct)s %%）を %(factor)s 倍の速さで消費しており、このままでは目標を下回ります。' % (w { objective: pct(cfg.availabilityObjective), budgetPct: pct(1 - cfg.availabilityObjective) }),
              runbook_url: runbook('BosaiMailAvailabilityBudgetBurn'),
            },
          }
          for w in cfg.availabilityBurnRates
        ] + [
          {
            alert: 'BosaiMailOutageBudgetAtRisk',
            // One outage left before the yearly budget is used up.
            expr: |||
              bosaimail:outages:count_365d >= %(outageBudget)d - 1
              and
              bosaimail:outages:count_365d < %(outageBudget)d
            ||| % cfg,
            labels: {
              severity: 'warning',
              responsible: 'contractor',
            },
            annotations: {
              summary: '{{ $labels.service }} の年間障害回数が上限に近づいています（{{ $value }} / %(outageBudget)d 回）' % cfg,
              description: '{{ $labels.service }} の計画外の障害が直近 365 日で {{ $value }} 回発生しています。契約上の上限は年 %(outageBudget)d 回で、あと 1 回で上限に達します。再発防止策と計画停止の前倒しを検討してください。' % cfg,
              runbook_url: runbook('BosaiMailOutageBudgetAtRisk'),
            },
          },
          {
            alert: 'BosaiMailOutageBudgetExhausted',
            expr: |||
              bosaimail:outages:count_365d >= %(outageBudget)d
            ||| % cfg,
            labels: {
              severity: 'critical',
              responsible: 'contractor',
            },
            annotations: {
              summary: '{{ $labels.service }} の年間障害回数が上限に達しました（{{ $value }} / %(outageBudget)d 回）' % cfg,
              description: '{{ $labels.service }} の計画外の障害が直近 365 日で {{ $value }} 回となり、契約上の上限（年 %(outageBudget)d 回）に達しました。発注者への報告と障害票の整理が必要です。' % cfg,
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
              summary: '{{ $labels.service }} は計画停止中です',
              description: '{{ $labels.service }} は保守カレンダー上の計画停止中です。この間の停止は稼働率と障害回数に数えず、同じサービスの他の通知は抑止されます。',
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
              summary: '監視エクスポーター {{ $labels.instance }} から値を取得できません',
              description: 'Prometheus が bosaimail_exporter（{{ $labels.instance }}）を %(exporterDownFor)s 以上取得できていません。他の拠点が動いていなければ、この間は稼働も停止も記録されず（監視の空白）、障害を検知できません。' % cfg,
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
              summary: '{{ $labels.service }} の稼働状況が記録されていません（監視の空白）',
              description: '{{ $labels.service }} の稼働率判定対象チェックの結果が %(monitoringGapFor)s 以上どの監視拠点からも得られていません。この時間は稼働率の分子にも分母にも入らず、月次報告に監視の空白として記載されます。' % cfg,
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
              summary: '監視系の死活確認用の常時発報アラートです',
              description: 'このアラートは常に発報しています。届かなくなった場合は Prometheus または Alertmanager、通知経路が停止しています。',
              runbook_url: runbook('Watchdog'),
            },
          },
        ],
      },
    ],
  },
}
