package data

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// c14Mask is the 4×4 mask of field case C14.
func c14Mask() *Mask {
	return &Mask{W: 4, H: 4, Pix: []uint8{
		255, 255, 128, 128,
		255, 255, 128, 128,
		128, 128, 0, 0,
		128, 128, 0, 0,
	}}
}

// TestWarpBilinearC14 resizes the C14 mask, as image values, to 6×6 with
// half-pixel bilinear sampling. Hand-worked: output column k samples source
// x = (k+0.5)·4/6 - 0.5 = -1/6, 1/2, 7/6, 11/6, 5/2, 19/6, i.e. pixel 0
// (edge-clamped), 0|1 at 1/2, 1|2 at 1/6, 1|2 at 5/6, 2|3 at 1/2, pixel 3;
// rows likewise. Row A = [255 255 233.83 149.17 128 128], row B =
// [128 128 106.67 21.33 0 0]; rows 2 and 3 are 5/6·A+1/6·B and
// 1/6·A+5/6·B. The case lists 21, 43, 107, 149, 213, 234 (checked).
func TestWarpBilinearC14(t *testing.T) {
	m := c14Mask()
	img := NewImage(4, 4, 1)
	for i, v := range m.Pix {
		img.Pix[i] = float32(v) / 255
	}
	T := CropResize(0, 0, 4, 4, 6, 6)
	out := Warp(img, T, 6, 6, 0)
	want := []int{
		255, 255, 234, 149, 128, 128,
		255, 255, 234, 149, 128, 128,
		234, 234, 213, 128, 107, 107,
		149, 149, 128, 43, 21, 21,
		128, 128, 107, 21, 0, 0,
		128, 128, 107, 21, 0, 0,
	}
	for i, w := range want {
		if got := int(math.Round(float64(out.Pix[i]) * 255)); got != w {
			t.Fatalf("pixel (%d,%d) = %d, want %d", i%6, i/6, got, w)
		}
	}
	// The same resize of the mask uses nearest neighbour: source columns
	// floor(x+0.5) of the positions above = 0 1 1 2 3 3.
	mm := WarpMask(m, T, 6, 6)
	wantM := []uint8{
		255, 255, 255, 128, 128, 128,
		255, 255, 255, 128, 128, 128,
		255, 255, 255, 128, 128, 128,
		128, 128, 128, 0, 0, 0,
		128, 128, 128, 0, 0, 0,
		128, 128, 128, 0, 0, 0,
	}
	for i, w := range wantM {
		if mm.Pix[i] != w {
			t.Fatalf("mask pixel (%d,%d) = %d, want %d", i%6, i/6, mm.Pix[i], w)
		}
	}
	// Rotated by 10° about the centre of the 6×6 frame: values stay in the
	// REFUGE set.
	th := 10 * math.Pi / 180
	c, s := math.Cos(th), math.Sin(th)
	rot := Affine{c, -s, 2.5 - 2.5*c + 2.5*s, s, c, 2.5 - 2.5*s - 2.5*c}
	rm := WarpMask(mm, rot, 6, 6)
	for i, v := range rm.Pix {
		if v != 0 && v != 128 && v != 255 {
			t.Fatalf("rotated mask pixel %d has value %d", i, v)
		}
	}
}

// TestWarpDownscaleAverages: an 8×8 image with one bright pixel at (0,0)
// shrunk 4× to 2×2. Hand-worked: scale 1/4 -> 4×4 sub-samples per output
// pixel at source x = (k'+0.5+o)·4 - 0.5 with o = ±1/8, ±3/8, i.e. exactly
// the pixel centres 0..3, so output (0,0) is the block mean 1/16 = 0.0625
// (plain bilinear would sample x = 1.5 and give 0).
func TestWarpDownscaleAverages(t *testing.T) {
	img := NewImage(8, 8, 1)
	img.Pix[0] = 1
	out := Warp(img, CropResize(0, 0, 8, 8, 2, 2), 2, 2, 0)
	if out.Pix[0] != 0.0625 || out.Pix[1] != 0 || out.Pix[2] != 0 || out.Pix[3] != 0 {
		t.Fatalf("downscaled = %v, want [0.0625 0 0 0]", out.Pix)
	}
}

// c11Inputs builds the C11 case: a 2124×2056 single-channel image and mask
// with a disc of radius 25 centred at (30, 1000).
func c11Inputs() (*Image, *Mask) {
	const W, H = 2124, 2056
	img := NewImage(W, H, 1)
	m := NewMask(W, H)
	for y := 0; y < H; y++ {
		for x := 0; x < W; x++ {
			img.Pix[y*W+x] = float32((x*7+y*13)%251) / 251
			dx, dy := float64(x-30), float64(y-1000)
			if dx*dx+dy*dy <= 25*25 {
				m.Pix[y*W+x] = Rim
				if dx*dx+dy*dy <= 10*10 {
					m.Pix[y*W+x] = Cup
				}
			}
		}
	}
	return img, m
}

func TestROIPaddingAndPasteBackC11(t *testing.T) {
	img, m := c11Inputs()
	p, err := NewPipeline([]StepSpec{{Name: "roi", Params: map[string]any{"size": 512, "window": 512}}})
	if err != nil {
		t.Fatal(err)
	}
	pr, err := p.Prepare(img, m, &Point{30, 1000}, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Window x in [-226, 285], y in [744, 1255]: x' = x + 226, y' = y - 744.
	if want := (Affine{1, 0, 226, 0, 1, -744}); pr.T != want {
		t.Fatalf("T = %v, want %v", pr.T, want)
	}
	if pr.W != 512 || pr.H != 512 || pr.M.W != 512 || pr.X.W != 512 {
		t.Fatalf("sizes %dx%d", pr.W, pr.H)
	}
	padded := 0
	for y := 0; y < 512; y++ {
		for x := 0; x < 512; x++ {
			v := pr.M.Pix[y*512+x]
			if x < 226 {
				if v != Background {
					t.Fatalf("padded mask pixel (%d,%d) = %d, want 255", x, y, v)
				}
				if pr.X.Pix[y*512+x] != 0 {
					t.Fatalf("padded image pixel (%d,%d) = %v, want 0", x, y, pr.X.Pix[y*512+x])
				}
				padded++
				continue
			}
			sx, sy := x-226, y+744
			if v != m.Pix[sy*2124+sx] || pr.X.Pix[y*512+x] != img.Pix[sy*2124+sx] {
				t.Fatalf("crop pixel (%d,%d) differs from original (%d,%d)", x, y, sx, sy)
			}
		}
	}
	if padded != 115712 {
		t.Fatalf("padded pixels %d, want 226*512 = 115712", padded)
	}
	back := PasteMask(pr.M, pr.T, 2124, 2056)
	for i := range back.Pix {
		if back.Pix[i] != m.Pix[i] {
			t.Fatalf("pasted mask differs at (%d,%d): %d vs %d", i%2124, i/2124, back.Pix[i], m.Pix[i])
		}
	}
	// A centre outside the image is an error naming the centre.
	_, err = p.Prepare(img, m, &Point{-300, 1000}, 0)
	if err == nil || !strings.Contains(err.Error(), "(-300.00, 1000.00)") || !strings.Contains(err.Error(), "2124x2056") {
		t.Fatalf("centre outside: err = %v", err)
	}
	if _, err = p.Prepare(img, m, nil, 0); err == nil || !strings.Contains(err.Error(), "centre") {
		t.Fatalf("no centre: err = %v", err)
	}
}

// TestResizeRoundTripC12: 2124×2056 -> 512² keeping aspect. Hand-worked:
// s = 512/2124 = 0.2410546139359699; the content is 2056·s = 495.6082863
// rows high, centred with oy = (512 - 495.6082863)/2 = 8.1958569. The
// fovea (1000, 1000) maps to x' = 1000.5·s - 0.5 = 240.6751412,
// y' = x' + oy = 248.8709981.
func TestResizeRoundTripC12(t *testing.T) {
	p, err := NewPipeline([]StepSpec{{Name: "resize", Params: map[string]any{"size": 512}}})
	if err != nil {
		t.Fatal(err)
	}
	img := NewImage(2124, 2056, 1)
	T, w, h, err := p.Geometry(img, nil, 0)
	if err != nil || w != 512 || h != 512 {
		t.Fatalf("geometry %v %d %d %v", T, w, h, err)
	}
	q := T.Apply(Point{1000, 1000})
	if math.Abs(q.X-240.6751412) > 1e-6 || math.Abs(q.Y-248.8709981) > 1e-6 {
		t.Fatalf("fovea maps to %v, want (240.6751412, 248.8709981)", q)
	}
	inv, err := T.Inverse()
	if err != nil {
		t.Fatal(err)
	}
	if b := inv.Apply(q); math.Abs(b.X-1000) > 1e-9 || math.Abs(b.Y-1000) > 1e-9 {
		t.Fatalf("round trip %v", b)
	}
	// A stretching 512² resize (CropResize) also round-trips exactly,
	// whereas the mixed convention (in with pixel centres, out from the
	// origin) is off by (1.574, 1.508) and a single scale for both axes
	// lands near y = 968.
	S := CropResize(0, 0, 2124, 2056, 512, 512)
	qs := S.Apply(Point{1000, 1000})
	sinv, _ := S.Inverse()
	if b := sinv.Apply(qs); math.Abs(b.X-1000) > 1e-9 || math.Abs(b.Y-1000) > 1e-9 {
		t.Fatalf("stretch round trip %v", b)
	}
	mixed := Point{qs.X * 2124 / 512, qs.Y * 2056 / 512}
	if dx, dy := 1000-mixed.X, 1000-mixed.Y; math.Abs(dx-1.574) > 1e-3 || math.Abs(dy-1.508) > 1e-3 {
		t.Fatalf("mixed-convention offset (%v, %v), want (1.574, 1.508)", dx, dy)
	}
	oneScale := (qs.Y+0.5)*2124/512 - 0.5
	if math.Abs(oneScale-1000) < 30 {
		t.Fatalf("one-scale y %v should be ~32 px off", oneScale)
	}
}

// TestFlipConventionC12: a bright pixel at column 1000 of a 2124-wide image
// lands on column 2123-1000 = 1123 after a horizontal flip, as does the
// landmark; two flips return exactly 1000.
func TestFlipConventionC12(t *testing.T) {
	img := NewImage(2124, 2, 1)
	img.Pix[1000] = 1
	F := FlipH(2124)
	out := Warp(img, F, 2124, 2, 0)
	for x := 0; x < 2124; x++ {
		want := float32(0)
		if x == 1123 {
			want = 1
		}
		if out.Pix[x] != want {
			t.Fatalf("flipped column %d = %v, want %v", x, out.Pix[x], want)
		}
	}
	if p := F.Apply(Point{1000, 5}); p.X != 1123 {
		t.Fatalf("flipped landmark %v", p)
	}
	if p := F.Then(F).Apply(Point{1000, 5}); p.X != 1000 || p.Y != 5 {
		t.Fatalf("double flip %v", p)
	}
}

func TestDiscGeometry(t *testing.T) {
	m := NewMask(5, 5)
	for y := 1; y <= 3; y++ {
		for x := 1; x <= 3; x++ {
			m.Pix[y*5+x] = Rim
		}
	}
	m.Pix[2*5+2] = Cup
	c, dv, dh, ok := DiscGeometry(m)
	if !ok || c != (Point{2, 2}) || dv != 3 || dh != 3 {
		t.Fatalf("DiscGeometry = %v %v %v %v, want (2,2) 3 3 true", c, dv, dh, ok)
	}
	if _, _, _, ok := DiscGeometry(NewMask(3, 3)); ok {
		t.Fatal("empty mask reported a disc")
	}
}

func TestGaussianHeatmap(t *testing.T) {
	hm := GaussianHeatmap(Point{2, 1}, 5, 3, 1)
	if hm[1*5+2] != 1 {
		t.Fatalf("peak %v, want 1", hm[1*5+2])
	}
	// (4,1): d² = 4 -> exp(-2) = 0.1353352832; (0,0): d² = 5 -> exp(-2.5).
	if math.Abs(float64(hm[1*5+4])-math.Exp(-2)) > 1e-7 || math.Abs(float64(hm[0])-math.Exp(-2.5)) > 1e-7 {
		t.Fatalf("values %v %v", hm[1*5+4], hm[0])
	}
}

// TestWarpMatchesScipy compares Warp and WarpMask with an independent
// reference (testdata/synthgeom/warp_ref.py: scipy.ndimage.map_coordinates
// bilinear with edge clamping inside the source extent, pad outside) for a
// rotation by 20° with scale 1.3.
func TestWarpMatchesScipy(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "synthgeom", "warp_ref.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		T     []float64
		W, H  int
		Image []float64
		Mask  []uint8
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	img := NewImage(7, 5, 1)
	m := NewMask(7, 5)
	for y := 0; y < 5; y++ {
		for x := 0; x < 7; x++ {
			img.Pix[y*7+x] = float32((3*x+5*y)%11) / 10
			m.Pix[y*7+x] = []uint8{0, 128, 255}[(x+2*y)%3]
		}
	}
	var T Affine
	copy(T[:], ref.T)
	out := Warp(img, T, ref.W, ref.H, 0)
	om := WarpMask(m, T, ref.W, ref.H)
	inside := 0
	for i := range ref.Image {
		if math.Abs(float64(out.Pix[i])-ref.Image[i]) > 1e-6 {
			t.Fatalf("pixel (%d,%d) = %v, scipy %v", i%ref.W, i/ref.W, out.Pix[i], ref.Image[i])
		}
		if om.Pix[i] != ref.Mask[i] {
			t.Fatalf("mask (%d,%d) = %d, reference %d", i%ref.W, i/ref.W, om.Pix[i], ref.Mask[i])
		}
		if ref.Mask[i] != 255 || ref.Image[i] != 0 {
			inside++
		}
	}
	if inside < 20 {
		t.Fatalf("only %d output pixels inside the source: weak test", inside)
	}
}
