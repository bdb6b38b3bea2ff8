package data

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// Problem is one thing wrong with the data: the file (and row of a label
// file, 0 when not a row), what is wrong, and what was expected.
type Problem struct {
	File     string `json:"file"`
	Row      int    `json:"row,omitempty"`
	What     string `json:"what"`
	Expected string `json:"expected"`
}

// Error formats the problem as "FILE[:ROW]: WHAT (expected EXPECTED)".
func (p Problem) Error() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Row > 0 {
		fmt.Fprintf(&b, ": row %d", p.Row)
	}
	b.WriteString(": ")
	b.WriteString(p.What)
	if p.Expected != "" {
		b.WriteString(" (expected ")
		b.WriteString(p.Expected)
		b.WriteString(")")
	}
	return b.String()
}

// ProblemsError is an error carrying every problem found, so that callers
// can print them all (never only the first).
type ProblemsError struct {
	// Context says where the problems were found (e.g. `source "refuge"`).
	Context  string
	Problems []Problem
}

// Error lists the count and up to ten problems.
func (e *ProblemsError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d problem(s)", e.Context, len(e.Problems))
	for i, p := range e.Problems {
		if i == 10 {
			fmt.Fprintf(&b, "\n  ... and %d more", len(e.Problems)-10)
			break
		}
		b.WriteString("\n  ")
		b.WriteString(p.Error())
	}
	return b.String()
}

// sortProblems orders problems by file, row, then text, so that reports do
// not depend on map or scheduling order.
func sortProblems(ps []Problem) {
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Row != b.Row {
			return a.Row < b.Row
		}
		return a.What < b.What
	})
}

// Check inspects samples deeply and returns every problem found, in a
// deterministic order (duplicate ids first, then per sample in input
// order). It decodes every image and mask, in parallel with a fixed
// partition (sample i goes to worker i mod workers; workers < 1 means 1), so
// the result does not depend on scheduling. Problem kinds:
//   - no samples at all;
//   - duplicate sample ids;
//   - missing or unreadable images (e.g. a truncated JPEG), and images whose
//     decoded size differs from the size recorded at load;
//   - masks stored as JPEG, unreadable masks, mask values outside the
//     source's convention (REFUGE: anything but 0/128/255), 3-channel masks
//     whose channels differ;
//   - a mask whose size differs from its image (naming both files and sizes);
//   - a cup outside the disc (a cup pixel 4-adjacent to background) and a
//     mask with no disc pixel;
//   - fovea or disc-centre points outside the image.
//
// Problems found while pairing files (label rows naming missing images, an
// empty source) come from LoadSource; CheckSources runs both.
func Check(samples []*Sample, workers int) []Problem {
	if len(samples) == 0 {
		return []Problem{{File: "(no samples)", What: "no samples to check: every source is empty", Expected: "at least one image"}}
	}
	var out []Problem
	first := map[string]*Sample{}
	for _, s := range samples {
		if f, ok := first[s.ID]; ok {
			out = append(out, Problem{File: sampleFile(s), What: fmt.Sprintf("duplicate sample id %q (also %s)", s.ID, sampleFile(f)), Expected: "unique ids \"<source>/<stem>\" across all sources"})
			continue
		}
		first[s.ID] = s
	}
	if workers < 1 {
		workers = 1
	}
	per := make([][]Problem, len(samples))
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < len(samples); i += workers {
				per[i] = checkSample(samples[i])
			}
		}(w)
	}
	wg.Wait()
	for _, ps := range per {
		out = append(out, ps...)
	}
	return out
}

// sampleFile names a sample for a problem: its image file, or its id for
// in-memory samples.
func sampleFile(s *Sample) string {
	if s.ImagePath != "" {
		return s.ImagePath
	}
	return s.ID
}

// checkSample decodes one sample and lists its problems.
func checkSample(s *Sample) []Problem {
	var ps []Problem
	add := func(file, what, expected string) {
		ps = append(ps, Problem{File: file, What: what, Expected: expected})
	}
	// Points.
	for _, pt := range []struct {
		name string
		p    *Point
	}{{"fovea", s.Fovea}, {"disc centre", s.DiscCenter}} {
		if pt.p == nil {
			continue
		}
		if !(pt.p.X >= -0.5 && pt.p.X < float64(s.W)-0.5 && pt.p.Y >= -0.5 && pt.p.Y < float64(s.H)-0.5) {
			add(sampleFile(s), fmt.Sprintf("%s (%g, %g) lies outside the %dx%d image", pt.name, pt.p.X, pt.p.Y, s.W, s.H),
				fmt.Sprintf("x in [-0.5, %g) and y in [-0.5, %g) (0-based pixel centres; was a 1-based or other-size coordinate used?)", float64(s.W)-0.5, float64(s.H)-0.5))
		}
	}
	var iw, ih int
	var m *Mask
	if s.loader != nil {
		// In-memory samples, and file samples whose mask needs its own
		// decoder (binary disc/cup pairs): decode through their loader.
		if s.ImagePath != "" {
			if _, err := statPath(s.ImagePath); err != nil {
				add(s.ImagePath, "image file is missing: "+err.Error(), "a complete PNG, JPEG or BMP image")
				return ps
			}
		}
		img, mk, err := s.Load()
		if err != nil {
			add(sampleFile(s), "cannot load: "+err.Error(), "a loadable image and a mask following "+maskRuleWords(s))
			return ps
		}
		iw, ih, m = img.W, img.H, mk
	} else {
		img, _, err := decodeFile(s.ImagePath)
		if err != nil {
			what := "image unreadable: " + err.Error()
			if _, serr := statPath(s.ImagePath); serr != nil {
				what = "image file is missing: " + serr.Error()
			}
			add(s.ImagePath, what, "a complete PNG, JPEG or BMP image")
			return ps
		}
		iw, ih = img.Bounds().Dx(), img.Bounds().Dy()
	}
	if iw != s.W || ih != s.H {
		add(sampleFile(s), fmt.Sprintf("image decodes to %dx%d but %dx%d was recorded at load", iw, ih, s.W, s.H), "the recorded size (file changed since loading?)")
	}
	if !s.HasMask {
		return ps
	}
	if s.loader == nil {
		if s.MaskPath == "" {
			add(s.ImagePath, "the sample has a mask but no mask path", "a mask file")
			return ps
		}
		ext := strings.ToLower(filepath.Ext(s.MaskPath))
		if ext == ".jpg" || ext == ".jpeg" {
			add(s.MaskPath, "mask is a JPEG file: lossy compression adds stray values at label edges", "a lossless .png or .bmp mask")
			return ps
		}
		mk, err := readSampleMask(s)
		if err != nil {
			add(s.MaskPath, "mask unreadable under its rule: "+err.Error(), "a mask following "+maskRuleWords(s))
			return ps
		}
		m = mk
	}
	if m == nil {
		add(sampleFile(s), "the sample has a mask but its loader returned none", "a mask")
		return ps
	}
	mf := s.MaskPath
	if mf == "" {
		mf = s.ID + " (mask)"
	}
	if m.W != iw || m.H != ih {
		add(mf, fmt.Sprintf("mask is %dx%d but its image %s is %dx%d", m.W, m.H, sampleFile(s), iw, ih), "the mask to have the size of its image")
		return ps
	}
	disc, touching := 0, 0
	for y := 0; y < m.H; y++ {
		for x := 0; x < m.W; x++ {
			v := m.Pix[y*m.W+x]
			if v != Background {
				disc++
			}
			if v != Cup {
				continue
			}
			if (x > 0 && m.Pix[y*m.W+x-1] == Background) || (x+1 < m.W && m.Pix[y*m.W+x+1] == Background) ||
				(y > 0 && m.Pix[(y-1)*m.W+x] == Background) || (y+1 < m.H && m.Pix[(y+1)*m.W+x] == Background) {
				touching++
			}
		}
	}
	if disc == 0 {
		add(mf, "mask has no disc pixel (all background)", "a ground-truth disc (values 0 or 128)")
	}
	if touching > 0 {
		add(mf, fmt.Sprintf("cup outside the disc: %d cup px (0) touch background (255) with no rim between", touching), "the cup inside the disc, surrounded by rim (128)")
	}
	return ps
}

// maskRuleWords describes the sample's mask rule.
func maskRuleWords(s *Sample) string {
	if s.ImagePath == "" {
		return "REFUGE codes"
	}
	rule, _ := MaskRuleOf(s)
	return rule.String()
}

// CheckSources loads every source (collecting pairing problems instead of
// failing on them), then runs Check on all samples together (duplicate ids
// across sources included). It returns the samples that loaded, one report
// per source, and every problem: the sources' problems first, in source
// order, then Check's. err is reserved for specs that cannot be read at all
// (unknown format or parameter, missing root).
func CheckSources(specs []SourceSpec, baseDir string, rootSeed uint64, workers int) ([]*Sample, []*SourceReport, []Problem, error) {
	var all []*Sample
	var reps []*SourceReport
	var probs []Problem
	if len(specs) == 0 {
		return nil, nil, []Problem{{File: "(config)", What: "no data sources configured", Expected: "at least one entry in data.sources"}}, nil
	}
	for _, spec := range specs {
		s, rep, err := LoadSourceProblems(spec, baseDir, rootSeed)
		if err != nil {
			return nil, reps, probs, err
		}
		reps = append(reps, rep)
		probs = append(probs, rep.Problems...)
		all = append(all, s...)
	}
	if len(all) == 0 {
		return all, reps, probs, nil
	}
	probs = append(probs, Check(all, workers)...)
	return all, reps, probs, nil
}
