package eval

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/refugelab/refugelab/data"
)

// reference is testdata/reference.json, produced by
// testdata/make_reference.py with NumPy 1.24 and scikit-learn 1.2 (Debian
// bookworm packages): an implementation independent of this package.
type reference struct {
	Generator      string `json:"generator"`
	Classification []struct {
		Scores []float64 `json:"scores"`
		Labels []int     `json:"labels"`
		AUC    float64   `json:"auc"`
		Specs  []float64 `json:"specs"`
		Sens   []float64 `json:"sens"`
	} `json:"classification"`
	Segmentation []struct {
		W, H     int
		GT       string   `json:"gt"`
		Pred     string   `json:"pred"`
		DiceDisc *float64 `json:"dice_disc"`
		DiceCup  *float64 `json:"dice_cup"`
		VCDRGT   float64  `json:"vcdr_gt"`
		VCDRPred float64  `json:"vcdr_pred"`
		AbsErr   float64  `json:"abs_err"`
		Diam     [4]int   `json:"diam"`
	} `json:"segmentation"`
	Stats []struct {
		Values      []float64 `json:"values"`
		Mean, SD    float64
		Q           []float64 `json:"q"`
		Percentiles []float64 `json:"percentiles"`
	} `json:"stats"`
	Fovea struct {
		GT, Pred  [][2]float64
		Distances []float64
		Mean      float64
	} `json:"fovea"`
	Postprocess []struct {
		W, H, Radius                                     int
		Mask, Largest8, Largest4, Filled, Opened, Closed string
	} `json:"postprocess"`
	Ellipse []struct {
		X, Y   []float64
		Conic  [6]float64
		Center [2]float64
	} `json:"ellipse"`
}

func loadReference(t *testing.T) *reference {
	t.Helper()
	b, err := os.ReadFile("testdata/reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var r reference
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

const refTol = 1e-9

func TestReferenceClassification(t *testing.T) {
	r := loadReference(t)
	if len(r.Classification) < 20 {
		t.Fatalf("only %d classification cases", len(r.Classification))
	}
	exact := 0
	for i, c := range r.Classification {
		auc, err := AUC(c.Scores, c.Labels)
		if err != nil {
			t.Fatal(err)
		}
		if !near(auc, c.AUC, refTol) {
			t.Errorf("case %d: AUC %.15f, sklearn %.15f", i, auc, c.AUC)
		}
		for k, s := range c.Specs {
			got, err := SensAtSpec(c.Scores, c.Labels, s)
			if err != nil {
				t.Fatal(err)
			}
			if !near(got, c.Sens[k], refTol) {
				t.Errorf("case %d: sens@%v %.15f, reference %.15f", i, s, got, c.Sens[k])
			}
		}
		// A vertical step at 0.85 keeps two vertices there after dropping
		// collinear ones.
		roc, _ := ROC(c.Scores, c.Labels)
		at := 0
		for _, p := range roc {
			if p.Specificity == 0.85 {
				at++
			}
		}
		if at >= 2 {
			exact++
		}
	}
	if exact == 0 {
		t.Fatal("no case has a vertical ROC step at specificity 0.85")
	}
	t.Logf("%d cases (%d with a vertical step at specificity 0.85) match %s", len(r.Classification), exact, r.Generator)
}

func TestReferenceSegmentation(t *testing.T) {
	r := loadReference(t)
	undefined := 0
	for i, c := range r.Segmentation {
		gb, _ := base64.StdEncoding.DecodeString(c.GT)
		pb, _ := base64.StdEncoding.DecodeString(c.Pred)
		gt := &data.Mask{W: c.W, H: c.H, Pix: gb}
		pred := &data.Mask{W: c.W, H: c.H, Pix: pb}
		res, err := SegImage(gt, pred)
		if err != nil {
			t.Fatal(err)
		}
		check := func(name string, got float64, undef bool, want *float64) {
			if want == nil {
				if !undef {
					t.Errorf("case %d: %s = %v, reference says undefined (0/0)", i, name, got)
				}
				undefined++
				return
			}
			if undef || !near(got, *want, refTol) {
				t.Errorf("case %d: %s = %v (undefined %v), numpy %v", i, name, got, undef, *want)
			}
		}
		check("disc Dice", res.DiceDisc, res.DiscUndefined, c.DiceDisc)
		check("cup Dice", res.DiceCup, res.CupUndefined, c.DiceCup)
		if !near(res.VCDRGT, c.VCDRGT, refTol) || !near(res.VCDRPred, c.VCDRPred, refTol) || !near(res.AbsErr, c.AbsErr, refTol) {
			t.Errorf("case %d: vCDR %v %v %v, numpy %v %v %v", i, res.VCDRGT, res.VCDRPred, res.AbsErr, c.VCDRGT, c.VCDRPred, c.AbsErr)
		}
		if d := [4]int{res.DiscDiamGT, res.CupDiamGT, res.DiscDiamPred, res.CupDiamPred}; d != c.Diam {
			t.Errorf("case %d: diameters %v, numpy %v", i, d, c.Diam)
		}
		if VerticalDiameter(gt, Disc) != c.Diam[0] || VerticalDiameter(pred, Cup) != c.Diam[3] {
			t.Errorf("case %d: VerticalDiameter disagrees with numpy", i)
		}
	}
	if undefined == 0 {
		t.Fatal("no empty-vs-empty case in the fixture")
	}
}

func TestReferenceStatsAndFovea(t *testing.T) {
	r := loadReference(t)
	for i, c := range r.Stats {
		if !near(Mean(c.Values), c.Mean, refTol) || !near(SD(c.Values), c.SD, refTol) {
			t.Errorf("stats %d: mean %v sd %v, numpy %v %v", i, Mean(c.Values), SD(c.Values), c.Mean, c.SD)
		}
		for k, q := range c.Q {
			if got := Percentile(c.Values, q); !near(got, c.Percentiles[k], refTol) {
				t.Errorf("stats %d: percentile %v = %v, numpy %v", i, q, got, c.Percentiles[k])
			}
		}
	}
	gt := &GroundTruth{Fovea: map[string]data.Point{}}
	pred := &Predictions{Fovea: map[string]data.Point{}}
	for i := range r.Fovea.GT {
		name := string(rune('a'+i/26)) + string(rune('a'+i%26))
		gt.Fovea[name] = data.Point{X: r.Fovea.GT[i][0], Y: r.Fovea.GT[i][1]}
		pred.Fovea[name] = data.Point{X: r.Fovea.Pred[i][0], Y: r.Fovea.Pred[i][1]}
	}
	tm, err := Score(pred, gt, ScoreOptions{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	if !near(tm.Fovea.MeanDistance, r.Fovea.Mean, refTol) {
		t.Fatalf("fovea mean %v, numpy %v", tm.Fovea.MeanDistance, r.Fovea.Mean)
	}
	for i, row := range tm.PerImage.Fovea {
		if !near(row.Distance, r.Fovea.Distances[i], refTol) {
			t.Fatalf("fovea %d: %v, numpy %v", i, row.Distance, r.Fovea.Distances[i])
		}
	}
}

// Post-processing against scipy.ndimage (see make_reference.py for the
// border conventions).
func TestReferencePostprocess(t *testing.T) {
	r := loadReference(t)
	if len(r.Postprocess) == 0 {
		t.Fatal("no post-processing cases")
	}
	bin := func(s string) []bool {
		b, _ := base64.StdEncoding.DecodeString(s)
		out := make([]bool, len(b))
		for i, v := range b {
			out[i] = v != 0
		}
		return out
	}
	for i, c := range r.Postprocess {
		m := bin(c.Mask)
		check := func(name string, got []bool, want string) {
			w := bin(want)
			for k := range w {
				if got[k] != w[k] {
					t.Errorf("case %d (%dx%d, r=%d): %s differs from scipy at (%d, %d)", i, c.W, c.H, c.Radius, name, k%c.W, k/c.W)
					return
				}
			}
		}
		for _, conn := range []int{8, 4} {
			g := append([]bool(nil), m...)
			keepLargest(g, c.W, c.H, conn)
			if conn == 8 {
				check("largest 8-connected", g, c.Largest8)
			} else {
				check("largest 4-connected", g, c.Largest4)
			}
		}
		g := append([]bool(nil), m...)
		fillHoles(g, c.W, c.H)
		check("fill holes", g, c.Filled)
		check("opening", dilate(erode(m, c.W, c.H, c.Radius), c.W, c.H, c.Radius), c.Opened)
		check("closing", erode(dilate(m, c.W, c.H, c.Radius), c.W, c.H, c.Radius), c.Closed)
	}
}

// The ellipse fit agrees with a numpy.linalg implementation on noisy points
// (conic normalised to unit norm with a positive x² coefficient).
func TestReferenceEllipse(t *testing.T) {
	r := loadReference(t)
	worst := 0.0
	for i, c := range r.Ellipse {
		pts := make([]data.Point, len(c.X))
		for k := range c.X {
			pts[k] = data.Point{X: c.X[k], Y: c.Y[k]}
		}
		q, ok := FitEllipse(pts)
		if !ok {
			t.Fatalf("case %d: no ellipse", i)
		}
		v := [6]float64{q.A, q.B, q.C, q.D, q.E, q.F}
		n := 0.0
		for _, x := range v {
			n += x * x
		}
		n = math.Sqrt(n)
		for k := range v {
			worst = math.Max(worst, math.Abs(v[k]/n-c.Conic[k]))
			if !near(v[k]/n, c.Conic[k], 1e-7) {
				t.Errorf("case %d: conic %v, numpy %v", i, v, c.Conic)
				break
			}
		}
		if ctr := q.Center(); !near(ctr.X, c.Center[0], 1e-6) || !near(ctr.Y, c.Center[1], 1e-6) {
			t.Errorf("case %d: centre %v, numpy %v", i, ctr, c.Center)
		}
	}
	t.Logf("%d fits, largest coefficient difference %.2g", len(r.Ellipse), worst)
}
