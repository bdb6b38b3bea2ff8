package nn

import (
	"fmt"
	"hash"
	"hash/fnv"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// LossFunc is a loss over a batch of raw network outputs. out holds the
// outputs (shape outShape, batch first), y the targets and w the per-target
// weights (same length as y, all ones when the caller gave none). It returns
// the scalar loss and, when grad is not nil, writes dLoss/dout into grad
// (len(out) values, overwritten).
type LossFunc func(out []float32, outShape []int, y, w []float32, grad []float32) float64

// lossOp plugs a LossFunc into a Gorgonia graph: inputs (out, y, w),
// output a float32 scalar. Its symbolic derivative is lossGradOp.
type lossOp struct {
	f     LossFunc
	name  string
	shape tensor.Shape
	last  float64 // loss of the last Do, in float64
}

func (op *lossOp) Arity() int { return 3 }
func (op *lossOp) Type() hm.Type {
	a := G.TensorType{Dims: op.shape.Dims(), Of: tensor.Float32}
	v := G.TensorType{Dims: 1, Of: tensor.Float32}
	return hm.NewFnType(a, v, v, tensor.Float32)
}
func (op *lossOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return tensor.ScalarShape(), nil }
func (op *lossOp) Do(inputs ...G.Value) (G.Value, error) {
	if len(inputs) != 3 {
		return nil, fmt.Errorf("loss %s: expected 3 inputs, got %d", op.name, len(inputs))
	}
	out, y, w := f32(inputs[0]), f32(inputs[1]), f32(inputs[2])
	op.last = op.f(out, op.shape, y, w, nil)
	return G.NewF32(float32(op.last)), nil
}
func (op *lossOp) ReturnsPtr() bool      { return false }
func (op *lossOp) CallsExtern() bool     { return false }
func (op *lossOp) OverwritesInput() int  { return -1 }
func (op *lossOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "refugelab.loss{%s,%v}", op.name, op.shape) }
func (op *lossOp) Hashcode() uint32 {
	h := fnv.New32a()
	op.WriteHash(h)
	return h.Sum32()
}
func (op *lossOp) String() string     { return "Loss{" + op.name + "}" }
func (op *lossOp) DiffWRT(int) []bool { return []bool{true, false, false} }
func (op *lossOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	gop := &lossGradOp{f: op.f, name: op.name, shape: op.shape}
	n, err := G.ApplyOp(gop, inputs[0], inputs[1], inputs[2], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{n, nil, nil}, nil
}

// lossGradOp computes dLoss/dout scaled by the incoming scalar gradient.
type lossGradOp struct {
	f     LossFunc
	name  string
	shape tensor.Shape
	buf   *tensor.Dense
}

func (op *lossGradOp) Arity() int { return 4 }
func (op *lossGradOp) Type() hm.Type {
	a := G.TensorType{Dims: op.shape.Dims(), Of: tensor.Float32}
	v := G.TensorType{Dims: 1, Of: tensor.Float32}
	return hm.NewFnType(a, v, v, tensor.Float32, a)
}
func (op *lossGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.shape.Clone(), nil }
func (op *lossGradOp) Do(inputs ...G.Value) (G.Value, error) {
	if len(inputs) != 4 {
		return nil, fmt.Errorf("loss %s gradient: expected 4 inputs, got %d", op.name, len(inputs))
	}
	out, y, w := f32(inputs[0]), f32(inputs[1]), f32(inputs[2])
	var scale float32 = 1
	switch s := inputs[3].(type) {
	case *G.F32:
		scale = float32(*s)
	case *tensor.Dense:
		scale = s.Data().([]float32)[0]
	}
	if op.buf == nil {
		op.buf = tensor.New(tensor.WithShape(op.shape...), tensor.Of(tensor.Float32))
	}
	g := op.buf.Data().([]float32)
	op.f(out, op.shape, y, w, g)
	if scale != 1 {
		for i := range g {
			g[i] *= scale
		}
	}
	return op.buf, nil
}
func (op *lossGradOp) ReturnsPtr() bool     { return false }
func (op *lossGradOp) CallsExtern() bool    { return false }
func (op *lossGradOp) OverwritesInput() int { return -1 }
func (op *lossGradOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "refugelab.lossgrad{%s,%v}", op.name, op.shape)
}
func (op *lossGradOp) Hashcode() uint32 {
	h := fnv.New32a()
	op.WriteHash(h)
	return h.Sum32()
}
func (op *lossGradOp) String() string { return "LossGrad{" + op.name + "}" }

func f32(v G.Value) []float32 {
	switch t := v.(type) {
	case *tensor.Dense:
		return t.Data().([]float32)
	case G.Value:
		if d, ok := t.Data().([]float32); ok {
			return d
		}
	}
	return nil
}
