package data

import (
	"fmt"

	"github.com/xuri/excelize/v2"
)

// readXLSXTable reads the first sheet of an .xlsx workbook as a table with a
// header row. Cell values are read raw (no display formatting, so 1057.95
// stays 1057.95), trimmed, and blank rows are dropped. Row numbers are the
// sheet's 1-based row numbers.
func readXLSXTable(path string) (*table, error) {
	f, err := excelize.OpenFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	sheets := f.GetSheetList()
	if len(sheets) == 0 {
		return nil, fmt.Errorf("read %s: the workbook has no sheet", path)
	}
	rows, err := f.GetRows(sheets[0], excelize.Options{RawCellValue: true})
	if err != nil {
		return nil, fmt.Errorf("read %s sheet %q: %w", path, sheets[0], err)
	}
	t := &table{file: path}
	for i, rec := range rows {
		if rec = tidyRow(rec); rec == nil {
			continue
		}
		if t.header == nil {
			t.header = rec
			continue
		}
		t.rows = append(t.rows, tableRow{line: i + 1, cells: rec})
	}
	if t.header == nil {
		return nil, fmt.Errorf("read %s sheet %q: no header row (the sheet is empty)", path, sheets[0])
	}
	return t, nil
}
