package manifest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"golang.org/x/time/rate"

	"github.com/bosaimail/bosaimail_exporter/internal/throttle"
)

// Result is the outcome of verifying the files of a manifest.
type Result struct {
	// Listed is the number of manifest entries.
	Listed int
	// OK are the entries whose content matches.
	OK int
	// Mismatched files' content differs from the manifest.
	Mismatched []string
	// Missing files are listed but absent.
	Missing []string
	// Unlisted files match the data set's file glob but are not listed.
	Unlisted []string
	// Unreadable files exist but could not be read (permission, not a
	// regular file, symlink loop or leaving the directory...), with why.
	Unreadable []string
	// Bytes hashed.
	Bytes int64
}

// Problems counts every file that is not verified.
func (r *Result) Problems() int {
	return len(r.Mismatched) + len(r.Missing) + len(r.Unlisted) + len(r.Unreadable)
}

// Verify hashes every listed file inside root, no faster than lim, and
// lists the files matching glob (if not empty) that the manifest does not
// list (except those in exclude: the manifest and its MAC or signature).
// Only a cancelled ctx is an error: everything else is part of the result.
func Verify(ctx context.Context, root *os.Root, m *Manifest, glob string, exclude []string, lim *rate.Limiter) (*Result, error) {
	res := &Result{Listed: len(m.Entries)}
	for _, e := range m.Entries {
		sum, n, err := HashFile(ctx, root, e.Name, lim)
		res.Bytes += n
		switch {
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case errors.Is(err, fs.ErrNotExist):
			res.Missing = append(res.Missing, e.Name)
		case err != nil:
			res.Unreadable = append(res.Unreadable, fmt.Sprintf("%s: %v", e.Name, err))
		case sum != e.Sum:
			res.Mismatched = append(res.Mismatched, e.Name)
		default:
			res.OK++
		}
	}
	if glob != "" {
		listed := make(map[string]bool, len(m.Entries)+len(exclude))
		for _, e := range m.Entries {
			listed[e.Name] = true
		}
		for _, x := range exclude {
			listed[filepath.Clean(x)] = true
		}
		matches, err := fs.Glob(root.FS(), glob)
		if err != nil {
			return nil, fmt.Errorf("listing %q: %w", glob, err)
		}
		for _, name := range matches {
			if listed[name] {
				continue
			}
			if st, err := root.Lstat(name); err == nil && st.IsDir() {
				continue
			}
			res.Unlisted = append(res.Unlisted, name)
		}
		sort.Strings(res.Unlisted)
	}
	return res, nil
}

// HashFile returns the SHA-256 of a regular file inside root, read no faster
// than lim. A file that is not regular (a FIFO would block forever, a device
// never end) is refused before it is opened.
func HashFile(ctx context.Context, root *os.Root, name string, lim *rate.Limiter) ([sha256.Size]byte, int64, error) {
	var sum [sha256.Size]byte
	st, err := root.Stat(name)
	if err != nil {
		return sum, 0, err
	}
	if !st.Mode().IsRegular() {
		return sum, 0, fmt.Errorf("not a regular file (%s)", st.Mode().Type())
	}
	f, err := root.Open(name)
	if err != nil {
		return sum, 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, throttle.NewReader(ctx, f, lim))
	if err != nil {
		return sum, n, err
	}
	h.Sum(sum[:0])
	return sum, n, nil
}
