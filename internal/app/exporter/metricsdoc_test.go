package exporter

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bosaimail/bosaimail_exporter/collector"
	"github.com/bosaimail/bosaimail_exporter/internal/testkit/testbin"
)

var update = flag.Bool("update", false, "rewrite docs/metrics.md from the code")

// metricsJa explains, in the operator's language, the metrics an operator
// queries most; a name the code no longer exports fails the reference.
var metricsJa = [][2]string{
	{"bosaimail_check_up", "チェックの最新の結果（1=成功、0=失敗）。サービス、チェック名、種類、稼働率判定の対象かをラベルに持ちます。"},
	{"bosaimail_check_duration_seconds", "チェックにかかった時間（秒）。"},
	{"bosaimail_check_tls_not_after_timestamp_seconds", "実際に提示された TLS 証明書の有効期限（Unix 時刻）。"},
	{"bosaimail_roundtrip_duration_seconds", "到達確認メールの送信から受信までの時間（秒）。"},
	{"bosaimail_maintenance_active", "計画停止中なら1、そうでなければ0。設定したすべてのサービスについて出ます。"},
	{"bosaimail_service_info", "サービスの表示名（設定の services[].description）。通知メールやダッシュボードが ID の代わりに表示します。"},
	{"bosaimail_system_info", "システム名（設定の global.system_name、例：防災みえメール配信サービス）。"},
	{"bosaimail_cloud_component_status", "クラウド事業者が公表している状態（正常、性能低下、一部停止、全面停止、メンテナンス中、不明）。"},
	{"bosaimail_cloud_quota_used_ratio", "メール送信事業者の送信枠の使用率。"},
	{"bosaimail_job_last_run_success", "定期ジョブの最新の実行が成功なら1、失敗なら0。"},
	{"bosaimail_job_next_due_timestamp_seconds", "定期ジョブの次の完了予定時刻（予定と猶予から計算、Unix 時刻）。"},
	{"bosaimail_backup_last_timestamp_seconds", "最新の完全なバックアップの時刻（Unix 時刻）。"},
	{"bosaimail_integrity_verified", "データの完全性の照合に通れば1、不一致があれば0。"},
	{"bosaimail_security_advisories", "未対応の脆弱性対策情報の件数（製品、深刻度、情報源ごと）。"},
	{"bosaimail_antivirus_signature_timestamp_seconds", "ウィルスソフトのパターンファイルが作られた時刻（Unix 時刻）。"},
	{"bosaimail_security_findings", "未対応のセキュリティアラートの件数（情報源、重要度ごと）。"},
	{"bosaimail_software_info", "構成管理に記載したソフトウェアとバージョン（1件につき1）。"},
	{"bosaimail_queue_messages", "メールサーバーの配信キューにあるメールの数。"},
	{"bosaimail_source_up", "監視の情報源（クラウドの状態、脆弱性情報など）の最新の取得が成功なら1。"},
}

// MetricsReference renders docs/metrics.md from the descriptors every
// collector records, so the reference cannot drift from the code.
func MetricsReference() string {
	var b strings.Builder
	b.WriteString("# Metrics reference\n\n")
	b.WriteString("Generated from the code by `go test ./internal/app/exporter -run TestMetricsReference -update`;\n")
	b.WriteString("`make test` fails when this file and the code disagree.\n\n")
	b.WriteString("Besides these, the exporter exposes `bosaimail_build_info` and the standard `go_*` and `process_*` metrics.\n\n")
	b.WriteString("## 日本語の説明\n\n")
	b.WriteString("監視用エクスポーターが Prometheus に渡す値（メトリクス）の一覧です。運用者がふだん見るのはダッシュボードと通知メールで、\n")
	b.WriteString("この一覧は Prometheus で直接調べるとき（クエリを書くとき）に使います。よく使うものを日本語で説明します。\n")
	b.WriteString("下の英語の表は、コードから作る全指標の一覧（開発者向け）です。言葉の説明は [glossary.md](glossary.md) にあります。\n\n")
	b.WriteString("| 指標 | 説明 |\n| --- | --- |\n")
	known := map[string]bool{}
	for _, d := range collector.Descs() {
		known[d.Name] = true
	}
	for _, m := range metricsJa {
		if !known[m[0]] {
			panic("metricsJa names a metric the code does not export: " + m[0])
		}
		fmt.Fprintf(&b, "| `%s` | %s |\n", m[0], m[1])
	}
	b.WriteString("\n## All metrics\n\n")
	b.WriteString("| metric | type | labels | meaning |\n| --- | --- | --- | --- |\n")
	for _, d := range collector.Descs() {
		if strings.HasPrefix(d.Name, "bosaimail_testonly_") {
			continue
		}
		labels := strings.Join(d.Labels, ", ")
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", d.Name, d.Type, labels, strings.ReplaceAll(d.Help, "|", "\\|"))
	}
	return b.String()
}

func TestMetricsReference(t *testing.T) {
	path := filepath.Join(testbin.RepoRoot(), "docs", "metrics.md")
	want := MetricsReference()
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (generate it with: go test ./internal/app/exporter -run TestMetricsReference -update)", err)
	}
	if string(got) != want {
		t.Fatalf("docs/metrics.md is out of date: run go test ./internal/app/exporter -run TestMetricsReference -update")
	}
}
