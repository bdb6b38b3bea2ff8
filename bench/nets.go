package main

import (
	"fmt"
	"math"

	"github.com/refugelab/refugelab/nn"
	"github.com/refugelab/refugelab/train"
)

// benchNet is one reference network of the benchmark: its spec, input
// size, batch, output channels and loss.
type benchNet struct {
	// Key is the name used by --nets (unet or cnn).
	Key string
	// Title is the human-readable description printed in the table.
	Title string
	Spec  nn.NetSpec
	Size  int // input height = width
	Batch int
	OutC  int
	Loss  string
}

// ySize is the number of target values per example: one class index per
// pixel for the U-Net, one label for the classifier.
func (b benchNet) ySize() int {
	if b.Spec.Arch == "unet" {
		return b.Size * b.Size
	}
	return 1
}

// referenceNets returns the networks of DESIGN §6 / issue 9: the U-Net
// (base 16, depth 4, batch norm) at 256², batch 8, three classes, dice-ce;
// and the 5-stage VGG-style classifier (base 16, batch norm) at 224²,
// batch 16, one logit, bce. quick shrinks inputs and batches for a smoke
// test.
func referenceNets(quick bool) []benchNet {
	u := benchNet{Key: "unet", Spec: nn.NetSpec{Arch: "unet", Base: 16, Depth: 4, Norm: "batch"}, Size: 256, Batch: 8, OutC: 3, Loss: "dice-ce"}
	c := benchNet{Key: "cnn", Spec: nn.NetSpec{Arch: "cnn", Base: 16, Depth: 5, Norm: "batch"}, Size: 224, Batch: 16, OutC: 1, Loss: "bce"}
	if quick {
		u.Size, u.Batch = 64, 2
		c.Size, c.Batch = 64, 2
	}
	u.Title = fmt.Sprintf("U-Net base %d depth %d BN %d² b%d %s", u.Spec.Base, u.Spec.Depth, u.Size, u.Batch, u.Loss)
	c.Title = fmt.Sprintf("VGG cnn base %d depth %d BN %d² b%d %s", c.Spec.Base, c.Spec.Depth, c.Size, c.Batch, c.Loss)
	return []benchNet{u, c}
}

// layerCost is one weighted layer of the analytic model: a k×k
// convolution (stride 1, same padding) from InC to OutC channels on an
// H×W output, or a dense layer (K = 1, H = W = 1).
type layerCost struct {
	Name               string
	InC, OutC, K, H, W int
	// Norm is true when a normalisation layer (scale and shift per
	// channel) follows.
	Norm bool
}

// MACs is the multiply-accumulate count of the layer for one image.
func (l layerCost) MACs() int64 {
	return int64(l.OutC) * int64(l.InC) * int64(l.K*l.K) * int64(l.H) * int64(l.W)
}

// Params is the layer's trainable scalar count: weights, bias and, when
// Norm is set, the normalisation's scale and shift.
func (l layerCost) Params() int {
	p := l.OutC*l.InC*l.K*l.K + l.OutC
	if l.Norm {
		p += 2 * l.OutC
	}
	return p
}

// analyticLayers lists the weighted layers of spec (arch unet or cnn, as
// built by package nn: see nn/arch.go) for a C×size×size input and outC
// outputs. Every 3×3 convolution is followed by the spec's normalisation.
func analyticLayers(spec nn.NetSpec, inC, size, outC int) ([]layerCost, error) {
	spec = spec.Defaults()
	norm := spec.Norm != "none"
	var ls []layerCost
	conv := func(name string, in, out, k, s int) {
		ls = append(ls, layerCost{Name: name, InC: in, OutC: out, K: k, H: s, W: s, Norm: norm && k == 3})
	}
	switch spec.Arch {
	case "unet":
		c, s := inC, size
		for i := 0; i < spec.Depth; i++ {
			o := spec.Base << i
			conv(fmt.Sprintf("down%d.0", i), c, o, 3, s)
			conv(fmt.Sprintf("down%d.1", i), o, o, 3, s)
			c, s = o, s/2
		}
		o := spec.Base << spec.Depth
		conv("bottom.0", c, o, 3, s)
		conv("bottom.1", o, o, 3, s)
		c = o
		for i := spec.Depth - 1; i >= 0; i-- {
			o := spec.Base << i
			s *= 2
			conv(fmt.Sprintf("up%d.reduce", i), c, o, 3, s)
			conv(fmt.Sprintf("up%d.0", i), 2*o, o, 3, s) // concat skip + reduced
			conv(fmt.Sprintf("up%d.1", i), o, o, 3, s)
			c = o
		}
		conv("head", c, outC, 1, s)
	case "cnn":
		c, s := inC, size
		for i := 0; i < spec.Depth; i++ {
			o := spec.Base << i
			conv(fmt.Sprintf("stage%d.0", i), c, o, 3, s)
			conv(fmt.Sprintf("stage%d.1", i), o, o, 3, s)
			c = o
			if i < spec.Depth-1 {
				s /= 2
			}
		}
		ls = append(ls, layerCost{Name: "fc", InC: c, OutC: outC, K: 1, H: 1, W: 1})
	default:
		return nil, fmt.Errorf("bench: FLOP model for arch %q not written (expected unet or cnn)", spec.Arch)
	}
	return ls, nil
}

// trainFLOPs is the analytic floating-point operation count of one
// training step per image: forward = 2·MACs summed over the convolution
// and dense layers; training (forward + backward) = 3 × forward, since
// the backward pass computes the input gradient and the weight gradient,
// each costing as many MACs as the forward product. Normalisation,
// activations, pooling, upsampling, the loss and the optimizer are not
// counted (they are O(activations), not O(activations × kernel × channels)).
// It also returns the trainable parameter count of the same layer list.
func trainFLOPs(ls []layerCost) (flops int64, params int) {
	var macs int64
	for _, l := range ls {
		macs += l.MACs()
		params += l.Params()
	}
	return 3 * 2 * macs, params
}

// buildGo builds the refugelab model, trainer, optimizer and a fixed
// deterministic batch (inputs sin(i), targets cycling over the classes)
// for b.
func buildGo(b benchNet) (step func() error, params int, err error) {
	m, err := nn.New(b.Spec, nn.Shape{C: 3, H: b.Size, W: b.Size}, b.OutC, b.Batch, 1)
	if err != nil {
		return nil, 0, err
	}
	l, err := train.BuildLoss(train.LossSpec{Name: b.Loss})
	if err != nil {
		return nil, 0, err
	}
	ys := b.ySize()
	tr, err := m.NewTrainer(b.Batch, ys, l.Name, l.F)
	if err != nil {
		return nil, 0, err
	}
	o, err := train.NewOptimizer(train.OptSpec{Name: "adam"}, m.Params())
	if err != nil {
		return nil, 0, err
	}
	x := make([]float32, b.Batch*3*b.Size*b.Size)
	for i := range x {
		x[i] = float32(math.Sin(float64(i)))
	}
	y := make([]float32, b.Batch*ys)
	for i := range y {
		y[i] = float32((i / 7) % max(b.OutC, 2))
	}
	lr := 1e-3
	step = func() error {
		if _, err := tr.Step(x, y, nil, 1); err != nil {
			return err
		}
		return o.Step(m.Params(), tr.Grads(), lr)
	}
	return step, m.TotalParams(), nil
}
