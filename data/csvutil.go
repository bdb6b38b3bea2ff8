package data

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"unicode"
)

// table is a label file read into memory: an optional header and the data
// rows, each with its 1-based line (CSV) or row (spreadsheet) number.
type table struct {
	file   string
	header []string
	rows   []tableRow
}

type tableRow struct {
	line  int
	cells []string
}

// normHeader normalises a column name for matching: lower case, letters and
// digits only. "X- Coordinate", "x_coordinate" and "X Coordinate" all become
// "xcoordinate"; "Fovea_X" becomes "foveax".
func normHeader(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// tidyRow trims every cell and drops trailing empty cells (IDRiD markups
// carry 45 of them); a blank row (no non-empty cell) gives nil.
func tidyRow(rec []string) []string {
	for i := range rec {
		rec[i] = strings.TrimSpace(rec[i])
	}
	n := len(rec)
	for n > 0 && rec[n-1] == "" {
		n--
	}
	if n == 0 {
		return nil
	}
	return rec[:n]
}

// readCSVTable reads a CSV file tolerantly: CRLF or LF line ends, a UTF-8
// byte-order mark, rows of varying length (trailing empty fields), and blank
// rows (empty or only commas), which are dropped. When header is true the
// first non-blank row is the header. Cells are trimmed of spaces.
func readCSVTable(path string, header bool) (*table, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	t := &table{file: path}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		line, _ := r.FieldPos(0)
		if rec = tidyRow(rec); rec == nil {
			continue
		}
		if header && t.header == nil {
			t.header = rec
			continue
		}
		t.rows = append(t.rows, tableRow{line: line, cells: rec})
	}
	if header && t.header == nil {
		return nil, fmt.Errorf("read %s: no header row (the file is empty)", path)
	}
	return t, nil
}

// col returns the index of the header column whose normalised name equals
// one of the candidates' normalised names, or -1.
func (t *table) col(candidates ...string) int {
	for _, c := range candidates {
		nc := normHeader(c)
		for i, h := range t.header {
			if normHeader(h) == nc {
				return i
			}
		}
	}
	return -1
}

// cell returns row cell i, or "" when the row is shorter or i < 0.
func (r tableRow) cell(i int) string {
	if i < 0 || i >= len(r.cells) {
		return ""
	}
	return r.cells[i]
}

// parseLabel parses a glaucoma label cell: "1"/"0" (also "1.0"/"0.0"),
// empty = unknown (-1). Anything else is an error describing the value.
func parseLabel(s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return -1, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || (f != 0 && f != 1) {
		return 0, fmt.Errorf("label %q is not 0, 1 or empty", s)
	}
	return int(f), nil
}

// parseCoord parses a coordinate cell as a float.
func parseCoord(s string) (float64, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return 0, fmt.Errorf("coordinate %q is not a number", s)
	}
	return f, nil
}
