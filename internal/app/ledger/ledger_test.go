package ledger

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"golang.org/x/crypto/bcrypt"

	"github.com/bosaimail/bosaimail_exporter/config"
	"github.com/bosaimail/bosaimail_exporter/internal/exemption"
	"github.com/bosaimail/bosaimail_exporter/internal/maintenance"
)

var update = flag.Bool("update", false, "rewrite golden files")

const (
	testWebhookToken = "webhook-token-0123456789"
	testAPIToken     = "api-token-0123456789abcdef"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

type fixture struct {
	t     *testing.T
	srv   *httptest.Server
	store *Store
	reg   *prometheus.Registry
	clock *clock
	path  string
}

// TestUsers writes a users file with the three roles; each password is
// the name followed by "-pw".
func testUsers(t testing.TB) map[string]*User {
	var b strings.Builder
	b.WriteString("users:\n")
	for _, u := range [][3]string{{"uketaku", "受託者 太郎", RoleContractor}, {"ken", "県 花子", RoleApprover}, {"etsuran", "", RoleViewer}} {
		h, err := bcrypt.GenerateFromPassword([]byte(u[0]+"-pw"), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "  - name: %s\n    display_name: %q\n    role: %s\n    password_hash: %q\n", u[0], u[1], u[2], h)
	}
	users, err := ParseUsers("users.yml", []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	return users
}

func newFixture(t *testing.T, tls bool) *fixture {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ledger.db")
	st, err := OpenStore(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Date(2026, 10, 12, 12, 40, 0, 0, config.Tokyo)}
	reg := prometheus.NewRegistry()
	s, err := New(Options{
		Store: st, Users: testUsers(t), WebhookToken: []byte(testWebhookToken), APIToken: []byte(testAPIToken),
		MaxWebhookBytes: 64 << 10, Merge: 5 * time.Minute, ExemptionLead: 5 * time.Minute,
		Services: []string{"delivery", "registration"}, Registry: reg, Now: c.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	var srv *httptest.Server
	if tls {
		srv = httptest.NewTLSServer(s)
	} else {
		srv = httptest.NewServer(s)
	}
	t.Cleanup(func() {
		srv.Close()
		if err := st.Check(); err != nil {
			t.Errorf("database check: %v", err)
		}
		st.Close()
	})
	return &fixture{t: t, srv: srv, store: st, reg: reg, clock: c, path: path}
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (f *fixture) post(body []byte, token string) (int, string) {
	f.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/api/v1/alerts", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (f *fixture) incidents() []*Incident {
	f.t.Helper()
	incs, err := f.store.Incidents(time.Time{}, time.Time{})
	if err != nil {
		f.t.Fatal(err)
	}
	return incs
}

func TestWebhookOpensOneIncidentAndResolves(t *testing.T) {
	f := newFixture(t, false)
	firing := readFile(t, "firing.json")
	for i := 0; i < 3; i++ { // a retry and a second Alertmanager send the same
		if code, body := f.post(firing, testWebhookToken); code != 200 {
			t.Fatalf("firing #%d: HTTP %d %s", i, code, body)
		}
	}
	// The second Alertmanager of a cluster sends it too.
	f.post([]byte(strings.Replace(string(firing), `"externalURL":"http://127.0.0.1:9093"`, `"externalURL":"http://127.0.0.1:9094"`, 1)), testWebhookToken)
	incs := f.incidents()
	if len(incs) != 1 {
		t.Fatalf("%d incidents after the same notification four times from two Alertmanagers, want 1", len(incs))
	}
	if s := incs[0].Alerts[0].Senders; len(s) != 2 || s[0] != "http://127.0.0.1:9093" || s[1] != "http://127.0.0.1:9094" {
		t.Errorf("senders %v, want both Alertmanagers", s)
	}
	inc := incs[0]
	wantStart := time.Date(2026, 10, 12, 3, 10, 7, 123e6, time.UTC)
	if inc.Service != "delivery" || !inc.StartedAt.Equal(wantStart) || !inc.Firing || !inc.ResolvedAt.IsZero() {
		t.Errorf("incident = service %q start %s firing %v resolved %s; want delivery, %s, firing", inc.Service, inc.StartedAt, inc.Firing, inc.ResolvedAt, wantStart)
	}
	if inc.Fields.Event != "delivery が停止しています（計画停止外）" {
		t.Errorf("事象 prefilled with %q, want the alert's summary", inc.Fields.Event)
	}
	if got := testutil.ToFloat64(gaugeOf(t, f.reg, "bosaimail_ledger_incidents_open")); got != 1 {
		t.Errorf("bosaimail_ledger_incidents_open = %v, want 1", got)
	}

	// A warning of the same service joins; one of another service without
	// an open incident is not a 障害票 by itself.
	if code, body := f.post(readFile(t, "warning.json"), testWebhookToken); code != 200 {
		t.Fatalf("warning: HTTP %d %s", code, body)
	}
	incs = f.incidents()
	if len(incs) != 1 || len(incs[0].Alerts) != 2 {
		t.Fatalf("after a warning: %d incidents, alerts %+v; want 1 incident with 2 alerts", len(incs), incs[0].Alerts)
	}

	resolved := readFile(t, "resolved.json")
	for i := 0; i < 2; i++ {
		if code, body := f.post(resolved, testWebhookToken); code != 200 {
			t.Fatalf("resolved: HTTP %d %s", code, body)
		}
	}
	if inc := f.incidents()[0]; !inc.Firing {
		t.Errorf("incident resolved while the joined warning still fires")
	}
	warnResolved := strings.NewReplacer(`"status":"firing","labels"`, `"status":"resolved","labels"`, `"endsAt":"0001-01-01T00:00:00Z"`, `"endsAt":"2026-10-12T03:20:00Z"`).Replace(string(readFile(t, "warning.json")))
	if code, body := f.post([]byte(warnResolved), testWebhookToken); code != 200 {
		t.Fatalf("warning resolved: HTTP %d %s", code, body)
	}
	inc = f.incidents()[0]
	wantEnd := time.Date(2026, 10, 12, 3, 25, 37, 5e8, time.UTC)
	if inc.Firing || !inc.ResolvedAt.Equal(wantEnd) {
		t.Errorf("after every alert resolved: firing %v resolved %s, want resolved at %s", inc.Firing, inc.ResolvedAt, wantEnd)
	}
	// A late retry of the firing notification does not reopen it.
	f.post(firing, testWebhookToken)
	if inc := f.incidents()[0]; inc.Firing || len(f.incidents()) != 1 {
		t.Errorf("a late retry of the firing notification reopened or duplicated the incident")
	}
	_, hist, _ := f.store.Incident(inc.ID)
	var fields []string
	for _, h := range hist {
		fields = append(fields, h.Field)
	}
	if strings.Join(fields, ",") != "起票,アラート追加,復旧" {
		t.Errorf("history %v, want 起票, アラート追加, 復旧", fields)
	}

	// A new fault of the service within the merge window joins; later
	// ones open a new 障害票.
	again := strings.ReplaceAll(string(firing), "2026-10-12T03:10:07.123Z", "2026-10-12T03:28:00Z")
	f.post([]byte(again), testWebhookToken)
	if n := len(f.incidents()); n != 1 {
		t.Errorf("a fault 3 minutes after recovery made %d incidents, want it joined to the first", n)
	}
	later := strings.ReplaceAll(string(firing), "2026-10-12T03:10:07.123Z", "2026-10-12T05:00:00Z")
	againResolved := strings.NewReplacer(`"status":"firing","alerts":[{"status":"firing"`, `"status":"resolved","alerts":[{"status":"resolved"`, `"endsAt":"0001-01-01T00:00:00Z"`, `"endsAt":"2026-10-12T03:30:00Z"`).Replace(again)
	f.post([]byte(againResolved), testWebhookToken)
	f.post([]byte(later), testWebhookToken)
	if n := len(f.incidents()); n != 2 {
		t.Errorf("a fault long after recovery: %d incidents, want 2", n)
	}
}

func gaugeOf(t *testing.T, reg *prometheus.Registry, name string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.Metric) == 1 {
			return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: "x"}, func() float64 { return mf.Metric[0].GetGauge().GetValue() })
		}
	}
	t.Fatalf("no metric %s", name)
	return nil
}

func TestWebhookBadInputLeavesStoreUntouched(t *testing.T) {
	f := newFixture(t, false)
	firing := string(readFile(t, "firing.json"))
	big := `{"version":"4","status":"firing","alerts":[` + strings.Repeat(`{"status":"firing","labels":{"alertname":"X","severity":"critical"},"startsAt":"2026-10-12T03:10:00Z"},`, 2000) + `{}]}`
	cases := []struct {
		name, body, token string
		code              int
	}{
		{"no token", firing, "", 401},
		{"wrong token", firing, "nope-nope-nope-nope", 401},
		{"API token is not the webhook token", firing, testAPIToken, 401},
		{"oversized", big, testWebhookToken, 413},
		{"not JSON", "alertname=x", testWebhookToken, 400},
		{"truncated", firing[:len(firing)/2], testWebhookToken, 400},
		{"two objects", firing + firing, testWebhookToken, 400},
		{"wrong version", strings.Replace(firing, `"version":"4"`, `"version":"3"`, 1), testWebhookToken, 400},
		{"no alerts", `{"version":"4","alerts":[]}`, testWebhookToken, 400},
		{"bad status", strings.Replace(firing, `"alerts":[{"status":"firing"`, `"alerts":[{"status":"burning"`, 1), testWebhookToken, 400},
		{"no alertname", strings.Replace(firing, `"alertname":"BosaiMailServiceDown","prefecture"`, `"prefecture"`, 1), testWebhookToken, 400},
		{"no startsAt", strings.Replace(firing, `"startsAt":"2026-10-12T03:10:07.123Z"`, `"startsAt":"0001-01-01T00:00:00Z"`, 1), testWebhookToken, 400},
		{"bad label name", strings.Replace(firing, `"prefecture":"demo"`, `"":"demo"`, 1), testWebhookToken, 400},
		// A good alert followed by a bad one: nothing of the payload is kept.
		{"one bad alert", strings.Replace(firing, `}],"groupLabels"`, `},{"status":"resolved","labels":{"alertname":"Y"},"startsAt":"2026-10-12T03:10:00Z"}],"groupLabels"`, 1), testWebhookToken, 400},
	}
	before, _ := os.ReadFile(f.path)
	for _, c := range cases {
		code, body := f.post([]byte(c.body), c.token)
		if code != c.code {
			t.Errorf("%s: HTTP %d (%s), want %d", c.name, code, strings.TrimSpace(body), c.code)
		}
	}
	if n := len(f.incidents()); n != 0 {
		t.Errorf("%d incidents after refused payloads, want none", n)
	}
	after, _ := os.ReadFile(f.path)
	if !bytes.Equal(before, after) {
		t.Errorf("the database file changed although every payload was refused")
	}
}

// browser is a client with a cookie jar that reads the CSRF field of the
// pages it gets.
type browser struct {
	t      *testing.T
	f      *fixture
	c      *http.Client
	lastTk string
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func (f *fixture) browser() *browser {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Transport: f.srv.Client().Transport, Jar: jar}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &browser{t: f.t, f: f, c: c}
}

func (b *browser) get(path string) (int, string) {
	b.t.Helper()
	resp, err := b.c.Get(b.f.srv.URL + path)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if m := csrfField.FindSubmatch(body); m != nil {
		b.lastTk = string(m[1])
	}
	if resp.StatusCode == http.StatusSeeOther {
		return resp.StatusCode, resp.Header.Get("Location")
	}
	return resp.StatusCode, string(body)
}

// postForm posts with the last CSRF token seen unless the form has one.
func (b *browser) postForm(path string, v url.Values) (int, string) {
	b.t.Helper()
	if _, ok := v["csrf_token"]; !ok && b.lastTk != "" {
		v.Set("csrf_token", b.lastTk)
	}
	req, _ := http.NewRequest(http.MethodPost, b.f.srv.URL+path, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	// A browser sends its origin; gorilla/csrf checks it over HTTPS.
	req.Header.Set("Referer", b.f.srv.URL+"/")
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusSeeOther {
		return resp.StatusCode, resp.Header.Get("Location")
	}
	return resp.StatusCode, string(body)
}

func (b *browser) login(user string) {
	b.t.Helper()
	b.get("/login")
	code, loc := b.postForm("/login", url.Values{"username": {user}, "password": {user + "-pw"}, "next": {"/"}})
	if code != http.StatusSeeOther || loc != "/" {
		b.t.Fatalf("login %s: HTTP %d %s", user, code, loc)
	}
}

func TestWebEditApproveAndExports(t *testing.T) {
	for _, tls := range []bool{false, true} {
		t.Run(map[bool]string{false: "http", true: "https"}[tls], func(t *testing.T) {
			testWebEditApproveAndExports(t, tls)
		})
	}
}

func testWebEditApproveAndExports(t *testing.T, tls bool) {
	f := newFixture(t, tls)
	f.post(readFile(t, "firing.json"), testWebhookToken)
	f.post(readFile(t, "resolved.json"), testWebhookToken)
	id := f.incidents()[0].ID
	page := fmt.Sprintf("/incidents/%d", id)

	// No session: pages redirect to the login, forms are refused.
	anon := f.browser()
	if code, loc := anon.get(page); code != http.StatusSeeOther || !strings.HasPrefix(loc, "/login") {
		t.Errorf("GET %s without a session: HTTP %d %s, want a redirect to /login", page, code, loc)
	}
	anon.get("/login")
	if code, _ := anon.postForm(page, url.Values{"version": {"0"}, "cause": {"x"}}); code != http.StatusUnauthorized {
		t.Errorf("POST %s without a session: HTTP %d, want 401", page, code)
	}
	if code, body := anon.postForm("/login", url.Values{"username": {"uketaku"}, "password": {"wrong"}}); code != http.StatusUnauthorized || !strings.Contains(body, "パスワードが違います") {
		t.Errorf("wrong password: HTTP %d", code)
	}

	c := f.browser()
	c.login("uketaku")
	code, body := c.get(page)
	if code != 200 || !strings.Contains(body, "発生日時") || !strings.Contains(body, "2026-10-12 12:10") || !strings.Contains(body, `id="service">delivery`) {
		t.Fatalf("incident page: HTTP %d\n%s", code, body)
	}
	edit := url.Values{"version": {"0"}, "event": {"配信 API が応答しない"}, "cause": {"回線事業者の中継装置故障"}, "action": {"回線事業者が装置を交換"},
		"status": {"完了"}, "responsibility": {"回線事業者"}, "exemption": {"通信回線障害"}, "prevention": {"冗長回線の検討"}}
	// Without the CSRF token the form is refused and nothing changes.
	noTk := url.Values{"csrf_token": {""}}
	for k, v := range edit {
		noTk[k] = v
	}
	if code, _ := c.postForm(page, noTk); code != http.StatusForbidden {
		t.Errorf("edit without CSRF token: HTTP %d, want 403", code)
	}
	forged := url.Values{"csrf_token": {"AAAA" + c.lastTk[4:]}}
	for k, v := range edit {
		forged[k] = v
	}
	if code, _ := c.postForm(page, forged); code != http.StatusForbidden {
		t.Errorf("edit with a forged CSRF token: HTTP %d, want 403", code)
	}
	if inc, _, _ := f.store.Incident(id); inc.Fields.Cause != "" {
		t.Fatalf("a refused form changed the incident: %+v", inc.Fields)
	}
	if code, loc := c.postForm(page, edit); code != http.StatusSeeOther {
		t.Fatalf("edit: HTTP %d %s", code, loc)
	}
	inc, hist, _ := f.store.Incident(id)
	if inc.Fields.Cause != "回線事業者の中継装置故障" || inc.Fields.Responsibility != "回線事業者" || inc.Version != 1 {
		t.Errorf("after the edit: %+v version %d", inc.Fields, inc.Version)
	}
	last := hist[len(hist)-1]
	if last.User != "受託者 太郎" || last.Field != "再発防止策" || last.New != "冗長回線の検討" {
		t.Errorf("last history entry %+v", last)
	}
	// An edit made on the old version is refused: the first one is kept.
	stale := url.Values{}
	for k, v := range edit {
		stale[k] = v
	}
	stale.Set("cause", "上書き")
	if code, _ := c.postForm(page, stale); code != http.StatusConflict {
		t.Errorf("stale edit: HTTP %d, want 409", code)
	}
	bad := url.Values{}
	for k, v := range edit {
		bad[k] = v
	}
	bad.Set("version", "1")
	bad.Set("responsibility", "誰か")
	if code, body := c.postForm(page, bad); code != http.StatusBadRequest || !strings.Contains(body, "責任区分") {
		t.Errorf("unknown 責任区分: HTTP %d", code)
	}

	// The contractor requests the exemption; a viewer and the contractor
	// cannot decide it; the approver approves.
	c.get(page)
	if code, loc := c.postForm(page+"/exemption", url.Values{"category": {"通信回線障害"}, "start": {"2026-10-12T12:05"}, "end": {"2026-10-12T12:26"}, "reason": {"回線事業者の中継装置故障"}}); code != http.StatusSeeOther {
		t.Fatalf("exemption request: HTTP %d %s", code, loc)
	}
	pending, _ := f.store.Approvals(KindExemption, StatePending)
	if len(pending) != 1 {
		t.Fatalf("%d pending exemptions, want 1", len(pending))
	}
	aid := fmt.Sprintf("/approvals/%d", pending[0].ID)
	c.get("/approvals")
	if code, _ := c.postForm(aid, url.Values{"decision": {"approve"}}); code != http.StatusForbidden {
		t.Errorf("the contractor approving: HTTP %d, want 403", code)
	}
	v := f.browser()
	v.login("etsuran")
	v.get(page)
	if code, _ := v.postForm(page, url.Values{"version": {"1"}, "cause": {"x"}}); code != http.StatusForbidden {
		t.Errorf("a viewer editing: HTTP %d, want 403", code)
	}
	if got := testutil.ToFloat64(gaugeOf(t, f.reg, "bosaimail_ledger_incidents")); got != 1 {
		t.Errorf("bosaimail_ledger_incidents = %v", got)
	}
	a := f.browser()
	a.login("ken")
	a.get("/approvals")
	if code, loc := a.postForm(aid, url.Values{"decision": {"approve"}, "comment": {"回線事業者の報告書を確認"}}); code != http.StatusSeeOther {
		t.Fatalf("approve: HTTP %d %s", code, loc)
	}
	if code, _ := a.postForm(aid, url.Values{"decision": {"reject"}}); code != http.StatusConflict {
		t.Errorf("deciding twice: HTTP %d, want 409", code)
	}
	// The approver marks 重要障害 and cannot change the contractor's text.
	a.get(page)
	if code, _ := a.postForm(page, url.Values{"version": {"1"}, "important": {"on"}, "cause": {"県が書き換え"}}); code != http.StatusSeeOther {
		t.Errorf("approver marking 重要障害: HTTP %d", code)
	}
	if inc, _, _ := f.store.Incident(id); !inc.Fields.Important || inc.Fields.Cause != "回線事業者の中継装置故障" {
		t.Errorf("after the approver's edit: %+v", inc.Fields)
	}

	// A planned stop requested and approved appears in the feed.
	c.get("/approvals")
	if code, loc := c.postForm("/approvals", url.Values{"kind": {"maintenance"}, "service": {"delivery"}, "start": {"2026-10-20T01:00"}, "end": {"2026-10-20T03:00"}, "reason": {"OS パッチ適用"}}); code != http.StatusSeeOther {
		t.Fatalf("planned stop request: HTTP %d %s", code, loc)
	}
	c.postForm("/approvals", url.Values{"kind": {"confirmation"}, "service": {"registration"}, "start": {"2026-10-21T01:00"}, "end": {"2026-10-21T01:30"}, "reason": {"アクセスログで応答を確認"}})
	if code, _ := c.postForm("/approvals", url.Values{"kind": {"maintenance"}, "service": {"unknown"}, "start": {"2026-10-20T01:00"}, "end": {"2026-10-20T00:00"}, "reason": {"x"}}); code != http.StatusBadRequest {
		t.Errorf("bad planned stop: HTTP %d, want 400", code)
	}
	pending, _ = f.store.Approvals("", StatePending)
	a.get("/approvals")
	for _, p := range pending {
		if code, _ := a.postForm(fmt.Sprintf("/approvals/%d", p.ID), url.Values{"decision": {"approve"}}); code != http.StatusSeeOther {
			t.Errorf("approving %d: HTTP %d", p.ID, code)
		}
	}

	// Feeds need the API token (or a session).
	get := func(path, token string) (int, []byte) {
		req, _ := http.NewRequest(http.MethodGet, f.srv.URL+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := f.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if code, _ := get("/feeds/maintenance.ics", ""); code != 401 {
		t.Errorf("feed without token: HTTP %d, want 401", code)
	}
	code, ics := get("/feeds/maintenance.ics?token="+testAPIToken, "")
	if code != 200 {
		t.Fatalf("ics: HTTP %d", code)
	}
	events, err := maintenance.ParseICS(bytes.NewReader(ics), config.Tokyo)
	if err != nil {
		t.Fatalf("the exporter's ParseICS refuses the feed: %v\n%s", err, ics)
	}
	if len(events) != 1 || !events[0].Start.Equal(time.Date(2026, 10, 20, 1, 0, 0, 0, config.Tokyo)) || !events[0].End.Equal(time.Date(2026, 10, 20, 3, 0, 0, 0, config.Tokyo)) {
		t.Errorf("events %+v", events)
	}
	for _, want := range []string{"X-BOSAIMAIL-APPROVED-BY:県 花子", "X-BOSAIMAIL-APPROVED-ON:2026-10-12", "X-BOSAIMAIL-SERVICE:delivery"} {
		if !strings.Contains(string(ics), want) {
			t.Errorf("feed lacks %q:\n%q", want, ics)
		}
	}
	if _, other := get("/feeds/maintenance.ics?service=registration", testAPIToken); strings.Contains(string(other), "VEVENT") {
		t.Errorf("the feed of registration has the planned stop of delivery")
	}
	code, yml := get("/feeds/exemptions.yaml", testAPIToken)
	if code != 200 {
		t.Fatalf("exemptions: HTTP %d", code)
	}
	ex, err := exemption.Parse("ledger", yml)
	if err != nil {
		t.Fatalf("internal/exemption refuses the export: %v\n%s", err, yml)
	}
	if len(ex.Exemptions) != 1 {
		t.Fatalf("exemptions %+v", ex.Exemptions)
	}
	e := ex.Exemptions[0]
	if e.Service != "delivery" || e.Category != "通信回線障害" || e.ApprovedBy != "県 花子" || !e.Start.Equal(time.Date(2026, 10, 12, 12, 5, 0, 0, config.Tokyo)) || e.ApprovedOn.Format("2006-01-02") != "2026-10-12" {
		t.Errorf("exemption %+v", e)
	}
	if _, withConf := get("/feeds/exemptions.yaml?confirmations=1", testAPIToken); !strings.Contains(string(withConf), "confirmations:") || !strings.Contains(string(withConf), "evidence: アクセスログで応答を確認") {
		t.Errorf("confirmations missing:\n%s", withConf)
	}
	code, js := get("/api/v1/incidents?from=2026-10-01T00:00:00%2B09:00&to=2026-11-01T00:00:00%2B09:00", testAPIToken)
	if code != 200 || !strings.Contains(string(js), "回線事業者の中継装置故障") {
		t.Errorf("API: HTTP %d %s", code, js)
	}
}

func TestUsersFileErrors(t *testing.T) {
	_, err := ParseUsers("users.yml", []byte("users:\n  - name: a\n    role: boss\n    password_hash: plain\n  - name: a\n    role: viewer\n    password_hash: plain\n"))
	if err == nil {
		t.Fatal("a bad users file was accepted")
	}
	for _, want := range []string{"users[0].role", "users[0].password_hash", "users[1].name"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %s: %v", want, err)
		}
	}
}

func FuzzParseMessage(f *testing.F) {
	for _, n := range []string{"firing.json", "resolved.json", "warning.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseMessage(bytes.NewReader(b))
		if err != nil {
			return
		}
		st, err := OpenStore(filepath.Join(t.TempDir(), "f.db"), time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if _, err := st.Ingest(m, 5*time.Minute, time.Now()); err != nil {
			t.Fatalf("a payload that parsed failed to store: %v", err)
		}
	})
}

func TestEmptyFeedsParse(t *testing.T) {
	var b bytes.Buffer
	if err := WriteICS(&b, nil, "", "h", time.Now()); err != nil {
		t.Fatal(err)
	}
	if ev, err := maintenance.ParseICS(&b, config.Tokyo); err != nil || len(ev) != 0 {
		t.Errorf("empty feed: %v events, %v", ev, err)
	}
}

func FuzzParseUsers(f *testing.F) {
	f.Add([]byte("users:\n  - name: a\n    role: viewer\n    password_hash: \"$2a$04$abcdefghijklmnopqrstuu5Pn1nDqHmoSl6Yb8HyEqfX9o0b9KcIW\"\n"))
	f.Add([]byte("users: []\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		users, err := ParseUsers("users.yml", b)
		if err == nil && len(users) == 0 {
			t.Fatal("a users file without users was accepted")
		}
	})
}

// TestFeedGolden keeps internal/maintenance/testdata/ledger-feed.ics equal
// to what the ledger serves, so the exporter's iCalendar parser is tested
// against the real feed in its own package (-update rewrites it).
func TestFeedGolden(t *testing.T) {
	at := time.Date(2026, 10, 12, 12, 40, 0, 0, config.Tokyo)
	stops := []*Approval{
		{ID: 3, Kind: KindMaintenance, State: StateApproved, Service: "delivery", Start: time.Date(2026, 10, 20, 1, 0, 0, 0, config.Tokyo), End: time.Date(2026, 10, 20, 3, 0, 0, 0, config.Tokyo),
			Reason: "OS パッチ適用, 再起動; 確認", RequestedBy: "受託者 太郎", RequestedAt: at, DecidedBy: "県 花子", DecidedAt: at},
		{ID: 2, Kind: KindMaintenance, State: StateApproved, Service: "registration", Start: time.Date(2026, 10, 21, 22, 0, 0, 0, config.Tokyo), End: time.Date(2026, 10, 22, 0, 30, 0, 0, config.Tokyo),
			Reason: "クラウド事業者のメンテナンス", RequestedBy: "受託者 太郎", RequestedAt: at, DecidedBy: "県 花子", DecidedAt: at},
		{ID: 1, Kind: KindMaintenance, State: StateRejected, Service: "delivery", Start: at, End: at.Add(time.Hour), Reason: "却下された申請"},
	}
	var b bytes.Buffer
	if err := WriteICS(&b, stops, "", "ledger.example.jp", at); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("..", "..", "maintenance", "testdata", "ledger-feed.ics")
	if *update {
		if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(want, b.Bytes()) {
		t.Errorf("%s differs from the served feed (go test -run TestFeedGolden -update):\n%s", golden, b.String())
	}
}

// TestRecordPathRefusals pins what the handlers of one record named by
// its path (/incidents/{id}, /approvals/{id}) answer before their own
// work: the refusals by role, the id that is not one, the record that does
// not exist, and which of them wins when a request has several faults
// (each handler keeps its own order).
func TestRecordPathRefusals(t *testing.T) {
	f := newFixture(t, false)
	f.post(readFile(t, "firing.json"), testWebhookToken)
	id := f.incidents()[0].ID
	page := fmt.Sprintf("/incidents/%d", id)
	const missing = 999999
	gone := fmt.Sprintf("/incidents/%d", missing)
	users := map[string]*browser{}
	for _, name := range []string{"uketaku", "ken", "etsuran"} {
		b := f.browser()
		b.login(name)
		b.get("/")
		users[name] = b
	}
	exemption := url.Values{"category": {"通信回線障害"}, "start": {"2026-10-12T12:05"}, "end": {"2026-10-12T12:26"}, "reason": {"理由"}}
	for _, tc := range []struct {
		user, method, path string
		form               url.Values
		code               int
		want               string
	}{
		{"etsuran", "GET", page, nil, http.StatusOK, "発生日時"},
		{"etsuran", "GET", "/incidents/x", nil, http.StatusNotFound, "障害票が見つかりません。"},
		{"etsuran", "GET", gone, nil, http.StatusNotFound, fmt.Sprintf("障害票 %d はありません。", missing)},

		{"uketaku", "POST", "/incidents/x", url.Values{"version": {"0"}}, http.StatusNotFound, "障害票が見つかりません。"},
		{"etsuran", "POST", "/incidents/x", url.Values{"version": {"0"}}, http.StatusNotFound, "障害票が見つかりません。"},
		{"etsuran", "POST", gone, url.Values{"version": {"0"}}, http.StatusForbidden, "閲覧のみの利用者は障害票を編集できません。"},
		{"etsuran", "POST", page, url.Values{"version": {"0"}}, http.StatusForbidden, "閲覧のみの利用者は障害票を編集できません。"},
		{"uketaku", "POST", gone, url.Values{}, http.StatusBadRequest, "version がありません。"},
		{"ken", "POST", gone, url.Values{"version": {"0"}}, http.StatusNotFound, fmt.Sprintf("障害票 %d はありません。", missing)},
		{"uketaku", "POST", gone, url.Values{"version": {"0"}}, http.StatusNotFound, fmt.Sprintf("障害票 %d はありません。", missing)},

		{"ken", "POST", "/incidents/x/exemption", exemption, http.StatusForbidden, "免責の申請は受託者が行います。"},
		{"etsuran", "POST", page + "/exemption", exemption, http.StatusForbidden, "免責の申請は受託者が行います。"},
		{"uketaku", "POST", "/incidents/x/exemption", exemption, http.StatusNotFound, "障害票が見つかりません。"},
		{"uketaku", "POST", gone + "/exemption", url.Values{}, http.StatusNotFound, fmt.Sprintf("障害票 %d はありません。", missing)},

		{"uketaku", "POST", "/approvals/x", url.Values{"decision": {"approve"}}, http.StatusForbidden, "承認・却下は県の承認者が行います。"},
		{"etsuran", "POST", fmt.Sprintf("/approvals/%d", missing), url.Values{"decision": {"approve"}}, http.StatusForbidden, "承認・却下は県の承認者が行います。"},
		{"ken", "POST", "/approvals/x", url.Values{}, http.StatusNotFound, "申請が見つかりません。"},
		{"ken", "POST", fmt.Sprintf("/approvals/%d", missing), url.Values{}, http.StatusBadRequest, "承認か却下かを選んでください。"},
		{"ken", "POST", fmt.Sprintf("/approvals/%d", missing), url.Values{"decision": {"approve"}}, http.StatusNotFound, fmt.Sprintf("申請 %d はありません。", missing)},
	} {
		b := users[tc.user]
		var code int
		var body string
		if tc.method == "GET" {
			code, body = b.get(tc.path)
		} else {
			// postForm adds the user's CSRF token to the form it is given.
			code, body = b.postForm(tc.path, maps.Clone(tc.form))
		}
		if code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("%s %s %s: HTTP %d, want %d with %q\n%s", tc.user, tc.method, tc.path, code, tc.code, tc.want, body)
		}
	}
	if inc, _, _ := f.store.Incident(id); inc.Version != 0 {
		t.Errorf("a refused request changed the incident: version %d", inc.Version)
	}
	if all, _ := f.store.Approvals("", ""); len(all) != 0 {
		t.Errorf("a refused request made %d approvals", len(all))
	}
}

// Password guessing is slowed per (address, user): after loginBurst
// failures even the right password is refused until a token comes back,
// another user from the same address is not affected, and the refusal
// says when to come back.
func TestLoginThrottled(t *testing.T) {
	f := newFixture(t, false)
	b := f.browser()
	b.get("/login")
	for i := 0; i < loginBurst; i++ {
		if code, _ := b.postForm("/login", url.Values{"username": {"ken"}, "password": {"guess"}, "next": {"/"}}); code != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: HTTP %d, want 401", i+1, code)
		}
	}
	code, body := b.postForm("/login", url.Values{"username": {"ken"}, "password": {"ken-pw"}, "next": {"/"}})
	if code != http.StatusTooManyRequests || !strings.Contains(body, "ログインの失敗が続いたため") {
		t.Fatalf("after %d failures the right password: HTTP %d, want 429 with the reason", loginBurst, code)
	}
	// Another user from the same address logs in.
	f.browser().login("uketaku")
	// A token comes back after loginEvery: one more attempt is allowed.
	f.clock.Set(f.clock.Now().Add(loginEvery))
	if code, loc := b.postForm("/login", url.Values{"username": {"ken"}, "password": {"ken-pw"}, "next": {"/"}}); code != http.StatusSeeOther || loc != "/" {
		t.Fatalf("a minute later the right password: HTTP %d %s, want 303 to /", code, loc)
	}
}

func TestLoginLimiterBounded(t *testing.T) {
	now := time.Date(2026, 10, 12, 12, 0, 0, 0, time.UTC)
	l := newLoginLimiter(func() time.Time { return now })
	for i := 0; i < loginMaxEntries*2+7; i++ {
		l.failed(fmt.Sprintf("10.0.%d.%d\x00user%d", i/256, i%256, i))
		if len(l.entries) > loginMaxEntries {
			t.Fatalf("%d entries after %d distinct pairs, bound %d", len(l.entries), i+1, loginMaxEntries)
		}
	}
	// A pair at its limit keeps waiting, whatever else happens.
	for i := 0; i < loginBurst; i++ {
		l.failed("a\x00b")
	}
	if w := l.wait("a\x00b"); w <= 0 || w > loginEvery {
		t.Errorf("wait after %d failures = %s, want (0, %s]", loginBurst, w, loginEvery)
	}
	l.succeeded("a\x00b")
	if w := l.wait("a\x00b"); w != 0 {
		t.Errorf("wait after a success = %s, want 0", w)
	}
}

// Logging out ends every session of the user issued until then, a copied
// cookie included; a later login works.
func TestLogoutRevokesCopiedSession(t *testing.T) {
	f := newFixture(t, false)
	a := f.browser()
	a.login("ken")
	// Another client holding a copy of the cookie.
	b := f.browser()
	u, _ := url.Parse(f.srv.URL)
	b.c.Jar.SetCookies(u, a.c.Jar.Cookies(u))
	if code, _ := b.get("/"); code != http.StatusOK {
		t.Fatalf("copied session before logout: HTTP %d, want 200", code)
	}
	a.get("/")
	if code, loc := a.postForm("/logout", url.Values{}); code != http.StatusSeeOther || loc != "/login" {
		t.Fatalf("logout: HTTP %d %s", code, loc)
	}
	if code, loc := b.get("/"); code != http.StatusSeeOther || !strings.HasPrefix(loc, "/login") {
		t.Errorf("copied session after logout: HTTP %d %s, want a redirect to the login", code, loc)
	}
	// Another user's session is untouched.
	c := f.browser()
	c.login("uketaku")
	f.clock.Set(f.clock.Now().Add(time.Second))
	if code, _ := c.get("/"); code != http.StatusOK {
		t.Errorf("another user's session after ken's logout: HTTP %d", code)
	}
	a.login("ken")
	if code, _ := a.get("/"); code != http.StatusOK {
		t.Errorf("a login after the logout: HTTP %d, want 200", code)
	}
}
