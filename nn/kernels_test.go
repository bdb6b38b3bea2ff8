package nn

import (
	"math"
	"slices"
	"testing"

	"github.com/refugelab/refugelab/data"
	"gorgonia.org/tensor"
)

// The reference for every layer is an independent naive float64
// implementation below. Forward outputs of the float32 kernels are compared
// with it, and their gradients with central finite differences of it
// (objective L = Σ r·out with a fixed random r), relative error ≤ 1e-4.

type refFn func(in [][]float64) []float64

func randVals(n int, seed uint64, scale float64) []float32 {
	r := data.NewRand(seed)
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64() * scale)
	}
	return v
}

func to64(v []float32) []float64 {
	o := make([]float64, len(v))
	for i, x := range v {
		o[i] = float64(x)
	}
	return o
}

// relErr is max|a-b| / max(max|b|, floor).
// A NaN or infinite value on either side, or a length mismatch, gives
// +Inf, so that checks written as e > tol fail on them.
func relErr(a []float32, b []float64, floor float64) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var d, m float64
	for i := range b {
		if x := float64(a[i]); math.IsNaN(x) || math.IsInf(x, 0) || math.IsNaN(b[i]) || math.IsInf(b[i], 0) {
			return math.Inf(1)
		}
		d = math.Max(d, math.Abs(float64(a[i])-b[i]))
		m = math.Max(m, math.Abs(b[i]))
	}
	return d / math.Max(m, floor)
}

func checkKern(t *testing.T, name string, k kern, shapes []tensor.Shape, in [][]float32, ref refFn) {
	t.Helper()
	outS, err := k.outShape(shapes)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	out := make([]float32, outS.TotalSize())
	k.fwd(in, shapes, out)
	in64 := make([][]float64, len(in))
	for i := range in {
		in64[i] = to64(in[i])
	}
	want := ref(in64)
	if len(want) != len(out) {
		t.Fatalf("%s: reference gives %d outputs, kernel %d", name, len(want), len(out))
	}
	if e := relErr(out, want, 1e-3); e > 1e-5 {
		t.Errorf("%s forward: relative error %.3g > 1e-5", name, e)
	}
	r := randVals(len(out), 99, 1)
	d := k.diff(len(in))
	for i := range in {
		if !d[i] {
			continue
		}
		g := make([]float32, len(in[i]))
		k.bwd(i, in, shapes, out, r, g)
		fd := make([]float64, len(in[i]))
		h := 1e-6
		for j := range in64[i] {
			orig := in64[i][j]
			in64[i][j] = orig + h
			lp := dot(ref(in64), r)
			in64[i][j] = orig - h
			lm := dot(ref(in64), r)
			in64[i][j] = orig
			fd[j] = (lp - lm) / (2 * h)
		}
		if e := relErr(g, fd, 1e-3); e > 1e-4 {
			t.Errorf("%s gradient wrt input %d: relative error %.3g > 1e-4", name, i, e)
		}
	}
}

func dot(a []float64, r []float32) float64 {
	var s float64
	for i := range a {
		s += a[i] * float64(r[i])
	}
	return s
}

// naiveConv is the direct nested-loop convolution (C18 reference), the
// dilation-1 case of naiveConvDil.
func naiveConv(x, w, b []float64, n, c, h, wd, o, k, stride, pad int) []float64 {
	return naiveConvDil(x, w, b, n, c, h, wd, o, k, stride, pad, 1)
}

func TestConvKernel(t *testing.T) {
	for _, tc := range []struct{ n, c, h, w, o, k, s, p int }{
		{2, 3, 7, 6, 4, 3, 1, 1},
		{2, 3, 8, 8, 5, 3, 2, 1},
		{1, 4, 5, 5, 3, 1, 1, 0},
		{1, 2, 6, 6, 2, 1, 2, 0},
		{1, 2, 5, 5, 2, 5, 1, 2},
	} {
		x := randVals(tc.n*tc.c*tc.h*tc.w, 1, 1)
		w := randVals(tc.o*tc.c*tc.k*tc.k, 2, 0.5)
		b := randVals(tc.o, 3, 0.5)
		shapes := []tensor.Shape{{tc.n, tc.c, tc.h, tc.w}, {tc.o, tc.c, tc.k, tc.k}, {1, tc.o, 1, 1}}
		checkKern(t, "conv", &convKern{stride: tc.s, pad: tc.p}, shapes, [][]float32{x, w, b}, func(in [][]float64) []float64 {
			return naiveConv(in[0], in[1], in[2], tc.n, tc.c, tc.h, tc.w, tc.o, tc.k, tc.s, tc.p)
		})
	}
}

func TestGroupNormKernel(t *testing.T) {
	n, c, h, w, g := 2, 6, 3, 4, 3
	x := randVals(n*c*h*w, 4, 2)
	sc := randVals(c, 5, 1)
	sh := randVals(c, 6, 1)
	shapes := []tensor.Shape{{n, c, h, w}, {1, c, 1, 1}, {1, c, 1, 1}}
	checkKern(t, "groupnorm", &groupNormKern{groups: g, eps: 1e-5}, shapes, [][]float32{x, sc, sh}, func(in [][]float64) []float64 {
		out := make([]float64, len(in[0]))
		cg, hw := c/g, h*w
		for ni := 0; ni < n; ni++ {
			for gi := 0; gi < g; gi++ {
				var s, q float64
				for j := (ni*c + gi*cg) * hw; j < (ni*c+(gi+1)*cg)*hw; j++ {
					s += in[0][j]
				}
				m := s / float64(cg*hw)
				for j := (ni*c + gi*cg) * hw; j < (ni*c+(gi+1)*cg)*hw; j++ {
					q += (in[0][j] - m) * (in[0][j] - m)
				}
				sd := math.Sqrt(q/float64(cg*hw) + 1e-5)
				for j := (ni*c + gi*cg) * hw; j < (ni*c+(gi+1)*cg)*hw; j++ {
					ch := (j / hw) % c
					out[j] = (in[0][j]-m)/sd*in[1][ch] + in[2][ch]
				}
			}
		}
		return out
	})
}

func TestSmallKernels(t *testing.T) {
	n, c, h, w := 2, 3, 4, 6
	x := randVals(n*c*h*w, 7, 1)
	x2 := randVals(n*2*h*w, 8, 1)
	s4 := tensor.Shape{n, c, h, w}
	checkKern(t, "relu", reluKern{}, []tensor.Shape{s4}, [][]float32{x}, func(in [][]float64) []float64 {
		o := make([]float64, len(in[0]))
		for i, v := range in[0] {
			o[i] = math.Max(v, 0)
		}
		return o
	})
	y := randVals(len(x), 9, 1)
	checkKern(t, "add", addKern{}, []tensor.Shape{s4, s4}, [][]float32{x, y}, func(in [][]float64) []float64 {
		o := make([]float64, len(in[0]))
		for i := range o {
			o[i] = in[0][i] + in[1][i]
		}
		return o
	})
	checkKern(t, "mask", maskKern{}, []tensor.Shape{s4, s4}, [][]float32{x, y}, func(in [][]float64) []float64 {
		o := make([]float64, len(in[0]))
		for i := range o {
			o[i] = in[0][i] * in[1][i]
		}
		return o
	})
	checkKern(t, "maxpool", &maxPoolKern{}, []tensor.Shape{s4}, [][]float32{x}, func(in [][]float64) []float64 {
		o := make([]float64, 0, len(in[0])/4)
		for ci := 0; ci < n*c; ci++ {
			for oy := 0; oy < h/2; oy++ {
				for ox := 0; ox < w/2; ox++ {
					m := math.Inf(-1)
					for dy := 0; dy < 2; dy++ {
						for dx := 0; dx < 2; dx++ {
							m = math.Max(m, in[0][(ci*h+2*oy+dy)*w+2*ox+dx])
						}
					}
					o = append(o, m)
				}
			}
		}
		return o
	})
	checkKern(t, "avgpool", avgPoolKern{}, []tensor.Shape{s4}, [][]float32{x}, func(in [][]float64) []float64 {
		o := make([]float64, 0, len(in[0])/4)
		for ci := 0; ci < n*c; ci++ {
			for oy := 0; oy < h/2; oy++ {
				for ox := 0; ox < w/2; ox++ {
					var m float64
					for dy := 0; dy < 2; dy++ {
						for dx := 0; dx < 2; dx++ {
							m += in[0][(ci*h+2*oy+dy)*w+2*ox+dx] / 4
						}
					}
					o = append(o, m)
				}
			}
		}
		return o
	})
	checkKern(t, "upsample", upsampleKern{}, []tensor.Shape{s4}, [][]float32{x}, func(in [][]float64) []float64 {
		o := make([]float64, 0, 4*len(in[0]))
		for ci := 0; ci < n*c; ci++ {
			for yy := 0; yy < 2*h; yy++ {
				for xx := 0; xx < 2*w; xx++ {
					o = append(o, in[0][(ci*h+yy/2)*w+xx/2])
				}
			}
		}
		return o
	})
	checkKern(t, "concat", concatKern{}, []tensor.Shape{s4, {n, 2, h, w}}, [][]float32{x, x2}, func(in [][]float64) []float64 {
		var o []float64
		for ni := 0; ni < n; ni++ {
			o = append(o, in[0][ni*c*h*w:(ni+1)*c*h*w]...)
			o = append(o, in[1][ni*2*h*w:(ni+1)*2*h*w]...)
		}
		return o
	})
	checkKern(t, "gap", gapKern{}, []tensor.Shape{s4}, [][]float32{x}, func(in [][]float64) []float64 {
		o := make([]float64, n*c)
		for i := range o {
			for j := 0; j < h*w; j++ {
				o[i] += in[0][i*h*w+j] / float64(h*w)
			}
		}
		return o
	})
	f, oc := 5, 3
	xd := randVals(n*f, 10, 1)
	wd := randVals(f*oc, 11, 1)
	bd := randVals(oc, 12, 1)
	checkKern(t, "dense", denseKern{}, []tensor.Shape{{n, f}, {f, oc}, {1, oc}}, [][]float32{xd, wd, bd}, func(in [][]float64) []float64 {
		o := make([]float64, n*oc)
		for i := 0; i < n; i++ {
			for j := 0; j < oc; j++ {
				o[i*oc+j] = in[2][j]
				for k := 0; k < f; k++ {
					o[i*oc+j] += in[0][i*f+k] * in[1][k*oc+j]
				}
			}
		}
		return o
	})
}

// TestBatchNormKernel: training mode against a float64 reference with
// batch statistics (forward and finite-difference gradients), the running
// averages after one step (momentum 0.1, unbiased variance), and inference
// mode using them.
func TestBatchNormKernel(t *testing.T) {
	n, c, h, w := 3, 4, 2, 3
	x := randVals(n*c*h*w, 13, 2)
	sc := randVals(c, 14, 1)
	sh := randVals(c, 15, 1)
	shapes := []tensor.Shape{{n, c, h, w}, {1, c, 1, 1}, {1, c, 1, 1}}
	hw, cnt := h*w, float64(n*h*w)
	stats := func(in []float64, ch int) (m, v float64) {
		for i := 0; i < n; i++ {
			for j := 0; j < hw; j++ {
				m += in[(i*c+ch)*hw+j] / cnt
			}
		}
		for i := 0; i < n; i++ {
			for j := 0; j < hw; j++ {
				d := in[(i*c+ch)*hw+j] - m
				v += d * d / cnt
			}
		}
		return
	}
	ref := func(in [][]float64) []float64 {
		out := make([]float64, len(in[0]))
		for ch := 0; ch < c; ch++ {
			m, v := stats(in[0], ch)
			for i := 0; i < n; i++ {
				for j := 0; j < hw; j++ {
					k := (i*c+ch)*hw + j
					out[k] = (in[0][k]-m)/math.Sqrt(v+1e-5)*in[1][ch] + in[2][ch]
				}
			}
		}
		return out
	}
	rm, rv := make([]float32, c), make([]float32, c)
	for i := range rv {
		rv[i] = 1
	}
	k := &batchNormKern{eps: 1e-5, momentum: 0.1, train: true, rm: rm, rv: rv}
	checkKern(t, "batchnorm", k, shapes, [][]float32{x, sc, sh}, ref)
	// checkKern ran fwd once: running stats = 0.9·init + 0.1·batch
	x64 := to64(x)
	for ch := 0; ch < c; ch++ {
		m, v := stats(x64, ch)
		if math.Abs(float64(rm[ch])-0.1*m) > 1e-6 || math.Abs(float64(rv[ch])-(0.9+0.1*v*cnt/(cnt-1))) > 1e-6 {
			t.Fatalf("channel %d running stats (%v, %v), expected (%v, %v)", ch, rm[ch], rv[ch], 0.1*m, 0.9+0.1*v*cnt/(cnt-1))
		}
	}
	ke := &batchNormKern{eps: 1e-5, momentum: 0.1, train: false, rm: rm, rv: rv}
	checkKern(t, "batchnorm-eval", ke, shapes, [][]float32{x, sc, sh}, func(in [][]float64) []float64 {
		out := make([]float64, len(in[0]))
		for kk := range out {
			ch := (kk / hw) % c
			out[kk] = (in[0][kk]-float64(rm[ch]))/math.Sqrt(float64(rv[ch])+1e-5)*in[1][ch] + in[2][ch]
		}
		return out
	})
}

// TestConvRandomShapes: forward and input/weight/bias gradients of the
// convolution against the naive loop (gradients by the adjoint identity
// <r, conv(x)> differentiated exactly: dL/dx and dL/dw of L = Σ r·y are
// again naive loops) on 25 random shapes, strides, paddings, odd sizes.
func TestConvRandomShapes(t *testing.T) {
	r := data.NewRand(77)
	for it := 0; it < 25; it++ {
		n, c, o := 1+r.IntN(3), 1+r.IntN(9), 1+r.IntN(20)
		k := []int{1, 3, 5}[r.IntN(3)]
		s, p := 1+r.IntN(2), r.IntN(k/2+1)
		h, w := k+r.IntN(12), k+r.IntN(12)
		checkConvLoops(t, n, c, h, w, o, k, s, p, 1, uint64(it))
	}
}

// TestMaxPoolTies: within a 2×2 window the first maximum in row-major
// order takes the gradient (worked by hand: windows with two, three and
// four equal maxima, and a single maximum in each position).
func TestMaxPoolTies(t *testing.T) {
	// one 2×8 plane = four windows; columns 2k, 2k+1 of rows 0 and 1
	x := []float32{
		5, 5, 1, 2, 0, 3, 7, 7,
		5, 1, 3, 3, 3, 3, 7, 7,
	}
	s := []tensor.Shape{{1, 1, 2, 8}}
	k := &maxPoolKern{}
	out := make([]float32, 4)
	k.fwd([][]float32{x}, s, out)
	if want := []float32{5, 3, 3, 7}; !slices.Equal(out, want) {
		t.Fatalf("max pool %v, expected %v", out, want)
	}
	gin := make([]float32, len(x))
	k.bwd(0, [][]float32{x}, s, out, []float32{1, 2, 3, 4}, gin)
	want := []float32{
		1, 0, 0, 0, 0, 3, 4, 0,
		0, 0, 2, 0, 0, 0, 0, 0,
	}
	if !slices.Equal(gin, want) {
		t.Fatalf("max pool gradient %v, expected %v", gin, want)
	}
}

// TestMaxPoolNaN (found in review): a NaN in a window is its maximum and
// takes the gradient (the first NaN when there are several), as in
// PyTorch.
func TestMaxPoolNaN(t *testing.T) {
	nan := float32(math.NaN())
	x := []float32{
		1, nan, 4, 5, nan, 9, 2, 2,
		3, nan, nan, 0, 7, 8, 1, nan,
	}
	s := []tensor.Shape{{1, 1, 2, 8}}
	k := &maxPoolKern{}
	out := make([]float32, 4)
	k.fwd([][]float32{x}, s, out)
	for _, v := range out {
		if !math.IsNaN(float64(v)) {
			t.Fatalf("max pool of windows with NaN: %v, expected all NaN", out)
		}
	}
	gin := make([]float32, len(x))
	k.bwd(0, [][]float32{x}, s, out, []float32{1, 2, 3, 4}, gin)
	want := []float32{
		0, 1, 0, 0, 3, 0, 0, 0,
		0, 0, 2, 0, 0, 0, 0, 4,
	}
	if !slices.Equal(gin, want) {
		t.Fatalf("gradient %v, expected %v", gin, want)
	}
}
