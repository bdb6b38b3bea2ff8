package augment

import (
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/refugelab/refugelab/data"
)

func equalImages(a, b *data.Image) bool {
	if a.W != b.W || a.H != b.H || a.C != b.C {
		return false
	}
	for i := range a.Pix {
		if math.Float32bits(a.Pix[i]) != math.Float32bits(b.Pix[i]) {
			return false
		}
	}
	return true
}

func equalMasks(a, b *data.Mask) bool {
	if a.W != b.W || a.H != b.H {
		return false
	}
	for i := range a.Pix {
		if a.Pix[i] != b.Pix[i] {
			return false
		}
	}
	return true
}

// typical is the pipeline of the benchmark and the determinism tests.
func typical() []Spec {
	return []Spec{
		{Name: "hflip", Prob: 0.5},
		{Name: "rotate", Prob: 0.5, Params: map[string]any{"degrees": 15}},
		{Name: "scale", Prob: 0.5, Params: map[string]any{"range": []any{0.9, 1.1}}},
		{Name: "gamma", Prob: 0.5},
		{Name: "elastic", Prob: 0.3},
	}
}

func allTransforms() []Spec {
	var specs []Spec
	for _, n := range KnownTransforms() {
		specs = append(specs, Spec{Name: n, Prob: 0.7})
	}
	return specs
}

func TestKnownTransforms(t *testing.T) {
	want := "blur brightness contrast crop elastic erase gamma hflip hue noise rot90 rotate saturation scale translate vflip"
	if got := strings.Join(KnownTransforms(), " "); got != want {
		t.Fatalf("KnownTransforms = %s, want %s", got, want)
	}
}

// TestDeterminism: the same (root, epoch, index) gives bitwise identical
// output, also when computed concurrently from many goroutines in any order;
// another index, epoch or root gives a different draw; the inputs are never
// modified.
func TestDeterminism(t *testing.T) {
	img, m, pt := testSample(48, 48, data.Point{X: 20, Y: 24})
	img0, m0, pt0 := img.Clone(), m.Clone(), *pt
	p := mustBuild(t, allTransforms()...)
	type out struct {
		img *data.Image
		m   *data.Mask
		pt  data.Point
		in  bool
	}
	const n = 24
	seq := make([]out, n)
	for i := 0; i < n; i++ {
		a, b, c, d := p.Apply(img, m, pt, 42, 3, i)
		seq[i] = out{a, b, *c, d}
	}
	par := make([]out, n)
	var wg sync.WaitGroup
	for i := n - 1; i >= 0; i-- {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			a, b, c, d := p.Apply(img, m, pt, 42, 3, i)
			par[i] = out{a, b, *c, d}
		}(i)
	}
	wg.Wait()
	for i := 0; i < n; i++ {
		if !equalImages(seq[i].img, par[i].img) || !equalMasks(seq[i].m, par[i].m) || seq[i].pt != par[i].pt || seq[i].in != par[i].in {
			t.Fatalf("index %d: concurrent result differs from sequential", i)
		}
	}
	distinct := 0
	for i := 1; i < n; i++ {
		if !equalImages(seq[i].img, seq[0].img) {
			distinct++
		}
	}
	if distinct != n-1 {
		t.Fatalf("only %d of %d other indices gave a different image", distinct, n-1)
	}
	a, _, _, _ := p.Apply(img, m, pt, 42, 4, 0)
	b, _, _, _ := p.Apply(img, m, pt, 43, 3, 0)
	if equalImages(a, seq[0].img) || equalImages(b, seq[0].img) {
		t.Fatal("another epoch or root seed gave the same image")
	}
	if !equalImages(img, img0) || !equalMasks(m, m0) || *pt != pt0 {
		t.Fatal("Apply modified its inputs")
	}
}

// TestStreamsIndependent: inserting a transform before another (here a
// never-applied vflip and an always-applied brightness) does not change the
// other's draws: the rotation is the same.
func TestStreamsIndependent(t *testing.T) {
	img, m, pt := testSample(40, 40, data.Point{X: 10, Y: 12})
	rot := Spec{Name: "rotate", Prob: 0.5, Params: map[string]any{"degrees": 40}}
	a := mustBuild(t, rot)
	b := mustBuild(t, Spec{Name: "vflip", Prob: 0}, Spec{Name: "contrast", Prob: 1}, rot)
	for idx := 0; idx < 10; idx++ {
		_, ma, pa, _ := a.Apply(img, m, pt, 5, 0, idx)
		_, mb, pb, _ := b.Apply(img, m, pt, 5, 0, idx)
		if *pa != *pb || !equalMasks(ma, mb) {
			t.Fatalf("index %d: inserting transforms changed the rotation draw: %v vs %v", idx, *pa, *pb)
		}
	}
}

// TestIdentityParams: parameters that make a transform the identity give
// bitwise identical output, even for values outside [0, 1] (no clamping).
func TestIdentityParams(t *testing.T) {
	img, m, pt := testSample(33, 21, data.Point{X: 7.5, Y: 9.25})
	img.Pix[5] = 1.7
	img.Pix[6] = -0.3
	specs := []Spec{
		{Name: "rot90", Params: map[string]any{"k": []any{0}}},
		{Name: "rotate", Params: map[string]any{"degrees": []any{0, 0}}},
		{Name: "scale", Params: map[string]any{"range": []any{1, 1}}},
		{Name: "translate", Params: map[string]any{"fraction": 0}},
		{Name: "crop", Params: map[string]any{"area": []any{1, 1}, "aspect": []any{1, 1}}},
		{Name: "crop", Params: map[string]any{"size": []any{33, 21}}},
		{Name: "elastic", Params: map[string]any{"alpha": 0}},
		{Name: "brightness", Params: map[string]any{"range": 1}},
		{Name: "contrast", Params: map[string]any{"range": 1}},
		{Name: "saturation", Params: map[string]any{"range": 1}},
		{Name: "hue", Params: map[string]any{"shift": 0}},
		{Name: "gamma", Params: map[string]any{"range": 1}},
		{Name: "blur", Params: map[string]any{"sigma": 0}},
		{Name: "noise", Params: map[string]any{"sigma": 0}},
		{Name: "erase", Params: map[string]any{"area": 0}},
	}
	for i := range specs {
		specs[i].Prob = 1
		p := mustBuild(t, specs[i])
		oi, om, op, in := p.Apply(img, m, pt, 1, 2, 3)
		if !equalImages(oi, img) || !equalMasks(om, m) || *op != *pt || !in {
			t.Errorf("%s with identity parameters %v changed the sample", specs[i].Name, specs[i].Params)
		}
	}
	// All of them chained.
	p := mustBuild(t, specs...)
	oi, om, op, _ := p.Apply(img, m, pt, 1, 2, 3)
	if !equalImages(oi, img) || !equalMasks(om, m) || *op != *pt {
		t.Error("the chain of identity transforms changed the sample")
	}
	// Rotations by 360° and 4 quarter turns are exact too.
	p = mustBuild(t, Spec{Name: "rotate", Prob: 1, Params: map[string]any{"degrees": []any{360, 360}}})
	sq, msq, psq := testSample(20, 20, data.Point{X: 3, Y: 4})
	oi, om, op, _ = p.Apply(sq, msq, psq, 0, 0, 0)
	if !equalImages(oi, sq) || !equalMasks(om, msq) || *op != *psq {
		t.Error("rotation by 360° is not the identity")
	}
}

// TestPhotometric: colour transforms leave the mask and the point untouched,
// keep the image in [0, 1], and compute hand-checked values.
func TestPhotometric(t *testing.T) {
	img, m, pt := testSample(32, 24, data.Point{X: 9, Y: 11})
	for _, n := range []string{"brightness", "contrast", "saturation", "hue", "gamma", "blur", "noise", "erase"} {
		p := mustBuild(t, Spec{Name: n, Prob: 1})
		for idx := 0; idx < 5; idx++ {
			oi, om, op, in := p.Apply(img, m, pt, 11, 0, idx)
			if !equalMasks(om, m) || *op != *pt || !in {
				t.Fatalf("%s changed the mask or the point", n)
			}
			if equalImages(oi, img) {
				t.Fatalf("%s (default parameters) left the image unchanged at index %d", n, idx)
			}
			for _, v := range oi.Pix {
				if !(v >= 0 && v <= 1) {
					t.Fatalf("%s produced %v outside [0, 1]", n, v)
				}
			}
		}
	}

	one := func(spec Spec, pix ...float32) []float32 {
		t.Helper()
		im := &data.Image{W: len(pix) / 3, H: 1, C: 3, Pix: pix}
		spec.Prob = 1
		oi, _, _, _ := mustBuild(t, spec).Apply(im, nil, nil, 0, 0, 0)
		return oi.Pix
	}
	near := func(what string, got []float32, want ...float64) {
		t.Helper()
		for i := range want {
			if math.Abs(float64(got[i])-want[i]) > 1e-6 {
				t.Fatalf("%s: got %v, want %v", what, got, want)
			}
		}
	}
	// brightness 1.5: 0.4 -> 0.6, 0.8 -> 1.2 clamped to 1.
	near("brightness", one(Spec{Name: "brightness", Params: map[string]any{"range": 1.5}}, 0.4, 0.8, 0), 0.6, 1, 0)
	// gamma 2: 0.5 -> 0.25, 0.9 -> 0.81.
	near("gamma", one(Spec{Name: "gamma", Params: map[string]any{"range": 2}}, 0.5, 0.9, 1), 0.25, 0.81, 1)
	// saturation 0: every channel becomes the luma 0.299·1 + 0.587·0.5 + 0.114·0 = 0.5925.
	near("saturation", one(Spec{Name: "saturation", Params: map[string]any{"range": 0}}, 1, 0.5, 0), 0.5925, 0.5925, 0.5925)
	// hue +1/3 turn: pure red becomes pure green.
	near("hue", one(Spec{Name: "hue", Params: map[string]any{"shift": []any{1.0 / 3, 1.0 / 3}}}, 1, 0, 0), 0, 1, 0)
	// contrast 0.5 on a 2-pixel image: lumas 0.2 and 0.6 (grey pixels), mean m = 0.4;
	// v' = 0.4 + 0.5 (v - 0.4): 0.3 and 0.5.
	near("contrast", one(Spec{Name: "contrast", Params: map[string]any{"range": 0.5}}, 0.2, 0.6, 0.2, 0.6, 0.2, 0.6), 0.3, 0.5, 0.3, 0.5, 0.3, 0.5)

	// blur σ = 1 of a unit impulse: centre = k0² with k0 = 1/Σ_{d=-3..3} e^{-d²/2} = 0.398943 (kernel truncated at 3σ).
	im := data.NewImage(21, 21, 1)
	im.Set(0, 10, 10, 1)
	oi, _, _, _ := mustBuild(t, Spec{Name: "blur", Prob: 1, Params: map[string]any{"sigma": 1}}).Apply(im, nil, nil, 0, 0, 0)
	k0 := 1 / (1 + 2*(math.Exp(-0.5)+math.Exp(-2)+math.Exp(-4.5)))
	if got := float64(oi.At(0, 10, 10)); math.Abs(got-k0*k0) > 1e-6 {
		t.Fatalf("blurred impulse centre %v, want %v", got, k0*k0)
	}

	// noise σ = 0.05 on mid grey: sample std within 5 % of 0.05, mean within 0.002 of 0.5.
	grey := data.NewImage(64, 64, 3)
	for i := range grey.Pix {
		grey.Pix[i] = 0.5
	}
	oi, _, _, _ = mustBuild(t, Spec{Name: "noise", Prob: 1, Params: map[string]any{"sigma": 0.05}}).Apply(grey, nil, nil, 0, 0, 0)
	var s, s2 float64
	for _, v := range oi.Pix {
		s += float64(v)
		s2 += float64(v) * float64(v)
	}
	nn := float64(len(oi.Pix))
	mean := s / nn
	sd := math.Sqrt(s2/nn - mean*mean)
	if math.Abs(mean-0.5) > 0.002 || math.Abs(sd-0.05) > 0.0025 {
		t.Fatalf("noise mean %v sd %v, want 0.5 and 0.05", mean, sd)
	}

	// erase a fixed 25 % square (aspect 1) of a 40x40 grey image with value 1: exactly 20x20 px per channel.
	g40 := data.NewImage(40, 40, 3)
	oi, _, _, _ = mustBuild(t, Spec{Name: "erase", Prob: 1, Params: map[string]any{"area": 0.25, "aspect": 1, "value": 1}}).Apply(g40, nil, nil, 0, 0, 0)
	cnt := 0
	for _, v := range oi.Pix {
		if v == 1 {
			cnt++
		}
	}
	if cnt != 3*400 {
		t.Fatalf("erase filled %d values, want 3·20·20 = 1200", cnt)
	}

	// Grey (1-channel) images: saturation and hue leave them unchanged.
	g1 := data.NewImage(8, 8, 1)
	for i := range g1.Pix {
		g1.Pix[i] = float32(i) / 64
	}
	for _, n := range []string{"saturation", "hue"} {
		oi, _, _, _ := mustBuild(t, Spec{Name: n, Prob: 1}).Apply(g1, nil, nil, 0, 0, 0)
		if !equalImages(oi, g1) {
			t.Fatalf("%s changed a 1-channel image", n)
		}
	}
}

// TestProbability: over 2000 indices a p = 0.3 flip is applied 30 % ± 3 % of
// the time; p = 0 never, p = 1 always.
func TestProbability(t *testing.T) {
	img, _, pt := testSample(8, 8, data.Point{X: 1, Y: 2})
	for _, c := range []struct{ p, lo, hi float64 }{{0.3, 0.27, 0.33}, {0, 0, 0}, {1, 1, 1}} {
		p := mustBuild(t, Spec{Name: "hflip", Prob: c.p})
		n := 0
		for idx := 0; idx < 2000; idx++ {
			_, _, op, _ := p.Apply(img, nil, pt, 8, 0, idx)
			if op.X == 6 {
				n++
			}
		}
		if f := float64(n) / 2000; f < c.lo || f > c.hi {
			t.Fatalf("p = %v: applied in %.3f of samples", c.p, f)
		}
	}
}

func TestNilMaskAndPoint(t *testing.T) {
	img, _, _ := testSample(16, 16, data.Point{X: 1, Y: 1})
	p := mustBuild(t, allTransforms()...)
	oi, om, op, in := p.Apply(img, nil, nil, 1, 1, 1)
	if oi == nil || om != nil || op != nil || !in {
		t.Fatalf("nil mask/point: got mask %v point %v inFrame %v", om, op, in)
	}
}

// TestParamErrors: every kind of config error names its key.
func TestParamErrors(t *testing.T) {
	cases := []struct {
		spec Spec
		want string
	}{
		{Spec{Name: "rotat", Prob: 0.5}, `augment[1].name: unknown transform "rotat" (known: blur, `},
		{Spec{Name: "rotat", Prob: 0.5}, `did you mean "rotate"?`},
		{Spec{Name: "hflip", Prob: 1.5}, "augment[1].p: probability 1.5 of transform hflip is outside [0, 1]"},
		{Spec{Name: "hflip", Prob: -0.1}, "augment[1].p: probability -0.1"},
		{Spec{Name: "hflip", Prob: math.NaN()}, "augment[1].p: probability NaN"},
		{Spec{Name: "rotate", Prob: 1, Params: map[string]any{"degrees": []any{15, -15}}}, "augment[1].params.degrees: min 15 > max -15"},
		{Spec{Name: "rotate", Prob: 1, Params: map[string]any{"degrees": -5}}, "augment[1].params.degrees: a single number v means the range [-v, v], so it must be >= 0, got -5"},
		{Spec{Name: "rotate", Prob: 1, Params: map[string]any{"degrees": "15"}}, "augment[1].params.degrees: expected a number or a range [min, max]"},
		{Spec{Name: "rotate", Prob: 1, Params: map[string]any{"degrees": []any{1, 2, 3}}}, "augment[1].params.degrees: expected a range [min, max] of two numbers, got 3 values"},
		{Spec{Name: "rotate", Prob: 1, Params: map[string]any{"angle": 15}}, "augment[1].params.angle: unknown parameter of transform rotate (known: degrees)"},
		{Spec{Name: "hflip", Prob: 1, Params: map[string]any{"p": 0.5}}, "augment[1].params.p: unknown parameter of transform hflip (known: none: hflip takes no parameters)"},
		{Spec{Name: "scale", Prob: 1, Params: map[string]any{"range": []any{0, 1.2}}}, "augment[1].params.range: value 0 outside the admissible range: expected scale factors (in (0, 100])"},
		{Spec{Name: "scale", Prob: 1, Params: map[string]any{"range": []any{1.2, 0.8}}}, "augment[1].params.range: min 1.2 > max 0.8"},
		{Spec{Name: "translate", Prob: 1, Params: map[string]any{"fraction": []any{0.2, 0.1}}}, "augment[1].params.fraction: min 0.2 > max 0.1"},
		{Spec{Name: "blur", Prob: 1, Params: map[string]any{"sigma": []any{-1, 1}}}, "augment[1].params.sigma: value -1 outside the admissible range"},
		{Spec{Name: "noise", Prob: 1, Params: map[string]any{"sigma": -0.1}}, "augment[1].params.sigma: value -0.1 outside"},
		{Spec{Name: "elastic", Prob: 1, Params: map[string]any{"sigma": 0}}, "augment[1].params.sigma: value 0 outside the admissible range: expected a smoothing width in pixels (in (0, 64])"},
		{Spec{Name: "elastic", Prob: 1, Params: map[string]any{"alpha": -3}}, "augment[1].params.alpha: value -3 outside"},
		{Spec{Name: "elastic", Prob: 1, Params: map[string]any{"alpha": "big"}}, "augment[1].params.alpha: expected a number, got big (string)"},
		{Spec{Name: "rot90", Prob: 1, Params: map[string]any{"k": []any{1, 4}}}, "augment[1].params.k: element 1 is 4: expected an integer in [0, 3]"},
		{Spec{Name: "rot90", Prob: 1, Params: map[string]any{"k": []any{}}}, "augment[1].params.k: expected a non-empty list"},
		{Spec{Name: "crop", Prob: 1, Params: map[string]any{"size": []any{32, 0}}}, "augment[1].params.size: element 1 is 0: expected a positive integer"},
		{Spec{Name: "crop", Prob: 1, Params: map[string]any{"size": 32, "area": 0.5}}, "augment[1].params.area: not allowed together with size"},
		{Spec{Name: "crop", Prob: 1, Params: map[string]any{"area": []any{0.5, 1.5}}}, "augment[1].params.area: value 1.5 outside"},
		{Spec{Name: "crop", Prob: 1, Params: map[string]any{"aspect": []any{2, 0.5}}}, "augment[1].params.aspect: min 2 > max 0.5"},
		{Spec{Name: "gamma", Prob: 1, Params: map[string]any{"range": []any{-1, 1}}}, "augment[1].params.range: value -1 outside"},
		{Spec{Name: "brightness", Prob: 1, Params: map[string]any{"range": []any{1.2, 0.8}}}, "augment[1].params.range: min 1.2 > max 0.8"},
		{Spec{Name: "hue", Prob: 1, Params: map[string]any{"shift": 0.7}}, "augment[1].params.shift: value -0.7 outside"},
		{Spec{Name: "erase", Prob: 1, Params: map[string]any{"value": 2}}, "augment[1].params.value: value 2 outside"},
		{Spec{Name: "contrast", Prob: 1, Params: map[string]any{"range": math.Inf(1)}}, "augment[1].params.range: value +Inf outside"},
	}
	for _, c := range cases {
		_, err := Build([]Spec{{Name: "hflip", Prob: 0.5}, c.spec})
		if err == nil {
			t.Errorf("%v: no error, want %q", c.spec, c.want)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v:\n got %q\nwant %q", c.spec, err, c.want)
		}
	}
}

// TestDescribe checks the sentences the report prints, and the resolved specs.
func TestDescribe(t *testing.T) {
	p := mustBuild(t,
		Spec{Name: "rotate", Prob: 0.5},
		Spec{Name: "hflip", Prob: 0.5},
		Spec{Name: "gamma", Prob: 0.25, Params: map[string]any{"range": []any{0.7, 1.5}}},
		Spec{Name: "elastic", Prob: 0.3, Params: map[string]any{"alpha": 100, "sigma": 8}},
	)
	d := p.Describe()
	want := []string{
		"rotation about the image centre by a uniform angle in [-15°, 15°] (counter-clockwise positive) with probability 0.5, bilinear for the image, nearest for the mask, the fovea point mapped exactly; areas moved in from outside the frame are 0 in the image and background in the mask",
		"horizontal flip with probability 0.5, exact for the image, the mask and the fovea point (x' = W-1-x, pixel-centre convention)",
		"gamma correction v' = v^g with a uniform exponent g in [0.7, 1.5] with probability 0.25, image only (mask and fovea point unchanged), result clamped to [0, 1]",
	}
	for i, w := range want {
		if d[i] != w {
			t.Errorf("Describe()[%d]\n got %q\nwant %q", i, d[i], w)
		}
	}
	// RMS displacement of the elastic field: α·sqrt(1/3)·Σk² with the σ = 8
	// kernel; continuous approximation α·sqrt(1/3)/(2·sqrt(π)·σ) = 2.036 px.
	if !strings.Contains(d[3], "σ = 8 px") || !strings.Contains(d[3], "α = 100 px") || !strings.Contains(d[3], "expected RMS displacement 2.04 px per axis") {
		t.Errorf("elastic sentence %q", d[3])
	}
	for i, s := range mustBuild(t, allTransforms()...).Describe() {
		if !strings.Contains(s, "with probability 0.7") {
			t.Errorf("sentence %d lacks its probability: %q", i, s)
		}
	}
	specs := p.Specs()
	if got := fmt.Sprint(specs[0].Params["degrees"]); got != "[-15 15]" {
		t.Errorf("resolved rotate degrees %s, want [-15 15]", got)
	}
	if got := fmt.Sprint(specs[3].Params); got != "map[alpha:100 sigma:8]" {
		t.Errorf("resolved elastic params %s", got)
	}
}

// TestElasticRMS measures the field's RMS displacement against the sentence's
// figure: within 10 % on a 128x128 frame.
func TestElasticRMS(t *testing.T) {
	e := elastic{alpha: 100, sigma: 8, kernel: gaussKernel(8)}
	const w, h = 128, 128
	n := w * h
	field := e.field(data.NewRand(3), w, h)
	var s2 float64
	for _, v := range field {
		s2 += float64(v) * float64(v)
	}
	rms := math.Sqrt(s2 / float64(2*n))
	if math.Abs(rms-e.rms())/e.rms() > 0.1 {
		t.Fatalf("measured RMS displacement %.3f px vs described %.3f px", rms, e.rms())
	}
}

// TestGammaTable: the table-based v^g agrees with math.Pow within 2e-5 over
// [0, 1] for exponents across the usual range (bound derived in colour.go).
func TestGammaTable(t *testing.T) {
	im := data.NewImage(1000, 1, 1)
	r := data.NewRand(1)
	for i := range im.Pix {
		im.Pix[i] = float32(r.Float64())
	}
	im.Pix[0], im.Pix[1], im.Pix[2] = 0, 1, 1e-5
	for _, g := range []float64{0.05, 0.3, 0.5, 0.8, 1.25, 2, 3, 20} {
		oi, _, _, _ := mustBuild(t, Spec{Name: "gamma", Prob: 1, Params: map[string]any{"range": g}}).Apply(im, nil, nil, 0, 0, 0)
		worst := 0.0
		for i, v := range im.Pix {
			worst = math.Max(worst, math.Abs(float64(oi.Pix[i])-math.Pow(float64(v), g)))
		}
		if worst > 2e-5 {
			t.Errorf("gamma %v: largest error %g > 2e-5", g, worst)
		}
	}
}

// TestOutputSize: the output size is fixed unless rot90 meets a non-square
// input or a fixed-size crop is applied only sometimes; the reported size
// matches Apply's output.
func TestOutputSize(t *testing.T) {
	cases := []struct {
		specs  []Spec
		w, h   int
		ow, oh int
		err    string
	}{
		{typical(), 64, 48, 64, 48, ""},
		{[]Spec{{Name: "rot90", Prob: 0.5}}, 32, 32, 32, 32, ""},
		{[]Spec{{Name: "rot90", Prob: 1, Params: map[string]any{"k": []any{1, 3}}}}, 64, 48, 48, 64, ""},
		{[]Spec{{Name: "rot90", Prob: 0.5}}, 64, 48, 0, 0, "augment[0] (rot90, p = 0.5): the output size varies between samples (48x64, 64x48) for a 64x48 input"},
		{[]Spec{{Name: "hflip", Prob: 1}, {Name: "crop", Prob: 1, Params: map[string]any{"size": 40}}}, 64, 48, 40, 40, ""},
		{[]Spec{{Name: "crop", Prob: 0.5, Params: map[string]any{"size": []any{40, 30}}}}, 64, 48, 0, 0, "augment[0] (crop, p = 0.5): the output size varies between samples (40x30, 64x48)"},
		{[]Spec{{Name: "crop", Prob: 0.5, Params: map[string]any{"size": []any{64, 48}}}}, 64, 48, 64, 48, ""},
	}
	for i, c := range cases {
		p := mustBuild(t, c.specs...)
		ow, oh, err := p.OutputSize(c.w, c.h)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("case %d: error %v, want %q", i, err, c.err)
			}
			continue
		}
		if err != nil || ow != c.ow || oh != c.oh {
			t.Errorf("case %d: %dx%d, %v; want %dx%d", i, ow, oh, err, c.ow, c.oh)
			continue
		}
		img, m, pt := testSample(c.w, c.h, data.Point{X: 10, Y: 10})
		for idx := 0; idx < 8; idx++ {
			oi, om, _, _ := p.Apply(img, m, pt, 0, 0, idx)
			if oi.W != ow || oi.H != oh || om.W != ow || om.H != oh {
				t.Fatalf("case %d index %d: Apply gave %dx%d, OutputSize %dx%d", i, idx, oi.W, oi.H, ow, oh)
			}
		}
	}
}

// TestDefaults: the resolved default parameters of every transform, as the
// package documentation lists them.
func TestDefaults(t *testing.T) {
	want := map[string]string{
		"hflip":      "map[]",
		"vflip":      "map[]",
		"rot90":      "map[k:[1 2 3]]",
		"rotate":     "map[degrees:[-15 15]]",
		"scale":      "map[range:[0.9 1.1]]",
		"translate":  "map[fraction:[-0.1 0.1]]",
		"crop":       "map[area:[0.6 1] aspect:[0.75 1.3333333333333333]]",
		"elastic":    "map[alpha:100 sigma:8]",
		"brightness": "map[range:[0.8 1.2]]",
		"contrast":   "map[range:[0.8 1.2]]",
		"saturation": "map[range:[0.8 1.2]]",
		"hue":        "map[shift:[-0.05 0.05]]",
		"gamma":      "map[range:[0.8 1.25]]",
		"blur":       "map[sigma:[0.5 1.5]]",
		"noise":      "map[sigma:[0.02 0.02]]",
		"erase":      "map[area:[0.02 0.2] aspect:[0.3 3.3] value:0]",
	}
	specs := mustBuild(t, allTransforms()...).Specs()
	if len(specs) != len(want) {
		t.Fatalf("%d transforms, want %d", len(specs), len(want))
	}
	for _, s := range specs {
		if got := fmt.Sprint(s.Params); got != want[s.Name] {
			t.Errorf("%s defaults %s, want %s", s.Name, got, want[s.Name])
		}
	}
}
