package data

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestNewPipelineErrors(t *testing.T) {
	cases := []struct {
		specs []StepSpec
		want  string
	}{
		{[]StepSpec{{Name: "rezise"}}, `unknown preprocessing step "rezise"`},
		{[]StepSpec{{Name: "rezise"}}, `did you mean "resize"`},
		{[]StepSpec{{Name: "roi", Params: map[string]any{"sise": 3}}}, "preprocess.roi.sise: unknown parameter (known: disc_factor, size, window)"},
		{[]StepSpec{{Name: "resize", Params: map[string]any{"size": -3}}}, "preprocess.resize.size: expected an integer >= 1, got -3"},
		{[]StepSpec{{Name: "resize", Params: map[string]any{"size": "big"}}}, "preprocess.resize.size"},
		{[]StepSpec{{Name: "clahe", Params: map[string]any{"clip": 0.0}}}, "preprocess.clahe.clip"},
		{[]StepSpec{{Name: "normalize", Params: map[string]any{"mode": "global"}}}, "preprocess.normalize.mode: expected one of per-image, fixed"},
		{[]StepSpec{{Name: "normalize", Params: map[string]any{"mode": "fixed"}}}, "mode fixed needs mean and std"},
		{[]StepSpec{{Name: "normalize", Params: map[string]any{"mode": "fixed", "mean": []any{0.5, 0.5}, "std": 0.2}}}, "need 1 or 3 values"},
		{[]StepSpec{{Name: "green"}, {Name: "normalize", Params: map[string]any{"mode": "fixed", "mean": []any{0.5, 0.5, 0.5}, "std": 0.2}}}, "need 1 or 1 values"},
		{[]StepSpec{{Name: "roi", Params: map[string]any{"window": 100, "disc_factor": 2.0}}}, "either window or disc_factor"},
		{[]StepSpec{{Name: "green"}, {Name: "resize"}}, `"resize" is geometric and must come before the intensity step "green"`},
		{[]StepSpec{{Name: "resize"}, {Name: "fov-crop"}}, "fov-crop must be the first step"},
	}
	for _, c := range cases {
		_, err := NewPipeline(c.specs)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: err = %v, want it to contain %q", c.specs, err, c.want)
		}
	}
}

func TestPipelineDescribeAndResolved(t *testing.T) {
	p, err := NewPipeline([]StepSpec{{Name: "fov-crop"}, {Name: "resize", Params: map[string]any{"size": 256}}, {Name: "green"}, {Name: "clahe"}, {Name: "normalize"}})
	if err != nil {
		t.Fatal(err)
	}
	d := p.Describe()
	if len(d) != 5 || !strings.Contains(d[1], "256×256") || !strings.Contains(d[3], "8×8 tile grid") || !strings.Contains(d[3], "clip limit 2") {
		t.Fatalf("describe: %q", d)
	}
	r := p.Resolved()
	if r[0].Params["threshold"] != 0.08 || r[3].Params["tiles"] != 8 || r[4].Params["mode"] != "per-image" {
		t.Fatalf("resolved %v", r)
	}
	if p.Channels(3) != 1 || p.NeedsCenter() {
		t.Fatalf("channels %d needsCenter %v", p.Channels(3), p.NeedsCenter())
	}
	if f := p.Fingerprint(); !strings.Contains(f, "resize size=256;") {
		t.Fatalf("fingerprint %q", f)
	}
}

// TestFOVCrop: a 10×8 black image with a bright 5×5 block at x 2..6,
// y 1..5 is cropped to that block: T is the translation (-2, -1).
func TestFOVCrop(t *testing.T) {
	img := NewImage(10, 8, 3)
	for y := 1; y <= 5; y++ {
		for x := 2; x <= 6; x++ {
			img.Set(0, x, y, 0.5)
		}
	}
	img.Set(1, 9, 7, 0.05) // below threshold: ignored
	p, _ := NewPipeline([]StepSpec{{Name: "fov-crop"}})
	pr, err := p.Prepare(img, nil, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if pr.T != (Affine{1, 0, -2, 0, 1, -1}) || pr.W != 5 || pr.H != 5 {
		t.Fatalf("T %v size %dx%d", pr.T, pr.W, pr.H)
	}
	for _, v := range pr.X.Pix[:25] {
		if v != 0.5 {
			t.Fatalf("cropped red %v", pr.X.Pix[:25])
		}
	}
	if _, err := p.Prepare(NewImage(4, 4, 3), nil, nil, 0); err == nil || !strings.Contains(err.Error(), "no field of view") {
		t.Fatalf("black image: %v", err)
	}
}

// TestROIDiscFactor: disc diameter 50, factor 2 -> a 100 px window at
// x0 = y0 = round(100 - 50) = 50, resampled to 64: x' = (x - 50 + 0.5)·0.64
// - 0.5, so T = [0.64 0 -32.18; 0 0.64 -32.18].
func TestROIDiscFactor(t *testing.T) {
	p, err := NewPipeline([]StepSpec{{Name: "roi", Params: map[string]any{"size": 64, "disc_factor": 2.0}}})
	if err != nil {
		t.Fatal(err)
	}
	T, w, h, err := p.Geometry(NewImage(300, 200, 3), &Point{100, 100}, 50)
	if err != nil || w != 64 || h != 64 {
		t.Fatal(err)
	}
	want := Affine{0.64, 0, -32.18, 0, 0.64, -32.18}
	for i := range want {
		if math.Abs(T[i]-want[i]) > 1e-12 {
			t.Fatalf("T = %v, want %v", T, want)
		}
	}
	if _, _, _, err := p.Geometry(NewImage(300, 200, 3), &Point{100, 100}, 0); err == nil || !strings.Contains(err.Error(), "disc diameter") {
		t.Fatalf("no diameter: %v", err)
	}
}

// TestResizeThenROI: resize 2124×2056 to 1062 (scale exactly 0.5, content
// 1062×1028 centred with oy = 17), then a 256-px window in original pixels
// (128 px in the resized frame) resampled to 128: total scale 0.5.
func TestResizeThenROI(t *testing.T) {
	p, err := NewPipeline([]StepSpec{{Name: "resize", Params: map[string]any{"size": 1062}}, {Name: "roi", Params: map[string]any{"size": 128, "window": 256}}})
	if err != nil {
		t.Fatal(err)
	}
	T, w, h, err := p.Geometry(NewImage(2124, 2056, 1), &Point{1000, 1000}, 0)
	if err != nil || w != 128 || h != 128 {
		t.Fatal(err)
	}
	// resize: x' = 0.5x - 0.25, y' = 0.5y - 0.25 + 17; centre -> (499.75,
	// 516.75); window x0 = round(435.75) = 436, y0 = round(452.75) = 453;
	// crop at scale 1: x'' = x' - 436, y'' = y' - 453.
	want := Affine{0.5, 0, -436.25, 0, 0.5, -436.25}
	for i := range want {
		if math.Abs(T[i]-want[i]) > 1e-12 {
			t.Fatalf("T = %v, want %v", T, want)
		}
	}
}

// TestCLAHEHandWorked: a 2×2 plane [0 0 0 1] with one tile and clip 2:
// limit = max(1, 2·4/256) = 1, so bin 0 (count 3) is clipped to 1 and the
// excess 2 spread as 2/256 per bin; lut[0] = (1 + 2/256)/4 = 0.251953125,
// lut[255] = 4/4 = 1.
func TestCLAHEHandWorked(t *testing.T) {
	p, err := NewPipeline([]StepSpec{{Name: "clahe", Params: map[string]any{"tiles": 1, "clip": 2}}})
	if err != nil {
		t.Fatal(err)
	}
	x := &Image{W: 2, H: 2, C: 1, Pix: []float32{0, 0, 0, 1}}
	out := p.Intensity(x)
	want := []float32{0.251953125, 0.251953125, 0.251953125, 1}
	for i := range want {
		if out.Pix[i] != want[i] {
			t.Fatalf("clahe = %v, want %v", out.Pix, want)
		}
	}
	if x.Pix[0] != 0 {
		t.Fatal("input modified")
	}
	// On a real image with 8 tiles: values stay in [0, 1] and contrast of a
	// low-contrast synthetic image increases (green channel sd grows).
	img, _, _ := Synthesize(0, 1, SynthOptions{W: 128, H: 128})
	q, _ := NewPipeline([]StepSpec{{Name: "green"}, {Name: "clahe"}})
	g := q.Intensity(img)
	sd := func(v []float32) float64 {
		var m, s float64
		for _, f := range v {
			m += float64(f)
		}
		m /= float64(len(v))
		for _, f := range v {
			s += (float64(f) - m) * (float64(f) - m)
		}
		return math.Sqrt(s / float64(len(v)))
	}
	for _, v := range g.Pix {
		if v < 0 || v > 1 {
			t.Fatalf("clahe value %v outside [0,1]", v)
		}
	}
	if g.C != 1 || sd(g.Pix) <= sd(img.Pix[128*128:2*128*128]) {
		t.Fatalf("clahe did not raise contrast: %v vs %v", sd(g.Pix), sd(img.Pix[128*128:2*128*128]))
	}
}

// TestNormalize: [0 .5 1 .5] has mean 0.5 and population sd sqrt(0.125) =
// 0.35355, giving [-1.41421 0 1.41421 0]; fixed mean 0.5 std 0.25 gives
// [-2 0 2 0].
func TestNormalize(t *testing.T) {
	x := &Image{W: 2, H: 2, C: 1, Pix: []float32{0, 0.5, 1, 0.5}}
	p, _ := NewPipeline([]StepSpec{{Name: "normalize"}})
	out := p.Intensity(x)
	want := []float64{-math.Sqrt2, 0, math.Sqrt2, 0}
	for i := range want {
		if math.Abs(float64(out.Pix[i])-want[i]) > 1e-6 {
			t.Fatalf("per-image = %v, want %v", out.Pix, want)
		}
	}
	q, err := NewPipeline([]StepSpec{{Name: "normalize", Params: map[string]any{"mode": "fixed", "mean": 0.5, "std": 0.25}}})
	if err != nil {
		t.Fatal(err)
	}
	out = q.Intensity(x)
	for i, w := range []float32{-2, 0, 2, 0} {
		if out.Pix[i] != w {
			t.Fatalf("fixed = %v", out.Pix)
		}
	}
}

// TestPrepareSyntheticROI: an ROI of 2.5 disc diameters around the true
// disc centre puts the disc in the middle of the input, and the fovea
// round-trips through T exactly.
func TestPrepareSyntheticROI(t *testing.T) {
	img, m, tr := Synthesize(2, 5, SynthOptions{W: 400, H: 360})
	p, err := NewPipeline([]StepSpec{{Name: "roi", Params: map[string]any{"size": 96, "disc_factor": 2.5}}, {Name: "normalize"}})
	if err != nil {
		t.Fatal(err)
	}
	geo, err := p.PrepareGeometric(img, m, &tr.DiscCenter, tr.DiscDiamV)
	if err != nil {
		t.Fatal(err)
	}
	pr, err := p.Prepare(img, m, &tr.DiscCenter, tr.DiscDiamV)
	if err != nil {
		t.Fatal(err)
	}
	if geo.T != pr.T || pr.X.W != 96 || pr.X.C != 3 {
		t.Fatalf("prepare %v vs %v", geo.T, pr.T)
	}
	c, dv, _, ok := DiscGeometry(pr.M)
	if !ok || math.Abs(c.X-47.5) > 1.5 || math.Abs(c.Y-47.5) > 1.5 {
		t.Fatalf("disc centre in ROI %v, want near (47.5, 47.5)", c)
	}
	// Disc spans 1/2.5 of the window: about 38 px of 96.
	if math.Abs(dv-96/2.5) > 2 {
		t.Fatalf("disc height in ROI %v, want about 38.4", dv)
	}
	inv, _ := pr.T.Inverse()
	if b := inv.Apply(pr.T.Apply(tr.Fovea)); b.Dist(tr.Fovea) > 1e-9 {
		t.Fatalf("fovea round trip %v vs %v", b, tr.Fovea)
	}
	// Intensity(PrepareGeometric) == Prepare.
	x := p.Intensity(geo.X)
	for i := range x.Pix {
		if x.Pix[i] != pr.X.Pix[i] {
			t.Fatalf("Intensity after PrepareGeometric differs at %d", i)
		}
	}
	// Paste back of the downscaled ROI mask: disc pixel count within 5 %.
	back := PasteMask(pr.M, pr.T, img.W, img.H)
	count := func(mm *Mask) int {
		n := 0
		for _, v := range mm.Pix {
			if v < Background {
				n++
			}
		}
		return n
	}
	if a, b := count(back), count(m); math.Abs(float64(a-b)) > 0.05*float64(b) {
		t.Fatalf("pasted disc %d px vs original %d", a, b)
	}
}

// TestPrepareSample: with no centre given, the ROI is centred on the mask's
// disc; a ground-truth-free sample without disc centre errors naming it.
func TestPrepareSample(t *testing.T) {
	ss := SyntheticSamples("syn", 1, 3, SynthOptions{W: 200, H: 200})
	p, _ := NewPipeline([]StepSpec{{Name: "roi", Params: map[string]any{"size": 64, "disc_factor": 2.0}}})
	pr, err := p.PrepareSample(ss[0], nil, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	c, dv, _, ok := DiscGeometry(pr.M)
	if !ok || math.Abs(c.Y-31.5) > 1 || math.Abs(dv-32) > 2 {
		t.Fatalf("disc in ROI at %v height %v", c, dv)
	}
	bare := &Sample{ID: "x/none", W: 8, H: 8}
	bare.SetLoader(func() (*Image, *Mask, error) { return NewImage(8, 8, 3), nil, nil })
	if _, err := p.PrepareSample(bare, nil, 0, false); err == nil || !strings.Contains(err.Error(), "sample x/none (in memory): preprocess.roi: needs a crop centre") {
		t.Fatalf("err %v", err)
	}
}

// TestNormalizeDataset: two 1×2 training images [0 1] and [1 1] after
// green (single channel): mean 3/4, population sd sqrt(3/4 - 9/16) =
// sqrt(3)/4 = 0.4330127; 0.75 maps to 0 and 1 to (1-0.75)/0.4330127 =
// 0.5773503.
func TestNormalizeDataset(t *testing.T) {
	p, err := NewPipeline([]StepSpec{{Name: "green"}, {Name: "normalize", Params: map[string]any{"mode": "dataset"}}})
	if err != nil {
		t.Fatal(err)
	}
	if !p.NeedsDatasetStats() || !strings.Contains(p.Describe()[1], "computed once over the training split") {
		t.Fatalf("unfitted: %v %q", p.NeedsDatasetStats(), p.Describe())
	}
	mk := func(g0, g1 float32) *Image {
		return &Image{W: 2, H: 1, C: 3, Pix: []float32{9, 9, g0, g1, 9, 9}}
	}
	if err := p.FitDatasetStats([]*Image{mk(0, 1), mk(1, 1)}); err != nil {
		t.Fatal(err)
	}
	out := p.Intensity(mk(0.75, 1))
	if out.C != 1 || math.Abs(float64(out.Pix[0])) > 1e-7 || math.Abs(float64(out.Pix[1])-0.5773503) > 1e-6 {
		t.Fatalf("normalised %v", out.Pix)
	}
	if p.NeedsDatasetStats() || !strings.Contains(p.Describe()[1], "mean 0.75 and std 0.433, computed over 2 training images") {
		t.Fatalf("fitted describe %q", p.Describe())
	}
	if r := p.Resolved()[1].Params; r["mode"] != "dataset" || r["mean"].([]float64)[0] != 0.75 {
		t.Fatalf("resolved %v", r)
	}
	if _, err := NewPipeline([]StepSpec{{Name: "normalize", Params: map[string]any{"mode": "dataset", "mean": 0.5}}}); err == nil || !strings.Contains(err.Error(), "only given with mode fixed") {
		t.Fatalf("dataset with mean: %v", err)
	}
	q, _ := NewPipeline([]StepSpec{{Name: "normalize"}})
	if err := q.FitDatasetStats(nil); err == nil || !strings.Contains(err.Error(), "mode dataset") {
		t.Fatalf("fit without dataset step: %v", err)
	}
}

// TestRealIDRiDGeometry runs fov-crop and ROI crops on a real IDRiD image
// (../shared/data/idrid-localization, CC BY 4.0): the field of view of the
// 4288×2848 photograph spans about columns 276–3682 and every row (checked
// visually); an 800-px window at the optic-disc centre of labels.csv
// (651, 1453) has a bright centre, and one at the fovea (1914, 1617) a dark
// centre, which checks the coordinate convention end to end.
func TestRealIDRiDGeometry(t *testing.T) {
	path := filepath.Join("..", "..", "shared", "data", "idrid-localization", "images", "IDRiD_001.jpg")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("real data not available (%v): needs ../shared/data next to the module", err)
	}
	img, err := ReadImage(path)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := NewPipeline([]StepSpec{{Name: "fov-crop"}})
	T, w, h, err := p.Geometry(img, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if x0 := -T[2]; x0 < 200 || x0 > 400 || w < 3300 || w > 3550 || h != 2848 || T[5] != 0 {
		t.Fatalf("fov-crop T %v size %dx%d", T, w, h)
	}
	q, _ := NewPipeline([]StepSpec{{Name: "roi", Params: map[string]any{"size": 128, "window": 800}}})
	centreRatio := func(c Point, half int) float64 {
		pr, err := q.Prepare(img, nil, &c, 0)
		if err != nil {
			t.Fatal(err)
		}
		var in, all float64
		for y := 0; y < 128; y++ {
			for x := 0; x < 128; x++ {
				v := float64(pr.X.At(1, x, y))
				all += v
				if x >= 64-half && x < 64+half && y >= 64-half && y < 64+half {
					in += v
				}
			}
		}
		return (in / float64(4*half*half)) / (all / (128 * 128))
	}
	if r := centreRatio(Point{651, 1453}, 16); r < 1.3 {
		t.Fatalf("disc ROI centre/mean green %v, want a bright disc (> 1.3)", r)
	}
	if r := centreRatio(Point{1914, 1617}, 8); r > 0.95 {
		t.Fatalf("fovea ROI centre/mean green %v, want a dark fovea (< 0.95)", r)
	}
}
