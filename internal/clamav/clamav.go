// Package clamav reads ClamAV signature database versions: the clamd
// VERSION reply ("ClamAV 1.0.5/27135/Tue Dec 12 09:36:29 2023") and the
// 512-byte header of a .cvd/.cld file on disk.
package clamav

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// Info is what a signature source tells.
type Info struct {
	// Engine is the engine version ("1.0.5"), empty from a file header.
	Engine string
	// Version is the daily database version (27135).
	Version int
	// Built is when that database was built.
	Built time.Time
	// Signatures is the signature count (file header only).
	Signatures int
}

// ParseVersionReply parses a clamd VERSION reply. clamd prints the build
// time with ctime() in its own local zone, so loc must be clamd's zone.
func ParseVersionReply(reply string, loc *time.Location) (Info, error) {
	reply = strings.TrimRight(reply, "\x00\r\n")
	if !strings.HasPrefix(reply, "ClamAV ") {
		return Info{}, fmt.Errorf("clamd VERSION reply %q does not start with \"ClamAV \"", trim(reply))
	}
	parts := strings.SplitN(reply[len("ClamAV "):], "/", 3)
	info := Info{Engine: strings.TrimSpace(parts[0])}
	if info.Engine == "" {
		return info, fmt.Errorf("clamd VERSION reply %q has no engine version", trim(reply))
	}
	if len(parts) < 3 {
		return info, fmt.Errorf("clamd VERSION reply %q has no signature database version (no database loaded?)", trim(reply))
	}
	v, err := strconv.Atoi(strings.TrimSpace(parts[1]))
	if err != nil || v <= 0 {
		// The reply is quoted once, bounded; its parts are not quoted again.
		return info, fmt.Errorf("clamd VERSION reply %q: its database version is not a positive number", trim(reply))
	}
	info.Version = v
	if loc == nil {
		loc = time.UTC
	}
	t, err := time.ParseInLocation(time.ANSIC, strings.Join(strings.Fields(parts[2]), " "), loc)
	if err != nil {
		// ctime pads the day with a space; Fields+Join removed it, so
		// try the unpadded layout.
		t, err = time.ParseInLocation("Mon Jan 2 15:04:05 2006", strings.Join(strings.Fields(parts[2]), " "), loc)
	}
	if err != nil {
		return info, fmt.Errorf("clamd VERSION reply %q: its build time is not a ctime date", trim(reply))
	}
	info.Built = t
	return info, nil
}

// HeaderSize is the size of a CVD/CLD header.
const HeaderSize = 512

// ParseCVDHeader parses the header of daily.cvd or daily.cld:
// "ClamAV-VDB:build time:version:signatures:level:md5:dsig:builder:stime",
// space-padded to 512 bytes.
func ParseCVDHeader(r io.Reader) (Info, error) {
	buf := make([]byte, HeaderSize)
	n, err := io.ReadFull(r, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return Info{}, fmt.Errorf("CVD header: %w", err)
	}
	if n < HeaderSize {
		return Info{}, fmt.Errorf("CVD header: file is %d bytes, shorter than the %d-byte header", n, HeaderSize)
	}
	hdr := strings.TrimRight(string(buf), " \x00")
	if !strings.HasPrefix(hdr, "ClamAV-VDB:") {
		return Info{}, errors.New("CVD header: does not start with ClamAV-VDB: (not a ClamAV database)")
	}
	f := strings.Split(hdr, ":")
	if len(f) < 9 {
		return Info{}, fmt.Errorf("CVD header: %d fields, want at least 9", len(f))
	}
	// The build time "12 Dec 2023 09:36 -0500" holds a colon, which
	// splits it in two: rejoin.
	var info Info
	rest := f[1:]
	built := rest[0]
	if len(rest) > 1 && len(rest[1]) >= 2 && !isDigits(rest[1]) {
		built, rest = rest[0]+":"+rest[1], rest[2:]
	} else {
		rest = rest[1:]
	}
	if len(rest) < 7 {
		return Info{}, fmt.Errorf("CVD header: too few fields after the build time %q", built)
	}
	if info.Version, err = strconv.Atoi(rest[0]); err != nil || info.Version <= 0 {
		return Info{}, fmt.Errorf("CVD header: version %q is not a positive number", rest[0])
	}
	if info.Signatures, err = strconv.Atoi(rest[1]); err != nil {
		return Info{}, fmt.Errorf("CVD header: signature count %q is not a number", rest[1])
	}
	// stime (seconds since the epoch) is exact; the text build time is a
	// fallback for headers without it.
	if st, err := strconv.ParseInt(strings.TrimSpace(rest[len(rest)-1]), 10, 64); err == nil && st > 0 {
		info.Built = time.Unix(st, 0)
	} else if t, err := time.Parse("02 Jan 2006 15:04 -0700", built); err == nil {
		info.Built = t
	} else {
		return Info{}, fmt.Errorf("CVD header: build time %q cannot be read", built)
	}
	return info, nil
}

// QueryVersion sends "nVERSION" to clamd at network/address ("tcp",
// "127.0.0.1:3310" or "unix", "/run/clamav/clamd.ctl") and parses the reply.
// The context bounds the whole exchange.
func QueryVersion(ctx context.Context, network, address string, loc *time.Location) (Info, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, address)
	if err != nil {
		return Info{}, err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if _, err := io.WriteString(conn, "nVERSION\n"); err != nil {
		return Info{}, fmt.Errorf("clamd: sending VERSION: %w", err)
	}
	line, err := bufio.NewReaderSize(io.LimitReader(conn, 1024), 1024).ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		return Info{}, fmt.Errorf("clamd: reading VERSION reply: %w", err)
	}
	return ParseVersionReply(line, loc)
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// trim bounds a peer's text quoted in an error (80 bytes, valid UTF-8).
func trim(s string) string {
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
