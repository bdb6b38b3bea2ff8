package data

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// StepSpec names one preprocessing step and its parameters (values as
// decoded from YAML: float64, int, string, bool, []any). Missing parameters
// take the documented defaults.
type StepSpec struct {
	Name   string         `yaml:"name" json:"name"`
	Params map[string]any `yaml:"params,omitempty" json:"params,omitempty"`
}

// Preprocessing steps (the registry):
//
//   - fov-crop {threshold: 0.08}: crop to the bounding box of the field of
//     view, the rows and columns where at least 1 % of the pixels have their
//     brightest channel above threshold. Must be the first step.
//   - resize {size: 512}: scale to fit size×size keeping the aspect ratio,
//     centred, padding the short side (image 0, mask background).
//   - roi {size: 512, window | disc_factor}: square optic-nerve-head crop
//     around a centre supplied by the caller (ground-truth disc centre when
//     training, a localiser's output at prediction), window px on a side in
//     original pixels, or disc_factor × the disc diameter; resampled to
//     size×size. Without window and disc_factor the window is size px.
//     Parts outside the image are padded (image 0, mask 255).
//   - green {}: keep only the green channel.
//   - clahe {clip: 2.0, tiles: 8}: contrast-limited adaptive histogram
//     equalisation per channel, 256 bins, clip limit clip × mean bin count.
//   - normalize {mode: per-image | fixed | dataset, mean, std}: per channel
//     (x - mean) / std, with the image's own statistics (per-image), fixed
//     values (a number or one per channel), or the training images'
//     statistics fitted once with Pipeline.FitDatasetStats (dataset).
//
// Geometric steps (fov-crop, resize, roi) must precede intensity steps
// (green, clahe, normalize). The geometric steps are composed into one
// affine transform and applied as a single resampling from the original
// image, so there is one interpolation and the exact inverse is known.
var stepBuilders = map[string]func(p *paramReader) (step, error){
	"fov-crop":  buildFOVCrop,
	"resize":    buildResize,
	"roi":       buildROI,
	"green":     func(p *paramReader) (step, error) { return greenStep{}, nil },
	"clahe":     buildCLAHE,
	"normalize": buildNormalize,
}

// KnownSteps lists the registered preprocessing step names.
func KnownSteps() []string {
	out := make([]string, 0, len(stepBuilders))
	for k := range stepBuilders {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

type step interface {
	describe() string
	resolved() map[string]any
}

// geomStep maps the current frame (w×h) to a new one. center and discDiam
// are expressed in the current frame (center nil when unknown); img is the
// original image, used only by steps that look at pixels.
type geomStep interface {
	step
	geometry(img *Image, w, h int, center *Point, discDiam, scale float64) (Affine, int, int, error)
}

type intensityStep interface {
	step
	apply(x *Image) *Image
	channels(inC int) int
}

// paramReader reads typed parameters and reports unknown keys.
type paramReader struct {
	step string
	p    map[string]any
	used map[string]bool
	err  error
}

func (r *paramReader) fail(key, format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("preprocess.%s.%s: %s", r.step, key, fmt.Sprintf(format, args...))
	}
}

func (r *paramReader) has(key string) bool {
	r.used[key] = true
	_, ok := r.p[key]
	return ok
}

// toFloat is ParamNumber, for this package's readers.
func toFloat(v any) (float64, bool) { return ParamNumber(v) }

func (r *paramReader) float(key string, def float64, ok func(float64) bool, want string) float64 {
	r.used[key] = true
	v, present := r.p[key]
	if !present {
		return def
	}
	f, isNum := toFloat(v)
	if !isNum || math.IsNaN(f) || !ok(f) {
		r.fail(key, "expected %s, got %v (%T)", want, v, v)
		return def
	}
	return f
}

func (r *paramReader) int(key string, def int, minV int) int {
	r.used[key] = true
	v, present := r.p[key]
	if !present {
		return def
	}
	f, isNum := toFloat(v)
	if !isNum || f != math.Trunc(f) || f < float64(minV) || f > 1<<20 {
		r.fail(key, "expected an integer >= %d, got %v (%T)", minV, v, v)
		return def
	}
	return int(f)
}

func (r *paramReader) floats(key string) []float64 {
	r.used[key] = true
	v, present := r.p[key]
	if !present {
		return nil
	}
	if f, ok := toFloat(v); ok {
		return []float64{f}
	}
	var list []any
	switch x := v.(type) {
	case []any:
		list = x
	case []float64:
		for _, f := range x {
			list = append(list, f)
		}
	default:
		r.fail(key, "expected a number or a list of numbers, got %v (%T)", v, v)
		return nil
	}
	out := make([]float64, 0, len(list))
	for _, e := range list {
		f, ok := toFloat(e)
		if !ok {
			r.fail(key, "expected a number or a list of numbers, got element %v (%T)", e, e)
			return nil
		}
		out = append(out, f)
	}
	return out
}

func (r *paramReader) str(key, def string, allowed ...string) string {
	r.used[key] = true
	v, present := r.p[key]
	if !present {
		return def
	}
	s, ok := v.(string)
	if !ok {
		r.fail(key, "expected one of %s, got %v (%T)", strings.Join(allowed, ", "), v, v)
		return def
	}
	for _, a := range allowed {
		if s == a {
			return s
		}
	}
	r.fail(key, "expected one of %s, got %q", strings.Join(allowed, ", "), s)
	return def
}

// finish reports the first error, or the first unknown key.
func (r *paramReader) finish(known ...string) error {
	if r.err != nil {
		return r.err
	}
	keys := make([]string, 0, len(r.p))
	for k := range r.p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !r.used[k] {
			sort.Strings(known)
			list := strings.Join(known, ", ")
			if list == "" {
				list = "none"
			}
			return fmt.Errorf("preprocess.%s.%s: unknown parameter (known: %s)", r.step, k, list)
		}
	}
	return nil
}

// ---- fov-crop ----

type fovCropStep struct{ threshold float64 }

func buildFOVCrop(p *paramReader) (step, error) {
	s := fovCropStep{threshold: p.float("threshold", 0.08, func(f float64) bool { return f > 0 && f < 1 }, "a number in (0, 1)")}
	return s, p.finish("threshold")
}

func (s fovCropStep) describe() string {
	return fmt.Sprintf("The black border is cropped to the bounding box of the field of view (rows and columns where at least 1%% of the pixels have their brightest channel above %.3g).", s.threshold)
}

func (s fovCropStep) resolved() map[string]any { return map[string]any{"threshold": s.threshold} }

func (s fovCropStep) geometry(img *Image, w, h int, _ *Point, _, _ float64) (Affine, int, int, error) {
	if img == nil {
		return Affine{}, 0, 0, fmt.Errorf("preprocess.fov-crop: needs the image pixels")
	}
	plane := img.W * img.H
	rows := make([]int, img.H)
	cols := make([]int, img.W)
	thr := float32(s.threshold)
	for y := 0; y < img.H; y++ {
		for x := 0; x < img.W; x++ {
			i := y*img.W + x
			for c := 0; c < img.C; c++ {
				if img.Pix[c*plane+i] > thr {
					rows[y]++
					cols[x]++
					break
				}
			}
		}
	}
	span := func(counts []int, other int) (int, int) {
		need := max(1, int(math.Ceil(0.01*float64(other))))
		a, b := -1, -1
		for i, n := range counts {
			if n >= need {
				if a < 0 {
					a = i
				}
				b = i
			}
		}
		return a, b
	}
	x0, x1 := span(cols, img.H)
	y0, y1 := span(rows, img.W)
	if x0 < 0 || y0 < 0 {
		return Affine{}, 0, 0, fmt.Errorf("preprocess.fov-crop: no field of view found in the %dx%d image (no row or column with 1%% of pixels above threshold %.3g)", img.W, img.H, s.threshold)
	}
	return Affine{1, 0, -float64(x0), 0, 1, -float64(y0)}, x1 - x0 + 1, y1 - y0 + 1, nil
}

// ---- resize ----

type resizeStep struct{ size int }

func buildResize(p *paramReader) (step, error) {
	s := resizeStep{size: p.int("size", 512, 1)}
	return s, p.finish("size")
}

func (s resizeStep) describe() string {
	return fmt.Sprintf("The image is resized to fit %d×%d pixels keeping its aspect ratio (bilinear, area-averaged when shrinking; masks nearest-neighbour), the short side centred and padded with 0 (masks with background 255).", s.size, s.size)
}

func (s resizeStep) resolved() map[string]any { return map[string]any{"size": s.size} }

func (s resizeStep) geometry(_ *Image, w, h int, _ *Point, _, _ float64) (Affine, int, int, error) {
	sc := float64(s.size) / float64(max(w, h))
	ox := (float64(s.size) - float64(w)*sc) / 2
	oy := (float64(s.size) - float64(h)*sc) / 2
	// x' = (x + 0.5)·s - 0.5 + ox: pixel-centre scaling, then centring.
	return Affine{sc, 0, 0.5*sc - 0.5 + ox, 0, sc, 0.5*sc - 0.5 + oy}, s.size, s.size, nil
}

// ---- roi ----

type roiStep struct {
	size       int
	window     float64 // original pixels; 0 when disc_factor is used
	discFactor float64
}

func buildROI(p *paramReader) (step, error) {
	s := roiStep{size: p.int("size", 512, 1)}
	hasW, hasD := p.has("window"), p.has("disc_factor")
	pos := func(f float64) bool { return f > 0 && !math.IsInf(f, 0) }
	s.window = p.float("window", 0, pos, "a positive number of pixels")
	s.discFactor = p.float("disc_factor", 0, pos, "a positive factor")
	if err := p.finish("size", "window", "disc_factor"); err != nil {
		return nil, err
	}
	if hasW && hasD {
		return nil, fmt.Errorf("preprocess.roi: set either window or disc_factor, not both (window %v, disc_factor %v)", p.p["window"], p.p["disc_factor"])
	}
	if !hasW && !hasD {
		s.window = float64(s.size)
	}
	return s, nil
}

func (s roiStep) describe() string {
	var win string
	if s.discFactor > 0 {
		win = fmt.Sprintf("a square window of %.3g× the optic disc diameter", s.discFactor)
	} else {
		win = fmt.Sprintf("a %g×%g-pixel window (original pixels)", s.window, s.window)
	}
	return fmt.Sprintf("The optic-nerve-head region is cropped: %s centred on the optic disc, resampled to %d×%d pixels; parts outside the image are padded with 0 (masks with background 255).", win, s.size, s.size)
}

func (s roiStep) resolved() map[string]any {
	if s.discFactor > 0 {
		return map[string]any{"size": s.size, "disc_factor": s.discFactor}
	}
	return map[string]any{"size": s.size, "window": s.window}
}

func (s roiStep) geometry(_ *Image, w, h int, c *Point, discDiam, scale float64) (Affine, int, int, error) {
	if c == nil {
		return Affine{}, 0, 0, fmt.Errorf("preprocess.roi: needs a crop centre (the disc centre from ground truth or a localiser), got none")
	}
	var side float64
	if s.discFactor > 0 {
		if !(discDiam > 0) {
			return Affine{}, 0, 0, fmt.Errorf("preprocess.roi.disc_factor: needs the disc diameter, got %v", discDiam)
		}
		side = s.discFactor * discDiam
	} else {
		side = s.window * scale
	}
	side = math.Max(1, math.Round(side))
	// Whole-pixel window so that a crop at scale 1 copies pixels exactly.
	x0 := math.Round(c.X - side/2)
	y0 := math.Round(c.Y - side/2)
	return CropResize(x0, y0, side, side, s.size, s.size), s.size, s.size, nil
}

// ---- green ----

type greenStep struct{}

func (greenStep) describe() string         { return "Only the green channel is kept." }
func (greenStep) resolved() map[string]any { return map[string]any{} }
func (greenStep) channels(int) int         { return 1 }
func (greenStep) apply(x *Image) *Image {
	if x.C < 2 {
		return x.Clone()
	}
	plane := x.W * x.H
	out := NewImage(x.W, x.H, 1)
	copy(out.Pix, x.Pix[plane:2*plane])
	return out
}

// ---- clahe ----

type claheStep struct {
	clip  float64
	tiles int
}

func buildCLAHE(p *paramReader) (step, error) {
	s := claheStep{
		clip:  p.float("clip", 2.0, func(f float64) bool { return f > 0 && f < 1e6 }, "a positive clip limit"),
		tiles: p.int("tiles", 8, 1),
	}
	return s, p.finish("clip", "tiles")
}

func (s claheStep) describe() string {
	return fmt.Sprintf("Contrast-limited adaptive histogram equalisation (CLAHE) is applied to each channel with a %d×%d tile grid, 256 bins and clip limit %.3g (times the mean bin count), tile mappings interpolated bilinearly.", s.tiles, s.tiles, s.clip)
}

func (s claheStep) resolved() map[string]any {
	return map[string]any{"clip": s.clip, "tiles": s.tiles}
}

func (s claheStep) channels(inC int) int { return inC }

func (s claheStep) apply(x *Image) *Image {
	out := NewImage(x.W, x.H, x.C)
	plane := x.W * x.H
	for c := 0; c < x.C; c++ {
		clahePlane(x.Pix[c*plane:(c+1)*plane], out.Pix[c*plane:(c+1)*plane], x.W, x.H, s.tiles, s.clip)
	}
	return out
}

const claheBins = 256

func claheBin(v float32) int {
	b := int(float64(v)*(claheBins-1) + 0.5)
	return min(claheBins-1, max(0, b))
}

// clahePlane equalises one plane: per tile a 256-bin histogram clipped at
// clip × (tile pixels / 256) (at least 1), the excess spread evenly over
// all bins, the mapping lut[b] = cdf[b] / tile pixels; each pixel takes the
// bilinear blend of the mappings of the four nearest tile centres.
func clahePlane(src, dst []float32, w, h, tiles int, clip float64) {
	tx, ty := min(tiles, w), min(tiles, h)
	xb := func(i int) int { return i * w / tx }
	yb := func(j int) int { return j * h / ty }
	luts := make([][claheBins]float32, tx*ty)
	for j := 0; j < ty; j++ {
		for i := 0; i < tx; i++ {
			var hist [claheBins]float64
			n := 0
			for y := yb(j); y < yb(j+1); y++ {
				for x := xb(i); x < xb(i+1); x++ {
					hist[claheBin(src[y*w+x])]++
					n++
				}
			}
			limit := math.Max(1, clip*float64(n)/claheBins)
			excess := 0.0
			for b := range hist {
				if hist[b] > limit {
					excess += hist[b] - limit
					hist[b] = limit
				}
			}
			add := excess / claheBins
			cdf := 0.0
			lut := &luts[j*tx+i]
			for b := range hist {
				cdf += hist[b] + add
				lut[b] = float32(cdf / float64(n))
			}
		}
	}
	tw, th := float64(w)/float64(tx), float64(h)/float64(ty)
	for y := 0; y < h; y++ {
		j0, j1, wy := tileBlend(y, th, ty)
		for x := 0; x < w; x++ {
			i0, i1, wx := tileBlend(x, tw, tx)
			b := claheBin(src[y*w+x])
			v00, v10 := float64(luts[j0*tx+i0][b]), float64(luts[j0*tx+i1][b])
			v01, v11 := float64(luts[j1*tx+i0][b]), float64(luts[j1*tx+i1][b])
			dst[y*w+x] = float32((v00*(1-wx)+v10*wx)*(1-wy) + (v01*(1-wx)+v11*wx)*wy)
		}
	}
}

// tileBlend returns the two tiles whose centres surround pixel i (tiles of
// size ts, n of them) and the weight of the second, clamped at the edges.
func tileBlend(i int, ts float64, n int) (int, int, float64) {
	f := (float64(i)+0.5)/ts - 0.5
	i0 := int(math.Floor(f))
	wt := f - float64(i0)
	i1 := i0 + 1
	if i0 < 0 {
		i0, wt = 0, 0
	}
	i0, i1 = min(i0, n-1), min(i1, n-1)
	return i0, i1, wt
}

// ---- normalize ----

type normalizeStep struct {
	mode      string
	mean, std []float64
	nImages   int // dataset mode: images the statistics were fitted on (0 = not fitted)
}

func buildNormalize(p *paramReader) (step, error) {
	s := normalizeStep{mode: p.str("mode", "per-image", "per-image", "fixed", "dataset")}
	s.mean = p.floats("mean")
	s.std = p.floats("std")
	if err := p.finish("mode", "mean", "std"); err != nil {
		return nil, err
	}
	if s.mode != "fixed" && (s.mean != nil || s.std != nil) {
		return nil, fmt.Errorf("preprocess.normalize: mean/std are only given with mode fixed (mode is %s)", s.mode)
	}
	if s.mode == "fixed" {
		if len(s.mean) == 0 || len(s.std) == 0 {
			return nil, fmt.Errorf("preprocess.normalize: mode fixed needs mean and std (a number or one per channel), got mean %v std %v", s.mean, s.std)
		}
		for _, v := range s.std {
			if !(v > 0) {
				return nil, fmt.Errorf("preprocess.normalize.std: expected positive values, got %v", s.std)
			}
		}
	}
	return s, nil
}

func (s normalizeStep) describe() string {
	if s.mode == "dataset" {
		if s.nImages == 0 {
			return "Each channel is normalised with the mean and standard deviation of the training images (computed once over the training split)."
		}
		return fmt.Sprintf("Each channel is normalised with the training images' statistics: (x - mean) / std with mean %s and std %s, computed over %d training images.", fmtList(s.mean), fmtList(s.std), s.nImages)
	}
	if s.mode == "fixed" {
		return fmt.Sprintf("Each channel is normalised with fixed statistics: (x - mean) / std with mean %s and std %s.", fmtList(s.mean), fmtList(s.std))
	}
	return "Each channel is normalised to zero mean and unit standard deviation with the image's own statistics."
}

func fmtList(v []float64) string {
	parts := make([]string, len(v))
	for i, f := range v {
		parts[i] = fmt.Sprintf("%.4g", f)
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func (s normalizeStep) resolved() map[string]any {
	if s.mode == "fixed" || (s.mode == "dataset" && s.nImages > 0) {
		return map[string]any{"mode": s.mode, "mean": s.mean, "std": s.std}
	}
	return map[string]any{"mode": s.mode}
}

func (s normalizeStep) channels(inC int) int { return inC }

func (s normalizeStep) apply(x *Image) *Image {
	out := NewImage(x.W, x.H, x.C)
	plane := x.W * x.H
	pick := func(v []float64, c int) float64 {
		if c < len(v) {
			return v[c]
		}
		return v[len(v)-1]
	}
	for c := 0; c < x.C; c++ {
		p := x.Pix[c*plane : (c+1)*plane]
		var mean, std float64
		if s.mode == "dataset" && s.nImages == 0 {
			panic("preprocess.normalize: mode dataset is used before Pipeline.FitDatasetStats")
		}
		if s.mode != "per-image" {
			mean, std = pick(s.mean, c), pick(s.std, c)
		} else {
			for _, v := range p {
				mean += float64(v)
			}
			mean /= float64(plane)
			for _, v := range p {
				d := float64(v) - mean
				std += d * d
			}
			std = math.Sqrt(std / float64(plane))
			if std < 1e-6 {
				std = 1
			}
		}
		o := out.Pix[c*plane : (c+1)*plane]
		for i, v := range p {
			o[i] = float32((float64(v) - mean) / std)
		}
	}
	return out
}

// ---- pipeline ----

// Pipeline is a validated preprocessing pipeline. Geometric steps are
// composed into one transform (original image -> network input) applied as
// a single resampling; intensity steps then run in order on the result.
type Pipeline struct {
	specs     []StepSpec
	names     []string
	geom      []geomStep
	intensity []intensityStep
}

// Prepared is a preprocessed sample: the network input X, the mask warped
// with nearest neighbour (nil when no mask was given; padding is
// Background), and the transform T from original pixels to X's pixels,
// whose inverse maps predictions back.
type Prepared struct {
	X    *Image
	M    *Mask
	T    Affine
	W, H int
}

// NewPipeline validates and builds a pipeline. Unknown step names give the
// standard unknown-name error; unknown or invalid parameters are named
// "preprocess.<step>.<param>".
func NewPipeline(specs []StepSpec) (*Pipeline, error) {
	p := &Pipeline{}
	seenIntensity := ""
	nCh := 3
	for i, sp := range specs {
		b, ok := stepBuilders[sp.Name]
		if !ok {
			return nil, UnknownNameError("preprocessing step", sp.Name, KnownSteps())
		}
		params := sp.Params
		if params == nil {
			params = map[string]any{}
		}
		st, err := b(&paramReader{step: sp.Name, p: params, used: map[string]bool{}})
		if err != nil {
			return nil, err
		}
		switch s := st.(type) {
		case geomStep:
			if seenIntensity != "" {
				return nil, fmt.Errorf("preprocess: step %d %q is geometric and must come before the intensity step %q", i+1, sp.Name, seenIntensity)
			}
			if sp.Name == "fov-crop" && i != 0 {
				return nil, fmt.Errorf("preprocess: step %d fov-crop must be the first step (it looks at the original image)", i+1)
			}
			p.geom = append(p.geom, s)
		case intensityStep:
			if seenIntensity == "" {
				seenIntensity = sp.Name
			}
			if n, ok := s.(normalizeStep); ok && n.mode == "fixed" {
				for _, v := range [][]float64{n.mean, n.std} {
					if len(v) != 1 && len(v) != nCh {
						return nil, fmt.Errorf("preprocess.normalize: mean and std need 1 or %d values (channels at this step), got %v", nCh, v)
					}
				}
			}
			nCh = s.channels(nCh)
			p.intensity = append(p.intensity, s)
		}
		p.names = append(p.names, sp.Name)
		p.specs = append(p.specs, StepSpec{Name: sp.Name, Params: st.resolved()})
	}
	return p, nil
}

// Describe returns one sentence per step, in order.
func (p *Pipeline) Describe() []string {
	out := make([]string, 0, len(p.names))
	for _, g := range p.geom {
		out = append(out, g.describe())
	}
	for _, s := range p.intensity {
		out = append(out, s.describe())
	}
	return out
}

// Resolved returns the steps with every parameter default filled in.
func (p *Pipeline) Resolved() []StepSpec { return append([]StepSpec(nil), p.specs...) }

// Fingerprint is a canonical text of the resolved pipeline, for cache keys.
func (p *Pipeline) Fingerprint() string {
	var b strings.Builder
	for _, s := range p.specs {
		keys := make([]string, 0, len(s.Params))
		for k := range s.Params {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteString(s.Name)
		for _, k := range keys {
			fmt.Fprintf(&b, " %s=%v", k, s.Params[k])
		}
		b.WriteString(";")
	}
	return b.String()
}

// NeedsCenter tells whether the pipeline crops around a caller-supplied
// centre (it has a roi step).
func (p *Pipeline) NeedsCenter() bool {
	for _, g := range p.geom {
		if _, ok := g.(roiStep); ok {
			return true
		}
	}
	return false
}

// Channels returns the number of channels of the network input for an
// inC-channel original image.
func (p *Pipeline) Channels(inC int) int {
	for _, s := range p.intensity {
		inC = s.channels(inC)
	}
	return inC
}

// Geometry composes the geometric steps for an original image: the
// transform from original pixels to network-input pixels and the input
// size. img is read only by fov-crop; center (original pixels) and
// discDiam (original pixels) are needed by roi. A centre outside the image
// is an error naming it.
func (p *Pipeline) Geometry(img *Image, center *Point, discDiam float64) (Affine, int, int, error) {
	if img == nil {
		return Affine{}, 0, 0, fmt.Errorf("preprocess: Geometry needs the image")
	}
	if center != nil && p.NeedsCenter() {
		c := *center
		if math.IsNaN(c.X) || math.IsNaN(c.Y) || c.X < -0.5 || c.Y < -0.5 || c.X >= float64(img.W)-0.5 || c.Y >= float64(img.H)-0.5 {
			return Affine{}, 0, 0, fmt.Errorf("preprocess.roi: crop centre (%.2f, %.2f) is outside the %dx%d image", c.X, c.Y, img.W, img.H)
		}
	}
	T := Identity
	w, h := img.W, img.H
	for _, g := range p.geom {
		var cc *Point
		if center != nil {
			q := T.Apply(*center)
			cc = &q
		}
		scale := math.Sqrt(math.Abs(T[0]*T[4] - T[1]*T[3]))
		st, nw, nh, err := g.geometry(img, w, h, cc, discDiam*scale, scale)
		if err != nil {
			return Affine{}, 0, 0, err
		}
		T, w, h = T.Then(st), nw, nh
	}
	return T, w, h, nil
}

// PrepareGeometric applies only the geometric part: the image warped
// bilinearly (pad 0) and the mask (when non-nil) warped nearest-neighbour
// (pad Background). Augmentation runs on this un-normalised image; the
// caller then applies Intensity.
func (p *Pipeline) PrepareGeometric(img *Image, m *Mask, center *Point, discDiam float64) (*Prepared, error) {
	T, w, h, err := p.Geometry(img, center, discDiam)
	if err != nil {
		return nil, err
	}
	if m != nil && (m.W != img.W || m.H != img.H) {
		return nil, fmt.Errorf("preprocess: mask is %dx%d but the image is %dx%d", m.W, m.H, img.W, img.H)
	}
	out := &Prepared{T: T, W: w, H: h}
	if T == Identity && w == img.W && h == img.H {
		out.X = img.Clone()
	} else {
		out.X = Warp(img, T, w, h, 0)
	}
	if m != nil {
		out.M = WarpMask(m, T, w, h)
	}
	return out, nil
}

// Intensity applies the intensity steps (green, clahe, normalize) in
// order and returns a new image; x is not modified.
func (p *Pipeline) Intensity(x *Image) *Image {
	for _, s := range p.intensity {
		x = s.apply(x)
	}
	if len(p.intensity) == 0 {
		x = x.Clone()
	}
	return x
}

// Prepare runs the whole pipeline: PrepareGeometric, then Intensity on
// the warped image.
func (p *Pipeline) Prepare(img *Image, m *Mask, center *Point, discDiam float64) (*Prepared, error) {
	out, err := p.PrepareGeometric(img, m, center, discDiam)
	if err != nil {
		return nil, err
	}
	out.X = p.Intensity(out.X)
	return out, nil
}

// PrepareSample loads s and runs the whole pipeline (geometric only when
// geometricOnly, for augmentation before Intensity). When the pipeline
// crops an ROI and center is nil, the ground truth is used: the disc
// centroid and vertical extent of the mask, else the sample's DiscCenter
// (with discDiam as given). Errors name the sample and its image file.
func (p *Pipeline) PrepareSample(s *Sample, center *Point, discDiam float64, geometricOnly bool) (*Prepared, error) {
	img, m, err := s.Load()
	if err != nil {
		return nil, err
	}
	if center == nil && p.NeedsCenter() {
		if m != nil {
			if c, dv, _, ok := DiscGeometry(m); ok {
				center, discDiam = &c, dv
			}
		}
		if center == nil && s.DiscCenter != nil {
			c := *s.DiscCenter
			center = &c
		}
	}
	var out *Prepared
	if geometricOnly {
		out, err = p.PrepareGeometric(img, m, center, discDiam)
	} else {
		out, err = p.Prepare(img, m, center, discDiam)
	}
	if err != nil {
		where := s.ImagePath
		if where == "" {
			where = "in memory"
		}
		return nil, fmt.Errorf("sample %s (%s): %w", s.ID, where, err)
	}
	return out, nil
}

// NeedsDatasetStats tells whether a normalize step in mode dataset still
// waits for FitDatasetStats.
func (p *Pipeline) NeedsDatasetStats() bool {
	for _, s := range p.intensity {
		if n, ok := s.(normalizeStep); ok && n.mode == "dataset" && n.nImages == 0 {
			return true
		}
	}
	return false
}

// FitDatasetStats fits the normalize step in mode dataset: xs are the
// geometric outputs (PrepareGeometric) of the training images; the
// intensity steps before normalize are applied to each, then the
// per-channel mean and population standard deviation over all their
// pixels (summed in the given order, so the result is deterministic) become
// the step's statistics, shown by Describe and Resolved. Call it once
// before the pipeline is used concurrently.
func (p *Pipeline) FitDatasetStats(xs []*Image) error {
	k := -1
	for i, s := range p.intensity {
		if n, ok := s.(normalizeStep); ok && n.mode == "dataset" {
			k = i
			break
		}
	}
	if k < 0 {
		return fmt.Errorf("preprocess.normalize: FitDatasetStats needs a normalize step with mode dataset")
	}
	if len(xs) == 0 {
		return fmt.Errorf("preprocess.normalize: mode dataset needs at least one training image to fit its statistics")
	}
	var sum, sq []float64
	var count float64
	for j, x := range xs {
		for _, s := range p.intensity[:k] {
			x = s.apply(x)
		}
		if sum == nil {
			sum, sq = make([]float64, x.C), make([]float64, x.C)
		}
		if x.C != len(sum) {
			return fmt.Errorf("preprocess.normalize: training image %d has %d channels, the first had %d", j, x.C, len(sum))
		}
		plane := x.W * x.H
		for c := 0; c < x.C; c++ {
			for _, v := range x.Pix[c*plane : (c+1)*plane] {
				sum[c] += float64(v)
				sq[c] += float64(v) * float64(v)
			}
		}
		count += float64(plane)
	}
	n := p.intensity[k].(normalizeStep)
	n.mean, n.std = make([]float64, len(sum)), make([]float64, len(sum))
	for c := range sum {
		m := sum[c] / count
		sd := math.Sqrt(math.Max(0, sq[c]/count-m*m))
		if sd < 1e-6 {
			sd = 1
		}
		n.mean[c], n.std[c] = m, sd
	}
	n.nImages = len(xs)
	p.intensity[k] = n
	p.specs[len(p.geom)+k] = StepSpec{Name: "normalize", Params: n.resolved()}
	return nil
}
