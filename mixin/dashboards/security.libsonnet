// セキュリティ: open advisories for the installed middleware, known
// exploited vulnerabilities, antivirus signature age, security findings and
// the software inventory (configuration management).
local g = import '../lib/dashboard.libsonnet';

{
  grafanaDashboards+:: {
    local cm = (import 'common.libsonnet')($._config),
    local t = cm.t,

    'bosaimail-security.json': g.dashboard(
      uid='bosaimail-security',
      title=t('防災メール セキュリティ', 'Disaster mail: security'),
      description=t('利用中ミドルウェアの脆弱性、悪用が確認された脆弱性、パターンファイルの鮮度、セキュリティ検知、ソフトウェア構成。', 'Advisories for the installed middleware, known exploited vulnerabilities, antivirus freshness, findings and inventory.'),
      tags=['bosaimail'],
      variables=cm.variables(service=false),
      links=cm.links,
      panels=[
        g.row(t('脆弱性', 'Vulnerabilities')),
        g.stat(
          t('悪用が確認された脆弱性', 'Known exploited'),
          t('CISA KEV に掲載され、利用中の製品に該当する脆弱性の数。', 'Vulnerabilities in the CISA KEV catalogue that match the inventory.'),
          [g.instant('sum(bosaimail_security_known_exploited{%s}) or vector(0)' % cm.f())],
          w=6,
          steps=[[null, 'green'], [1, 'red']],
        ),
        g.bargauge(
          t('未対応の脆弱性（製品・深刻度別）', 'Open advisories by product and severity'),
          t('利用中の製品に該当し、確認記録（対応済み・該当なし）のない脆弱性の件数。', 'Advisories matching the inventory without an acknowledgement.'),
          // max, not sum: JVN and NVD often list the same issue.
          [g.instant('max by (product, severity) (bosaimail_security_advisories{%s})' % cm.f(), '{{product}} {{severity}}')],
          w=18,
          unit='short',
          steps=[[null, 'green'], [1, 'orange']],
        ),
        g.table(
          t('未対応の重大・重要な脆弱性', 'Open critical and high advisories'),
          t('確認記録のない深刻度「緊急」「重要」の脆弱性の一覧。リンク先で内容と対策を確認し、対応後は確認記録ファイルに記録します。', 'Open critical and high advisories; record the decision in the acknowledgement file once handled.'),
          [g.instant('bosaimail_security_advisory_info{%s}' % cm.f(), '', 'table')],
          h=9,
          columns={ id: 'ID', product: t('製品', 'Product'), severity: t('深刻度', 'Severity'), link: t('リンク', 'Link') },
          hide=['Time', '__name__', 'job', 'instance', 'Value'],
        ),
        g.row(t('ウイルス対策・検知', 'Antivirus and findings')),
        g.bargauge(
          t('パターンファイルの経過時間', 'Antivirus signature age'),
          t('ウィルスソフトのパターンファイルが作成されてからの時間。', 'Age of each antivirus signature set.'),
          [g.instant('time() - bosaimail_antivirus_signature_timestamp_seconds{%s}' % cm.f(), '{{engine}}')],
          w=12,
          unit='s',
          steps=[[null, 'green'], [86400, 'orange'], [172800, 'red']],
        ),
        g.timeseries(
          t('セキュリティ検知', 'Security findings'),
          t('WAF・IDS・クラウドのセキュリティ検知（有効なもの）の件数。', 'Active security findings by source and severity.'),
          [g.target('sum by (source, severity) (bosaimail_security_findings{%s})' % cm.f(), '{{source}} {{severity}}')],
          w=12,
          unit='short',
          stack=true,
        ),
        g.row(t('構成管理', 'Inventory')),
        g.table(
          t('ソフトウェア構成', 'Software inventory'),
          t('監視対象で使用しているソフトウェアと版数（構成管理情報）。', 'Software and versions in use (configuration management).'),
          [g.instant('bosaimail_software_info{%s}' % cm.f(), '', 'table')],
          h=8,
          columns={ product: t('製品', 'Product'), version: t('版数', 'Version'), cpe: 'CPE' },
          hide=['Time', '__name__', 'job', 'instance', 'Value'],
        ),
      ],
    ),
  },
}
