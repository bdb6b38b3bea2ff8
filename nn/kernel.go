package nn

import (
	"fmt"
	"hash"
	"hash/fnv"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// kern is a layer computed in plain Go: a forward pass and, per input, a
// backward pass. The graph glue (kernOp, kernGradOp) turns it into
// Gorgonia ops with symbolic derivatives. Shapes are fixed when the graph
// is built.
type kern interface {
	// id names the kernel and its parameters (used in op hashes).
	id() string
	// outShape is the output shape for the input shapes.
	outShape(in []tensor.Shape) (tensor.Shape, error)
	// fwd computes out (overwritten) from the inputs.
	fwd(in [][]float32, inS []tensor.Shape, out []float32)
	// diff reports which inputs are differentiable.
	diff(n int) []bool
	// bwd writes dLoss/d(input i) into gin (overwritten), given the inputs,
	// the forward output and dLoss/dout.
	bwd(i int, in [][]float32, inS []tensor.Shape, out, gout, gin []float32)
}

// kernOp is the forward Gorgonia op of a kern.
type kernOp struct {
	k    kern
	inS  []tensor.Shape
	outS tensor.Shape
	buf  *tensor.Dense
	// noGrad[i] marks an input whose gradient nobody needs (the network's
	// input image): Gorgonia compiles every gradient node it is given,
	// so none is built for it.
	noGrad []bool
}

// skipInputGrad marks input i of the kern op that computed n as needing
// no gradient.
func skipInputGrad(n *G.Node, i int) {
	op, ok := n.Op().(*kernOp)
	if !ok {
		return
	}
	if op.noGrad == nil {
		op.noGrad = make([]bool, len(op.inS))
	}
	op.noGrad[i] = true
}

func applyKern(k kern, inputs ...*G.Node) (*G.Node, error) {
	inS := make([]tensor.Shape, len(inputs))
	for i, n := range inputs {
		inS[i] = n.Shape().Clone()
	}
	outS, err := k.outShape(inS)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", k.id(), err)
	}
	return G.ApplyOp(&kernOp{k: k, inS: inS, outS: outS}, inputs...)
}

func tt(s tensor.Shape) hm.Type { return G.TensorType{Dims: s.Dims(), Of: tensor.Float32} }

func (op *kernOp) Arity() int { return len(op.inS) }
func (op *kernOp) Type() hm.Type {
	ts := make([]hm.Type, 0, len(op.inS)+1)
	for _, s := range op.inS {
		ts = append(ts, tt(s))
	}
	ts = append(ts, tt(op.outS))
	return hm.NewFnType(ts...)
}
func (op *kernOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.outS.Clone(), nil }
func (op *kernOp) Do(inputs ...G.Value) (G.Value, error) {
	in, err := op.values(inputs)
	if err != nil {
		return nil, err
	}
	if op.buf == nil {
		op.buf = tensor.New(tensor.WithShape(op.outS...), tensor.Of(tensor.Float32))
	}
	op.k.fwd(in, op.inS, op.buf.Data().([]float32))
	return op.buf, nil
}

func (op *kernOp) values(inputs []G.Value) ([][]float32, error) {
	if len(inputs) < len(op.inS) {
		return nil, fmt.Errorf("%s: expected %d inputs, got %d", op.k.id(), len(op.inS), len(inputs))
	}
	in := make([][]float32, len(op.inS))
	for i := range op.inS {
		in[i] = f32(inputs[i])
		if len(in[i]) != op.inS[i].TotalSize() {
			return nil, fmt.Errorf("%s: input %d has %d values, expected shape %v", op.k.id(), i, len(in[i]), op.inS[i])
		}
	}
	return in, nil
}

func (op *kernOp) ReturnsPtr() bool      { return false }
func (op *kernOp) CallsExtern() bool     { return false }
func (op *kernOp) OverwritesInput() int  { return -1 }
func (op *kernOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "refugelab.%s%v", op.k.id(), op.inS) }
func (op *kernOp) Hashcode() uint32 {
	h := fnv.New32a()
	op.WriteHash(h)
	return h.Sum32()
}
func (op *kernOp) String() string { return op.k.id() }
func (op *kernOp) DiffWRT(n int) []bool {
	d := append([]bool(nil), op.k.diff(n)...)
	for i := range d {
		if op.noGrad != nil && i < len(op.noGrad) && op.noGrad[i] {
			d[i] = false
		}
	}
	return d
}
func (op *kernOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	d := op.DiffWRT(len(inputs))
	res := make(G.Nodes, len(inputs))
	args := append(append(G.Nodes{}, inputs...), output, grad)
	for i := range inputs {
		if !d[i] {
			continue
		}
		n, err := G.ApplyOp(&kernGradOp{f: op, i: i}, args...)
		if err != nil {
			return nil, fmt.Errorf("%s gradient %d: %w", op.k.id(), i, err)
		}
		res[i] = n
	}
	return res, nil
}

// kernGradOp computes the gradient of a kernOp with respect to input i;
// its inputs are the forward inputs, the forward output and dLoss/dout.
type kernGradOp struct {
	f   *kernOp
	i   int
	buf *tensor.Dense
	// pool, when set, recycles gradient buffers within a training step:
	// this op's output comes from the pool when uses > 0 (the number of
	// gradient ops that read it; see Trainer), and the dLoss/dout it reads
	// goes back once its last reader is done.
	pool *gradPool
	uses int
}

func (op *kernGradOp) Arity() int { return len(op.f.inS) + 2 }
func (op *kernGradOp) Type() hm.Type {
	ts := make([]hm.Type, 0, len(op.f.inS)+3)
	for _, s := range op.f.inS {
		ts = append(ts, tt(s))
	}
	ts = append(ts, tt(op.f.outS), tt(op.f.outS), tt(op.f.inS[op.i]))
	return hm.NewFnType(ts...)
}
func (op *kernGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.f.inS[op.i].Clone(), nil
}
func (op *kernGradOp) Do(inputs ...G.Value) (G.Value, error) {
	n := len(op.f.inS)
	if len(inputs) != n+2 {
		return nil, fmt.Errorf("%s gradient: expected %d inputs, got %d", op.f.k.id(), n+2, len(inputs))
	}
	in, err := op.f.values(inputs)
	if err != nil {
		return nil, err
	}
	out, gout := f32(inputs[n]), f32(inputs[n+1])
	buf := op.buf
	switch {
	case op.uses > 0:
		buf = op.pool.get(op.f.inS[op.i], op.uses)
	case buf == nil:
		buf = tensor.New(tensor.WithShape(op.f.inS[op.i]...), tensor.Of(tensor.Float32))
		op.buf = buf
	}
	op.f.k.bwd(op.i, in, op.f.inS, out, gout, buf.Data().([]float32))
	if op.pool != nil {
		op.pool.read(inputs[n+1])
	}
	return buf, nil
}
func (op *kernGradOp) ReturnsPtr() bool     { return false }
func (op *kernGradOp) CallsExtern() bool    { return false }
func (op *kernGradOp) OverwritesInput() int { return -1 }
func (op *kernGradOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "refugelab.grad%d.%s%v", op.i, op.f.k.id(), op.f.inS)
}
func (op *kernGradOp) Hashcode() uint32 {
	h := fnv.New32a()
	op.WriteHash(h)
	return h.Sum32()
}
func (op *kernGradOp) String() string { return fmt.Sprintf("grad%d(%s)", op.i, op.f.k.id()) }

// gradPool recycles the gradient buffers of one training graph. A
// gradient that only gradient ops read (dLoss/d(activation) between two
// layers) is dead once its last reader has run, so its buffer can hold a
// later gradient of the same shape: live gradients, not all of them, take
// memory. Every kern backward pass overwrites its whole output, so a
// recycled buffer's old contents never leak into a result.
type gradPool struct {
	free map[string][]*tensor.Dense // idle buffers by shape
	left map[*tensor.Dense]int      // buffers in use: reads still to come
}

func newGradPool() *gradPool {
	return &gradPool{free: map[string][]*tensor.Dense{}, left: map[*tensor.Dense]int{}}
}

// get hands out a buffer of the shape that uses readers will read.
func (p *gradPool) get(s tensor.Shape, uses int) *tensor.Dense {
	key := fmt.Sprint([]int(s))
	var t *tensor.Dense
	if f := p.free[key]; len(f) > 0 {
		t, p.free[key] = f[len(f)-1], f[:len(f)-1]
	} else {
		t = tensor.New(tensor.WithShape(s...), tensor.Of(tensor.Float32))
	}
	p.left[t] = uses
	return t
}

// read records one read of v; a pooled buffer whose reads are all done
// becomes idle.
func (p *gradPool) read(v G.Value) {
	t, ok := v.(*tensor.Dense)
	if !ok {
		return
	}
	n, ok := p.left[t]
	if !ok {
		return
	}
	if n > 1 {
		p.left[t] = n - 1
		return
	}
	delete(p.left, t)
	if poisonGradPool {
		for i, d := 0, t.Data().([]float32); i < len(d); i++ {
			d[i] = float32(math.NaN())
		}
	}
	key := fmt.Sprint([]int(t.Shape()))
	p.free[key] = append(p.free[key], t)
}

// poisonGradPool fills every buffer that becomes idle with NaN (tests: a
// read after release then shows in the gradients).
var poisonGradPool bool

// reset makes every buffer idle (the start of a step: a step that failed
// half-way may have left buffers in use).
func (p *gradPool) reset() {
	for t := range p.left {
		key := fmt.Sprint([]int(t.Shape()))
		p.free[key] = append(p.free[key], t)
	}
	clear(p.left)
}

// poolGradients makes the gradient ops of graph g share a gradPool: each
// kernGradOp output read only by kernGradOps is pooled; all kernGradOps
// release what they read. It returns the pool (nil when no op qualifies).
func poolGradients(g *G.ExprGraph) *gradPool {
	pool := newGradPool()
	pooled := false
	for _, n := range g.AllNodes() {
		op, ok := n.Op().(*kernGradOp)
		if !ok {
			continue
		}
		op.pool = pool
		readers := 0
		only := true
		it := g.To(n.ID())
		for it.Next() {
			c, ok := it.Node().(*G.Node)
			if !ok {
				only = false
				break
			}
			if _, ok := c.Op().(*kernGradOp); !ok {
				only = false
				break
			}
			readers++
		}
		if only && readers > 0 {
			op.uses = readers
			pooled = true
		}
	}
	if !pooled {
		return nil
	}
	return pool
}
