package nn

import (
	"fmt"

	"gonum.org/v1/gonum/blas/gonum"
	"gorgonia.org/tensor"
)

var sgemm gonum.Implementation

// ---- convolution -------------------------------------------------------

// convKern: x (N,C,H,W), w (O,C,k,k), b (1,O,1,1) -> (N,O,Ho,Wo), with
// Ho = (H + 2·pad - dil·(k-1) - 1)/stride + 1 (likewise Wo); kernel tap
// (ky, kx) of output (oy, ox) reads input (oy·stride - pad + ky·dil,
// ox·stride - pad + kx·dil), zero outside. It is computed as an implicit
// GEMM (see conv.go): blocks of the im2col matrix are built in cache-sized
// scratch buffers from a shared pool, never the whole matrix. Images run in
// parallel, each writing only its own output; the weight and bias
// gradients are summed from per-image partials in image order, so results
// do not depend on thread count or scheduling.
type convKern struct {
	stride, pad int
	dil         int // dilation; 0 means 1
}

func (c *convKern) id() string {
	if c.d() == 1 {
		return fmt.Sprintf("Conv2D{s%d,p%d}", c.stride, c.pad)
	}
	return fmt.Sprintf("Conv2D{s%d,p%d,d%d}", c.stride, c.pad, c.d())
}

// d is the dilation (the zero value means 1).
func (c *convKern) d() int {
	if c.dil < 1 {
		return 1
	}
	return c.dil
}

func (c *convKern) dims(inS []tensor.Shape) (n, ch, h, w, o, k, ho, wo int) {
	x, wt := inS[0], inS[1]
	n, ch, h, w = x[0], x[1], x[2], x[3]
	o, k = wt[0], wt[2]
	span := c.d()*(k-1) + 1 // extent of the dilated kernel
	ho = (h+2*c.pad-span)/c.stride + 1
	wo = (w+2*c.pad-span)/c.stride + 1
	return
}

func (c *convKern) outShape(inS []tensor.Shape) (tensor.Shape, error) {
	if len(inS) != 3 || inS[0].Dims() != 4 || inS[1].Dims() != 4 {
		return nil, fmt.Errorf("expected x (N,C,H,W), w (O,C,k,k), b (1,O,1,1), got %v", inS)
	}
	if inS[1][1] != inS[0][1] || inS[1][2] != inS[1][3] {
		return nil, fmt.Errorf("weights %v do not fit input %v", inS[1], inS[0])
	}
	if inS[2].TotalSize() != inS[1][0] {
		return nil, fmt.Errorf("bias %v does not fit %d output channels", inS[2], inS[1][0])
	}
	n, _, h, w, o, k, ho, wo := c.dims(inS)
	if span := c.d()*(k-1) + 1; h+2*c.pad < span || w+2*c.pad < span {
		return nil, fmt.Errorf("output is empty: padded input %dx%d is smaller than the %dx%d kernel at dilation %d", w+2*c.pad, h+2*c.pad, span, span, c.d())
	}
	if ho < 1 || wo < 1 {
		return nil, fmt.Errorf("output %dx%d is empty for input %v", wo, ho, inS[0])
	}
	return tensor.Shape{n, o, ho, wo}, nil
}

func (c *convKern) geom(inS []tensor.Shape) convGeom {
	n, ch, h, w, o, k, ho, wo := c.dims(inS)
	_ = n
	return convGeom{c: ch, h: h, w: w, o: o, k: k, s: c.stride, p: c.pad, d: c.d(), ho: ho, wo: wo}
}

func (c *convKern) fwd(in [][]float32, inS []tensor.Shape, out []float32) {
	g := c.geom(inS)
	convForward(g, inS[0][0], in[0], in[1], in[2], out)
}

// convForward runs the forward convolution of n images x with weights w
// (O×C×k×k) and bias b (nil: none) into out; images in parallel.
func convForward(g convGeom, n int, x, w, b, out []float32) {
	kk := g.c * g.k * g.k
	mPad := (g.o + gemmMR - 1) / gemmMR * gemmMR
	ap := scratch(mPad * kk)
	defer gemmPool.Put(ap)
	packA(w, g.o, kk, kk, *ap)
	in, hw := g.c*g.h*g.w, g.ho*g.wo
	if g.direct() {
		off := g.directOffsets()
		parallelFor(n, func(i int) {
			xp, ytmp := scratch(g.directPadLen(g.c)), scratch(mPad*convNC)
			defer gemmPool.Put(xp)
			defer gemmPool.Put(ytmp)
			g.fwdImageDirect(x[i*in:(i+1)*in], *ap, off, b, out[i*g.o*hw:(i+1)*g.o*hw], *xp, *ytmp)
		})
		return
	}
	parallelFor(n, func(i int) {
		tile, tmp, xp := scratch(convKC*convNC), scratch(gemmMR*gemmNR), scratch(g.padLen())
		defer gemmPool.Put(tile)
		defer gemmPool.Put(tmp)
		defer gemmPool.Put(xp)
		g.fwdImage(x[i*in:(i+1)*in], *ap, b, out[i*g.o*hw:(i+1)*g.o*hw], *tile, *tmp, *xp)
	})
}

func (c *convKern) diff(int) []bool { return []bool{true, true, true} }

func (c *convKern) bwd(idx int, in [][]float32, inS []tensor.Shape, out, gout, gin []float32) {
	n, ch, h, w, o, k, ho, wo := c.dims(inS)
	g := c.geom(inS)
	x, wt := in[0], in[1]
	kk := ch * k * k
	hw := ho * wo
	switch idx {
	case 0:
		if gg, ok := g.dataGradGeom(); ok {
			// dX = dY convolved with the flipped, transposed kernel
			wf := scratch(len(wt))
			defer gemmPool.Put(wf)
			g.flipWeights(wt, *wf)
			convForward(gg, n, gout, *wf, nil, gin)
			return
		}
		// strided: dX = col2im(Wᵀ · dY), block by block
		kkPad := (kk + gemmMR - 1) / gemmMR * gemmMR
		wT := scratch(kk * o)
		defer gemmPool.Put(wT)
		for oc := 0; oc < o; oc++ {
			for t, v := range wt[oc*kk : (oc+1)*kk] {
				(*wT)[t*o+oc] = v
			}
		}
		wtp := scratch(kkPad * o)
		defer gemmPool.Put(wtp)
		packA(*wT, kk, o, o, *wtp)
		parallelFor(n, func(i int) {
			yt, ct := scratch(o*convNC), scratch(kkPad*convNC)
			defer gemmPool.Put(yt)
			defer gemmPool.Put(ct)
			g.dataGradImage(gout[i*o*hw:(i+1)*o*hw], *wtp, gin[i*ch*h*w:(i+1)*ch*h*w], *yt, *ct)
		})
	case 1: // dW = Σ_i dY_i · col_iᵀ, per-image partials summed in image order
		// partial rows: (c, ky, kx) order from im2col, (ky, kx, c) order
		// (c padded to cPad) from the direct path
		kk2 := k * k
		cPad := (ch + gemmMR - 1) / gemmMR * gemmMR
		rows := (kk + gemmMR - 1) / gemmMR * gemmMR
		// the direct path multiplies the dropped columns' inputs by 0,
		// which turns an Inf there into NaN; im2col when any is not finite
		direct := g.direct() && allFinite(x)
		if direct {
			rows = kk2 * cPad
		}
		oPad := (o + gemmNR - 1) / gemmNR * gemmNR
		parts := make([]*[]float32, n)
		parallelFor(n, func(i int) {
			parts[i] = scratch(rows * oPad)
			bp := scratch(oPad * convKP)
			defer gemmPool.Put(bp)
			xi, gi := x[i*ch*h*w:(i+1)*ch*h*w], gout[i*o*hw:(i+1)*o*hw]
			if direct {
				xp := scratch(g.directPadLen(cPad))
				defer gemmPool.Put(xp)
				g.wGradImageDirect(xi, gi, *parts[i], *xp, *bp)
				return
			}
			tile, xp := scratch(convTB*convKP), scratch(g.padLen())
			defer gemmPool.Put(tile)
			defer gemmPool.Put(xp)
			g.wGradImage(xi, gi, *parts[i], *tile, *bp, *xp)
		})
		// gin (O×CKK) = (Σ_i part_i)ᵀ, images in order (chunks of the
		// partials in parallel, each summed over the images in order)
		sum := *parts[0]
		const chunk = 4096
		parallelFor((len(sum)+chunk-1)/chunk, func(ci int) {
			lo, hi := ci*chunk, min(len(sum), (ci+1)*chunk)
			for i := 1; i < n; i++ {
				pi := (*parts[i])[lo:hi]
				for j, v := range pi {
					sum[lo+j] += v
				}
			}
		})
		for r := 0; r < kk; r++ {
			src := r // row of tap r = (c, t) in the partials
			if direct {
				src = (r%kk2)*cPad + r/kk2
			}
			for oc, v := range sum[src*oPad : src*oPad+o] {
				gin[oc*kk+r] = v
			}
		}
		for _, p := range parts {
			gemmPool.Put(p)
		}
	case 2: // db = sum over batch and pixels
		parallelFor(o, func(oc int) {
			var s float64
			for i := 0; i < n; i++ {
				s += sum64(gout[(i*o+oc)*hw : (i*o+oc+1)*hw])
			}
			gin[oc] = float32(s)
		})
	}
}

// ---- element-wise and shape kernels -----------------------------------

type reluKern struct{}

func (reluKern) id() string                                      { return "ReLU" }
func (reluKern) outShape(s []tensor.Shape) (tensor.Shape, error) { return s[0].Clone(), nil }
func (reluKern) diff(int) []bool                                 { return []bool{true} }
func (reluKern) fwd(in [][]float32, s []tensor.Shape, out []float32) {
	chunks(len(out), s[0][0], func(lo, hi int) {
		normAct{on: true}.apply(in[0][lo:hi], out[lo:hi], 0, 0, 1, 0)
	})
}
func (reluKern) bwd(_ int, in [][]float32, s []tensor.Shape, _, gout, gin []float32) {
	chunks(len(gin), s[0][0], func(lo, hi int) { actGrad(normAct{on: true}, in[0][lo:hi], gout[lo:hi], gin[lo:hi]) })
}

// actGrad writes gin = gout·act'(x) (branch-free; see normAct.apply).
func actGrad(a normAct, x, gout, gin []float32) {
	gout, gin = gout[:len(x)], gin[:len(x)]
	for i, v := range x {
		gin[i] = gout[i] * a.factor(v)
	}
}

// leakyReluKern is x for x > 0, slope·x otherwise (float32 product).
type leakyReluKern struct{ slope float32 }

func (k leakyReluKern) id() string                                    { return fmt.Sprintf("LeakyReLU{%g}", k.slope) }
func (leakyReluKern) outShape(s []tensor.Shape) (tensor.Shape, error) { return s[0].Clone(), nil }
func (leakyReluKern) diff(int) []bool                                 { return []bool{true} }
func (k leakyReluKern) fwd(in [][]float32, s []tensor.Shape, out []float32) {
	chunks(len(out), s[0][0], func(lo, hi int) {
		normAct{on: true, slope: k.slope}.apply(in[0][lo:hi], out[lo:hi], 0, 0, 1, 0)
	})
}
func (k leakyReluKern) bwd(_ int, in [][]float32, s []tensor.Shape, _, gout, gin []float32) {
	chunks(len(gin), s[0][0], func(lo, hi int) { actGrad(normAct{on: true, slope: k.slope}, in[0][lo:hi], gout[lo:hi], gin[lo:hi]) })
}

// chunks splits [0, size) into n equal parts (the batch) run in parallel.
func chunks(size, n int, f func(lo, hi int)) {
	if n < 1 || size%n != 0 {
		f(0, size)
		return
	}
	per := size / n
	parallelFor(n, func(i int) { f(i*per, (i+1)*per) })
}

// addKern adds two tensors of the same shape.
type addKern struct{}

func (addKern) id() string { return "Add" }
func (addKern) outShape(s []tensor.Shape) (tensor.Shape, error) {
	if !s[0].Eq(s[1]) {
		return nil, fmt.Errorf("shapes %v and %v differ", s[0], s[1])
	}
	return s[0].Clone(), nil
}
func (addKern) diff(int) []bool { return []bool{true, true} }
func (addKern) fwd(in [][]float32, _ []tensor.Shape, out []float32) {
	for i := range out {
		out[i] = in[0][i] + in[1][i]
	}
}
func (addKern) bwd(_ int, _ [][]float32, _ []tensor.Shape, _, gout, gin []float32) { copy(gin, gout) }

// maskKern multiplies x by a constant mask (dropout); only x is differentiable.
type maskKern struct{}

func (maskKern) id() string                                      { return "Mask" }
func (maskKern) outShape(s []tensor.Shape) (tensor.Shape, error) { return s[0].Clone(), nil }
func (maskKern) diff(int) []bool                                 { return []bool{true, false} }
func (maskKern) fwd(in [][]float32, _ []tensor.Shape, out []float32) {
	for i := range out {
		out[i] = in[0][i] * in[1][i]
	}
}
func (maskKern) bwd(_ int, in [][]float32, _ []tensor.Shape, _, gout, gin []float32) {
	for i := range gin {
		gin[i] = gout[i] * in[1][i]
	}
}

// maxPoolKern: 2x2 max pooling, stride 2 (H, W even). The first maximum in
// row-major window order wins.
type maxPoolKern struct{ arg []int32 }

func (*maxPoolKern) id() string { return "MaxPool2x2" }
func (*maxPoolKern) outShape(s []tensor.Shape) (tensor.Shape, error) {
	x := s[0]
	if x.Dims() != 4 || x[2]%2 != 0 || x[3]%2 != 0 {
		return nil, fmt.Errorf("input %v must be (N,C,H,W) with even H and W", x)
	}
	return tensor.Shape{x[0], x[1], x[2] / 2, x[3] / 2}, nil
}
func (*maxPoolKern) diff(int) []bool { return []bool{true} }
func (p *maxPoolKern) fwd(in [][]float32, s []tensor.Shape, out []float32) {
	nc, h, w := s[0][0]*s[0][1], s[0][2], s[0][3]
	ho, wo := h/2, w/2
	if len(p.arg) != len(out) {
		p.arg = make([]int32, len(out))
	}
	x := in[0]
	parallelFor(nc, func(c int) {
		for oy := 0; oy < ho; oy++ {
			r0 := x[c*h*w+2*oy*w : c*h*w+2*oy*w+w]
			r1 := x[c*h*w+(2*oy+1)*w : c*h*w+(2*oy+1)*w+w]
			o := c*ho*wo + oy*wo
			outs, args := out[o:o+wo], p.arg[o:o+wo]
			for ox := range outs {
				a, b, cc, d := r0[2*ox], r0[2*ox+1], r1[2*ox], r1[2*ox+1]
				m := max(max(a, b), max(cc, d))
				// the first maximum in row-major order wins; checked from
				// the last so that the compiler emits conditional moves
				// (random comparisons mispredict as branches); a NaN is the
				// maximum (max propagates it) and the first NaN takes the
				// gradient
				at := int32(c*h*w + (2*oy+1)*w + 2*ox + 1)
				if cc == m || cc != cc {
					at = int32(c*h*w + (2*oy+1)*w + 2*ox)
				}
				if b == m || b != b {
					at = int32(c*h*w + 2*oy*w + 2*ox + 1)
				}
				if a == m || a != a {
					at = int32(c*h*w + 2*oy*w + 2*ox)
				}
				outs[ox], args[ox] = m, at
			}
		}
	})
}
func (p *maxPoolKern) bwd(_ int, _ [][]float32, s []tensor.Shape, _, gout, gin []float32) {
	nc, hw := s[0][0]*s[0][1], s[0][2]*s[0][3]
	per := len(gout) / nc
	// each output's maximum lies in its own channel plane: channels are
	// independent
	parallelFor(nc, func(c int) {
		clear(gin[c*hw : (c+1)*hw])
		for o := c * per; o < (c+1)*per; o++ {
			gin[p.arg[o]] += gout[o]
		}
	})
}

// upsampleKern: nearest-neighbour 2x upsampling.
type upsampleKern struct{}

func (upsampleKern) id() string { return "Upsample2x" }
func (upsampleKern) outShape(s []tensor.Shape) (tensor.Shape, error) {
	x := s[0]
	if x.Dims() != 4 {
		return nil, fmt.Errorf("input %v must be (N,C,H,W)", x)
	}
	return tensor.Shape{x[0], x[1], 2 * x[2], 2 * x[3]}, nil
}
func (upsampleKern) diff(int) []bool { return []bool{true} }
func (upsampleKern) fwd(in [][]float32, s []tensor.Shape, out []float32) {
	nc, h, w := s[0][0]*s[0][1], s[0][2], s[0][3]
	x := in[0]
	parallelFor(nc, func(c int) {
		for y := 0; y < h; y++ {
			src := x[(c*h+y)*w : (c*h+y+1)*w]
			r0 := out[(c*2*h+2*y)*2*w : (c*2*h+2*y+1)*2*w]
			for xi, v := range src {
				r0[2*xi], r0[2*xi+1] = v, v
			}
			copy(out[(c*2*h+2*y+1)*2*w:(c*2*h+2*y+2)*2*w], r0)
		}
	})
}
func (upsampleKern) bwd(_ int, _ [][]float32, s []tensor.Shape, _, gout, gin []float32) {
	nc, h, w := s[0][0]*s[0][1], s[0][2], s[0][3]
	parallelFor(nc, func(c int) {
		for y := 0; y < h; y++ {
			r0 := gout[(c*2*h+2*y)*2*w:]
			r1 := gout[(c*2*h+2*y+1)*2*w:]
			g := gin[(c*h+y)*w : (c*h+y+1)*w]
			for xi := range g {
				g[xi] = r0[2*xi] + r0[2*xi+1] + r1[2*xi] + r1[2*xi+1]
			}
		}
	})
}

// concatKern concatenates two (N,C,H,W) tensors along channels.
type concatKern struct{}

func (concatKern) id() string { return "ConcatC" }
func (concatKern) outShape(s []tensor.Shape) (tensor.Shape, error) {
	a, b := s[0], s[1]
	if a.Dims() != 4 || b.Dims() != 4 || a[0] != b[0] || a[2] != b[2] || a[3] != b[3] {
		return nil, fmt.Errorf("cannot concatenate %v and %v along channels", a, b)
	}
	return tensor.Shape{a[0], a[1] + b[1], a[2], a[3]}, nil
}
func (concatKern) diff(int) []bool { return []bool{true, true} }
func (concatKern) fwd(in [][]float32, s []tensor.Shape, out []float32) {
	n := s[0][0]
	la, lb := s[0].TotalSize()/n, s[1].TotalSize()/n
	for i := 0; i < n; i++ {
		copy(out[i*(la+lb):], in[0][i*la:(i+1)*la])
		copy(out[i*(la+lb)+la:], in[1][i*lb:(i+1)*lb])
	}
}
func (concatKern) bwd(idx int, _ [][]float32, s []tensor.Shape, _, gout, gin []float32) {
	n := s[0][0]
	la, lb := s[0].TotalSize()/n, s[1].TotalSize()/n
	for i := 0; i < n; i++ {
		if idx == 0 {
			copy(gin[i*la:(i+1)*la], gout[i*(la+lb):])
		} else {
			copy(gin[i*lb:(i+1)*lb], gout[i*(la+lb)+la:])
		}
	}
}

// gapKern: global average pooling (N,C,H,W) -> (N,C).
type gapKern struct{}

func (gapKern) id() string { return "GlobalAvgPool" }
func (gapKern) outShape(s []tensor.Shape) (tensor.Shape, error) {
	if s[0].Dims() != 4 {
		return nil, fmt.Errorf("input %v must be (N,C,H,W)", s[0])
	}
	return tensor.Shape{s[0][0], s[0][1]}, nil
}
func (gapKern) diff(int) []bool { return []bool{true} }
func (gapKern) fwd(in [][]float32, s []tensor.Shape, out []float32) {
	hw := s[0][2] * s[0][3]
	for i := range out {
		var t float64
		for _, v := range in[0][i*hw : (i+1)*hw] {
			t += float64(v)
		}
		out[i] = float32(t / float64(hw))
	}
}
func (gapKern) bwd(_ int, _ [][]float32, s []tensor.Shape, _, gout, gin []float32) {
	hw := s[0][2] * s[0][3]
	for i, g := range gout {
		v := g / float32(hw)
		r := gin[i*hw : (i+1)*hw]
		for j := range r {
			r[j] = v
		}
	}
}

// denseKern: x (N,F) · w (F,O) + b (1,O).
type denseKern struct{}

func (denseKern) id() string { return "Dense" }
func (denseKern) outShape(s []tensor.Shape) (tensor.Shape, error) {
	if s[0].Dims() != 2 || s[1].Dims() != 2 || s[0][1] != s[1][0] || s[2].TotalSize() != s[1][1] {
		return nil, fmt.Errorf("shapes x %v, w %v, b %v do not fit", s[0], s[1], s[2])
	}
	return tensor.Shape{s[0][0], s[1][1]}, nil
}
func (denseKern) diff(int) []bool { return []bool{true, true, true} }
func (denseKern) fwd(in [][]float32, s []tensor.Shape, out []float32) {
	n, f, o := s[0][0], s[0][1], s[1][1]
	for i := 0; i < n; i++ {
		copy(out[i*o:(i+1)*o], in[2])
	}
	gemm(false, false, n, o, f, in[0], f, in[1], o, true, out, o)
}
func (denseKern) bwd(idx int, in [][]float32, s []tensor.Shape, _, gout, gin []float32) {
	n, f, o := s[0][0], s[0][1], s[1][1]
	switch idx {
	case 0:
		gemm(false, true, n, f, o, gout, o, in[1], o, false, gin, f)
	case 1:
		gemm(true, false, f, o, n, in[0], f, gout, o, false, gin, o)
	case 2:
		for j := 0; j < o; j++ {
			var t float64
			for i := 0; i < n; i++ {
				t += float64(gout[i*o+j])
			}
			gin[j] = float32(t)
		}
	}
}

// avgPoolKern: 2x2 average pooling, stride 2 (H, W even).
type avgPoolKern struct{}

func (avgPoolKern) id() string { return "AvgPool2x2" }
func (avgPoolKern) outShape(s []tensor.Shape) (tensor.Shape, error) {
	return (&maxPoolKern{}).outShape(s)
}
func (avgPoolKern) diff(int) []bool { return []bool{true} }
func (avgPoolKern) fwd(in [][]float32, s []tensor.Shape, out []float32) {
	nc, h, w := s[0][0]*s[0][1], s[0][2], s[0][3]
	ho, wo := h/2, w/2
	x := in[0]
	for c := 0; c < nc; c++ {
		for oy := 0; oy < ho; oy++ {
			for ox := 0; ox < wo; ox++ {
				b := c*h*w + 2*oy*w + 2*ox
				out[c*ho*wo+oy*wo+ox] = (x[b] + x[b+1] + x[b+w] + x[b+w+1]) * 0.25
			}
		}
	}
}
func (avgPoolKern) bwd(_ int, _ [][]float32, s []tensor.Shape, _, gout, gin []float32) {
	nc, h, w := s[0][0]*s[0][1], s[0][2], s[0][3]
	ho, wo := h/2, w/2
	for c := 0; c < nc; c++ {
		for oy := 0; oy < ho; oy++ {
			for ox := 0; ox < wo; ox++ {
				g := gout[c*ho*wo+oy*wo+ox] * 0.25
				b := c*h*w + 2*oy*w + 2*ox
				gin[b], gin[b+1], gin[b+w], gin[b+w+1] = g, g, g, g
			}
		}
	}
}

// packKern flattens two batched tensors per example and concatenates them:
// (N, ...) and (N, ...) -> (N, a+b) (the multitask output).
type packKern struct{}

func (packKern) id() string { return "Pack" }
func (packKern) outShape(s []tensor.Shape) (tensor.Shape, error) {
	if s[0][0] != s[1][0] {
		return nil, fmt.Errorf("batch sizes %v and %v differ", s[0], s[1])
	}
	n := s[0][0]
	return tensor.Shape{n, s[0].TotalSize()/n + s[1].TotalSize()/n}, nil
}
func (packKern) diff(int) []bool { return []bool{true, true} }
func (packKern) fwd(in [][]float32, s []tensor.Shape, out []float32) {
	concatKern{}.fwd(in, s, out)
}
func (packKern) bwd(idx int, in [][]float32, s []tensor.Shape, o, gout, gin []float32) {
	concatKern{}.bwd(idx, in, s, o, gout, gin)
}

// allFinite reports whether no value of x is NaN or ±Inf (v·0 is NaN
// exactly for those).
func allFinite(x []float32) bool {
	var a, b, c, d float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		a += x[i] * 0
		b += x[i+1] * 0
		c += x[i+2] * 0
		d += x[i+3] * 0
	}
	for ; i < len(x); i++ {
		a += x[i] * 0
	}
	s := a + b + c + d
	return s == s
}
