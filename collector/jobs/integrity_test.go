package jobs

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bosaimail/bosaimail_exporter/collector"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/bosaimail/bosaimail_exporter/config"
)

func gzipBytes(t *testing.T, content string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(content))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func writeBackupAt(t *testing.T, p string, data []byte, mtime time.Time) {
	t.Helper()
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

func TestBackupCollector(t *testing.T) {
	day := 24 * time.Hour
	t0 := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
	small := gzipBytes(t, "-- dump\n")
	big := gzipBytes(t, strings.Repeat("INSERT INTO registrants VALUES (1);\n", 2000))
	type file struct {
		name   string
		data   []byte
		age    time.Duration
		marker bool
	}
	cases := []struct {
		name                  string
		files                 []file
		last                  time.Time
		size, previous        int
		incomplete, artefacts int
	}{
		{name: "newest complete", files: []file{{"a.sql.gz", big, 2 * day, true}, {"b.sql.gz", small, day, true}},
			last: t0.Add(-day), size: len(small), previous: len(big), artefacts: 2},
		{name: "truncated newest is skipped", files: []file{{"a.sql.gz", big, 2 * day, true}, {"b.sql.gz", big, day, true}, {"c.sql.gz", big[:len(big)-9], 0, true}},
			last: t0.Add(-day), size: len(big), previous: len(big), incomplete: 1, artefacts: 3},
		{name: "one byte changed fails the CRC", files: []file{{"a.sql.gz", big, 2 * day, true}, {"b.sql.gz", flipByte(big, len(big)/2), day, true}},
			last: t0.Add(-2 * day), size: len(big), previous: -1, incomplete: 1, artefacts: 2},
		{name: "no marker yet", files: []file{{"a.sql.gz", big, 2 * day, true}, {"b.sql.gz", big, 0, false}},
			last: t0.Add(-2 * day), size: len(big), previous: -1, incomplete: 1, artefacts: 2},
		{name: "empty file", files: []file{{"a.sql.gz", big, 2 * day, true}, {"b.sql.gz", nil, 0, true}},
			last: t0.Add(-2 * day), size: len(big), previous: -1, incomplete: 1, artefacts: 2},
		{name: "nothing yet", files: nil, previous: -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			bdir := filepath.Join(dir, "backups")
			os.MkdirAll(bdir, 0o755)
			for _, f := range tc.files {
				writeBackupAt(t, filepath.Join(bdir, f.name), f.data, t0.Add(-f.age))
				if f.marker {
					writeBackupAt(t, filepath.Join(bdir, f.name+".done"), nil, t0.Add(-f.age))
				}
			}
			cfg := loadJobsConfig(t, dir, `
jobs:
  backups:
    - name: db
      directory: backups
      glob: "*.sql.gz*"
      marker_suffix: .done
      verify_gzip: true
      max_age: 26h
`, nil)
			c, err := newBackupCollector(collector.Env{Config: cfg})
			if err != nil {
				t.Fatal(err)
			}
			bc := c.(*backupCollector)
			if err := bc.sources[0].src.RefreshOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
			lastTS := 0.0
			if !tc.last.IsZero() {
				lastTS = float64(tc.last.Unix())
			}
			prev := ""
			if tc.previous >= 0 {
				prev = fmt.Sprintf("# HELP bosaimail_backup_previous_size_bytes Size of the complete backup artefact before the newest one (absent if there is none).\n# TYPE bosaimail_backup_previous_size_bytes gauge\nbosaimail_backup_previous_size_bytes{backup=\"db\"} %d\n", tc.previous)
			}
			want := fmt.Sprintf(`# HELP bosaimail_backup_artefacts Number of files matching the backup's glob.
# TYPE bosaimail_backup_artefacts gauge
bosaimail_backup_artefacts{backup="db"} %d
# HELP bosaimail_backup_incomplete_artefacts Artefacts newer than the newest complete one that fail the completeness checks (too small, no marker, corrupt gzip) or cannot be read.
# TYPE bosaimail_backup_incomplete_artefacts gauge
bosaimail_backup_incomplete_artefacts{backup="db"} %d
# HELP bosaimail_backup_last_timestamp_seconds Modification time of the newest complete backup artefact (0 if there is none).
# TYPE bosaimail_backup_last_timestamp_seconds gauge
bosaimail_backup_last_timestamp_seconds{backup="db"} %g
# HELP bosaimail_backup_max_age_seconds Configured age (max_age) beyond which the newest complete backup is stale.
# TYPE bosaimail_backup_max_age_seconds gauge
bosaimail_backup_max_age_seconds{backup="db"} 93600
%s# HELP bosaimail_backup_size_bytes Size of the newest complete backup artefact (0 if there is none).
# TYPE bosaimail_backup_size_bytes gauge
bosaimail_backup_size_bytes{backup="db"} %d
`, tc.artefacts, tc.incomplete, lastTS, prev, tc.size)
			if err := testutil.CollectAndCompare(collector.Adapt(context.Background(), c), strings.NewReader(want),
				"bosaimail_backup_artefacts", "bosaimail_backup_incomplete_artefacts", "bosaimail_backup_last_timestamp_seconds",
				"bosaimail_backup_max_age_seconds", "bosaimail_backup_previous_size_bytes", "bosaimail_backup_size_bytes"); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestBackupMissingDirectory(t *testing.T) {
	dir := t.TempDir()
	cfg := loadJobsConfig(t, dir, "jobs:\n  backups:\n    - {name: db, directory: nowhere, max_age: 1d}\n", nil)
	c, _ := newBackupCollector(collector.Env{Config: cfg})
	src := c.(*backupCollector).sources[0].src
	if err := src.RefreshOnce(context.Background()); err == nil || !strings.Contains(err.Error(), "nowhere") {
		t.Errorf("err = %v", err)
	}
	out, _ := testutil.CollectAndFormat(collector.Adapt(context.Background(), c), expfmt.TypeTextPlain, "bosaimail_source_up")
	if !strings.Contains(string(out), `bosaimail_source_up{collector="backup",source="db"} 0`) {
		t.Errorf("source_up: %s", out)
	}
}

func flipByte(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= 0x01
	return c
}

// writeDataSet writes files and a sha256sum manifest with its HMAC.
func writeDataSet(t *testing.T, dir string, key []byte, files map[string]string) {
	t.Helper()
	var man strings.Builder
	for _, name := range []string{"registrants.csv", "templates/typhoon.txt", "templates/quake.txt"} {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(files[name]), 0o644)
		sum := sha256.Sum256([]byte(files[name]))
		fmt.Fprintf(&man, "%x  %s\n", sum, name)
	}
	os.WriteFile(filepath.Join(dir, "SHA256SUMS"), []byte(man.String()), 0o644)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(man.String()))
	os.WriteFile(filepath.Join(dir, "SHA256SUMS.hmac"), []byte(hex.EncodeToString(mac.Sum(nil))+"\n"), 0o644)
}

func TestIntegrityCollector(t *testing.T) {
	key := []byte("manifest-key-0123456789")
	files := map[string]string{"registrants.csv": "id,mail\n1,a@example.jp\n", "templates/typhoon.txt": "台風情報\n", "templates/quake.txt": "地震情報\n"}
	cases := []struct {
		name               string
		tamper             func(t *testing.T, dir string)
		verified, manifest int
		mismatches         int // -1: absent
	}{
		{"intact", func(*testing.T, string) {}, 1, 1, 0},
		{"one byte changed", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "templates/quake.txt"), []byte("地震情報!"), 0o644)
		}, 0, 1, 1},
		{"file added and not listed", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "templates/fake.txt"), []byte("偽情報\n"), 0o644)
		}, 0, 1, 1},
		{"line removed from the manifest", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "SHA256SUMS")
			b, _ := os.ReadFile(p)
			lines := strings.SplitAfter(string(b), "\n")
			os.WriteFile(p, []byte(lines[0]+lines[2]), 0o644)
		}, 0, 0, -1},
		{"manifest rewritten without the key", func(t *testing.T, dir string) {
			tampered := map[string]string{"registrants.csv": "id,mail\n1,evil@example.com\n", "templates/typhoon.txt": files["templates/typhoon.txt"], "templates/quake.txt": files["templates/quake.txt"]}
			writeDataSet(t, dir, []byte("attackers-own-key-0123"), tampered)
		}, 0, 0, -1},
		{"manifest deleted", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "SHA256SUMS"))
		}, 0, 0, -1},
		{"malformed manifest", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "SHA256SUMS")
			os.WriteFile(p, []byte("not a manifest\n"), 0o644)
			mac := hmac.New(sha256.New, key)
			mac.Write([]byte("not a manifest\n"))
			os.WriteFile(filepath.Join(dir, "SHA256SUMS.hmac"), []byte(hex.EncodeToString(mac.Sum(nil))), 0o644)
		}, 0, 0, -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ds := filepath.Join(dir, "data")
			writeDataSet(t, ds, key, files)
			cfg := loadJobsConfig(t, dir, `
jobs:
  max_read_mb_per_second: 100
  integrity:
    - name: registrants
      directory: data
      files: "templates/*"
      hmac_key_file: manifest.key
`, map[string]string{"manifest.key": string(key) + "\n"})
			clock := &jobsClock{t: time.Date(2026, 11, 25, 4, 0, 0, 0, time.UTC)}
			c, err := newIntegrityCollector(collector.Env{Config: cfg, Now: clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			src := c.(*integrityCollector).sources[0].src
			// A first, good check: a later bad verdict must replace it.
			if err := src.RefreshOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
			tc.tamper(t, ds)
			if err := src.RefreshOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
			mism := ""
			if tc.mismatches >= 0 {
				mism = fmt.Sprintf("# HELP bosaimail_integrity_mismatches Files of the data set that failed the latest check: content differs, listed but missing, present but unlisted, or unreadable.\n# TYPE bosaimail_integrity_mismatches gauge\nbosaimail_integrity_mismatches{dataset=\"registrants\"} %d\n", tc.mismatches)
			}
			want := fmt.Sprintf(`# HELP bosaimail_integrity_last_check_timestamp_seconds When the latest check of the data set completed.
# TYPE bosaimail_integrity_last_check_timestamp_seconds gauge
bosaimail_integrity_last_check_timestamp_seconds{dataset="registrants"} %d
# HELP bosaimail_integrity_manifest_valid 1 if the manifest was read, parsed and (when configured) its HMAC or signature matched in the latest check.
# TYPE bosaimail_integrity_manifest_valid gauge
bosaimail_integrity_manifest_valid{dataset="registrants"} %d
%s# HELP bosaimail_integrity_verified 1 if the latest check found the manifest authentic and every file matching it, 0 otherwise (tampering, damage, missing or unlisted files, or an unreadable, malformed or unauthentic manifest).
# TYPE bosaimail_integrity_verified gauge
bosaimail_integrity_verified{dataset="registrants"} %d
`, clock.Now().Unix(), tc.manifest, mism, tc.verified)
			if err := testutil.CollectAndCompare(collector.Adapt(context.Background(), c), strings.NewReader(want),
				"bosaimail_integrity_verified", "bosaimail_integrity_mismatches", "bosaimail_integrity_manifest_valid",
				"bosaimail_integrity_last_check_timestamp_seconds"); err != nil {
				t.Error(err)
			}
		})
	}
}

// An interrupted check (timeout, shutdown) keeps the previous verdict and
// marks the source down instead of claiming anything.
func TestIntegrityInterrupted(t *testing.T) {
	dir := t.TempDir()
	key := []byte("manifest-key-0123456789")
	writeDataSet(t, filepath.Join(dir, "data"), key, map[string]string{"registrants.csv": strings.Repeat("x", 1<<20)})
	cfg := loadJobsConfig(t, dir, "jobs:\n  integrity:\n    - {name: registrants, directory: data, hmac_key_file: k}\n", map[string]string{"k": string(key)})
	c, _ := newIntegrityCollector(collector.Env{Config: cfg})
	src := c.(*integrityCollector).sources[0].src
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := src.RefreshOnce(ctx); err == nil {
		t.Fatal("cancelled check reported success")
	}
	if _, ok := src.Snapshot(); ok {
		t.Error("an interrupted check produced a verdict")
	}
}

// TestIntegritySignature: an Ed25519-signed manifest verifies; one re-signed
// with another key (an attacker without the private key) does not.
func TestIntegritySignature(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	der, _ := x509.MarshalPKIXPublicKey(pub)
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	for _, tc := range []struct {
		name     string
		signer   ed25519.PrivateKey
		verified float64
	}{
		{"signed with the key", priv, 1},
		{"re-signed with another key", func() ed25519.PrivateKey { _, k, _ := ed25519.GenerateKey(nil); return k }(), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ds := filepath.Join(dir, "data")
			writeDataSet(t, ds, []byte("unused-hmac-key-0123"), map[string]string{"registrants.csv": "1\n"})
			man, _ := os.ReadFile(filepath.Join(ds, "SHA256SUMS"))
			os.WriteFile(filepath.Join(ds, "SHA256SUMS.sig"), ed25519.Sign(tc.signer, man), 0o644)
			cfg := loadJobsConfig(t, dir, "jobs:\n  integrity:\n    - {name: registrants, directory: data, signature_public_key_file: keys/m.pub}\n",
				map[string]string{"keys/m.pub": pemKey})
			c, err := newIntegrityCollector(collector.Env{Config: cfg})
			if err != nil {
				t.Fatal(err)
			}
			src := c.(*integrityCollector).sources[0].src
			if err := src.RefreshOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
			r, _ := src.Snapshot()
			if collector.Bool(r.verified()) != tc.verified || collector.Bool(r.manifestValid) != tc.verified {
				t.Errorf("verified %v manifest valid %v, want %v", r.verified(), r.manifestValid, tc.verified)
			}
		})
	}
	// A key that is not Ed25519 is refused when the config is loaded.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "rsa.pub"), []byte("-----BEGIN PUBLIC KEY-----\nMFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAL\n-----END PUBLIC KEY-----\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "c.yml"), []byte("jobs:\n  integrity:\n    - {name: d, directory: data, signature_public_key_file: rsa.pub}\n"), 0o644)
	if _, err := config.Load(filepath.Join(dir, "c.yml")); err == nil || !strings.Contains(err.Error(), "c.yml:3: jobs.integrity[0].signature_public_key_file") {
		t.Errorf("non-Ed25519 key: %v", err)
	}
}
