package data

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
)

// idrid: IDRiD localisation. Images anywhere under the root; the fovea and
// optic-disc-centre markup CSVs (official names "IDRiD_Fovea_Center_<part>
// _Markups.csv" and "IDRiD_OD_Center_<part>_Markups.csv") are given by the
// fovea_csv / od_csv params or found by walking (file name containing
// "fovea", resp. "od_center"/"od center"/"optic"). The CSVs' quirks are
// handled: odd header spacing ("X- Coordinate", "Y - Coordinate": columns
// are matched by normalised name), CRLF, trailing empty fields and blank
// rows. "Image No" has no extension and is matched to the image stem
// case-insensitively. No labels and no masks.
var idridFormat = &sourceFormat{
	params: []string{"fovea_csv", "od_csv", "coord_base", "device"},
	summary: func(spec SourceSpec) string {
		p := spec.Params
		dev := strOr(p, "device", "")
		if dev == "" {
			dev = "unset"
		}
		return fmt.Sprintf("IDRiD fundus photographs found under the root, with fovea and optic-disc centres from the markup CSVs (fovea: %s; disc: %s), columns picked by normalised header name (Image No, X- Coordinate, Y - Coordinate), rows matched to image stems case-insensitively, coordinates %v-based in the file (stored 0-based, x = column, y = row), no glaucoma labels and no masks, device %s.",
			strOr(p, "fovea_csv", "found by name"), strOr(p, "od_csv", "found by name"), anyOr(p, "coord_base", 0), dev)
	},
	load: loadIDRiD,
}

func isFoveaCSV(name string) bool {
	return strings.Contains(strings.ToLower(name), "fovea")
}

func isODCSV(name string) bool {
	n := strings.ToLower(name)
	return strings.Contains(n, "od_center") || strings.Contains(n, "od center") || strings.Contains(n, "optic")
}

func loadIDRiD(l *srcLoader) error {
	base, err := l.p.integer("coord_base", 0, 0)
	if err != nil {
		return err
	}
	if base > 1 {
		return fmt.Errorf("idrid.coord_base: %d is not 0 or 1", base)
	}
	dev, err := l.p.str("device", "")
	if err != nil {
		return err
	}
	files, err := walkTree(l.root)
	if err != nil {
		return err
	}
	// Locate the markup files.
	pick := func(key string, match func(string) bool) (string, error) {
		if l.p.has(key) {
			name, err := l.p.str(key, "")
			if err != nil {
				return "", err
			}
			p := name
			if !filepath.IsAbs(p) {
				p = filepath.Join(l.root, name)
			}
			if !isFile(p) {
				return "", fmt.Errorf("idrid.%s: file %s does not exist", key, p)
			}
			return p, nil
		}
		var found []string
		for _, f := range files {
			if f.ext == ".csv" && match(f.stem) {
				found = append(found, f.path)
			}
		}
		if len(found) > 1 {
			return "", fmt.Errorf("idrid.%s: %d candidate files found (%s); name one with the %s parameter", key, len(found), strings.Join(found, ", "), key)
		}
		if len(found) == 1 {
			return found[0], nil
		}
		return "", nil
	}
	fovCSV, err := pick("fovea_csv", isFoveaCSV)
	if err != nil {
		return err
	}
	odCSV, err := pick("od_csv", isODCSV)
	if err != nil {
		return err
	}
	if fovCSV == "" && odCSV == "" {
		return fmt.Errorf("no IDRiD markup CSV found under %s (expected a file whose name contains \"Fovea\" or \"OD_Center\", e.g. \"IDRiD_Fovea_Center_Testing Set_Markups.csv\", or the fovea_csv / od_csv parameters)", l.root)
	}
	images := l.uniqueByStem(imageFiles(files), "image")
	points := map[string]map[string]Point{} // kind -> stem -> point
	for _, m := range []struct{ kind, path string }{{"fovea", fovCSV}, {"disc", odCSV}} {
		if m.path == "" {
			continue
		}
		pts, err := l.readPointCSV(m.path, images, float64(base))
		if err != nil {
			return err
		}
		points[m.kind] = pts
	}
	keys := make([]string, 0, len(images))
	for k := range images {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		f := images[k]
		s := l.newSample(f.stem, f.path)
		if s == nil {
			continue
		}
		s.Device = dev
		if p, ok := points["fovea"][k]; ok {
			p := p
			s.Fovea = &p
		}
		if p, ok := points["disc"][k]; ok {
			p := p
			s.DiscCenter = &p
		}
		l.samples = append(l.samples, s)
	}
	return nil
}

// readPointCSV reads an IDRiD markup CSV (Image No, X, Y) into points keyed
// by lower-case stem. Rows naming missing images, bad numbers and duplicate
// rows are problems with the row number.
func (l *srcLoader) readPointCSV(path string, images map[string]walkFile, base float64) (map[string]Point, error) {
	t, err := readCSVTable(path, true)
	if err != nil {
		return nil, err
	}
	ci := t.col("Image No", "Image", "Image Name", "ImageName", "Image ID")
	cx := t.col("X- Coordinate", "X Coordinate", "X")
	cy := t.col("Y - Coordinate", "Y Coordinate", "Y")
	if ci < 0 || cx < 0 || cy < 0 {
		return nil, fmt.Errorf("read %s: header %q lacks a column (expected \"Image No\", \"X- Coordinate\" and \"Y - Coordinate\", matched ignoring case, spaces and punctuation)", path, strings.Join(t.header, ","))
	}
	out := map[string]Point{}
	seen := map[string]int{}
	for _, r := range t.rows {
		name := r.cell(ci)
		stem := name
		if IsImageFile(name) {
			stem = strings.TrimSuffix(name, filepath.Ext(name))
		}
		k := strings.ToLower(stem)
		if _, ok := images[k]; !ok {
			l.problem(path, r.line, fmt.Sprintf("row names image %q, which is not under %s", name, l.root), "every row to name an existing image (stem matched case-insensitively)")
			continue
		}
		if prev, ok := seen[k]; ok {
			l.problem(path, r.line, fmt.Sprintf("second row for image %q (first at row %d)", name, prev), "one row per image")
			continue
		}
		seen[k] = r.line
		x, errx := parseCoord(r.cell(cx))
		y, erry := parseCoord(r.cell(cy))
		if errx != nil || erry != nil {
			l.problem(path, r.line, fmt.Sprintf("coordinates (%q, %q) of image %q are not numbers", r.cell(cx), r.cell(cy), name), "numeric x and y")
			continue
		}
		out[k] = Point{X: x - base, Y: y - base}
	}
	return out, nil
}

func isFile(p string) bool {
	st, err := statPath(p)
	return err == nil && st.Mode().IsRegular()
}
