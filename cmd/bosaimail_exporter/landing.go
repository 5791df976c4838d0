package main

import (
	"bytes"
	"html/template"
	"net/http"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/common/version"
	"golang.org/x/text/language"

	"github.com/bosaimail/bosaimail_exporter/config"
)

// The landing page is read by the operator on duty: Japanese first (the
// contract asks for everything in Japanese), English for an Accept-Language
// that prefers it.
var landingLanguages = language.NewMatcher([]language.Tag{language.Japanese, language.English})

type landingText struct {
	Lang, Title, Intro, Version, Metrics, MetricsNote, Health, HealthNote         string
	Services, Service, Check, Kind, Critical, Target, Yes, No, NoConfig, Glossary string
	Kinds                                                                         map[string]string
}

var landingTexts = map[string]landingText{
	"ja": {
		Lang: "ja", Title: "監視用エクスポーター", Intro: "このサーバーは、下の表のサービスを確かめ、その結果を Prometheus に渡しています。",
		Version: "バージョン", Metrics: "メトリクス", MetricsNote: "Prometheus が収集する監視の値",
		Health: "稼働確認", HealthNote: "このプログラム自体が動いているか",
		Services: "監視しているサービスとチェック", Service: "サービス", Check: "チェック", Kind: "種類",
		Critical: "稼働率判定の対象", Target: "確認先", Yes: "対象", No: "対象外", NoConfig: "設定を読み込んでいません。",
		Glossary: "用語の説明は docs/glossary.md にあります。",
		Kinds:    map[string]string{"http": "HTTP(S) 応答", "smtp": "SMTP 応答", "tcp": "TCP 接続", "roundtrip": "到達確認メール"},
	},
	"en": {
		Lang: "en", Title: "monitoring exporter", Intro: "This server checks the services below and hands the results to Prometheus.",
		Version: "Version", Metrics: "Metrics", MetricsNote: "the values Prometheus scrapes",
		Health: "Health", HealthNote: "whether this program itself runs",
		Services: "Watched services and checks", Service: "Service", Check: "Check", Kind: "Kind",
		Critical: "Counts for availability", Target: "Target", Yes: "yes", No: "no", NoConfig: "No configuration loaded.",
		Glossary: "Terms are explained in docs/glossary.md.",
		Kinds:    map[string]string{"http": "HTTP(S)", "smtp": "SMTP", "tcp": "TCP", "roundtrip": "mail round trip"},
	},
}

type landingRow struct {
	Service, ServiceID, Check, Kind, Target string
	Critical                                bool
}

var landingTmpl = template.Must(template.New("landing").Parse(`<!DOCTYPE html>
<html lang="{{ .T.Lang }}">
<head><meta charset="UTF-8"><meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>{{ with .System }}{{ . }} {{ end }}{{ .T.Title }}</title>
<style>body{font-family:sans-serif;margin:0}header{background:#e6522c;color:#fff;padding:8px 16px}main{padding:8px 16px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}.id{color:#666}</style>
</head>
<body>
<header><h1>{{ with .System }}{{ . }} {{ end }}{{ .T.Title }}</h1></header>
<main>
<p>{{ .T.Intro }}</p>
<div>{{ .T.Version }}: {{ .Version }}</div>
<ul>
<li><a href="{{ .Metrics }}">{{ .T.Metrics }}</a>: {{ .T.MetricsNote }}</li>
<li><a href="{{ .Prefix }}-/healthy">{{ .T.Health }}</a>: {{ .T.HealthNote }}</li>
</ul>
<h2>{{ .T.Services }}</h2>
{{ if .Rows }}<table>
<tr><th>{{ .T.Service }}</th><th>{{ .T.Check }}</th><th>{{ .T.Kind }}</th><th>{{ .T.Critical }}</th><th>{{ .T.Target }}</th></tr>
{{ range .Rows }}<tr><td>{{ .Service }} <span class="id">({{ .ServiceID }})</span></td><td>{{ .Check }}</td><td>{{ .Kind }}</td><td>{{ if .Critical }}{{ $.T.Yes }}{{ else }}{{ $.T.No }}{{ end }}</td><td>{{ .Target }}</td></tr>
{{ end }}</table>{{ else }}<p>{{ .T.NoConfig }}</p>{{ end }}
<p>{{ .T.Glossary }}</p>
</main>
</body>
</html>
`))

// landing renders the landing page with the configured services and
// checks, so an operator sees at once what is watched.
func landing(cfg *config.Config, metricsPath string, logger log.Logger) http.Handler {
	var rows []landingRow
	system := ""
	if cfg != nil {
		system = cfg.Global.SystemName
		for _, s := range cfg.Services {
			name := s.Description
			if name == "" {
				name = s.Name
			}
			for _, c := range s.Checks {
				rows = append(rows, landingRow{Service: name, ServiceID: s.Name, Check: c.Name, Kind: c.Kind, Target: checkTarget(&c), Critical: c.IsCritical()})
			}
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		prefs, _, _ := language.ParseAcceptLanguage(r.Header.Get("Accept-Language"))
		tag, _, conf := landingLanguages.Match(prefs...)
		base, _ := tag.Base()
		t, ok := landingTexts[base.String()]
		if !ok || conf < language.High {
			// A language we do not have falls back to Japanese, not to
			// whichever of ours the matcher finds closest.
			t = landingTexts["ja"]
		}
		local := make([]landingRow, len(rows))
		for i, row := range rows {
			if k, ok := t.Kinds[row.Kind]; ok {
				row.Kind = k
			}
			local[i] = row
		}
		var b bytes.Buffer
		err := landingTmpl.Execute(&b, map[string]any{
			"T": t, "System": system, "Version": version.Version + " (" + version.Revision + ")",
			"Metrics": metricsPath, "Prefix": "/", "Rows": local,
		})
		if err != nil {
			level.Error(logger).Log("msg", "rendering landing page", "err", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Language", t.Lang)
		w.Header().Add("Vary", "Accept-Language")
		_, _ = w.Write(b.Bytes())
	})
}
