// Package logging sets up the exporter's go-kit logger from the Prometheus
// style flags --log.level and --log.format, and bridges it to *slog.Logger
// for the one library that wants that (exporter-toolkit's web server).
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	sloggokit "github.com/tjhop/slog-gokit"
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
	l = level.NewFilter(l, opt)
	l = log.With(l, "ts", log.TimestampFormat(func() time.Time { return time.Now().UTC() }, "2006-01-02T15:04:05.000Z07:00"), "caller", log.DefaultCaller)
	return l, nil
}

// Slog bridges a go-kit logger to *slog.Logger at the configured level.
func Slog(l log.Logger, c Config) *slog.Logger {
	lvl := slog.LevelInfo
	switch c.Level {
	case "debug":
		lvl = slog.LevelDebug
	case "warn":
		lvl = slog.LevelWarn
	case "error":
		lvl = slog.LevelError
	}
	return slog.New(sloggokit.NewGoKitHandler(l, lvl))
}

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
