package data

import (
	"fmt"
	"path/filepath"
	"strings"
)

// csv: a generic manifest. Root is the CSV file; paths in it are relative to
// the manifest's folder. Columns: image (required), mask, disc_mask,
// cup_mask, label (1, 0 or empty = unknown), fovea_x, fovea_y, disc_x,
// disc_y, device, subset. mask is a REFUGE-coded file; disc_mask and
// cup_mask are a binary pair (Drishti-GS, RIM-ONE style) decoded under the
// explicit rule of the mask_polarity and mask_threshold params, which are
// required when the manifest has these columns. With header: true (the
// default) the first row must consist of these names (matched ignoring case,
// spaces and punctuation); any other name, such as a data row "T0001.jpg,1"
// taken for a header, is an error. With header: false the columns param
// lists the column names in order: the loader never guesses.
var csvFormat = &sourceFormat{
	params: []string{"header", "columns", "coord_base", "mask_polarity", "mask_threshold"},
	summary: func(spec SourceSpec) string {
		p := spec.Params
		hdr := "with a header row"
		if h, ok := p["header"].(bool); ok && !h {
			hdr = fmt.Sprintf("without a header row (columns %v)", anyOr(p, "columns", "unset"))
		}
		pair := ""
		if _, ok := p["mask_polarity"]; ok {
			pair = " or binary disc/cup mask pair (rule " + rimoneRuleWords(p) + ")"
		}
		return fmt.Sprintf("CSV manifest %s naming each image (paths relative to the manifest) and optionally its REFUGE-coded mask%s, glaucoma label, fovea and disc-centre coordinates (%v-based in the file, stored 0-based), device and subset.",
			hdr, pair, anyOr(p, "coord_base", 0))
	},
	load: loadCSVManifest,
}

// csvColumns are the manifest's known columns (normalised names).
var csvColumns = []string{"image", "mask", "disc_mask", "cup_mask", "label", "fovea_x", "fovea_y", "disc_x", "disc_y", "device", "subset"}

func loadCSVManifest(l *srcLoader) error {
	header, err := l.p.boolean("header", true)
	if err != nil {
		return err
	}
	cols, err := l.p.strList("columns")
	if err != nil {
		return err
	}
	base, err := l.p.integer("coord_base", 0, 0)
	if err != nil {
		return err
	}
	if base > 1 {
		return fmt.Errorf("csv.coord_base: %d is not 0 or 1", base)
	}
	if _, ok := subsetName(l.spec.Subset); !ok {
		return fmt.Errorf("subset %q is unknown (expected training, validation, test, or empty for all rows)", l.spec.Subset)
	}
	if header && cols != nil {
		return fmt.Errorf("csv.columns: given together with header: true; the header row names the columns (set header: false to use columns)")
	}
	if !header && cols == nil {
		return fmt.Errorf("csv.columns: required with header: false (e.g. columns: [image, label]); the loader never guesses the column order")
	}
	if !isFile(l.root) {
		return fmt.Errorf("root %s is not a file; the csv format expects the manifest file as root", l.root)
	}
	t, err := readCSVTable(l.root, header)
	if err != nil {
		return err
	}
	names := t.header
	what := "header row"
	if !header {
		names = cols
		what = "csv.columns"
	}
	idx := map[string]int{}
	for i, n := range names {
		nn := normHeader(n)
		known := false
		for _, c := range csvColumns {
			if normHeader(c) == nn {
				if _, dup := idx[c]; dup {
					return fmt.Errorf("%s: %s names column %q twice", l.root, what, c)
				}
				idx[c] = i
				known = true
			}
		}
		if !known {
			hint := ""
			if header && (IsImageFile(n) || strings.ContainsAny(n, "./\\")) {
				hint = " (it looks like data: if the file has no header row, set header: false and columns)"
			}
			return fmt.Errorf("%s: %s has the unexpected column name %q%s; expected names among %s", l.root, what, n, hint, strings.Join(csvColumns, ", "))
		}
	}
	if _, ok := idx["image"]; !ok {
		return fmt.Errorf("%s: %s has no image column (columns: %s)", l.root, what, strings.Join(names, ", "))
	}
	_, hasDisc := idx["disc_mask"]
	_, hasCup := idx["cup_mask"]
	pairRule, ruleSet, err := l.p.binaryRule()
	if err != nil {
		return err
	}
	pol, thr := pairRule.Polarity, pairRule.Threshold
	switch {
	case hasDisc != hasCup:
		return fmt.Errorf("%s: %s has only one of disc_mask and cup_mask; a binary pair needs both columns", l.root, what)
	case hasDisc && (pol == "" || thr == ""):
		return fmt.Errorf("csv.mask_polarity and csv.mask_threshold are required with disc_mask/cup_mask columns (got %q and %q): binary masks are decoded only under an explicit rule, e.g. mask_polarity: bright, mask_threshold: \">127\"", pol, thr)
	case !hasDisc && ruleSet:
		return fmt.Errorf("csv.mask_polarity/csv.mask_threshold: given, but the manifest has no disc_mask/cup_mask columns (the mask column is always REFUGE-coded)")
	}
	col := func(r tableRow, name string) string {
		i, ok := idx[name]
		if !ok {
			return ""
		}
		return r.cell(i)
	}
	dir := filepath.Dir(l.root)
	// Paths are relative to the manifest; Windows separators are accepted.
	rel := func(p string) string {
		p = filepath.FromSlash(strings.ReplaceAll(p, "\\", "/"))
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	l.maskRule = RefugeRule.String()
	if hasDisc {
		l.maskRule = "mask column: " + RefugeRule.String() + "; disc_mask/cup_mask pairs: " + pairRule.String()
	}
	seen := map[string]int{}
	for _, r := range t.rows {
		img := col(r, "image")
		if img == "" {
			l.problem(l.root, r.line, "empty image cell", "an image path in every row")
			continue
		}
		ip := rel(img)
		if !isFile(ip) {
			l.problem(l.root, r.line, fmt.Sprintf("row names image %q, but %s does not exist", img, ip), "every row to name an existing image (relative to the manifest)")
			continue
		}
		stem := strings.TrimSuffix(filepath.Base(ip), filepath.Ext(ip))
		k := strings.ToLower(stem)
		if prev, ok := seen[k]; ok {
			l.problem(l.root, r.line, fmt.Sprintf("image stem %q already listed at row %d", stem, prev), "one row per image stem (stems are sample ids)")
			continue
		}
		seen[k] = r.line
		s := l.newSample(stem, ip)
		if s == nil {
			continue
		}
		ok := true
		if lab, err := parseLabel(col(r, "label")); err != nil {
			l.problem(l.root, r.line, err.Error(), "label 1 (glaucoma), 0 (normal) or empty (unknown)")
			ok = false
		} else {
			s.Label = lab
		}
		for _, pt := range []struct {
			x, y string
			dst  **Point
		}{{"fovea_x", "fovea_y", &s.Fovea}, {"disc_x", "disc_y", &s.DiscCenter}} {
			xs, ys := col(r, pt.x), col(r, pt.y)
			if xs == "" && ys == "" {
				continue
			}
			x, errx := parseCoord(xs)
			y, erry := parseCoord(ys)
			if errx != nil || erry != nil {
				l.problem(l.root, r.line, fmt.Sprintf("%s/%s = (%q, %q) are not both numbers", pt.x, pt.y, xs, ys), "both coordinates numeric, or both empty")
				ok = false
				continue
			}
			*pt.dst = &Point{X: x - float64(base), Y: y - float64(base)}
		}
		s.Device = col(r, "device")
		if sub := col(r, "subset"); sub != "" {
			n, good := subsetName(sub)
			if !good {
				l.problem(l.root, r.line, fmt.Sprintf("subset %q is unknown", sub), "training, validation, test or empty")
				ok = false
			}
			s.Subset = n
		}
		dm, cm := col(r, "disc_mask"), col(r, "cup_mask")
		if dm != "" || cm != "" {
			switch {
			case col(r, "mask") != "":
				l.problem(l.root, r.line, "row names both a mask and a disc_mask/cup_mask pair", "either a REFUGE-coded mask or a binary pair")
				ok = false
			case dm == "" || cm == "":
				l.problem(l.root, r.line, fmt.Sprintf("row names disc_mask %q and cup_mask %q; one is empty", dm, cm), "both files of a binary pair")
				ok = false
			default:
				dp, cp := rel(dm), rel(cm)
				for _, f := range []struct{ name, path string }{{dm, dp}, {cm, cp}} {
					if !isFile(f.path) {
						l.problem(l.root, r.line, fmt.Sprintf("row names mask %q, but %s does not exist", f.name, f.path), "every named mask to exist (relative to the manifest)")
						ok = false
					}
				}
				if ok {
					l.setMask(s, dp)
					if w, h, err := ImageSize(cp); err == nil && (w != s.W || h != s.H) {
						l.problem(cp, 0, fmt.Sprintf("cup mask is %dx%d but its image %s is %dx%d", w, h, s.ImagePath, s.W, s.H), "the mask to have the size of its image")
					}
					l.decoders[s] = maskDecoder{rule: pairRule, cupPath: cp}
				}
			}
		}
		if m := col(r, "mask"); m != "" && dm == "" && cm == "" {
			mp := rel(m)
			if !isFile(mp) {
				l.problem(l.root, r.line, fmt.Sprintf("row names mask %q, but %s does not exist", m, mp), "every named mask to exist (relative to the manifest)")
				ok = false
			} else {
				l.setMask(s, mp)
			}
		}
		if want, _ := subsetName(l.spec.Subset); want != "" && s.Subset != want {
			continue
		}
		if ok {
			l.samples = append(l.samples, s)
		}
	}
	return nil
}
