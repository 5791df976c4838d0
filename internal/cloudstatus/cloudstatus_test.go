package cloudstatus

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/itchyny/gojq"
)

func payload(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "cloud", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestStatusMapping(t *testing.T) {
	for _, tc := range []struct {
		got, want Status
	}{
		{StatuspageStatus("operational"), Operational},
		{StatuspageStatus("degraded_performance"), Degraded},
		{StatuspageStatus("under_maintenance"), Maintenance},
		{StatuspageStatus("Operational"), Unknown}, // case matters: not a known value
		{StatuspageStatus(""), Unknown},
		{GCPStatus("SERVICE_OUTAGE"), MajorOutage},
		{GCPStatus("SERVICE_NEW"), Unknown},
		{AzureStatus("Unavailable", "Planned"), Maintenance},
		{AzureStatus("Unavailable", "Unplanned"), MajorOutage},
		{AzureStatus("Suspended", ""), Unknown},
		{Worse(Operational, Unknown), Unknown},
		{Worse(MajorOutage, Maintenance), MajorOutage},
	} {
		if tc.got != tc.want {
			t.Errorf("got %s, want %s", tc.got, tc.want)
		}
	}
}

func TestDecodeErrorsNameThePlace(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"statuspage not json", decodeSP(`<html>`), "statuspage summary"},
		{"statuspage no components", decodeSP(`{"incidents":[]}`), `no "components"`},
		{"statuspage bad time", decodeSP(`{"components":[],"scheduled_maintenances":[{"status":"scheduled","scheduled_for":"tomorrow"}]}`), `scheduled_maintenances[0].scheduled_for: invalid time "tomorrow"`},
		{"gcp object", func() error { _, err := DecodeGCPIncidents([]byte(`{}`), nil, nil); return err }(), "google cloud incidents"},
		{"azure no value", func() error {
			_, _, err := DecodeAzurePage([]byte(`{"error":{"code":"AuthorizationFailed"}}`), nil)
			return err
		}(), `no "value"`},
		{"feed garbage", func() error { _, err := DecodeFeed([]byte(`not a feed`), nil, time.Now(), 0); return err }(), "feed"},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to contain %q", tc.name, tc.err, tc.want)
		}
	}
}

func decodeSP(s string) error { _, err := DecodeStatuspage([]byte(s), nil); return err }

func TestAzurePaging(t *testing.T) {
	snap, next, err := DecodeAzurePage(payload(t, "azure_page1.json"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(next, "$skiptoken=") {
		t.Errorf("nextLink %q", next)
	}
	if len(snap.Components) != 2 || snap.Components[1] != (Component{"mail-vm2", Maintenance}) {
		t.Errorf("components %+v", snap.Components)
	}
	if snap.Events[0].Start != time.Date(2026, 11, 25, 8, 50, 0, 123456700, time.UTC) {
		t.Errorf("start %v", snap.Events[0].Start)
	}
}

func TestDecodeJSON(t *testing.T) {
	code := func(s string) *gojq.Code {
		q, err := gojq.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		c, err := gojq.Compile(q)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	doc := []byte(`{"state":"warn","n":3,"ok":true,"s":"2.5","list":[{"k":"a","v":1},{"k":"b","v":"x"}]}`)
	for _, tc := range []struct {
		query   string
		vm      map[string]float64
		want    []JSONValue
		wantErr string
	}{
		{query: ".n", want: []JSONValue{{Value: 3}}},
		{query: ".ok", want: []JSONValue{{Value: 1}}},
		{query: ".s", want: []JSONValue{{Value: 2.5}}},
		{query: ".state", vm: map[string]float64{"ok": 0, "warn": 1}, want: []JSONValue{{Value: 1}}},
		{query: ".state", vm: map[string]float64{"ok": 0}, wantErr: `string "warn" is not in value_map`},
		{query: ".missing", wantErr: "null (field missing?)"},
		{query: "empty", wantErr: "no result"},
		{query: ".list[] | {key: .k, value: .v}", vm: map[string]float64{"x": 7}, want: []JSONValue{{"a", 1}, {"b", 7}}},
		{query: "range(2000)", wantErr: "more than 1000 results"},
		{query: ".list", wantErr: "is not a number"},
		{query: `error("boom")`, wantErr: "boom"},
	} {
		got, err := DecodeJSON(context.Background(), doc, []JSONQuery{{Name: "q", Code: code(tc.query), ValueMap: tc.vm}})
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: error %v, want %q", tc.query, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.query, err)
			continue
		}
		if g := got["q"]; len(g) != len(tc.want) || (len(g) > 0 && g[len(g)-1] != tc.want[len(g)-1]) || g[0] != tc.want[0] {
			t.Errorf("%s: got %+v, want %+v", tc.query, g, tc.want)
		}
	}
}

func TestFeedIgnoreRuleComesFirst(t *testing.T) {
	rules := []FeedRule{
		{Match: regexp.MustCompile(`【復旧】`), Ignore: true},
		{Match: regexp.MustCompile(`障害`), Category: Issue, Component: "net", Status: MajorOutage},
	}
	now := time.Date(2026, 11, 25, 9, 30, 0, 0, time.UTC)
	snap, err := DecodeFeed(payload(t, "feed_rss.xml"), rules, now, 7*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// 1003 (障害) counts; 1002 (復旧, also mentions 障害) is ignored; 900 is too old.
	if len(snap.Events) != 1 || snap.Events[0].ID != "https://cloud.example.jp/news/1003" {
		t.Errorf("events %+v", snap.Events)
	}
	if snap.Components[0] != (Component{"net", MajorOutage}) {
		t.Errorf("components %+v", snap.Components)
	}
}

// Fuzz targets: no input may panic or hang a decoder.

func FuzzDecodeStatuspage(f *testing.F) {
	f.Add(payload(f, "statuspage_summary.json"))
	f.Add(payload(f, "statuspage_empty.json"))
	f.Fuzz(func(t *testing.T, b []byte) {
		snap, err := DecodeStatuspage(b, nil)
		if err != nil {
			return
		}
		// Invariant: a component reads operational only if every entry of
		// that name said exactly "operational"; every state is a known one.
		var raw struct {
			Components []struct {
				Name, Status string
				Group        bool
			}
		}
		if err := json.Unmarshal(b, &raw); err != nil {
			t.Fatalf("decoded, but not as plain JSON: %v", err)
		}
		for _, c := range snap.Components {
			if !slices.Contains(Statuses, c.Status) {
				t.Fatalf("state %q is not one of %v", c.Status, Statuses)
			}
			if c.Status != Operational {
				continue
			}
			for _, r := range raw.Components {
				if !r.Group && r.Name == c.Name && r.Status != "operational" {
					t.Fatalf("%q reads operational but the payload says %q", c.Name, r.Status)
				}
			}
		}
	})
}

func FuzzDecodeGCPIncidents(f *testing.F) {
	f.Add(payload(f, "gcp_incidents.json"))
	f.Fuzz(func(t *testing.T, b []byte) {
		DecodeGCPIncidents(b, NewFilter([]string{"Cloud Run"}), NewFilter([]string{"asia-northeast1"}))
	})
}

func FuzzDecodeAzurePage(f *testing.F) {
	f.Add(payload(f, "azure_page1.json"))
	f.Add(payload(f, "azure_page2.json"))
	f.Fuzz(func(t *testing.T, b []byte) { DecodeAzurePage(b, nil) })
}

func FuzzDecodeFeed(f *testing.F) {
	f.Add(payload(f, "feed_rss.xml"))
	f.Add(payload(f, "feed_atom.xml"))
	rules := []FeedRule{{Match: regexp.MustCompile(`障害|メンテナンス`), Category: Issue, Component: "x", Status: Degraded}}
	f.Fuzz(func(t *testing.T, b []byte) { DecodeFeed(b, rules, time.Now(), time.Hour) })
}

func FuzzDecodeJSON(f *testing.F) {
	q, _ := gojq.Parse(`.. | numbers`)
	code, _ := gojq.Compile(q)
	f.Add([]byte(`{"a":[1,2,{"b":3}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		DecodeJSON(context.Background(), b, []JSONQuery{{Name: "n", Code: code}})
	})
}

// BenchmarkDecodeGCPIncidentsLarge decodes a Google Cloud incidents.json
// the size of the real one (several MB of history: the largest payload).
func BenchmarkDecodeGCPIncidentsLarge(b *testing.B) {
	one := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(string(payload(b, "gcp_incidents.json"))), "["), "]")
	parts := make([]string, 0, 2000)
	for len(parts) < 2000 {
		parts = append(parts, one)
	}
	data := []byte("[" + strings.Join(parts, ",") + "]")
	products := NewFilter([]string{"Google Cloud SQL", "Cloud Run"})
	locations := NewFilter([]string{"asia-northeast1"})
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeGCPIncidents(data, products, locations); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeStatuspage(b *testing.B) {
	data := payload(b, "statuspage_summary.json")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeStatuspage(data, nil); err != nil {
			b.Fatal(err)
		}
	}
}
