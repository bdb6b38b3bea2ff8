package main

import (
	"testing"

	"github.com/refugelab/refugelab/nn"
)

// TestTrainFLOPsSmallCNN checks the analytic FLOP and parameter count of a
// 2-stage cnn (base 2, batch norm) on a 3×8×8 input with one logit against
// a hand computation:
//
//	stage0.0: 3→2, 3×3, 8×8: 2·3·9·64 = 3456 MACs; params 54+2 (+4 norm) = 60
//	stage0.1: 2→2, 3×3, 8×8: 2·2·9·64 = 2304 MACs; params 36+2+4 = 42
//	(2×2 max pool to 4×4)
//	stage1.0: 2→4, 3×3, 4×4: 4·2·9·16 = 1152 MACs; params 72+4+8 = 84
//	stage1.1: 4→4, 3×3, 4×4: 4·4·9·16 = 2304 MACs; params 144+4+8 = 156
//	fc: 4→1: 4 MACs; params 4+1 = 5
//	total 9220 MACs → 3·2·9220 = 55320 training FLOPs; 347 params.
func TestTrainFLOPsSmallCNN(t *testing.T) {
	spec := nn.NetSpec{Arch: "cnn", Base: 2, Depth: 2, Norm: "batch"}
	ls, err := analyticLayers(spec, 3, 8, 1)
	if err != nil {
		t.Fatal(err)
	}
	f, p := trainFLOPs(ls)
	if f != 55320 || p != 347 {
		t.Fatalf("cnn base 2 depth 2 on 8x8: %d FLOPs, %d params; want 55320, 347 (hand-computed)", f, p)
	}
}

// TestAnalyticParamsMatchEngine checks that the analytic layer lists
// describe the networks package nn actually builds: their parameter counts
// equal Model.TotalParams (small sizes, so the test is fast).
func TestAnalyticParamsMatchEngine(t *testing.T) {
	for _, c := range []struct {
		spec       nn.NetSpec
		size, outC int
	}{
		{nn.NetSpec{Arch: "unet", Base: 4, Depth: 3, Norm: "batch"}, 16, 3},
		{nn.NetSpec{Arch: "unet", Base: 16, Depth: 4, Norm: "batch"}, 16, 3},
		{nn.NetSpec{Arch: "cnn", Base: 4, Depth: 3, Norm: "batch"}, 16, 1},
		{nn.NetSpec{Arch: "cnn", Base: 16, Depth: 5, Norm: "batch"}, 16, 1},
	} {
		m, err := nn.New(c.spec, nn.Shape{C: 3, H: c.size, W: c.size}, c.outC, 1, 1)
		if err != nil {
			t.Fatal(err)
		}
		ls, err := analyticLayers(c.spec, 3, c.size, c.outC)
		if err != nil {
			t.Fatal(err)
		}
		if _, p := trainFLOPs(ls); p != m.TotalParams() {
			t.Errorf("%+v: analytic %d params, engine %d", c.spec, p, m.TotalParams())
		}
	}
}

// TestMedianFastest checks the step statistics on small hand-made lists.
func TestMedianFastest(t *testing.T) {
	for _, c := range []struct {
		ms            []float64
		median, least float64
	}{{[]float64{3, 1, 2}, 2, 1}, {[]float64{4, 1, 3, 2}, 2.5, 1}, {[]float64{7}, 7, 7}} {
		r := result{Ms: c.ms}
		if got := r.median(); got != c.median {
			t.Errorf("median(%v) = %v, want %v", c.ms, got, c.median)
		}
		if got := r.fastest(); got != c.least {
			t.Errorf("fastest(%v) = %v, want %v", c.ms, got, c.least)
		}
	}
}

// TestMergeRounds checks that rounds pool their steps, keep the largest
// peak RSS and keep a failure.
func TestMergeRounds(t *testing.T) {
	res := merge(nil, 0, result{Ms: []float64{5, 6}, MaxRSSKiB: 100})
	res = merge(res, 1, result{Ms: []float64{9}, MaxRSSKiB: 50})
	res = merge(res, 0, result{Ms: []float64{4}, MaxRSSKiB: 80})
	res = merge(res, 1, result{Err: "boom"})
	if len(res) != 2 || len(res[0].Ms) != 3 || res[0].median() != 5 || res[0].MaxRSSKiB != 100 {
		t.Fatalf("merged refugelab rounds: %+v", res)
	}
	if res[1].Err != "boom" {
		t.Fatalf("a failed round must fail the engine: %+v", res[1])
	}
}
