package data

// ReadSheet reads the first sheet of an .xlsx workbook: its header row and
// its data rows (raw cell values, trimmed, blank rows dropped). Other
// packages (the scorer's ground-truth reader) use it to read REFUGE label
// and fovea sheets.
func ReadSheet(path string) (header []string, rows [][]string, err error) {
	t, err := readXLSXTable(path)
	if err != nil {
		return nil, nil, err
	}
	for _, r := range t.rows {
		rows = append(rows, r.cells)
	}
	return t.header, rows, nil
}
