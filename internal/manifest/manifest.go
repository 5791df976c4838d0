// Package manifest reads checksum manifests in the format of GNU
// `sha256sum` (and its --tag form), authenticates them with an HMAC or an
// Ed25519 detached signature, and verifies the files they list.
package manifest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// MaxBytes bounds a manifest (about 100 000 lines).
const MaxBytes = 16 << 20

// Entry is one line of a manifest.
type Entry struct {
	Name string
	Sum  [sha256.Size]byte
	Line int
}

// Manifest is a parsed manifest, in file order.
type Manifest struct {
	Entries []Entry
}

// Parse reads a sha256sum manifest. Accepted lines:
//
//	<64 hex>  <name>        text mode (two spaces)
//	<64 hex> *<name>        binary mode
//	\<64 hex>  <escaped>    name with \\ and \n escapes, as sha256sum writes
//	SHA256 (<name>) = <64 hex>   the --tag form
//
// Blank lines are ignored. Any other line, a name that leaves the directory
// (absolute or with ..), or a name listed twice is an error naming the line:
// a manifest that cannot be read entirely cannot vouch for anything.
func Parse(data []byte) (*Manifest, error) {
	if len(data) > MaxBytes {
		return nil, fmt.Errorf("manifest is larger than %d bytes", MaxBytes)
	}
	m := &Manifest{}
	seen := map[string]int{}
	for i, raw := range bytes.Split(data, []byte("\n")) {
		n := i + 1
		line := strings.TrimSuffix(string(raw), "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		e, err := parseLine(line)
		if err != nil {
			return nil, fmt.Errorf("manifest line %d: %w", n, err)
		}
		if !filepath.IsLocal(e.Name) {
			return nil, fmt.Errorf("manifest line %d: %q is not a relative path inside the data set", n, e.Name)
		}
		e.Name = filepath.Clean(e.Name)
		if prev, ok := seen[e.Name]; ok {
			return nil, fmt.Errorf("manifest line %d: %q is already listed on line %d", n, e.Name, prev)
		}
		seen[e.Name] = n
		e.Line = n
		m.Entries = append(m.Entries, e)
	}
	return m, nil
}

func parseLine(line string) (Entry, error) {
	var e Entry
	if rest, ok := strings.CutPrefix(line, "SHA256 ("); ok {
		i := strings.LastIndex(rest, ") = ")
		if i < 0 {
			return e, errors.New(`not in "SHA256 (name) = hash" form`)
		}
		e.Name = rest[:i]
		if err := decodeSum(&e.Sum, rest[i+4:]); err != nil {
			return e, err
		}
		if e.Name == "" {
			return e, errors.New("empty file name")
		}
		return e, nil
	}
	escaped := strings.HasPrefix(line, `\`)
	if escaped {
		line = line[1:]
	}
	if len(line) < 2*sha256.Size+2 {
		return e, errors.New("not in sha256sum format (64 hex digits, a space, a mode character, a name)")
	}
	if err := decodeSum(&e.Sum, line[:2*sha256.Size]); err != nil {
		return e, err
	}
	if line[2*sha256.Size] != ' ' || (line[2*sha256.Size+1] != ' ' && line[2*sha256.Size+1] != '*') {
		return e, errors.New(`the hash must be followed by "  " (text) or " *" (binary)`)
	}
	name := line[2*sha256.Size+2:]
	if escaped {
		var err error
		if name, err = unescape(name); err != nil {
			return e, err
		}
	}
	if name == "" {
		return e, errors.New("empty file name")
	}
	e.Name = name
	return e, nil
}

func decodeSum(dst *[sha256.Size]byte, s string) error {
	if len(s) != 2*sha256.Size {
		return fmt.Errorf("hash %q is not 64 hex digits", clip(s))
	}
	if _, err := hex.Decode(dst[:], []byte(s)); err != nil {
		return fmt.Errorf("hash %q is not 64 hex digits", clip(s))
	}
	return nil
}

// unescape undoes sha256sum's escaping of names with \ or newline.
func unescape(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 == len(s) {
			return "", errors.New(`name ends with a lone "\"`)
		}
		i++
		switch s[i] {
		case '\\':
			b.WriteByte('\\')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		default:
			return "", fmt.Errorf(`unknown escape "\%c" in name`, s[i])
		}
	}
	return b.String(), nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// ErrNotAuthentic is returned when a manifest's HMAC or signature does not
// match: it was changed (or re-written) without the key.
var ErrNotAuthentic = errors.New("manifest is not authentic")

// VerifyHMAC checks an HMAC-SHA256 of the manifest. mac is the content of
// the MAC file: the hex MAC alone, or the output of
// `openssl dgst -sha256 -hmac KEY [-r] FILE`.
func VerifyHMAC(manifest, key, mac []byte) error {
	want, err := parseMAC(string(mac))
	if err != nil {
		return err
	}
	h := hmac.New(sha256.New, key)
	h.Write(manifest)
	if !hmac.Equal(h.Sum(nil), want) {
		return fmt.Errorf("%w: HMAC does not match", ErrNotAuthentic)
	}
	return nil
}

func parseMAC(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if i := strings.LastIndex(s, "= "); i >= 0 && !strings.Contains(s[i:], "\n") {
		s = s[i+2:] // HMAC-SHA2-256(FILE)= hex
	} else if f := strings.Fields(s); len(f) > 0 {
		s = f[0] // hex [*FILE]
	}
	mac, err := hex.DecodeString(s)
	if err != nil || len(mac) != sha256.Size {
		return nil, errors.New("MAC file does not hold a 64-hex-digit HMAC-SHA256")
	}
	return mac, nil
}

// VerifySignature checks an Ed25519 detached signature of the manifest;
// sig is raw (64 bytes, as `openssl pkeyutl -sign -rawin` writes) or base64.
func VerifySignature(manifest []byte, pub ed25519.PublicKey, sig []byte) error {
	if len(pub) != ed25519.PublicKeySize {
		return errors.New("no Ed25519 public key")
	}
	raw := sig
	if len(raw) != ed25519.SignatureSize {
		dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(sig)))
		if err != nil || len(dec) != ed25519.SignatureSize {
			return errors.New("signature file holds neither 64 raw bytes nor a base64 Ed25519 signature")
		}
		raw = dec
	}
	if !ed25519.Verify(pub, manifest, raw) {
		return fmt.Errorf("%w: signature does not match", ErrNotAuthentic)
	}
	return nil
}
