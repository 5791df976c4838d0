package report

import (
	"fmt"
	"io"
	"math"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/bosaimail/bosaimail_exporter/config"
)

// A4 paper in the OOXML paper size table.
const paperA4 = 9

// xlsxStyles are the cell styles of the workbook.
type xlsxStyles struct {
	title, heading, header, line int
	byKind                       map[Kind]int
}

func newStyles(f *excelize.File) (*xlsxStyles, error) {
	border := []excelize.Border{
		{Type: "left", Color: "808080", Style: 1}, {Type: "right", Color: "808080", Style: 1},
		{Type: "top", Color: "808080", Style: 1}, {Type: "bottom", Color: "808080", Style: 1},
	}
	s := &xlsxStyles{byKind: map[Kind]int{}}
	var err error
	mk := func(st *excelize.Style) int {
		if err != nil {
			return 0
		}
		var id int
		id, err = f.NewStyle(st)
		return id
	}
	s.title = mk(&excelize.Style{Font: &excelize.Font{Bold: true, Size: 14}})
	s.heading = mk(&excelize.Style{Font: &excelize.Font{Bold: true, Size: 11}})
	s.line = mk(&excelize.Style{Alignment: &excelize.Alignment{Vertical: "top"}})
	s.header = mk(&excelize.Style{
		Font: &excelize.Font{Bold: true}, Border: border,
		Fill:      excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"DDEBF7"}},
		Alignment: &excelize.Alignment{Horizontal: "center", Vertical: "center", WrapText: true},
	})
	formats := map[Kind]string{Int: "#,##0", Percent: "0.000%", Time: "yyyy/mm/dd hh:mm", Number: "#,##0.0"}
	for _, k := range []Kind{Text, Int, Percent, Time, Number} {
		st := &excelize.Style{Border: border, Alignment: &excelize.Alignment{Vertical: "top", WrapText: k == Text}}
		if nf, ok := formats[k]; ok {
			st.CustomNumFmt = &nf
		}
		s.byKind[k] = mk(st)
	}
	return s, err
}

// excelTime is t's JST wall clock as the zone-less serial date Excel
// stores: excelize converts the instant, so the JST fields are handed over
// as if they were UTC.
func excelTime(t time.Time) time.Time {
	j := t.In(config.Tokyo)
	return time.Date(j.Year(), j.Month(), j.Day(), j.Hour(), j.Minute(), j.Second(), 0, time.UTC)
}

// WriteXLSX writes the report as an Excel workbook: one sheet per section,
// Japanese headers, JST times as Excel dates, column widths and number
// formats set, each sheet printing on A4, one page wide.
func (r *Report) WriteXLSX(w io.Writer, sections []Section) (err error) {
	f := excelize.NewFile()
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	// Yu Gothic is the standard Japanese font of current Office; without a
	// Japanese default font Excel falls back per character and rows print
	// unevenly.
	if err := f.SetDefaultFont("游ゴシック"); err != nil {
		return err
	}
	st, err := newStyles(f)
	if err != nil {
		return err
	}
	for i, s := range sections {
		if i == 0 {
			if err := f.SetSheetName("Sheet1", s.Sheet); err != nil {
				return err
			}
		} else if _, err := f.NewSheet(s.Sheet); err != nil {
			return err
		}
		if err := r.writeSheet(f, st, s); err != nil {
			return fmt.Errorf("sheet %s: %w", s.Sheet, err)
		}
	}
	f.SetActiveSheet(0)
	_, err = f.WriteTo(w)
	return err
}

func (r *Report) writeSheet(f *excelize.File, st *xlsxStyles, s Section) error {
	sh := s.Sheet
	row := 1
	set := func(col, row int, v any, style int) error {
		cell, err := excelize.CoordinatesToCellName(col, row)
		if err != nil {
			return err
		}
		switch x := v.(type) {
		case float64:
			if math.IsNaN(x) {
				v = nil
			}
		case time.Time:
			if x.IsZero() {
				v = nil
			} else {
				v = excelTime(x)
			}
		}
		if v != nil {
			if err := f.SetCellValue(sh, cell, v); err != nil {
				return err
			}
		}
		return f.SetCellStyle(sh, cell, cell, style)
	}
	title := r.Title() + " — " + s.Sheet
	if s.Sheet == "概要" {
		title = r.Title()
	}
	if err := set(1, row, title, st.title); err != nil {
		return err
	}
	row += 2
	for _, l := range s.Lines {
		if err := set(1, row, l, st.line); err != nil {
			return err
		}
		row++
	}
	if len(s.Lines) > 0 {
		row++
	}
	widths := map[int]float64{}
	for _, t := range s.Tables {
		if len(s.Tables) > 1 || s.Sheet == "概要" {
			if s.Sheet != "概要" {
				if err := set(1, row, t.Title, st.heading); err != nil {
					return err
				}
				row++
			}
		}
		lines := 1
		for j, c := range t.Columns {
			if err := set(j+1, row, c.Header, st.header); err != nil {
				return err
			}
			widths[j+1] = max(widths[j+1], c.Width)
			lines = max(lines, wrappedLines(c.Header, c.Width))
		}
		if err := setHeight(f, sh, row, lines); err != nil {
			return err
		}
		row++
		if len(t.Rows) == 0 && t.Empty != "" {
			if err := set(1, row, t.Empty, st.line); err != nil {
				return err
			}
			row++
		}
		for _, rw := range t.Rows {
			lines := 1
			for j, c := range rw {
				if err := set(j+1, row, c, st.byKind[t.Columns[j].Kind]); err != nil {
					return err
				}
				if s, ok := c.(string); ok && t.Columns[j].Kind == Text {
					lines = max(lines, wrappedLines(s, t.Columns[j].Width))
				}
			}
			if err := setHeight(f, sh, row, lines); err != nil {
				return err
			}
			row++
		}
		row++
	}
	for col, wd := range widths {
		name, err := excelize.ColumnNumberToName(col)
		if err != nil {
			return err
		}
		if err := f.SetColWidth(sh, name, name, wd); err != nil {
			return err
		}
	}
	orient := "portrait"
	if s.Landscape {
		orient = "landscape"
	}
	size, one, zero := paperA4, 1, 0
	if err := f.SetPageLayout(sh, &excelize.PageLayoutOptions{Size: &size, Orientation: &orient, FitToWidth: &one, FitToHeight: &zero}); err != nil {
		return err
	}
	fit := true
	if err := f.SetSheetProps(sh, &excelize.SheetPropsOptions{FitToPage: &fit}); err != nil {
		return err
	}
	margin := 0.5
	if err := f.SetPageMargins(sh, &excelize.PageLayoutMarginsOptions{Left: &margin, Right: &margin, Top: &margin, Bottom: &margin}); err != nil {
		return err
	}
	return f.SetHeaderFooter(sh, &excelize.HeaderFooterOptions{
		OddHeader: "&L" + r.Title() + "&R" + s.Sheet,
		OddFooter: "&C&P / &N",
	})
}

// wrappedLines estimates how many lines a wrapped cell of the given width
// (in characters of '0') needs: full-width (Japanese) characters take two.
// Excel and LibreOffice do not grow rows for wrapped text written by a
// library, so the height is set from this.
func wrappedLines(s string, width float64) int {
	w := 0
	for _, r := range s {
		if r >= 0x1100 && (r <= 0x115F || (r >= 0x2E80 && r <= 0xA4CF) || (r >= 0xAC00 && r <= 0xD7A3) || (r >= 0xF900 && r <= 0xFAFF) || (r >= 0xFE30 && r <= 0xFE4F) || (r >= 0xFF00 && r <= 0xFF60) || (r >= 0xFFE0 && r <= 0xFFE6)) {
			w += 2
		} else {
			w++
		}
	}
	usable := max(int(width)-1, 1)
	return max(1, (w+usable-1)/usable)
}

// lineHeight is the height in points of one line of the default font.
const lineHeight = 15.0

func setHeight(f *excelize.File, sheet string, row, lines int) error {
	if lines <= 1 {
		return nil
	}
	return f.SetRowHeight(sheet, row, lineHeight*float64(lines)+3)
}
