package throttle

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

func TestReaderCopiesEverything(t *testing.T) {
	data := bytes.Repeat([]byte("防災"), 300_000) // 1.8 MB, several chunks
	var out bytes.Buffer
	n, err := io.Copy(&out, NewReader(context.Background(), bytes.NewReader(data), NewLimiter(0)))
	if err != nil || n != int64(len(data)) || sha256.Sum256(out.Bytes()) != sha256.Sum256(data) {
		t.Fatalf("copied %d of %d bytes, err %v", n, len(data), err)
	}
}

func TestReaderNeverPassesMoreThanAChunk(t *testing.T) {
	r := NewReader(context.Background(), bytes.NewReader(make([]byte, 3*Chunk)), NewLimiter(0))
	n, err := r.Read(make([]byte, 2*Chunk))
	if err != nil || n != Chunk {
		t.Errorf("read %d, %v; want one chunk (%d): the limiter's burst bounds each wait", n, err, Chunk)
	}
}

// A limited reader whose budget cannot cover the next chunk before the
// deadline stops at once with an error instead of overrunning the deadline.
func TestReaderRespectsDeadline(t *testing.T) {
	lim := rate.NewLimiter(rate.Limit(1000), Chunk) // 1 kB/s: a chunk takes minutes
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	lim.AllowN(time.Now(), Chunk) // burst spent
	ctx2, cancel2 := context.WithDeadline(ctx, time.Now().Add(time.Second))
	defer cancel2()
	_, err := io.Copy(io.Discard, NewReader(ctx2, strings.NewReader(strings.Repeat("x", 2*Chunk)), lim))
	if err == nil {
		t.Fatal("no error although the budget cannot be met before the deadline")
	}
	cancelled, cancel3 := context.WithCancel(context.Background())
	cancel3()
	if _, err := NewReader(cancelled, strings.NewReader("x"), lim).Read(make([]byte, 1)); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled ctx: %v", err)
	}
}

func TestNewLimiter(t *testing.T) {
	if l := NewLimiter(0).Limit(); l != rate.Inf {
		t.Errorf("0 MB/s = %v, want unlimited", l)
	}
	if l := NewLimiter(50).Limit(); l != rate.Limit(50e6) {
		t.Errorf("50 MB/s = %v", l)
	}
}
