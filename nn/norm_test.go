package nn

import (
	"math"
	"testing"

	"gorgonia.org/tensor"
)

// naiveNormAct is the float64 reference of a normalisation followed by an
// activation: statistics over the given index groups (biased variance,
// eps 1e-5 inside the square root), per-channel scale and shift, then
// ReLU (slope 0), leaky ReLU (slope > 0) or nothing (slope < 0).
func naiveNormAct(x, sc, sh []float64, n, c, hw int, group func(i, ch int) int, slope float64) []float64 {
	sum, sq, cnt := map[int]float64{}, map[int]float64{}, map[int]float64{}
	for i := 0; i < n; i++ {
		for ch := 0; ch < c; ch++ {
			for j := 0; j < hw; j++ {
				g := group(i, ch)
				sum[g] += x[(i*c+ch)*hw+j]
				cnt[g]++
			}
		}
	}
	for i := 0; i < n; i++ {
		for ch := 0; ch < c; ch++ {
			for j := 0; j < hw; j++ {
				g := group(i, ch)
				d := x[(i*c+ch)*hw+j] - sum[g]/cnt[g]
				sq[g] += d * d
			}
		}
	}
	out := make([]float64, len(x))
	for i := 0; i < n; i++ {
		for ch := 0; ch < c; ch++ {
			g := group(i, ch)
			m, sd := sum[g]/cnt[g], math.Sqrt(sq[g]/cnt[g]+1e-5)
			for j := 0; j < hw; j++ {
				k := (i*c+ch)*hw + j
				y := (x[k]-m)/sd*sc[ch] + sh[ch]
				if slope >= 0 && y < 0 {
					y *= slope
				}
				out[k] = y
			}
		}
	}
	return out
}

// TestNormFusedActivation: BatchNorm (training) and GroupNorm with ReLU,
// leaky ReLU (slope 0.2) and no activation fused, forward and all three
// gradients (finite differences of the float64 reference, checkKern),
// on planes of 37 pixels (odd, so the unrolled sums have tails).
func TestNormFusedActivation(t *testing.T) {
	n, c, h, w := 3, 6, 1, 37
	hw := h * w
	x := randVals(n*c*hw, 21, 2)
	sc := randVals(c, 22, 1)
	sh := randVals(c, 23, 1)
	shapes := []tensor.Shape{{n, c, h, w}, {1, c, 1, 1}, {1, c, 1, 1}}
	for _, a := range []struct {
		name  string
		act   normAct
		slope float64
	}{{"none", normAct{}, -1}, {"relu", normAct{on: true}, 0}, {"leaky", normAct{on: true, slope: 0.2}, float64(float32(0.2))}} {
		rm, rv := make([]float32, c), make([]float32, c)
		bn := &batchNormKern{eps: 1e-5, momentum: 0.1, train: true, act: a.act, rm: rm, rv: rv}
		checkKern(t, "batchnorm+"+a.name, bn, shapes, [][]float32{x, sc, sh}, func(in [][]float64) []float64 {
			return naiveNormAct(in[0], in[1], in[2], n, c, hw, func(_, ch int) int { return ch }, a.slope)
		})
		gn := &groupNormKern{groups: 3, eps: 1e-5, act: a.act}
		checkKern(t, "groupnorm+"+a.name, gn, shapes, [][]float32{x, sc, sh}, func(in [][]float64) []float64 {
			return naiveNormAct(in[0], in[1], in[2], n, c, hw, func(i, ch int) int { return i*3 + ch/2 }, a.slope)
		})
	}
}

// TestNormGradCache: the reductions shared by the three gradient ops are
// recomputed after a new forward pass and for a different output gradient
// (a stale cache would return the first gradient's values).
func TestNormGradCache(t *testing.T) {
	n, c, h, w := 2, 4, 3, 5
	x := randVals(n*c*h*w, 31, 1)
	sc, sh := randVals(c, 32, 1), randVals(c, 33, 1)
	shapes := []tensor.Shape{{n, c, h, w}, {1, c, 1, 1}, {1, c, 1, 1}}
	for _, k := range []kern{
		&batchNormKern{eps: 1e-5, momentum: 0.1, train: true, act: normAct{on: true}, rm: make([]float32, c), rv: make([]float32, c)},
		&groupNormKern{groups: 2, eps: 1e-5, act: normAct{on: true}},
	} {
		out := make([]float32, len(x))
		k.fwd([][]float32{x, sc, sh}, shapes, out)
		g1, g2 := randVals(len(x), 34, 1), randVals(len(x), 35, 1)
		a, b := make([]float32, c), make([]float32, c)
		k.bwd(1, [][]float32{x, sc, sh}, shapes, out, g1, a)
		k.bwd(1, [][]float32{x, sc, sh}, shapes, out, g2, b)
		// fresh kernel: the reference for g2
		var fresh kern
		switch kk := k.(type) {
		case *batchNormKern:
			fresh = &batchNormKern{eps: 1e-5, momentum: 0.1, train: true, act: kk.act, rm: make([]float32, c), rv: make([]float32, c)}
		case *groupNormKern:
			fresh = &groupNormKern{groups: 2, eps: 1e-5, act: kk.act}
		}
		out2 := make([]float32, len(x))
		fresh.fwd([][]float32{x, sc, sh}, shapes, out2)
		want := make([]float32, c)
		fresh.bwd(1, [][]float32{x, sc, sh}, shapes, out2, g2, want)
		for i := range want {
			if b[i] != want[i] || a[i] == b[i] {
				t.Fatalf("%s: scale gradient for a second output gradient %v, expected %v (first %v)", k.id(), b, want, a)
			}
		}
	}
}

// TestActLoopsAsmMatchGo: the AVX2 element-wise loops agree with the
// portable Go loops (float32 results within 2 ulp-ish relative 1e-6, the
// FMA rounding once instead of twice; float64 sums within 1e-12) for no
// activation, ReLU and leaky ReLU, on a length with a tail, and a NaN
// input stays NaN through the activation (a diverging run must not be
// masked to 0).
func TestActLoopsAsmMatchGo(t *testing.T) {
	if !useAsmAct {
		t.Skip("no AVX2/FMA on this machine: only the Go loops run")
	}
	n := 1003
	x, g := randVals(n, 41, 2), randVals(n, 42, 1)
	x[17] = float32(math.NaN())
	for _, a := range []normAct{{}, {on: true}, {on: true, slope: 0.1}} {
		run := func(asm bool) (o, gin []float32, sg, sgx float64) {
			defer func(old bool) { useAsmAct = old }(useAsmAct)
			useAsmAct = asm
			o, gin = make([]float32, n), make([]float32, n)
			a.apply(x, o, 0.4, 1e-9, 1.3, -0.2)
			xs := append([]float32(nil), x...)
			xs[17] = 0.5
			os := append([]float32(nil), o...)
			os[17] = 1
			a.inputGrad(gin, g, xs, os, 0.1, 0.7, -0.3, 0.05)
			sg, sgx = a.gradSums(g, xs, os, 0.1)
			return
		}
		o1, g1, s1, q1 := run(true)
		o2, g2, s2, q2 := run(false)
		if !math.IsNaN(float64(o1[17])) || !math.IsNaN(float64(o2[17])) {
			t.Errorf("%v: NaN input gave %v (asm) and %v (Go)", a, o1[17], o2[17])
		}
		for i := range o1 {
			if i == 17 {
				continue
			}
			if d := math.Abs(float64(o1[i] - o2[i])); d > 1e-6*math.Max(1, math.Abs(float64(o2[i]))) {
				t.Fatalf("%v: apply[%d] asm %v, Go %v", a, i, o1[i], o2[i])
			}
			if d := math.Abs(float64(g1[i] - g2[i])); d > 1e-6*math.Max(1, math.Abs(float64(g2[i]))) {
				t.Fatalf("%v: inputGrad[%d] asm %v, Go %v", a, i, g1[i], g2[i])
			}
		}
		if math.Abs(s1-s2) > 1e-12*math.Max(1, math.Abs(s2)) || math.Abs(q1-q2) > 1e-12*math.Max(1, math.Abs(q2)) {
			t.Errorf("%v: sums asm (%v, %v), Go (%v, %v)", a, s1, q1, s2, q2)
		}
	}
}

// TestNormLargeMean: normalising values whose mean is 1000 or 10000 times
// their spread keeps float64-like accuracy (relative error ≤ 1e-6 against
// the float64 reference; computing x·a + (shift - m·a) in float32 gave
// 9e-6 at 1000 and 2e-4 at 10000, found in review).
func TestNormLargeMean(t *testing.T) {
	n, c, h, w := 2, 4, 1, 45
	hw := h * w
	sc, sh := randVals(c, 52, 1), randVals(c, 53, 1)
	shapes := []tensor.Shape{{n, c, h, w}, {1, c, 1, 1}, {1, c, 1, 1}}
	for _, off := range []float32{1000, 10000} {
		x := randVals(n*c*hw, 51, 1)
		for i := range x {
			x[i] += off
		}
		out := make([]float32, len(x))
		(&groupNormKern{groups: 2, eps: 1e-5}).fwd([][]float32{x, sc, sh}, shapes, out)
		want := naiveNormAct(to64(x), to64(sc), to64(sh), n, c, hw, func(i, ch int) int { return i*2 + ch/2 }, -1)
		if e := relErr(out, want, 1e-3); e > 1e-6 {
			t.Errorf("group norm, mean %g: relative error %.3g > 1e-6", off, e)
		}
		out2 := make([]float32, len(x))
		(&batchNormKern{eps: 1e-5, momentum: 0.1, train: true, rm: make([]float32, c), rv: make([]float32, c)}).fwd([][]float32{x, sc, sh}, shapes, out2)
		want2 := naiveNormAct(to64(x), to64(sc), to64(sh), n, c, hw, func(_, ch int) int { return ch }, -1)
		if e := relErr(out2, want2, 1e-3); e > 1e-6 {
			t.Errorf("batch norm, mean %g: relative error %.3g > 1e-6", off, e)
		}
	}
}
