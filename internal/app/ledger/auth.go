package ledger

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/securecookie"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/time/rate"

	"github.com/bosaimail/bosaimail_exporter/config"
)

// Roles.
const (
	RoleContractor = "contractor" // 受託者: writes 障害票, requests approvals
	RoleApprover   = "approver"   // 県の承認者: approves or rejects, marks 重要障害
	RoleViewer     = "viewer"     // 閲覧のみ
)

var roleNames = map[string]string{RoleContractor: "受託者", RoleApprover: "県（承認者）", RoleViewer: "閲覧のみ"}

// User is one login of the users file.
type User struct {
	Name         string `yaml:"name"`
	DisplayName  string `yaml:"display_name"`
	Role         string `yaml:"role"`
	PasswordHash string `yaml:"password_hash"`
}

// Label is how the user appears in history entries and approvals.
func (u *User) Label() string {
	if u.DisplayName != "" {
		return u.DisplayName
	}
	return u.Name
}

// RoleName is the role in Japanese.
func (u *User) RoleName() string { return roleNames[u.Role] }

// UsersFile is the file of logins (bcrypt hashes, never passwords).
type UsersFile struct {
	Users []User `yaml:"users"`
}

// LoadUsers reads and checks the users file.
func LoadUsers(path string) (map[string]*User, error) {
	data, err := config.ReadFileBounded(path, 1<<20, "users file")
	if err != nil {
		return nil, err
	}
	return ParseUsers(path, data)
}

// ParseUsers decodes the users file; every problem names its entry.
func ParseUsers(file string, data []byte) (map[string]*User, error) {
	var f UsersFile
	root, err := config.DecodeStrict(file, data, &f)
	if err != nil {
		return nil, err
	}
	v := config.NewValidator(file, root)
	users := map[string]*User{}
	names := make([]string, len(f.Users))
	for i := range f.Users {
		u := &f.Users[i]
		p := fmt.Sprintf("users[%d]", i)
		names[i] = u.Name
		if strings.TrimSpace(u.Name) == "" {
			v.Errorf(p+".name", "missing")
		}
		if _, ok := roleNames[u.Role]; !ok {
			v.Errorf(p+".role", "%q: one of contractor (受託者), approver (県の承認者), viewer (閲覧のみ)", u.Role)
		}
		if _, err := bcrypt.Cost([]byte(u.PasswordHash)); err != nil {
			v.Errorf(p+".password_hash", "not a bcrypt hash (make one with `bosaimail_ledger hash-password`): %v", err)
		}
		users[u.Name] = u
	}
	if len(f.Users) == 0 {
		v.Errorf("users", "no users: nobody could log in")
	}
	v.Unique("user", names, func(i int) string { return fmt.Sprintf("users[%d].name", i) })
	if err := v.Err(); err != nil {
		return nil, err
	}
	return users, nil
}

// A bcrypt hash compared when the user is unknown, so that a wrong name
// takes as long as a wrong password.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("not a password"), bcrypt.DefaultCost)

// Authenticate checks a login.
func authenticate(users map[string]*User, name, password string) *User {
	u := users[name]
	hash := dummyHash
	if u != nil {
		hash = []byte(u.PasswordHash)
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil || u == nil {
		return nil
	}
	return u
}

// sessions are signed and encrypted cookies (gorilla/securecookie) holding
// the user name and the login time; the user's role is looked up in the
// users file on every request, so removing a user ends their sessions.
type sessions struct {
	codec  *securecookie.SecureCookie
	maxAge time.Duration
}

const sessionCookie = "bosaimail_ledger_session"

type session struct {
	User  string `json:"u"`
	Login int64  `json:"t"` // Unix seconds
	// Nanos is the login time in nanoseconds, so that a login just after
	// a logout is told from the sessions the logout revoked.
	Nanos int64 `json:"n,omitempty"`
}

func newSessions(hashKey, blockKey []byte, maxAge time.Duration) *sessions {
	c := securecookie.New(hashKey, blockKey)
	c.MaxAge(int(maxAge / time.Second))
	c.SetSerializer(securecookie.JSONEncoder{})
	return &sessions{codec: c, maxAge: maxAge}
}

func (s *sessions) set(w http.ResponseWriter, r *http.Request, user string, now time.Time) error {
	v, err := s.codec.Encode(sessionCookie, session{User: user, Login: now.Unix(), Nanos: now.UnixNano()})
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: v, Path: "/", MaxAge: int(s.maxAge / time.Second),
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode,
	})
	return nil
}

func (s *sessions) clear(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
}

// get returns the session's user and login time.
func (s *sessions) get(r *http.Request, now time.Time) (string, time.Time, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return "", time.Time{}, false
	}
	var sess session
	if err := s.codec.Decode(sessionCookie, c.Value, &sess); err != nil {
		return "", time.Time{}, false
	}
	login := time.Unix(sess.Login, 0)
	if sess.Nanos != 0 {
		login = time.Unix(0, sess.Nanos)
	}
	if now.Sub(login) > s.maxAge {
		return "", time.Time{}, false
	}
	return sess.User, login, true
}

type ctxKey int

const userKey ctxKey = 0

func withUser(r *http.Request, u *User) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), userKey, u))
}

func currentUser(r *http.Request) *User {
	u, _ := r.Context().Value(userKey).(*User)
	return u
}

// bearerOK compares the request's bearer token (or ?token= when
// allowQuery) with want in constant time; an empty want accepts nothing.
func bearerOK(r *http.Request, want []byte, allowQuery bool) bool {
	if len(want) == 0 {
		return false
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok && allowQuery {
		got, ok = r.URL.Query().Get("token"), true
	}
	return ok && subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), want) == 1
}

// ReadToken reads a secret token file.
func ReadToken(path string) ([]byte, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	t := strings.TrimSpace(string(b))
	if len(t) < 16 {
		return nil, fmt.Errorf("%s: the token is %d characters, want at least 16", path, len(t))
	}
	return []byte(t), nil
}

func randomKey(n int) func() ([]byte, error) {
	return func() ([]byte, error) {
		b := make([]byte, n)
		_, err := rand.Read(b)
		return b, err
	}
}

// HashPassword makes a users-file hash.
func HashPassword(pw string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
	return string(h), err
}

// loginLimiter slows password guessing: each (remote address, user name)
// pair may fail loginBurst times, then one more attempt per loginEvery.
// Keying on the pair, not the user alone, keeps one attacker from
// locking the prefecture's approver out from every other address. The
// table is bounded: when full, pairs idle for a refill period go first,
// then the whole table (an attacker rotating names gains nothing but a
// fresh burst for everyone, which the bound per pair still limits).
type loginLimiter struct {
	mu      sync.Mutex
	entries map[string]*loginEntry
	now     func() time.Time
}

type loginEntry struct {
	lim  *rate.Limiter
	seen time.Time
}

const (
	loginBurst      = 5
	loginEvery      = time.Minute
	loginMaxEntries = 10000
)

func newLoginLimiter(now func() time.Time) *loginLimiter {
	return &loginLimiter{entries: map[string]*loginEntry{}, now: now}
}

func loginKey(r *http.Request, user string) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return host + "\x00" + strings.ToLower(strings.TrimSpace(user))
}

// wait tells how long the pair must wait before its next attempt (0: it
// may try now).
func (l *loginLimiter) wait(key string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.entries[key]
	if e == nil {
		return 0
	}
	tokens := e.lim.TokensAt(l.now())
	if tokens >= 1 {
		return 0
	}
	return time.Duration((1 - tokens) * float64(loginEvery))
}

// failed records a failed attempt of the pair.
func (l *loginLimiter) failed(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	e := l.entries[key]
	if e == nil {
		if len(l.entries) >= loginMaxEntries {
			for k, old := range l.entries {
				if now.Sub(old.seen) > loginEvery*loginBurst {
					delete(l.entries, k)
				}
			}
			if len(l.entries) >= loginMaxEntries {
				clear(l.entries)
			}
		}
		e = &loginEntry{lim: rate.NewLimiter(rate.Every(loginEvery), loginBurst)}
		l.entries[key] = e
	}
	e.seen = now
	e.lim.AllowN(now, 1)
}

// succeeded forgets the pair's failures.
func (l *loginLimiter) succeeded(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.entries, key)
}
