package ledger

import (
	"embed"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-kit/log/level"
	"github.com/gorilla/csrf"

	"github.com/bosaimail/bosaimail_exporter/internal/exemption"
)

//go:embed templates/*.html
var templateFS embed.FS

// Choices of the 障害票 form.
var (
	// Responsibilities is 責任区分: who caused the fault (第4 1(2), 第3 3(2)).
	Responsibilities = []string{"受託者", "クラウド事業者", "回線事業者", "県", "その他"}
	// Statuses is 状況.
	Statuses = []string{"対応中", "経過観察", "復旧済", "完了"}
)

// exemptionCategories are the 免責区分 of 第5 2 (1)-(3), in the contract's
// order.
func exemptionCategories() []string {
	out := make([]string, 0, len(exemption.Categories))
	for k := range exemption.Categories {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := exemption.Categories[out[i]], exemption.Categories[out[j]]
		if a[:len("免責条件(1)")] != b[:len("免責条件(1)")] {
			return a < b
		}
		return out[i] < out[j]
	})
	return out
}

var funcs = template.FuncMap{
	"jst": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.In(jst).Format("2006-01-02 15:04")
	},
	"local": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.In(jst).Format("2006-01-02T15:04")
	},
	"state":    stateJa,
	"kind":     kindJa,
	"clause":   func(c string) string { return exemption.Categories[c] },
	"duration": durationJa,
}

var pages = func() map[string]*template.Template {
	out := map[string]*template.Template{}
	for _, p := range []string{"login", "index", "incident", "approvals", "error"} {
		out[p] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+p+".html"))
	}
	return out
}()

func kindJa(k string) string {
	switch k {
	case KindExemption:
		return "免責"
	case KindMaintenance:
		return "計画停止"
	case KindConfirmation:
		return "稼働確認"
	}
	return k
}

func durationJa(from, to time.Time) string {
	if from.IsZero() || to.IsZero() {
		return "—"
	}
	d := to.Sub(from).Round(time.Minute)
	if d < time.Hour {
		return fmt.Sprintf("%d分", int(d.Minutes()))
	}
	return fmt.Sprintf("%d時間%d分", int(d.Hours()), int(d.Minutes())%60)
}

type pageData struct {
	Title     string
	User      *User
	CSRF      template.HTML
	Flash     string
	Error     string
	Next      string
	Data      any
	Choices   map[string][]string
	Services  []string
	CanEdit   bool
	CanDecide bool
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, code int, page, title string, data any, flash string) {
	u := currentUser(r)
	pd := pageData{
		Title: title, User: u, CSRF: csrf.TemplateField(r), Flash: flash, Data: data,
		Choices: map[string][]string{
			"responsibility": Responsibilities, "status": Statuses, "exemption": exemptionCategories(),
		},
		Services: s.o.Services,
	}
	if u != nil {
		pd.CanEdit = u.Role == RoleContractor
		pd.CanDecide = u.Role == RoleApprover
	}
	if page == "login" {
		pd.Next = r.URL.Query().Get("next")
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	if err := pages[page].Execute(w, pd); err != nil {
		level.Error(s.o.Logger).Log("msg", "rendering a page", "page", page, "err", err)
	}
}

func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, code int, msg string) {
	s.render(w, r, code, "error", "エラー", msg, "")
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

// safeNext keeps redirects after login on this site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.Contains(next, "\\") {
		return "/"
	}
	return next
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "login", "ログイン", nil, "")
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	key := loginKey(r, r.PostFormValue("username"))
	if wait := s.logins.wait(key); wait > 0 {
		// Refused before bcrypt: guessing costs the guesser time, not us CPU.
		level.Warn(s.o.Logger).Log("msg", "login refused: too many failures", "user", r.PostFormValue("username"), "remote", r.RemoteAddr)
		secs := int(wait.Round(time.Second) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
		s.render(w, r, http.StatusTooManyRequests, "login", "ログイン", fmt.Sprintf("ログインの失敗が続いたため、%d秒後まで受け付けません。", max(secs, 1)), "")
		return
	}
	u := authenticate(*s.users.Load(), r.PostFormValue("username"), r.PostFormValue("password"))
	if u == nil {
		s.logins.failed(key)
		level.Warn(s.o.Logger).Log("msg", "login failed", "user", r.PostFormValue("username"), "remote", r.RemoteAddr)
		s.render(w, r, http.StatusUnauthorized, "login", "ログイン", "ユーザー名またはパスワードが違います。", "")
		return
	}
	s.logins.succeeded(key)
	if err := s.sess.set(w, r, u.Name, s.o.Now()); err != nil {
		s.errorPage(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	level.Info(s.o.Logger).Log("msg", "login", "user", u.Name, "role", u.Role)
	http.Redirect(w, r, safeNext(r.PostFormValue("next")), http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	// Every session of the user issued until now ends, not only this
	// browser's cookie.
	if u := s.sessionUser(r); u != nil {
		if err := s.o.Store.SetLoggedOut(u.Name, s.o.Now()); err != nil {
			s.errorPage(w, r, http.StatusInternalServerError, err.Error())
			return
		}
		level.Info(s.o.Logger).Log("msg", "logout", "user", u.Name)
	}
	s.sess.clear(w, r)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

type indexData struct {
	Open, Recent []*Incident
	Pending      int
}

func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	incs, err := s.o.Store.Incidents(s.o.Now().AddDate(0, 0, -90), time.Time{})
	if err != nil {
		s.errorPage(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	var d indexData
	for _, i := range incs {
		if i.Firing {
			d.Open = append(d.Open, i)
		} else {
			d.Recent = append(d.Recent, i)
		}
	}
	pending, err := s.o.Store.Approvals("", StatePending)
	if err != nil {
		s.errorPage(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	d.Pending = len(pending)
	s.render(w, r, http.StatusOK, "index", "障害票一覧", d, r.URL.Query().Get("msg"))
}

type incidentData struct {
	Incident  *Incident
	History   []Change
	Approvals []*Approval
	// Defaults of the exemption request.
	ExStart, ExEnd time.Time
}

// recordID is how every handler of one record named by its path
// (/incidents/{id}, /approvals/{id}) begins. A handler limited to one role
// (role not "") refuses the others first, with 403 and its own Japanese
// refusal; then the id in the path must be a number, else 404 naming the
// record (noun: 障害票, 申請). On false the answer is written and the
// handler stops. The edit handler passes role "" and refuses viewers
// itself, after the id: a viewer's post to a path that names no 障害票 has
// always been 404 there, and a refactor must not change an answer.
func (s *Server) recordID(w http.ResponseWriter, r *http.Request, noun, role, refusal string) (uint64, bool) {
	if role != "" && currentUser(r).Role != role {
		s.refuseRole(w, r, refusal)
		return 0, false
	}
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil {
		s.errorPage(w, r, http.StatusNotFound, noun+"が見つかりません。")
		return 0, false
	}
	return id, true
}

// incidentToChange reads 障害票 id for a handler about to change it or
// file a request on it.
func (s *Server) incidentToChange(w http.ResponseWriter, r *http.Request, id uint64) (*Incident, bool) {
	inc, _, ok := s.incidentWithHistory(w, r, id)
	return inc, ok
}

// incidentWithHistory reads a 障害票: 404 when there is none, 500 when the
// store cannot be read (a broken store is not an unknown number).
func (s *Server) incidentWithHistory(w http.ResponseWriter, r *http.Request, id uint64) (*Incident, []Change, bool) {
	inc, hist, err := s.o.Store.Incident(id)
	if errors.Is(err, ErrNotFound) {
		s.errorPage(w, r, http.StatusNotFound, fmt.Sprintf("障害票 %d はありません。", id))
		return nil, nil, false
	}
	if err != nil {
		s.errorPage(w, r, http.StatusInternalServerError, err.Error())
		return nil, nil, false
	}
	return inc, hist, true
}

func (s *Server) incidentPage(w http.ResponseWriter, r *http.Request) {
	id, ok := s.recordID(w, r, "障害票", "", "")
	if !ok {
		return
	}
	inc, hist, ok := s.incidentWithHistory(w, r, id)
	if !ok {
		return
	}
	all, err := s.o.Store.Approvals(KindExemption, "")
	if err != nil {
		s.errorPage(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	d := incidentData{Incident: inc, History: hist}
	for _, a := range all {
		if a.Incident == id {
			d.Approvals = append(d.Approvals, a)
		}
	}
	d.ExStart = inc.StartedAt.Add(-s.o.ExemptionLead).Truncate(time.Minute)
	d.ExEnd = inc.ResolvedAt
	if !d.ExEnd.IsZero() {
		d.ExEnd = d.ExEnd.Truncate(time.Minute).Add(time.Minute)
	}
	s.render(w, r, http.StatusOK, "incident", fmt.Sprintf("障害票 %d", id), d, r.URL.Query().Get("msg"))
}

func (s *Server) refuseRole(w http.ResponseWriter, r *http.Request, what string) {
	s.m.refused.WithLabelValues("role").Inc()
	s.errorPage(w, r, http.StatusForbidden, what)
}

func (s *Server) editIncident(w http.ResponseWriter, r *http.Request) {
	u := currentUser(r)
	id, ok := s.recordID(w, r, "障害票", "", "")
	if !ok {
		return
	}
	if u.Role == RoleViewer {
		s.refuseRole(w, r, "閲覧のみの利用者は障害票を編集できません。")
		return
	}
	version, err := strconv.Atoi(r.PostFormValue("version"))
	if err != nil {
		s.errorPage(w, r, http.StatusBadRequest, "version がありません。画面を開き直してください。")
		return
	}
	cur, ok := s.incidentToChange(w, r, id)
	if !ok {
		return
	}
	f := cur.Fields
	if u.Role == RoleContractor {
		f = Fields{
			Event: r.PostFormValue("event"), Cause: r.PostFormValue("cause"), Action: r.PostFormValue("action"),
			Status: r.PostFormValue("status"), Responsibility: r.PostFormValue("responsibility"),
			Exemption: r.PostFormValue("exemption"), Prevention: r.PostFormValue("prevention"),
			Important: r.PostFormValue("important") == "on",
		}
		var problems []string
		if f.Status != "" && !contains(Statuses, f.Status) {
			problems = append(problems, "状況: "+f.Status+" は選択肢にありません")
		}
		if f.Responsibility != "" && !contains(Responsibilities, f.Responsibility) {
			problems = append(problems, "責任区分: "+f.Responsibility+" は選択肢にありません")
		}
		if _, ok := exemption.Categories[f.Exemption]; f.Exemption != "" && !ok {
			problems = append(problems, "免責区分: "+f.Exemption+" は第5 2 (1)-(3) の区分にありません")
		}
		for name, v := range map[string]string{"事象": f.Event, "原因": f.Cause, "対処": f.Action, "再発防止策": f.Prevention} {
			if len(v) > 20000 {
				problems = append(problems, name+": 長すぎます（2万字まで）")
			}
		}
		if len(problems) > 0 {
			sort.Strings(problems)
			s.errorPage(w, r, http.StatusBadRequest, strings.Join(problems, "。")+"。")
			return
		}
	} else {
		// The prefecture decides what is an important incident (第3 4(2)).
		f.Important = r.PostFormValue("important") == "on"
	}
	_, err = s.o.Store.UpdateFields(id, version, u.Label(), s.o.Now(), f)
	if errors.Is(err, ErrConflict) {
		s.errorPage(w, r, http.StatusConflict, "この障害票は、画面を開いた後に他の人が保存しました。入力した内容は保存されていません。画面を開き直し、最新の内容に入力し直してください。")
		return
	}
	if err != nil {
		s.errorPage(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	level.Info(s.o.Logger).Log("msg", "incident edited", "incident", id, "user", u.Name)
	http.Redirect(w, r, fmt.Sprintf("/incidents/%d?msg=%s", id, url.QueryEscape("保存しました。")), http.StatusSeeOther)
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func formTime(r *http.Request, name, label string) (time.Time, error) {
	v := strings.TrimSpace(r.PostFormValue(name))
	if v == "" {
		return time.Time{}, fmt.Errorf("%s がありません", label)
	}
	t, err := exemption.ParseTime(v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %q は日時として読めません", label, v)
	}
	return t, nil
}

func (s *Server) requestExemption(w http.ResponseWriter, r *http.Request) {
	u := currentUser(r)
	id, ok := s.recordID(w, r, "障害票", RoleContractor, "免責の申請は受託者が行います。")
	if !ok {
		return
	}
	inc, ok := s.incidentToChange(w, r, id)
	if !ok {
		return
	}
	a := Approval{Kind: KindExemption, Incident: id, Service: inc.Service, Category: r.PostFormValue("category"),
		Reason: strings.TrimSpace(r.PostFormValue("reason")), RequestedBy: u.Label(), RequestedAt: s.o.Now()}
	var problems []string
	var err error
	if a.Start, err = formTime(r, "start", "開始"); err != nil {
		problems = append(problems, err.Error())
	}
	if a.End, err = formTime(r, "end", "終了"); err != nil {
		problems = append(problems, err.Error())
	}
	if !a.Start.IsZero() && !a.End.IsZero() && !a.End.After(a.Start) {
		problems = append(problems, "終了は開始より後にしてください")
	}
	if _, ok := exemption.Categories[a.Category]; !ok {
		problems = append(problems, "免責区分を第5 2 (1)-(3) から選んでください")
	}
	if a.Reason == "" {
		problems = append(problems, "理由を書いてください")
	}
	if a.Service == "" {
		problems = append(problems, "サービスのない障害票（"+inc.Title+"）の停止時間は稼働率に数えられないため、免責の申請は不要です")
	}
	if len(problems) > 0 {
		s.errorPage(w, r, http.StatusBadRequest, strings.Join(problems, "。")+"。")
		return
	}
	if _, err := s.o.Store.RequestApproval(a); err != nil {
		s.errorPage(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/incidents/%d?msg=%s", id, url.QueryEscape("免責を申請しました。県の承認を待っています。")), http.StatusSeeOther)
}

type approvalsData struct {
	Pending, Decided []*Approval
}

func (s *Server) approvalsPage(w http.ResponseWriter, r *http.Request) {
	all, err := s.o.Store.Approvals("", "")
	if err != nil {
		s.errorPage(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	var d approvalsData
	for _, a := range all {
		if a.State == StatePending {
			d.Pending = append(d.Pending, a)
		} else {
			d.Decided = append(d.Decided, a)
		}
	}
	s.render(w, r, http.StatusOK, "approvals", "承認", d, r.URL.Query().Get("msg"))
}

// requestApproval makes a planned stop (計画停止の申請) or 稼働確認
// request.
func (s *Server) requestApproval(w http.ResponseWriter, r *http.Request) {
	u := currentUser(r)
	if u.Role != RoleContractor {
		s.refuseRole(w, r, "計画停止・稼働確認の申請は受託者が行います。")
		return
	}
	a := Approval{Kind: r.PostFormValue("kind"), Service: strings.TrimSpace(r.PostFormValue("service")),
		Reason: strings.TrimSpace(r.PostFormValue("reason")), RequestedBy: u.Label(), RequestedAt: s.o.Now()}
	var problems []string
	if a.Kind != KindMaintenance && a.Kind != KindConfirmation {
		problems = append(problems, "申請の種類が正しくありません")
	}
	var err error
	if a.Start, err = formTime(r, "start", "開始"); err != nil {
		problems = append(problems, err.Error())
	}
	if a.End, err = formTime(r, "end", "終了"); err != nil {
		problems = append(problems, err.Error())
	}
	if !a.Start.IsZero() && !a.End.IsZero() && !a.End.After(a.Start) {
		problems = append(problems, "終了は開始より後にしてください")
	}
	if a.Service == "" || (len(s.o.Services) > 0 && !contains(s.o.Services, a.Service)) {
		problems = append(problems, "サービスを選んでください")
	}
	if a.Reason == "" {
		problems = append(problems, "理由（稼働確認は根拠）を書いてください")
	}
	if len(problems) > 0 {
		s.errorPage(w, r, http.StatusBadRequest, strings.Join(problems, "。")+"。")
		return
	}
	if _, err := s.o.Store.RequestApproval(a); err != nil {
		s.errorPage(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	http.Redirect(w, r, "/approvals?msg="+url.QueryEscape(kindJa(a.Kind)+"を申請しました。"), http.StatusSeeOther)
}

func (s *Server) decide(w http.ResponseWriter, r *http.Request) {
	u := currentUser(r)
	id, ok := s.recordID(w, r, "申請", RoleApprover, "承認・却下は県の承認者が行います。")
	if !ok {
		return
	}
	var approve bool
	switch r.PostFormValue("decision") {
	case "approve":
		approve = true
	case "reject":
	default:
		s.errorPage(w, r, http.StatusBadRequest, "承認か却下かを選んでください。")
		return
	}
	a, err := s.o.Store.Decide(id, approve, u.Label(), strings.TrimSpace(r.PostFormValue("comment")), s.o.Now())
	if errors.Is(err, ErrNotFound) {
		s.errorPage(w, r, http.StatusNotFound, fmt.Sprintf("申請 %d はありません。", id))
		return
	}
	if err != nil {
		s.errorPage(w, r, http.StatusConflict, err.Error())
		return
	}
	level.Info(s.o.Logger).Log("msg", "approval decided", "approval", id, "kind", a.Kind, "state", a.State, "user", u.Name)
	http.Redirect(w, r, "/approvals?msg="+url.QueryEscape(fmt.Sprintf("申請 %d を%sしました。", id, stateJa(a.State))), http.StatusSeeOther)
}
