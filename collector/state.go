package collector

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"reflect"
	"sync"
	"unsafe"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"gopkg.in/yaml.v3"
)

// State owns whatever must outlive one config: the background sources a
// reload keeps, process-wide values such as counters and the job store,
// and the announcements the cloud collector offers to the maintenance
// calendar. One State is created per process and handed to every factory
// through Env, as Prometheus' scrape manager keeps unchanged scrape loops
// across reloads: a source whose config did not change is the same object
// after a reload, with its cached value, health and backoff; a source the
// new config no longer has ends with the old Set (its refresh loop stops
// and its Source.OnStop closes its connections); a new one starts with the
// new Set.
//
// A reload is prepared by NewSet (every factory's Keep claims what the new
// config uses) and takes effect at Set.Start. A reload that fails before
// then leaves the running Set and its sources untouched, and what it built
// is closed.
type State struct {
	logger log.Logger
	// Announcements carries provider maintenance from the cloud collector
	// to the maintenance calendar.
	Announcements *Announcements

	mu      sync.Mutex
	kept    map[stateKey]any
	pending *pendingReload
	shared  map[string]any
	closed  bool
}

type stateKey struct{ collector, name, hash string }

// pendingReload is what one NewSet claimed: the kept values it reuses and
// those it built.
type pendingReload struct {
	claimed map[stateKey]any
	built   map[stateKey]bool
}

// NewState makes the owner of a process's long-lived state.
func NewState(logger log.Logger) *State {
	if logger == nil {
		logger = log.NewNopLogger()
	}
	return &State{logger: logger, Announcements: &Announcements{}, kept: map[stateKey]any{}, shared: map[string]any{}}
}

// begin starts preparing a reload; a reload left unfinished (its Set never
// started) is abandoned first.
func (st *State) begin() *pendingReload {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.pending != nil {
		st.abortLocked(st.pending)
	}
	st.pending = &pendingReload{claimed: map[stateKey]any{}, built: map[stateKey]bool{}}
	return st.pending
}

// commit makes what p claimed the kept set. Values no longer claimed are
// forgotten: a running source among them stops with the Set that runs it.
func (st *State) commit(p *pendingReload) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.pending != p {
		return
	}
	st.pending = nil
	for k, v := range st.kept {
		if _, ok := p.claimed[k]; !ok {
			level.Debug(st.logger).Log("msg", "background source removed by the new configuration", "collector", k.collector, "source", k.name)
			retire(v)
		}
	}
	st.kept = p.claimed
}

// abort closes what p built (never run: nothing else holds it).
func (st *State) abort(p *pendingReload) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.pending == p {
		st.abortLocked(p)
	}
}

func (st *State) abortLocked(p *pendingReload) {
	st.pending = nil
	for k := range p.built {
		retire(p.claimed[k])
		closeValue(p.claimed[k])
	}
}

// Close closes every kept and shared value (on shutdown, after the last Set
// stopped).
func (st *State) Close() {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed {
		return
	}
	st.closed = true
	if st.pending != nil {
		st.abortLocked(st.pending)
	}
	for _, v := range st.kept {
		retire(v)
		closeValue(v)
	}
	for name, v := range st.shared {
		if err := closeValue(v); err != nil {
			level.Error(st.logger).Log("msg", "closing state", "name", name, "err", err)
		}
	}
	st.kept, st.shared = map[stateKey]any{}, map[string]any{}
}

func closeValue(v any) error {
	switch c := v.(type) {
	case io.Closer:
		return c.Close()
	case interface{ Close() }:
		c.Close()
	}
	return nil
}

// ConfigHash identifies a piece of config by what the operator wrote: the
// YAML of each part (fields marked yaml:"-", derived at load, are left
// out). Two parts with the same YAML are the same source.
func ConfigHash(parts ...any) string {
	h := sha256.New()
	for _, p := range parts {
		b, err := marshalForHash(p)
		if err != nil {
			// Not YAML-marshalable: never equal to another build, so a reload
			// rebuilds it (safe, only not cached).
			b = []byte(fmt.Sprintf("%p/%#v", &p, p))
		}
		fmt.Fprintf(h, "%d:", len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func marshalForHash(p any) (b []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	return yaml.Marshal(p)
}

// Keep returns the value kept for source name of env's collector under the
// config cfg (any YAML-marshalable parts; see ConfigHash), or builds it.
// While NewSet prepares a reload, an unchanged (collector, name, config)
// gets the very value the running Set uses, so a source started by the old
// Set goes on refreshing without a gap (Source.Run hands over between
// Sets). Outside a reload (env.State nil, or a factory called directly by a
// test) it simply builds.
//
// The value must not capture anything of the config beyond cfg: it is
// shared with later configs whose cfg hashes the same.
func Keep[T any](env Env, name string, cfg any, build func() (T, error)) (T, error) {
	st := env.State
	if st == nil {
		return build()
	}
	var global any
	if env.Config != nil {
		global = env.Config.Global // defaults and caps every source inherits
	}
	key := stateKey{collector: env.Collector, name: name, hash: ConfigHash(cfg, global, env.StateDir)}
	st.mu.Lock()
	p := st.pending
	if p == nil {
		st.mu.Unlock()
		return build()
	}
	if v, ok := p.claimed[key]; ok {
		st.mu.Unlock()
		return v.(T), nil
	}
	if v, ok := st.kept[key]; ok {
		if t, ok := v.(T); ok {
			p.claimed[key] = v
			st.mu.Unlock()
			return t, nil
		}
	}
	st.mu.Unlock()
	level.Debug(st.logger).Log("msg", "building background source", "collector", key.collector, "source", name)
	v, err := build()
	if err != nil {
		return v, err
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.pending != p {
		// The reload was abandoned meanwhile; the caller's Set is dead too.
		closeValue(v)
		return v, nil
	}
	adopt(v)
	p.claimed[key] = v
	p.built[key] = true
	return v, nil
}

// Owned is implemented by what a State keeps beyond one Set: Source does.
// A kept value that is not itself Owned has its Owned fields (one level
// deep, e.g. a struct holding its *Source) adopted and retired for it, so
// an area needs no code of its own for this.
type Owned interface {
	// Adopt: a State keeps the value; its refresh loop outlives the Set
	// running it until Retire.
	Adopt()
	// Retire: no config uses the value any more; its loop ends with the
	// last Set running it.
	Retire()
}

func adopt(v any) {
	for _, o := range ownedParts(v) {
		o.Adopt()
	}
}

func retire(v any) {
	for _, o := range ownedParts(v) {
		o.Retire()
	}
}

func ownedParts(v any) []Owned {
	if o, ok := v.(Owned); ok {
		return []Owned{o}
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return nil
	}
	rv = rv.Elem()
	var out []Owned
	for i := 0; i < rv.NumField(); i++ {
		f := rv.Field(i)
		if f.Kind() != reflect.Pointer && f.Kind() != reflect.Interface {
			continue
		}
		if f.IsNil() {
			continue
		}
		var iface any
		if f.CanInterface() {
			iface = f.Interface()
		} else {
			// An area's own unexported field (e.g. src): the value is
			// addressable through the pointer it was kept by.
			iface = reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem().Interface()
		}
		if o, ok := iface.(Owned); ok {
			out = append(out, o)
		}
	}
	return out
}

// Shared returns the process-wide value called name, building it on first
// use: counters that must not reset on reload, the job store (one open
// database per process). It is closed (io.Closer or Close()) when the State
// closes. Without a State (tests), it simply builds.
func Shared[T any](env Env, name string, build func() (T, error)) (T, error) {
	st := env.State
	if st == nil {
		return build()
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if v, ok := st.shared[name]; ok {
		if t, ok := v.(T); ok {
			return t, nil
		}
		var zero T
		return zero, fmt.Errorf("state %q holds a %T, not a %T", name, v, zero)
	}
	if st.closed {
		var zero T
		return zero, fmt.Errorf("state %q: the exporter is shutting down", name)
	}
	v, err := build()
	if err != nil {
		return v, err
	}
	st.shared[name] = v
	return v, nil
}

// Counts is a small counter vector keyed by label values that lives as long
// as the State, so a counter never resets on reload.
type Counts struct {
	mu sync.Mutex
	m  map[string]countEntry
}

type countEntry struct {
	labels []string
	n      float64
}

// SharedCounts returns the process-wide counter vector called name.
func SharedCounts(env Env, name string) *Counts {
	c, err := Shared(env, "counts/"+name, func() (*Counts, error) { return &Counts{}, nil })
	if err != nil {
		return &Counts{}
	}
	return c
}

// Inc adds one for the label values.
func (c *Counts) Inc(labels ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]countEntry{}
	}
	k := fmt.Sprintf("%q", labels)
	e := c.m[k]
	if e.labels == nil {
		e.labels = append([]string(nil), labels...)
	}
	e.n++
	c.m[k] = e
}

// Each calls fn for every label set (sorted by nothing in particular);
// returning false from keep drops that entry (e.g. a check no longer
// configured).
func (c *Counts) Each(fn func(labels []string, n float64) (keep bool)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.m {
		if !fn(e.labels, e.n) {
			delete(c.m, k)
		}
	}
}
