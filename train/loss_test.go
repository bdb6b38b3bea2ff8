package train

import (
	"math"
	"strings"
	"testing"

	"github.com/refugelab/refugelab/data"
)

func ones(n int) []float32 {
	w := make([]float32, n)
	for i := range w {
		w[i] = 1
	}
	return w
}

// TestC17PosWeight: field case C17 (open-mmlab/mmpretrain#434): 1 positive
// and 9 negatives, logits 0, pos_weight 9, mean reduction: loss
// 18·ln2/10 = 1.2477, gradient −0.45 for the positive, +0.05 per negative.
func TestC17PosWeight(t *testing.T) {
	l, err := BuildLoss(LossSpec{Name: "bce", Params: map[string]any{"pos_weight": 9.0}})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float32, 10)
	y := make([]float32, 10)
	y[0] = 1
	g := make([]float32, 10)
	got := l.F(out, []int{10, 1}, y, ones(10), g)
	if want := 18 * math.Ln2 / 10; math.Abs(got-want) > 1e-6 {
		t.Fatalf("loss %.6f, expected 18·ln2/10 = %.6f", got, want)
	}
	if math.Abs(float64(g[0])+0.45) > 1e-6 {
		t.Fatalf("gradient of the positive logit %.6f, expected -0.45", g[0])
	}
	for i := 1; i < 10; i++ {
		if math.Abs(float64(g[i])-0.05) > 1e-6 {
			t.Fatalf("gradient of negative %d: %.6f, expected +0.05", i, g[i])
		}
	}
}

// TestC21Saturated: field case C21 (gorgonia/gorgonia PR#536): float32
// logit 20 with label 0, and −20 with label 1: loss ≈ 20 (a clamp would
// give 13.8, the naive formula NaN), gradients ≈ ±1.
func TestC21Saturated(t *testing.T) {
	l, _ := BuildLoss(LossSpec{Name: "bce"})
	for _, tc := range []struct {
		x, y, grad float32
	}{{20, 0, 1}, {-20, 1, -1}} {
		g := make([]float32, 1)
		got := l.F([]float32{tc.x}, []int{1, 1}, []float32{tc.y}, ones(1), g)
		if math.IsNaN(got) || math.Abs(got-20) > 1e-3 {
			t.Fatalf("logit %v label %v: loss %v, expected 20 ± 1e-3", tc.x, tc.y, got)
		}
		if math.Abs(float64(g[0]-tc.grad)) > 1e-6 {
			t.Fatalf("logit %v label %v: gradient %v, expected %v", tc.x, tc.y, g[0], tc.grad)
		}
	}
}

// TestLossGradients: every loss's gradient against central differences
// of its float64 value, with non-uniform weights; relative error ≤ 1e-4.
func TestLossGradients(t *testing.T) {
	r := data.NewRand(5)
	n, k, h, w := 2, 3, 3, 4
	for _, tc := range []struct {
		spec  LossSpec
		shape []int
		yfn   func(i int) float32
	}{
		{LossSpec{Name: "bce", Params: map[string]any{"pos_weight": 3.0}}, []int{n, 1, h, w}, func(i int) float32 { return float32(i % 2) }},
		{LossSpec{Name: "focal", Params: map[string]any{"gamma": 2.0, "alpha": 0.3}}, []int{n, 1, h, w}, func(i int) float32 { return float32(i % 2) }},
		{LossSpec{Name: "ce", Params: map[string]any{"class_weights": []any{1.0, 2.0, 3.0}}}, []int{n, k, h, w}, func(i int) float32 { return float32(i % 3) }},
		{LossSpec{Name: "dice"}, []int{n, k, h, w}, func(i int) float32 { return float32((i / 2) % 3) }},
		{LossSpec{Name: "dice-ce", Params: map[string]any{"dice_weight": 0.7, "ce_weight": 1.3}}, []int{n, k, h, w}, func(i int) float32 { return float32((i / 3) % 3) }},
		{LossSpec{Name: "heatmap-mse"}, []int{n, 1, h, w}, func(i int) float32 { return float32(i%5) / 4 }},
		{LossSpec{Name: "ce"}, []int{4, 2}, func(i int) float32 { return float32(i % 2) }},
		{LossSpec{Name: "coord-l2", Params: map[string]any{"beta": 2.0}}, []int{n, 1, h, w}, func(i int) float32 { return float32(math.Exp(-float64((i%12-5)*(i%12-5)) / 4)) }},
		{LossSpec{Name: "coord-l1"}, []int{n, 1, h, w}, func(i int) float32 { return float32(math.Exp(-float64((i%12-5)*(i%12-5)) / 4)) }},
		{LossSpec{Name: "multitask", Params: map[string]any{"pos_weight": 3.0, "cls_weight": 0.5}}, []int{n, k*h*w + 1}, func(i int) float32 { return float32((i / 2) % 3 % 2) }},
	} {
		l, err := BuildLoss(tc.spec)
		if err != nil {
			t.Fatal(err)
		}
		total := prod(tc.shape)
		ny := total
		if tc.spec.Name == "ce" || strings.HasPrefix(tc.spec.Name, "dice") {
			ny = tc.shape[0] * prod(tc.shape[2:])
		}
		if tc.spec.Name == "multitask" {
			ny = tc.shape[0] * (h*w + 1)
		}
		if err := l.Check(tc.shape, ny/tc.shape[0]); err != nil {
			t.Fatalf("%s: %v", tc.spec.Name, err)
		}
		out := make([]float32, total)
		for i := range out {
			out[i] = float32(r.NormFloat64() * 2)
		}
		y := make([]float32, ny)
		wt := make([]float32, ny)
		for i := range y {
			y[i] = tc.yfn(i)
			wt[i] = float32(0.5 + r.Float64())
		}
		g := make([]float32, total)
		l.F(out, tc.shape, y, wt, g)
		var worst, gmax float64
		for i := range out {
			o := out[i]
			hh := float32(1e-2)
			out[i] = o + hh
			lp := l.F(out, tc.shape, y, wt, nil)
			up := out[i]
			out[i] = o - hh
			lm := l.F(out, tc.shape, y, wt, nil)
			dn := out[i]
			out[i] = o
			fd := (lp - lm) / float64(up-dn)
			worst = math.Max(worst, math.Abs(fd-float64(g[i])))
			gmax = math.Max(gmax, math.Abs(fd))
		}
		// h = 1e-2 on float32 inputs: the O(h²) truncation of smooth losses
		// stays well below 1e-4 of the largest gradient.
		if worst/gmax > 1e-4 {
			t.Errorf("%s: gradient relative error %.3g > 1e-4", tc.spec.Name, worst/gmax)
		}
		t.Logf("%s: worst gradient error %.3g of max %.3g", tc.spec.Name, worst, gmax)
	}
}

// TestDiceValue: a perfect (very confident) prediction has Dice loss ≈ 0;
// predicting background everywhere has loss ≈ 1 (both structures missed).
func TestDiceValue(t *testing.T) {
	l, _ := BuildLoss(LossSpec{Name: "dice", Params: map[string]any{"smooth": 0.0}})
	y := []float32{0, 1, 2, 2}
	perfect := make([]float32, 12)
	bg := make([]float32, 12)
	for j, c := range y {
		perfect[int(c)*4+j] = 30
		bg[j] = 30
	}
	if v := l.F(perfect, []int{1, 3, 2, 2}, y, ones(4), nil); v > 1e-6 {
		t.Fatalf("perfect prediction: Dice loss %g, expected 0", v)
	}
	if v := l.F(bg, []int{1, 3, 2, 2}, y, ones(4), nil); math.Abs(v-1) > 1e-6 {
		t.Fatalf("all-background prediction: Dice loss %g, expected 1", v)
	}
}

func TestLossErrors(t *testing.T) {
	if _, err := BuildLoss(LossSpec{Name: "bce", Params: map[string]any{"posweight": 9.0}}); err == nil || !strings.Contains(err.Error(), "loss.bce.posweight: unknown parameter (known: pos_weight)") {
		t.Fatalf("unknown param error: %v", err)
	}
	if _, err := BuildLoss(LossSpec{Name: "bce", Params: map[string]any{"pos_weight": "nine"}}); err == nil || !strings.Contains(err.Error(), "loss.bce.pos_weight") {
		t.Fatalf("wrong type error: %v", err)
	}
	if _, err := BuildLoss(LossSpec{Name: "dice_ce"}); err == nil || !strings.Contains(err.Error(), `did you mean "dice-ce"`) {
		t.Fatalf("unknown loss error: %v", err)
	}
	l, _ := BuildLoss(LossSpec{Name: "dice"})
	if err := l.Check([]int{2, 2, 4, 4}, 16); err == nil {
		t.Fatal("Dice on a 2-class output accepted")
	}
}

// TestCoordLoss: a heatmap output peaked (logit 50) at pixel (x=3, y=1) of
// a 5×4 image, with a target Gaussian centred on (1, 2): soft-argmax is
// (3, 1), the target centroid (1, 2) by symmetry of the window; L1 loss =
// |3−1|/5 + |1−2|/4 = 0.65, squared L2 = 0.16 + 0.0625 = 0.2225.
func TestCoordLoss(t *testing.T) {
	out := make([]float32, 20)
	out[1*5+3] = 50
	y := make([]float32, 20)
	for j := range y {
		dx, dy := float64(j%5-1), float64(j/5-2)
		if math.Abs(dx) <= 1 && math.Abs(dy) <= 1 {
			y[j] = float32(math.Exp(-(dx*dx + dy*dy) / 2))
		}
	}
	for _, tc := range []struct {
		name string
		want float64
	}{{"coord-l1", 0.65}, {"coord-l2", 0.2225}} {
		l, _ := BuildLoss(LossSpec{Name: tc.name})
		if v := l.F(out, []int{1, 1, 4, 5}, y, ones(20), nil); math.Abs(v-tc.want) > 1e-9 {
			t.Errorf("%s: %v, expected %v", tc.name, v, tc.want)
		}
	}
}
