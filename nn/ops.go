package nn

import (
	"fmt"

	G "gorgonia.org/gorgonia"
)

// Conv2D is a square-kernel 2-D convolution of x (N,C,H,W) with weights w
// (O,C,k,k) plus a per-channel bias of O values (shape (1,O,1,1)),
// dilation 1, as a project op (im2col + SGEMM per image). It is
// Conv2DDilated with dilation 1.
func Conv2D(x, w, bias *G.Node, stride, pad int) (*G.Node, error) {
	return Conv2DDilated(x, w, bias, stride, pad, 1)
}

// Conv2DDilated is Conv2D with dilation (atrous convolution): kernel tap
// (ky, kx) of output (oy, ox) reads input (oy·stride - pad + ky·dilation,
// ox·stride - pad + kx·dilation), zero outside, and the output is
// (N, O, (H + 2·pad - dilation·(k-1) - 1)/stride + 1, likewise for W), as in
// PyTorch's Conv2d. With pad = dilation·(k/2), stride 1 and odd k the
// output keeps the input's size.
func Conv2DDilated(x, w, bias *G.Node, stride, pad, dilation int) (*G.Node, error) {
	if stride < 1 || pad < 0 || dilation < 1 {
		return nil, fmt.Errorf("conv: stride %d must be >= 1, pad %d >= 0 and dilation %d >= 1", stride, pad, dilation)
	}
	return applyKern(&convKern{stride: stride, pad: pad, dil: dilation}, x, w, bias)
}

// GroupNorm normalises x (N,C,H,W) over groups of channels (biased
// variance, eps inside the square root) and applies a per-channel scale
// and shift of shape (1,C,1,1).
func GroupNorm(x, scale, shift *G.Node, groups int, eps float64) (*G.Node, error) {
	if groups < 1 {
		return nil, fmt.Errorf("group norm: %d groups", groups)
	}
	return applyKern(&groupNormKern{groups: groups, eps: eps}, x, scale, shift)
}

// ReLU is max(x, 0) (gradient 0 at 0).
func ReLU(x *G.Node) (*G.Node, error) { return applyKern(reluKern{}, x) }

// LeakyReLU is x for x > 0 and slope·x otherwise (gradient 1 for x > 0,
// slope at and below 0). Slope must lie in [0, 1); slope 0 computes the
// same values as ReLU.
func LeakyReLU(x *G.Node, slope float64) (*G.Node, error) {
	if !(slope >= 0 && slope < 1) {
		return nil, fmt.Errorf("leaky relu: slope %g out of range (expected 0 <= slope < 1)", slope)
	}
	return applyKern(leakyReluKern{slope: float32(slope)}, x)
}

// Add is the element-wise sum of two tensors of one shape.
func Add(a, b *G.Node) (*G.Node, error) { return applyKern(addKern{}, a, b) }

// MaxPool2 is 2x2 max pooling with stride 2.
func MaxPool2(x *G.Node) (*G.Node, error) { return applyKern(&maxPoolKern{}, x) }

// Upsample2 is nearest-neighbour 2x upsampling.
func Upsample2(x *G.Node) (*G.Node, error) { return applyKern(upsampleKern{}, x) }

// ConcatC concatenates two (N,C,H,W) tensors along channels.
func ConcatC(a, b *G.Node) (*G.Node, error) { return applyKern(concatKern{}, a, b) }

// GlobalAvgPool averages (N,C,H,W) over H and W to (N,C).
func GlobalAvgPool(x *G.Node) (*G.Node, error) { return applyKern(gapKern{}, x) }

// Dense is x (N,F) · w (F,O) + b (1,O).
func Dense(x, w, b *G.Node) (*G.Node, error) { return applyKern(denseKern{}, x, w, b) }

// MulMask multiplies x by a constant mask of the same shape (dropout).
func MulMask(x, mask *G.Node) (*G.Node, error) { return applyKern(maskKern{}, x, mask) }

// AvgPool2 is 2x2 average pooling with stride 2.
func AvgPool2(x *G.Node) (*G.Node, error) { return applyKern(avgPoolKern{}, x) }
