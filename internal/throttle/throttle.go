// Package throttle bounds how fast the exporter reads files it verifies
// (backups, data sets), so hashing gigabytes never starves the mail
// service running on the same host.
package throttle

import (
	"context"
	"io"
	"math"

	"golang.org/x/time/rate"
)

// Chunk is the largest read passed through at once; the limiter's burst.
const Chunk = 256 << 10

// NewLimiter returns a limiter for mbPerSecond megabytes (10^6 bytes) per
// second; zero or less means unlimited.
func NewLimiter(mbPerSecond float64) *rate.Limiter {
	if mbPerSecond <= 0 || math.IsInf(mbPerSecond, 0) || math.IsNaN(mbPerSecond) {
		return rate.NewLimiter(rate.Inf, Chunk)
	}
	return rate.NewLimiter(rate.Limit(mbPerSecond*1e6), Chunk)
}

// Reader reads from r no faster than lim allows and stops when ctx ends.
// One limiter shared by several readers bounds them together.
type Reader struct {
	ctx context.Context
	r   io.Reader
	lim *rate.Limiter
}

// NewReader wraps r.
func NewReader(ctx context.Context, r io.Reader, lim *rate.Limiter) *Reader {
	return &Reader{ctx: ctx, r: r, lim: lim}
}

func (t *Reader) Read(p []byte) (int, error) {
	if err := t.ctx.Err(); err != nil {
		return 0, err
	}
	if len(p) > Chunk {
		p = p[:Chunk]
	}
	n, err := t.r.Read(p)
	if n > 0 && t.lim != nil {
		// Wait after reading, for what was read: the cost is known then,
		// and a short file is not charged a full chunk.
		if werr := t.lim.WaitN(t.ctx, n); werr != nil {
			return n, werr
		}
	}
	return n, err
}

// WriteTo copies with a buffer of one chunk (io.Copy would otherwise use
// a 32 KiB one, multiplying limiter calls).
func (t *Reader) WriteTo(w io.Writer) (int64, error) {
	buf := make([]byte, Chunk)
	var total int64
	for {
		n, err := t.Read(buf)
		if n > 0 {
			m, werr := w.Write(buf[:n])
			total += int64(m)
			if werr != nil {
				return total, werr
			}
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}
