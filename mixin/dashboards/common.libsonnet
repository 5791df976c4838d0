// What every bosaimail dashboard shares: language, selectors, variables and
// the links between the dashboards.
local g = import '../lib/dashboard.libsonnet';

function(config)
  local c = config;
  local t(ja, en) = if c.language == 'en' then en else ja;
  {
    t(ja, en):: t(ja, en),
    sel:: c.selector,
    // Raw exporter series, filtered by the dashboard variables.
    f(extra=''):: '%s, instance=~"$instance"%s' % [c.selector, if extra == '' then '' else ', ' + extra],
    fs(extra=''):: self.f('service=~"$service"' + (if extra == '' then '' else ', ' + extra)),
    // Recorded series (bosaimail:...) carry no instance label, so a
    // dashboard built only on them has no instance variable.
    variables(service=true, instance=true):: [
                                               g.datasourceVar(t('データソース', 'Data source')),
                                             ] + (if instance then [g.labelVar('instance', t('エクスポーター', 'Exporter instance'), 'bosaimail_collector_success{%s}' % c.selector, 'instance')] else [])
                                             + (if service then [g.labelVar('service', t('サービス', 'Service'), 'bosaimail_check_up{%s}' % c.selector, 'service')] else []),
    links:: [{
      title: t('防災メール監視', 'Disaster mail monitoring'),
      type: 'dashboards',
      tags: ['bosaimail'],
      asDropdown: true,
      includeVars: false,
      keepTime: true,
      targetBlank: false,
      icon: 'external link',
      tooltip: '',
      url: '',
    }],
    // expr (with a service label) with the service's display name as the
    // label name (services[].description via bosaimail_service_info); the
    // service ID when the exporter does not give one.
    named(expr):: '(%(e)s) * on (service) group_left (name) max by (service, name) (bosaimail_service_info{%(sel)s}) or (label_replace(%(e)s, "name", "$1", "service", "(.*)") unless on (service) bosaimail_service_info{%(sel)s})' % { e: expr, sel: c.selector },
    upDown:: g.valueMap({ '1': [t('正常', 'Up'), 'green'], '0': [t('停止', 'Down'), 'red'] }),
    okFail:: g.valueMap({ '1': [t('成功', 'OK'), 'green'], '0': [t('失敗', 'Failed'), 'red'] }),
    maint:: g.valueMap({ '1': [t('計画停止中', 'Planned stop'), 'blue'], '0': [t('なし', 'None'), 'transparent'] }),
  }
