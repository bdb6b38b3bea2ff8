package train

import (
	"fmt"
	"math"

	"github.com/refugelab/refugelab/nn"
)

// OptState is the complete, exported state of an optimizer: the step count
// and the per-parameter buffers (SGD: M is the momentum buffer; Adam/AdamW:
// M and V are the first and second moments), in Model.Params order.
type OptState struct {
	Name string
	Step int64
	M    [][]float32
	V    [][]float32
}

// Optimizer updates parameters in place from gradients. All arithmetic is
// float64 per element, stored as float32, in parameter order, so a step is
// deterministic.
type Optimizer struct {
	Spec  OptSpec
	State OptState
}

// NewOptimizer builds the optimizer for the given parameters with zeroed
// state.
func NewOptimizer(spec OptSpec, params []*nn.Param) (*Optimizer, error) {
	spec = spec.Defaults()
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	o := &Optimizer{Spec: spec, State: OptState{Name: spec.Name}}
	for _, p := range params {
		o.State.M = append(o.State.M, make([]float32, len(p.Data)))
		if spec.Name != "sgd" {
			o.State.V = append(o.State.V, make([]float32, len(p.Data)))
		}
	}
	return o, nil
}

// Describe is the optimizer's sentence.
func (o *Optimizer) Describe() string { return o.Spec.Describe() }

// Step applies one update with learning rate lr:
//   - sgd (PyTorch convention): g' = g + wd·w; v = μv + g'; w −= lr·(g' + μv)
//     with Nesterov, else w −= lr·v.
//   - adam: g' = g + wd·w; m = β1m + (1−β1)g'; v = β2v + (1−β2)g'²;
//     w −= lr·m̂/(√v̂ + ε) with m̂ = m/(1−β1^t), v̂ = v/(1−β2^t).
//   - adamw: w −= lr·wd·w first (decoupled), then the Adam step on g.
//
// Weight decay applies only to parameters with Decay set.
func (o *Optimizer) Step(params []*nn.Param, grads [][]float32, lr float64) error {
	if len(params) != len(grads) || len(params) != len(o.State.M) {
		return fmt.Errorf("optimizer %s: %d parameters, %d gradients, state for %d", o.Spec.Name, len(params), len(grads), len(o.State.M))
	}
	o.State.Step++
	s := o.Spec
	t := float64(o.State.Step)
	for pi, p := range params {
		g := grads[pi]
		if len(g) != len(p.Data) {
			return fmt.Errorf("optimizer %s: gradient of %s has %d values, expected %d", s.Name, p.Name, len(g), len(p.Data))
		}
		wd := 0.0
		if p.Decay {
			wd = s.WeightDecay
		}
		m := o.State.M[pi]
		switch s.Name {
		case "sgd":
			for i, w := range p.Data {
				gi := float64(g[i]) + wd*float64(w)
				v := s.Momentum*float64(m[i]) + gi
				m[i] = float32(v)
				upd := v
				if s.Nesterov {
					upd = gi + s.Momentum*v
				}
				p.Data[i] = float32(float64(w) - lr*upd)
			}
		case "adam", "adamw":
			v2 := o.State.V[pi]
			bc1 := 1 - math.Pow(s.Beta1, t)
			bc2 := 1 - math.Pow(s.Beta2, t)
			for i, w0 := range p.Data {
				w := float64(w0)
				gi := float64(g[i])
				if s.Name == "adamw" {
					w -= lr * wd * w
				} else {
					gi += wd * w
				}
				mi := s.Beta1*float64(m[i]) + (1-s.Beta1)*gi
				vi := s.Beta2*float64(v2[i]) + (1-s.Beta2)*gi*gi
				m[i], v2[i] = float32(mi), float32(vi)
				w -= lr * (mi / bc1) / (math.Sqrt(vi/bc2) + s.Eps)
				p.Data[i] = float32(w)
			}
		}
	}
	return nil
}

// ClipGradNorm scales all gradients by max/norm when their global L2 norm
// exceeds max (max > 0), and returns the norm before clipping. Sums run in
// parameter order in float64.
func ClipGradNorm(grads [][]float32, max float64) float64 {
	var s float64
	for _, g := range grads {
		for _, v := range g {
			s += float64(v) * float64(v)
		}
	}
	n := math.Sqrt(s)
	if max > 0 && n > max {
		f := max / (n + 1e-6)
		for _, g := range grads {
			for i := range g {
				g[i] = float32(float64(g[i]) * f)
			}
		}
	}
	return n
}

// LR is the learning rate at a step (0-based) of a run with stepsPerEpoch
// steps per epoch and epochs epochs.
func (s SchedSpec) LR(base float64, step, stepsPerEpoch, epochs int) float64 {
	s = s.Defaults()
	e := float64(step) / float64(stepsPerEpoch)
	warm := s.WarmupEpochs * stepsPerEpoch
	if step < warm {
		return base * float64(step+1) / float64(warm)
	}
	total := float64((epochs - s.WarmupEpochs) * stepsPerEpoch)
	t := 0.0
	if total > 0 {
		t = float64(step-warm) / total
	}
	switch s.Name {
	case "step":
		return base * math.Pow(s.Gamma, math.Floor(e/float64(s.StepEpochs)))
	case "cosine":
		return s.MinLR + (base-s.MinLR)*(1+math.Cos(math.Pi*t))/2
	case "poly":
		return s.MinLR + (base-s.MinLR)*math.Pow(1-t, s.Power)
	}
	return base
}
