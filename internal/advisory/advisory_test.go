package advisory

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bosaimail/bosaimail_exporter/internal/cpe"
)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "security", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func collectJVN(t *testing.T, name string) ([]Advisory, JVNStatus, error) {
	var out []Advisory
	st, err := DecodeJVN(bytes.NewReader(fixture(t, name)), func(a Advisory) error { out = append(out, a); return nil })
	return out, st, err
}

func TestDecodeJVN(t *testing.T) {
	got, st, err := collectJVN(t, "jvn-page1.xml")
	if err != nil {
		t.Fatal(err)
	}
	if st.TotalRes != 4 || st.TotalResRet != 2 || st.FirstRes != 1 {
		t.Errorf("status = %+v", st)
	}
	if len(got) != 2 {
		t.Fatalf("got %d items, want 2", len(got))
	}
	a := got[0]
	if a.ID != "JVNDB-2026-012345" || a.Severity != Critical || a.Title != "Apache HTTP Server における HTTP リクエストスマグリングの脆弱性" {
		t.Errorf("first item = %+v", a)
	}
	if !reflect.DeepEqual(a.CVEs, []string{"CVE-2026-10001", "CVE-2026-10001"}) && !reflect.DeepEqual(a.CVEs, []string{"CVE-2026-10001"}) {
		t.Errorf("CVEs = %v", a.CVEs)
	}
	if want := time.Date(2026, 11, 18, 5, 3, 0, 0, time.UTC); !a.Published.Equal(want) {
		t.Errorf("published = %v, want %v", a.Published, want)
	}
	httpd, _ := cpe.Parse("cpe:2.3:a:apache:http_server:2.4.58:*:*:*:*:*:*:*")
	postfix, _ := cpe.Parse("cpe:2.3:a:postfix:postfix:3.7.9:*:*:*:*:*:*:*")
	if len(a.Configs) != 1 || !reflect.DeepEqual(a.Configs[0].Affected([]cpe.Name{postfix, httpd}), []int{1}) {
		t.Errorf("JVN item does not apply to httpd: %+v", a.Configs)
	}
	if got[1].Severity != Medium || got[1].Link != "https://jvndb.jvn.jp/ja/contents/2026/JVNDB-2026-000101.html" {
		t.Errorf("second item = %+v", got[1])
	}
}

func TestDecodeJVNErrors(t *testing.T) {
	tests := []struct {
		name    string
		data    []byte
		wantErr string
	}{
		{"retCd=1 in a 200", fixture(t, "jvn-error.xml"), "MyJVN error 1001: パラメータ(startItem)の値が不正です"},
		{"truncated", fixture(t, "jvn-truncated.xml"), "JVN RSS"},
		{"html page", []byte("<!DOCTYPE html><html><body>maintenance</body></html>"), "not rdf:RDF"},
		{"empty", nil, "empty answer"},
		{"no status", []byte(`<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"></rdf:RDF>`), "no status:Status"},
		{"other charset", []byte(`<?xml version="1.0" encoding="Shift_JIS"?><rdf:RDF/>`), "unsupported charset"},
		{"item without identifier", []byte(`<rdf:RDF xmlns="http://purl.org/rss/1.0/" xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><item rdf:about="x"><title>t</title></item></rdf:RDF>`), "no sec:identifier"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeJVN(bytes.NewReader(tt.data), func(Advisory) error { return nil })
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
	var je *JVNError
	_, err := DecodeJVN(bytes.NewReader(fixture(t, "jvn-error.xml")), func(Advisory) error { return nil })
	if !errors.As(err, &je) || je.Code != "1001" {
		t.Errorf("err = %#v, want *JVNError 1001", err)
	}
}

func TestDecodeNVD(t *testing.T) {
	var got []Advisory
	page, err := DecodeNVD(bytes.NewReader(fixture(t, "nvd-page1.json")), func(a Advisory) error { got = append(got, a); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if page.TotalResults != 5 || page.ResultsPerPage != 3 || page.StartIndex != 0 || page.Count != 3 {
		t.Errorf("page = %+v", page)
	}
	var ids, sevs []string
	for _, a := range got {
		ids = append(ids, a.ID)
		sevs = append(sevs, a.Severity)
	}
	if !reflect.DeepEqual(ids, []string{"CVE-2026-10001", "CVE-2026-10002", "CVE-2026-10003"}) {
		t.Errorf("ids = %v", ids)
	}
	// The Primary (NVD) score wins over the CNA's Secondary one.
	if !reflect.DeepEqual(sevs, []string{Critical, High, High}) {
		t.Errorf("severities = %v", sevs)
	}
	if !got[0].KnownExploited || got[1].KnownExploited {
		t.Errorf("cisaExploitAdd not honoured")
	}
	inv := []cpe.Name{}
	for _, s := range []string{"cpe:2.3:a:apache:http_server:2.4.58:*:*:*:*:*:*:*", "cpe:2.3:o:redhat:enterprise_linux:9.4:*:*:*:*:*:*:*"} {
		n, _ := cpe.Parse(s)
		inv = append(inv, n)
	}
	affected := func(a Advisory) bool {
		for _, c := range a.Configs {
			if len(c.Affected(inv)) > 0 {
				return true
			}
		}
		return false
	}
	if !affected(got[0]) || affected(got[1]) || affected(got[2]) {
		t.Errorf("matching: 10001 %v (want true), 10002 on Windows %v (want false), 10003 <=2.4.57 %v (want false)", affected(got[0]), affected(got[1]), affected(got[2]))
	}

	got = nil
	page, err = DecodeNVD(bytes.NewReader(fixture(t, "nvd-page2.json")), func(a Advisory) error { got = append(got, a); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if page.Count != 2 || len(got) != 1 || got[0].ID != "CVE-2026-20002" || got[0].Severity != High {
		t.Errorf("page 2: rejected entry not skipped or CVSS v4 not preferred: %+v %+v", page, got)
	}
}

func TestDecodeNVDErrors(t *testing.T) {
	tests := []struct {
		name, data, wantErr string
	}{
		{"truncated", string(fixture(t, "nvd-truncated.json")), "NVD"},
		{"not an object", `[1,2]`, `expected "{"`},
		{"no array", `{"resultsPerPage":0}`, "no vulnerabilities array"},
		{"bad criteria", `{"vulnerabilities":[{"cve":{"id":"CVE-1","configurations":[{"nodes":[{"cpeMatch":[{"vulnerable":true,"criteria":"cpe:2.3:a:b"}]}]}]}}]}`, "CVE-1 configuration 0"},
		{"bad operator", `{"vulnerabilities":[{"cve":{"id":"CVE-1","configurations":[{"operator":"XOR","nodes":[]}]}}]}`, "neither AND nor OR"},
		{"no id", `{"vulnerabilities":[{"cve":{}}]}`, "without cve.id"},
		{"wrong type", `{"totalResults":"many","vulnerabilities":[]}`, "totalResults"},
		{"empty", ``, "truncated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeNVD(strings.NewReader(tt.data), func(Advisory) error { return nil })
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestDecodeKEV(t *testing.T) {
	var ids []string
	cat, err := DecodeKEV(bytes.NewReader(fixture(t, "kev.json")), func(e KEVEntry) error { ids = append(ids, e.CVEID); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if cat.Version != "2026.11.19" || cat.Count != 3 || cat.Released.IsZero() {
		t.Errorf("catalog = %+v", cat)
	}
	if !reflect.DeepEqual(ids, []string{"CVE-2021-44228", "CVE-2026-10001", "CVE-2025-30003"}) {
		t.Errorf("ids = %v", ids)
	}
	for _, tt := range []struct{ name, data, wantErr string }{
		{"count mismatch", `{"count":5,"vulnerabilities":[{"cveID":"CVE-1"}]}`, "declares 5 entries but holds 1"},
		{"truncated", `{"count":1,"vulnerabilities":[{"cveID":"CVE-1"}`, "KEV"},
		{"no cve id", `{"vulnerabilities":[{"product":"x"}]}`, "no cveID"},
		{"no array", `{"count":0}`, "no vulnerabilities array"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeKEV(strings.NewReader(tt.data), func(KEVEntry) error { return nil })
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestCallbackStops(t *testing.T) {
	n := 0
	_, err := DecodeNVD(bytes.NewReader(fixture(t, "nvd-page1.json")), func(Advisory) error { n++; return ErrStop })
	if err != nil || n != 1 {
		t.Errorf("ErrStop: n=%d err=%v", n, err)
	}
	boom := errors.New("boom")
	_, err = DecodeJVN(bytes.NewReader(fixture(t, "jvn-page1.xml")), func(Advisory) error { return boom })
	if !errors.Is(err, boom) {
		t.Errorf("callback error lost: %v", err)
	}
}

func FuzzDecodeJVN(f *testing.F) {
	f.Add(fixture(f, "jvn-page1.xml"))
	f.Add(fixture(f, "jvn-error.xml"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = DecodeJVN(bytes.NewReader(data), func(a Advisory) error {
			if a.ID == "" {
				t.Fatal("advisory without ID delivered")
			}
			return nil
		})
	})
}

func FuzzDecodeNVD(f *testing.F) {
	f.Add(fixture(f, "nvd-page1.json"))
	f.Add(fixture(f, "nvd-page2.json"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = DecodeNVD(bytes.NewReader(data), func(a Advisory) error {
			if a.ID == "" || SeverityRank(a.Severity) < 0 {
				t.Fatal("bad advisory delivered")
			}
			return nil
		})
	})
}

func FuzzDecodeKEV(f *testing.F) {
	f.Add(fixture(f, "kev.json"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = DecodeKEV(bytes.NewReader(data), func(e KEVEntry) error {
			if e.CVEID == "" {
				t.Fatal("entry without cveID delivered")
			}
			return nil
		})
	})
}

// syntheticNVDPage builds an NVD-sized page (recorded entry shape, n
// entries) so the benchmark measures the decoder on realistic volume.
func syntheticNVDPage(tb testing.TB, start, n int) []byte {
	tb.Helper()
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"resultsPerPage":%d,"startIndex":%d,"totalResults":%d,"format":"NVD_CVE","version":"2.0","timestamp":"2026-11-20T01:02:03.456","vulnerabilities":[`, n, start, 20*n)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"cve":{"id":"CVE-2026-%d","sourceIdentifier":"cna@example.org","published":"2026-11-17T10:15:08.120","lastModified":"2026-11-19T08:00:00.000","vulnStatus":"Analyzed","descriptions":[{"lang":"en","value":"%s"},{"lang":"es","value":"%s"}],"metrics":{"cvssMetricV31":[{"source":"nvd@nist.gov","type":"Primary","cvssData":{"version":"3.1","vectorString":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:N","baseScore":9.1,"baseSeverity":"CRITICAL","attackVector":"NETWORK","attackComplexity":"LOW"},"exploitabilityScore":3.9,"impactScore":5.2}]},"weaknesses":[{"source":"nvd@nist.gov","type":"Primary","description":[{"lang":"en","value":"CWE-79"}]}],"configurations":[{"operator":"AND","nodes":[{"operator":"OR","negate":false,"cpeMatch":[{"vulnerable":true,"criteria":"cpe:2.3:a:vendor%d:product%d:*:*:*:*:*:*:*:*","versionStartIncluding":"1.0","versionEndExcluding":"1.%d","matchCriteriaId":"00000000-0000-4000-8000-%012d"},{"vulnerable":true,"criteria":"cpe:2.3:a:vendor%d:product%d:2.0:*:*:*:*:*:*:*","matchCriteriaId":"00000000-0000-4000-8000-%012d"}]},{"operator":"OR","negate":false,"cpeMatch":[{"vulnerable":false,"criteria":"cpe:2.3:o:linux:linux_kernel:-:*:*:*:*:*:*:*","matchCriteriaId":"00000000-0000-4000-8000-000000000000"}]}]}],"references":[{"url":"https://example.org/advisory/%d","source":"cna@example.org","tags":["Vendor Advisory"]},{"url":"https://example.org/patch/%d","source":"cna@example.org","tags":["Patch"]}]}}`,
			start+i, strings.Repeat("A cross-site scripting issue lets a remote attacker inject script. ", 6), strings.Repeat("Un problema de secuencias de comandos. ", 5),
			i%500, i%500, i%30, start+i, i%500, i%500, start+i, start+i, start+i)
	}
	b.WriteString("]}")
	return b.Bytes()
}

// BenchmarkNVDPageSet decodes and matches 20 pages of 2,000 CVEs, the
// volume of a full NVD product sweep, against a 10-entry inventory.
func BenchmarkNVDPageSet(b *testing.B) {
	const pages, perPage = 20, 2000
	data := make([][]byte, pages)
	total := 0
	for p := range data {
		data[p] = syntheticNVDPage(b, p*perPage, perPage)
		total += len(data[p])
	}
	var inv []cpe.Name
	for i := 0; i < 10; i++ {
		n, _ := cpe.Parse(fmt.Sprintf("cpe:2.3:a:vendor%d:product%d:1.5:*:*:*:*:*:*:*", i*7, i*7))
		inv = append(inv, n)
	}
	linux, _ := cpe.Parse("cpe:2.3:o:linux:linux_kernel:6.1:*:*:*:*:*:*:*")
	inv = append(inv, linux)
	b.SetBytes(int64(total))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		matched := 0
		for _, d := range data {
			_, err := DecodeNVD(bytes.NewReader(d), func(a Advisory) error {
				for _, c := range a.Configs {
					if len(c.Affected(inv)) > 0 {
						matched++
						break
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		if matched == 0 {
			b.Fatal("nothing matched")
		}
	}
}

// BenchmarkKEVCatalog decodes a catalog of the real one's size (~1,500 entries).
func BenchmarkKEVCatalog(b *testing.B) {
	var buf bytes.Buffer
	const n = 1500
	fmt.Fprintf(&buf, `{"title":"CISA Catalog of Known Exploited Vulnerabilities","catalogVersion":"2026.11.19","dateReleased":"2026-11-19T17:01:22.4011Z","count":%d,"vulnerabilities":[`, n)
	for i := 0; i < n; i++ {
		if i > 0 {
			buf.WriteByte(',')
		}
		fmt.Fprintf(&buf, `{"cveID":"CVE-2024-%d","vendorProject":"Vendor %d","product":"Product %d","vulnerabilityName":"Vendor Product Remote Code Execution Vulnerability","dateAdded":"2024-01-10","shortDescription":"%s","requiredAction":"Apply mitigations per vendor instructions or discontinue use of the product if mitigations are unavailable.","dueDate":"2024-01-31","knownRansomwareCampaignUse":"Unknown","notes":"https://nvd.nist.gov/vuln/detail/CVE-2024-%d","cwes":["CWE-78"]}`, i, i, i, strings.Repeat("Product contains a command injection vulnerability. ", 4), i)
	}
	buf.WriteString("]}")
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		set := map[string]bool{}
		if _, err := DecodeKEV(bytes.NewReader(data), func(e KEVEntry) error { set[e.CVEID] = true; return nil }); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNVDStream sweeps 20 pages of 2,000 CVEs the way the collector
// does (one page body at a time, decoded as a stream, only matches kept)
// and reports the peak heap above the baseline, sampled while decoding.
func BenchmarkNVDStream(b *testing.B) {
	const pages, perPage = 20, 2000
	page := syntheticNVDPage(b, 0, perPage)
	var inv []cpe.Name
	for i := 0; i < 10; i++ {
		n, _ := cpe.Parse(fmt.Sprintf("cpe:2.3:a:vendor%d:product%d:1.5:*:*:*:*:*:*:*", i*7, i*7))
		inv = append(inv, n)
	}
	linux, _ := cpe.Parse("cpe:2.3:o:linux:linux_kernel:6.1:*:*:*:*:*:*:*")
	inv = append(inv, linux)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		var m runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				runtime.ReadMemStats(&m)
				if m.HeapInuse > peak.Load() {
					peak.Store(m.HeapInuse)
				}
			}
		}
	}()
	b.SetBytes(int64(pages * len(page)))
	b.ReportAllocs()
	b.ResetTimer()
	kept := 0
	for b.Loop() {
		var matched []Advisory
		for p := 0; p < pages; p++ {
			_, err := DecodeNVD(bytes.NewReader(page), func(a Advisory) error {
				for _, c := range a.Configs {
					if len(c.Affected(inv)) > 0 {
						matched = append(matched, a)
						break
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		kept = len(matched)
	}
	b.StopTimer()
	close(stop)
	<-done
	if kept == 0 {
		b.Fatal("nothing matched")
	}
	if p := peak.Load(); p > base {
		b.ReportMetric(float64(p-base)/(1<<20), "peak-heap-MiB")
	}
	b.ReportMetric(float64(len(page))/(1<<20), "page-MiB")
}

// An advisory the feed did not rate is unknown, never "none" (which is a
// rating: CVSS None).
func TestUnratedIsUnknown(t *testing.T) {
	t.Parallel()
	f, err := os.Open(filepath.Join("..", "..", "testdata", "security", "nvd-unrated.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := map[string]string{}
	if _, err := DecodeNVD(f, func(a Advisory) error { got[a.ID] = a.Severity; return nil }); err != nil {
		t.Fatal(err)
	}
	if got["CVE-2026-20001"] != Unknown || got["CVE-2026-20002"] != None {
		t.Errorf("severities %v, want the unrated one unknown and the one rated NONE none", got)
	}
	for in, want := range map[string]string{"": Unknown, "bogus": Unknown, "NONE": None, "Informational": None, "Moderate": Medium} {
		if s := NormalizeSeverity(in); s != want {
			t.Errorf("NormalizeSeverity(%q) = %q, want %q", in, s, want)
		}
	}
}
