package jobstate

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

var bucket = []byte("jobs")

// Store persists job states in a bbolt database. Every write is a committed
// transaction (fsync'ed) before it returns, so a caller that acknowledges a
// report after Record returned never loses it, whatever happens next.
type Store struct {
	db *bolt.DB
}

// Open opens (or creates) the database at path, creating its directory.
// bbolt locks the file: a second exporter on the same --storage.path waits
// a few seconds and then fails instead of corrupting it.
func Open(path string) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("creating state directory: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("opening job state %s: %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucket)
		return err
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("initialising job state %s: %w", path, err)
	}
	return &Store{db: db}, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Path is the database file.
func (s *Store) Path() string { return s.db.Path() }

// Record applies one report to a job's state and commits it durably. The
// returned state is the job's new state.
func (s *Store) Record(job string, kind Kind, at time.Time, r Report) (State, error) {
	var st State
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		st = decode(b.Get([]byte(job)))
		if st.FirstSeen.IsZero() {
			st.FirstSeen = at
		}
		st.Apply(kind, at, r)
		return put(b, job, st)
	})
	if err != nil {
		return State{}, fmt.Errorf("recording %s report of job %s: %w", kind, job, err)
	}
	return st, nil
}

// DefaultRetention is how long the history of a job that left the config
// is kept, so that a config edited by mistake (a job dropped for a moment)
// loses nothing: acknowledged reports, last success and next due come back
// with the job.
const DefaultRetention = 30 * 24 * time.Hour

// Sync makes the store follow the configured jobs: a new job gets its
// FirstSeen (now); a job no longer configured is marked removed and dropped
// only once it has been absent for longer than retention (<= 0:
// DefaultRetention); a removed job configured again gets its history back.
func (s *Store) Sync(jobs []string, now time.Time, retention time.Duration) error {
	if retention <= 0 {
		retention = DefaultRetention
	}
	want := make(map[string]bool, len(jobs))
	for _, j := range jobs {
		want[j] = true
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		var drop [][]byte
		marks := map[string]State{}
		if err := b.ForEach(func(k, v []byte) error {
			if want[string(k)] {
				return nil
			}
			st := decode(v)
			switch {
			case st.RemovedAt.IsZero():
				st.RemovedAt = now
				marks[string(k)] = st
			case now.Sub(st.RemovedAt) > retention:
				drop = append(drop, append([]byte(nil), k...))
			}
			return nil
		}); err != nil {
			return err
		}
		for _, k := range drop {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		for j, st := range marks {
			if err := put(b, j, st); err != nil {
				return err
			}
		}
		for _, j := range jobs {
			v := b.Get([]byte(j))
			if v == nil {
				if err := put(b, j, State{FirstSeen: now}); err != nil {
					return err
				}
				continue
			}
			if st := decode(v); !st.RemovedAt.IsZero() {
				st.RemovedAt = time.Time{}
				if err := put(b, j, st); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// All returns every stored state.
func (s *Store) All() (map[string]State, error) {
	out := map[string]State{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(k, v []byte) error {
			out[string(k)] = decode(v)
			return nil
		})
	})
	return out, err
}

// decode reads a stored state; an undecodable value (which a committed
// bbolt transaction cannot produce) reads as an empty state rather than
// blocking every later report of the job.
func decode(v []byte) State {
	var st State
	if v != nil {
		_ = json.Unmarshal(v, &st)
	}
	return st
}

func put(b *bolt.Bucket, job string, st State) error {
	v, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return b.Put([]byte(job), v)
}
