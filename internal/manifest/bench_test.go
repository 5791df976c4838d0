package manifest

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/bosaimail/bosaimail_exporter/internal/throttle"
)

// BenchmarkHashFile hashes the same 64 MiB file with HashFile (unlimited,
// and limited to 100 MB/s) and with GNU sha256sum in the same run, and
// reports both throughputs and their ratio (go/sha256sum).
func BenchmarkHashFile(b *testing.B) {
	const size = 64 << 20
	dir := b.TempDir()
	buf := make([]byte, size)
	rand.Read(buf)
	if err := os.WriteFile(filepath.Join(dir, "blob"), buf, 0o644); err != nil {
		b.Fatal(err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer root.Close()
	sha256sum, err := exec.LookPath("sha256sum")
	if err != nil {
		b.Skip("sha256sum not installed")
	}
	mbps := func(d time.Duration) float64 { return float64(size) / 1e6 / d.Seconds() }

	b.Run("vs_sha256sum", func(b *testing.B) {
		var goTime, peerTime time.Duration
		for b.Loop() {
			t := time.Now()
			if _, _, err := HashFile(context.Background(), root, "blob", throttle.NewLimiter(0)); err != nil {
				b.Fatal(err)
			}
			goTime += time.Since(t)
			t = time.Now()
			if out, err := exec.Command(sha256sum, filepath.Join(dir, "blob")).Output(); err != nil || len(out) < 64 {
				b.Fatal(err)
			}
			peerTime += time.Since(t)
		}
		n := time.Duration(b.N)
		b.ReportMetric(mbps(goTime/n), "go_MB/s")
		b.ReportMetric(mbps(peerTime/n), "sha256sum_MB/s")
		b.ReportMetric(float64(peerTime)/float64(goTime), "go/sha256sum")
	})
	b.Run("limited_100MBps", func(b *testing.B) {
		var total time.Duration
		for b.Loop() {
			t := time.Now()
			if _, _, err := HashFile(context.Background(), root, "blob", throttle.NewLimiter(100)); err != nil {
				b.Fatal(err)
			}
			total += time.Since(t)
		}
		b.ReportMetric(mbps(total/time.Duration(b.N)), "MB/s")
	})
}

// BenchmarkParse: a 10 000-line manifest (a large data set).
func BenchmarkParse(b *testing.B) {
	var buf []byte
	for i := 0; i < 10000; i++ {
		buf = fmt.Appendf(buf, "%064x  registrants/2026-11/part-%05d.csv.gz\n", i, i)
	}
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		if _, err := Parse(buf); err != nil {
			b.Fatal(err)
		}
	}
}
