package train

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/refugelab/refugelab/nn"
)

// Loss and optimizer fixtures from PyTorch 1.13 (Debian python3-torch),
// made by ../nn/testdata/gen_torch.py.

func torchFixtures(t *testing.T) map[string]json.RawMessage {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "nn", "testdata", "torch_fixtures.json"))
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func f32s(v []float64) []float32 {
	o := make([]float32, len(v))
	for i, x := range v {
		o[i] = float32(x)
	}
	return o
}

func TestTorchLosses(t *testing.T) {
	all := torchFixtures(t)
	for _, tc := range []struct {
		key   string
		spec  LossSpec
		shape []int
	}{
		{"bce_pw9", LossSpec{Name: "bce", Params: map[string]any{"pos_weight": 9.0}}, []int{10, 1}},
		{"ce", LossSpec{Name: "ce"}, []int{2, 3, 2, 2}},
		{"mse", LossSpec{Name: "heatmap-mse"}, []int{2, 1, 2, 3}},
	} {
		var f struct {
			Z, Y, Grad []float64
			Loss       float64
		}
		if err := json.Unmarshal(all[tc.key], &f); err != nil {
			t.Fatal(err)
		}
		l, err := BuildLoss(tc.spec)
		if err != nil {
			t.Fatal(err)
		}
		z := f32s(f.Z)
		g := make([]float32, len(z))
		got := l.F(z, tc.shape, f32s(f.Y), ones(len(f.Y)), g)
		if math.Abs(got-f.Loss) > 1e-6*math.Max(1, math.Abs(f.Loss)) {
			t.Errorf("%s: loss %.8f, PyTorch %.8f", tc.key, got, f.Loss)
		}
		for i := range g {
			if math.Abs(float64(g[i])-f.Grad[i]) > 1e-6 {
				t.Errorf("%s: gradient %d = %.8f, PyTorch %.8f", tc.key, i, g[i], f.Grad[i])
				break
			}
		}
	}
}

func TestTorchOptimizers(t *testing.T) {
	all := torchFixtures(t)
	for _, tc := range []struct {
		key  string
		spec OptSpec
	}{
		{"opt_sgd", OptSpec{Name: "sgd", LR: 0.1, Momentum: 0.9, WeightDecay: 0.01}},
		{"opt_nesterov", OptSpec{Name: "sgd", LR: 0.1, Momentum: 0.9, Nesterov: true}},
		{"opt_adam", OptSpec{Name: "adam", LR: 0.01, WeightDecay: 0.01}},
		{"opt_adamw", OptSpec{Name: "adamw", LR: 0.01, WeightDecay: 0.1}},
	} {
		var want []float64
		if err := json.Unmarshal(all[tc.key], &want); err != nil {
			t.Fatal(err)
		}
		w := make([]float32, 5)
		for i := range w {
			w[i] = float32(math.Sin(0.9*float64(i) + 0.3))
		}
		p := []*nn.Param{{Name: "w", Shape: []int{5}, Data: w, Decay: true}}
		o, err := NewOptimizer(tc.spec, p)
		if err != nil {
			t.Fatal(err)
		}
		for s := 0; s < 3; s++ {
			g := make([]float32, 5)
			for i := range g {
				g[i] = float32(math.Cos(0.7*float64(i) + float64(s)))
			}
			if err := o.Step(p, [][]float32{g}, tc.spec.LR); err != nil {
				t.Fatal(err)
			}
		}
		for i := range w {
			if math.Abs(float64(w[i])-want[i]) > 1e-6 {
				t.Errorf("%s: w[%d] after 3 steps %.8f, PyTorch %.8f", tc.key, i, w[i], want[i])
			}
		}
	}
}
