package augment

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/refugelab/refugelab/data"
)

// Geometric transforms. Each maps the current frame with an exact forward
// affine map (pixel-centre convention); the state composes consecutive maps
// and resamples once. Angles are counter-clockwise as seen on screen (y points
// down), about the frame centre ((W-1)/2, (H-1)/2).

const resampleTail = ", bilinear for the image, nearest for the mask, the fovea point mapped exactly; " +
	"areas moved in from outside the frame are 0 in the image and background in the mask"

func init() {
	registry["hflip"] = func(pr *paramReader) transform { return hflip{} }
	registry["vflip"] = func(pr *paramReader) transform { return vflip{} }
	registry["rot90"] = func(pr *paramReader) transform {
		return rot90{k: pr.intListParam("k", []int{1, 2, 3}, 0, 3)}
	}
	registry["rotate"] = func(pr *paramReader) transform {
		return rotate{deg: pr.rangeParam("degrees", [2]float64{-15, 15},
			bounds{lo: -360, hi: 360, what: "angles in degrees", symmetricOne: true})}
	}
	registry["scale"] = func(pr *paramReader) transform {
		return scale{r: pr.rangeParam("range", [2]float64{0.9, 1.1},
			bounds{lo: 0, loOpen: true, hi: 100, what: "scale factors"})}
	}
	registry["translate"] = func(pr *paramReader) transform {
		return translate{f: pr.rangeParam("fraction", [2]float64{-0.1, 0.1},
			bounds{lo: -1, hi: 1, what: "fractions of the width/height", symmetricOne: true})}
	}
	registry["crop"] = func(pr *paramReader) transform {
		c := crop{size: pr.sizeParam("size")}
		if c.size == nil {
			c.area = pr.rangeParam("area", [2]float64{0.6, 1}, bounds{lo: 0, loOpen: true, hi: 1, what: "fractions of the image area"})
			c.aspect = pr.rangeParam("aspect", [2]float64{3.0 / 4, 4.0 / 3}, bounds{lo: 0, loOpen: true, hi: 100, what: "aspect ratios"})
		} else {
			// Known keys, but not valid together with size.
			for _, k := range []string{"area", "aspect"} {
				if _, ok := pr.lookup(k); ok {
					pr.fail(k, "not allowed together with size (a fixed-size crop has no area or aspect range)")
				}
			}
		}
		return c
	}
	registry["elastic"] = func(pr *paramReader) transform {
		e := elastic{
			alpha: pr.numParam("alpha", 100, bounds{lo: 0, hi: 1e6, what: "a displacement scale in pixels"}),
			sigma: pr.numParam("sigma", 8, bounds{lo: 0, loOpen: true, hi: 64, what: "a smoothing width in pixels"}),
		}
		e.kernel = gaussKernel(e.sigma)
		return e
	}
}

// hflip: x' = W-1-x.
type hflip struct{}

func (hflip) describe() (string, string) {
	return "horizontal flip", ", exact for the image, the mask and the fovea point (x' = W-1-x, pixel-centre convention)"
}

func (hflip) apply(st *state, _ *rand.Rand) {
	st.affine(data.Affine{-1, 0, float64(st.w - 1), 0, 1, 0}, st.w, st.h)
}

// vflip: y' = H-1-y.
type vflip struct{}

func (vflip) describe() (string, string) {
	return "vertical flip", ", exact for the image, the mask and the fovea point (y' = H-1-y, pixel-centre convention)"
}

func (vflip) apply(st *state, _ *rand.Rand) {
	st.affine(data.Affine{1, 0, 0, 0, -1, float64(st.h - 1)}, st.w, st.h)
}

// rot90 rotates by k quarter turns counter-clockwise (numpy.rot90
// convention), k drawn uniformly from the configured list. Odd k swaps the
// width and height.
type rot90 struct{ k []int }

func (t rot90) describe() (string, string) {
	ks := make([]string, len(t.k))
	for i, k := range t.k {
		ks[i] = fmt.Sprint(k)
	}
	return "rotation by k quarter turns counter-clockwise, k drawn uniformly from {" + strings.Join(ks, ", ") + "},",
		", exact for the image, the mask and the fovea point (k = 1: x' = y, y' = W-1-x; odd k swaps width and height)"
}

// quarterTurn returns the forward map of k counter-clockwise quarter turns of
// a w x h frame and the new frame size.
func quarterTurn(k, w, h int) (data.Affine, int, int) {
	W, H := float64(w-1), float64(h-1)
	switch k & 3 {
	case 1:
		return data.Affine{0, 1, 0, -1, 0, W}, h, w
	case 2:
		return data.Affine{-1, 0, W, 0, -1, H}, w, h
	case 3:
		return data.Affine{0, -1, H, 1, 0, 0}, h, w
	}
	return data.Identity, w, h
}

func (t rot90) outSizes(w, h int) [][2]int {
	var out [][2]int
	for _, k := range t.k {
		_, ow, oh := quarterTurn(k, w, h)
		out = append(out, [2]int{ow, oh})
	}
	return out
}

func (t rot90) apply(st *state, r *rand.Rand) {
	k := t.k[r.IntN(len(t.k))]
	f, w, h := quarterTurn(k, st.w, st.h)
	st.affine(f, w, h)
}

// uniform draws from [r[0], r[1]] (exactly r[0] when the range is a point).
func uniform(r *rand.Rand, rg [2]float64) float64 {
	u := r.Float64()
	if rg[0] == rg[1] {
		return rg[0]
	}
	return rg[0] + u*(rg[1]-rg[0])
}

// aboutCentre returns the map x' = c + M (x - c) for the 2x2 matrix
// (m00 m01; m10 m11) about the centre of a w x h frame.
func aboutCentre(m00, m01, m10, m11 float64, w, h int) data.Affine {
	cx, cy := float64(w-1)/2, float64(h-1)/2
	return data.Affine{m00, m01, cx - m00*cx - m01*cy, m10, m11, cy - m10*cx - m11*cy}
}

// rotate by a uniform angle (degrees, counter-clockwise positive).
type rotate struct{ deg [2]float64 }

func (t rotate) describe() (string, string) {
	return "rotation about the image centre by a uniform angle in " + fmtRange(t.deg, "°") + " (counter-clockwise positive)", resampleTail
}

// rotation returns the forward map of a counter-clockwise rotation by deg
// degrees about the centre of a w x h frame. Multiples of 90° use exact
// cosines and sines.
func rotation(deg float64, w, h int) data.Affine {
	rad := deg * math.Pi / 180
	c, s := math.Cos(rad), math.Sin(rad)
	if q := deg / 90; q == math.Trunc(q) {
		c, s = []float64{1, 0, -1, 0}[int(math.Mod(q+8, 4))], []float64{0, 1, 0, -1}[int(math.Mod(q+8, 4))]
	}
	return aboutCentre(c, s, -s, c, w, h)
}

func (t rotate) apply(st *state, r *rand.Rand) {
	st.affine(rotation(uniform(r, t.deg), st.w, st.h), st.w, st.h)
}

// scale isotropically about the centre (factor > 1 enlarges the content).
type scale struct{ r [2]float64 }

func (t scale) describe() (string, string) {
	return "isotropic scaling about the image centre by a uniform factor in " + fmtRange(t.r, "") + " (> 1 enlarges)", resampleTail
}

func (t scale) apply(st *state, r *rand.Rand) {
	s := uniform(r, t.r)
	st.affine(aboutCentre(s, 0, 0, s, st.w, st.h), st.w, st.h)
}

// translate by independent uniform fractions of the width and the height.
type translate struct{ f [2]float64 }

func (t translate) describe() (string, string) {
	return "translation by uniform fractions in " + fmtRange(t.f, "") + " of the width and of the height (drawn independently)", resampleTail
}

func (t translate) apply(st *state, r *rand.Rand) {
	tx := uniform(r, t.f) * float64(st.w)
	ty := uniform(r, t.f) * float64(st.h)
	st.affine(data.Affine{1, 0, tx, 0, 1, ty}, st.w, st.h)
}

// crop: either a random resized crop (a window of a uniform fraction of the
// area and a log-uniform aspect ratio relative to the image's, at a uniform
// position, resized back to the input size) or, with size, a window of fixed
// size in pixels at a uniform integer position (output of that size, no
// resampling; windows larger than the image are padded).
type crop struct {
	size         []int
	area, aspect [2]float64
}

func (t crop) describe() (string, string) {
	if t.size != nil {
		return fmt.Sprintf("random crop of a fixed %dx%d px window at a uniform integer position", t.size[0], t.size[1]),
			", exact for the image, the mask and the fovea point (no resampling; a window larger than the image is padded with 0 in the image and background in the mask)"
	}
	return "random resized crop of a window covering a uniform fraction " + fmtRange(t.area, "") +
		" of the image area with a log-uniform aspect ratio in " + fmtRange(t.aspect, "") +
		" (relative to the image's, clipped to the image), at a uniform position, resized back to the input size", resampleTail
}

func (t crop) outSizes(w, h int) [][2]int {
	if t.size != nil {
		return [][2]int{{t.size[0], t.size[1]}}
	}
	return [][2]int{{w, h}}
}

func (t crop) apply(st *state, r *rand.Rand) {
	w, h := float64(st.w), float64(st.h)
	if t.size != nil {
		cw, ch := t.size[0], t.size[1]
		x0, y0 := intOffset(r, st.w, cw), intOffset(r, st.h, ch)
		st.affine(data.Affine{1, 0, float64(-x0), 0, 1, float64(-y0)}, cw, ch)
		return
	}
	a := uniform(r, t.area)
	lo, hi := math.Log(t.aspect[0]), math.Log(t.aspect[1])
	asp := math.Exp(uniform(r, [2]float64{lo, hi}))
	cw := math.Min(w*math.Sqrt(a*asp), w)
	ch := math.Min(h*math.Sqrt(a/asp), h)
	x0 := r.Float64() * (w - cw)
	y0 := r.Float64() * (h - ch)
	st.affine(data.CropResize(x0, y0, cw, ch, st.w, st.h), st.w, st.h)
}

// intOffset draws the integer window origin for a window of size n in a frame
// of size full: uniform in [0, full-n], or in [full-n, 0] when it is larger.
func intOffset(r *rand.Rand, full, n int) int {
	if n <= full {
		return r.IntN(full - n + 1)
	}
	return -r.IntN(n - full + 1)
}

// elastic deformation after Simard et al. (2003): each displacement component
// is uniform noise in [-1, 1] smoothed by a Gaussian of width sigma and
// multiplied by alpha (pixels).
type elastic struct {
	alpha, sigma float64
	kernel       []float32
}

// rms returns the expected root-mean-square displacement per axis of the
// smoothed field (px): alpha * sqrt(1/3) * sum of the 2-D kernel's squares^(1/2).
func (t elastic) rms() float64 {
	s := 0.0
	for _, k := range t.kernel {
		s += float64(k) * float64(k)
	}
	return t.alpha * math.Sqrt(1.0/3) * s
}

func (t elastic) describe() (string, string) {
	return fmt.Sprintf("elastic deformation (Simard et al. 2003: displacement noise uniform in [-1, 1] per pixel and axis, "+
		"smoothed by a Gaussian with σ = %s px (evaluated every %d px, bilinear in between) and scaled by α = %s px, "+
		"expected RMS displacement %.2f px per axis; a field that would fold the image (Jacobian determinant below 0.05) is scaled down until it does not)",
		fmtNum(t.sigma), t.stride(), fmtNum(t.alpha), t.rms()), resampleTail
}

func (t elastic) apply(st *state, r *rand.Rand) {
	if t.alpha == 0 {
		return
	}
	w, h := st.w, st.h
	field := t.field(r, w, h)
	unfold(field, w, h)
	if st.pt != nil {
		*st.pt = invertField(field, w, h, *st.pt)
	}
	st.resample(field)
}

// stride returns the spacing of the grid on which the smoothed field is
// computed exactly: floor(sigma/2) px (at least 1). A Gaussian-smoothed field
// varies on the scale of sigma, so bilinear interpolation between nodes this
// close changes it by a few hundredths of a pixel.
func (t elastic) stride() int { return max(1, int(t.sigma/2)) }

// field draws the displacement field of a w x h frame: dx plane then dy
// plane. The noise is drawn for every pixel on a grid padded by the kernel
// radius on every side and filtered without border effects, so the field's
// statistics are the same everywhere in the frame. The filtered field is
// evaluated at every stride-th pixel and interpolated bilinearly in between
// (exact where stride is 1).
func (t elastic) field(r *rand.Rand, w, h int) []float32 {
	rad := len(t.kernel) / 2
	s := t.stride()
	cw, ch := (w-1)/s+2, (h-1)/s+2 // coarse nodes j*s, the last at or beyond the frame edge
	pw, ph := (cw-1)*s+1+2*rad, (ch-1)*s+1+2*rad
	noise := make([]float32, pw*ph)
	rows := make([]float32, cw*ph)
	coarse := make([]float32, cw*ch)
	field := make([]float32, 2*w*h)
	a := float32(t.alpha)
	for c := 0; c < 2; c++ {
		for i := 0; i < len(noise); i += 2 {
			// Two uniform values in [-1, 1) from the two 32-bit halves of one draw.
			u := r.Uint64()
			noise[i] = float32(u>>40)/(1<<23) - 1
			if i+1 < len(noise) {
				noise[i+1] = float32((u>>8)&(1<<24-1))/(1<<23) - 1
			}
		}
		// Rows: at the coarse columns only.
		for y := 0; y < ph; y++ {
			src := noise[y*pw : (y+1)*pw]
			dst := rows[y*cw : (y+1)*cw]
			for j := range dst {
				dst[j] = dot32(t.kernel, src[j*s:j*s+len(t.kernel)])
			}
		}
		// Columns: at the coarse rows only.
		for i := 0; i < ch; i++ {
			o := coarse[i*cw : (i+1)*cw]
			for j := range o {
				o[j] = 0
			}
			for k, kv := range t.kernel {
				src := rows[(i*s+k)*cw : (i*s+k+1)*cw]
				for j := range o {
					o[j] += kv * src[j]
				}
			}
		}
		out := field[c*w*h : (c+1)*w*h]
		inv := 1 / float32(s)
		for y := 0; y < h; y++ {
			i0 := y / s
			fy := float32(y-i0*s) * inv
			r0, r1 := coarse[i0*cw:(i0+1)*cw], coarse[(i0+1)*cw:(i0+2)*cw]
			o := out[y*w : (y+1)*w]
			for x := range o {
				j0 := x / s
				fx := float32(x-j0*s) * inv
				top := r0[j0]*(1-fx) + r0[j0+1]*fx
				bot := r1[j0]*(1-fx) + r1[j0+1]*fx
				o[x] = a * (top*(1-fy) + bot*fy)
			}
		}
	}
	return field
}

// dot32 returns the dot product of k and v (len(v) >= len(k)).
func dot32(k, v []float32) float32 {
	v = v[:len(k)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(k); i += 4 {
		s0 += k[i] * v[i]
		s1 += k[i+1] * v[i+1]
		s2 += k[i+2] * v[i+2]
		s3 += k[i+3] * v[i+3]
	}
	for ; i < len(k); i++ {
		s0 += k[i] * v[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// minJacobian is the smallest Jacobian determinant allowed for the map
// q -> q + d(q): the deformation never folds, so a label region never tears
// into pieces and the point has exactly one image.
const minJacobian = 0.05

// unfold scales the field by the largest factor s in (0, 1] for which the
// Jacobian determinant of q -> q + s·d(q) (central differences on the grid)
// stays at or above minJacobian everywhere; fields of moderate strength are
// left untouched (s = 1). Per pixel, det(s) = 1 + s·T + s²·D with T the
// trace and D the determinant of the field's gradient, so the admissible s
// is the smallest positive root of (1 - minJacobian) + s·T + s²·D = 0.
func unfold(field []float32, w, h int) {
	if w < 3 || h < 3 {
		return
	}
	n := w * h
	best := 1.0
	const c0 = 1 - minJacobian
	for y := 1; y < h-1; y++ {
		for x := 1; x < w-1; x++ {
			i := y*w + x
			a := float64(field[i+1]-field[i-1]) / 2
			b := float64(field[i+w]-field[i-w]) / 2
			c := float64(field[n+i+1]-field[n+i-1]) / 2
			d := float64(field[n+i+w]-field[n+i-w]) / 2
			T, D := a+d, a*d-b*c
			if 1+T+D >= minJacobian {
				continue // fine at s = 1 ...
			}
			// ... not at s = 1: the smallest positive root of c0 + s T + s² D.
			var root float64
			if D == 0 {
				root = -c0 / T
			} else {
				disc := T*T - 4*D*c0
				r1 := (-T - math.Sqrt(disc)) / (2 * D)
				r2 := (-T + math.Sqrt(disc)) / (2 * D)
				root = math.Inf(1)
				for _, r := range []float64{r1, r2} {
					if r > 0 && r < root {
						root = r
					}
				}
			}
			if root < best {
				best = root
			}
		}
	}
	if best < 1 {
		s := float32(best * (1 - 1e-9))
		for i := range field {
			field[i] *= s
		}
	}
}

// gaussKernel returns the normalised 1-D Gaussian kernel of width sigma,
// truncated at 3 sigma (radius at least 1).
func gaussKernel(sigma float64) []float32 {
	rad := int(math.Ceil(3 * sigma))
	if rad < 1 {
		rad = 1
	}
	k := make([]float64, 2*rad+1)
	sum := 0.0
	for i := range k {
		d := float64(i - rad)
		k[i] = math.Exp(-d * d / (2 * sigma * sigma))
		sum += k[i]
	}
	out := make([]float32, len(k))
	for i := range k {
		out[i] = float32(k[i] / sum)
	}
	return out
}

// convolveSep filters plane (w x h) in place with the separable kernel k
// (rows, then columns), replicating edge pixels; tmp has length w*h.
func convolveSep(plane, tmp []float32, w, h int, k []float32) {
	rad := len(k) / 2
	for y := 0; y < h; y++ {
		row := plane[y*w : (y+1)*w]
		out := tmp[y*w : (y+1)*w]
		for x := 0; x < w; x++ {
			var s float32
			if x >= rad && x+rad < w {
				seg := row[x-rad : x+rad+1]
				for i, kv := range k {
					s += kv * seg[i]
				}
			} else {
				for i, kv := range k {
					xx := min(max(x+i-rad, 0), w-1)
					s += kv * row[xx]
				}
			}
			out[x] = s
		}
	}
	// Columns: accumulate whole rows for cache-friendly access.
	for y := 0; y < h; y++ {
		out := plane[y*w : (y+1)*w]
		for x := range out {
			out[x] = 0
		}
		for i, kv := range k {
			yy := min(max(y+i-rad, 0), h-1)
			src := tmp[yy*w : (yy+1)*w]
			for x := range out {
				out[x] += kv * src[x]
			}
		}
	}
}
