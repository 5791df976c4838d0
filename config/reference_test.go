package config

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	commoncfg "github.com/prometheus/common/config"
)

var updateRef = flag.Bool("update", false, "rewrite docs/configuration.md from the schema")

// topLevelJa explains each top-level key in the operator's language; a new
// key without an explanation fails the reference.
var topLevelJa = map[string]string{
	"global":      "すべてのチェックに共通の設定。チェックの時間の上限、読み込む応答の大きさの上限、システム名（`system_name`、例：防災みえメール配信サービス）。",
	"services":    "監視するサービスと、その稼働を確かめるチェック。`description` はメールやダッシュボードに出る表示名（例：緊急情報メール配信）。",
	"maintenance": "計画停止の予定を読む保守カレンダー（iCalendar）。サービスごとの予定は `services[].maintenance` に書きます。",
	"cloud":       "クラウド事業者・メール送信事業者の状態、メンテナンスの予告、送信枠の情報源。",
	"jobs":        "定期ジョブ、バックアップ、データの完全性の照合。",
	"security":    "ソフトウェア一覧（構成管理）、脆弱性対策情報、パターンファイル、セキュリティアラート。",
	"delivery":    "配信キュー、一斉配信の進み具合、送信元の評価（バウンス率・苦情率）。",
}

// reference renders every key of the schema with its type, walking the Go
// types by reflection: the reference cannot miss a key the code accepts.
func reference() string {
	var b strings.Builder
	b.WriteString("# Configuration reference\n\n")
	b.WriteString("Every key the exporter accepts, generated from the schema (`go test ./config -run TestReference -update`);\n")
	b.WriteString("`make test` fails when this file and the code disagree. Unknown keys are errors. Semantics and examples:\n")
	b.WriteString("[examples/bosaimail.yml](../examples/bosaimail.yml) and the area pages in docs/.\n\n")
	b.WriteString("## 日本語の説明\n\n")
	b.WriteString("監視用エクスポーターの設定ファイル（YAML）で使えるキーの一覧です。知らないキーや型の違う値は、ファイル名・行番号・キーを示して\n")
	b.WriteString("エラーになります（`bosaimail_exporter --config.check` で確かめられます）。設定の例は [examples/bosaimail.yml](../examples/bosaimail.yml)、\n")
	b.WriteString("言葉の説明は [glossary.md](glossary.md) にあります。最上位のキーは次のとおりです。\n\n")
	b.WriteString("| キー | 説明 |\n| --- | --- |\n")
	top := reflect.TypeOf(Config{})
	for i := 0; i < top.NumField(); i++ {
		key := strings.Split(top.Field(i).Tag.Get("yaml"), ",")[0]
		if key == "-" {
			continue
		}
		ja, ok := topLevelJa[key]
		if !ok {
			panic("topLevelJa has no Japanese explanation of the top-level key " + key)
		}
		fmt.Fprintf(&b, "| `%s` | %s |\n", key, ja)
	}
	b.WriteString("\n## All keys\n\n")
	b.WriteString("| key | type |\n| --- | --- |\n")
	walk(&b, reflect.TypeOf(Config{}), "", map[reflect.Type]bool{})
	return b.String()
}

var (
	durationType = reflect.TypeOf(Duration(0))
	urlType      = reflect.TypeOf(URL{})
	tlsType      = reflect.TypeOf(commoncfg.TLSConfig{})
)

func typeName(t reflect.Type) string {
	switch t {
	case durationType:
		return "duration (e.g. 30s, 5m, 1d)"
	case urlType:
		return "URL (http or https)"
	case tlsType:
		return "TLS config (ca_file, cert_file, key_file, server_name, insecure_skip_verify, min_version)"
	}
	switch t.Kind() {
	case reflect.Pointer:
		return typeName(t.Elem())
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Struct {
			return "list of objects"
		}
		return "list of " + typeName(t.Elem())
	case reflect.Map:
		return "map of " + typeName(t.Key()) + " to " + typeName(t.Elem())
	case reflect.Struct:
		return "object"
	}
	return t.Kind().String()
}

func walk(b *strings.Builder, t reflect.Type, prefix string, seen map[reflect.Type]bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || seen[t] {
		return
	}
	seen[t] = true
	defer delete(seen, t)
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("yaml"), ",")
		if tag[0] == "-" || !f.IsExported() {
			continue
		}
		if len(tag) > 1 && tag[1] == "inline" {
			walk(b, f.Type, prefix, seen)
			continue
		}
		key := tag[0]
		if key == "" {
			key = strings.ToLower(f.Name)
		}
		path := key
		if prefix != "" {
			path = prefix + "." + key
		}
		fmt.Fprintf(b, "| `%s` | %s |\n", path, typeName(f.Type))
		ft := f.Type
		for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice {
			if ft.Kind() == reflect.Slice {
				path += "[]"
			}
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct && ft != durationType && ft != urlType && ft != tlsType {
			walk(b, ft, path, seen)
		}
	}
}

func TestReference(t *testing.T) {
	want := reference()
	const path = "../docs/configuration.md"
	if *updateRef {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != want {
		t.Fatalf("docs/configuration.md is out of date (%v): run go test ./config -run TestReference -update", err)
	}
}

// TestExamplesLoad: every shipped example config is valid once the secret
// files it names exist (they are the operator's, never shipped): a copy is
// loaded next to placeholder secrets.
func TestExamplesLoad(t *testing.T) {
	secretKey := regexp.MustCompile(`(?m)^\s*(?:-\s*)?(?:password_file|bearer_token_file|token_file|api_key_file|access_key_id_file|secret_access_key_file|hmac_key_file):\s*(\S+)`)
	for _, p := range []string{"../examples/bosaimail.yml"} {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		for _, m := range secretKey.FindAllSubmatch(data, -1) {
			f := filepath.Join(dir, string(m[1]))
			os.MkdirAll(filepath.Dir(f), 0o700)
			if err := os.WriteFile(f, []byte("placeholder-secret-0123456789\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		// The files next to it (acknowledgements, calendars) come along.
		siblings, _ := os.ReadDir(filepath.Dir(p))
		for _, e := range siblings {
			if e.Type().IsRegular() {
				b, err := os.ReadFile(filepath.Join(filepath.Dir(p), e.Name()))
				if err != nil {
					t.Fatal(err)
				}
				os.WriteFile(filepath.Join(dir, e.Name()), b, 0o600)
			}
		}
		copyPath := filepath.Join(dir, filepath.Base(p))
		if _, err := Load(copyPath); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}
