package eval

import (
	"math"
	"strings"
	"testing"

	"github.com/refugelab/refugelab/data"
)

// probsFromMask builds one-hot softmax planes from a REFUGE mask.
func probsFromMask(m *data.Mask) []float32 {
	n := m.W * m.H
	p := make([]float32, 3*n)
	for i, v := range m.Pix {
		switch v {
		case data.Cup:
			p[2*n+i] = 1
		case data.Rim:
			p[n+i] = 1
		default:
			p[i] = 1
		}
	}
	return p
}

func mustPost(t *testing.T, specs ...StepSpec) *Post {
	t.Helper()
	p, err := NewPost(specs)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func countVal(m *data.Mask, v uint8) int {
	n := 0
	for _, x := range m.Pix {
		if x == v {
			n++
		}
	}
	return n
}

// C07c: an all-background prediction stays all 255 through "keep largest
// component" and hole filling (never a full-image disc).
func TestC07cEmptyStaysEmpty(t *testing.T) {
	empty := data.NewMask(9, 7)
	p := mustPost(t, StepSpec{Name: "largest-component"}, StepSpec{Name: "fill-holes"},
		StepSpec{Name: "cup-in-disc"}, StepSpec{Name: "opening"}, StepSpec{Name: "closing"}, StepSpec{Name: "ellipse-fit"})
	out := p.Apply(probsFromMask(empty), 9, 7)
	if countVal(out, 255) != 63 {
		t.Fatalf("empty prediction became %v", out.Pix)
	}
}

func TestArgmaxAndThreshold(t *testing.T) {
	// Three pixels: (bg .5, rim .3, cup .2), (bg .2, rim .3, cup .5),
	// (bg .4, rim .35, cup .25).
	probs := []float32{0.5, 0.2, 0.4, 0.3, 0.3, 0.35, 0.2, 0.5, 0.25}
	out := mustPost(t).Apply(probs, 3, 1)
	if got := out.Pix; got[0] != 255 || got[1] != 0 || got[2] != 255 {
		t.Fatalf("argmax %v, want [255 0 255]", got)
	}
	// Threshold disc 0.5 on rim+cup: 0.5, 0.8, 0.6 -> disc all; cup 0.5 -> pixel 1.
	out = mustPost(t, StepSpec{Name: "threshold"}).Apply(probs, 3, 1)
	if got := out.Pix; got[0] != 128 || got[1] != 0 || got[2] != 128 {
		t.Fatalf("threshold %v, want [128 0 128]", got)
	}
	out = mustPost(t, StepSpec{Name: "threshold", Params: map[string]any{"disc": 0.7, "cup": 0.6}}).Apply(probs, 3, 1)
	if got := out.Pix; got[0] != 255 || got[1] != 128 || got[2] != 255 {
		t.Fatalf("threshold 0.7/0.6 %v, want [255 128 255]", got)
	}
}

func TestLargestComponentFillHolesCupInDisc(t *testing.T) {
	m := maskFromRows([][]uint8{
		{128, 255, 255, 255, 255, 255, 255},
		{255, 255, 128, 128, 128, 128, 255},
		{255, 255, 128, 255, 0, 128, 255},
		{255, 255, 128, 128, 128, 128, 255},
		{0, 255, 255, 255, 255, 255, 255},
	})
	// Largest disc component is the ring (11 px incl. its cup); the corner
	// pixels go. The largest cup component is the ring's cup pixel vs the
	// corner cup pixel (1 px each): tie -> first in raster order, (4,2).
	out := mustPost(t, StepSpec{Name: "largest-component"}).Apply(probsFromMask(m), 7, 5)
	if out.Pix[0] != 255 || out.Pix[4*7] != 255 || out.Pix[2*7+4] != 0 || out.Pix[2*7+3] != 255 {
		t.Fatalf("largest component:\n%v", out.Pix)
	}
	out = mustPost(t, StepSpec{Name: "largest-component"}, StepSpec{Name: "fill-holes", Params: map[string]any{"targets": "disc"}}).Apply(probsFromMask(m), 7, 5)
	if out.Pix[2*7+3] != 128 || countVal(out, 128) != 11 || countVal(out, 0) != 1 {
		t.Fatalf("fill holes:\n%v", out.Pix)
	}
	// cup-in-disc removes the corner cup pixel (outside every disc pixel?
	// No: cup pixels are disc by construction of argmax; make it a cup
	// outside the disc with threshold: P(cup) 0.6, P(rim) 0 -> disc needs
	// rim+cup >= 0.7).
	probs := []float32{0.4, 0, 0.6} // one pixel
	p := mustPost(t, StepSpec{Name: "threshold", Params: map[string]any{"disc": 0.7, "cup": 0.5}})
	if got := p.Apply(probs, 1, 1).Pix[0]; got != 0 {
		t.Fatalf("without cup-in-disc the cup stays: %d", got)
	}
	p = mustPost(t, StepSpec{Name: "threshold", Params: map[string]any{"disc": 0.7, "cup": 0.5}}, StepSpec{Name: "cup-in-disc"})
	if got := p.Apply(probs, 1, 1).Pix[0]; got != 255 {
		t.Fatalf("cup-in-disc: %d, want 255", got)
	}
}

func TestOpeningClosing(t *testing.T) {
	// 11×11: a 7×7 disc block and an isolated pixel; opening r=1 removes
	// the pixel and keeps the block's interior.
	m := data.NewMask(11, 11)
	for y := 2; y < 9; y++ {
		for x := 2; x < 9; x++ {
			m.Pix[y*11+x] = 128
		}
	}
	m.Pix[0*11+5] = 128 // isolated pixel
	out := mustPost(t, StepSpec{Name: "opening", Params: map[string]any{"radius": 1}}).Apply(probsFromMask(m), 11, 11)
	if out.Pix[0*11+5] != 255 || out.Pix[5*11+5] != 128 {
		t.Fatal("opening kept the isolated pixel or lost the interior")
	}
	// A disk of radius 1 is a plus: opening rounds the block's corners
	// (the 4 corner pixels go): 49 - 4 = 45.
	if n := countVal(out, 128); n != 45 {
		t.Fatalf("opening left %d disc px, want 45", n)
	}
	// Closing r=1 fills a 1-px vertical gap through a block.
	g := m.Clone()
	g.Pix[0*11+5] = 255
	for y := 2; y < 9; y++ {
		g.Pix[y*11+5] = 255
	}
	out = mustPost(t, StepSpec{Name: "closing", Params: map[string]any{"radius": 1}}).Apply(probsFromMask(g), 11, 11)
	for y := 3; y < 8; y++ {
		if out.Pix[y*11+5] != 128 {
			t.Fatalf("closing did not fill the gap at row %d", y)
		}
	}
	// Closing is extensive: nothing of the input is lost.
	for i, v := range g.Pix {
		if v == 128 && out.Pix[i] == 255 {
			t.Fatalf("closing lost pixel %d", i)
		}
	}
}

func TestFitEllipseExactPoints(t *testing.T) {
	// Points exactly on the ellipse centre (20.3, 15.7), semi-axes 9 and 6,
	// rotated 30°: the direct fit recovers it (zero residual).
	cx, cy, a, b, th := 20.3, 15.7, 9.0, 6.0, math.Pi/6
	var pts []data.Point
	for k := 0; k < 24; k++ {
		t := 2 * math.Pi * float64(k) / 24
		x, y := a*math.Cos(t), b*math.Sin(t)
		pts = append(pts, data.Point{X: cx + x*math.Cos(th) - y*math.Sin(th), Y: cy + x*math.Sin(th) + y*math.Cos(th)})
	}
	q, ok := FitEllipse(pts)
	if !ok {
		t.Fatal("no ellipse")
	}
	c := q.Center()
	if !near(c.X, cx, 1e-9) || !near(c.Y, cy, 1e-9) {
		t.Fatalf("centre %v, want (%v, %v)", c, cx, cy)
	}
	for _, p := range pts {
		// Relative residual: the conic vanishes on the points.
		if r := q.Eval(p.X, p.Y) / math.Abs(q.F); math.Abs(r) > 1e-9 {
			t.Fatalf("residual %v at %v", r, p)
		}
	}
	if _, ok := FitEllipse(pts[:5]); ok {
		t.Fatal("5 points accepted")
	}
	// Collinear points: no ellipse.
	var line []data.Point
	for i := 0; i < 10; i++ {
		line = append(line, data.Point{X: float64(i), Y: float64(2 * i)})
	}
	if _, ok := FitEllipse(line); ok {
		t.Fatal("collinear points gave an ellipse")
	}
}

func TestEllipseFitStep(t *testing.T) {
	// A rasterised ellipse with a notch: the fit restores a convex ellipse
	// close to the original (Dice > 0.95) and fills the notch.
	w, h := 48, 40
	m := data.NewMask(w, h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			dx, dy := (float64(x)-23.4)/14, (float64(y)-19.2)/10
			if dx*dx+dy*dy <= 1 {
				m.Pix[y*w+x] = 128
			}
		}
	}
	orig := m.Clone()
	m.Pix[19*w+23+13] = 255 // notch on the right edge
	m.Pix[19*w+23+12] = 255
	out := mustPost(t, StepSpec{Name: "ellipse-fit", Params: map[string]any{"targets": []any{"disc"}}}).Apply(probsFromMask(m), w, h)
	r, err := SegImage(orig, out)
	if err != nil {
		t.Fatal(err)
	}
	if r.DiceDisc < 0.95 || out.Pix[19*w+23+12] != 128 {
		t.Fatalf("ellipse fit Dice %v", r.DiceDisc)
	}
}

func TestPostErrorsAndDescribe(t *testing.T) {
	_, err := NewPost([]StepSpec{{Name: "largest-componnet"}})
	if err == nil || !strings.Contains(err.Error(), `did you mean "largest-component"`) {
		t.Fatalf("unknown step: %v", err)
	}
	_, err = NewPost([]StepSpec{{Name: "opening", Params: map[string]any{"radiuss": 2}}})
	if err == nil || !strings.Contains(err.Error(), "postprocess.opening.radiuss: unknown parameter (known: radius, targets)") {
		t.Fatalf("unknown param: %v", err)
	}
	_, err = NewPost([]StepSpec{{Name: "opening", Params: map[string]any{"radius": "big"}}})
	if err == nil || !strings.Contains(err.Error(), "postprocess.opening.radius") {
		t.Fatalf("bad type: %v", err)
	}
	_, err = NewPost([]StepSpec{{Name: "threshold", Params: map[string]any{"cup": 1.5}}})
	if err == nil || !strings.Contains(err.Error(), "postprocess.threshold.cup") {
		t.Fatalf("bad threshold: %v", err)
	}
	_, err = NewPost([]StepSpec{{Name: "fill-holes"}, {Name: "argmax"}})
	if err == nil || !strings.Contains(err.Error(), "must come first") {
		t.Fatalf("late argmax: %v", err)
	}
	_, err = NewPost([]StepSpec{{Name: "fill-holes", Params: map[string]any{"targets": []any{"rim"}}}})
	if err == nil || !strings.Contains(err.Error(), `postprocess.fill-holes.targets: unknown structure "rim"`) {
		t.Fatalf("bad target: %v", err)
	}
	p := mustPost(t, StepSpec{Name: "largest-component", Params: map[string]any{"targets": "cup", "connectivity": 4}})
	d := p.Describe()
	if len(d) != 2 || !strings.HasPrefix(d[0], "Each pixel takes the most probable class") ||
		d[1] != "Keeps only the largest 4-connected component of the cup (ties: the first in raster order; an empty structure stays empty)." {
		t.Fatalf("describe: %q", d)
	}
}

func TestDecodeHeatmap(t *testing.T) {
	w, h := 21, 15
	gauss := func(cx, cy float64) []float32 {
		hm := make([]float32, w*h)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				d2 := (float64(x)-cx)*(float64(x)-cx) + (float64(y)-cy)*(float64(y)-cy)
				hm[y*w+x] = float32(math.Exp(-d2 / (2 * 2 * 2)))
			}
		}
		return hm
	}
	// Symmetric about (10.5, 7): peak is the first maximum (10, 7); the
	// soft-argmax recovers the half-pixel exactly (symmetric weights).
	hm := gauss(10.5, 7)
	if p := DecodeHeatmap(hm, w, h, "peak"); p != (data.Point{X: 10, Y: 7}) {
		t.Fatalf("peak %v", p)
	}
	if p := DecodeHeatmap(hm, w, h, "soft-argmax"); !near(p.X, 10.5, 1e-6) || !near(p.Y, 7, 1e-6) {
		t.Fatalf("soft-argmax %v, want (10.5, 7)", p)
	}
	// A secondary bump far away does not pull the soft-argmax.
	hm2 := gauss(6, 5)
	hm2[14*w+20] = 0.9
	if p := DecodeHeatmap(hm2, w, h, "soft-argmax"); !near(p.X, 6, 1e-6) || !near(p.Y, 5, 1e-6) {
		t.Fatalf("soft-argmax with a distractor %v, want (6, 5)", p)
	}
	if err := CheckHeatmapMethod("softargmax"); err == nil || !strings.Contains(err.Error(), "soft-argmax") {
		t.Fatalf("method check: %v", err)
	}
}
