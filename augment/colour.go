package augment

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Photometric transforms: they change the image only (the mask and the point
// are untouched) and clamp the result to [0, 1]. A drawn parameter equal to
// the identity (factor 1, shift 0, sigma 0, ...) leaves the image bitwise
// unchanged. saturation and hue need 3 channels (RGB) and leave other images
// unchanged.

const photoTail = ", image only (mask and fovea point unchanged), result clamped to [0, 1]"

func init() {
	factor := bounds{lo: 0, hi: 100, what: "factors"}
	registry["brightness"] = func(pr *paramReader) transform {
		return brightness{r: pr.rangeParam("range", [2]float64{0.8, 1.2}, factor)}
	}
	registry["contrast"] = func(pr *paramReader) transform {
		return contrast{r: pr.rangeParam("range", [2]float64{0.8, 1.2}, factor)}
	}
	registry["saturation"] = func(pr *paramReader) transform {
		return saturation{r: pr.rangeParam("range", [2]float64{0.8, 1.2}, factor)}
	}
	registry["hue"] = func(pr *paramReader) transform {
		return hue{r: pr.rangeParam("shift", [2]float64{-0.05, 0.05},
			bounds{lo: -0.5, hi: 0.5, what: "hue shifts in turns", symmetricOne: true})}
	}
	registry["gamma"] = func(pr *paramReader) transform {
		return gamma{r: pr.rangeParam("range", [2]float64{0.8, 1.25}, bounds{lo: 0, loOpen: true, hi: 20, what: "gamma exponents"})}
	}
	registry["blur"] = func(pr *paramReader) transform {
		return blur{r: pr.rangeParam("sigma", [2]float64{0.5, 1.5}, bounds{lo: 0, hi: 20, what: "Gaussian widths in pixels"})}
	}
	registry["noise"] = func(pr *paramReader) transform {
		return noise{r: pr.rangeParam("sigma", [2]float64{0.02, 0.02}, bounds{lo: 0, hi: 10, what: "noise standard deviations"})}
	}
	registry["erase"] = func(pr *paramReader) transform {
		return erase{
			area:   pr.rangeParam("area", [2]float64{0.02, 0.2}, bounds{lo: 0, hi: 1, what: "fractions of the image area"}),
			aspect: pr.rangeParam("aspect", [2]float64{0.3, 3.3}, bounds{lo: 0, loOpen: true, hi: 100, what: "aspect ratios"}),
			value:  pr.numParam("value", 0, bounds{lo: 0, hi: 1, what: "a fill intensity"}),
		}
	}
}

func clamp01(v float32) float32 {
	if v < 0 {
		return 0
	}
	if v > 1 {
		return 1
	}
	return v
}

// luma returns the Rec. 601 luma of pixel i of a 3-channel planar image.
func luma(p []float32, n, i int) float32 {
	return 0.299*p[i] + 0.587*p[n+i] + 0.114*p[2*n+i]
}

// brightness multiplies all intensities by a factor.
type brightness struct{ r [2]float64 }

func (t brightness) describe() (string, string) {
	return "brightness change multiplying every intensity by a uniform factor in " + fmtRange(t.r, ""), photoTail
}

func (t brightness) apply(st *state, r *rand.Rand) {
	f := uniform(r, t.r)
	if f == 1 {
		return
	}
	img := st.mutableImage()
	ff := float32(f)
	for i, v := range img.Pix {
		img.Pix[i] = clamp01(v * ff)
	}
}

// contrast blends every intensity with the image's mean grey value:
// v' = m + f (v - m), where m is the mean luma (mean value for non-RGB).
type contrast struct{ r [2]float64 }

func (t contrast) describe() (string, string) {
	return "contrast change v' = m + f·(v - m) about the image's mean grey level m with a uniform factor f in " + fmtRange(t.r, ""), photoTail
}

func (t contrast) apply(st *state, r *rand.Rand) {
	f := uniform(r, t.r)
	if f == 1 {
		return
	}
	img := st.mutableImage()
	n := img.W * img.H
	var sum float64
	if img.C == 3 {
		for i := 0; i < n; i++ {
			sum += float64(luma(img.Pix, n, i))
		}
		sum /= float64(n)
	} else {
		for _, v := range img.Pix {
			sum += float64(v)
		}
		sum /= float64(len(img.Pix))
	}
	m, ff := float32(sum), float32(f)
	for i, v := range img.Pix {
		img.Pix[i] = clamp01(m + ff*(v-m))
	}
}

// saturation blends each RGB pixel with its luma: v' = l + f (v - l).
type saturation struct{ r [2]float64 }

func (t saturation) describe() (string, string) {
	return "saturation change v' = l + f·(v - l) towards each pixel's luma l (Rec. 601) with a uniform factor f in " + fmtRange(t.r, "") + " (RGB images only)", photoTail
}

func (t saturation) apply(st *state, r *rand.Rand) {
	f := uniform(r, t.r)
	if f == 1 || st.img.C != 3 {
		return
	}
	img := st.mutableImage()
	n := img.W * img.H
	ff := float32(f)
	for i := 0; i < n; i++ {
		l := luma(img.Pix, n, i)
		for c := 0; c < 3; c++ {
			v := img.Pix[c*n+i]
			img.Pix[c*n+i] = clamp01(l + ff*(v-l))
		}
	}
}

// hue rotates the HSV hue by a shift in turns (1 = full circle).
type hue struct{ r [2]float64 }

func (t hue) describe() (string, string) {
	return "hue shift in HSV space by a uniform fraction of the colour circle in " + fmtRange(t.r, "") + " (RGB images only)", photoTail
}

func (t hue) apply(st *state, r *rand.Rand) {
	d := uniform(r, t.r)
	if d == 0 || st.img.C != 3 {
		return
	}
	img := st.mutableImage()
	n := img.W * img.H
	p := img.Pix
	for i := 0; i < n; i++ {
		rr, gg, bb := hueShift(float64(clamp01(p[i])), float64(clamp01(p[n+i])), float64(clamp01(p[2*n+i])), d)
		p[i], p[n+i], p[2*n+i] = float32(rr), float32(gg), float32(bb)
	}
}

// hueShift converts RGB to HSV, adds d turns to the hue and converts back.
func hueShift(r, g, b, d float64) (float64, float64, float64) {
	mx := math.Max(r, math.Max(g, b))
	mn := math.Min(r, math.Min(g, b))
	c := mx - mn
	if c == 0 {
		return r, g, b // grey: no hue
	}
	var h float64
	switch mx {
	case r:
		h = (g - b) / c
	case g:
		h = (b-r)/c + 2
	default:
		h = (r-g)/c + 4
	}
	h = h/6 + d
	h -= math.Floor(h)
	h *= 6
	s, v := c/mx, mx
	x := v * s * (1 - math.Abs(math.Mod(h, 2)-1))
	m := v - v*s
	cc := v * s
	var r1, g1, b1 float64
	switch int(h) {
	case 0:
		r1, g1, b1 = cc, x, 0
	case 1:
		r1, g1, b1 = x, cc, 0
	case 2:
		r1, g1, b1 = 0, cc, x
	case 3:
		r1, g1, b1 = 0, x, cc
	case 4:
		r1, g1, b1 = x, 0, cc
	default:
		r1, g1, b1 = cc, 0, x
	}
	return r1 + m, g1 + m, b1 + m
}

// gammaSegments is the number of segments of the piecewise-linear table
// through which gamma evaluates v^g for v >= gammaExact/gammaSegments (below
// that, near 0 where v^g is steep for g < 1, math.Pow is used). The
// interpolation error h²/8·|g(g-1)|·v^(g-2) (h = 1/4096) stays below 2e-5 for
// exponent in (0, 20] (1.8e-5 at g = 0.05, 3e-6 at g = 20), far below
// an 8-bit grey level, at a tenth of the cost of math.Pow per value.
const (
	gammaSegments = 4096
	gammaExact    = 16
)

// gamma raises every intensity to a power.
type gamma struct{ r [2]float64 }

func (t gamma) describe() (string, string) {
	return "gamma correction v' = v^g with a uniform exponent g in " + fmtRange(t.r, ""), photoTail
}

func (t gamma) apply(st *state, r *rand.Rand) {
	g := uniform(r, t.r)
	if g == 1 {
		return
	}
	var lut [gammaSegments + 2]float32
	for i := 0; i <= gammaSegments; i++ {
		lut[i] = float32(math.Pow(float64(i)/gammaSegments, g))
	}
	lut[gammaSegments+1] = lut[gammaSegments] // v = 1 reads lut[N] with weight 1
	img := st.mutableImage()
	for i, v := range img.Pix {
		x := clamp01(v) * gammaSegments
		if x < gammaExact {
			img.Pix[i] = float32(math.Pow(float64(clamp01(v)), g))
			continue
		}
		k := int(x)
		f := x - float32(k)
		img.Pix[i] = lut[k]*(1-f) + lut[k+1]*f
	}
}

// blur applies a Gaussian blur of uniform width.
type blur struct{ r [2]float64 }

func (t blur) describe() (string, string) {
	return "Gaussian blur with a uniform σ in " + fmtRange(t.r, " px") + " (kernel truncated at 3σ, edges replicated)", photoTail
}

func (t blur) apply(st *state, r *rand.Rand) {
	s := uniform(r, t.r)
	if s == 0 {
		return
	}
	img := st.mutableImage()
	n := img.W * img.H
	k := gaussKernel(s)
	tmp := make([]float32, n)
	for c := 0; c < img.C; c++ {
		plane := img.Pix[c*n : (c+1)*n]
		convolveSep(plane, tmp, img.W, img.H, k)
		for i, v := range plane {
			plane[i] = clamp01(v)
		}
	}
}

// noise adds independent zero-mean Gaussian noise to every value.
type noise struct{ r [2]float64 }

func (t noise) describe() (string, string) {
	if t.r[0] == t.r[1] {
		return "additive Gaussian noise with standard deviation " + fmtNum(t.r[0]) + " (independent per pixel and channel)", photoTail
	}
	return "additive Gaussian noise with a uniform standard deviation in " + fmtRange(t.r, "") + " (independent per pixel and channel)", photoTail
}

func (t noise) apply(st *state, r *rand.Rand) {
	s := uniform(r, t.r)
	if s == 0 {
		return
	}
	img := st.mutableImage()
	for i, v := range img.Pix {
		img.Pix[i] = clamp01(v + float32(s*r.NormFloat64()))
	}
}

// erase fills one random rectangle with a constant (random erasing, Zhong et
// al. 2020): area a uniform fraction of the image, aspect ratio log-uniform;
// up to 10 draws are made to fit it inside the image, else nothing is erased.
type erase struct {
	area, aspect [2]float64
	value        float64
}

func (t erase) describe() (string, string) {
	return fmt.Sprintf("random erasing of one rectangle covering a uniform fraction %s of the image area with a log-uniform aspect ratio in %s, filled with the value %s",
		fmtRange(t.area, ""), fmtRange(t.aspect, ""), fmtNum(t.value)), ", image only (mask and fovea point unchanged)"
}

func (t erase) apply(st *state, r *rand.Rand) {
	w, h := st.w, st.h
	lo, hi := math.Log(t.aspect[0]), math.Log(t.aspect[1])
	for attempt := 0; attempt < 10; attempt++ {
		a := uniform(r, t.area) * float64(w*h)
		asp := math.Exp(uniform(r, [2]float64{lo, hi}))
		ew := int(math.Round(math.Sqrt(a * asp)))
		eh := int(math.Round(math.Sqrt(a / asp)))
		if ew < 1 || eh < 1 {
			return // nothing to erase (area 0)
		}
		if ew > w || eh > h {
			continue
		}
		x0, y0 := r.IntN(w-ew+1), r.IntN(h-eh+1)
		img := st.mutableImage()
		n := img.W * img.H
		v := float32(t.value)
		for c := 0; c < img.C; c++ {
			for y := y0; y < y0+eh; y++ {
				row := img.Pix[c*n+y*img.W+x0 : c*n+y*img.W+x0+ew]
				for i := range row {
					row[i] = v
				}
			}
		}
		return
	}
}
