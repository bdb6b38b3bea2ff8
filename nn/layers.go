package nn

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// conv is a k×k convolution with bias, stride and padding (dilation 1).
func (b *builder) conv(name string, x *G.Node, outC, k, stride, pad int) (*G.Node, error) {
	return b.convDil(name, x, outC, k, stride, pad, 1)
}

// convDil is conv with a dilation; the parameters (names, shapes, seeded
// initial values) do not depend on it.
func (b *builder) convDil(name string, x *G.Node, outC, k, stride, pad, dil int) (*G.Node, error) {
	inC := x.Shape()[1]
	w := b.param(name+".weight", []int{outC, inC, k, k}, inC*k*k, outC*k*k, "weight")
	bias := b.param(name+".bias", []int{1, outC, 1, 1}, 0, 0, "zero")
	y, err := Conv2DDilated(x, w, bias, stride, pad, dil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if x == b.gr.x {
		skipInputGrad(y, 0) // no gradient for the input image
	}
	b.rec(name, y, name+".weight", name+".bias")
	return y, nil
}

// norm applies the spec's normalisation (BatchNorm or GroupNorm with learnt
// per-channel scale and shift, or nothing).
func (b *builder) norm(name string, x *G.Node) (*G.Node, error) {
	return b.normWith(name, x, normAct{})
}

// normAct is the spec's normalisation followed by its activation; with
// batch or group normalisation the activation is fused into the
// normalisation op (one tensor and one gradient fewer per block).
func (b *builder) normAct(name string, x *G.Node) (*G.Node, error) {
	if linearForTests || b.m.Spec.Norm == "none" {
		y, err := b.norm(name, x)
		if err != nil {
			return nil, err
		}
		return b.act(y)
	}
	a := normAct{on: true}
	if b.m.Spec.Activation == "leaky-relu" {
		a.slope = float32(b.m.Spec.LeakySlope)
	}
	return b.normWith(name, x, a)
}

func (b *builder) normWith(name string, x *G.Node, a normAct) (*G.Node, error) {
	c := x.Shape()[1]
	norm := b.m.Spec.Norm
	if norm != "batch" && norm != "group" {
		return x, nil
	}
	scale := b.param(name+".scale", []int{1, c, 1, 1}, 0, 0, "one")
	shift := b.param(name+".shift", []int{1, c, 1, 1}, 0, 0, "zero")
	var k kern
	if norm == "batch" {
		rm := b.buffer(name+".running_mean", c, 0)
		rv := b.buffer(name+".running_var", c, 1)
		k = &batchNormKern{eps: 1e-5, momentum: 0.1, train: b.train, act: a, rm: rm.Data, rv: rv.Data}
	} else {
		groups := b.m.Spec.Groups
		for groups > 1 && c%groups != 0 {
			groups--
		}
		if groups < 1 {
			return nil, fmt.Errorf("%s: group norm: %d groups", name, groups)
		}
		k = &groupNormKern{groups: groups, eps: 1e-5, act: a}
	}
	y, err := applyKern(k, x, scale, shift)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	b.rec(name, y, name+".scale", name+".shift")
	return y, nil
}

// linearForTests replaces the activation by the identity and max pooling
// by average pooling: smooth networks for finite-difference tests of the
// whole graph.
var linearForTests bool

// act is the spec's activation: ReLU (default) or leaky ReLU.
func (b *builder) act(x *G.Node) (*G.Node, error) {
	if linearForTests {
		return x, nil
	}
	if b.m.Spec.Activation == "leaky-relu" {
		return LeakyReLU(x, b.m.Spec.LeakySlope)
	}
	return ReLU(x)
}

// convBlock is conv → norm → activation.
func (b *builder) convBlock(name string, x *G.Node, outC, k, stride int) (*G.Node, error) {
	return b.convBlockDil(name, x, outC, k, stride, 1)
}

// convBlockDil is convBlock with a dilated convolution, padded by
// dil·(k/2) so that at stride 1 the output keeps the input's size.
func (b *builder) convBlockDil(name string, x *G.Node, outC, k, stride, dil int) (*G.Node, error) {
	y, err := b.convDil(name+".conv", x, outC, k, stride, dil*(k/2), dil)
	if err != nil {
		return nil, err
	}
	return b.normAct(name+".norm", y)
}

func (b *builder) maxPool(name string, x *G.Node) (*G.Node, error) {
	pool := MaxPool2
	if linearForTests {
		pool = AvgPool2
	}
	y, err := pool(x)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	b.rec(name, y)
	return y, nil
}

func (b *builder) upsample(name string, x *G.Node) (*G.Node, error) {
	y, err := Upsample2(x)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	b.rec(name, y)
	return y, nil
}

// dropout multiplies x by a seeded mask fed at each training step (kept
// values scaled by 1/(1-p)); in inference graphs it is the identity.
func (b *builder) dropout(name string, x *G.Node) (*G.Node, error) {
	p := b.m.Spec.Dropout
	if p <= 0 || !b.train {
		return x, nil
	}
	t := tensor.New(tensor.WithShape(x.Shape()...), tensor.Of(tensor.Float32))
	mn := G.NewTensor(b.gr.g, tensor.Float32, x.Dims(), G.WithShape(x.Shape()...), G.WithName(name+".mask"), G.WithValue(t))
	b.gr.masks = append(b.gr.masks, &dropMask{node: mn, t: t, p: p, name: name})
	return MulMask(x, mn)
}

// gap is global average pooling to (N, C).
func (b *builder) gap(name string, x *G.Node) (*G.Node, error) {
	y, err := GlobalAvgPool(x)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	b.rec(name, y)
	return y, nil
}

// dense is x (N, F) · W (F, out) + b.
func (b *builder) dense(name string, x *G.Node, out int) (*G.Node, error) {
	f := x.Shape()[1]
	w := b.param(name+".weight", []int{f, out}, f, out, "weight")
	bias := b.param(name+".bias", []int{1, out}, 0, 0, "zero")
	y, err := Dense(x, w, bias)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	b.rec(name, y, name+".weight", name+".bias")
	return y, nil
}
