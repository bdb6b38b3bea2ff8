// Package augment applies seeded random joint transforms to a training
// sample: the image, its disc/cup mask and its fovea point move together.
//
// A Pipeline is built from a list of Specs (the `augment:` list of an
// experiment config). Each transform is applied with its own probability and
// draws its parameters from its own random stream, derived with data.Seed from
// (root seed, "augment/<name>#<k>", epoch, sample index), where k counts the
// earlier transforms of the same name (0 for the first rotate, 1 for a second
// rotate): the same config gives the same augmented sample for the same
// (epoch, index), whatever the goroutine scheduling, and adding or removing a
// transform never shifts the draws of another (only of a later one of the
// same name). A Pipeline is immutable after Build and safe for concurrent Apply.
//
// Geometry: pixel coordinates use the pixel-centre convention of package
// data (pixel i covers [i-0.5, i+0.5)). Geometric transforms (hflip, vflip,
// rot90, rotate, scale, translate, crop, elastic) resample the image
// bilinearly and the mask with nearest neighbour, so a mask never gains a
// label value it did not have; the point is mapped exactly (a horizontal flip
// sends x to W-1-x). Consecutive affine transforms are composed and the image
// is resampled once, when a non-affine transform or the end of the pipeline
// needs it. Areas moved in from outside the frame are 0 in the image and
// background (255) in the mask. A point that leaves the frame at a resampling
// is flagged (Apply returns inFrame = false) so the loss can ignore it.
//
// Photometric transforms (brightness, contrast, saturation, hue, gamma, blur,
// noise, erase) change only the image and clamp it to [0, 1]. The runner must
// therefore apply the pipeline to the prepared image before normalisation
// (values in [0, 1]) and normalise afterwards.
//
// Parameters that make a transform the identity (a rotation range [0, 0], a
// gamma of 1, ...) give bitwise identical output.
//
// Transforms and their parameters (defaults in brackets). A range is
// [min, max] with a uniform draw; where marked "±", a single number v means
// [-v, v], elsewhere a single number v means the fixed value v.
//
//	hflip       x' = W-1-x (no parameters)
//	vflip       y' = H-1-y (no parameters)
//	rot90       k: quarter turns counter-clockwise to draw from [1, 2, 3]
//	rotate      degrees: ± range, counter-clockwise positive [-15, 15]
//	scale       range: factor about the centre, > 1 enlarges [0.9, 1.1]
//	translate   fraction: ± range of the width and height, drawn per axis [-0.1, 0.1]
//	crop        area: fraction of the image area [0.6, 1]; aspect: log-uniform
//	            aspect ratio relative to the image's [0.75, 1.333]; the window is
//	            resized back to the input size. Or size: [w, h] (or one number)
//	            for a fixed window without resampling (output of that size).
//	elastic     alpha: displacement scale in px [100]; sigma: smoothing in px [8]
//	brightness  range: multiplicative factor [0.8, 1.2]
//	contrast    range: factor about the mean grey level [0.8, 1.2]
//	saturation  range: factor towards the luma [0.8, 1.2] (RGB only)
//	hue         shift: ± range in turns of the colour circle [-0.05, 0.05] (RGB only)
//	gamma       range: exponent [0.8, 1.25]
//	blur        sigma: Gaussian width range in px [0.5, 1.5]
//	noise       sigma: standard deviation (range or fixed) [0.02]
//	erase       area: fraction of the image area [0.02, 0.2]; aspect: log-uniform
//	            [0.3, 3.3]; value: fill intensity [0]
package augment

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"

	"github.com/refugelab/refugelab/data"
)

// Spec configures one transform: its registered name, the probability with
// which it is applied to a sample, and its parameters as decoded from YAML
// (float64/int/string/bool/[]any). Missing parameters take the documented
// defaults (see KnownTransforms and each transform's Describe sentence).
// Prob has no default: a spec decoded from YAML without p is rejected by
// Build (naming the key augment[i].p) rather than silently never applied;
// p: 0 written explicitly disables the transform.
type Spec struct {
	Name   string         `yaml:"name" json:"name"`
	Prob   float64        `yaml:"p" json:"p"`
	Params map[string]any `yaml:"params,omitempty" json:"params,omitempty"`

	// probMissing is set when the spec was decoded from YAML without p.
	probMissing bool
}

// UnmarshalYAML decodes a spec (keys name, p, params) and records whether p
// was given. It uses the callback form that gopkg.in/yaml.v3 (and v2) call,
// so the package needs no YAML dependency; the decoder's strictness (unknown
// keys) applies to the spec's fields as usual.
func (s *Spec) UnmarshalYAML(unmarshal func(any) error) error {
	var raw struct {
		Name   string         `yaml:"name"`
		Prob   *float64       `yaml:"p"`
		Params map[string]any `yaml:"params"`
	}
	if err := unmarshal(&raw); err != nil {
		return err
	}
	*s = Spec{Name: raw.Name, Params: raw.Params, probMissing: raw.Prob == nil}
	if raw.Prob != nil {
		s.Prob = *raw.Prob
	}
	return nil
}

// transform is one registered transform with resolved parameters.
type transform interface {
	// describe returns the sentence parts before and after
	// "with probability p".
	describe() (what, tail string)
	// apply draws the transform's random parameters from r and acts on st.
	apply(st *state, r *rand.Rand)
}

type builder func(pr *paramReader) transform

// registry maps each transform name to its constructor. Filled in init
// functions of the files that define the transforms.
var registry = map[string]builder{}

// KnownTransforms returns the registered transform names, sorted.
func KnownTransforms() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

type step struct {
	spec     Spec // resolved: every default parameter filled in
	streamID string
	t        transform
}

// Pipeline is an ordered list of configured transforms. Build it with Build.
type Pipeline struct {
	steps []step
}

// Build validates the specs and returns the pipeline. Errors name the config
// key: "augment[i].name", "augment[i].p" or "augment[i].params.<param>".
func Build(specs []Spec) (*Pipeline, error) {
	p := &Pipeline{}
	occurrence := map[string]int{}
	for i, s := range specs {
		b, ok := registry[s.Name]
		if !ok {
			return nil, fmt.Errorf("augment[%d].name: %w", i, data.UnknownNameError("transform", s.Name, KnownTransforms()))
		}
		if s.probMissing {
			return nil, fmt.Errorf("augment[%d].p: missing: give the probability of applying transform %s (a number in [0, 1])", i, s.Name)
		}
		if !(s.Prob >= 0 && s.Prob <= 1) {
			return nil, fmt.Errorf("augment[%d].p: probability %s of transform %s is outside [0, 1]", i, fmtNum(s.Prob), s.Name)
		}
		pr := newParamReader(i, s.Name, s.Params)
		t := b(pr)
		if err := pr.finish(); err != nil {
			return nil, err
		}
		p.steps = append(p.steps, step{
			spec:     Spec{Name: s.Name, Prob: s.Prob, Params: pr.resolved},
			streamID: "augment/" + s.Name + "#" + strconv.Itoa(occurrence[s.Name]),
			t:        t,
		})
		occurrence[s.Name]++
	}
	return p, nil
}

// Specs returns the resolved specs (every parameter default filled in), for
// writing the resolved config.
func (p *Pipeline) Specs() []Spec {
	out := make([]Spec, len(p.steps))
	for i, s := range p.steps {
		params := make(map[string]any, len(s.spec.Params))
		for k, v := range s.spec.Params {
			params[k] = v
		}
		out[i] = Spec{Name: s.spec.Name, Prob: s.spec.Prob, Params: params}
	}
	return out
}

// Len returns the number of transforms.
func (p *Pipeline) Len() int { return len(p.steps) }

// Describe returns one sentence per transform, in order, with its resolved
// parameters and probability, e.g. "rotation about the image centre by a
// uniform angle in [-15°, 15°] with probability 0.5, bilinear for the image,
// nearest for the mask". The report prints these sentences verbatim.
func (p *Pipeline) Describe() []string {
	out := make([]string, len(p.steps))
	for i, s := range p.steps {
		what, tail := s.t.describe()
		out[i] = what + " with probability " + fmtNum(s.spec.Prob) + tail
	}
	return out
}

// Apply augments one sample for (root seed, epoch, sample index) and returns
// new values; the inputs are never modified. m and pt may be nil (then the
// returned mask/point are nil). inFrame is false when the point left the
// frame (it is true when pt is nil). The output image may differ in size from
// the input only for rot90 on a non-square image and for a fixed-size crop.
//
// Apply panics when the mask's size differs from the image's: that is a
// programming error of the caller, never a property of the data.
func (p *Pipeline) Apply(img *data.Image, m *data.Mask, pt *data.Point, root uint64, epoch, index int) (*data.Image, *data.Mask, *data.Point, bool) {
	if m != nil && (m.W != img.W || m.H != img.H) {
		panic(fmt.Sprintf("augment: mask is %dx%d but its image is %dx%d", m.W, m.H, img.W, img.H))
	}
	st := newState(img, m, pt)
	for _, s := range p.steps {
		r := data.NewRand(data.Seed(root, s.streamID, epoch, index))
		if r.Float64() >= s.spec.Prob {
			continue
		}
		s.t.apply(st, r)
	}
	return st.finish()
}

// state is the sample as it moves through the pipeline. Affine transforms are
// accumulated in fwd (materialised frame -> current frame) and applied with a
// single resampling by flush.
type state struct {
	img      *data.Image
	m        *data.Mask
	imgOwned bool // img may be modified in place
	mOwned   bool
	pt       *data.Point // in the current frame
	inFrame  bool
	fwd      data.Affine
	w, h     int // current frame size
}

func newState(img *data.Image, m *data.Mask, pt *data.Point) *state {
	st := &state{img: img, m: m, inFrame: true, fwd: data.Identity, w: img.W, h: img.H}
	if pt != nil {
		q := *pt
		st.pt = &q
	}
	return st
}

// affine composes the forward map f (current frame -> new frame of size
// w x h) into the pending geometry and moves the point exactly.
func (st *state) affine(f data.Affine, w, h int) {
	st.fwd = st.fwd.Then(f)
	st.w, st.h = w, h
	if st.pt != nil {
		*st.pt = f.Apply(*st.pt)
	}
}

// pending tells whether unapplied geometry exists.
func (st *state) pending() bool {
	return st.fwd != data.Identity || st.w != st.img.W || st.h != st.img.H
}

// resample applies the pending affine geometry, followed by the displacement
// field when field is non-nil (field layout: dx plane then dy plane on the
// current w x h grid), with one bilinear/nearest resampling.
func (st *state) resample(field []float32) {
	if !st.pending() && field == nil {
		return
	}
	inv, err := st.fwd.Inverse()
	if err != nil {
		// Every registered transform is invertible; a singular map would be
		// a programming error.
		panic("augment: " + err.Error())
	}
	st.img = warpImage(st.img, inv, st.w, st.h, field)
	st.imgOwned = true
	if st.m != nil {
		st.m = warpMask(st.m, inv, st.w, st.h, field)
		st.mOwned = true
	}
	st.fwd = data.Identity
	st.checkPoint()
}

func (st *state) checkPoint() {
	if st.pt != nil && !insideFrame(*st.pt, st.w, st.h) {
		st.inFrame = false
	}
}

// mutableImage applies pending geometry and returns an image the caller may
// modify in place.
func (st *state) mutableImage() *data.Image {
	st.resample(nil)
	if !st.imgOwned {
		st.img = st.img.Clone()
		st.imgOwned = true
	}
	return st.img
}

func (st *state) finish() (*data.Image, *data.Mask, *data.Point, bool) {
	st.resample(nil)
	st.checkPoint()
	if !st.imgOwned {
		st.img = st.img.Clone()
	}
	if st.m != nil && !st.mOwned {
		st.m = st.m.Clone()
	}
	return st.img, st.m, st.pt, st.inFrame
}

// insideFrame tells whether p lies in the w x h frame, whose pixels cover
// [-0.5, w-0.5) x [-0.5, h-0.5) in the pixel-centre convention.
func insideFrame(p data.Point, w, h int) bool {
	return p.X >= -0.5 && p.X < float64(w)-0.5 && p.Y >= -0.5 && p.Y < float64(h)-0.5
}

// sizer is implemented by transforms that can change the frame size: it
// returns the possible output sizes for a w x h input.
type sizer interface {
	outSizes(w, h int) [][2]int
}

// OutputSize returns the size of every output of Apply for a w x h input, or
// an error when it varies between samples (rot90 with an odd k on a
// non-square input, or a fixed-size crop applied with p < 1): a network
// input needs one size, so the runner should reject such configs.
func (p *Pipeline) OutputSize(w, h int) (int, int, error) {
	sizes := map[[2]int]bool{{w, h}: true}
	for i, s := range p.steps {
		sz, ok := s.t.(sizer)
		if !ok || s.spec.Prob == 0 {
			continue
		}
		next := map[[2]int]bool{}
		for in := range sizes {
			if s.spec.Prob < 1 {
				next[in] = true
			}
			for _, o := range sz.outSizes(in[0], in[1]) {
				next[o] = true
			}
		}
		if len(next) > 1 {
			var list []string
			for o := range next {
				list = append(list, fmt.Sprintf("%dx%d", o[0], o[1]))
			}
			sort.Strings(list)
			return 0, 0, fmt.Errorf("augment[%d] (%s, p = %s): the output size varies between samples (%s) for a %dx%d input",
				i, s.spec.Name, fmtNum(s.spec.Prob), strings.Join(list, ", "), w, h)
		}
		sizes = next
	}
	for o := range sizes {
		return o[0], o[1], nil
	}
	return w, h, nil
}
