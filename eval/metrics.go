// Package eval computes the REFUGE challenge metrics exactly as the official
// evaluation behaves (DESIGN.md §4), post-processes network outputs into
// REFUGE masks and fovea points, writes submissions in the REFUGE 2018 and
// REFUGE2 layouts, and scores any submission against ground truth (official
// and strict modes) and ranks several submissions.
//
// Conventions: masks use the REFUGE codes (0 cup, 128 rim, 255 background);
// disc = every pixel below 255 (cup included), cup = pixels equal to 0.
// Points use the pixel-centre convention of package data.
package eval

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/refugelab/refugelab/data"
)

// ErrSingleClass is returned (wrapped) by AUC, SensAtSpec and ROC when the
// labels hold only one class: the ROC and its AUC are then undefined.
var ErrSingleClass = errors.New("ROC undefined: the ground truth holds a single class")

// VCDREps is the constant the official code adds to the disc diameter:
// vCDR = cup diameter / (disc diameter + 1e-7).
const VCDREps = 1e-7

// checkBinary validates scores/labels and returns the class counts.
func checkBinary(scores []float64, labels []int) (pos, neg int, err error) {
	if len(scores) != len(labels) {
		return 0, 0, fmt.Errorf("scores and labels differ in length: %d scores, %d labels", len(scores), len(labels))
	}
	for i, s := range scores {
		if math.IsNaN(s) || math.IsInf(s, 0) {
			return 0, 0, fmt.Errorf("score %d is %v: expected a finite number", i, s)
		}
		switch labels[i] {
		case 1:
			pos++
		case 0:
			neg++
		default:
			return 0, 0, fmt.Errorf("label %d is %d: expected 0 (normal) or 1 (glaucoma)", i, labels[i])
		}
	}
	if pos == 0 || neg == 0 {
		return pos, neg, fmt.Errorf("%w (%d glaucoma, %d normal)", ErrSingleClass, pos, neg)
	}
	return pos, neg, nil
}

// tieGroup is one distinct score with its positive and negative counts.
type tieGroup struct {
	score    float64
	pos, neg int
}

// groups sorts by descending score and merges equal scores.
func groups(scores []float64, labels []int) []tieGroup {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return scores[idx[a]] > scores[idx[b]] })
	var gs []tieGroup
	for _, i := range idx {
		if len(gs) == 0 || gs[len(gs)-1].score != scores[i] {
			gs = append(gs, tieGroup{score: scores[i]})
		}
		if labels[i] == 1 {
			gs[len(gs)-1].pos++
		} else {
			gs[len(gs)-1].neg++
		}
	}
	return gs
}

// AUC returns the area under the ROC curve by the trapezoid rule, which equals
// the Mann-Whitney statistic with ties counted as half: the fraction of
// (glaucoma, normal) pairs where the glaucoma score is higher, plus half the
// tied pairs. Labels are 1 (glaucoma) or 0 (normal); a higher score means
// more likely glaucoma. It is computed exactly in integers
// (2·wins + ties) / (2·P·N). A single-class ground truth returns an error
// wrapping ErrSingleClass, never NaN.
func AUC(scores []float64, labels []int) (float64, error) {
	pos, neg, err := checkBinary(scores, labels)
	if err != nil {
		return 0, fmt.Errorf("AUC: %w", err)
	}
	var num int64 // 2*wins + ties
	negBelow := int64(neg)
	for _, g := range groups(scores, labels) {
		negBelow -= int64(g.neg)
		num += 2*int64(g.pos)*negBelow + int64(g.pos)*int64(g.neg)
	}
	return float64(num) / (2 * float64(pos) * float64(neg)), nil
}

// ROCPoint is one vertex of the ROC curve.
type ROCPoint struct {
	// Threshold: a case is called glaucoma when its score >= Threshold
	// (+Inf for the first vertex, where nothing is called glaucoma).
	Threshold float64 `json:"threshold"`
	// FP and TP are the false and true positive counts at this threshold.
	FP int `json:"fp"`
	TP int `json:"tp"`
	// Specificity = TN / N and Sensitivity = TP / P.
	Specificity float64 `json:"specificity"`
	Sensitivity float64 `json:"sensitivity"`
}

// ROC returns the ROC vertices from (specificity 1, sensitivity 0) to
// (0, 1), one per distinct score, with collinear intermediate vertices
// dropped (they do not change the curve). Ties of scores form one diagonal
// segment.
func ROC(scores []float64, labels []int) ([]ROCPoint, error) {
	pos, neg, err := checkBinary(scores, labels)
	if err != nil {
		return nil, fmt.Errorf("ROC: %w", err)
	}
	all := []ROCPoint{{Threshold: math.Inf(1), Specificity: 1, Sensitivity: 0}}
	fp, tp := 0, 0
	for _, g := range groups(scores, labels) {
		fp += g.neg
		tp += g.pos
		all = append(all, ROCPoint{Threshold: g.score, FP: fp, TP: tp,
			Specificity: float64(neg-fp) / float64(neg), Sensitivity: float64(tp) / float64(pos)})
	}
	// Drop collinear vertices, in integer arithmetic (exact).
	out := []ROCPoint{all[0]}
	for i := 1; i < len(all); i++ {
		if i+1 < len(all) {
			a, b, c := out[len(out)-1], all[i], all[i+1]
			// cross product of (b-a) and (c-b) in (FP, TP) counts
			cross := int64(b.FP-a.FP)*int64(c.TP-b.TP) - int64(b.TP-a.TP)*int64(c.FP-b.FP)
			if cross == 0 {
				continue
			}
		}
		out = append(out, all[i])
	}
	return out, nil
}

// SensAtSpec returns the sensitivity at the given specificity (the challenge
// uses 0.85): on the ROC vertices (specificity = TN/N, sensitivity = TP/P,
// collinear vertices dropped) the sensitivity is interpolated linearly in
// specificity; where spec falls exactly on a vertical step (several vertices
// with that specificity) the lowest sensitivity at that specificity is
// returned. Vertex specificities are computed as TN/N, so a specificity of
// exactly 0.85 (e.g. 17/20) compares equal to the literal 0.85.
func SensAtSpec(scores []float64, labels []int, spec float64) (float64, error) {
	if math.IsNaN(spec) || spec < 0 || spec > 1 {
		return 0, fmt.Errorf("sensitivity at specificity: specificity %v outside [0, 1]", spec)
	}
	roc, err := ROC(scores, labels)
	if err != nil {
		return 0, fmt.Errorf("sensitivity at specificity %v: %w", spec, err)
	}
	// Exact hits: lowest sensitivity among vertices with that specificity.
	found, best := false, 0.0
	for _, p := range roc {
		if p.Specificity == spec {
			if !found || p.Sensitivity < best {
				best = p.Sensitivity
			}
			found = true
		}
	}
	if found {
		return best, nil
	}
	// Vertices run from specificity 1 down to 0; find the bracketing segment.
	for i := 0; i+1 < len(roc); i++ {
		a, b := roc[i], roc[i+1]
		if a.Specificity > spec && spec > b.Specificity {
			t := (a.Specificity - spec) / (a.Specificity - b.Specificity)
			return a.Sensitivity + t*(b.Sensitivity-a.Sensitivity), nil
		}
	}
	return 0, fmt.Errorf("sensitivity at specificity %v: no ROC segment brackets it (internal error)", spec)
}

// Structure selects a region of a REFUGE mask.
type Structure int

const (
	// Disc is every pixel below 255 (cup included), as the official code.
	Disc Structure = iota
	// Cup is every pixel equal to 0.
	Cup
)

// String names the structure.
func (s Structure) String() string {
	if s == Cup {
		return "cup"
	}
	return "disc"
}

// Contains tells whether a mask value belongs to the structure.
func (s Structure) Contains(v uint8) bool {
	if s == Cup {
		return v == data.Cup
	}
	return v < data.Background
}

// VerticalDiameter returns the structure's vertical diameter as the official
// code measures it: the largest number of structure pixels in any single
// image column (all components counted, holes not counted; not the
// bounding-box height).
func VerticalDiameter(m *data.Mask, s Structure) int {
	cols := make([]int32, m.W)
	for y := 0; y < m.H; y++ {
		row := m.Pix[y*m.W : (y+1)*m.W]
		for x, v := range row {
			if s.Contains(v) {
				cols[x]++
			}
		}
	}
	best := int32(0)
	for _, c := range cols {
		best = max(best, c)
	}
	return int(best)
}

// VCDR returns the vertical cup-to-disc ratio of a mask:
// cup diameter / (disc diameter + 1e-7).
func VCDR(m *data.Mask) float64 {
	return float64(VerticalDiameter(m, Cup)) / (float64(VerticalDiameter(m, Disc)) + VCDREps)
}

// SegResult holds the per-image segmentation metrics.
//
// Empty-structure policy (field case C07): Dice = 2|A∩B|/(|A|+|B|) is
// undefined when both the ground truth and the prediction are empty
// (0/0). Such a value is marked undefined (CupUndefined / DiscUndefined, the
// Dice field then holds 0 and must not be used), is excluded from the mean
// over images, and the number of excluded images is reported. It is never
// 2.0, NaN, or a silent 1. An empty ground truth with a non-empty prediction
// (or the reverse) gives Dice 0.
type SegResult struct {
	DiceDisc, DiceCup float64
	// VCDRGT and VCDRPred are the vertical cup-to-disc ratios; AbsErr = |VCDRGT - VCDRPred|.
	VCDRGT, VCDRPred, AbsErr float64
	// CupUndefined / DiscUndefined: both masks hold no such pixels (Dice 0/0).
	CupUndefined, DiscUndefined bool
	// Diameters and areas, in pixels, for the record.
	DiscDiamGT, CupDiamGT, DiscDiamPred, CupDiamPred int
	DiscAreaGT, CupAreaGT, DiscAreaPred, CupAreaPred int
}

// allBackground is eight background bytes read as one little-endian word.
const allBackground = 0xFFFF_FFFF_FFFF_FFFF

// lutDisc and lutCup map a mask value to 1 when it is disc / cup.
var lutDisc, lutCup [256]uint32

func init() {
	for v := 0; v < 256; v++ {
		if Disc.Contains(uint8(v)) {
			lutDisc[v] = 1
		}
		if Cup.Contains(uint8(v)) {
			lutCup[v] = 1
		}
	}
}

// SegImage compares a predicted mask with the ground truth by the official
// rules: disc = pixels < 255 (cup included), cup = pixels == 0, Dice per
// image, vertical diameters as the largest per-column count, vCDR = cup /
// (disc + 1e-7), absolute vCDR error. Any mask value is accepted (the
// official leniency; the strict scorer checks values separately). Masks of
// different sizes are an error.
func SegImage(gt, pred *data.Mask) (SegResult, error) {
	if gt == nil || pred == nil {
		return SegResult{}, errors.New("segmentation: nil mask")
	}
	if gt.W != pred.W || gt.H != pred.H {
		return SegResult{}, fmt.Errorf("segmentation: prediction is %dx%d, ground truth is %dx%d", pred.W, pred.H, gt.W, gt.H)
	}
	if len(gt.Pix) != gt.W*gt.H || len(pred.Pix) != pred.W*pred.H {
		return SegResult{}, fmt.Errorf("segmentation: mask buffer length does not match its %dx%d size", gt.W, gt.H)
	}
	w := gt.W
	// Per-column counts for the four structures; areas are their sums.
	cgd := make([]uint32, w)
	cgc := make([]uint32, w)
	cpd := make([]uint32, w)
	cpc := make([]uint32, w)
	var interD, interC uint64
	for y := 0; y < gt.H; y++ {
		g := gt.Pix[y*w : (y+1)*w]
		p := pred.Pix[y*w : (y+1)*w]
		var iD, iC uint32
		// Background fast path: REFUGE masks are mostly 255 in both, so
		// whole 8-byte words where both masks are background are skipped.
		for x := 0; x < w; x += 8 {
			end := min(x+8, w)
			if end-x == 8 && binary.LittleEndian.Uint64(g[x:]) == allBackground && binary.LittleEndian.Uint64(p[x:]) == allBackground {
				continue
			}
			for k := x; k < end; k++ {
				a, b := lutDisc[g[k]], lutCup[g[k]]
				c, d := lutDisc[p[k]], lutCup[p[k]]
				cgd[k] += a
				cgc[k] += b
				cpd[k] += c
				cpc[k] += d
				iD += a & c
				iC += b & d
			}
		}
		interD += uint64(iD)
		interC += uint64(iC)
	}
	colSum := func(c []uint32) uint64 {
		s := uint64(0)
		for _, v := range c {
			s += uint64(v)
		}
		return s
	}
	aGD, aGC, aPD, aPC := colSum(cgd), colSum(cgc), colSum(cpd), colSum(cpc)
	colMax := func(c []uint32) int {
		m := uint32(0)
		for _, v := range c {
			m = max(m, v)
		}
		return int(m)
	}
	r := SegResult{
		DiscDiamGT: colMax(cgd), CupDiamGT: colMax(cgc), DiscDiamPred: colMax(cpd), CupDiamPred: colMax(cpc),
		DiscAreaGT: int(aGD), CupAreaGT: int(aGC), DiscAreaPred: int(aPD), CupAreaPred: int(aPC),
	}
	r.DiceDisc, r.DiscUndefined = dice(interD, aGD, aPD)
	r.DiceCup, r.CupUndefined = dice(interC, aGC, aPC)
	r.VCDRGT = float64(r.CupDiamGT) / (float64(r.DiscDiamGT) + VCDREps)
	r.VCDRPred = float64(r.CupDiamPred) / (float64(r.DiscDiamPred) + VCDREps)
	r.AbsErr = math.Abs(r.VCDRGT - r.VCDRPred)
	return r, nil
}

// dice returns 2|A∩B|/(|A|+|B|), or (0, true) when both are empty.
func dice(inter, a, b uint64) (float64, bool) {
	if a+b == 0 {
		return 0, true
	}
	return 2 * float64(inter) / float64(a+b), false
}

// Mean returns the arithmetic mean, summed in index order (deterministic).
// It returns NaN for an empty slice; callers report n alongside.
func Mean(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// SD returns the sample standard deviation (n-1 denominator, numpy
// std(ddof=1)); 0 for fewer than two values.
func SD(v []float64) float64 {
	if len(v) < 2 {
		return 0
	}
	m := Mean(v)
	s := 0.0
	for _, x := range v {
		s += (x - m) * (x - m)
	}
	return math.Sqrt(s / float64(len(v)-1))
}

// Percentile returns the q-th percentile (0..100) of v with linear
// interpolation between order statistics (numpy's default "linear" method).
func Percentile(v []float64, q float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	pos := q / 100 * float64(len(s)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(s)-1)
	frac := pos - float64(lo)
	return s[lo] + frac*(s[hi]-s[lo])
}

// BootstrapCI returns a percentile bootstrap 95 % confidence interval of a
// statistic: B resamples of n indices drawn with replacement from a stream
// seeded by seed (data.NewRand), the statistic evaluated on each resample,
// then the 2.5th and 97.5th percentiles (linear interpolation). stat may
// reject a resample (ok false, e.g. AUC on a single-class resample); rejected
// resamples are redrawn from the same stream, up to 10·B attempts.
func BootstrapCI(n, b int, seed uint64, stat func(idx []int) (float64, bool)) ([2]float64, error) {
	if n <= 0 {
		return [2]float64{}, errors.New("bootstrap: no values")
	}
	if b <= 0 {
		return [2]float64{}, fmt.Errorf("bootstrap: %d resamples, expected > 0", b)
	}
	rng := data.NewRand(seed)
	idx := make([]int, n)
	vals := make([]float64, 0, b)
	for attempt := 0; len(vals) < b; attempt++ {
		if attempt >= 10*b {
			return [2]float64{}, fmt.Errorf("bootstrap: only %d of %d resamples were valid after %d draws", len(vals), b, attempt)
		}
		for i := range idx {
			idx[i] = rng.IntN(n)
		}
		if v, ok := stat(idx); ok {
			vals = append(vals, v)
		}
	}
	return [2]float64{Percentile(vals, 2.5), Percentile(vals, 97.5)}, nil
}

// MeanCI is BootstrapCI of the mean of v.
func MeanCI(v []float64, b int, seed uint64) ([2]float64, error) {
	return BootstrapCI(len(v), b, seed, func(idx []int) (float64, bool) {
		s := 0.0
		for _, i := range idx {
			s += v[i]
		}
		return s / float64(len(idx)), true
	})
}

// AUCCI is BootstrapCI of the AUC; resamples holding a single class are
// redrawn.
func AUCCI(scores []float64, labels []int, b int, seed uint64) ([2]float64, error) {
	if _, _, err := checkBinary(scores, labels); err != nil {
		return [2]float64{}, fmt.Errorf("AUC bootstrap: %w", err)
	}
	s := make([]float64, len(scores))
	l := make([]int, len(labels))
	return BootstrapCI(len(scores), b, seed, func(idx []int) (float64, bool) {
		for k, i := range idx {
			s[k], l[k] = scores[i], labels[i]
		}
		a, err := AUC(s, l)
		return a, err == nil
	})
}
