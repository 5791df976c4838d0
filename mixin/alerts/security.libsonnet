// Vulnerability advisories, known exploited vulnerabilities, antivirus
// signatures, security findings and inventory drift (issue 7).
local ja = import '../lib/ja.libsonnet';

{
  prometheusAlerts+:: {
    local c = $._config,
    local sel = c.selector,
    local rb(name) = c.runbookURL + '#' + std.asciiLower(name),
    groups+: [
      {
        name: 'bosaimail-security',
        rules: [
          {
            alert: 'BosaiMailSecurityAdvisoryCritical',
            // max over sources: the same issue is often listed by both JVN and NVD.
            expr: 'max by (product) (bosaimail_security_advisories{%s, severity="critical"}) > 0' % sel,
            'for': c.securityAdvisoryFor,
            labels: { severity: 'warning', responsible: 'contractor' },
            annotations: {
              summary: '{{ $labels.product }} に未対応の深刻度「緊急」の脆弱性があります',
              description: '使用中のミドルウェア {{ $labels.product }} に、深刻度「緊急」（CVSS の critical）の脆弱性対策情報が{{ $value }}件あり、対応の記録（確認ファイル）がありません。ダッシュボード「セキュリティ」の一覧で ID とリンクを確認し、パッチ適用または影響なしの判断を記録してください。',
              runbook_url: rb('BosaiMailSecurityAdvisoryCritical'),
            },
          },
          {
            alert: 'BosaiMailKnownExploitedVulnerability',
            expr: 'max by (product) (bosaimail_security_known_exploited{%s}) > 0' % sel,
            labels: { severity: 'critical', responsible: 'contractor' },
            annotations: {
              summary: '{{ $labels.product }} に悪用が確認されている脆弱性があります',
              description: '使用中のミドルウェア {{ $labels.product }} に、CISA KEV（既知の悪用された脆弱性）に掲載された脆弱性が{{ $value }}件、未対応のまま残っています。攻撃に使われている脆弱性のため、直ちにパッチ適用または緩和策を実施し、確認ファイルに記録してください。',
              runbook_url: rb('BosaiMailKnownExploitedVulnerability'),
            },
          },
          {
            alert: 'BosaiMailAntivirusSignaturesStale',
            expr: 'time() - bosaimail_antivirus_signature_timestamp_seconds{%s} > %d' % [sel, c.antivirusSignatureMaxAgeSeconds],
            labels: { severity: 'warning', responsible: 'contractor' },
            annotations: {
              summary: 'ウイルス対策 {{ $labels.engine }} のパターンファイルが更新されていません',
              description: 'ウイルス対策 {{ $labels.engine }}（{{ $labels.instance }}）が使用しているパターンファイルは%s前のものです（許容%s）。パターンファイルの更新（freshclam など）が止まっています。' % [ja.durationOf('$value'), ja.secondsText(c.antivirusSignatureMaxAgeSeconds)],
              runbook_url: rb('BosaiMailAntivirusSignaturesStale'),
            },
          },
          {
            alert: 'BosaiMailSecurityFinding',
            // The feed's severity moves to finding_severity: the alert's own
            // severity label is the triage level.
            expr: 'label_replace(sum by (source, severity) (bosaimail_security_findings{%s, severity=~"%s"}) > 0, "finding_severity", "$1", "severity", "(.*)")' % [sel, c.securityFindingSeverities],
            labels: { severity: 'warning', responsible: 'contractor' },
            annotations: {
              summary: 'セキュリティアラート（{{ $labels.source }}）に未対応の検知があります（重要度「%s」）' % ja.findingSeverity,
              description: 'セキュリティアラートの情報源 {{ $labels.source }} に、重要度「%s」の未対応の検知が{{ $value }}件あります。内容を確認し、対応するか誤検知として処理してください。' % ja.findingSeverity,
              runbook_url: rb('BosaiMailSecurityFinding'),
            },
          },
          {
            alert: 'BosaiMailInventoryDrift',
            expr: 'bosaimail_software_version_drift{%s} == 1' % sel,
            'for': c.inventoryDriftFor,
            labels: { severity: 'warning', responsible: 'contractor' },
            annotations: {
              summary: '{{ $labels.product }} の稼働中バージョンが構成管理の記載と異なります',
              description: '{{ $labels.product }}（{{ $labels.instance }}）で実際に稼働しているバージョンが、構成管理（ソフトウェア一覧）に記載されたバージョンと異なります。脆弱性の照合は記載のバージョンで行われるため、構成管理情報を更新してください。',
              runbook_url: rb('BosaiMailInventoryDrift'),
            },
          },
          {
            alert: 'BosaiMailSecurityAcknowledgementsInvalid',
            expr: 'bosaimail_security_acknowledgements_valid{%s} == 0' % sel,
            'for': '10m',
            labels: { severity: 'warning', responsible: 'contractor' },
            annotations: {
              summary: '脆弱性対応の確認ファイルを読み込めません',
              description: '脆弱性対応の確認ファイル（{{ $labels.instance }}）に誤りがあり、読み込めません。直前の正しい内容で判定を続けていますが、新しい記録は反映されていません。エクスポーターのログに行番号が出ています。',
              runbook_url: rb('BosaiMailSecurityAcknowledgementsInvalid'),
            },
          },
        ],
      },
    ],
  },
}
