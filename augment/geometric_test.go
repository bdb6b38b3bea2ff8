package augment

import (
	"math"
	"strings"
	"testing"

	"github.com/refugelab/refugelab/data"
)

// testSample returns a W x H RGB image with a smooth pattern, a mask with a
// rim ring (128) around a cup disc (0) of radius 3 centred at pt, and pt.
// The cup disc is the "dot" whose centroid must follow the point.
func testSample(w, h int, pt data.Point) (*data.Image, *data.Mask, *data.Point) {
	img := data.NewImage(w, h, 3)
	m := data.NewMask(w, h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			for c := 0; c < 3; c++ {
				img.Set(c, x, y, float32(0.5+0.4*math.Sin(0.3*float64(x)+0.2*float64(y)+float64(c))))
			}
			d := math.Hypot(float64(x)-pt.X, float64(y)-pt.Y)
			switch {
			case d <= 3:
				m.Pix[y*w+x] = data.Cup
			case d <= 6:
				m.Pix[y*w+x] = data.Rim
			}
		}
	}
	return img, m, &pt
}

// cupCentroid returns the centroid of the cup (value 0) pixels and their count.
func cupCentroid(m *data.Mask) (data.Point, int) {
	var sx, sy float64
	n := 0
	for y := 0; y < m.H; y++ {
		for x := 0; x < m.W; x++ {
			if m.Pix[y*m.W+x] == data.Cup {
				sx += float64(x)
				sy += float64(y)
				n++
			}
		}
	}
	if n == 0 {
		return data.Point{}, 0
	}
	return data.Point{X: sx / float64(n), Y: sy / float64(n)}, n
}

// intensityCentroid returns the centroid of channel 0 weighted by the values
// above floor.
func intensityCentroid(im *data.Image, floor float32) data.Point {
	var sx, sy, sw float64
	for y := 0; y < im.H; y++ {
		for x := 0; x < im.W; x++ {
			if v := im.At(0, x, y); v > floor {
				sx += float64(v) * float64(x)
				sy += float64(v) * float64(y)
				sw += float64(v)
			}
		}
	}
	return data.Point{X: sx / sw, Y: sy / sw}
}

// dotInside tells whether the (possibly enlarged) dot around p lies fully
// inside the mask's frame: 6 px from every border.
func dotInside(p data.Point, m *data.Mask) bool {
	return p.X >= 6 && p.Y >= 6 && p.X <= float64(m.W)-7 && p.Y <= float64(m.H)-7
}

func mustBuild(t *testing.T, specs ...Spec) *Pipeline {
	t.Helper()
	p, err := Build(specs)
	if err != nil {
		t.Fatalf("Build(%v): %v", specs, err)
	}
	return p
}

func checkMaskCodes(t *testing.T, what string, m *data.Mask) {
	t.Helper()
	for i, v := range m.Pix {
		if v != data.Cup && v != data.Rim && v != data.Background {
			t.Fatalf("%s: mask pixel %d has value %d outside {0,128,255}", what, i, v)
		}
	}
}

// TestDotFollowsPoint draws a cup disc at the point and checks, for every
// geometric transform, that the transformed mask's cup centroid and the
// transformed point agree within 1 px, that the mask keeps only REFUGE codes,
// and (where the map is known in closed form) that the point is exactly where
// the formula puts it. Frame 64x48 (non-square) so that a width/height mix-up
// shows. For elastic deformations the centroid of the deformed dot differs
// from the image of its centre by a second-order term that grows with the
// field's strength (measured worst case over 300 draws: 0.77 px at the
// default α = 100, σ = 8; 0.69 px at α = 120, σ = 10; 1.2 px at α = 120,
// σ = 8; 4.0 px at α = 300, σ = 6 where the field nearly folds); the point
// mapping itself is exact (TestElasticInverse, TestUnfold).
func TestDotFollowsPoint(t *testing.T) {
	const W, H = 64, 48
	p0 := data.Point{X: 20.3, Y: 17.6}
	img, m, pt := testSample(W, H, p0)
	cx, cy := float64(W-1)/2, float64(H-1)/2
	rot := func(deg float64) data.Point {
		// Counter-clockwise on screen (y down): x' = cx + c dx + s dy,
		// y' = cy - s dx + c dy.
		a := deg * math.Pi / 180
		dx, dy := p0.X-cx, p0.Y-cy
		return data.Point{X: cx + math.Cos(a)*dx + math.Sin(a)*dy, Y: cy - math.Sin(a)*dx + math.Cos(a)*dy}
	}
	nan := data.Point{X: math.NaN()}
	// A Gaussian blob (σ = 2 px) at the point in a 1-channel image: its
	// intensity centroid must follow the point like the mask's dot does.
	blob := data.NewImage(W, H, 1)
	for y := 0; y < H; y++ {
		for x := 0; x < W; x++ {
			d2 := (float64(x)-p0.X)*(float64(x)-p0.X) + (float64(y)-p0.Y)*(float64(y)-p0.Y)
			blob.Set(0, x, y, float32(math.Exp(-d2/8)))
		}
	}
	cases := []struct {
		name   string
		spec   Spec
		want   data.Point // NaN X: no closed form (random position / field)
		ww, wh int
	}{
		{"hflip", Spec{Name: "hflip", Prob: 1}, data.Point{X: W - 1 - p0.X, Y: p0.Y}, W, H},
		{"vflip", Spec{Name: "vflip", Prob: 1}, data.Point{X: p0.X, Y: H - 1 - p0.Y}, W, H},
		{"rot90 k=1", Spec{Name: "rot90", Prob: 1, Params: map[string]any{"k": []any{1}}}, data.Point{X: p0.Y, Y: W - 1 - p0.X}, H, W},
		{"rot90 k=2", Spec{Name: "rot90", Prob: 1, Params: map[string]any{"k": []any{2}}}, data.Point{X: W - 1 - p0.X, Y: H - 1 - p0.Y}, W, H},
		{"rot90 k=3", Spec{Name: "rot90", Prob: 1, Params: map[string]any{"k": 3}}, data.Point{X: H - 1 - p0.Y, Y: p0.X}, H, W},
		{"rotate 30", Spec{Name: "rotate", Prob: 1, Params: map[string]any{"degrees": []any{30, 30}}}, rot(30), W, H},
		{"rotate -33", Spec{Name: "rotate", Prob: 1, Params: map[string]any{"degrees": []any{-33.0, -33.0}}}, rot(-33), W, H},
		{"scale 1.3", Spec{Name: "scale", Prob: 1, Params: map[string]any{"range": []any{1.3, 1.3}}},
			data.Point{X: cx + 1.3*(p0.X-cx), Y: cy + 1.3*(p0.Y-cy)}, W, H},
		{"scale 0.7", Spec{Name: "scale", Prob: 1, Params: map[string]any{"range": 0.7}},
			data.Point{X: cx + 0.7*(p0.X-cx), Y: cy + 0.7*(p0.Y-cy)}, W, H},
		{"translate 0.1", Spec{Name: "translate", Prob: 1, Params: map[string]any{"fraction": []any{0.1, 0.1}}},
			data.Point{X: p0.X + 6.4, Y: p0.Y + 4.8}, W, H},
		{"translate -0.15", Spec{Name: "translate", Prob: 1, Params: map[string]any{"fraction": []any{-0.15, -0.15}}},
			data.Point{X: p0.X - 9.6, Y: p0.Y - 7.2}, W, H},
		{"crop resized", Spec{Name: "crop", Prob: 1, Params: map[string]any{"area": []any{0.6, 0.6}, "aspect": []any{1.2, 1.2}}}, nan, W, H},
		{"crop fixed", Spec{Name: "crop", Prob: 1, Params: map[string]any{"size": []any{54, 42}}}, nan, 54, 42},
		{"elastic", Spec{Name: "elastic", Prob: 1}, nan, W, H},
		{"elastic strong", Spec{Name: "elastic", Prob: 1, Params: map[string]any{"alpha": 120, "sigma": 10}}, nan, W, H},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := mustBuild(t, c.spec)
			checked := 0
			for idx := 0; idx < 40; idx++ {
				oi, om, op, in := p.Apply(img, m, pt, 7, 0, idx)
				ob, _, _, _ := p.Apply(blob, m, pt, 7, 0, idx) // same draws: they do not depend on the pixels
				if oi.W != c.ww || oi.H != c.wh || om.W != c.ww || om.H != c.wh {
					t.Fatalf("output image %dx%d mask %dx%d, want %dx%d", oi.W, oi.H, om.W, om.H, c.ww, c.wh)
				}
				if in != insideFrame(*op, oi.W, oi.H) {
					t.Fatalf("point %v: inFrame = %v in the %dx%d frame", *op, in, oi.W, oi.H)
				}
				checkMaskCodes(t, c.name, om)
				if !math.IsNaN(c.want.X) && op.Dist(c.want) > 1e-9 {
					t.Fatalf("point %v, want %v (closed form)", *op, c.want)
				}
				if !dotInside(*op, om) {
					continue // a dot cut by the border has a biased centroid
				}
				checked++
				cen, _ := cupCentroid(om)
				if d := cen.Dist(*op); d > 1 {
					t.Fatalf("index %d: cup centroid %v vs point %v: distance %.3f px > 1", idx, cen, *op, d)
				}
				if bc := intensityCentroid(ob, 0.05); bc.Dist(*op) > 1 {
					t.Fatalf("index %d: image blob centroid %v vs point %v: distance %.3f px > 1", idx, bc, *op, bc.Dist(*op))
				}
			}
			if checked < 20 {
				t.Fatalf("only %d of 40 draws kept the dot inside the frame", checked)
			}
		})
	}
}

// TestComposedPipelineDot runs a heavy composed pipeline (every geometric
// transform, colour transforms in between forcing intermediate resampling)
// over many sample indices: the dot and point stay within 1 px whenever the
// point is flagged inside the frame.
func TestComposedPipelineDot(t *testing.T) {
	img, m, pt := testSample(64, 64, data.Point{X: 30.2, Y: 28.7})
	p := mustBuild(t,
		Spec{Name: "hflip", Prob: 0.5},
		Spec{Name: "rot90", Prob: 0.5},
		Spec{Name: "rotate", Prob: 0.8, Params: map[string]any{"degrees": 25}},
		Spec{Name: "gamma", Prob: 0.5},
		Spec{Name: "scale", Prob: 0.8, Params: map[string]any{"range": []any{0.8, 1.2}}},
		Spec{Name: "translate", Prob: 0.5},
		Spec{Name: "elastic", Prob: 0.5},
		Spec{Name: "vflip", Prob: 0.5},
		Spec{Name: "crop", Prob: 0.5},
	)
	checked := 0
	for idx := 0; idx < 40; idx++ {
		_, om, op, in := p.Apply(img, m, pt, 3, 1, idx)
		checkMaskCodes(t, "composed", om)
		if !in {
			continue
		}
		if !dotInside(*op, om) {
			continue // dot partly cut by the border: centroid is biased
		}
		cen, _ := cupCentroid(om)
		checked++
		if d := cen.Dist(*op); d > 1 {
			t.Fatalf("index %d: cup centroid %v vs point %v: %.3f px > 1", idx, cen, *op, d)
		}
	}
	if checked < 25 {
		t.Fatalf("only %d of 40 samples kept the dot in frame", checked)
	}
}

// TestPointLeavesFrame: translating by half the width moves x = 40 to 72 in a
// 64-wide frame, which is flagged.
func TestPointLeavesFrame(t *testing.T) {
	img, m, pt := testSample(64, 48, data.Point{X: 40, Y: 10})
	p := mustBuild(t, Spec{Name: "translate", Prob: 1, Params: map[string]any{"fraction": []any{0.5, 0.5}}})
	_, _, op, in := p.Apply(img, m, pt, 1, 0, 0)
	if in {
		t.Fatalf("point %v reported inside a 64x48 frame", *op)
	}
	if op.X != 72 || op.Y != 34 {
		t.Fatalf("point %v, want (72, 34)", *op)
	}
	// The pixel-area border: x = 63.49 is inside, 63.5 outside.
	if !insideFrame(data.Point{X: 63.49, Y: 0}, 64, 48) || insideFrame(data.Point{X: 63.5, Y: 0}, 64, 48) ||
		!insideFrame(data.Point{X: -0.5, Y: -0.5}, 64, 48) {
		t.Fatal("insideFrame does not follow the pixel-centre convention")
	}
}

// TestFlipPixelExact is field case C12(a): a 2124-wide row with one bright
// pixel at column 1000 and the fovea at x = 1000; after a horizontal flip the
// bright pixel is at column 1123 and so is the point; two flips give exactly
// 1000 and the original bytes.
func TestFlipPixelExact(t *testing.T) {
	img := data.NewImage(2124, 3, 1)
	img.Set(0, 1000, 1, 1)
	pt := &data.Point{X: 1000, Y: 1}
	p := mustBuild(t, Spec{Name: "hflip", Prob: 1})
	oi, _, op, _ := p.Apply(img, nil, pt, 0, 0, 0)
	if oi.At(0, 1123, 1) != 1 || op.X != 1123 {
		t.Fatalf("bright pixel at 1123 = %v, point %v; want 1 and x = 1123", oi.At(0, 1123, 1), *op)
	}
	p2 := mustBuild(t, Spec{Name: "hflip", Prob: 1}, Spec{Name: "hflip", Prob: 1})
	oi2, _, op2, _ := p2.Apply(img, nil, pt, 0, 0, 0)
	if op2.X != 1000 || !equalImages(oi2, img) {
		t.Fatalf("two flips: point %v, image equal %v", *op2, equalImages(oi2, img))
	}
}

// TestC14MaskNoNewValues is field case C14: the 4x4 mask
// 255 255 128 128 / 255 255 128 128 / 128 128 0 0 / 128 128 0 0 resized to
// 6x6 and rotated by 10°. With bilinear interpolation a half-pixel resize
// creates 234 and 149 (1-D: source x = (x'+0.5)/1.5-0.5, e.g. x' = 2 reads
// 1.1667: 255·0.8333 + 128·0.1667 = 233.8), which the official rule would
// count as disc; the mask path (nearest) keeps the values in {0,128,255}.
func TestC14MaskNoNewValues(t *testing.T) {
	m := &data.Mask{W: 4, H: 4, Pix: []uint8{
		255, 255, 128, 128,
		255, 255, 128, 128,
		128, 128, 0, 0,
		128, 128, 0, 0}}
	resize := data.CropResize(0, 0, 4, 4, 6, 6)
	inv, _ := resize.Inverse()
	// The hazard, shown with the image path.
	asImg := data.NewImage(4, 4, 1)
	for i, v := range m.Pix {
		asImg.Pix[i] = float32(v) / 255
	}
	bil := warpImage(asImg, inv, 6, 6, nil)
	seen := map[int]bool{}
	for _, v := range bil.Pix {
		seen[int(math.Round(float64(v)*255))] = true
	}
	for _, v := range []int{213, 234, 149, 107, 43, 21} {
		if !seen[v] {
			t.Errorf("bilinear 4x4 -> 6x6 resize lacks the stray value %d the case lists (got %v)", v, seen)
		}
	}
	// The mask path: resize, then rotate by 10° through the pipeline.
	rm := warpMask(m, inv, 6, 6, nil)
	checkMaskCodes(t, "resized", rm)
	p := mustBuild(t, Spec{Name: "rotate", Prob: 1, Params: map[string]any{"degrees": []any{10, 10}}})
	img6 := data.NewImage(6, 6, 1)
	_, om, _, _ := p.Apply(img6, rm, nil, 0, 0, 0)
	checkMaskCodes(t, "resized+rotated", om)
	// Every transform of the package on the 4x4 mask, many draws.
	all := mustBuild(t,
		Spec{Name: "scale", Prob: 1, Params: map[string]any{"range": []any{1.5, 1.5}}},
		Spec{Name: "rotate", Prob: 1, Params: map[string]any{"degrees": []any{10, 10}}},
		Spec{Name: "elastic", Prob: 1, Params: map[string]any{"alpha": 20, "sigma": 1}},
		Spec{Name: "crop", Prob: 1},
		Spec{Name: "translate", Prob: 1},
		Spec{Name: "blur", Prob: 1}, Spec{Name: "erase", Prob: 1}, Spec{Name: "noise", Prob: 1},
	)
	img4 := data.NewImage(4, 4, 3)
	for idx := 0; idx < 50; idx++ {
		_, om, _, _ := all.Apply(img4, m, nil, 9, 0, idx)
		checkMaskCodes(t, "4x4 all transforms", om)
	}
}

// TestElasticInverse: the point mapping of the elastic transform solves
// q + d(q) = p to 1e-6 px on a strong field.
func TestElasticInverse(t *testing.T) {
	const w, h = 40, 30
	e := elastic{alpha: 200, sigma: 5, kernel: gaussKernel(5)}
	st := newState(data.NewImage(w, h, 1), nil, &data.Point{X: 12.25, Y: 20.5})
	r := data.NewRand(5)
	field := e.field(data.NewRand(5), w, h)
	unfold(field, w, h)
	e.apply(st, r)
	q := *st.pt
	dx, dy := fieldAt(field, w, h, q.X, q.Y)
	if res := math.Hypot(q.X+dx-12.25, q.Y+dy-20.5); res > 1e-6 {
		t.Fatalf("q = %v: residual |q + d(q) - p| = %g px", q, res)
	}
	if q.Dist(data.Point{X: 12.25, Y: 20.5}) < 0.5 {
		t.Fatalf("field too weak to test the inverse: q = %v", q)
	}
}

// TestFixedCropPads: a fixed-size window larger than the frame (70x50 from
// 64x48) is placed at an integer offset in [-6, 0] x [-2, 0]; the point moves
// by exactly that offset, the padding is 0 in the image and 255 in the mask,
// and the copied part is the input's bytes.
func TestFixedCropPads(t *testing.T) {
	img, m, pt := testSample(64, 48, data.Point{X: 20.3, Y: 17.6})
	p := mustBuild(t, Spec{Name: "crop", Prob: 1, Params: map[string]any{"size": []any{70, 50}}})
	seen := map[[2]int]bool{}
	for idx := 0; idx < 60; idx++ {
		oi, om, op, in := p.Apply(img, m, pt, 4, 0, idx)
		if oi.W != 70 || oi.H != 50 || !in {
			t.Fatalf("output %dx%d inFrame %v", oi.W, oi.H, in)
		}
		dx, dy := op.X-pt.X, op.Y-pt.Y
		ox, oy := int(math.Round(dx)), int(math.Round(dy))
		if math.Abs(dx-float64(ox)) > 1e-12 || math.Abs(dy-float64(oy)) > 1e-12 || ox < 0 || ox > 6 || oy < 0 || oy > 2 {
			t.Fatalf("point moved by (%v, %v), want integers in [0, 6] x [0, 2]", dx, dy)
		}
		seen[[2]int{ox, oy}] = true
		for y := 0; y < 50; y++ {
			for x := 0; x < 70; x++ {
				sx, sy := x-ox, y-oy
				inside := sx >= 0 && sy >= 0 && sx < 64 && sy < 48
				if !inside {
					if om.Pix[y*70+x] != data.Background || oi.At(1, x, y) != 0 {
						t.Fatalf("padding at (%d, %d): mask %d image %v", x, y, om.Pix[y*70+x], oi.At(1, x, y))
					}
					continue
				}
				if om.Pix[y*70+x] != m.Pix[sy*64+sx] || oi.At(1, x, y) != img.At(1, sx, sy) {
					t.Fatalf("copied pixel (%d, %d) differs from input (%d, %d)", x, y, sx, sy)
				}
			}
		}
	}
	if len(seen) < 10 {
		t.Fatalf("only %d distinct offsets in 60 draws", len(seen))
	}
}

// TestMaskSizeMismatchPanics: a mask of another size than its image is a
// caller bug and panics with both sizes.
func TestMaskSizeMismatchPanics(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "mask is 3x3 but its image is 8x8") {
			t.Fatalf("recovered %v", r)
		}
	}()
	mustBuild(t, Spec{Name: "hflip", Prob: 1}).Apply(data.NewImage(8, 8, 1), data.NewMask(3, 3), nil, 0, 0, 0)
}

// minDetOf returns the smallest Jacobian determinant of q -> q + d(q) over
// the grid interior (central differences), computed independently of unfold.
func minDetOf(field []float32, w, h int) float64 {
	n := w * h
	m := math.Inf(1)
	for y := 1; y < h-1; y++ {
		for x := 1; x < w-1; x++ {
			i := y*w + x
			j00 := 1 + float64(field[i+1]-field[i-1])/2
			j01 := float64(field[i+w]-field[i-w]) / 2
			j10 := float64(field[n+i+1]-field[n+i-1]) / 2
			j11 := 1 + float64(field[n+i+w]-field[n+i-w])/2
			m = math.Min(m, j00*j11-j01*j10)
		}
	}
	return m
}

// TestUnfold: a field strong enough to fold (α = 1000, σ = 4) is scaled down
// to the largest factor that keeps the Jacobian determinant >= minJacobian
// (so the minimum lands on it), and the point inverse still converges on the
// rescaled field; a moderate field (the default α = 100, σ = 8) is left
// untouched.
func TestUnfold(t *testing.T) {
	strong := elastic{alpha: 1000, sigma: 4, kernel: gaussKernel(4)}
	f := strong.field(data.NewRand(1), 64, 64)
	if d := minDetOf(f, 64, 64); d >= 0 {
		t.Fatalf("test field does not fold (min det %v)", d)
	}
	unfold(f, 64, 64)
	if d := minDetOf(f, 64, 64); d < minJacobian-1e-6 || d > minJacobian+1e-4 {
		t.Fatalf("after unfold min det %v, want %v", d, minJacobian)
	}
	for y := 0.0; y < 64; y += 3.7 {
		for x := 0.0; x < 64; x += 3.3 {
			p := data.Point{X: x, Y: y}
			q := invertField(f, 64, 64, p)
			dx, dy := fieldAt(f, 64, 64, q.X, q.Y)
			if res := math.Hypot(q.X+dx-x, q.Y+dy-y); res > 1e-6 {
				t.Fatalf("inverse at %v: residual %g px", p, res)
			}
		}
	}
	mild := elastic{alpha: 100, sigma: 8, kernel: gaussKernel(8)}
	for seed := uint64(0); seed < 10; seed++ {
		f := mild.field(data.NewRand(seed), 128, 128)
		g := append([]float32(nil), f...)
		unfold(g, 128, 128)
		for i := range f {
			if f[i] != g[i] {
				t.Fatalf("seed %d: the default field (min det %.3f) was rescaled", seed, minDetOf(f, 128, 128))
			}
		}
	}
}

// TestRotate90MatchesRot90: rotate by exactly 90° (about the centre,
// counter-clockwise) and rot90 with k = 1 are computed by different code
// (aboutCentre with exact cos/sin vs quarterTurn) and must agree bitwise on a
// square image, for the image, the mask and the point; likewise -90° and
// k = 3, 180° and k = 2.
func TestRotate90MatchesRot90(t *testing.T) {
	img, m, pt := testSample(31, 31, data.Point{X: 7.25, Y: 11.5})
	for _, c := range []struct {
		deg float64
		k   int
	}{{90, 1}, {-90, 3}, {180, 2}, {270, 3}} {
		a := mustBuild(t, Spec{Name: "rotate", Prob: 1, Params: map[string]any{"degrees": []any{c.deg, c.deg}}})
		b := mustBuild(t, Spec{Name: "rot90", Prob: 1, Params: map[string]any{"k": c.k}})
		ia, ma, pa, _ := a.Apply(img, m, pt, 0, 0, 0)
		ib, mb, pb, _ := b.Apply(img, m, pt, 0, 0, 0)
		if !equalImages(ia, ib) || !equalMasks(ma, mb) || pa.Dist(*pb) > 1e-12 {
			t.Errorf("rotate %v° and rot90 k=%d differ (points %v, %v)", c.deg, c.k, *pa, *pb)
		}
	}
}

// TestLinearRampExact: bilinear interpolation reproduces a linear function
// exactly, so after rotating a ramp v = 0.1 + 0.01 x + 0.005 y by 20°, every
// interior output pixel q must hold the ramp at its source position
// R⁻¹(q - c) + c (independent formula for the inverse rotation).
func TestLinearRampExact(t *testing.T) {
	const W, H = 40, 30
	img := data.NewImage(W, H, 1)
	ramp := func(x, y float64) float64 { return 0.1 + 0.01*x + 0.005*y }
	for y := 0; y < H; y++ {
		for x := 0; x < W; x++ {
			img.Set(0, x, y, float32(ramp(float64(x), float64(y))))
		}
	}
	oi, _, _, _ := mustBuild(t, Spec{Name: "rotate", Prob: 1, Params: map[string]any{"degrees": []any{20, 20}}}).Apply(img, nil, nil, 0, 0, 0)
	a := 20 * math.Pi / 180
	cx, cy := float64(W-1)/2, float64(H-1)/2
	checked := 0
	for y := 0; y < H; y++ {
		for x := 0; x < W; x++ {
			// Forward: x' = cx + c dx + s dy, y' = cy - s dx + c dy; inverse: dx = c dx' - s dy', dy = s dx' + c dy'.
			dx, dy := float64(x)-cx, float64(y)-cy
			sx := cx + math.Cos(a)*dx - math.Sin(a)*dy
			sy := cy + math.Sin(a)*dx + math.Cos(a)*dy
			if sx < 0 || sy < 0 || sx > W-1 || sy > H-1 {
				continue
			}
			checked++
			if got := float64(oi.At(0, x, y)); math.Abs(got-ramp(sx, sy)) > 1e-5 {
				t.Fatalf("pixel (%d, %d): %v, ramp at source (%.3f, %.3f) = %v", x, y, got, sx, sy, ramp(sx, sy))
			}
		}
	}
	if checked < 800 {
		t.Fatalf("only %d interior pixels checked", checked)
	}
}

// TestPadIsBackground is the augment side of field case C11: areas moved in
// from outside the frame must be background (255) in the mask, never 0 (which
// is cup in REFUGE), and 0 in the image. A 45° rotation of an all-cup mask and
// an all-1 image (also a shrink and a shift): the corner (0, 0) becomes 255 / 0,
// the centre stays 0 / 1.
func TestPadIsBackground(t *testing.T) {
	img := data.NewImage(21, 21, 3)
	for i := range img.Pix {
		img.Pix[i] = 1
	}
	m := &data.Mask{W: 21, H: 21, Pix: make([]uint8, 21*21)} // all cup
	for _, spec := range []Spec{
		{Name: "rotate", Prob: 1, Params: map[string]any{"degrees": []any{45, 45}}},
		{Name: "scale", Prob: 1, Params: map[string]any{"range": 0.5}},
		{Name: "translate", Prob: 1, Params: map[string]any{"fraction": []any{0.3, 0.3}}},
	} {
		oi, om, _, _ := mustBuild(t, spec).Apply(img, m, nil, 0, 0, 0)
		if om.Pix[0] != data.Background || oi.At(0, 0, 0) != 0 {
			t.Errorf("%s: corner mask %d image %v, want 255 and 0", spec.Name, om.Pix[0], oi.At(0, 0, 0))
		}
		if om.Pix[10*21+10] != data.Cup || oi.At(2, 10, 10) != 1 {
			t.Errorf("%s: centre mask %d image %v, want 0 and 1", spec.Name, om.Pix[10*21+10], oi.At(2, 10, 10))
		}
	}
}
