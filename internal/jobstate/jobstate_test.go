package jobstate

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 25, 2, 0, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

func TestApply(t *testing.T) {
	type ev struct {
		kind Kind
		at   time.Duration
		rep  Report
	}
	cases := []struct {
		name    string
		events  []ev
		running bool
		ok      bool
		dur     float64
		hasDur  bool
		success time.Duration // -1: never
	}{
		{name: "start then success measures the duration", events: []ev{{Start, 0, Report{}}, {Success, 90 * time.Second, Report{}}},
			ok: true, dur: 90, hasDur: true, success: 90 * time.Second},
		{name: "body duration wins over start", events: []ev{{Start, 0, Report{}}, {Success, 90 * time.Second, Report{DurationSeconds: ptr(12.5)}}},
			ok: true, dur: 12.5, hasDur: true, success: 90 * time.Second},
		{name: "fail without start has no duration", events: []ev{{Fail, time.Minute, Report{ExitCode: ptr(3)}}},
			ok: false, success: -1},
		{name: "started again after a success is running", events: []ev{{Success, 0, Report{}}, {Start, time.Hour, Report{}}},
			running: true, ok: true, success: 0},
		{name: "failure keeps the earlier success", events: []ev{{Success, 0, Report{}}, {Start, time.Hour, Report{}}, {Fail, 2 * time.Hour, Report{}}},
			ok: false, dur: 3600, hasDur: true, success: 0},
		{name: "a second finish does not reuse an old start", events: []ev{{Start, 0, Report{}}, {Success, time.Minute, Report{}}, {Success, time.Hour, Report{}}},
			ok: true, success: time.Hour},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var s State
			for _, e := range tc.events {
				s.Apply(e.kind, t0.Add(e.at), e.rep)
			}
			if s.Running() != tc.running || s.LastOK != tc.ok || s.HasDuration != tc.hasDur || s.LastDuration != tc.dur {
				t.Errorf("state %+v: running=%v ok=%v dur=%v/%v", s, s.Running(), s.LastOK, s.LastDuration, s.HasDuration)
			}
			wantSuccess := time.Time{}
			if tc.success >= 0 {
				wantSuccess = t0.Add(tc.success)
			}
			if !s.LastSuccess.Equal(wantSuccess) {
				t.Errorf("last success %v, want %v", s.LastSuccess, wantSuccess)
			}
			if !s.Reported() {
				t.Error("not reported")
			}
		})
	}
	if (State{FirstSeen: t0}).Reported() {
		t.Error("a job with no report counts as reported")
	}
}

func TestMerge(t *testing.T) {
	var push, file State
	push.FirstSeen = t0
	push.Apply(Success, t0.Add(time.Hour), Report{})
	file.Apply(Start, t0.Add(2*time.Hour), Report{})
	file.Apply(Fail, t0.Add(3*time.Hour), Report{ExitCode: ptr(2), Message: "disk full"})
	m := Merge(push, file)
	if !m.FirstSeen.Equal(t0) || m.LastOK || !m.LastFinish.Equal(t0.Add(3*time.Hour)) || !m.LastSuccess.Equal(t0.Add(time.Hour)) ||
		*m.LastExitCode != 2 || m.LastMessage != "disk full" || m.LastDuration != 3600 {
		t.Errorf("merge = %+v", m)
	}
	// The order of arguments does not decide which finish is newer.
	m2 := Merge(file, push)
	if m2.LastOK || !m2.LastFinish.Equal(t0.Add(3*time.Hour)) {
		t.Errorf("reverse merge = %+v", m2)
	}
	// A newer start in the other source makes the job running.
	var later State
	later.Apply(Start, t0.Add(4*time.Hour), Report{})
	if !Merge(m, later).Running() {
		t.Error("newer start not running")
	}
}

func TestParsePushBody(t *testing.T) {
	cases := []struct {
		kind    Kind
		body    string
		wantErr string
		check   func(Report) bool
	}{
		{Success, "", "", func(r Report) bool { return r.ExitCode == nil && r.DurationSeconds == nil }},
		{Success, "  \n", "", func(r Report) bool { return r.ExitCode == nil }},
		{Fail, `{"exit_code": 2, "duration_seconds": 61.5, "message": "pg_dump: 接続できません"}`, "",
			func(r Report) bool {
				return *r.ExitCode == 2 && *r.DurationSeconds == 61.5 && strings.HasPrefix(r.Message, "pg_dump")
			}},
		{Success, `{"exit_code": 0}`, "", func(r Report) bool { return *r.ExitCode == 0 }},
		{Success, `{"exit_code": 1}`, "contradicts a success", nil},
		{Fail, `{"exit_code": 256}`, "between 0 and 255", nil},
		{Fail, `{"exit_code": -1}`, "between 0 and 255", nil},
		{Fail, `{"exit_code": "1"}`, "malformed JSON", nil},
		{Fail, `{"duration_seconds": -1}`, "duration_seconds", nil},
		{Fail, `{"duration_seconds": 1e300}`, "duration_seconds", nil},
		{Fail, `{"exitcode": 1}`, `unknown field "exitcode"`, nil},
		{Fail, `{"exit_code": 1} {}`, "trailing data", nil},
		{Fail, `[1]`, "expected an object", nil},
		{Fail, `exit 1`, "expected an object", nil},
		{Fail, `{"exit_code": 1`, "malformed JSON", nil},
		{Fail, `{"message": "` + strings.Repeat("x", MaxMessageBytes+1) + `"}`, "longer than", nil},
		{Fail, `{"message": "a\u0007b"}`, "control characters", nil},
		// encoding/json replaces invalid UTF-8 with U+FFFD: stored text stays valid.
		{Fail, "{\"message\": \"\xff\"}", "", func(r Report) bool { return r.Message == "\uFFFD" }},
	}
	for _, tc := range cases {
		t.Run(string(tc.kind)+" "+clipName(tc.body), func(t *testing.T) {
			r, err := ParsePushBody(tc.kind, []byte(tc.body))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(r) {
				t.Errorf("report %+v", r)
			}
		})
	}
}

func clipName(s string) string {
	if len(s) > 30 {
		return s[:30]
	}
	return s
}

func TestParseStatusFile(t *testing.T) {
	cases := []struct {
		name, body, wantErr string
		running, ok         bool
	}{
		{"success", `{"job":"db-backup","status":"success","started_at":"2026-11-25T02:00:00+09:00","finished_at":"2026-11-25T02:10:00+09:00","exit_code":0}`, "", false, true},
		{"failure", `{"job":"db-backup","status":"failure","finished_at":"2026-11-25T02:10:00+09:00","exit_code":1,"message":"no space"}`, "", false, false},
		{"running", `{"job":"db-backup","status":"running","started_at":"2026-11-25T02:00:00+09:00"}`, "", true, false},
		{"no job", `{"status":"success","finished_at":"2026-11-25T02:10:00+09:00"}`, `"job" is required`, false, false},
		{"bad status", `{"job":"a","status":"ok","finished_at":"2026-11-25T02:10:00+09:00"}`, `"status" must be`, false, false},
		{"no finish", `{"job":"a","status":"success"}`, `needs "finished_at"`, false, false},
		{"running finished", `{"job":"a","status":"running","started_at":"2026-11-25T02:00:00Z","finished_at":"2026-11-25T02:10:00Z"}`, `must not have`, false, false},
		{"running without start", `{"job":"a","status":"running"}`, `needs "started_at"`, false, false},
		{"start after finish", `{"job":"a","status":"success","started_at":"2026-11-25T03:00:00Z","finished_at":"2026-11-25T02:10:00Z"}`, "after", false, false},
		{"no zone", `{"job":"a","status":"success","finished_at":"2026-11-25T02:10:00"}`, "malformed JSON", false, false},
		{"half written", `{"job":"db-backup","status":"succ`, "malformed JSON", false, false},
		{"unknown key", `{"job":"a","status":"success","finished_at":"2026-11-25T02:10:00Z","host":"x"}`, "unknown field", false, false},
		{"empty", ``, "expected an object", false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := ParseStatusFile([]byte(tc.body))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			s := f.State()
			if s.Running() != tc.running || s.LastOK != tc.ok {
				t.Errorf("state %+v", s)
			}
		})
	}
	if _, err := ParseStatusFile(make([]byte, MaxStatusFileBytes+1)); err == nil || !strings.Contains(err.Error(), "larger") {
		t.Errorf("oversized: %v", err)
	}
}

func TestStorePersistsAcrossReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "jobs.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Sync([]string{"db-backup", "log-rotate", "old"}, t0, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Record("db-backup", Start, t0.Add(time.Hour), Report{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Record("db-backup", Fail, t0.Add(2*time.Hour), Report{ExitCode: ptr(4), Message: "失敗"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// "old" was removed from the config; "new" was added a day later.
	if err := s.Sync([]string{"db-backup", "log-rotate", "new"}, t0.Add(24*time.Hour), 0); err != nil {
		t.Fatal(err)
	}
	all, err := s.All()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 4 {
		t.Fatalf("jobs %v, want db-backup, log-rotate, new and the removed old", all)
	}
	if old := all["old"]; !old.RemovedAt.Equal(t0.Add(24*time.Hour)) || !old.FirstSeen.Equal(t0) {
		t.Errorf("removed job: %+v, want its history marked removed a day in", old)
	}
	db := all["db-backup"]
	if !db.FirstSeen.Equal(t0) || db.LastOK || *db.LastExitCode != 4 || db.LastMessage != "失敗" || db.LastDuration != 3600 {
		t.Errorf("db-backup after reopen: %+v", db)
	}
	if !all["new"].FirstSeen.Equal(t0.Add(24*time.Hour)) || all["new"].Reported() {
		t.Errorf("new job: %+v", all["new"])
	}
	if !all["log-rotate"].FirstSeen.Equal(t0) {
		t.Errorf("log-rotate first seen reset: %+v", all["log-rotate"])
	}
}

func FuzzParsePushBody(f *testing.F) {
	f.Add([]byte(`{"exit_code": 2, "duration_seconds": 61.5, "message": "x"}`))
	f.Add([]byte(``))
	f.Add([]byte(`{"exit_code": 1} {}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, k := range []Kind{Start, Success, Fail} {
			r, err := ParsePushBody(k, data)
			if err != nil {
				continue
			}
			if len(r.Message) > MaxMessageBytes || (r.ExitCode != nil && (*r.ExitCode < 0 || *r.ExitCode > 255)) {
				t.Fatalf("accepted out-of-bounds report %+v", r)
			}
			var s State
			s.Apply(k, t0, r)
		}
	})
}

func FuzzParseStatusFile(f *testing.F) {
	f.Add([]byte(`{"job":"db-backup","status":"success","started_at":"2026-11-25T02:00:00+09:00","finished_at":"2026-11-25T02:10:00+09:00","exit_code":0}`))
	f.Add([]byte(`{"job":"db-backup","status":"running","started_at":"2026-11-25T02:00:00+09:00"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		sf, err := ParseStatusFile(data)
		if err != nil {
			return
		}
		s := sf.State()
		if sf.Status == "running" && !s.Running() {
			t.Fatalf("running file gives state %+v", s)
		}
		if sf.Status != "running" && (s.LastFinish.IsZero() || s.Running()) {
			t.Fatalf("finished file gives state %+v", s)
		}
	})
}

func BenchmarkParsePushBody(b *testing.B) {
	body := []byte(`{"exit_code": 2, "duration_seconds": 61.5, "message": "pg_dump: 接続できません"}`)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := ParsePushBody(Fail, body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStoreRecord(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "jobs.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for b.Loop() {
		if _, err := s.Record("db-backup", Success, t0, Report{}); err != nil {
			b.Fatal(err)
		}
	}
}

// A job dropped from the config by mistake keeps its history for the
// retention period and gets it back when restored; past the retention it
// is gone.
func TestStoreRetainsRemovedJobs(t *testing.T) {
	t.Parallel()
	s, err := Open(filepath.Join(t.TempDir(), "jobs.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const retention = 30 * 24 * time.Hour
	if err := s.Sync([]string{"db-backup", "report"}, t0, retention); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Record("report", Success, t0.Add(time.Hour), Report{Message: "受領済み"}); err != nil {
		t.Fatal(err)
	}
	want, _ := s.All()
	// Removed for a day, then restored: its history is back unchanged.
	if err := s.Sync([]string{"db-backup"}, t0.Add(2*time.Hour), retention); err != nil {
		t.Fatal(err)
	}
	if err := s.Sync([]string{"db-backup"}, t0.Add(26*time.Hour), retention); err != nil {
		t.Fatal(err)
	}
	if err := s.Sync([]string{"db-backup", "report"}, t0.Add(27*time.Hour), retention); err != nil {
		t.Fatal(err)
	}
	all, _ := s.All()
	if got := all["report"]; !got.LastSuccess.Equal(want["report"].LastSuccess) || got.LastMessage != "受領済み" || !got.FirstSeen.Equal(t0) || !got.RemovedAt.IsZero() {
		t.Errorf("restored job: %+v, want %+v", got, want["report"])
	}
	// Removed again, and absent for longer than the retention: dropped.
	if err := s.Sync([]string{"db-backup"}, t0.Add(28*time.Hour), retention); err != nil {
		t.Fatal(err)
	}
	if err := s.Sync([]string{"db-backup"}, t0.Add(28*time.Hour+retention), retention); err != nil {
		t.Fatal(err)
	}
	if all, _ := s.All(); all["report"].RemovedAt.IsZero() {
		t.Errorf("dropped at exactly the retention: %+v", all["report"])
	}
	if err := s.Sync([]string{"db-backup"}, t0.Add(28*time.Hour+retention+time.Second), retention); err != nil {
		t.Fatal(err)
	}
	if all, _ := s.All(); len(all) != 1 {
		t.Errorf("after the retention: %v, want only db-backup", all)
	}
}
