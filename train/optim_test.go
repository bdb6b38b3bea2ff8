package train

import (
	"math"
	"testing"

	"github.com/refugelab/refugelab/nn"
)

func oneParam(decay bool) []*nn.Param {
	return []*nn.Param{{Name: "w", Shape: []int{1}, Data: []float32{1}, Decay: decay}}
}

// Hand-computed steps with w0 = 1, g = 0.5 at every step, lr = 0.1.
func TestOptimizerSteps(t *testing.T) {
	g := [][]float32{{0.5}}
	for _, tc := range []struct {
		name  string
		spec  OptSpec
		decay bool
		want  []float64
	}{
		// v1 = 0.5, w1 = 1 − 0.05 = 0.95; v2 = 0.9·0.5 + 0.5 = 0.95, w2 = 0.95 − 0.095 = 0.855
		{"sgd momentum", OptSpec{Name: "sgd", LR: 0.1, Momentum: 0.9}, true, []float64{0.95, 0.855}},
		// v1 = 0.5, update g + μv1 = 0.95, w1 = 0.905; v2 = 0.95, update 0.5 + 0.855 = 1.355, w2 = 0.7695
		{"sgd nesterov", OptSpec{Name: "sgd", LR: 0.1, Momentum: 0.9, Nesterov: true}, true, []float64{0.905, 0.7695}},
		// g' = 0.5 + 0.1·w: g'1 = 0.6, v1 = 0.6, w1 = 0.94; g'2 = 0.594, v2 = 0.54 + 0.594 = 1.134, w2 = 0.8266
		{"sgd weight decay", OptSpec{Name: "sgd", LR: 0.1, Momentum: 0.9, WeightDecay: 0.1}, true, []float64{0.94, 0.8266}},
		// the same on a bias (Decay false): no decay
		{"sgd no decay on bias", OptSpec{Name: "sgd", LR: 0.1, Momentum: 0.9, WeightDecay: 0.1}, false, []float64{0.95, 0.855}},
		// m̂ = 0.5, v̂ = 0.25 at both steps: each step moves by lr·0.5/(0.5+1e-8)
		{"adam", OptSpec{Name: "adam", LR: 0.1}, true, []float64{1 - 0.1*0.5/(0.5+1e-8), 1 - 0.2*0.5/(0.5+1e-8)}},
		// decoupled: w ← w − lr·wd·w, then the Adam step: 1 − 0.01 − 0.1 = 0.89; 0.89·0.99 − 0.1 = 0.7811
		{"adamw", OptSpec{Name: "adamw", LR: 0.1, WeightDecay: 0.1}, true, []float64{0.99 - 0.1*0.5/(0.5+1e-8), 0.99*(0.99-0.1*0.5/(0.5+1e-8)) - 0.1*0.5/(0.5+1e-8)}},
	} {
		p := oneParam(tc.decay)
		o, err := NewOptimizer(tc.spec, p)
		if err != nil {
			t.Fatal(err)
		}
		for s, want := range tc.want {
			if err := o.Step(p, g, tc.spec.LR); err != nil {
				t.Fatal(err)
			}
			if math.Abs(float64(p[0].Data[0])-want) > 1e-6 {
				t.Errorf("%s step %d: w = %.7f, expected %.7f", tc.name, s+1, p[0].Data[0], want)
			}
		}
		if o.State.Step != 2 {
			t.Errorf("%s: step count %d", tc.name, o.State.Step)
		}
	}
}

// Adam second step with a changing gradient, by hand: g1 = 0.5, g2 = −1,
// lr 0.1: m2 = 0.9·0.05 − 0.1 = −0.055, v2 = 0.999·0.00025 + 0.001 = 0.00124975,
// m̂ = −0.055/0.19, v̂ = 0.00124975/0.001999; w2 = 0.9 − 0.1·m̂/(√v̂ + 1e-8).
func TestAdamHand(t *testing.T) {
	p := oneParam(true)
	o, _ := NewOptimizer(OptSpec{Name: "adam", LR: 0.1}, p)
	o.Step(p, [][]float32{{0.5}}, 0.1)
	o.Step(p, [][]float32{{-1}}, 0.1)
	mh := -0.055 / 0.19
	vh := 0.00124975 / (1 - 0.999*0.999)
	w1 := 1 - 0.1*0.5/(0.5+1e-8)
	want := float64(float32(w1)) - 0.1*mh/(math.Sqrt(vh)+1e-8)
	if math.Abs(float64(p[0].Data[0])-want) > 1e-6 {
		t.Fatalf("w2 = %.7f, expected %.7f", p[0].Data[0], want)
	}
}

func TestClipGradNorm(t *testing.T) {
	g := [][]float32{{3}, {4}}
	n := ClipGradNorm(g, 1)
	if n != 5 || math.Abs(float64(g[0][0])-0.6) > 1e-6 || math.Abs(float64(g[1][0])-0.8) > 1e-6 {
		t.Fatalf("norm %v, clipped %v; expected 5 and (0.6, 0.8)", n, g)
	}
}

func TestSchedules(t *testing.T) {
	// 10 epochs × 10 steps
	for _, tc := range []struct {
		s    SchedSpec
		step int
		want float64
	}{
		{SchedSpec{Name: "constant"}, 55, 1},
		{SchedSpec{Name: "step", StepEpochs: 3, Gamma: 0.5}, 65, 0.25},                  // epoch 6.5 → 2 drops
		{SchedSpec{Name: "cosine"}, 50, 0.5},                                            // half-way
		{SchedSpec{Name: "cosine", MinLR: 0.1}, 0, 1},                                   // start
		{SchedSpec{Name: "poly", Power: 1}, 25, 0.75},                                   // linear decay
		{SchedSpec{Name: "cosine", WarmupEpochs: 2}, 4, 0.25},                           // warm-up: (4+1)/20
		{SchedSpec{Name: "cosine", WarmupEpochs: 2}, 60, (1 + math.Cos(math.Pi/2)) / 2}, // 40 of 80 post-warm-up steps
	} {
		if got := tc.s.LR(1, tc.step, 10, 10); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%+v at step %d: lr %v, expected %v", tc.s, tc.step, got, tc.want)
		}
	}
}
