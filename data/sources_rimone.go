package data

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// rimone-dl: RIM-ONE DL. Images in images/ (any depth; a train/test folder
// sets the subset), masks reference_segmentations/{glaucoma,normal}/
// <id>-<annotator>-{Disc,Cup}-T.png, one binary file per structure with the
// structure bright. The binary rule is required: mask_polarity and
// mask_threshold have no defaults. Labels come from the glaucoma/normal
// folder of the masks; the device is the release prefix (r1, r2, r3).
var rimoneFormat = &sourceFormat{
	params: []string{"mask_polarity", "mask_threshold", "annotator", "images_dir", "masks_dir"},
	summary: func(spec SourceSpec) string {
		p := spec.Params
		return fmt.Sprintf("RIM-ONE DL disc-centred crops from %s/ paired by stem (case-insensitive) with the binary disc and cup files %s/{glaucoma,normal}/<id>-%v-{Disc,Cup}-T.png of annotator %v, decoded with the explicit rule %s (cup 0, rim 128, background 255 after merging), labels from the glaucoma/normal folders, device = release prefix (r1/r2/r3).",
			strOr(p, "images_dir", "images"), strOr(p, "masks_dir", "reference_segmentations"), anyOr(p, "annotator", 1), anyOr(p, "annotator", 1),
			rimoneRuleWords(p))
	},
	load: loadRimone,
}

func strOr(m map[string]any, k, def string) string {
	if s, ok := m[k].(string); ok {
		return s
	}
	return def
}

func anyOr(m map[string]any, k string, def any) any {
	if v, ok := m[k]; ok && v != nil {
		return v
	}
	return def
}

func rimoneRuleWords(p map[string]any) string {
	r := MaskRule{Convention: ConventionBinary, Polarity: strOr(p, "mask_polarity", ""), Threshold: strOr(p, "mask_threshold", "")}
	if r.Validate() != nil {
		return fmt.Sprintf("(missing or invalid: mask_polarity %q, mask_threshold %q)", r.Polarity, r.Threshold)
	}
	return `"` + r.String() + `"`
}

var rimoneMaskRe = regexp.MustCompile(`(?i)^(.+)-(\d+)-(disc|cup)-t$`)
var rimonePrefixRe = regexp.MustCompile(`^(r\d)_`)

func loadRimone(l *srcLoader) error {
	rule, _, err := l.p.binaryRule()
	if err != nil {
		return err
	}
	pol, thr := rule.Polarity, rule.Threshold
	if pol == "" || thr == "" {
		return fmt.Errorf("rimone-dl.mask_polarity and rimone-dl.mask_threshold are required (got %q and %q): RIM-ONE masks are binary files with the structure bright (255 = inside) and anti-aliased or lossy edges in some copies, so the rule is never guessed; write e.g. mask_polarity: bright, mask_threshold: \">127\" (or \"nonzero\")", pol, thr)
	}
	l.maskRule = rule.String()
	annot, err := l.p.integer("annotator", 1, 1)
	if err != nil {
		return err
	}
	imagesDir, err := l.p.str("images_dir", "images")
	if err != nil {
		return err
	}
	masksDir, err := l.p.str("masks_dir", "reference_segmentations")
	if err != nil {
		return err
	}
	want, ok := subsetName(l.spec.Subset)
	if !ok {
		return fmt.Errorf("subset %q is unknown (expected train, test or empty for all)", l.spec.Subset)
	}
	imgRoot, mRoot := filepath.Join(l.root, imagesDir), filepath.Join(l.root, masksDir)
	for _, d := range []struct{ key, path string }{{"images_dir", imgRoot}, {"masks_dir", mRoot}} {
		if !isDir(d.path) {
			return fmt.Errorf("rimone-dl.%s: folder %s does not exist (expected the RIM-ONE DL layout images/ + reference_segmentations/{glaucoma,normal}/)", d.key, d.path)
		}
	}
	imgFiles, err := walkTree(imgRoot)
	if err != nil {
		return err
	}
	var keep []walkFile
	subsetOf := map[string]string{}
	for _, f := range imageFiles(imgFiles) {
		part := subsetFromDirs(f.dirs)
		if want != "" && part != want {
			continue
		}
		subsetOf[f.key()] = part
		keep = append(keep, f)
	}
	images := l.uniqueByStem(keep, "image")
	maskFiles, err := walkTree(mRoot)
	if err != nil {
		return err
	}
	type pair struct {
		disc, cup walkFile
		label     int
	}
	pairs := map[string]*pair{}
	for _, f := range imageFiles(maskFiles) {
		m := rimoneMaskRe.FindStringSubmatch(f.stem)
		if m == nil {
			l.notes = append(l.notes, "ignored "+f.rel+": not named <id>-<annotator>-{Disc,Cup}-T")
			continue
		}
		if n, _ := strconv.Atoi(m[2]); n != annot {
			continue
		}
		key := strings.ToLower(m[1])
		label := -1
		for _, d := range f.dirs {
			switch strings.ToLower(d) {
			case "glaucoma":
				label = 1
			case "normal":
				label = 0
			}
		}
		pr := pairs[key]
		if pr == nil {
			pr = &pair{label: label}
			pairs[key] = pr
		}
		if pr.label != label {
			l.problem(f.path, 0, fmt.Sprintf("mask folder gives label %d but the other mask of %q gives %d", label, m[1], pr.label), "the disc and cup files of an image in the same glaucoma/normal folder")
		}
		slot := &pr.disc
		if strings.EqualFold(m[3], "cup") {
			slot = &pr.cup
		}
		if slot.path != "" {
			l.problem(f.path, 0, fmt.Sprintf("second %s mask for %q (also %s)", strings.ToLower(m[3]), m[1], slot.path), "one disc and one cup file per image and annotator")
			continue
		}
		*slot = f
	}
	for key, f := range images {
		pr := pairs[key]
		if pr == nil || pr.disc.path == "" || pr.cup.path == "" {
			var missing []string
			if pr == nil || pr.disc.path == "" {
				missing = append(missing, fmt.Sprintf("%s-%d-Disc-T.png", f.stem, annot))
			}
			if pr == nil || pr.cup.path == "" {
				missing = append(missing, fmt.Sprintf("%s-%d-Cup-T.png", f.stem, annot))
			}
			l.problem(f.path, 0, fmt.Sprintf("image %q has no %s under %s", f.stem, strings.Join(missing, " and "), mRoot), "a disc and a cup mask for every image")
			continue
		}
		s := l.newSample(f.stem, f.path)
		if s == nil {
			continue
		}
		s.Label = pr.label
		s.Subset = subsetOf[key]
		if m := rimonePrefixRe.FindStringSubmatch(f.stem); m != nil {
			s.Device = m[1]
		}
		l.setMask(s, pr.disc.path)
		if cw, ch, err := ImageSize(pr.cup.path); err == nil && (cw != s.W || ch != s.H) {
			l.problem(pr.cup.path, 0, fmt.Sprintf("cup mask is %dx%d but its image %s is %dx%d", cw, ch, f.path, s.W, s.H), "the mask to have the size of its image")
		}
		l.decoders[s] = maskDecoder{rule: rule, cupPath: pr.cup.path}
		l.samples = append(l.samples, s)
	}
	if want == "" {
		for key, pr := range pairs {
			if _, ok := images[key]; !ok {
				f := pr.disc
				if f.path == "" {
					f = pr.cup
				}
				l.problem(f.path, 0, fmt.Sprintf("mask has no image %q under %s", rimoneMaskRe.FindStringSubmatch(f.stem)[1], imgRoot), "an image for every mask")
			}
		}
	}
	return nil
}

func isDir(p string) bool {
	st, err := statPath(p)
	return err == nil && st.IsDir()
}
