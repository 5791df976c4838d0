// Package selfsigned issues throwaway certificates: a new CA and a leaf it
// signs. The simulator serves them (a valid and an expired one, to inject a
// certificate fault) and tests use them for every TLS case.
package selfsigned

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"sync/atomic"
	"time"
)

// Bundle is a leaf certificate, its key and the CA that signed it.
type Bundle struct {
	TLS    tls.Certificate
	Leaf   *x509.Certificate
	CAPool *x509.CertPool
	CAPEM  []byte
	PEM    []byte
	KeyPEM []byte
}

// CA signs leaves.
type CA struct {
	cert  *x509.Certificate
	key   *ecdsa.PrivateKey
	PEM   []byte
	Pool  *x509.CertPool
	serno atomic.Int64
}

// NewCA makes a CA valid for ten years around now.
func NewCA() (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "bosaimail throwaway CA"},
		NotBefore:             now.Add(-5 * 365 * 24 * time.Hour),
		NotAfter:              now.Add(5 * 365 * 24 * time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	ca := &CA{cert: cert, key: key, PEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), Pool: x509.NewCertPool()}
	ca.serno.Store(1)
	ca.Pool.AddCert(cert)
	return ca, nil
}

// Issue makes a new CA and a leaf for hosts (DNS names or IP addresses)
// valid in [notBefore, notAfter].
func Issue(notBefore, notAfter time.Time, hosts ...string) (*Bundle, error) {
	ca, err := NewCA()
	if err != nil {
		return nil, err
	}
	return ca.Issue(notBefore, notAfter, hosts...)
}

// Issue makes a leaf for hosts valid in [notBefore, notAfter].
func (ca *CA) Issue(notBefore, notAfter time.Time, hosts ...string) (*Bundle, error) {
	if len(hosts) == 0 {
		return nil, fmt.Errorf("no host names")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(ca.serno.Add(1)),
		Subject:      pkix.Name{CommonName: hosts[0]},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	b := &Bundle{
		Leaf:   leaf,
		CAPool: ca.Pool,
		CAPEM:  ca.PEM,
		PEM:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM: pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	}
	if b.TLS, err = tls.X509KeyPair(b.PEM, b.KeyPEM); err != nil {
		return nil, err
	}
	return b, nil
}
