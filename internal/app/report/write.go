package report

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/bosaimail/bosaimail_exporter/config"
	"github.com/bosaimail/bosaimail_exporter/internal/atomicfile"
)

// Formats are the output formats, in the order they are written.
var Formats = []string{"xlsx", "md", "csv"}

// BaseName is the file name of the report without extension.
func (r *Report) BaseName() string {
	return "bosaimail-report-" + r.Month.Format("2006-01")
}

// output is one file to write.
type output struct {
	name  string
	write func(w io.Writer) error
}

// Write writes the report in the given formats into dir and returns the
// paths written. Every file is first written to a temporary file in dir and
// renamed into place only when all of them were written, so a failure
// leaves no partial report behind.
func (r *Report) Write(dir string, formats []string) ([]string, error) {
	var outs []output
	sections := r.Sections()
	for _, f := range formats {
		switch f {
		case "xlsx":
			outs = append(outs, output{r.BaseName() + ".xlsx", func(w io.Writer) error { return r.WriteXLSX(w, sections) }})
		case "md":
			outs = append(outs, output{r.BaseName() + ".md", func(w io.Writer) error { return r.WriteMarkdown(w, sections) }})
		case "csv":
			for _, s := range sections {
				for _, t := range s.Tables {
					outs = append(outs, output{r.BaseName() + "-" + t.Name + ".csv", func(w io.Writer) error { return WriteCSV(w, t) }})
				}
			}
		default:
			return nil, fmt.Errorf("unknown format %q: one of %s", f, strings.Join(Formats, ", "))
		}
	}
	if len(outs) == 0 {
		return nil, errors.New("no output format given")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating output directory: %w", err)
	}
	var temps []string
	cleanup := func() {
		for _, t := range temps {
			os.Remove(t)
		}
	}
	for _, o := range outs {
		tmp, err := writeTemp(dir, o)
		if tmp != "" {
			temps = append(temps, tmp)
		}
		if err != nil {
			cleanup()
			return nil, err
		}
	}
	var paths []string
	for i, o := range outs {
		p := filepath.Join(dir, o.name)
		if err := atomicfile.Commit(temps[i], p); err != nil {
			// The files of this run already in place go too: a report
			// is whole or absent.
			cleanup()
			for _, done := range paths {
				os.Remove(done)
			}
			return nil, fmt.Errorf("renaming %s into place: %w", p, err)
		}
		paths = append(paths, p)
	}
	return paths, nil
}

func writeTemp(dir string, o output) (string, error) {
	p := filepath.Join(dir, o.name)
	var buf bytes.Buffer
	if err := o.write(&buf); err != nil {
		return "", fmt.Errorf("writing %s: %w", p, err)
	}
	return atomicfile.WriteTemp(p, buf.Bytes(), 0o644)
}

// text renders a cell for Markdown (human) or CSV (machine).
func text(c any, k Kind, machine bool) string {
	switch v := c.(type) {
	case nil:
		return ""
	case string:
		return v
	case int:
		return strconv.Itoa(v)
	case float64:
		if math.IsNaN(v) {
			if machine {
				return ""
			}
			return "—"
		}
		if k == Percent {
			if machine {
				return strconv.FormatFloat(v, 'f', 6, 64)
			}
			return percent(v)
		}
		return strconv.FormatFloat(v, 'f', -1, 64)
	case time.Time:
		if v.IsZero() {
			return ""
		}
		if machine {
			return v.In(config.Tokyo).Format(time.RFC3339)
		}
		return jst(v)
	}
	return fmt.Sprint(c)
}

// WriteCSV writes one table as CSV (UTF-8, header row, times in RFC 3339
// with +09:00, ratios as decimals) for other tools.
func WriteCSV(w io.Writer, t Table) error {
	cw := csv.NewWriter(w)
	hdr := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		hdr[i] = c.Header
	}
	if err := cw.Write(hdr); err != nil {
		return err
	}
	for _, row := range t.Rows {
		rec := make([]string, len(row))
		for i, c := range row {
			rec[i] = text(c, t.Columns[i].Kind, true)
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteMarkdown writes the report as Markdown, for the minutes of the
// monthly meeting (定例会議).
func (r *Report) WriteMarkdown(w io.Writer, sections []Section) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", r.Title())
	for i, s := range sections {
		if i > 0 {
			fmt.Fprintf(&b, "## %s\n\n", s.Sheet)
		}
		for _, l := range s.Lines {
			fmt.Fprintf(&b, "%s\n\n", l)
		}
		for _, t := range s.Tables {
			if len(s.Tables) > 1 {
				fmt.Fprintf(&b, "### %s\n\n", t.Title)
			}
			if len(t.Rows) == 0 && t.Empty != "" {
				fmt.Fprintf(&b, "%s\n\n", t.Empty)
				continue
			}
			b.WriteString("|")
			for _, c := range t.Columns {
				b.WriteString(" " + mdEscape(c.Header) + " |")
			}
			b.WriteString("\n|")
			for _, c := range t.Columns {
				if c.Kind == Text || c.Kind == Time {
					b.WriteString(" --- |")
				} else {
					b.WriteString(" ---: |")
				}
			}
			b.WriteString("\n")
			for _, row := range t.Rows {
				b.WriteString("|")
				for j, c := range row {
					b.WriteString(" " + mdEscape(text(c, t.Columns[j].Kind, false)) + " |")
				}
				b.WriteString("\n")
			}
			b.WriteString("\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func mdEscape(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}
