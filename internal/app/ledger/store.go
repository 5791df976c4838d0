package ledger

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The store is one bbolt file. bbolt is a B+tree with copy-on-write pages
// and a single writer: a transaction either commits whole (fsync before the
// answer) or leaves the previous state, so a crash or kill -9 never leaves
// a half-written 障害票, and every change the web page or the webhook
// acknowledged is on disk.
var (
	bucketIncidents = []byte("incidents") // id -> Incident
	bucketAlerts    = []byte("alerts")    // fingerprint|startsAt -> alertRecord
	bucketByKey     = []byte("by_key")    // incident key -> latest incident id
	bucketApprovals = []byte("approvals") // id -> Approval
	bucketHistory   = []byte("history")   // kind(1) id(8) seq(8) -> Change
	bucketMeta      = []byte("meta")      // secrets generated on first start
)

// ErrNotFound is returned for an unknown 障害票 or approval.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned when an edit was made on an older version than
// the stored one: someone else saved in between, and silently overwriting
// their text would lose it.
var ErrConflict = errors.New("changed by someone else since it was opened")

// Fields are the parts of a 障害票 people write.
type Fields struct {
	Event          string `json:"event"`          // 事象
	Cause          string `json:"cause"`          // 原因
	Action         string `json:"action"`         // 対処
	Status         string `json:"status"`         // 状況
	Responsibility string `json:"responsibility"` // 責任区分
	Exemption      string `json:"exemption"`      // 免責区分 (exemption.Categories key or "")
	Prevention     string `json:"prevention"`     // 再発防止策
	Important      bool   `json:"important"`      // 重要障害
}

// AlertRef is one alert attached to a 障害票.
type AlertRef struct {
	Name        string            `json:"name"`
	Fingerprint string            `json:"fingerprint"`
	Severity    string            `json:"severity"`
	Summary     string            `json:"summary"`
	Labels      map[string]string `json:"labels"`
	StartsAt    time.Time         `json:"starts_at"`
	EndsAt      time.Time         `json:"ends_at,omitzero"`
	Resolved    bool              `json:"resolved"`
	// Senders are the Alertmanagers (their external URLs) that delivered
	// the alert: two of them in a cluster whose gossip failed both notify.
	Senders []string `json:"senders,omitempty"`
}

// Incident is a 障害票.
type Incident struct {
	ID uint64 `json:"id"`
	// Key groups alerts into one incident: the service, or for alerts
	// without one the alert name.
	Key        string     `json:"key"`
	Service    string     `json:"service"`
	Title      string     `json:"title"`
	StartedAt  time.Time  `json:"started_at"`
	ResolvedAt time.Time  `json:"resolved_at,omitzero"`
	Firing     bool       `json:"firing"`
	Alerts     []AlertRef `json:"alerts"`
	Fields     Fields     `json:"fields"`
	Version    int        `json:"version"`
	UpdatedAt  time.Time  `json:"updated_at"`
}

// Approval kinds and states.
const (
	KindExemption    = "exemption"
	KindMaintenance  = "maintenance"
	KindConfirmation = "confirmation"

	StatePending  = "pending"
	StateApproved = "approved"
	StateRejected = "rejected"
)

// Approval is a request the prefecture's approver decides: an exemption
// (免責) of an incident's downtime, a planned stop (計画停止) or a
// 稼働確認 record (the service was up during minutes no probe observed).
type Approval struct {
	ID          uint64    `json:"id"`
	Kind        string    `json:"kind"`
	Incident    uint64    `json:"incident,omitempty"`
	Service     string    `json:"service"`
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`
	Category    string    `json:"category,omitempty"`
	Reason      string    `json:"reason"`
	RequestedBy string    `json:"requested_by"`
	RequestedAt time.Time `json:"requested_at"`
	State       string    `json:"state"`
	DecidedBy   string    `json:"decided_by,omitempty"`
	DecidedAt   time.Time `json:"decided_at,omitzero"`
	Comment     string    `json:"comment,omitempty"`
}

// Change is one history entry: who changed what, when.
type Change struct {
	At    time.Time `json:"at"`
	User  string    `json:"user"`
	Field string    `json:"field"`
	Old   string    `json:"old,omitempty"`
	New   string    `json:"new,omitempty"`
}

type alertRecord struct {
	Incident uint64 `json:"incident"`
	Resolved bool   `json:"resolved"`
}

// Store is the ledger's database.
type Store struct {
	db *bolt.DB
}

// OpenStore opens (or creates) the database file. The file is locked: a
// second ledger on the same file waits up to timeout and then fails.
func OpenStore(path string, timeout time.Duration) (*Store, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout})
	if err != nil {
		return nil, fmt.Errorf("opening the ledger database %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketIncidents, bucketAlerts, bucketByKey, bucketApprovals, bucketHistory, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("preparing the ledger database %s: %w", path, err)
	}
	return &Store{db: db}, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Check walks every page of the database and reports inconsistencies.
func (s *Store) Check() error {
	return s.db.View(func(tx *bolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	})
}

// Secret returns the named secret, generating it with gen on first use.
func (s *Store) Secret(name string, gen func() ([]byte, error)) ([]byte, error) {
	var out []byte
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMeta)
		if v := b.Get([]byte(name)); v != nil {
			out = append([]byte(nil), v...)
			return nil
		}
		v, err := gen()
		if err != nil {
			return err
		}
		out = v
		return b.Put([]byte(name), v)
	})
	return out, err
}

// LoggedOut is when user last logged out (zero if never): sessions issued
// at or before it are no longer valid, even as a copied cookie.
func (s *Store) LoggedOut(user string) (time.Time, error) {
	var out time.Time
	err := s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get([]byte("logout/" + user)); len(v) == 8 {
			out = time.Unix(0, int64(binary.BigEndian.Uint64(v)))
		}
		return nil
	})
	return out, err
}

// SetLoggedOut records a logout of user at t.
func (s *Store) SetLoggedOut(user string, t time.Time) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put([]byte("logout/"+user), itob(uint64(t.UnixNano())))
	})
}

func itob(id uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, id)
	return b
}

func getJSON(b *bolt.Bucket, key []byte, v any) (bool, error) {
	raw := b.Get(key)
	if raw == nil {
		return false, nil
	}
	return true, json.Unmarshal(raw, v)
}

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, raw)
}

func historyPrefix(kind byte, id uint64) []byte {
	return append([]byte{kind}, itob(id)...)
}

func addHistory(tx *bolt.Tx, kind byte, id uint64, changes ...Change) error {
	b := tx.Bucket(bucketHistory)
	for _, c := range changes {
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		if err := putJSON(b, append(historyPrefix(kind, id), itob(seq)...), c); err != nil {
			return err
		}
	}
	return nil
}

func history(tx *bolt.Tx, kind byte, id uint64) ([]Change, error) {
	var out []Change
	prefix := historyPrefix(kind, id)
	c := tx.Bucket(bucketHistory).Cursor()
	for k, v := c.Seek(prefix); k != nil && len(k) == len(prefix)+8 && string(k[:len(prefix)]) == string(prefix); k, v = c.Next() {
		var ch Change
		if err := json.Unmarshal(v, &ch); err != nil {
			return nil, err
		}
		out = append(out, ch)
	}
	return out, nil
}

// Incident returns one 障害票 and its history.
func (s *Store) Incident(id uint64) (*Incident, []Change, error) {
	var inc Incident
	var hist []Change
	err := s.db.View(func(tx *bolt.Tx) error {
		ok, err := getJSON(tx.Bucket(bucketIncidents), itob(id), &inc)
		if err != nil {
			return err
		}
		if !ok {
			return ErrNotFound
		}
		hist, err = history(tx, 'I', id)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return &inc, hist, nil
}

// Incidents returns the 障害票 that overlap [from, to) (a zero bound is
// open), newest first. Firing ones overlap every later range.
func (s *Store) Incidents(from, to time.Time) ([]*Incident, error) {
	var out []*Incident
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketIncidents).ForEach(func(_, v []byte) error {
			inc := new(Incident)
			if err := json.Unmarshal(v, inc); err != nil {
				return err
			}
			if !to.IsZero() && !inc.StartedAt.Before(to) {
				return nil
			}
			if !from.IsZero() && !inc.Firing && inc.ResolvedAt.Before(from) {
				return nil
			}
			out = append(out, inc)
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].ID > out[j].ID })
	return out, err
}

// UpdateFields saves an edit of a 障害票 made on version, keeping every
// changed field in the history. A stale version is ErrConflict.
func (s *Store) UpdateFields(id uint64, version int, user string, now time.Time, f Fields) (*Incident, error) {
	var inc Incident
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketIncidents)
		ok, err := getJSON(b, itob(id), &inc)
		if err != nil {
			return err
		}
		if !ok {
			return ErrNotFound
		}
		if inc.Version != version {
			return ErrConflict
		}
		changes := fieldChanges(inc.Fields, f, user, now)
		if len(changes) == 0 {
			return nil
		}
		inc.Fields = f
		inc.Version++
		inc.UpdatedAt = now
		if err := addHistory(tx, 'I', id, changes...); err != nil {
			return err
		}
		return putJSON(b, itob(id), &inc)
	})
	if err != nil {
		return nil, err
	}
	return &inc, nil
}

func fieldChanges(old, cur Fields, user string, now time.Time) []Change {
	var out []Change
	add := func(name, o, n string) {
		if o != n {
			out = append(out, Change{At: now, User: user, Field: name, Old: o, New: n})
		}
	}
	add("事象", old.Event, cur.Event)
	add("原因", old.Cause, cur.Cause)
	add("対処", old.Action, cur.Action)
	add("状況", old.Status, cur.Status)
	add("責任区分", old.Responsibility, cur.Responsibility)
	add("免責区分", old.Exemption, cur.Exemption)
	add("再発防止策", old.Prevention, cur.Prevention)
	add("重要障害", yesNo(old.Important), yesNo(cur.Important))
	return out
}

func yesNo(b bool) string {
	if b {
		return "はい"
	}
	return "いいえ"
}

// RequestApproval stores a new pending approval request.
func (s *Store) RequestApproval(a Approval) (*Approval, error) {
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketApprovals)
		if a.Incident != 0 {
			if tx.Bucket(bucketIncidents).Get(itob(a.Incident)) == nil {
				return ErrNotFound
			}
		}
		id, err := b.NextSequence()
		if err != nil {
			return err
		}
		a.ID = id
		a.State = StatePending
		if err := addHistory(tx, 'A', id, Change{At: a.RequestedAt, User: a.RequestedBy, Field: "申請", New: a.Reason}); err != nil {
			return err
		}
		if a.Incident != 0 {
			if err := addHistory(tx, 'I', a.Incident, Change{At: a.RequestedAt, User: a.RequestedBy, Field: "免責申請", New: fmt.Sprintf("申請 %d: %s", id, a.Category)}); err != nil {
				return err
			}
		}
		return putJSON(b, itob(id), &a)
	})
	if err != nil {
		return nil, err
	}
	return &a, nil
}

// Decide approves or rejects a pending request. Deciding twice is an
// error: an approval, once given, is what the report and the exporter use.
func (s *Store) Decide(id uint64, approve bool, user, comment string, now time.Time) (*Approval, error) {
	var a Approval
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketApprovals)
		ok, err := getJSON(b, itob(id), &a)
		if err != nil {
			return err
		}
		if !ok {
			return ErrNotFound
		}
		if a.State != StatePending {
			return fmt.Errorf("request %d was already %s by %s", id, stateJa(a.State), a.DecidedBy)
		}
		a.State = StateRejected
		if approve {
			a.State = StateApproved
		}
		a.DecidedBy, a.DecidedAt, a.Comment = user, now, comment
		if err := addHistory(tx, 'A', id, Change{At: now, User: user, Field: stateJa(a.State), New: comment}); err != nil {
			return err
		}
		if a.Incident != 0 {
			if err := addHistory(tx, 'I', a.Incident, Change{At: now, User: user, Field: "免責申請", New: fmt.Sprintf("申請 %d を%s", id, stateJa(a.State))}); err != nil {
				return err
			}
		}
		return putJSON(b, itob(id), &a)
	})
	if err != nil {
		return nil, err
	}
	return &a, nil
}

// Approval returns one request and its history.
func (s *Store) Approval(id uint64) (*Approval, []Change, error) {
	var a Approval
	var hist []Change
	err := s.db.View(func(tx *bolt.Tx) error {
		ok, err := getJSON(tx.Bucket(bucketApprovals), itob(id), &a)
		if err != nil {
			return err
		}
		if !ok {
			return ErrNotFound
		}
		hist, err = history(tx, 'A', id)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return &a, hist, nil
}

// Approvals returns every request, newest first; kind and state filter
// when not empty.
func (s *Store) Approvals(kind, state string) ([]*Approval, error) {
	var out []*Approval
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketApprovals).ForEach(func(_, v []byte) error {
			a := new(Approval)
			if err := json.Unmarshal(v, a); err != nil {
				return err
			}
			if (kind == "" || a.Kind == kind) && (state == "" || a.State == state) {
				out = append(out, a)
			}
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].ID > out[j].ID })
	return out, err
}

func stateJa(s string) string {
	switch s {
	case StatePending:
		return "承認待ち"
	case StateApproved:
		return "承認"
	case StateRejected:
		return "却下"
	}
	return s
}
