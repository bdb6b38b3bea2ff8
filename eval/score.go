package eval

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/refugelab/refugelab/data"
)

// Predictions holds one submission's outputs keyed by image name stem
// (e.g. "g0001", "T0001"): glaucoma risk scores (higher = more likely
// glaucoma), fovea points in original pixels, and REFUGE-coded masks at
// original size. Any map may be nil when the task is not predicted.
type Predictions struct {
	Class map[string]float64
	Fovea map[string]data.Point
	Masks map[string]*data.Mask
}

// GroundTruth holds the reference annotations keyed by image name stem:
// labels 1 (glaucoma) / 0 (normal), fovea points, and masks. A nil or empty
// map means the ground truth has nothing for that task, and the task block is
// then omitted from the metrics.
type GroundTruth struct {
	Labels map[string]int
	Fovea  map[string]data.Point
	Masks  map[string]*data.Mask
}

// ScoreOptions controls Score.
type ScoreOptions struct {
	// Strict adds the strict check (DESIGN §4): every ground-truth image
	// predicted, no extra names, names matched exactly by stem, mask sizes
	// equal to the ground truth's, mask values only 0/128/255, finite scores
	// and coordinates. Any failure makes Score return a *StrictError listing
	// every item (together with the metrics computed as the official mode
	// would). Without Strict, Score reproduces the official code: images
	// missing from the submission are skipped, extra names are ignored,
	// classification names match case-insensitively, fovea and mask names
	// exactly, and any mask value is accepted (disc = value < 255, cup =
	// value 0). What the official mode tolerated is still listed in
	// TaskMetrics.Problems.
	Strict bool
	// BootstrapSeed seeds the confidence-interval resampling; each interval
	// uses its own stream data.Seed(BootstrapSeed, "eval/bootstrap", metric).
	BootstrapSeed uint64
	// BootstrapN is the number of bootstrap resamples; 0 disables the
	// confidence intervals.
	BootstrapN int
	// Spec is the specificity of the reported sensitivity; 0 means 0.85.
	Spec float64
}

// Problem is one item a submission check found.
type Problem struct {
	// Task is "classification", "segmentation", "fovea" or "submission".
	Task string `json:"task"`
	// Name is the image stem or file name concerned ("" when general).
	Name string `json:"name,omitempty"`
	// File and Row locate it when known (Row is 1-based, 0 when unknown).
	File string `json:"file,omitempty"`
	Row  int    `json:"row,omitempty"`
	// Kind is a short tag: missing, extra, name-case, size, values, unparsable, not-finite, duplicate, unsafe-path, too-large.
	Kind string `json:"kind"`
	// What happened and what was expected.
	What     string `json:"what"`
	Expected string `json:"expected,omitempty"`
}

// String formats a problem on one line.
func (p Problem) String() string {
	var loc []string
	if p.File != "" {
		loc = append(loc, p.File)
	}
	if p.Row > 0 {
		loc = append(loc, fmt.Sprintf("row %d", p.Row))
	}
	if p.Name != "" {
		loc = append(loc, p.Name)
	}
	s := fmt.Sprintf("%s [%s]", p.Task, p.Kind)
	if len(loc) > 0 {
		s += " " + strings.Join(loc, ", ")
	}
	s += ": " + p.What
	if p.Expected != "" {
		s += " (expected " + p.Expected + ")"
	}
	return s
}

// StrictError is returned by Score in strict mode when the submission fails
// the strict check; it lists every problem.
type StrictError struct {
	Problems []Problem
}

// Error lists every problem, one per line.
func (e *StrictError) Error() string {
	lines := make([]string, 0, len(e.Problems)+1)
	lines = append(lines, fmt.Sprintf("strict check failed: %d problem(s)", len(e.Problems)))
	for _, p := range e.Problems {
		lines = append(lines, "  "+p.String())
	}
	return strings.Join(lines, "\n")
}

// CI95 is a 95 % confidence interval [lo, hi].
type CI95 = [2]float64

// ClassMetrics is the classification block of metrics.json.
type ClassMetrics struct {
	AUC float64 `json:"auc"`
	// SensAtSpec is the sensitivity at specificity 0.85 (or ScoreOptions.Spec).
	SensAtSpec float64 `json:"sensitivity_at_spec_0.85"`
	Spec       float64 `json:"specificity"`
	N          int     `json:"n"`
	Glaucoma   int     `json:"n_glaucoma"`
	Normal     int     `json:"n_normal"`
	// Missing counts ground-truth images the submission did not predict
	// (skipped, as the official code does).
	Missing int   `json:"n_missing"`
	AUCCI   *CI95 `json:"auc_ci95,omitempty"`
}

// SegMetrics is the segmentation block of metrics.json: plain means over
// images (undefined Dice values excluded, see SegResult), sample standard
// deviations and bootstrap intervals.
type SegMetrics struct {
	DiceDisc float64 `json:"dice_disc"`
	DiceCup  float64 `json:"dice_cup"`
	VCDRMAE  float64 `json:"vcdr_mae"`
	N        int     `json:"n"`
	Missing  int     `json:"n_missing"`
	// DiceDiscUndefined / DiceCupUndefined count images excluded from the
	// Dice mean because neither mask held the structure (0/0).
	DiceDiscUndefined int     `json:"dice_disc_undefined"`
	DiceCupUndefined  int     `json:"dice_cup_undefined"`
	DiceDiscSD        float64 `json:"dice_disc_sd"`
	DiceCupSD         float64 `json:"dice_cup_sd"`
	VCDRMAESD         float64 `json:"vcdr_mae_sd"`
	DiceDiscCI        *CI95   `json:"dice_disc_ci95,omitempty"`
	DiceCupCI         *CI95   `json:"dice_cup_ci95,omitempty"`
	VCDRMAECI         *CI95   `json:"vcdr_mae_ci95,omitempty"`
}

// FoveaMetrics is the fovea block of metrics.json.
type FoveaMetrics struct {
	MeanDistance float64 `json:"mean_distance_px"`
	N            int     `json:"n"`
	Missing      int     `json:"n_missing"`
	SD           float64 `json:"mean_distance_px_sd"`
	CI           *CI95   `json:"mean_distance_px_ci95,omitempty"`
}

// ClassRow is one image's classification entry.
type ClassRow struct {
	Name  string  `json:"name"`
	Label int     `json:"label"`
	Score float64 `json:"score"`
}

// SegRow is one image's segmentation entry; a Dice value is null when
// undefined (both masks empty for that structure).
type SegRow struct {
	Name       string   `json:"name"`
	DiceDisc   *float64 `json:"dice_disc"`
	DiceCup    *float64 `json:"dice_cup"`
	VCDRGT     float64  `json:"vcdr_gt"`
	VCDRPred   float64  `json:"vcdr_pred"`
	VCDRAbsErr float64  `json:"vcdr_abs_err"`
}

// FoveaRow is one image's fovea entry.
type FoveaRow struct {
	Name     string  `json:"name"`
	GTX      float64 `json:"gt_x"`
	GTY      float64 `json:"gt_y"`
	X        float64 `json:"x"`
	Y        float64 `json:"y"`
	Distance float64 `json:"distance_px"`
}

// PerImage holds the per-image tables, each sorted by name.
type PerImage struct {
	Classification []ClassRow `json:"classification,omitempty"`
	Segmentation   []SegRow   `json:"segmentation,omitempty"`
	Fovea          []FoveaRow `json:"fovea,omitempty"`
}

// TaskMetrics is one split's block of metrics.json. A task block is nil
// (omitted) when the ground truth has nothing for that task.
type TaskMetrics struct {
	Classification *ClassMetrics `json:"classification,omitempty"`
	Segmentation   *SegMetrics   `json:"segmentation,omitempty"`
	Fovea          *FoveaMetrics `json:"fovea,omitempty"`
	PerImage       PerImage      `json:"per_image"`
	// Problems lists what the submission check found (in official mode:
	// what was tolerated).
	Problems []Problem `json:"problems,omitempty"`
}

func sortedKeys[V any](m map[string]V) []string {
	k := make([]string, 0, len(m))
	for s := range m {
		k = append(k, s)
	}
	sort.Strings(k)
	return k
}

// matcher pairs ground-truth stems with prediction keys.
type matcher struct {
	task   string
	strict bool
	fold   bool // official: case-insensitive match allowed
	probs  *[]Problem
}

// match maps each predicted GT stem to its prediction key (stems without a
// prediction are absent) and records missing/extra/case problems.
func (m matcher) match(gt []string, pred []string) map[string]string {
	out := make(map[string]string, len(gt))
	predSet := make(map[string]bool, len(pred))
	for _, p := range pred {
		predSet[p] = true
	}
	used := make(map[string]bool)
	var lower map[string][]string
	for _, g := range gt {
		if predSet[g] {
			out[g] = g
			used[g] = true
		}
	}
	for _, g := range gt {
		if _, ok := out[g]; ok {
			continue
		}
		if lower == nil {
			lower = make(map[string][]string)
			for _, p := range pred {
				if !used[p] {
					l := strings.ToLower(p)
					lower[l] = append(lower[l], p)
				}
			}
		}
		cands := lower[strings.ToLower(g)]
		if len(cands) == 1 && !used[cands[0]] {
			if m.fold && !m.strict {
				out[g] = cands[0]
				used[cands[0]] = true
				*m.probs = append(*m.probs, Problem{Task: m.task, Name: g, Kind: "name-case",
					What: fmt.Sprintf("predicted as %q, matched case-insensitively (official behaviour)", cands[0]), Expected: "the exact stem " + g})
				continue
			}
			*m.probs = append(*m.probs, Problem{Task: m.task, Name: g, Kind: "name-case",
				What: fmt.Sprintf("predicted only as %q, which differs in letter case", cands[0]), Expected: "the exact stem " + g})
			used[cands[0]] = true // reported here, not again as extra
			continue
		}
		*m.probs = append(*m.probs, Problem{Task: m.task, Name: g, Kind: "missing",
			What: "ground-truth image not predicted", Expected: "a prediction for every ground-truth image"})
	}
	for _, p := range pred {
		if !used[p] {
			*m.probs = append(*m.probs, Problem{Task: m.task, Name: p, Kind: "extra",
				What: "prediction for an image not in the ground truth", Expected: "only ground-truth names"})
		}
	}
	return out
}

// Score compares predictions with ground truth and returns one split's
// metrics.json block. Per-image values come first; means, standard
// deviations and bootstrap intervals are taken over images in name order.
// Errors: a single-class ground truth (wrapping ErrSingleClass; AUC is
// undefined), masks whose size differs from the ground truth's, non-finite
// scores or points, and in strict mode a *StrictError listing every problem.
func Score(pred *Predictions, gt *GroundTruth, opt ScoreOptions) (*TaskMetrics, error) {
	if !opt.Strict {
		return score(pred, gt, opt)
	}
	probs := StrictCheck(pred, gt)
	opt.Strict = false
	tm, err := score(pred, gt, opt)
	if len(probs) > 0 {
		if tm != nil {
			tm.Problems = probs
		}
		return tm, &StrictError{Problems: probs}
	}
	return tm, err
}

// StrictCheck lists every strict-mode problem of a submission against the
// ground truth: missing and extra names per task (names must match stems
// exactly; a case-only difference is reported as name-case), masks whose size
// differs from the ground truth's, mask values outside {0,128,255}, and
// non-finite scores or coordinates. Problems come in task, then name order.
func StrictCheck(pred *Predictions, gt *GroundTruth) []Problem {
	if pred == nil {
		pred = &Predictions{}
	}
	var probs []Problem
	if len(gt.Labels) > 0 {
		m := matcher{task: "classification", strict: true, probs: &probs}.match(sortedKeys(gt.Labels), sortedKeys(pred.Class))
		for _, g := range sortedKeys(m) {
			if s := pred.Class[m[g]]; !finite(s) {
				probs = append(probs, Problem{Task: "classification", Name: g, Kind: "not-finite", What: fmt.Sprintf("score %v", s), Expected: "a finite number"})
			}
		}
	}
	if len(gt.Masks) > 0 {
		m := matcher{task: "segmentation", strict: true, probs: &probs}.match(sortedKeys(gt.Masks), sortedKeys(pred.Masks))
		for _, g := range sortedKeys(m) {
			pm, gm := pred.Masks[m[g]], gt.Masks[g]
			switch {
			case pm == nil || len(pm.Pix) != pm.W*pm.H:
				probs = append(probs, Problem{Task: "segmentation", Name: g, Kind: "unparsable", What: "mask missing or inconsistent", Expected: "a decoded mask"})
				continue
			case pm.W != gm.W || pm.H != gm.H:
				probs = append(probs, Problem{Task: "segmentation", Name: g, Kind: "size",
					What: fmt.Sprintf("mask is %dx%d", pm.W, pm.H), Expected: fmt.Sprintf("%dx%d, the ground truth's size", gm.W, gm.H)})
			}
			if bad := strayValues(pm); bad != "" {
				probs = append(probs, Problem{Task: "segmentation", Name: g, Kind: "values", What: bad, Expected: "only 0, 128 and 255"})
			}
		}
	}
	if len(gt.Fovea) > 0 {
		m := matcher{task: "fovea", strict: true, probs: &probs}.match(sortedKeys(gt.Fovea), sortedKeys(pred.Fovea))
		for _, g := range sortedKeys(m) {
			if p := pred.Fovea[m[g]]; !finite(p.X) || !finite(p.Y) {
				probs = append(probs, Problem{Task: "fovea", Name: g, Kind: "not-finite", What: fmt.Sprintf("point (%v, %v)", p.X, p.Y), Expected: "finite coordinates"})
			}
		}
	}
	return probs
}

// score is the official-mode scoring.
func score(pred *Predictions, gt *GroundTruth, opt ScoreOptions) (*TaskMetrics, error) {
	if pred == nil {
		pred = &Predictions{}
	}
	if gt == nil {
		return nil, errors.New("score: no ground truth")
	}
	if opt.BootstrapN < 0 {
		return nil, fmt.Errorf("score: bootstrap_n %d, expected >= 0", opt.BootstrapN)
	}
	spec := opt.Spec
	if spec == 0 {
		spec = 0.85
	}
	tm := &TaskMetrics{}
	var probs []Problem
	ciSeed := func(metric string) uint64 { return data.Seed(opt.BootstrapSeed, "eval/bootstrap", metric) }

	// Classification.
	if len(gt.Labels) > 0 && len(pred.Class) == 0 {
		probs = append(probs, notSubmitted("classification"))
	} else if len(gt.Labels) > 0 {
		gtNames := sortedKeys(gt.Labels)
		m := matcher{task: "classification", strict: opt.Strict, fold: true, probs: &probs}.match(gtNames, sortedKeys(pred.Class))
		var scores []float64
		var labels []int
		missing := 0
		for _, g := range gtNames {
			k, ok := m[g]
			if !ok {
				missing++
				continue
			}
			s := pred.Class[k]
			if math.IsNaN(s) || math.IsInf(s, 0) {
				return nil, fmt.Errorf("score: classification score of %s is %v; expected a finite number", k, s)
			}
			scores = append(scores, s)
			labels = append(labels, gt.Labels[g])
			tm.PerImage.Classification = append(tm.PerImage.Classification, ClassRow{Name: g, Label: gt.Labels[g], Score: s})
		}
		auc, err := AUC(scores, labels)
		if err != nil {
			return nil, fmt.Errorf("score: classification over %d images: %w", len(scores), err)
		}
		sens, err := SensAtSpec(scores, labels, spec)
		if err != nil {
			return nil, fmt.Errorf("score: classification: %w", err)
		}
		cm := &ClassMetrics{AUC: auc, SensAtSpec: sens, Spec: spec, N: len(scores), Missing: missing}
		for _, l := range labels {
			if l == 1 {
				cm.Glaucoma++
			} else {
				cm.Normal++
			}
		}
		if opt.BootstrapN > 0 {
			ci, err := AUCCI(scores, labels, opt.BootstrapN, ciSeed("auc"))
			if err != nil {
				return nil, fmt.Errorf("score: %w", err)
			}
			cm.AUCCI = &ci
		}
		tm.Classification = cm
	}

	// Segmentation.
	if len(gt.Masks) > 0 && len(pred.Masks) == 0 {
		probs = append(probs, notSubmitted("segmentation"))
	} else if len(gt.Masks) > 0 {
		gtNames := sortedKeys(gt.Masks)
		m := matcher{task: "segmentation", strict: opt.Strict, probs: &probs}.match(gtNames, sortedKeys(pred.Masks))
		type job struct {
			name     string
			gt, pred *data.Mask
		}
		var jobs []job
		missing := 0
		for _, g := range gtNames {
			k, ok := m[g]
			if !ok {
				missing++
				continue
			}
			pm := pred.Masks[k]
			if pm == nil {
				return nil, fmt.Errorf("score: segmentation mask of %s is nil", k)
			}
			jobs = append(jobs, job{g, gt.Masks[g], pm})
		}
		results := make([]SegResult, len(jobs))
		errs := make([]error, len(jobs))
		strays := make([]string, len(jobs))
		parallelFor(len(jobs), func(i int) {
			strays[i] = strayValues(jobs[i].pred)
			results[i], errs[i] = SegImage(jobs[i].gt, jobs[i].pred)
		})
		for i, bad := range strays {
			if bad != "" {
				probs = append(probs, Problem{Task: "segmentation", Name: jobs[i].name, Kind: "values", What: bad + "; scored under the official rule", Expected: "only 0, 128 and 255"})
			}
		}
		for i, err := range errs {
			if err != nil {
				return nil, fmt.Errorf("score: segmentation of %s: %w", jobs[i].name, err)
			}
		}
		sm := &SegMetrics{N: len(jobs), Missing: missing}
		var dd, dc, ae []float64
		for i, r := range results {
			row := SegRow{Name: jobs[i].name, VCDRGT: r.VCDRGT, VCDRPred: r.VCDRPred, VCDRAbsErr: r.AbsErr}
			if r.DiscUndefined {
				sm.DiceDiscUndefined++
			} else {
				v := r.DiceDisc
				row.DiceDisc = &v
				dd = append(dd, v)
			}
			if r.CupUndefined {
				sm.DiceCupUndefined++
			} else {
				v := r.DiceCup
				row.DiceCup = &v
				dc = append(dc, v)
			}
			ae = append(ae, r.AbsErr)
			tm.PerImage.Segmentation = append(tm.PerImage.Segmentation, row)
		}
		if len(jobs) == 0 {
			return nil, errors.New("score: segmentation: no ground-truth image was predicted")
		}
		sm.DiceDisc, sm.DiceDiscSD = meanOrZero(dd), SD(dd)
		sm.DiceCup, sm.DiceCupSD = meanOrZero(dc), SD(dc)
		sm.VCDRMAE, sm.VCDRMAESD = Mean(ae), SD(ae)
		if opt.BootstrapN > 0 {
			var err error
			if sm.DiceDiscCI, err = optCI(dd, opt.BootstrapN, ciSeed("dice_disc")); err != nil {
				return nil, err
			}
			if sm.DiceCupCI, err = optCI(dc, opt.BootstrapN, ciSeed("dice_cup")); err != nil {
				return nil, err
			}
			if sm.VCDRMAECI, err = optCI(ae, opt.BootstrapN, ciSeed("vcdr_mae")); err != nil {
				return nil, err
			}
		}
		tm.Segmentation = sm
	}

	// Fovea.
	if len(gt.Fovea) > 0 && len(pred.Fovea) == 0 {
		probs = append(probs, notSubmitted("fovea"))
	} else if len(gt.Fovea) > 0 {
		gtNames := sortedKeys(gt.Fovea)
		m := matcher{task: "fovea", strict: opt.Strict, probs: &probs}.match(gtNames, sortedKeys(pred.Fovea))
		var dist []float64
		missing := 0
		for _, g := range gtNames {
			k, ok := m[g]
			if !ok {
				missing++
				continue
			}
			p, q := pred.Fovea[k], gt.Fovea[g]
			if !finite(p.X) || !finite(p.Y) {
				return nil, fmt.Errorf("score: fovea of %s is (%v, %v); expected finite coordinates", k, p.X, p.Y)
			}
			d := p.Dist(q)
			dist = append(dist, d)
			tm.PerImage.Fovea = append(tm.PerImage.Fovea, FoveaRow{Name: g, GTX: q.X, GTY: q.Y, X: p.X, Y: p.Y, Distance: d})
		}
		if len(dist) == 0 {
			return nil, errors.New("score: fovea: no ground-truth image was predicted")
		}
		fm := &FoveaMetrics{MeanDistance: Mean(dist), SD: SD(dist), N: len(dist), Missing: missing}
		if opt.BootstrapN > 0 {
			var err error
			if fm.CI, err = optCI(dist, opt.BootstrapN, ciSeed("fovea_distance")); err != nil {
				return nil, err
			}
		}
		tm.Fovea = fm
	}

	tm.Problems = probs
	return tm, nil
}

// notSubmitted is the problem recorded when a submission has no
// predictions at all for a task the ground truth covers.
func notSubmitted(task string) Problem {
	return Problem{Task: task, Kind: "missing", What: fmt.Sprintf("the submission has no %s predictions; task not scored", task),
		Expected: "predictions for every task the ground truth covers"}
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// meanOrZero is Mean with 0 for an empty slice (every value undefined; the
// undefined count says so).
func meanOrZero(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	return Mean(v)
}

func optCI(v []float64, b int, seed uint64) (*CI95, error) {
	if len(v) == 0 {
		return nil, nil
	}
	ci, err := MeanCI(v, b, seed)
	if err != nil {
		return nil, fmt.Errorf("score: %w", err)
	}
	return &ci, nil
}

// strayValues describes values outside {0,128,255} ("" when none). Words
// of eight background bytes are skipped whole.
func strayValues(m *data.Mask) string {
	var h [256]int
	pix := m.Pix
	i := 0
	for ; i+8 <= len(pix); i += 8 {
		if binary.LittleEndian.Uint64(pix[i:]) == allBackground {
			continue
		}
		for _, v := range pix[i : i+8] {
			h[v]++
		}
	}
	for _, v := range pix[i:] {
		h[v]++
	}
	var parts []string
	n := 0
	for v, c := range h {
		if c > 0 && v != 0 && v != 128 && v != 255 {
			n += c
			if len(parts) < 10 {
				parts = append(parts, fmt.Sprintf("%d×%d", v, c))
			}
		}
	}
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("%d px outside {0,128,255} (value×count: %s)", n, strings.Join(parts, ", "))
}

// parallelFor runs f(0..n-1) on a fixed partition into contiguous chunks,
// one worker per chunk; results go to index-addressed slots, so the outcome
// never depends on scheduling.
func parallelFor(n int, f func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		for i := 0; i < n; i++ {
			f(i)
		}
		return
	}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		lo, hi := w*n/workers, (w+1)*n/workers
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := lo; i < hi; i++ {
				f(i)
			}
		}()
	}
	wg.Wait()
}

// Report is TaskMetrics under the name CONTRACTS.md uses for Score's result.
type Report = TaskMetrics
