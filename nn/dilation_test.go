package nn

import (
	"encoding/json"
	"fmt"
	"math"
	"runtime"
	"strings"
	"testing"

	"github.com/refugelab/refugelab/data"
	"gorgonia.org/tensor"
)

// Tests of the two layer options of issue 5: convolution dilation and leaky
// ReLU. References are independent float64 loops; gradients are checked
// against central finite differences of the reference (checkKern) and, on
// random shapes, against the exact adjoint loops.

// naiveConvDil is the direct nested-loop dilated convolution: output size
// (H + 2p - d(k-1) - 1)/s + 1 (PyTorch's Conv2d formula), tap (ky, kx) of
// output (oy, ox) reads input (oy·s - p + ky·d, ox·s - p + kx·d).
func naiveConvDil(x, w, b []float64, n, c, h, wd, o, k, stride, pad, dil int) []float64 {
	ho := (h+2*pad-dil*(k-1)-1)/stride + 1
	wo := (wd+2*pad-dil*(k-1)-1)/stride + 1
	out := make([]float64, n*o*ho*wo)
	for ni := 0; ni < n; ni++ {
		for oc := 0; oc < o; oc++ {
			for oy := 0; oy < ho; oy++ {
				for ox := 0; ox < wo; ox++ {
					s := b[oc]
					for ci := 0; ci < c; ci++ {
						for ky := 0; ky < k; ky++ {
							for kx := 0; kx < k; kx++ {
								iy, ix := oy*stride-pad+ky*dil, ox*stride-pad+kx*dil
								if iy < 0 || iy >= h || ix < 0 || ix >= wd {
									continue
								}
								s += x[((ni*c+ci)*h+iy)*wd+ix] * w[((oc*c+ci)*k+ky)*k+kx]
							}
						}
					}
					out[((ni*o+oc)*ho+oy)*wo+ox] = s
				}
			}
		}
	}
	return out
}

// TestConvDilatedKernel: forward against the float64 loop and all three
// gradients against finite differences, dilation 2 and 3 with stride and
// padding combinations on odd sizes.
func TestConvDilatedKernel(t *testing.T) {
	for _, tc := range []struct{ n, c, h, w, o, k, s, p, d int }{
		{2, 3, 7, 9, 4, 3, 1, 2, 2}, // "same" padding at dilation 2
		{2, 2, 9, 7, 3, 3, 1, 3, 3}, // "same" padding at dilation 3
		{1, 3, 11, 9, 2, 3, 2, 1, 2},
		{1, 2, 9, 11, 3, 3, 2, 0, 3},
		{2, 2, 7, 7, 2, 3, 1, 0, 2}, // no padding: 3x3 output
		{1, 2, 13, 9, 2, 5, 3, 2, 2},
		{1, 3, 5, 5, 2, 3, 1, 3, 3}, // bottleneck-like: small map, pad = dilation
		{1, 2, 7, 5, 2, 1, 2, 0, 3}, // 1x1: dilation has no effect
	} {
		x := randVals(tc.n*tc.c*tc.h*tc.w, 11, 1)
		w := randVals(tc.o*tc.c*tc.k*tc.k, 12, 0.5)
		b := randVals(tc.o, 13, 0.5)
		shapes := []tensor.Shape{{tc.n, tc.c, tc.h, tc.w}, {tc.o, tc.c, tc.k, tc.k}, {1, tc.o, 1, 1}}
		checkKern(t, "dilated conv", &convKern{stride: tc.s, pad: tc.p, dil: tc.d}, shapes, [][]float32{x, w, b}, func(in [][]float64) []float64 {
			return naiveConvDil(in[0], in[1], in[2], tc.n, tc.c, tc.h, tc.w, tc.o, tc.k, tc.s, tc.p, tc.d)
		})
	}
}

// TestConvDilatedRandomShapes: 30 random shapes (dilation 2 or 3, k 1/3/5,
// stride 1-3, padding 0..d·(k/2)+1, odd and even sizes, batch 1-3): forward
// against the float64 loop, input/weight/bias gradients against the exact
// adjoint loops of L = Σ r·y.
func TestConvDilatedRandomShapes(t *testing.T) {
	r := data.NewRand(78)
	ran := 0
	defer func() {
		t.Logf("%d random shapes checked", ran)
		if ran < 20 {
			t.Errorf("only %d of 30 random shapes were valid, expected >= 20", ran)
		}
	}()
	for it := 0; it < 30; it++ {
		n, c, o := 1+r.IntN(3), 1+r.IntN(7), 1+r.IntN(12)
		k := []int{1, 3, 5}[r.IntN(3)]
		d := 2 + r.IntN(2)
		s, p := 1+r.IntN(3), r.IntN(d*(k/2)+2)
		span := d*(k-1) + 1
		h, w := span-2*p+r.IntN(12), span-2*p+r.IntN(12)
		if h < 1 {
			h = 1 + r.IntN(3)
		}
		if w < 1 {
			w = 1 + r.IntN(3)
		}
		if h+2*p < span || w+2*p < span {
			continue
		}
		ran++
		checkConvLoops(t, n, c, h, w, o, k, s, p, d, uint64(it+1000))
	}
}

// checkConvLoops runs the convolution kernel on one shape (data from seed,
// seed+100, seed+200, seed+300) and checks its forward output against
// naiveConvDil and its input/weight/bias gradients against the exact
// adjoint loops of L = Σ r·y, each to relative error 1e-5.
func checkConvLoops(t *testing.T, n, c, h, w, o, k, s, p, d int, seed uint64) {
	t.Helper()
	x := randVals(n*c*h*w, seed, 1)
	wt := randVals(o*c*k*k, seed+100, 1)
	b := randVals(o, seed+200, 1)
	shapes := []tensor.Shape{{n, c, h, w}, {o, c, k, k}, {1, o, 1, 1}}
	kern := &convKern{stride: s, pad: p, dil: d}
	span := d*(k-1) + 1
	ho, wo := (h+2*p-span)/s+1, (w+2*p-span)/s+1
	outS, err := kern.outShape(shapes)
	if err != nil {
		t.Fatalf("shape n%d c%d %dx%d o%d k%d s%d p%d d%d: %v", n, c, h, w, o, k, s, p, d, err)
	}
	if outS[2] != ho || outS[3] != wo {
		t.Fatalf("output shape %v, expected %dx%d", outS, ho, wo)
	}
	out := make([]float32, n*o*ho*wo)
	kern.fwd([][]float32{x, wt, b}, shapes, out)
	want := naiveConvDil(to64(x), to64(wt), to64(b), n, c, h, w, o, k, s, p, d)
	if e := relErr(out, want, 1e-3); e > 1e-5 {
		t.Fatalf("shape n%d c%d %dx%d o%d k%d s%d p%d d%d: forward error %.3g", n, c, h, w, o, k, s, p, d, e)
	}
	rv := randVals(len(out), seed+300, 1)
	gx, gw, gb := make([]float64, len(x)), make([]float64, len(wt)), make([]float64, o)
	for ni := 0; ni < n; ni++ {
		for oc := 0; oc < o; oc++ {
			for oy := 0; oy < ho; oy++ {
				for ox := 0; ox < wo; ox++ {
					g := float64(rv[((ni*o+oc)*ho+oy)*wo+ox])
					gb[oc] += g
					for ci := 0; ci < c; ci++ {
						for ky := 0; ky < k; ky++ {
							for kx := 0; kx < k; kx++ {
								iy, ix := oy*s-p+ky*d, ox*s-p+kx*d
								if iy < 0 || iy >= h || ix < 0 || ix >= w {
									continue
								}
								xi := ((ni*c+ci)*h+iy)*w + ix
								wi := ((oc*c+ci)*k+ky)*k + kx
								gx[xi] += g * float64(wt[wi])
								gw[wi] += g * float64(x[xi])
							}
						}
					}
				}
			}
		}
	}
	for i, want := range [][]float64{gx, gw, gb} {
		got := make([]float32, len(want))
		kern.bwd(i, [][]float32{x, wt, b}, shapes, out, rv, got)
		if e := relErr(got, want, 1e-3); e > 1e-5 {
			t.Fatalf("shape n%d c%d %dx%d o%d k%d s%d p%d d%d: gradient %d error %.3g", n, c, h, w, o, k, s, p, d, i, e)
		}
	}
}

// TestConvDilationShape: output sizes from PyTorch's formula
// floor((H + 2p - d(k-1) - 1)/s) + 1, worked by hand, and an error (not a
// silently truncated size) when the padded input is smaller than the
// dilated kernel.
func TestConvDilationShape(t *testing.T) {
	for _, tc := range []struct{ h, k, s, p, d, want int }{
		{7, 3, 1, 0, 3, 1},  // 7 - 6 - 1 + 1
		{10, 3, 2, 1, 2, 4}, // (10 + 2 - 5)/2 + 1 = 3 + 1
		{8, 3, 1, 2, 2, 8},  // same padding
		{9, 5, 3, 0, 2, 1},  // (9 - 9)/3 + 1
		{11, 3, 2, 3, 3, 6}, // (11 + 6 - 7)/2 + 1
	} {
		k := &convKern{stride: tc.s, pad: tc.p, dil: tc.d}
		s, err := k.outShape([]tensor.Shape{{1, 1, tc.h, tc.h}, {1, 1, tc.k, tc.k}, {1, 1, 1, 1}})
		if err != nil {
			t.Fatalf("%+v: %v", tc, err)
		}
		if s[2] != tc.want || s[3] != tc.want {
			t.Errorf("h%d k%d s%d p%d d%d: output %v, expected %dx%d", tc.h, tc.k, tc.s, tc.p, tc.d, s, tc.want, tc.want)
		}
	}
	// 6x6, k 3, dilation 3, no padding: span 7 > 6 (with s 2 the truncating
	// division would otherwise give (6-7)/2+1 = 1)
	k := &convKern{stride: 2, pad: 0, dil: 3}
	if _, err := k.outShape([]tensor.Shape{{1, 1, 6, 6}, {1, 1, 3, 3}, {1, 1, 1, 1}}); err == nil || !strings.Contains(err.Error(), "dilation 3") {
		t.Errorf("kernel larger than the padded input: error %v, expected one naming dilation 3", err)
	}
	if k.id() != "Conv2D{s2,p0,d3}" || (&convKern{stride: 2, pad: 1, dil: 1}).id() != "Conv2D{s2,p1}" {
		t.Errorf("ids %q, %q", k.id(), (&convKern{stride: 2, pad: 1, dil: 1}).id())
	}
}

// TestConvDilationOneIdentical: dilation 1 (explicit) and the zero value
// give bit-identical outputs and gradients, so default networks are
// unchanged.
func TestConvDilationOneIdentical(t *testing.T) {
	shapes := []tensor.Shape{{2, 3, 9, 7}, {4, 3, 3, 3}, {1, 4, 1, 1}}
	in := [][]float32{randVals(2*3*9*7, 1, 1), randVals(4*3*9, 2, 1), randVals(4, 3, 1)}
	run := func(k *convKern) []float32 {
		s, err := k.outShape(shapes)
		if err != nil {
			t.Fatal(err)
		}
		out := make([]float32, s.TotalSize())
		k.fwd(in, shapes, out)
		all := append([]float32(nil), out...)
		g := randVals(len(out), 4, 1)
		for i := range in {
			gi := make([]float32, len(in[i]))
			k.bwd(i, in, shapes, out, g, gi)
			all = append(all, gi...)
		}
		return all
	}
	a, b := run(&convKern{stride: 2, pad: 1}), run(&convKern{stride: 2, pad: 1, dil: 1})
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			t.Fatalf("value %d differs: %v vs %v", i, a[i], b[i])
		}
	}
}

// naiveLeaky is the float64 reference of leaky ReLU.
func naiveLeaky(x []float64, slope float64) []float64 {
	o := make([]float64, len(x))
	for i, v := range x {
		if v > 0 {
			o[i] = v
		} else {
			o[i] = slope * v
		}
	}
	return o
}

// TestLeakyReLUKernel: forward against the float64 reference and gradient
// against finite differences for slopes 0.01, 0.2 and 0 (which must equal
// ReLU bit for bit); at exactly 0 the output is 0 and the gradient slope.
func TestLeakyReLUKernel(t *testing.T) {
	shapes := []tensor.Shape{{3, 2, 5, 7}}
	x := randVals(3*2*5*7, 41, 1)
	for _, slope := range []float64{0.01, 0.2, 0} {
		checkKern(t, "leaky relu", leakyReluKern{slope: float32(slope)}, shapes, [][]float32{x}, func(in [][]float64) []float64 {
			return naiveLeaky(in[0], float64(float32(slope)))
		})
	}
	lr, r := leakyReluKern{}, reluKern{}
	g := randVals(len(x), 42, 1)
	o1, o2 := make([]float32, len(x)), make([]float32, len(x))
	lr.fwd([][]float32{x}, shapes, o1)
	r.fwd([][]float32{x}, shapes, o2)
	g1, g2 := make([]float32, len(x)), make([]float32, len(x))
	lr.bwd(0, [][]float32{x}, shapes, o1, g, g1)
	r.bwd(0, [][]float32{x}, shapes, o2, g, g2)
	for i := range x {
		if math.Float32bits(o1[i]) != math.Float32bits(o2[i]) && !(o1[i] == 0 && o2[i] == 0) || g1[i] != g2[i] {
			t.Fatalf("slope 0 differs from ReLU at %d: %v/%v, grad %v/%v", i, o1[i], o2[i], g1[i], g2[i])
		}
	}
	k := leakyReluKern{slope: 0.25}
	zs := []float32{0, -2, 3}
	zo, zg := make([]float32, 3), make([]float32, 3)
	k.fwd([][]float32{zs}, []tensor.Shape{{1, 3}}, zo)
	k.bwd(0, [][]float32{zs}, []tensor.Shape{{1, 3}}, zo, []float32{1, 1, 1}, zg)
	if zo[0] != 0 || zo[1] != -0.5 || zo[2] != 3 || zg[0] != 0.25 || zg[1] != 0.25 || zg[2] != 1 {
		t.Errorf("leaky relu(0.25) of %v: %v, gradient %v; expected [0 -0.5 3], [0.25 0.25 1]", zs, zo, zg)
	}
	if k.id() != "LeakyReLU{0.25}" {
		t.Errorf("id %q", k.id())
	}
}

// TestNetSpecDilationActivation: defaults, validation messages naming the
// field, and the Describe sentence.
func TestNetSpecDilationActivation(t *testing.T) {
	d := NetSpec{}.Defaults()
	if d.Dilation != 1 || d.Activation != "relu" || d.LeakySlope != 0 {
		t.Errorf("defaults dilation %d activation %q slope %g, expected 1, relu, 0", d.Dilation, d.Activation, d.LeakySlope)
	}
	if l := (NetSpec{Activation: "leaky-relu"}).Defaults(); l.LeakySlope != 0.01 {
		t.Errorf("leaky-relu default slope %g, expected 0.01", l.LeakySlope)
	}
	for _, tc := range []struct {
		s    NetSpec
		want string
	}{
		{NetSpec{Dilation: -1}, "network.dilation: -1 must be >= 1"},
		{NetSpec{Arch: "cnn", Dilation: 2}, "network.dilation: 2 applies only to the bottleneck"},
		{NetSpec{Arch: "resnet", Dilation: 3}, "arch resnet expects 1"},
		{NetSpec{Activation: "gelu"}, "network.activation"},
		{NetSpec{Activation: "leaky-relu", LeakySlope: 1.5}, "network.leaky_slope: 1.5 out of range"},
		{NetSpec{Activation: "leaky-relu", LeakySlope: -0.1}, "network.leaky_slope: -0.1 out of range"},
		{NetSpec{LeakySlope: 0.1}, "network.leaky_slope: 0.1 is set but network.activation is relu"},
	} {
		err := tc.s.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, expected %q", tc.s, err, tc.want)
		}
	}
	for _, ok := range []NetSpec{{Arch: "unet", Dilation: 2}, {Arch: "heatmap", Dilation: 3}, {Arch: "multitask", Dilation: 2, Activation: "leaky-relu", LeakySlope: 0.1}, {Arch: "cnn", Dilation: 1, Activation: "leaky-relu"}} {
		if err := ok.Validate(); err != nil {
			t.Errorf("%+v: %v", ok, err)
		}
	}
	plain := NetSpec{Arch: "unet"}.Describe()
	if strings.Contains(plain, "dilated") || !strings.Contains(plain, "and ReLU after each convolution") {
		t.Errorf("default Describe: %s", plain)
	}
	for _, arch := range []string{"unet", "heatmap", "multitask"} {
		s := NetSpec{Arch: arch, Dilation: 2, Activation: "leaky-relu"}.Describe()
		for _, want := range []string{"the two bottleneck 3x3 convolutions are dilated by 2 (padding 2, size kept), all others undilated", "leaky ReLU (negative slope 0.01) after each convolution"} {
			if !strings.Contains(s, want) {
				t.Errorf("%s Describe lacks %q: %s", arch, want, s)
			}
		}
	}
	if s := (NetSpec{Arch: "resnet", Activation: "leaky-relu", LeakySlope: 0.2}).Describe(); !strings.Contains(s, "leaky ReLU (negative slope 0.2)") {
		t.Errorf("resnet Describe: %s", s)
	}
}

// TestDilatedNetwork: a U-Net with dilated bottleneck and leaky ReLU keeps
// the default network's parameters (names, shapes, seeded values) and
// output shape, uses dilated convolutions exactly at bottom.0 and bottom.1,
// computes different outputs, and trains bit-identically with GOMAXPROCS 1
// and 4.
func TestDilatedNetwork(t *testing.T) {
	in := Shape{C: 2, H: 16, W: 16}
	base, err := New(NetSpec{Arch: "multitask", Base: 4, Depth: 2, Groups: 2}, in, 3, 2, 5)
	if err != nil {
		t.Fatal(err)
	}
	spec := NetSpec{Arch: "multitask", Base: 4, Depth: 2, Groups: 2, Dilation: 2, Activation: "leaky-relu", LeakySlope: 0.1}
	m, err := New(spec, in, 3, 2, 5)
	if err != nil {
		t.Fatal(err)
	}
	if m.WeightsHash() != base.WeightsHash() {
		t.Errorf("dilation/activation changed the initial weights")
	}
	if a, b := m.OutShape(), base.OutShape(); len(a) != len(b) || a[0] != b[0] {
		t.Errorf("output shape %v, default %v", a, b)
	}
	x := randVals(2*2*16*16, 51, 1)
	o1, err := base.Forward(x, 2)
	if err != nil {
		t.Fatal(err)
	}
	o2, err := m.Forward(x, 2)
	if err != nil {
		t.Fatal(err)
	}
	same := true
	for i := range o1 {
		same = same && o1[i] == o2[i]
	}
	if same {
		t.Errorf("dilated leaky network gives the default network's outputs")
	}
	// which ops were built: dilated convolutions only at the bottleneck
	g, err := m.build(2, false, false)
	if err != nil {
		t.Fatal(err)
	}
	var dil, leaky, plain int
	for _, n := range g.g.AllNodes() {
		if n.Op() == nil {
			continue
		}
		op := n.Op().String()
		switch {
		case strings.Contains(op, "Conv2D{s1,p2,d2}"):
			dil++
		case strings.Contains(op, "LeakyReLU{0.1}"), strings.Contains(op, ",leaky0.1}"):
			leaky++ // separate, or fused into the normalisation
		case strings.Contains(op, "ReLU"), strings.Contains(op, ",relu}"):
			plain++
		}
	}
	if dil != 2 || leaky == 0 || plain != 0 {
		t.Errorf("graph has %d dilated convolutions (expected 2), %d leaky ReLUs, %d plain ReLUs (expected 0)", dil, leaky, plain)
	}

	per := 1
	for _, v := range m.OutShape() {
		per *= v
	}
	y := randVals(2*per, 52, 1)
	var runs [][]float32
	for _, procs := range []int{1, 4} {
		old := runtime.GOMAXPROCS(procs)
		mm, err := New(spec, in, 3, 2, 5)
		if err != nil {
			runtime.GOMAXPROCS(old)
			t.Fatal(err)
		}
		tr, err := mm.NewTrainer(2, per, "sq", sqLoss)
		if err != nil {
			runtime.GOMAXPROCS(old)
			t.Fatal(err)
		}
		var all []float32
		for s := 0; s < 2; s++ {
			if _, err := tr.Step(x, y, nil, uint64(s)); err != nil {
				runtime.GOMAXPROCS(old)
				t.Fatal(err)
			}
			all = append(all, tr.Output()...)
			for _, g := range tr.Grads() {
				all = append(all, g...)
			}
		}
		runtime.GOMAXPROCS(old)
		runs = append(runs, all)
	}
	for i := range runs[0] {
		if math.Float32bits(runs[0][i]) != math.Float32bits(runs[1][i]) {
			t.Fatalf("value %d differs between GOMAXPROCS 1 and 4", i)
		}
	}
}

// TestDilatedNetworkGradient: whole-graph parameter gradients of a U-Net
// whose bottleneck is dilated (2 and 3) against central differences, in
// the smooth linear setting of TestNetworkGradient.
func TestDilatedNetworkGradient(t *testing.T) {
	linearForTests = true
	defer func() { linearForTests = false }()
	for _, dil := range []int{2, 3} {
		m, err := New(NetSpec{Arch: "unet", Base: 4, Depth: 1, Norm: "none", Dilation: dil}, Shape{C: 2, H: 8, W: 8}, 3, 2, 5)
		if err != nil {
			t.Fatal(err)
		}
		worst, checked := checkGraphGrads(t, fmt.Sprintf("dilation %d", dil), m, 0.1, 2e-2, func(name string) bool {
			return strings.HasPrefix(name, "bottom.") || strings.HasPrefix(name, "down0.0")
		})
		if checked == 0 {
			t.Fatal("no bottleneck parameters checked")
		}
		t.Logf("dilation %d: worst relative gradient error %.3g over %d coordinates", dil, worst, checked)
	}
}

// TestDilatedSpecSaved: header.json carries dilation, activation and
// slope, so a model rebuilt from a saved header (as the predict command
// does) computes the same outputs bit for bit; an older header without
// the fields rebuilds the default network.
func TestDilatedSpecSaved(t *testing.T) {
	in := Shape{C: 2, H: 8, W: 8}
	spec := NetSpec{Arch: "unet", Base: 4, Depth: 1, Groups: 2, Dilation: 3, Activation: "leaky-relu", LeakySlope: 0.05}
	m, err := New(spec, in, 2, 1, 7)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	h, err := readHeader(dir)
	if err != nil {
		t.Fatal(err)
	}
	if h.Spec.Dilation != 3 || h.Spec.Activation != "leaky-relu" || h.Spec.LeakySlope != 0.05 {
		t.Fatalf("saved spec %+v", h.Spec)
	}
	m2, err := New(h.Spec, h.In, h.OutC, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := m2.Load(dir); err != nil {
		t.Fatal(err)
	}
	x := randVals(2*8*8, 61, 1)
	a, err := m.Forward(x, 1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := m2.Forward(x, 1)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			t.Fatalf("output %d: %v after reload, %v before", i, b[i], a[i])
		}
	}
	var old WeightsHeader
	if err := json.Unmarshal([]byte(`{"format":"x","spec":{"arch":"unet","base":4}}`), &old); err != nil {
		t.Fatal(err)
	}
	if d := old.Spec.Defaults(); d.Dilation != 1 || d.Activation != "relu" || d.LeakySlope != 0 {
		t.Errorf("old header spec defaults to %+v", d)
	}
}
