package data

import (
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"
)

// fundus-dg: the DoFE multi-domain "Fundus" ROI layout
// <Domain>/[train|test/]ROIs/{image,mask}/<id>.png. Masks are REFUGE-coded
// (RGB with R = G = B is accepted by the strict codec). The device is the
// domain folder; the subset is the train/test folder when present. Labels
// come from the file-name prefixes documented with the data (README of
// ../shared/data/fundus-dg-roi): "g…"/"gdrishti…" glaucoma and
// "n…"/"ndrishti…" normal (REFUGE training, Drishti-GS1), "G-"/"N-" glaucoma
// and normal (RIM-ONE r3); everything else, including RIM-ONE suspects "S-"
// and REFUGE validation "V…", is unknown (-1).
var fundusDGFormat = &sourceFormat{
	params: []string{"image_dir", "mask_dir", "allow_missing_masks"},
	summary: func(spec SourceSpec) string {
		p := spec.Params
		return fmt.Sprintf("DoFE multi-domain fundus ROI crops <Domain>/[train|test/]ROIs/%s/*.png paired by stem (case-insensitive) with REFUGE-coded masks in the sibling %s/ folder, device = domain folder, labels from the file-name prefixes (g/gdrishti and G- glaucoma; n/ndrishti and N- normal; others, e.g. S- suspects and V validation ids, unknown), no fovea.",
			strOr(p, "image_dir", "image"), strOr(p, "mask_dir", "mask"))
	},
	load: loadFundusDG,
}

var (
	dgGlaucomaRe = regexp.MustCompile(`^(g\d|gdrishti|G-)`)
	dgNormalRe   = regexp.MustCompile(`^(n\d|ndrishti|N-)`)
)

// dofeLabel returns the label implied by a DoFE file name (-1 unknown).
func dofeLabel(stem string) int {
	switch {
	case dgGlaucomaRe.MatchString(stem):
		return 1
	case dgNormalRe.MatchString(stem):
		return 0
	}
	return -1
}

func loadFundusDG(l *srcLoader) error {
	imageDir, err := l.p.str("image_dir", "image")
	if err != nil {
		return err
	}
	maskDir, err := l.p.str("mask_dir", "mask")
	if err != nil {
		return err
	}
	allowMissing, err := l.p.boolean("allow_missing_masks", false)
	if err != nil {
		return err
	}
	want, ok := subsetName(l.spec.Subset)
	if !ok {
		return fmt.Errorf("subset %q is unknown (expected train, test or empty for all)", l.spec.Subset)
	}
	files, err := walkTree(l.root)
	if err != nil {
		return err
	}
	l.maskRule = RefugeRule.String()
	// Index the masks by the folder of their image folder + stem.
	masks := map[string][]walkFile{}
	var imgs []walkFile
	for _, f := range imageFiles(files) {
		if len(f.dirs) == 0 {
			continue
		}
		last := f.dirs[len(f.dirs)-1]
		parent := path.Join(f.dirs[:len(f.dirs)-1]...)
		switch {
		case strings.EqualFold(last, imageDir):
			imgs = append(imgs, f)
		case strings.EqualFold(last, maskDir):
			k := strings.ToLower(parent) + "|" + f.key()
			masks[k] = append(masks[k], f)
		}
	}
	var keep []walkFile
	subsetOf := map[string]string{}
	for _, f := range imgs {
		part := subsetFromDirs(f.dirs)
		if want != "" && part != want {
			continue
		}
		keep = append(keep, f)
		subsetOf[f.path] = part
	}
	byStem := l.uniqueByStem(keep, "image")
	keys := make([]string, 0, len(byStem))
	for k := range byStem {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	used := map[string]bool{}
	for _, k := range keys {
		f := byStem[k]
		s := l.newSample(f.stem, f.path)
		if s == nil {
			continue
		}
		s.Device = f.dirs[0]
		if len(f.dirs) == 1 {
			s.Device = ""
		}
		s.Subset = subsetOf[f.path]
		s.Label = dofeLabel(f.stem)
		parent := strings.ToLower(path.Join(f.dirs[:len(f.dirs)-1]...))
		mk := parent + "|" + f.key()
		used[mk] = true
		switch ms := masks[mk]; {
		case len(ms) == 1:
			l.setMask(s, ms[0].path)
		case len(ms) > 1:
			var names []string
			for _, m := range ms {
				names = append(names, m.rel)
			}
			l.problem(f.path, 0, fmt.Sprintf("%d mask files match image %q: %s", len(ms), f.stem, strings.Join(names, ", ")), "one mask per image stem")
		case !allowMissing:
			l.problem(f.path, 0, fmt.Sprintf("image %q has no mask in the sibling %s/ folder", f.stem, maskDir), "a mask <stem>.png for every image (or allow_missing_masks: true)")
		}
		l.samples = append(l.samples, s)
	}
	if want == "" {
		mkeys := make([]string, 0, len(masks))
		for k := range masks {
			mkeys = append(mkeys, k)
		}
		sort.Strings(mkeys)
		for _, k := range mkeys {
			if !used[k] {
				m := masks[k][0]
				l.problem(m.path, 0, fmt.Sprintf("mask %q has no image in the sibling %s/ folder", m.stem, imageDir), "an image for every mask")
			}
		}
	}
	return nil
}
