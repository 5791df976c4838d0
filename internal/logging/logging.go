// Package logging sets up the exporter's go-kit logger from the Prometheus
// style flags --log.level and --log.format, and bridges it to *slog.Logger
// for the one library that wants that (exporter-toolkit's web server).
package logging

import (
	"context"
	"fmt"
	"io"
	stdlog "log"
	"log/slog"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	sloggokit "github.com/tjhop/slog-gokit"

	"github.com/bosaimail/bosaimail_exporter/internal/fetch"
)

// Config holds the flag values.
type Config struct {
	Level  string
	Format string
}

// AddFlags registers --log.level and --log.format.
func AddFlags(a *kingpin.Application, c *Config) {
	a.Flag("log.level", "Only log messages with the given severity or above. One of: [debug, info, warn, error]").
		Default("info").EnumVar(&c.Level, "debug", "info", "warn", "error")
	a.Flag("log.format", "Output format of log messages. One of: [logfmt, json]").
		Default("logfmt").EnumVar(&c.Format, "logfmt", "json")
}

// New builds the logger. Timestamps are UTC RFC 3339 with milliseconds, as
// Prometheus components log.
func New(c Config, w io.Writer) (log.Logger, error) {
	l, err := withTimestamp(c, w)
	if err != nil {
		return nil, err
	}
	return log.With(l, "caller", log.DefaultCaller), nil
}

// withTimestamp is the logger without the caller: the slog bridge names
// the caller itself, from the record.
func withTimestamp(c Config, w io.Writer) (log.Logger, error) {
	var l log.Logger
	switch c.Format {
	case "", "logfmt":
		l = log.NewLogfmtLogger(log.NewSyncWriter(w))
	case "json":
		l = log.NewJSONLogger(log.NewSyncWriter(w))
	default:
		return nil, fmt.Errorf("unknown log format %q", c.Format)
	}
	var opt level.Option
	switch c.Level {
	case "debug":
		opt = level.AllowDebug()
	case "", "info":
		opt = level.AllowInfo()
	case "warn":
		opt = level.AllowWarn()
	case "error":
		opt = level.AllowError()
	default:
		return nil, fmt.Errorf("unknown log level %q", c.Level)
	}
	l = level.NewFilter(Redacting(l), opt)
	return log.With(l, "ts", log.TimestampFormat(func() time.Time { return time.Now().UTC() }, "2006-01-02T15:04:05.000Z07:00")), nil
}

// Redacting hides credentials and query values of every URL in the values
// of a log line (fetch.Redact), whatever logs it: an error from a library
// often quotes the URL whole, and a debug line must not leak a secret
// either.
func Redacting(next log.Logger) log.Logger {
	return log.LoggerFunc(func(keyvals ...any) error {
		keyvals = append([]any(nil), keyvals...) // the caller's slice is not ours
		for i := 1; i < len(keyvals); i += 2 {
			switch v := keyvals[i].(type) {
			case string:
				keyvals[i] = fetch.RedactText(v)
			case error:
				keyvals[i] = fetch.RedactText(v.Error())
			case fmt.Stringer:
				keyvals[i] = fetch.RedactText(v.String())
			}
		}
		return next.Log(keyvals...)
	})
}

// Slog is the same log for the one library that wants a *slog.Logger
// (exporter-toolkit's web server): same writer, format, level and "ts"
// timestamp, with the caller the bridge takes from the record.
func Slog(c Config, w io.Writer) (*slog.Logger, error) {
	l, err := withTimestamp(c, w)
	if err != nil {
		return nil, err
	}
	lvl := slog.LevelInfo
	switch c.Level {
	case "debug":
		lvl = slog.LevelDebug
	case "warn":
		lvl = slog.LevelWarn
	case "error":
		lvl = slog.LevelError
	}
	return slog.New(untimed{sloggokit.NewGoKitHandler(l, lvl)}), nil
}

// untimed drops a record's own time, so the line carries the logger's "ts"
// only, as every other line does.
type untimed struct{ slog.Handler }

func (h untimed) Handle(ctx context.Context, r slog.Record) error {
	r.Time = time.Time{}
	return h.Handler.Handle(ctx, r)
}

func (h untimed) WithAttrs(a []slog.Attr) slog.Handler { return untimed{h.Handler.WithAttrs(a)} }
func (h untimed) WithGroup(n string) slog.Handler      { return untimed{h.Handler.WithGroup(n)} }

// Parse parses the command line of a, whose flags include the ones
// AddFlags registered into c, and builds the logger: the one start-up
// sequence of every command here. An error is a usage error (exit 2).
func Parse(a *kingpin.Application, args []string, c *Config, w io.Writer) (log.Logger, error) {
	a.HelpFlag.Short('h')
	if _, err := a.Parse(args); err != nil {
		return nil, err
	}
	return New(*c, w)
}

// StdError is a standard library logger (http.Server.ErrorLog) whose lines
// become error lines of l, each whole line the message: go-kit's
// StdlibAdapter would take "from 127.0.0.1:38938:" in a TLS handshake error
// for a file:line caller.
func StdError(l log.Logger, component string) *stdlog.Logger {
	return stdlog.New(stdErrorWriter{l: level.Error(l), component: component}, "", 0)
}

type stdErrorWriter struct {
	l         log.Logger
	component string
}

func (w stdErrorWriter) Write(p []byte) (int, error) {
	w.l.Log("msg", strings.TrimRight(string(p), "\n"), "component", w.component)
	return len(p), nil
}
