package manifest

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"testing"
)

// FuzzVerifyHMAC: whatever a MAC file holds, verification never panics, a
// MAC file that verifies names the true HMAC, and every accepted format of
// the true HMAC verifies.
func FuzzVerifyHMAC(f *testing.F) {
	key := []byte("0123456789abcdef0123")
	f.Add([]byte("a  f\n"), []byte("00"))
	f.Add([]byte("sha256sums\n"), []byte("HMAC-SHA2-256(SHA256SUMS)= 00"))
	f.Add([]byte(""), []byte("zz *SHA256SUMS\n"))
	f.Fuzz(func(t *testing.T, manifest, mac []byte) {
		h := hmac.New(sha256.New, key)
		h.Write(manifest)
		sum := hex.EncodeToString(h.Sum(nil))
		err := VerifyHMAC(manifest, key, mac)
		if err == nil && !containsFold(string(mac), sum) {
			t.Fatalf("MAC file %q verified without the HMAC %s", mac, sum)
		}
		for _, good := range []string{sum, sum + "\n", sum + " *SHA256SUMS\n", "HMAC-SHA2-256(SHA256SUMS)= " + sum + "\n"} {
			if err := VerifyHMAC(manifest, key, []byte(good)); err != nil {
				t.Fatalf("true HMAC %q refused: %v", good, err)
			}
		}
	})
}

// FuzzVerifySignature: any signature file is either authentic, refused as
// not authentic, or refused as malformed; never a panic. The true signature
// verifies raw and in base64.
func FuzzVerifySignature(f *testing.F) {
	pub, priv, _ := ed25519.GenerateKey(fixedRand{})
	f.Add([]byte("manifest"), []byte("short"))
	f.Add([]byte(""), make([]byte, ed25519.SignatureSize))
	f.Add([]byte("m"), []byte(base64.StdEncoding.EncodeToString(make([]byte, ed25519.SignatureSize))))
	f.Fuzz(func(t *testing.T, manifest, sig []byte) {
		err := VerifySignature(manifest, pub, sig)
		if err == nil && !ed25519.Verify(pub, manifest, sig) {
			dec, derr := base64.StdEncoding.DecodeString(string(trimSpace(sig)))
			if derr != nil || !ed25519.Verify(pub, manifest, dec) {
				t.Fatalf("signature %q accepted", sig)
			}
		}
		if err != nil && !errors.Is(err, ErrNotAuthentic) && len(sig) == ed25519.SignatureSize {
			t.Fatalf("a 64-byte signature refused as malformed: %v", err)
		}
		good := ed25519.Sign(priv, manifest)
		if err := VerifySignature(manifest, pub, good); err != nil {
			t.Fatalf("true signature refused: %v", err)
		}
		if err := VerifySignature(manifest, pub, []byte(base64.StdEncoding.EncodeToString(good)+"\n")); err != nil {
			t.Fatalf("true base64 signature refused: %v", err)
		}
	})
}

type fixedRand struct{}

func (fixedRand) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(i)
	}
	return len(p), nil
}

func containsFold(s, sub string) bool {
	return indexFold(s, sub) >= 0
}

func indexFold(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		match := true
		for j := 0; j < len(sub); j++ {
			a, b := s[i+j], sub[j]
			if 'A' <= a && a <= 'F' {
				a += 'a' - 'A'
			}
			if a != b {
				match = false
				break
			}
		}
		if match {
			return i
		}
	}
	return -1
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\n' || b[0] == '\t' || b[0] == '\r') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\n' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}
