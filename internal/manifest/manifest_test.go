package manifest

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/bosaimail/bosaimail_exporter/internal/throttle"
)

// testdata/SHA256SUMS.* were written by GNU coreutils sha256sum (text,
// binary and --tag modes) over testdata/dataset plus a file whose name has
// a newline (created by copyDataset: such a name is not kept in git); the
// .hmac-* and .sig files by OpenSSL 3.0 (see docs/jobs.md for the commands).
const newlineName = "new\nline.txt"

func read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseRecorded(t *testing.T) {
	cases := map[string][]string{
		"SHA256SUMS.gnu":    {"registrants.csv", "2026-11/mail-log.txt", "with space.txt", `back\slash.txt`, newlineName},
		"SHA256SUMS.binary": {"registrants.csv", "2026-11/mail-log.txt"},
		"SHA256SUMS.tag":    {"registrants.csv", "2026-11/mail-log.txt"},
	}
	for file, want := range cases {
		t.Run(file, func(t *testing.T) {
			m, err := Parse(read(t, file))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range m.Entries {
				got = append(got, e.Name)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("names %q, want %q", got, want)
			}
			if m.Entries[0].Line != 1 || m.Entries[1].Line != 2 {
				t.Errorf("line numbers %d %d", m.Entries[0].Line, m.Entries[1].Line)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	h := strings.Repeat("ab", 32)
	cases := []struct{ name, data, want string }{
		{"short hash", "abc  file\n", "manifest line 1: not in sha256sum format"},
		{"not hex", strings.Repeat("zz", 32) + "  file\n", "not 64 hex digits"},
		{"one space", h + " file\n", `followed by "  "`},
		{"md5", "d41d8cd98f00b204e9800998ecf8427e  file\n", "line 1"},
		{"second line bad", h + "  a\n# comment\n", "manifest line 2"},
		{"absolute", h + "  /etc/shadow\n", "not a relative path"},
		{"escapes dir", h + "  ../secret\n", "not a relative path"},
		{"duplicate", h + "  a\n" + h + " *./a\n", `"a" is already listed on line 1`},
		{"empty name", h + "  \n", "empty file name"},
		{"bad escape", `\` + h + `  a\x` + "\n", "unknown escape"},
		{"lone backslash", `\` + h + `  a\` + "\n", "lone"},
		{"tag without hash", "SHA256 (a) = \n", "not 64 hex"},
		{"tag malformed", "SHA256 (a = " + h + "\n", "SHA256 (name) = hash"},
		{"too large", strings.Repeat("x", MaxBytes+1), "larger than"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.data))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
	// Blank lines and CRLF line ends are tolerated.
	m, err := Parse([]byte("\r\n" + h + "  a\r\n\n"))
	if err != nil || len(m.Entries) != 1 || m.Entries[0].Name != "a" || m.Entries[0].Line != 2 {
		t.Errorf("CRLF: %+v %v", m, err)
	}
}

func TestVerifyHMAC(t *testing.T) {
	man := read(t, "SHA256SUMS.gnu")
	key := read(t, "hmac.key")
	for _, f := range []string{"SHA256SUMS.gnu.hmac-r", "SHA256SUMS.gnu.hmac-default"} {
		if err := VerifyHMAC(man, key, read(t, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	mac := read(t, "SHA256SUMS.gnu.hmac-r")
	// A line removed from the manifest.
	lines := strings.SplitAfter(string(man), "\n")
	removed := strings.Join(append(lines[:1:1], lines[2:]...), "")
	if err := VerifyHMAC([]byte(removed), key, mac); !errors.Is(err, ErrNotAuthentic) {
		t.Errorf("removed line: %v", err)
	}
	// A manifest rewritten with the right hashes but without the key: the
	// attacker can only MAC it with a key of their own.
	if err := VerifyHMAC(man, []byte("not-the-key-0123456789"), mac); !errors.Is(err, ErrNotAuthentic) {
		t.Errorf("wrong key: %v", err)
	}
	if err := VerifyHMAC(man, key, []byte("garbage")); err == nil || errors.Is(err, ErrNotAuthentic) {
		t.Errorf("garbage MAC: %v", err)
	}
}

func TestVerifySignature(t *testing.T) {
	block, _ := pem.Decode(read(t, "ed25519.pub"))
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pub := k.(ed25519.PublicKey)
	man := read(t, "SHA256SUMS.gnu")
	sig := read(t, "SHA256SUMS.gnu.sig")
	if err := VerifySignature(man, pub, sig); err != nil {
		t.Fatalf("openssl signature: %v", err)
	}
	tampered := append([]byte(nil), man...)
	tampered[0] ^= 1
	if err := VerifySignature(tampered, pub, sig); !errors.Is(err, ErrNotAuthentic) {
		t.Errorf("tampered manifest: %v", err)
	}
	// Re-signed with another key.
	_, other, _ := ed25519.GenerateKey(nil)
	if err := VerifySignature(man, pub, ed25519.Sign(other, man)); !errors.Is(err, ErrNotAuthentic) {
		t.Errorf("other key: %v", err)
	}
	if err := VerifySignature(man, pub, []byte("short")); err == nil || errors.Is(err, ErrNotAuthentic) {
		t.Errorf("malformed signature: %v", err)
	}
}

// copyDataset copies testdata/dataset into a temporary directory (tests
// change files) and adds the file with a newline in its name.
func copyDataset(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir("testdata/dataset", func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("testdata/dataset", p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dst, newlineName), []byte("nl\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dst, "SHA256SUMS"), read(t, "SHA256SUMS.gnu"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

func verifyDir(t *testing.T, dir, glob string) *Result {
	t.Helper()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	data, err := os.ReadFile(filepath.Join(dir, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Verify(context.Background(), root, m, glob, []string{"SHA256SUMS"}, throttle.NewLimiter(0))
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestVerifyTamper(t *testing.T) {
	cases := []struct {
		name   string
		glob   string
		change func(t *testing.T, dir string)
		want   Result
	}{
		{name: "intact", glob: "*", change: func(*testing.T, string) {}, want: Result{Listed: 5, OK: 5}},
		{name: "one byte changed", change: func(t *testing.T, dir string) {
			p := filepath.Join(dir, "2026-11/mail-log.txt")
			b, _ := os.ReadFile(p)
			b[1500] = 'y'
			os.WriteFile(p, b, 0o644)
		}, want: Result{Listed: 5, OK: 4, Mismatched: []string{"2026-11/mail-log.txt"}}},
		{name: "file deleted", change: func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "registrants.csv"))
		}, want: Result{Listed: 5, OK: 4, Missing: []string{"registrants.csv"}}},
		{name: "line removed from manifest, file glob catches it", glob: "*.csv", change: func(t *testing.T, dir string) {
			p := filepath.Join(dir, "SHA256SUMS")
			b, _ := os.ReadFile(p)
			lines := strings.SplitAfter(string(b), "\n")
			os.WriteFile(p, []byte(strings.Join(lines[1:], "")), 0o644)
		}, want: Result{Listed: 4, OK: 4, Unlisted: []string{"registrants.csv"}}},
		{name: "symlink loop", change: func(t *testing.T, dir string) {
			p := filepath.Join(dir, "with space.txt")
			os.Remove(p)
			os.Symlink("with space.txt", p)
		}, want: Result{Listed: 5, OK: 4, Unreadable: []string{"with space.txt: x"}}},
		{name: "symlink leaving the directory", change: func(t *testing.T, dir string) {
			p := filepath.Join(dir, "registrants.csv")
			os.Remove(p)
			os.Symlink("/etc/hostname", p)
		}, want: Result{Listed: 5, OK: 4, Unreadable: []string{"registrants.csv: x"}}},
		{name: "fifo", change: func(t *testing.T, dir string) {
			p := filepath.Join(dir, "registrants.csv")
			os.Remove(p)
			if err := exec.Command("mkfifo", p).Run(); err != nil {
				t.Skip("mkfifo:", err)
			}
		}, want: Result{Listed: 5, OK: 4, Unreadable: []string{"registrants.csv: x"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyDataset(t)
			tc.change(t, dir)
			got := verifyDir(t, dir, tc.glob)
			for i := range got.Unreadable { // the reason varies by OS; the name matters
				got.Unreadable[i] = strings.SplitN(got.Unreadable[i], ":", 2)[0] + ": x"
			}
			got.Bytes = 0
			if !reflect.DeepEqual(*got, tc.want) {
				t.Errorf("result %+v\nwant   %+v", *got, tc.want)
			}
			if (got.Problems() == 0) != (tc.name == "intact") {
				t.Errorf("problems = %d", got.Problems())
			}
		})
	}
}

func TestVerifyStopsOnCancel(t *testing.T) {
	dir := copyDataset(t)
	root, _ := os.OpenRoot(dir)
	defer root.Close()
	m, _ := Parse(read(t, "SHA256SUMS.gnu"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Verify(ctx, root, m, "", nil, throttle.NewLimiter(1)); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v", err)
	}
}

func FuzzParse(f *testing.F) {
	for _, n := range []string{"SHA256SUMS.gnu", "SHA256SUMS.binary", "SHA256SUMS.tag"} {
		b, err := os.ReadFile(filepath.Join("testdata", n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse(data)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, e := range m.Entries {
			if !filepath.IsLocal(e.Name) || seen[e.Name] || e.Line < 1 {
				t.Fatalf("accepted entry %+v", e)
			}
			seen[e.Name] = true
		}
	})
}
