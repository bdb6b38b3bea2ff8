package eval

import (
	"fmt"
	"math"
	"sort"

	"github.com/refugelab/refugelab/data"
)

// StepSpec names a post-processing step and its parameters (values decoded
// from YAML: float64/int/string/bool/[]any).
type StepSpec struct {
	Name   string         `yaml:"name" json:"name"`
	Params map[string]any `yaml:"params,omitempty" json:"params,omitempty"`
}

// Step is one registered post-processing step. Steps work on a binary disc
// and a binary cup map built from the network's probabilities.
type Step interface {
	// Name is the registered name.
	Name() string
	// Describe is one sentence with the resolved parameters (report text).
	Describe() string
	// Params returns the resolved parameters.
	Params() map[string]any
	apply(st *postState)
}

// postState is the working state of a post-processing chain.
type postState struct {
	w, h      int
	probs     []float32 // 3*w*h planar softmax: background, rim, cup
	disc, cup []bool
}

// structures lists the working maps selected by targets.
func (st *postState) structures(targets []string) [][]bool {
	var out [][]bool
	for _, t := range targets {
		if t == "disc" {
			out = append(out, st.disc)
		} else {
			out = append(out, st.cup)
		}
	}
	return out
}

type stepFactory func(p *params) (Step, error)

var stepRegistry = map[string]stepFactory{
	"argmax":            newArgmax,
	"threshold":         newThreshold,
	"largest-component": newLargest,
	"fill-holes":        newFillHoles,
	"cup-in-disc":       newCupInDisc,
	"opening":           func(p *params) (Step, error) { return newMorph(p, "opening") },
	"closing":           func(p *params) (Step, error) { return newMorph(p, "closing") },
	"ellipse-fit":       newEllipseFit,
}

// KnownSteps returns the registered post-processing step names, sorted.
func KnownSteps() []string { return sortedKeys(stepRegistry) }

// NewStep builds one step from its spec. Unknown names and parameters are
// errors naming them (with the known ones and the closest name).
func NewStep(spec StepSpec) (Step, error) {
	f, ok := stepRegistry[spec.Name]
	if !ok {
		return nil, data.UnknownNameError("post-processing step", spec.Name, KnownSteps())
	}
	p := newParams("postprocess."+spec.Name, spec.Params)
	s, err := f(p)
	if err != nil {
		return nil, err
	}
	if err := p.done(); err != nil {
		return nil, err
	}
	return s, nil
}

// Post is a chain of post-processing steps turning segmentation
// probabilities into a REFUGE mask.
type Post struct {
	steps []Step
}

// NewPost builds the chain. The first step must turn probabilities into
// masks ("argmax" or "threshold"); when the list does not start with one,
// "argmax" is prepended (and shows in Describe). A decoding step anywhere
// else is an error.
func NewPost(specs []StepSpec) (*Post, error) {
	p := &Post{}
	for i, s := range specs {
		st, err := NewStep(s)
		if err != nil {
			return nil, fmt.Errorf("postprocess step %d: %w", i+1, err)
		}
		if isDecode(st) && i > 0 {
			return nil, fmt.Errorf("postprocess step %d: %q turns probabilities into masks and must come first", i+1, s.Name)
		}
		p.steps = append(p.steps, st)
	}
	if len(p.steps) == 0 || !isDecode(p.steps[0]) {
		p.steps = append([]Step{&argmaxStep{}}, p.steps...)
	}
	return p, nil
}

// BuildPost is NewPost (the name used in CONTRACTS.md).
func BuildPost(specs []StepSpec) (*Post, error) { return NewPost(specs) }

func isDecode(s Step) bool {
	switch s.(type) {
	case *argmaxStep, *thresholdStep:
		return true
	}
	return false
}

// Steps returns the chain's steps in order.
func (p *Post) Steps() []Step { return append([]Step(nil), p.steps...) }

// Describe returns one sentence per step, in order.
func (p *Post) Describe() []string {
	out := make([]string, len(p.steps))
	for i, s := range p.steps {
		out[i] = s.Describe()
	}
	return out
}

// Apply runs the chain on softmax probabilities, planar 3×H×W (class 0
// background, 1 rim, 2 cup), and returns a REFUGE mask of w×h: cup 0, the
// rest of the disc 128, background 255. A cup pixel outside the disc is
// written as cup (it counts as disc under the official rule) unless
// "cup-in-disc" removed it. Apply panics when len(probs) != 3*w*h (a
// programming error).
func (p *Post) Apply(probs []float32, w, h int) *data.Mask {
	if w <= 0 || h <= 0 || len(probs) != 3*w*h {
		panic(fmt.Sprintf("eval: Post.Apply: %d probabilities for a %dx%d mask, expected 3*W*H = %d", len(probs), w, h, 3*w*h))
	}
	st := &postState{w: w, h: h, probs: probs, disc: make([]bool, w*h), cup: make([]bool, w*h)}
	for _, s := range p.steps {
		s.apply(st)
	}
	m := data.NewMask(w, h)
	for i := range m.Pix {
		switch {
		case st.cup[i]:
			m.Pix[i] = data.Cup
		case st.disc[i]:
			m.Pix[i] = data.Rim
		}
	}
	return m
}

// ---- targets ----

var allTargets = []string{"disc", "cup"}

func readTargets(p *params) []string {
	t := p.strs("targets", allTargets)
	seen := map[string]bool{}
	var out []string
	for _, s := range t {
		if s != "disc" && s != "cup" {
			p.fail("targets", "unknown structure %q (known: cup, disc)", s)
			return allTargets
		}
		if !seen[s] {
			out = append(out, s)
			seen[s] = true
		}
	}
	if len(out) == 0 {
		p.fail("targets", "empty list (known: cup, disc)")
		return allTargets
	}
	// Canonical order: disc first.
	sort.Strings(out)
	if len(out) == 2 {
		out = []string{"disc", "cup"}
	}
	return out
}

func targetWords(t []string) string {
	if len(t) == 2 {
		return "the disc and of the cup"
	}
	return "the " + t[0]
}

// ---- argmax / threshold ----

type argmaxStep struct{}

func newArgmax(p *params) (Step, error) { return &argmaxStep{}, nil }

// Name implements Step.
func (s *argmaxStep) Name() string { return "argmax" }

// Params implements Step.
func (s *argmaxStep) Params() map[string]any { return map[string]any{} }

// Describe implements Step.
func (s *argmaxStep) Describe() string {
	return "Each pixel takes the most probable class (background, rim or cup; ties go to the lower class); disc = rim or cup."
}
func (s *argmaxStep) apply(st *postState) {
	n := st.w * st.h
	b, r, c := st.probs[:n], st.probs[n:2*n], st.probs[2*n:]
	for i := 0; i < n; i++ {
		cls := 0
		best := b[i]
		if r[i] > best {
			cls, best = 1, r[i]
		}
		if c[i] > best {
			cls = 2
		}
		st.disc[i] = cls >= 1
		st.cup[i] = cls == 2
	}
}

type thresholdStep struct{ disc, cup float64 }

func newThreshold(p *params) (Step, error) {
	s := &thresholdStep{disc: p.float("disc", 0.5), cup: p.float("cup", 0.5)}
	if p.err == nil {
		if !(s.disc > 0 && s.disc < 1) {
			p.fail("disc", "threshold %v outside (0, 1)", s.disc)
		} else if !(s.cup > 0 && s.cup < 1) {
			p.fail("cup", "threshold %v outside (0, 1)", s.cup)
		}
	}
	return s, p.err
}

// Name implements Step.
func (s *thresholdStep) Name() string { return "threshold" }

// Params implements Step.
func (s *thresholdStep) Params() map[string]any {
	return map[string]any{"disc": s.disc, "cup": s.cup}
}

// Describe implements Step.
func (s *thresholdStep) Describe() string {
	return fmt.Sprintf("Thresholds the probabilities: disc where P(rim) + P(cup) >= %g, cup where P(cup) >= %g.", s.disc, s.cup)
}
func (s *thresholdStep) apply(st *postState) {
	n := st.w * st.h
	r, c := st.probs[n:2*n], st.probs[2*n:]
	for i := 0; i < n; i++ {
		st.disc[i] = float64(r[i])+float64(c[i]) >= s.disc
		st.cup[i] = float64(c[i]) >= s.cup
	}
}

// ---- connected components ----

// components labels the true pixels of bin (1-based labels, raster order of
// first pixel) with 4- or 8-connectivity and returns labels and sizes
// (sizes[0] unused).
func components(bin []bool, w, h, conn int) ([]int32, []int) {
	lab := make([]int32, len(bin))
	sizes := []int{0}
	stack := make([]int, 0, 64)
	for start, v := range bin {
		if !v || lab[start] != 0 {
			continue
		}
		id := int32(len(sizes))
		sizes = append(sizes, 0)
		lab[start] = id
		stack = append(stack[:0], start)
		for len(stack) > 0 {
			i := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			sizes[id]++
			x, y := i%w, i/w
			for dy := -1; dy <= 1; dy++ {
				for dx := -1; dx <= 1; dx++ {
					if (dx == 0 && dy == 0) || (conn == 4 && dx != 0 && dy != 0) {
						continue
					}
					nx, ny := x+dx, y+dy
					if nx < 0 || ny < 0 || nx >= w || ny >= h {
						continue
					}
					j := ny*w + nx
					if bin[j] && lab[j] == 0 {
						lab[j] = id
						stack = append(stack, j)
					}
				}
			}
		}
	}
	return lab, sizes
}

type largestStep struct {
	targets []string
	conn    int
}

func newLargest(p *params) (Step, error) {
	s := &largestStep{targets: readTargets(p), conn: p.int("connectivity", 8)}
	if p.err == nil && s.conn != 4 && s.conn != 8 {
		p.fail("connectivity", "%d, expected 4 or 8", s.conn)
	}
	return s, p.err
}

// Name implements Step.
func (s *largestStep) Name() string { return "largest-component" }

// Params implements Step.
func (s *largestStep) Params() map[string]any {
	return map[string]any{"targets": s.targets, "connectivity": s.conn}
}

// Describe implements Step.
func (s *largestStep) Describe() string {
	return fmt.Sprintf("Keeps only the largest %d-connected component of %s (ties: the first in raster order; an empty structure stays empty).", s.conn, targetWords(s.targets))
}
func (s *largestStep) apply(st *postState) {
	for _, bin := range st.structures(s.targets) {
		keepLargest(bin, st.w, st.h, s.conn)
	}
}

// keepLargest keeps the largest component in place; an empty map stays
// empty (field case C07c: the background is never selected).
func keepLargest(bin []bool, w, h, conn int) {
	lab, sizes := components(bin, w, h, conn)
	if len(sizes) <= 2 { // zero or one component
		return
	}
	best := int32(1)
	for id := 2; id < len(sizes); id++ {
		if sizes[id] > sizes[best] {
			best = int32(id)
		}
	}
	for i := range bin {
		bin[i] = lab[i] == best
	}
}

type fillHolesStep struct{ targets []string }

func newFillHoles(p *params) (Step, error) { return &fillHolesStep{targets: readTargets(p)}, p.err }

// Name implements Step.
func (s *fillHolesStep) Name() string { return "fill-holes" }

// Params implements Step.
func (s *fillHolesStep) Params() map[string]any { return map[string]any{"targets": s.targets} }

// Describe implements Step.
func (s *fillHolesStep) Describe() string {
	return fmt.Sprintf("Fills holes of %s (background regions, 4-connected, that do not reach the image border).", targetWords(s.targets))
}
func (s *fillHolesStep) apply(st *postState) {
	for _, bin := range st.structures(s.targets) {
		fillHoles(bin, st.w, st.h)
	}
}

// fillHoles sets every false pixel not 4-connected to the border to true.
func fillHoles(bin []bool, w, h int) {
	outside := make([]bool, len(bin))
	stack := make([]int, 0, 2*(w+h))
	push := func(i int) {
		if !bin[i] && !outside[i] {
			outside[i] = true
			stack = append(stack, i)
		}
	}
	for x := 0; x < w; x++ {
		push(x)
		push((h-1)*w + x)
	}
	for y := 0; y < h; y++ {
		push(y * w)
		push(y*w + w - 1)
	}
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		x, y := i%w, i/w
		if x > 0 {
			push(i - 1)
		}
		if x < w-1 {
			push(i + 1)
		}
		if y > 0 {
			push(i - w)
		}
		if y < h-1 {
			push(i + w)
		}
	}
	for i := range bin {
		if !outside[i] {
			bin[i] = true
		}
	}
}

type cupInDiscStep struct{}

func newCupInDisc(p *params) (Step, error) { return &cupInDiscStep{}, nil }

// Name implements Step.
func (s *cupInDiscStep) Name() string { return "cup-in-disc" }

// Params implements Step.
func (s *cupInDiscStep) Params() map[string]any { return map[string]any{} }

// Describe implements Step.
func (s *cupInDiscStep) Describe() string {
	return "Forces the cup inside the disc: cup pixels outside the disc are removed."
}
func (s *cupInDiscStep) apply(st *postState) {
	for i, c := range st.cup {
		st.cup[i] = c && st.disc[i]
	}
}

// ---- morphology ----

type morphStep struct {
	kind    string // opening | closing
	radius  int
	targets []string
}

func newMorph(p *params, kind string) (Step, error) {
	s := &morphStep{kind: kind, radius: p.int("radius", 2), targets: readTargets(p)}
	if p.err == nil && (s.radius < 1 || s.radius > 256) {
		p.fail("radius", "%d px, expected 1..256", s.radius)
	}
	return s, p.err
}

// Name implements Step.
func (s *morphStep) Name() string { return s.kind }

// Params implements Step.
func (s *morphStep) Params() map[string]any {
	return map[string]any{"radius": s.radius, "targets": s.targets}
}

// Describe implements Step.
func (s *morphStep) Describe() string {
	order := "erosion then dilation"
	if s.kind == "closing" {
		order = "dilation then erosion"
	}
	return fmt.Sprintf("Morphological %s (%s) of %s with a disk of radius %d px (pixels outside the image count as structure for the erosion).", s.kind, order, targetWords(s.targets), s.radius)
}
func (s *morphStep) apply(st *postState) {
	for _, bin := range st.structures(s.targets) {
		var out []bool
		if s.kind == "opening" {
			out = dilate(erode(bin, st.w, st.h, s.radius), st.w, st.h, s.radius)
		} else {
			out = erode(dilate(bin, st.w, st.h, s.radius), st.w, st.h, s.radius)
		}
		copy(bin, out)
	}
}

// diskHalfWidths returns, for dy = -r..r, the half-width floor(sqrt(r²-dy²))
// of a digital disk of radius r.
func diskHalfWidths(r int) []int {
	hw := make([]int, 2*r+1)
	for dy := -r; dy <= r; dy++ {
		hw[dy+r] = int(math.Floor(math.Sqrt(float64(r*r - dy*dy))))
	}
	return hw
}

// rowPrefix returns per-row prefix counts of true pixels: pre[y*(w+1)+x] =
// count of true in row y, columns < x.
func rowPrefix(bin []bool, w, h int) []int32 {
	pre := make([]int32, h*(w+1))
	for y := 0; y < h; y++ {
		base := y * (w + 1)
		for x := 0; x < w; x++ {
			v := pre[base+x]
			if bin[y*w+x] {
				v++
			}
			pre[base+x+1] = v
		}
	}
	return pre
}

// dilate: true where the disk around the pixel holds any true pixel
// (outside the image counts as false).
func dilate(bin []bool, w, h, r int) []bool {
	pre := rowPrefix(bin, w, h)
	hw := diskHalfWidths(r)
	out := make([]bool, len(bin))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			for dy := -r; dy <= r; dy++ {
				yy := y + dy
				if yy < 0 || yy >= h {
					continue
				}
				lo, hi := max(x-hw[dy+r], 0), min(x+hw[dy+r], w-1)
				base := yy * (w + 1)
				if pre[base+hi+1]-pre[base+lo] > 0 {
					out[y*w+x] = true
					break
				}
			}
		}
	}
	return out
}

// erode: true where every in-image pixel of the disk is true (outside the
// image counts as true, as skimage's binary_erosion).
func erode(bin []bool, w, h, r int) []bool {
	pre := rowPrefix(bin, w, h)
	hw := diskHalfWidths(r)
	out := make([]bool, len(bin))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			if !bin[y*w+x] {
				continue
			}
			ok := true
			for dy := -r; dy <= r && ok; dy++ {
				yy := y + dy
				if yy < 0 || yy >= h {
					continue
				}
				lo, hi := max(x-hw[dy+r], 0), min(x+hw[dy+r], w-1)
				base := yy * (w + 1)
				if int(pre[base+hi+1]-pre[base+lo]) != hi-lo+1 {
					ok = false
				}
			}
			out[y*w+x] = ok
		}
	}
	return out
}

// ---- ellipse fit ----

type ellipseStep struct{ targets []string }

func newEllipseFit(p *params) (Step, error) { return &ellipseStep{targets: readTargets(p)}, p.err }

// Name implements Step.
func (s *ellipseStep) Name() string { return "ellipse-fit" }

// Params implements Step.
func (s *ellipseStep) Params() map[string]any { return map[string]any{"targets": s.targets} }

// Describe implements Step.
func (s *ellipseStep) Describe() string {
	return fmt.Sprintf("Replaces %s by the filled least-squares ellipse through its boundary pixels (direct fit of Fitzgibbon et al. in the numerically stable form of Halir and Flusser; structures with fewer than 6 boundary pixels or no valid ellipse are left unchanged).", targetWords(s.targets))
}
func (s *ellipseStep) apply(st *postState) {
	for _, bin := range st.structures(s.targets) {
		if e, ok := FitEllipse(boundary(bin, st.w, st.h)); ok {
			e.Fill(bin, st.w, st.h)
		}
	}
}

// boundary returns the centres of the structure pixels with a 4-neighbour
// outside the structure (or outside the image).
func boundary(bin []bool, w, h int) []data.Point {
	var pts []data.Point
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := y*w + x
			if !bin[i] {
				continue
			}
			if x == 0 || y == 0 || x == w-1 || y == h-1 || !bin[i-1] || !bin[i+1] || !bin[i-w] || !bin[i+w] {
				pts = append(pts, data.Point{X: float64(x), Y: float64(y)})
			}
		}
	}
	return pts
}

// Conic is a conic a·x² + b·xy + c·y² + d·x + e·y + f = 0 in pixel
// coordinates, scaled so that the inside of an ellipse is negative.
type Conic struct{ A, B, C, D, E, F float64 }

// Eval returns the conic's value at (x, y).
func (q Conic) Eval(x, y float64) float64 {
	return q.A*x*x + q.B*x*y + q.C*y*y + q.D*x + q.E*y + q.F
}

// Center returns the ellipse centre.
func (q Conic) Center() data.Point {
	den := 4*q.A*q.C - q.B*q.B
	return data.Point{X: (q.B*q.E - 2*q.C*q.D) / den, Y: (q.B*q.D - 2*q.A*q.E) / den}
}

// Fill sets bin to the pixels whose centre lies inside or on the ellipse.
func (q Conic) Fill(bin []bool, w, h int) {
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			bin[y*w+x] = q.Eval(float64(x), float64(y)) <= 0
		}
	}
}

// FitEllipse fits an ellipse to points by the direct least-squares method
// (Fitzgibbon, Pilu & Fisher 1999) in the numerically stable form of Halir &
// Flusser (1998), on coordinates centred and scaled for conditioning. It
// returns false for fewer than 6 points or when no ellipse solution exists.
func FitEllipse(pts []data.Point) (Conic, bool) {
	if len(pts) < 6 {
		return Conic{}, false
	}
	var mx, my float64
	for _, p := range pts {
		mx += p.X
		my += p.Y
	}
	mx /= float64(len(pts))
	my /= float64(len(pts))
	sc := 0.0
	for _, p := range pts {
		sc += (p.X-mx)*(p.X-mx) + (p.Y-my)*(p.Y-my)
	}
	sc = math.Sqrt(sc / float64(len(pts)))
	if sc == 0 {
		return Conic{}, false
	}
	var s1, s2, s3 [3][3]float64
	for _, p := range pts {
		x, y := (p.X-mx)/sc, (p.Y-my)/sc
		d1 := [3]float64{x * x, x * y, y * y}
		d2 := [3]float64{x, y, 1}
		for i := 0; i < 3; i++ {
			for j := 0; j < 3; j++ {
				s1[i][j] += d1[i] * d1[j]
				s2[i][j] += d1[i] * d2[j]
				s3[i][j] += d2[i] * d2[j]
			}
		}
	}
	s3i, ok := inv3(s3)
	if !ok {
		return Conic{}, false
	}
	// T = -S3⁻¹ S2ᵀ (3×3); M = S1 + S2 T; M' = C1⁻¹ M.
	var t, m [3][3]float64
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			for k := 0; k < 3; k++ {
				t[i][j] -= s3i[i][k] * s2[j][k]
			}
		}
	}
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			m[i][j] = s1[i][j]
			for k := 0; k < 3; k++ {
				m[i][j] += s2[i][k] * t[k][j]
			}
		}
	}
	mp := [3][3]float64{
		{m[2][0] / 2, m[2][1] / 2, m[2][2] / 2},
		{-m[1][0], -m[1][1], -m[1][2]},
		{m[0][0] / 2, m[0][1] / 2, m[0][2] / 2},
	}
	var best [3]float64
	found := false
	for _, lam := range realEigenvalues(mp) {
		v, ok := nullVector(mp, lam)
		if !ok {
			continue
		}
		if 4*v[0]*v[2]-v[1]*v[1] > 0 {
			best, found = v, true
			break
		}
	}
	if !found {
		return Conic{}, false
	}
	a1 := best
	var a2 [3]float64
	for i := 0; i < 3; i++ {
		for k := 0; k < 3; k++ {
			a2[i] += t[i][k] * a1[k]
		}
	}
	// Conic in normalised coordinates u = (x-mx)/sc, v = (y-my)/sc; expand
	// back to pixel coordinates.
	A, B, C, D, E, F := a1[0], a1[1], a1[2], a2[0], a2[1], a2[2]
	s2c := sc * sc
	q := Conic{
		A: A / s2c,
		B: B / s2c,
		C: C / s2c,
		D: (-2*A*mx-B*my)/s2c + D/sc,
		E: (-2*C*my-B*mx)/s2c + E/sc,
		F: (A*mx*mx+B*mx*my+C*my*my)/s2c - (D*mx+E*my)/sc + F,
	}
	if q.A < 0 {
		q = Conic{-q.A, -q.B, -q.C, -q.D, -q.E, -q.F}
	}
	// A real ellipse is negative at its centre.
	c := q.Center()
	if !(q.Eval(c.X, c.Y) < 0) {
		return Conic{}, false
	}
	return q, true
}

func inv3(m [3][3]float64) ([3][3]float64, bool) {
	det := m[0][0]*(m[1][1]*m[2][2]-m[1][2]*m[2][1]) -
		m[0][1]*(m[1][0]*m[2][2]-m[1][2]*m[2][0]) +
		m[0][2]*(m[1][0]*m[2][1]-m[1][1]*m[2][0])
	if det == 0 || math.IsNaN(det) {
		return m, false
	}
	var r [3][3]float64
	r[0][0] = (m[1][1]*m[2][2] - m[1][2]*m[2][1]) / det
	r[0][1] = (m[0][2]*m[2][1] - m[0][1]*m[2][2]) / det
	r[0][2] = (m[0][1]*m[1][2] - m[0][2]*m[1][1]) / det
	r[1][0] = (m[1][2]*m[2][0] - m[1][0]*m[2][2]) / det
	r[1][1] = (m[0][0]*m[2][2] - m[0][2]*m[2][0]) / det
	r[1][2] = (m[0][2]*m[1][0] - m[0][0]*m[1][2]) / det
	r[2][0] = (m[1][0]*m[2][1] - m[1][1]*m[2][0]) / det
	r[2][1] = (m[0][1]*m[2][0] - m[0][0]*m[2][1]) / det
	r[2][2] = (m[0][0]*m[1][1] - m[0][1]*m[1][0]) / det
	return r, true
}

// realEigenvalues returns the real roots of the characteristic polynomial
// λ³ - tr·λ² + c1·λ - det = 0 of a 3×3 matrix.
func realEigenvalues(m [3][3]float64) []float64 {
	tr := m[0][0] + m[1][1] + m[2][2]
	c1 := m[0][0]*m[1][1] - m[0][1]*m[1][0] + m[0][0]*m[2][2] - m[0][2]*m[2][0] + m[1][1]*m[2][2] - m[1][2]*m[2][1]
	det := m[0][0]*(m[1][1]*m[2][2]-m[1][2]*m[2][1]) -
		m[0][1]*(m[1][0]*m[2][2]-m[1][2]*m[2][0]) +
		m[0][2]*(m[1][0]*m[2][1]-m[1][1]*m[2][0])
	// Depressed cubic: λ = t + tr/3, t³ + p t + q = 0.
	a, b, c := -tr, c1, -det
	p := b - a*a/3
	q := 2*a*a*a/27 - a*b/3 + c
	shift := -a / 3
	disc := q*q/4 + p*p*p/27
	var roots []float64
	switch {
	case disc > 0:
		sq := math.Sqrt(disc)
		roots = []float64{math.Cbrt(-q/2+sq) + math.Cbrt(-q/2-sq) + shift}
	case p == 0:
		roots = []float64{shift}
	default:
		r := math.Sqrt(-p / 3)
		arg := math.Max(-1, math.Min(1, -q/(2*r*r*r)))
		phi := math.Acos(arg)
		for k := 0; k < 3; k++ {
			roots = append(roots, 2*r*math.Cos((phi-2*math.Pi*float64(k))/3)+shift)
		}
	}
	// Polish each root with Newton steps on the characteristic polynomial.
	for i, l := range roots {
		for it := 0; it < 3; it++ {
			f := ((l+a)*l+b)*l + c
			df := (3*l+2*a)*l + b
			if df == 0 {
				break
			}
			l -= f / df
		}
		roots[i] = l
	}
	return roots
}

// nullVector returns a unit vector v with (m - λI) v ≈ 0: the largest cross
// product of two rows of m - λI.
func nullVector(m [3][3]float64, lam float64) ([3]float64, bool) {
	r := m
	for i := 0; i < 3; i++ {
		r[i][i] -= lam
	}
	cross := func(a, b [3]float64) [3]float64 {
		return [3]float64{a[1]*b[2] - a[2]*b[1], a[2]*b[0] - a[0]*b[2], a[0]*b[1] - a[1]*b[0]}
	}
	var best [3]float64
	bn := 0.0
	for _, pr := range [][2]int{{0, 1}, {0, 2}, {1, 2}} {
		v := cross(r[pr[0]], r[pr[1]])
		n := v[0]*v[0] + v[1]*v[1] + v[2]*v[2]
		if n > bn {
			best, bn = v, n
		}
	}
	if bn == 0 || math.IsNaN(bn) {
		return best, false
	}
	n := math.Sqrt(bn)
	return [3]float64{best[0] / n, best[1] / n, best[2] / n}, true
}

// ---- fovea heatmap decoding ----

// KnownHeatmapMethods lists the DecodeHeatmap methods.
func KnownHeatmapMethods() []string { return []string{"peak", "soft-argmax"} }

// DecodeHeatmap returns the fovea position in heatmap pixel coordinates
// (pixel-centre convention: the centre of pixel (i, j) is (i, j)); map it
// back to original pixels with the inverse of the preprocessing transform.
//
//   - "peak": the centre of the maximum pixel (ties: first in raster order).
//   - "soft-argmax": the weighted centroid of max(h - peak/2, 0) over the
//     8-connected region above half the peak that contains the peak, which is
//     sub-pixel exact for a symmetric blob and ignores secondary maxima.
//
// An unknown method panics (validate with CheckHeatmapMethod when the name
// comes from a config); an empty heatmap panics as well.
func DecodeHeatmap(hm []float32, w, h int, method string) data.Point {
	if w <= 0 || h <= 0 || len(hm) != w*h {
		panic(fmt.Sprintf("eval: DecodeHeatmap: %d values for a %dx%d heatmap", len(hm), w, h))
	}
	if err := CheckHeatmapMethod(method); err != nil {
		panic("eval: " + err.Error())
	}
	pk := 0
	for i, v := range hm {
		if v > hm[pk] || (math.IsNaN(float64(hm[pk])) && !math.IsNaN(float64(v))) {
			pk = i
		}
	}
	if method == "peak" {
		return data.Point{X: float64(pk % w), Y: float64(pk / w)}
	}
	peak := float64(hm[pk])
	half := peak / 2
	if peak <= 0 {
		return data.Point{X: float64(pk % w), Y: float64(pk / w)}
	}
	seen := make([]bool, len(hm))
	stack := []int{pk}
	seen[pk] = true
	var sw, sx, sy float64
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		x, y := i%w, i/w
		wt := float64(hm[i]) - half
		sw += wt
		sx += wt * float64(x)
		sy += wt * float64(y)
		for dy := -1; dy <= 1; dy++ {
			for dx := -1; dx <= 1; dx++ {
				nx, ny := x+dx, y+dy
				if nx < 0 || ny < 0 || nx >= w || ny >= h {
					continue
				}
				j := ny*w + nx
				if !seen[j] && float64(hm[j]) > half {
					seen[j] = true
					stack = append(stack, j)
				}
			}
		}
	}
	return data.Point{X: sx / sw, Y: sy / sw}
}

// CheckHeatmapMethod validates a fovea decoding method name.
func CheckHeatmapMethod(method string) error {
	for _, k := range KnownHeatmapMethods() {
		if k == method {
			return nil
		}
	}
	return data.UnknownNameError("fovea decoding method", method, KnownHeatmapMethods())
}
