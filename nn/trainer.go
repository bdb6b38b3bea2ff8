package nn

import (
	"fmt"
	"sync/atomic"

	"github.com/refugelab/refugelab/data"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// poolGrads makes training graphs recycle gradient buffers within a step
// (gradPool); a variable so that tests can compare with unpooled graphs.
var poolGrads = true

// tapeMachines counts TapeMachines built for training (case C22: one per
// training graph, never one per step).
var tapeMachines atomic.Int64

// nanWatch makes training TapeMachines check every op's output for NaN.
var nanWatch atomic.Bool

// SetNaNWatch turns on (debug mode) or off Gorgonia's NaN watch for the
// TapeMachines of trainers built afterwards: a Step then fails at the first
// op whose output holds a NaN, naming that node. It slows training.
func SetNaNWatch(on bool) { nanWatch.Store(on) }

// TrainingMachinesBuilt is the number of training TapeMachines built in
// this process so far.
func TrainingMachinesBuilt() int64 { return tapeMachines.Load() }

// Trainer is the training graph of a model for a fixed batch size and loss:
// it is built once, with one TapeMachine that is Reset between steps.
type Trainer struct {
	m      *Model
	gr     *graph
	batch  int
	ySize  int
	y, w   *G.Node
	yT, wT *tensor.Dense
	cost   *G.Node
	loss   *lossOp
	pnodes []*G.Node
	grads  [][]float32
	vm     G.VM
	pool   *gradPool
}

// NewTrainer builds the training graph for batches of size batch whose
// targets have ySize values per example, with loss f (named name in
// errors), and its single TapeMachine.
func (m *Model) NewTrainer(batch, ySize int, name string, f LossFunc) (*Trainer, error) {
	if batch < 1 || ySize < 1 {
		return nil, fmt.Errorf("nn.NewTrainer: batch %d and target size %d must be >= 1", batch, ySize)
	}
	gr, err := m.build(batch, true, false)
	if err != nil {
		return nil, err
	}
	t := &Trainer{m: m, gr: gr, batch: batch, ySize: ySize}
	n := batch * ySize
	t.yT = tensor.New(tensor.WithShape(n), tensor.Of(tensor.Float32))
	t.wT = tensor.New(tensor.WithShape(n), tensor.Of(tensor.Float32))
	t.y = G.NewTensor(gr.g, tensor.Float32, 1, G.WithShape(n), G.WithName("y"), G.WithValue(t.yT))
	t.w = G.NewTensor(gr.g, tensor.Float32, 1, G.WithShape(n), G.WithName("w"), G.WithValue(t.wT))
	t.loss = &lossOp{f: f, name: name, shape: gr.out.Shape().Clone()}
	if t.cost, err = G.ApplyOp(t.loss, gr.out, t.y, t.w); err != nil {
		return nil, fmt.Errorf("nn.NewTrainer: loss %s: %w", name, err)
	}
	for _, p := range m.params {
		nd, ok := gr.nodes[p.Name]
		if !ok {
			return nil, fmt.Errorf("nn.NewTrainer: parameter %s not in the training graph", p.Name)
		}
		t.pnodes = append(t.pnodes, nd)
		t.grads = append(t.grads, make([]float32, len(p.Data)))
	}
	if _, err := G.Grad(t.cost, t.pnodes...); err != nil {
		return nil, fmt.Errorf("nn.NewTrainer: gradient: %w", err)
	}
	if poolGrads {
		t.pool = poolGradients(gr.g)
	}
	opts := []G.VMOpt{G.BindDualValues(t.pnodes...)}
	if nanWatch.Load() {
		opts = append(opts, G.WithNaNWatch())
	}
	t.vm = G.NewTapeMachine(gr.g, opts...)
	tapeMachines.Add(1)
	return t, nil
}

// Batch is the trainer's batch size.
func (t *Trainer) Batch() int { return t.batch }

// Step runs forward and backward on one batch: x holds batch examples
// (batch*C*H*W), y the targets (batch*ySize), w the weights (nil = all
// ones). Dropout masks are drawn from data.Seed(maskSeed, layer name). It
// returns the loss; Grads then holds the gradients. Parameters are not
// changed.
func (t *Trainer) Step(x, y, w []float32, maskSeed uint64) (float64, error) {
	xd := t.gr.xT.Data().([]float32)
	if len(x) != len(xd) {
		return 0, fmt.Errorf("nn.Trainer.Step: x has %d values, expected %d", len(x), len(xd))
	}
	yd, wd := t.yT.Data().([]float32), t.wT.Data().([]float32)
	if len(y) != len(yd) {
		return 0, fmt.Errorf("nn.Trainer.Step: y has %d values, expected %d (batch %d x %d)", len(y), len(yd), t.batch, t.ySize)
	}
	copy(xd, x)
	copy(yd, y)
	if w == nil {
		for i := range wd {
			wd[i] = 1
		}
	} else {
		if len(w) != len(wd) {
			return 0, fmt.Errorf("nn.Trainer.Step: w has %d values, expected %d", len(w), len(wd))
		}
		copy(wd, w)
	}
	for _, mk := range t.gr.masks {
		r := data.NewRand(data.Seed(maskSeed, "dropout", mk.name))
		md := mk.t.Data().([]float32)
		keep := float32(1 / (1 - mk.p))
		for i := range md {
			if r.Float64() < mk.p {
				md[i] = 0
			} else {
				md[i] = keep
			}
		}
		if err := G.Let(mk.node, mk.t); err != nil {
			return 0, err
		}
	}
	for _, p := range []struct {
		n *G.Node
		v *tensor.Dense
	}{{t.gr.x, t.gr.xT}, {t.y, t.yT}, {t.w, t.wT}} {
		if err := G.Let(p.n, p.v); err != nil {
			return 0, fmt.Errorf("nn.Trainer.Step: %w", err)
		}
	}
	defer t.vm.Reset()
	if t.pool != nil {
		t.pool.reset()
	}
	if err := t.vm.RunAll(); err != nil {
		return 0, fmt.Errorf("nn.Trainer.Step: %w", err)
	}
	for i, nd := range t.pnodes {
		gv, err := nd.Grad()
		if err != nil {
			return 0, fmt.Errorf("nn.Trainer.Step: no gradient for %s: %w", t.m.params[i].Name, err)
		}
		src := f32(gv)
		if len(src) != len(t.grads[i]) {
			return 0, fmt.Errorf("nn.Trainer.Step: gradient of %s has %d values, expected %d", t.m.params[i].Name, len(src), len(t.grads[i]))
		}
		copy(t.grads[i], src)
		// The TapeMachine adds into the dual value's gradient; clear it so
		// the next Step starts from zero (Gorgonia's solvers do the same).
		for j := range src {
			src[j] = 0
		}
	}
	return t.loss.last, nil
}

// Grads returns the gradients of the last Step, in Model.Params order.
func (t *Trainer) Grads() [][]float32 { return t.grads }

// Output returns a copy of the raw outputs of the last Step.
func (t *Trainer) Output() []float32 {
	v := t.gr.out.Value()
	if v == nil {
		return nil
	}
	return append([]float32(nil), f32(v)...)
}
