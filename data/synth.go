package data

import (
	"fmt"
	"math"
)

// SynthOptions configures the synthetic fundus generator.
//
// Zero values select the defaults: 256×256 images and a glaucoma prevalence
// of 0.5. The default prevalence is deliberately far above the ~10 % of the
// REFUGE releases so that a small demo dataset has enough glaucoma cases to
// train and score a classifier; set Prevalence to 0.1 to mimic REFUGE.
type SynthOptions struct {
	// W and H are the image size in pixels (default 256 each).
	W, H int
	// Prevalence is the probability that an image is a glaucoma case, in
	// (0, 1]; 0 selects the default 0.5.
	Prevalence float64
	// VarySize makes the second device ("synth-canon") produce images 80 %
	// the size of the first, like REFUGE's two cameras (2124×2056 and
	// 1634×1634). Off by default: both devices then share W×H and differ in
	// field-of-view size, disc magnification and colour.
	VarySize bool
}

// SynthTruth is the exact ground truth of one synthetic image.
type SynthTruth struct {
	// Label is 1 for glaucoma, 0 for normal.
	Label int
	// Fovea and DiscCenter are exact positions in pixel-centre coordinates.
	Fovea, DiscCenter Point
	// Device is "synth-zeiss" or "synth-canon".
	Device string
	// Eye is "left" or "right".
	Eye string
	// VCDR is the vertical cup-to-disc ratio measured on the returned mask
	// with the official rule (largest per-column pixel count of the cup over
	// that of the disc).
	VCDR float64
	// DiscDiamV and DiscDiamH are the vertical and horizontal diameters of
	// the drawn disc ellipse in pixels.
	DiscDiamV, DiscDiamH float64
	// W and H are the image size.
	W, H int
}

// Synthetic device names.
const (
	SynthDeviceA = "synth-zeiss"
	SynthDeviceB = "synth-canon"
)

func (o SynthOptions) withDefaults() SynthOptions {
	if o.W <= 0 {
		o.W = 256
	}
	if o.H <= 0 {
		o.H = 256
	}
	if o.Prevalence <= 0 {
		o.Prevalence = 0.5
	}
	if o.Prevalence > 1 {
		o.Prevalence = 1
	}
	return o
}

// synthDevice holds what differs between the two simulated cameras.
type synthDevice struct {
	name      string
	fovFrac   float64    // FOV radius / min(W, H)
	ddFrac    [2]float64 // disc diameter / FOV radius, range
	retina    [3]float64 // base retina colour
	disc      [3]float64 // disc colour
	cup       [3]float64 // cup colour
	vesselDim [3]float64 // darkening of vessels per channel
	sizeScale float64    // image size relative to the options (VarySize)
}

var synthDevices = [2]synthDevice{
	{name: SynthDeviceA, fovFrac: 0.47, ddFrac: [2]float64{0.27, 0.33},
		retina: [3]float64{0.80, 0.33, 0.13}, disc: [3]float64{0.98, 0.74, 0.46},
		cup: [3]float64{1.0, 0.92, 0.78}, vesselDim: [3]float64{0.30, 0.55, 0.55}, sizeScale: 1},
	{name: SynthDeviceB, fovFrac: 0.44, ddFrac: [2]float64{0.24, 0.30},
		retina: [3]float64{0.86, 0.47, 0.22}, disc: [3]float64{1.0, 0.84, 0.58},
		cup: [3]float64{1.0, 0.96, 0.86}, vesselDim: [3]float64{0.25, 0.45, 0.45}, sizeScale: 0.8},
}

// synthGeom is everything drawn for one image before rendering.
type synthGeom struct {
	w, h       int
	label      int
	dev        synthDevice
	eye        string
	sgn        float64 // +1 right eye (disc on the right), -1 left eye
	fovC       Point
	fovR       float64
	illumC     Point
	disc       Point
	a, b       float64 // disc semi-axes (horizontal, vertical)
	cup        Point
	ca, cb     float64 // cup semi-axes
	fovea      Point
	dd         float64 // nominal disc diameter
	noiseSeed  uint64
	vessels    []vesselSeg
	tex1, tex2 valueNoise
	gain, gam  float64 // per-image exposure: v -> gain·v^gam
}

type vesselSeg struct {
	x0, y0, x1, y1 float64
	w              float64 // full width in px
	dark           float64 // 1 for veins, lighter for arteries
}

// valueNoise is a bilinearly interpolated random grid in [-1, 1].
type valueNoise struct {
	step   float64
	nx, ny int
	v      []float64
}

func newValueNoise(r interface{ Float64() float64 }, w, h int, step float64) valueNoise {
	nx, ny := int(float64(w)/step)+3, int(float64(h)/step)+3
	v := make([]float64, nx*ny)
	for i := range v {
		v[i] = 2*r.Float64() - 1
	}
	return valueNoise{step: step, nx: nx, ny: ny, v: v}
}

func (n *valueNoise) at(x, y float64) float64 {
	fx, fy := x/n.step, y/n.step
	ix, iy := int(fx), int(fy)
	if ix < 0 {
		ix = 0
	}
	if iy < 0 {
		iy = 0
	}
	if ix > n.nx-2 {
		ix = n.nx - 2
	}
	if iy > n.ny-2 {
		iy = n.ny - 2
	}
	tx, ty := fx-float64(ix), fy-float64(iy)
	tx = tx * tx * (3 - 2*tx)
	ty = ty * ty * (3 - 2*ty)
	v00, v10 := n.v[iy*n.nx+ix], n.v[iy*n.nx+ix+1]
	v01, v11 := n.v[(iy+1)*n.nx+ix], n.v[(iy+1)*n.nx+ix+1]
	return (v00*(1-tx)+v10*tx)*(1-ty) + (v01*(1-tx)+v11*tx)*ty
}

// synthGeometry draws the layout of image index (cheap; no rendering).
func synthGeometry(index int, seed uint64, opt SynthOptions) *synthGeom {
	opt = opt.withDefaults()
	r := NewRand(Seed(seed, "synth", index))
	g := &synthGeom{}
	if r.Float64() < opt.Prevalence {
		g.label = 1
	}
	g.dev = synthDevices[r.IntN(2)]
	g.w, g.h = opt.W, opt.H
	if opt.VarySize {
		g.w = max(16, int(math.Round(float64(opt.W)*g.dev.sizeScale)))
		g.h = max(16, int(math.Round(float64(opt.H)*g.dev.sizeScale)))
	}
	if r.IntN(2) == 0 {
		g.eye, g.sgn = "right", 1
	} else {
		g.eye, g.sgn = "left", -1
	}
	minDim := float64(min(g.w, g.h))
	g.fovR = g.dev.fovFrac * minDim * (1 + 0.02*r.NormFloat64())
	g.fovC = Point{float64(g.w-1)/2 + 0.01*minDim*r.NormFloat64(), float64(g.h-1)/2 + 0.01*minDim*r.NormFloat64()}
	g.illumC = Point{g.fovC.X + 0.15*g.fovR*r.NormFloat64(), g.fovC.Y + 0.15*g.fovR*r.NormFloat64()}
	lo, hi := g.dev.ddFrac[0], g.dev.ddFrac[1]
	g.dd = g.fovR * (lo + (hi-lo)*r.Float64())
	g.a = g.dd / 2
	g.b = g.a * (1.05 + 0.13*r.Float64())
	// Disc on the nasal side, fovea ~2.5 disc diameters temporal and a
	// little below it.
	g.disc = Point{g.fovC.X + g.sgn*(0.36+0.03*r.NormFloat64())*g.fovR, g.fovC.Y + (0.03*r.NormFloat64()-0.04)*g.fovR}
	g.fovea = Point{g.disc.X - g.sgn*2.5*g.dd*(1+0.06*r.NormFloat64()), g.disc.Y + g.dd*(0.3+0.15*r.NormFloat64())}
	// Vertical cup-to-disc ratio: overlapping normal distributions.
	mean := 0.47
	if g.label == 1 {
		mean = 0.625
	}
	v := math.Min(0.88, math.Max(0.22, mean+0.085*r.NormFloat64()))
	g.cb = v * g.b
	g.ca = math.Min(0.92*g.a, v*g.a*(0.85+0.2*r.Float64()))
	g.cup = Point{g.disc.X + (r.Float64()-0.5)*0.6*(g.a-g.ca), g.disc.Y + (r.Float64()-0.5)*0.6*(g.b-g.cb)}
	g.noiseSeed = r.Uint64()
	return g
}

// addVessels grows the vessel trees (drawn from the same stream, after the
// geometry, so that SyntheticSamples can skip them).
func (g *synthGeom) addVessels(index int, seed uint64) {
	r := NewRand(Seed(seed, "synth-vessels", index))
	deg := math.Pi / 180
	step := 0.03 * g.fovR
	w0 := 0.022 * g.fovR
	type trunk struct{ angle, curve, length, width float64 }
	s := g.sgn
	trunks := []trunk{
		{-90*deg - s*25*deg, -s * 2.0 * deg, 1.3, w0},       // superotemporal arcade
		{90*deg + s*25*deg, s * 2.0 * deg, 1.3, w0},         // inferotemporal arcade
		{-90*deg + s*35*deg, s * 1.2 * deg, 0.8, 0.75 * w0}, // superonasal
		{90*deg - s*35*deg, -s * 1.2 * deg, 0.8, 0.75 * w0}, // inferonasal
		{0, 0, 0.35, 0.45 * w0},                             // small nasal branch
	}
	if s < 0 {
		trunks[4].angle = math.Pi
	}
	var grow func(x, y, ang, curve, width, dark float64, steps, depth int)
	grow = func(x, y, ang, curve, width, dark float64, steps, depth int) {
		for i := 0; i < steps; i++ {
			ang += curve + 4*deg*r.NormFloat64()
			nx, ny := x+step*math.Cos(ang), y+step*math.Sin(ang)
			g.vessels = append(g.vessels, vesselSeg{x, y, nx, ny, width, dark})
			x, y = nx, ny
			if math.Hypot(x-g.fovC.X, y-g.fovC.Y) > g.fovR {
				return
			}
			width *= 0.985
			if depth < 3 && width > 1 && r.Float64() < 0.09 {
				side := 1.0
				if r.IntN(2) == 0 {
					side = -1
				}
				bang := ang + side*(30+30*r.Float64())*deg
				grow(x, y, bang, (r.Float64()-0.5)*3*deg, width*0.65, dark, (steps-i)/2+3, depth+1)
			}
		}
	}
	// Each main trunk is a vein (dark, wide) with an artery (lighter,
	// narrower) running beside it at a small angle; the small nasal branch
	// is a single vein.
	for k, t := range trunks {
		sx := g.disc.X + 0.15*g.a*r.NormFloat64()
		sy := g.disc.Y + 0.15*g.b*r.NormFloat64()
		n := int(t.length * g.fovR / step)
		grow(sx, sy, t.angle, t.curve, t.width, 1, n, 0)
		if k < 4 {
			off := (8 + 6*r.Float64()) * deg
			if r.IntN(2) == 0 {
				off = -off
			}
			grow(sx, sy, t.angle+off, t.curve, 0.75*t.width, 0.6, n, 0)
		}
	}
	g.tex1 = newValueNoise(r, g.w, g.h, g.fovR/4)
	g.tex2 = newValueNoise(r, g.w, g.h, g.fovR/18)
	g.gain = math.Max(0.75, math.Min(1.25, 1+0.08*r.NormFloat64()))
	g.gam = math.Exp(0.1 * r.NormFloat64())
}

func smoothstep(e0, e1, x float64) float64 {
	t := (x - e0) / (e1 - e0)
	if t <= 0 {
		return 0
	}
	if t >= 1 {
		return 1
	}
	return t * t * (3 - 2*t)
}

// hashNoise returns a deterministic pseudo-normal value (sum of two
// uniforms, triangular, variance 1/6 scaled to 1) for a pixel.
func hashNoise(seed uint64, i int) float64 {
	h := splitmix64(seed ^ uint64(i)*0x9e3779b97f4a7c15)
	u1 := float64(h>>40) / (1 << 24)
	u2 := float64((h>>16)&0xffffff) / (1 << 24)
	return (u1 + u2 - 1) * 2.449489742783178
}

// Synthesize renders synthetic fundus image number index of the dataset
// with the given seed: a circular field of view on black, an orange-red
// retina with illumination falloff and texture, a vertically elongated
// bright optic disc with a paler cup, vessel trees leaving the disc and a
// darker macula with the fovea about 2.5 disc diameters temporal to the
// disc. It returns the RGB image, the exact REFUGE mask (0 cup, 128 rim,
// 255 background; cup pixels are always inside the disc) and the ground
// truth. The output depends only on (index, seed, opt).
func Synthesize(index int, seed uint64, opt SynthOptions) (*Image, *Mask, SynthTruth) {
	opt = opt.withDefaults()
	g := synthGeometry(index, seed, opt)
	g.addVessels(index, seed)
	w, h := g.w, g.h
	img := NewImage(w, h, 3)
	m := g.mask()

	// Vessel map: max of the vessel profiles.
	vmap := make([]float32, w*h)
	for _, s := range g.vessels {
		half := s.w / 2
		pad := s.w + 1
		x0 := max(0, int(math.Floor(math.Min(s.x0, s.x1)-pad)))
		x1 := min(w-1, int(math.Ceil(math.Max(s.x0, s.x1)+pad)))
		y0 := max(0, int(math.Floor(math.Min(s.y0, s.y1)-pad)))
		y1 := min(h-1, int(math.Ceil(math.Max(s.y0, s.y1)+pad)))
		dx, dy := s.x1-s.x0, s.y1-s.y0
		l2 := dx*dx + dy*dy
		for y := y0; y <= y1; y++ {
			for x := x0; x <= x1; x++ {
				px, py := float64(x)-s.x0, float64(y)-s.y0
				t := 0.0
				if l2 > 0 {
					t = math.Max(0, math.Min(1, (px*dx+py*dy)/l2))
				}
				ex, ey := px-t*dx, py-t*dy
				d := math.Sqrt(ex*ex+ey*ey) / math.Max(half, 0.5)
				if d >= 1.6 {
					continue
				}
				v := float32(s.dark * math.Exp(-1.2*d*d))
				if i := y*w + x; v > vmap[i] {
					vmap[i] = v
				}
			}
		}
	}

	plane := w * h
	macSig := 0.7 * g.dd
	fovSig := 0.12 * g.dd
	parallelRows(h, func(ya, yb int) {
		for y := ya; y < yb; y++ {
			fy := float64(y)
			for x := 0; x < w; x++ {
				fx := float64(x)
				i := y*w + x
				rf := math.Hypot(fx-g.fovC.X, fy-g.fovC.Y)
				fov := smoothstep(g.fovR+1, g.fovR-1, rf)
				var c [3]float64
				if fov > 0 {
					ri := math.Hypot(fx-g.illumC.X, fy-g.illumC.Y) / g.fovR
					illum := math.Max(0.3, 1.05-0.5*ri*ri)
					tex := 1 + 0.06*g.tex1.at(fx, fy) + 0.035*g.tex2.at(fx, fy)
					dfx, dfy := fx-g.fovea.X, fy-g.fovea.Y
					d2 := dfx*dfx + dfy*dfy
					mac := math.Exp(-d2 / (2 * macSig * macSig))
					fov2 := math.Exp(-d2 / (2 * fovSig * fovSig))
					macDim := [3]float64{0.30*mac + 0.10*fov2, 0.42*mac + 0.15*fov2, 0.40*mac + 0.15*fov2}
					ex, ey := (fx-g.disc.X)/g.a, (fy-g.disc.Y)/g.b
					wd := smoothstep(1.05, 0.95, math.Sqrt(ex*ex+ey*ey))
					cx, cy := (fx-g.cup.X)/g.ca, (fy-g.cup.Y)/g.cb
					wc := smoothstep(1.12, 0.85, math.Sqrt(cx*cx+cy*cy)) * wd
					vd := float64(vmap[i])
					for ch := 0; ch < 3; ch++ {
						v := g.dev.retina[ch] * tex * (1 - macDim[ch])
						v = v*(1-wd) + g.dev.disc[ch]*wd
						v = v*(1-wc) + g.dev.cup[ch]*wc
						v *= illum * (1 - g.dev.vesselDim[ch]*vd)
						c[ch] = g.gain * math.Pow(math.Max(v, 0), g.gam) * fov
					}
				}
				for ch := 0; ch < 3; ch++ {
					v := c[ch] + 0.008*hashNoise(g.noiseSeed, ch*plane+i)
					img.Pix[ch*plane+i] = float32(math.Max(0, math.Min(1, v)))
				}
			}
		}
	})
	return img, m, g.truth(m)
}

// mask rasterises the disc and cup ellipses at pixel centres.
func (g *synthGeom) mask() *Mask {
	m := NewMask(g.w, g.h)
	x0 := max(0, int(math.Floor(g.disc.X-g.a-1)))
	x1 := min(g.w-1, int(math.Ceil(g.disc.X+g.a+1)))
	y0 := max(0, int(math.Floor(g.disc.Y-g.b-1)))
	y1 := min(g.h-1, int(math.Ceil(g.disc.Y+g.b+1)))
	for y := y0; y <= y1; y++ {
		for x := x0; x <= x1; x++ {
			ex, ey := (float64(x)-g.disc.X)/g.a, (float64(y)-g.disc.Y)/g.b
			if ex*ex+ey*ey > 1 {
				continue
			}
			cx, cy := (float64(x)-g.cup.X)/g.ca, (float64(y)-g.cup.Y)/g.cb
			if cx*cx+cy*cy <= 1 {
				m.Pix[y*g.w+x] = Cup
			} else {
				m.Pix[y*g.w+x] = Rim
			}
		}
	}
	return m
}

func (g *synthGeom) truth(m *Mask) SynthTruth {
	t := SynthTruth{Label: g.label, Fovea: g.fovea, DiscCenter: g.disc, Device: g.dev.name, Eye: g.eye,
		DiscDiamV: 2 * g.b, DiscDiamH: 2 * g.a, W: g.w, H: g.h}
	if m != nil {
		cup, disc := maskVerticalDiameters(m)
		if disc > 0 {
			t.VCDR = float64(cup) / float64(disc)
		}
	}
	return t
}

// maskVerticalDiameters returns the largest per-column pixel counts of the
// cup (== 0) and of the disc (< 255), the official vertical diameters.
func maskVerticalDiameters(m *Mask) (cup, disc int) {
	for x := 0; x < m.W; x++ {
		c, d := 0, 0
		for y := 0; y < m.H; y++ {
			v := m.Pix[y*m.W+x]
			if v < Background {
				d++
			}
			if v == Cup {
				c++
			}
		}
		cup, disc = max(cup, c), max(disc, d)
	}
	return cup, disc
}

// SyntheticStem is the file stem of synthetic image index (0-based):
// "s0001", "s0002", ...
func SyntheticStem(index int) string { return fmt.Sprintf("s%04d", index+1) }

// SyntheticSamples returns n in-memory samples of the synthetic generator
// for source name: IDs "<name>/s0001"..., with label, device, size, fovea
// and disc centre filled from the exact ground truth, HasMask set, and a
// loader that renders the image and mask on demand (so no image is held in
// memory until loaded).
func SyntheticSamples(name string, n int, seed uint64, opt SynthOptions) []*Sample {
	opt = opt.withDefaults()
	out := make([]*Sample, n)
	for i := 0; i < n; i++ {
		g := synthGeometry(i, seed, opt)
		stem := SyntheticStem(i)
		fov, dc := g.fovea, g.disc
		s := &Sample{ID: name + "/" + stem, Stem: stem, Name: stem + ".png", Source: name, Format: "synthetic",
			Device: g.dev.name, W: g.w, H: g.h, Label: g.label, HasMask: true, Fovea: &fov, DiscCenter: &dc}
		idx := i
		s.SetLoader(func() (*Image, *Mask, error) {
			img, m, _ := Synthesize(idx, seed, opt)
			return img, m, nil
		})
		out[i] = s
	}
	return out
}
