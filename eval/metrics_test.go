package eval

import (
	"errors"
	"math"
	"testing"

	"github.com/refugelab/refugelab/data"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

// maskFromRows builds a mask from rows of REFUGE codes.
func maskFromRows(rows [][]uint8) *data.Mask {
	h, w := len(rows), len(rows[0])
	m := &data.Mask{W: w, H: h, Pix: make([]uint8, w*h)}
	for y, r := range rows {
		copy(m.Pix[y*w:], r)
	}
	return m
}

func TestAUCTies(t *testing.T) {
	// Hand count: P=2, N=3. 0.9 (pos) beats all 3 negatives; 0.8 (pos)
	// beats 0.7 and 0.5 and ties 0.8 (half): 3 + 2 + 0.5 = 5.5 of 6 pairs.
	got, err := AUC([]float64{0.9, 0.8, 0.8, 0.7, 0.5}, []int{1, 1, 0, 0, 0})
	if err != nil {
		t.Fatal(err)
	}
	if got != 5.5/6 {
		t.Fatalf("AUC = %v, want 5.5/6 = %v", got, 5.5/6)
	}
	// All scores tied: every pair is a tie, AUC 0.5 exactly.
	got, err = AUC([]float64{3, 3, 3, 3}, []int{1, 0, 0, 1})
	if err != nil || got != 0.5 {
		t.Fatalf("all tied: AUC = %v, %v; want 0.5", got, err)
	}
	// Perfect and inverted rankings.
	if a, _ := AUC([]float64{1, 2, 3}, []int{0, 1, 1}); a != 1 {
		t.Fatalf("perfect ranking AUC = %v", a)
	}
	if a, _ := AUC([]float64{3, 2, 1}, []int{0, 1, 1}); a != 0 {
		t.Fatalf("inverted ranking AUC = %v", a)
	}
}

func TestAUCSingleClassIsError(t *testing.T) {
	_, err := AUC([]float64{0.1, 0.7}, []int{0, 0})
	if !errors.Is(err, ErrSingleClass) {
		t.Fatalf("single-class AUC error = %v, want ErrSingleClass", err)
	}
	if _, err := SensAtSpec([]float64{0.1, 0.7}, []int{1, 1}, 0.85); !errors.Is(err, ErrSingleClass) {
		t.Fatalf("single-class sens@spec error = %v", err)
	}
	if _, err := AUC([]float64{0.1, 0.7}, []int{0, 2}); err == nil {
		t.Fatal("label 2 accepted")
	}
	if _, err := AUC([]float64{0.1, math.NaN()}, []int{0, 1}); err == nil {
		t.Fatal("NaN score accepted")
	}
}

// verticalStepCase: 4 glaucoma, 20 normal, in descending score order
// 1,0,0,0,1,1,0×16,1,0. ROC vertices (FP,TP): (0,0) (0,1) (3,1) (3,3) (19,3)
// (19,4) (20,4) after dropping collinear ones. Specificity 0.85 = 17/20 is
// exactly FP = 3, where the curve rises vertically from TP 1 to TP 3.
func verticalStepCase() ([]float64, []int) {
	labels := []int{1, 0, 0, 0, 1, 1}
	for i := 0; i < 16; i++ {
		labels = append(labels, 0)
	}
	labels = append(labels, 1, 0)
	scores := make([]float64, len(labels))
	for i := range scores {
		scores[i] = float64(len(labels) - i)
	}
	return scores, labels
}

func TestSensAtSpecVerticalStep(t *testing.T) {
	s, l := verticalStepCase()
	roc, err := ROC(s, l)
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]int{{0, 0}, {0, 1}, {3, 1}, {3, 3}, {19, 3}, {19, 4}, {20, 4}}
	if len(roc) != len(want) {
		t.Fatalf("ROC has %d vertices %v, want %v", len(roc), roc, want)
	}
	for i, p := range roc {
		if p.FP != want[i][0] || p.TP != want[i][1] {
			t.Fatalf("vertex %d = (%d,%d), want %v", i, p.FP, p.TP, want[i])
		}
	}
	got, err := SensAtSpec(s, l, 0.85)
	if err != nil {
		t.Fatal(err)
	}
	if got != 0.25 { // lowest sensitivity on the step: TP 1 of 4
		t.Fatalf("sens@0.85 = %v, want 0.25 (lowest on the vertical step; 0.75 is the top)", got)
	}
	// Between vertices on a horizontal run: spec 0.9 (FP 2) -> 0.25.
	if got, _ := SensAtSpec(s, l, 0.9); got != 0.25 {
		t.Fatalf("sens@0.9 = %v, want 0.25", got)
	}
	// On the run (3,3)-(19,3): spec 0.5 -> 0.75.
	if got, _ := SensAtSpec(s, l, 0.5); got != 0.75 {
		t.Fatalf("sens@0.5 = %v, want 0.75", got)
	}
}

func TestSensAtSpecInterpolatesDiagonal(t *testing.T) {
	// P=2, N=4: 0.9 pos, a tie at 0.5 of one pos and two neg, then two neg.
	// Vertices (FP,TP): (0,0) (0,1) (2,2) (4,2). Spec 0.85 is FP 0.6, on the
	// segment from (spec 1, sens 0.5) to (spec 0.5, sens 1):
	// t = 0.15/0.5 = 0.3, sens = 0.5 + 0.3*0.5 = 0.65.
	got, err := SensAtSpec([]float64{0.9, 0.5, 0.5, 0.5, 0.1, 0.05}, []int{1, 1, 0, 0, 0, 0}, 0.85)
	if err != nil {
		t.Fatal(err)
	}
	if !near(got, 0.65, 1e-12) {
		t.Fatalf("sens@0.85 = %v, want 0.65", got)
	}
	if _, err := SensAtSpec([]float64{1, 0}, []int{1, 0}, 1.2); err == nil {
		t.Fatal("specificity 1.2 accepted")
	}
}

// C06: disc means the whole disc, cup included.
func TestC06DiscIncludesCup(t *testing.T) {
	gt := maskFromRows([][]uint8{
		{255, 255, 255, 255, 255},
		{255, 128, 128, 128, 255},
		{255, 0, 0, 0, 255},
		{255, 128, 128, 128, 255},
		{255, 255, 255, 255, 255},
	})
	pred := maskFromRows([][]uint8{
		{255, 255, 255, 255, 255},
		{255, 128, 128, 128, 255},
		{255, 128, 128, 128, 255},
		{255, 128, 128, 128, 255},
		{255, 255, 255, 255, 255},
	})
	r, err := SegImage(gt, pred)
	if err != nil {
		t.Fatal(err)
	}
	if r.DiceDisc != 1.0 || r.DiceCup != 0.0 || r.CupUndefined {
		t.Fatalf("C06: disc Dice %v cup Dice %v (undefined %v), want 1.0 and 0.0", r.DiceDisc, r.DiceCup, r.CupUndefined)
	}
	if r.DiceDisc == 0.8 {
		t.Fatal("C06: rim-only disc Dice 0.8 reported as disc Dice")
	}
	// GT vCDR = 1/(3+1e-7), predicted 0: error 0.3333.
	if !near(r.VCDRGT, 1/(3+1e-7), 1e-15) || r.VCDRPred != 0 || !near(r.AbsErr, 0.3333, 5e-5) {
		t.Fatalf("C06: vCDR gt %v pred %v err %v, want 1/3, 0, 0.3333", r.VCDRGT, r.VCDRPred, r.AbsErr)
	}
}

// C07: empty masks never give Dice 2.0, NaN or a silent value.
func TestC07EmptyCup(t *testing.T) {
	noCup := maskFromRows([][]uint8{
		{255, 128, 255},
		{128, 128, 128},
		{255, 128, 255},
	})
	// (a) GT and prediction both without cup: undefined, documented.
	r, err := SegImage(noCup, noCup)
	if err != nil {
		t.Fatal(err)
	}
	if !r.CupUndefined || r.DiceCup != 0 || math.IsNaN(r.DiceCup) || r.DiceCup > 1 {
		t.Fatalf("C07a: cup Dice %v undefined %v, want undefined (value 0, excluded)", r.DiceCup, r.CupUndefined)
	}
	if r.DiceDisc != 1 || r.DiscUndefined {
		t.Fatalf("C07a: disc Dice %v", r.DiceDisc)
	}
	// (b) GT without cup, prediction with one cup pixel: 0.
	one := noCup.Clone()
	one.Pix[4] = 0
	r, err = SegImage(noCup, one)
	if err != nil {
		t.Fatal(err)
	}
	if r.CupUndefined || r.DiceCup != 0 {
		t.Fatalf("C07b: cup Dice %v undefined %v, want 0", r.DiceCup, r.CupUndefined)
	}
	// Mean over images, not of batch means: [1, 1, 0.4] -> 0.8 (not 0.7).
	if m := Mean([]float64{1, 1, 0.4}); !near(m, 0.8, 1e-15) {
		t.Fatalf("per-image mean = %v, want 0.8", m)
	}
}

func TestVerticalDiameterBlobsAndHoles(t *testing.T) {
	// Column 1 holds cup at rows 0-1 and 4-6 (two blobs): diameter 5, not
	// the bounding-box height 7 nor the largest blob 3. Column 0 holds disc
	// rows 0-6 with a hole (255) at rows 2-3: disc count 5 there; column 1's
	// disc count is 7 (rows 2-3 are rim 128, still disc).
	m := maskFromRows([][]uint8{
		{128, 0},
		{128, 0},
		{255, 128},
		{255, 128},
		{128, 0},
		{128, 0},
		{128, 0},
	})
	if d := VerticalDiameter(m, Cup); d != 5 {
		t.Fatalf("cup diameter %d, want 5", d)
	}
	if d := VerticalDiameter(m, Disc); d != 7 {
		t.Fatalf("disc diameter %d, want 7", d)
	}
	if v := VCDR(m); !near(v, 5/(7+1e-7), 1e-15) {
		t.Fatalf("vCDR %v", v)
	}
	// The hole: only column 0 as its own mask.
	c0 := maskFromRows([][]uint8{{128}, {128}, {255}, {255}, {128}, {128}, {128}})
	if d := VerticalDiameter(c0, Disc); d != 5 {
		t.Fatalf("disc diameter with hole %d, want 5", d)
	}
}

func TestSegImageHandWorked(t *testing.T) {
	// GT disc 4 px (one cup), prediction disc 6 px, 3 overlapping:
	// disc Dice 2*3/(4+6) = 0.6; cup: GT 1 px, pred 2 px, overlap 1: 2/3.
	gt := maskFromRows([][]uint8{
		{128, 0, 255},
		{128, 128, 255},
		{255, 255, 255},
	})
	pred := maskFromRows([][]uint8{
		{255, 0, 0},
		{128, 128, 128},
		{255, 128, 255},
	})
	r, err := SegImage(gt, pred)
	if err != nil {
		t.Fatal(err)
	}
	if !near(r.DiceDisc, 0.6, 1e-15) || !near(r.DiceCup, 2.0/3, 1e-15) {
		t.Fatalf("Dice disc %v cup %v, want 0.6 and 2/3", r.DiceDisc, r.DiceCup)
	}
	// Empty prediction: both Dice 0, predicted vCDR 0, error = GT vCDR.
	empty := data.NewMask(3, 3)
	r, err = SegImage(gt, empty)
	if err != nil {
		t.Fatal(err)
	}
	if r.DiceDisc != 0 || r.DiceCup != 0 || r.CupUndefined || r.VCDRPred != 0 || r.AbsErr != r.VCDRGT {
		t.Fatalf("empty prediction: %+v", r)
	}
	if !near(r.VCDRGT, 1/(2+1e-7), 1e-15) {
		t.Fatalf("GT vCDR %v, want 1/2", r.VCDRGT)
	}
	// Lenient values (official): 7 counts as disc, 1 does not count as cup.
	odd := maskFromRows([][]uint8{{7, 1, 255}, {255, 255, 255}, {255, 255, 255}})
	r, _ = SegImage(gt, odd)
	if r.DiscAreaPred != 2 || r.CupAreaPred != 0 {
		t.Fatalf("lenient values: disc %d cup %d, want 2 and 0", r.DiscAreaPred, r.CupAreaPred)
	}
	if _, err := SegImage(gt, data.NewMask(4, 3)); err == nil {
		t.Fatal("size mismatch accepted")
	}
}

func TestStatsAndBootstrap(t *testing.T) {
	v := []float64{1, 2, 3, 4}
	if Mean(v) != 2.5 || !near(SD(v), math.Sqrt(5.0/3), 1e-15) {
		t.Fatalf("mean %v sd %v", Mean(v), SD(v))
	}
	// numpy.percentile([1,2,3,4], 25) = 1.75, 97.5 -> 3.925.
	if Percentile(v, 25) != 1.75 || !near(Percentile(v, 97.5), 3.925, 1e-12) {
		t.Fatalf("percentiles %v %v", Percentile(v, 25), Percentile(v, 97.5))
	}
	vals := []float64{0.2, 0.9, 0.4, 0.7, 0.5, 0.6, 0.1, 0.8}
	a, err := MeanCI(vals, 500, data.Seed(7, "bootstrap"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := MeanCI(vals, 500, data.Seed(7, "bootstrap"))
	c, _ := MeanCI(vals, 500, data.Seed(8, "bootstrap"))
	if a != b {
		t.Fatalf("same seed, different CI: %v %v", a, b)
	}
	if a == c {
		t.Fatalf("different seeds gave the same CI %v", a)
	}
	m := Mean(vals)
	if !(a[0] < m && m < a[1]) || a[0] < 0.1 || a[1] > 0.9 {
		t.Fatalf("CI %v does not bracket the mean %v sensibly", a, m)
	}
	if ci, _ := MeanCI([]float64{0.3, 0.3, 0.3}, 50, 1); ci != [2]float64{0.3, 0.3} {
		t.Fatalf("constant CI %v", ci)
	}
	s, l := verticalStepCase()
	ci, err := AUCCI(s, l, 200, 3)
	if err != nil {
		t.Fatal(err)
	}
	auc, _ := AUC(s, l)
	if !(ci[0] <= auc && auc <= ci[1]) {
		t.Fatalf("AUC CI %v does not contain %v", ci, auc)
	}
}
