package data

import (
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// refuge2018: the REFUGE 2018 release (Training400, Validation400, Test400
// and their annotation folders, however unzipped). The tree is walked.
// Folder names are split into letter tokens ("REFUGE-Validation400-GT":
// refuge, validation, gt). Files under a folder with a token starting with
// "illustration" (Disc_Cup_Fovea_Illustration) are ignored; image files
// under a folder with a token starting with "mask" (Disc_Cup_Masks,
// Disc_Masks) are masks; the other image files are images. The part of a
// file (training, validation, test) is given by the shallowest folder with
// a token starting with "train", "valid" or "test" (or equal to "val"),
// else by the REFUGE stem pattern (g/n + digits training, V + digits
// validation, T + digits test). Masks and label rows are matched to images
// by stem, case-insensitively, within the part. Labels come from the
// sheets' "Glaucoma Label" column, else from Glaucoma/Non-Glaucoma folders,
// else (training) from the g/n prefix; disagreements are problems. Fovea
// from the sheets' Fovea_X/Fovea_Y. The device is the REFUGE 2018 camera of
// the part (Zeiss Visucam 500 for training, Canon CR-2 for validation and
// test) unless the device param sets one.
var refuge2018Format = &sourceFormat{
	params: []string{"coord_base", "allow_missing_masks", "device"},
	summary: func(spec SourceSpec) string {
		return refugeSummary(spec, "REFUGE 2018 release", ".xlsx label/fovea sheets (Fovea_location.xlsx, Fovea_locations.xlsx, Glaucoma_label_and_Fovea_location.xlsx)", "Disc_Cup_Masks", "the REFUGE 2018 camera of the part (Zeiss Visucam 500 training, Canon CR-2 validation/test)")
	},
	load: func(l *srcLoader) error { return loadRefuge(l, false) },
}

// refuge2: the combined REFUGE2 release (Train/REFUGE1-*, Validation,
// Test) with glaucoma.csv (FileName, Glaucoma Risk), fovea.csv or .xlsx
// (ImageName, Fovea_X, Fovea_Y) and Disc_Masks/*.png. Same walking and
// matching rules as refuge2018; .csv and .xlsx label files are both read.
// The device is the sub-folder under the part folder when it is named
// REFUGE*, else "REFUGE2-<part>", unless the device param sets one.
var refuge2Format = &sourceFormat{
	params: []string{"coord_base", "allow_missing_masks", "device"},
	summary: func(spec SourceSpec) string {
		return refugeSummary(spec, "REFUGE2 release", "glaucoma.csv (FileName, Glaucoma Risk) and fovea .csv/.xlsx (ImageName, Fovea_X, Fovea_Y) files", "Disc_Masks", "the REFUGE1-* sub-folder of the training part, else REFUGE2-<part>")
	},
	load: func(l *srcLoader) error { return loadRefuge(l, true) },
}

func refugeSummary(spec SourceSpec, what, tables, maskDir, devices string) string {
	p := spec.Params
	dev := strOr(p, "device", "")
	if dev == "" {
		dev = devices
	}
	sub := spec.Subset
	if sub == "" {
		sub = "all parts"
	}
	miss := "every image of a part with masks must have one"
	if b, ok := p["allow_missing_masks"].(bool); ok && b {
		miss = "images without a mask are allowed"
	}
	return fmt.Sprintf("%s (%s) located by walking the tree and matching file stems case-insensitively (doubled and per-class folders tolerated), images paired with REFUGE-coded masks under %s (%s), labels and fovea from the %s with columns picked by header name, labels also from Glaucoma/Non-Glaucoma folders, fovea coordinates %v-based in the files (stored 0-based), device = %s.",
		what, sub, maskDir, miss, tables, anyOr(p, "coord_base", 0), dev)
}

var refugeStemParts = []struct {
	re   *regexp.Regexp
	part string
}{
	{regexp.MustCompile(`(?i)^[gn]\d+$`), "training"},
	{regexp.MustCompile(`(?i)^v\d+$`), "validation"},
	{regexp.MustCompile(`(?i)^t\d+$`), "test"},
}

// stemPart is the REFUGE part implied by a file stem ("" when none).
func stemPart(stem string) string {
	for _, sp := range refugeStemParts {
		if sp.re.MatchString(stem) {
			return sp.part
		}
	}
	return ""
}

// dirPart is the part given by the shallowest folder with a name token
// (letters only; "REFUGE-Validation400-GT" has the tokens refuge,
// validation, gt) that starts with "train", "valid" or "test", or is "val";
// "latest" or "contest" name no part. It returns the folder's index too
// (-1 when none).
func dirPart(dirs []string) (string, int) {
	for i, d := range dirs {
		for _, tok := range nameTokens(d) {
			switch {
			case strings.HasPrefix(tok, "train"):
				return "training", i
			case strings.HasPrefix(tok, "valid") || tok == "val":
				return "validation", i
			case strings.HasPrefix(tok, "test"):
				return "test", i
			}
		}
	}
	return "", -1
}

// filePart combines dirPart and stemPart.
func filePart(f walkFile) string {
	if p, _ := dirPart(f.dirs); p != "" {
		return p
	}
	return stemPart(f.stem)
}

// folderLabel is the label given by a Glaucoma / Non-Glaucoma folder (-1 none).
func folderLabel(f walkFile) int {
	lab := -1
	for _, d := range f.dirs {
		switch strings.ToLower(d) {
		case "glaucoma":
			lab = 1
		case "non-glaucoma", "nonglaucoma", "non_glaucoma", "normal":
			lab = 0
		}
	}
	return lab
}

type refugeImage struct {
	f          walkFile
	part       string
	mask       []walkFile
	tableLabel int
	labelFrom  string
	fovea      *Point
	foveaFrom  string
}

func loadRefuge(l *srcLoader, v2 bool) error {
	base, err := l.p.integer("coord_base", 0, 0)
	if err != nil {
		return err
	}
	if base > 1 {
		return fmt.Errorf("%s.coord_base: %d is not 0 or 1", l.spec.Format, base)
	}
	allowMissing, err := l.p.boolean("allow_missing_masks", false)
	if err != nil {
		return err
	}
	device, err := l.p.str("device", "")
	if err != nil {
		return err
	}
	want, ok := subsetName(l.spec.Subset)
	if !ok {
		return fmt.Errorf("subset %q is unknown (expected training, validation, test, or empty for all parts)", l.spec.Subset)
	}
	l.maskRule = RefugeRule.String()
	files, err := walkTree(l.root)
	if err != nil {
		return err
	}
	var imgs, masks, tables []walkFile
	for _, f := range files {
		if f.dirHasToken("illustration") {
			continue
		}
		switch {
		case IsImageFile(f.path) && f.dirHasToken("mask"):
			masks = append(masks, f)
		case IsImageFile(f.path):
			imgs = append(imgs, f)
		case f.ext == ".xlsx" && !strings.HasPrefix(f.stem, "~$"):
			tables = append(tables, f)
		case v2 && f.ext == ".csv":
			tables = append(tables, f)
		case f.ext == ".xls":
			l.notes = append(l.notes, fmt.Sprintf("ignored %s: legacy .xls workbooks cannot be read; convert it to .xlsx or .csv if it holds labels or fovea positions", f.rel))
		}
	}
	// Masks stored as JPEG under a mask folder are still masks: the codec
	// refuses them when read, and Check reports them.
	anyKnown := false
	for _, f := range imgs {
		if filePart(f) != "" {
			anyKnown = true
		}
	}
	// inScope tells whether a file of part p belongs to the requested subset.
	inScope := func(p string) bool {
		if want == "" {
			return true
		}
		if p == "" {
			return !anyKnown
		}
		return p == want
	}
	var keep []walkFile
	partOf := map[string]string{}
	for _, f := range imgs {
		p := filePart(f)
		if p == "" && anyKnown && want != "" {
			l.problem(f.path, 0, "cannot tell which part (training, validation, test) this image belongs to: no Train/Validation/Test folder in its path and its name is not a REFUGE id", "images under part folders or named g/n/V/T + digits")
			continue
		}
		if !inScope(p) {
			continue
		}
		if p == "" && want != "" {
			p = want
		}
		keep = append(keep, f)
		partOf[f.path] = p
	}
	// Unique (part, stem).
	byPart := map[string][]walkFile{}
	for _, f := range keep {
		byPart[partOf[f.path]] = append(byPart[partOf[f.path]], f)
	}
	images := map[string]*refugeImage{} // part|stem
	byStem := map[string][]*refugeImage{}
	parts := make([]string, 0, len(byPart))
	for p := range byPart {
		parts = append(parts, p)
	}
	sort.Strings(parts)
	for _, p := range parts {
		for k, f := range l.uniqueByStem(byPart[p], "image") {
			ri := &refugeImage{f: f, part: p, tableLabel: -1}
			images[p+"|"+k] = ri
			byStem[k] = append(byStem[k], ri)
		}
	}
	// find returns the image a file of part p and stem names (nil, n) where
	// n is the number of candidates.
	find := func(p, stem string) (*refugeImage, int) {
		k := strings.ToLower(stem)
		if p != "" {
			if ri, ok := images[p+"|"+k]; ok {
				return ri, 1
			}
			if !anyKnown {
				if ri, ok := images[want+"|"+k]; ok {
					return ri, 1
				}
			}
			return nil, 0
		}
		c := byStem[k]
		if len(c) == 1 {
			return c[0], 1
		}
		return nil, len(c)
	}
	// Masks.
	for _, m := range masks {
		p := filePart(m)
		ri, n := find(p, m.stem)
		if ri == nil {
			if n > 1 {
				l.problem(m.path, 0, fmt.Sprintf("mask %q matches %d images of different parts", m.stem, n), "masks under a part folder (Training/Validation/Test)")
			} else if inScope(p) {
				l.problem(m.path, 0, fmt.Sprintf("mask %q has no image", m.stem), "an image with the same stem (case-insensitive) for every mask")
			}
			continue
		}
		ri.mask = append(ri.mask, m)
	}
	// Label and fovea tables.
	for _, tf := range tables {
		tp := filePart(tf)
		if want != "" && tp != "" && tp != want && anyKnown {
			continue
		}
		var t *table
		if tf.ext == ".xlsx" {
			t, err = readXLSXTable(tf.path)
		} else {
			t, err = readCSVTable(tf.path, true)
		}
		if err != nil {
			l.problem(tf.path, 0, "label file unreadable: "+err.Error(), "a readable .xlsx/.csv label or fovea file")
			continue
		}
		cn := t.col("ImgName", "ImageName", "Image Name", "FileName", "File Name", "Image", "Name")
		cl := t.col("Glaucoma Label", "Glaucoma Risk", "Label", "Glaucoma")
		cx := t.col("Fovea_X", "FoveaX", "X")
		cy := t.col("Fovea_Y", "FoveaY", "Y")
		if cn < 0 || (cl < 0 && (cx < 0 || cy < 0)) {
			l.notes = append(l.notes, fmt.Sprintf("ignored %s: header %q has no image-name column with label or fovea columns", tf.rel, strings.Join(t.header, ",")))
			continue
		}
		for _, r := range t.rows {
			name := r.cell(cn)
			stem := name
			if IsImageFile(name) {
				stem = strings.TrimSuffix(filepath.Base(name), filepath.Ext(name))
			}
			ri, n := find(tp, stem)
			if ri == nil {
				sp := tp
				if sp == "" {
					sp = stemPart(stem)
				}
				if n > 1 {
					l.problem(tf.path, r.line, fmt.Sprintf("row names %q, which matches %d images of different parts", name, n), "label files under a part folder")
				} else if inScope(sp) {
					l.problem(tf.path, r.line, fmt.Sprintf("row names image %q, which is not in the dataset", name), "every row to name an existing image (stem matched case-insensitively)")
				}
				continue
			}
			where := fmt.Sprintf("%s row %d", tf.rel, r.line)
			if cl >= 0 {
				lab, err := parseLabel(r.cell(cl))
				if err != nil {
					l.problem(tf.path, r.line, err.Error()+" for image "+name, "0 (normal) or 1 (glaucoma)")
				} else if lab >= 0 {
					if ri.tableLabel >= 0 && ri.tableLabel != lab {
						l.problem(tf.path, r.line, fmt.Sprintf("label %d for %q contradicts label %d at %s", lab, name, ri.tableLabel, ri.labelFrom), "one label per image")
					} else {
						ri.tableLabel, ri.labelFrom = lab, where
					}
				}
			}
			if cx >= 0 && cy >= 0 {
				xs, ys := r.cell(cx), r.cell(cy)
				if xs == "" && ys == "" {
					continue
				}
				x, errx := parseCoord(xs)
				y, erry := parseCoord(ys)
				if errx != nil || erry != nil {
					l.problem(tf.path, r.line, fmt.Sprintf("fovea (%q, %q) of %q is not numeric", xs, ys, name), "numeric Fovea_X and Fovea_Y")
					continue
				}
				pt := Point{X: x - float64(base), Y: y - float64(base)}
				if ri.fovea != nil && *ri.fovea != pt {
					l.problem(tf.path, r.line, fmt.Sprintf("fovea %v of %q contradicts %v at %s", pt, name, *ri.fovea, ri.foveaFrom), "one fovea per image")
					continue
				}
				ri.fovea, ri.foveaFrom = &pt, where
			}
		}
	}
	// Samples.
	keys := make([]string, 0, len(images))
	for k := range images {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	partHasMask := map[string]bool{}
	for _, ri := range images {
		if len(ri.mask) > 0 {
			partHasMask[ri.part] = true
		}
	}
	for _, k := range keys {
		ri := images[k]
		f := ri.f
		s := l.newSample(f.stem, f.path)
		if s == nil {
			continue
		}
		s.Subset = ri.part
		s.Device = refugeDevice(device, v2, ri)
		// Label: sheet, else folder, else training g/n prefix.
		fl := folderLabel(f)
		sl := -1
		if ri.part == "training" {
			switch strings.ToLower(f.stem[:1]) {
			case "g":
				sl = 1
			case "n":
				sl = 0
			}
		}
		s.Label = ri.tableLabel
		if s.Label < 0 {
			s.Label = fl
		}
		if s.Label < 0 {
			s.Label = sl
		}
		if fl >= 0 && ri.tableLabel >= 0 && fl != ri.tableLabel {
			l.problem(f.path, 0, fmt.Sprintf("the folder gives label %d but %s gives %d", fl, ri.labelFrom, ri.tableLabel), "the folder and the label file to agree")
		}
		if sl >= 0 && s.Label != sl && stemPart(f.stem) == "training" {
			l.problem(f.path, 0, fmt.Sprintf("label %d contradicts the REFUGE training name prefix %q (g = glaucoma, n = normal)", s.Label, f.stem[:1]), "labels consistent with g/n prefixes")
		}
		s.Fovea = ri.fovea
		switch {
		case len(ri.mask) == 1:
			l.setMask(s, ri.mask[0].path)
		case len(ri.mask) > 1:
			var names []string
			for _, m := range ri.mask {
				names = append(names, m.rel)
			}
			sort.Strings(names)
			if sameBytes(ri.mask[0].path, ri.mask[1].path) && len(ri.mask) == 2 {
				l.notes = append(l.notes, "identical mask copies "+strings.Join(names, ", "))
				l.setMask(s, ri.mask[0].path)
			} else {
				l.problem(f.path, 0, fmt.Sprintf("%d mask files match image %q: %s", len(ri.mask), f.stem, strings.Join(names, ", ")), "one mask per image")
			}
		case partHasMask[ri.part] && !allowMissing:
			l.problem(f.path, 0, fmt.Sprintf("image %q has no mask, while other %s images have one", f.stem, ri.part), "a mask with the same stem for every image of the part (or allow_missing_masks: true)")
		}
		l.samples = append(l.samples, s)
	}
	return nil
}

// refugeDevice returns the configured device, or the default per format.
func refugeDevice(param string, v2 bool, ri *refugeImage) string {
	if param != "" {
		return param
	}
	if !v2 {
		switch ri.part {
		case "training":
			return "Zeiss Visucam 500"
		case "validation", "test":
			return "Canon CR-2"
		}
		return ""
	}
	if _, i := dirPart(ri.f.dirs); i >= 0 && i+1 < len(ri.f.dirs) {
		if sub := ri.f.dirs[i+1]; strings.HasPrefix(strings.ToLower(sub), "refuge") {
			return sub
		}
	}
	if ri.part == "" {
		return "REFUGE2"
	}
	return "REFUGE2-" + ri.part
}
