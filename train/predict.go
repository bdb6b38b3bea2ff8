package train

import (
	"fmt"
	"math"

	"github.com/refugelab/refugelab/nn"
)

// PredictBatch is the batch size of Predict. Each example's output does not
// depend on the others in its batch (no batch statistics), so padding the
// last batch changes nothing.
const PredictBatch = 8

// Predict runs the model on each input (C*H*W values) and returns
// probabilities per example: sigmoid for a one-output classifier, softmax
// over the classes for segmentation (OutC*H*W values, class-major), the
// raw heatmap for heatmap models (head "linear"); for the multitask
// network the segmentation softmax (OutC*H*W) followed by the glaucoma
// probability. With flipTTA the
// horizontally flipped input is predicted too, its output flipped back,
// and the two probabilities averaged.
func Predict(m *nn.Model, xs [][]float32, flipTTA bool) ([][]float32, error) {
	per := m.In.C * m.In.H * m.In.W
	for i, x := range xs {
		if len(x) != per {
			return nil, fmt.Errorf("predict: input %d has %d values, the network expects %dx%dx%d = %d", i, len(x), m.In.C, m.In.H, m.In.W, per)
		}
	}
	out, err := predictRaw(m, xs, false)
	if err != nil {
		return nil, err
	}
	if flipTTA {
		fl, err := predictRaw(m, xs, true)
		if err != nil {
			return nil, err
		}
		for i := range out {
			for j := range out[i] {
				out[i][j] = float32((float64(out[i][j]) + float64(fl[i][j])) / 2)
			}
		}
	}
	return out, nil
}

// predictRaw returns activated outputs, flipping inputs (and dense outputs
// back) when flip is set.
func predictRaw(m *nn.Model, xs [][]float32, flip bool) ([][]float32, error) {
	per := m.In.C * m.In.H * m.In.W
	os := m.OutShape()
	outPer := 1
	for _, v := range os {
		outPer *= v
	}
	res := make([][]float32, len(xs))
	buf := make([]float32, PredictBatch*per)
	for s := 0; s < len(xs); s += PredictBatch {
		for i := range buf {
			buf[i] = 0
		}
		e := min(s+PredictBatch, len(xs))
		for i := s; i < e; i++ {
			dst := buf[(i-s)*per : (i-s+1)*per]
			if flip {
				flipW(xs[i], dst, m.In.C, m.In.H, m.In.W)
			} else {
				copy(dst, xs[i])
			}
		}
		raw, err := m.Forward(buf, PredictBatch)
		if err != nil {
			return nil, fmt.Errorf("predict: %w", err)
		}
		for i := s; i < e; i++ {
			o := append([]float32(nil), raw[(i-s)*outPer:(i-s+1)*outPer]...)
			if m.Multitask() {
				// class-major segmentation logits, then the image logit
				segPart := o[:len(o)-1]
				activate(segPart, "softmax", []int{m.OutC, m.In.H, m.In.W})
				o[len(o)-1] = float32(sigmoid(float64(o[len(o)-1])))
				if flip {
					f := make([]float32, len(segPart))
					flipW(segPart, f, m.OutC, m.In.H, m.In.W)
					copy(segPart, f)
				}
			} else {
				activate(o, m.HeadKind(), os)
			}
			if flip && m.Dense() {
				f := make([]float32, len(o))
				flipW(o, f, os[0], os[1], os[2])
				o = f
			}
			res[i] = o
		}
	}
	return res, nil
}

// flipW mirrors each row of a (C,H,W) array: dst[c,y,x] = src[c,y,W-1-x].
func flipW(src, dst []float32, c, h, w int) {
	for r := 0; r < c*h; r++ {
		s, d := src[r*w:(r+1)*w], dst[r*w:(r+1)*w]
		for x := 0; x < w; x++ {
			d[x] = s[w-1-x]
		}
	}
}

// activate applies the head activation in place to one example's output.
func activate(o []float32, kind string, shape []int) {
	switch kind {
	case "sigmoid":
		for i, v := range o {
			o[i] = float32(sigmoid(float64(v)))
		}
	case "softmax":
		k := shape[0]
		sp := len(o) / k
		for j := 0; j < sp; j++ {
			mx := math.Inf(-1)
			for c := 0; c < k; c++ {
				mx = math.Max(mx, float64(o[c*sp+j]))
			}
			var z float64
			e := make([]float64, k)
			for c := 0; c < k; c++ {
				e[c] = math.Exp(float64(o[c*sp+j]) - mx)
				z += e[c]
			}
			for c := 0; c < k; c++ {
				o[c*sp+j] = float32(e[c] / z)
			}
		}
	}
}
