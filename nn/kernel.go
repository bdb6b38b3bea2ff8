package nn

import (
	"fmt"
	"hash"
	"hash/fnv"

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
	if op.buf == nil {
		op.buf = tensor.New(tensor.WithShape(op.f.inS[op.i]...), tensor.Of(tensor.Float32))
	}
	op.f.k.bwd(op.i, in, op.f.inS, out, gout, op.buf.Data().([]float32))
	return op.buf, nil
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
