package probe

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bosaimail/bosaimail_exporter/collector"
)

// ChainMemo remembers certificate chains that passed a full verification.
//
// A check meets the same server with the same certificate chain scrape
// after scrape. Building and verifying that chain (a signature check per
// link, name and usage checks) is a large part of a TLS check's CPU, and
// its outcome depends only on the chain, the name and the trusted roots,
// except for time. So a chain that passed a full verification is
// remembered, keyed by the exact DER bytes of every certificate the peer
// sent, the name checked and the root pool; on the next handshake with the
// same key only the validity dates of the verified chain are checked
// against the current time. When a date fails, the chain is verified in
// full again, so the error (or another valid path) is x509's own. The
// handshake's own signature (the peer's proof that it holds the key) is
// checked by crypto/tls on every connection as before.
//
// This is a bounded memo of a pure function, shared by all checks of one
// exporter, not per-check state: it belongs to the exporter's
// collector.State (SharedChainMemo), like the other values that outlive
// one config, so two exporters in one process (tests) never share it and
// it lives exactly as long as its owner. A reload that builds new root
// pools simply stops hitting the old entries, which are dropped when the
// memo is full.
type ChainMemo struct {
	mu sync.Mutex
	m  map[chainKey][]*x509.Certificate
	// full counts full verifications (tests see the memo at work).
	full atomic.Int64
}

// SharedChainMemo returns the memo of verified chains of env's State, the
// one every TLS check of the exporter (per-scrape checks and the
// roundtrip's SMTP sends) verifies through. Without a State (a collector
// built directly by a test) it is a new memo.
func SharedChainMemo(env collector.Env) *ChainMemo {
	m, err := collector.Shared(env, "probe/verified_chains", func() (*ChainMemo, error) { return &ChainMemo{}, nil })
	if err != nil {
		// The State is shutting down: a memo of its own still verifies
		// every chain, it only remembers nothing beyond this collector.
		return &ChainMemo{}
	}
	return m
}

// chainMemoMax bounds the memo: far above the chains of any realistic
// config, small next to the exporter's memory (an entry shares the parsed
// certificates crypto/tls already holds).
const chainMemoMax = 1024

type chainKey struct {
	sum   [sha256.Size]byte
	roots *x509.CertPool
}

func chainKeyOf(certs []*x509.Certificate, name string, roots *x509.CertPool) chainKey {
	h := sha256.New()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(name)))
	h.Write(n[:])
	h.Write([]byte(name))
	for _, c := range certs {
		binary.BigEndian.PutUint64(n[:], uint64(len(c.Raw)))
		h.Write(n[:])
		h.Write(c.Raw)
	}
	k := chainKey{roots: roots}
	h.Sum(k.sum[:0])
	return k
}

// verify checks certs (as the peer sent them, leaf first) for name against
// roots (nil: the system's) at now, as crypto/tls would.
func (m *ChainMemo) verify(certs []*x509.Certificate, name string, roots *x509.CertPool, now time.Time) error {
	if len(certs) == 0 {
		return &tls.CertificateVerificationError{Err: errNoCertificates}
	}
	key := chainKeyOf(certs, name, roots)
	m.mu.Lock()
	chain, ok := m.m[key]
	m.mu.Unlock()
	if ok && withinValidity(chain, now) {
		return nil
	}
	m.full.Add(1)
	opts := x509.VerifyOptions{Roots: roots, CurrentTime: now, DNSName: name, Intermediates: x509.NewCertPool()}
	for _, c := range certs[1:] {
		opts.Intermediates.AddCert(c)
	}
	chains, err := certs[0].Verify(opts)
	if err != nil {
		m.mu.Lock()
		delete(m.m, key)
		m.mu.Unlock()
		return &tls.CertificateVerificationError{UnverifiedCertificates: certs, Err: err}
	}
	m.mu.Lock()
	if m.m == nil || len(m.m) >= chainMemoMax {
		m.m = make(map[chainKey][]*x509.Certificate)
	}
	m.m[key] = chains[0]
	m.mu.Unlock()
	return nil
}

func withinValidity(chain []*x509.Certificate, now time.Time) bool {
	for _, c := range chain {
		if now.Before(c.NotBefore) || now.After(c.NotAfter) {
			return false
		}
	}
	return true
}

var errNoCertificates = errors.New("peer sent no certificate")

// verifyThrough makes conf (a clone the caller owns) verify the peer
// through m for serverName, keeping any VerifyConnection it already has. A
// config that skips verification is left as it is. A nil m (a caller of
// the exported OpenSMTP without a memo) verifies through a memo of this
// connection only: the same checks, nothing remembered.
func (m *ChainMemo) verifyThrough(conf *tls.Config, serverName string) *tls.Config {
	if conf.InsecureSkipVerify {
		return conf
	}
	if m == nil {
		m = &ChainMemo{}
	}
	if conf.ServerName == "" {
		conf.ServerName = serverName
	}
	name, roots, next := conf.ServerName, conf.RootCAs, conf.VerifyConnection
	// crypto/tls' own verification is replaced, not skipped: the callback
	// below runs on every handshake and fails it like crypto/tls would.
	conf.InsecureSkipVerify = true
	conf.VerifyConnection = func(cs tls.ConnectionState) error {
		if err := m.verify(cs.PeerCertificates, name, roots, time.Now()); err != nil {
			return err
		}
		if next != nil {
			return next(cs)
		}
		return nil
	}
	return conf
}
