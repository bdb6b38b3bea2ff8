package nn

import (
	"fmt"
	"math"
	"unsafe"

	"gorgonia.org/tensor"
)

// Normalisation layers, each with an optional fused activation: the
// forward pass writes act(norm(x)) in one sweep, and the backward pass
// masks dLoss/dout with the activation's derivative, read from the output
// (out > 0 exactly when the normalised value is > 0, for ReLU and for
// leaky ReLU with slope in [0, 1)). Fusing saves the separate activation
// tensor, its gradient tensor and two sweeps over memory per block.
//
// Statistics and reductions are float64 sums with four independent
// accumulators combined in a fixed order; the element-wise sweeps are
// float32. Results do not depend on the number of threads.

// normAct is the activation fused into a normalisation.
type normAct struct {
	on    bool    // apply an activation
	slope float32 // 0: ReLU; in (0, 1): leaky ReLU
}

func (a normAct) String() string {
	switch {
	case !a.on:
		return ""
	case a.slope == 0:
		return ",relu"
	default:
		return fmt.Sprintf(",leaky%g", a.slope)
	}
}

// apply writes act((x - m)·mul + add) for each x of xs into o, the mean m
// given as a float32 pair m = mhi + mlo: x - mhi is exact for x near the
// mean, so the centring keeps float64-like accuracy even when |m| is much
// larger than the spread (x·mul + (add - m·mul) would cancel). The loops are
// branch-free (max; leaky ReLU is max(y, slope·y) for slope in [0, 1)):
// with a data-dependent branch, mispredictions on random signs cost 7×.
func (a normAct) apply(xs, o []float32, mhi, mlo, mul, add float32) {
	o = o[:len(xs)]
	if n8 := len(xs) &^ 7; useAsmAct && n8 > 0 {
		applyActAVX(&xs[0], &o[0], n8, mhi, mlo, mul, add, a.slope, a.mode())
		xs, o = xs[n8:], o[n8:]
	}
	switch {
	case !a.on:
		for j, v := range xs {
			o[j] = ((v-mhi)-mlo)*mul + add
		}
	case a.slope == 0:
		for j, v := range xs {
			o[j] = max(((v-mhi)-mlo)*mul+add, 0)
		}
	default:
		s := a.slope
		for j, v := range xs {
			y := ((v-mhi)-mlo)*mul + add
			o[j] = max(y, s*y)
		}
	}
}

// split32 writes m as hi + lo, hi the nearest float32 and lo the float32
// of the rest.
func split32(m float64) (hi, lo float32) {
	hi = float32(m)
	return hi, float32(m - float64(hi))
}

// useAsmAct selects the AVX2 element-wise loops (act_amd64.s).
var useAsmAct = useAsmGemm

// mode is the activation code of the assembly loops: 0 none, 1 ReLU, 2
// leaky ReLU.
func (a normAct) mode() int {
	switch {
	case !a.on:
		return 0
	case a.slope == 0:
		return 1
	}
	return 2
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// factor is the activation's derivative for output out: 1 when out > 0,
// else the slope (0 for ReLU); without a branch (see apply). The sign test
// is on the bits: out > 0 exactly when its bits, read as int32, are > 0.
func (a normAct) factor(out float32) float32 {
	if !a.on {
		return 1
	}
	pos := uint32((-int64(int32(math.Float32bits(out)))) >> 63) // all ones when out > 0
	return math.Float32frombits(one32&pos | math.Float32bits(a.slope)&^pos)
}

var one32 = math.Float32bits(1)

// grad is dLoss/d(pre-activation) for one element.
func (a normAct) grad(g, out float32) float32 { return g * a.factor(out) }

// sum64 is Σ v in float64 with four accumulators.
func sum64(v []float32) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(v); i += 4 {
		s0 += float64(v[i])
		s1 += float64(v[i+1])
		s2 += float64(v[i+2])
		s3 += float64(v[i+3])
	}
	for ; i < len(v); i++ {
		s0 += float64(v[i])
	}
	return (s0 + s1) + (s2 + s3)
}

// sqDev64 is Σ (v - m)² in float64 with four accumulators.
func sqDev64(v []float32, m float64) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(v); i += 4 {
		d0, d1, d2, d3 := float64(v[i])-m, float64(v[i+1])-m, float64(v[i+2])-m, float64(v[i+3])-m
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
	}
	for ; i < len(v); i++ {
		d := float64(v[i]) - m
		s0 += d * d
	}
	return (s0 + s1) + (s2 + s3)
}

// gradSums returns Σ g' and Σ g'·(x - m) over one plane, where g' is the
// gradient masked by the activation (from out), in float64.
func (a normAct) gradSums(g, x, out []float32, m float64) (sg, sgx float64) {
	x, out = x[:len(g)], out[:len(g)]
	var g0, g1, q0, q1 float64
	i := 0
	if n8 := len(g) &^ 7; useAsmAct && n8 > 0 {
		g0, q0 = gradSumsAVX(&g[0], &x[0], &out[0], n8, m, a.slope, b2i(a.on))
		i = n8
	}
	if !a.on {
		for ; i+2 <= len(g); i += 2 {
			v0, v1 := float64(g[i]), float64(g[i+1])
			g0 += v0
			g1 += v1
			q0 += v0 * (float64(x[i]) - m)
			q1 += v1 * (float64(x[i+1]) - m)
		}
	} else {
		for ; i+2 <= len(g); i += 2 {
			v0, v1 := float64(a.grad(g[i], out[i])), float64(a.grad(g[i+1], out[i+1]))
			g0 += v0
			g1 += v1
			q0 += v0 * (float64(x[i]) - m)
			q1 += v1 * (float64(x[i+1]) - m)
		}
	}
	for ; i < len(g); i++ {
		v := float64(a.grad(g[i], out[i]))
		g0 += v
		q0 += v * (float64(x[i]) - m)
	}
	return g0 + g1, q0 + q1
}

// inputGrad writes gin = mul·g' + c1·(x - m) + c0 for one plane.
func (a normAct) inputGrad(gin, g, x, out []float32, m, mul, c1, c0 float32) {
	g, x, out = g[:len(gin)], x[:len(gin)], out[:len(gin)]
	if n8 := len(gin) &^ 7; useAsmAct && n8 > 0 {
		inputGradAVX(&gin[0], &g[0], &x[0], &out[0], n8, m, mul, c1, c0, a.slope, b2i(a.on))
		gin, g, x, out = gin[n8:], g[n8:], x[n8:], out[n8:]
	}
	for j := range gin {
		gin[j] = mul*a.grad(g[j], out[j]) + c1*(x[j]-m) + c0
	}
}

// gradCache remembers the reductions of one backward pass so that the
// three gradient ops of a normalisation (input, scale, shift) compute them
// once. It is valid for the forward generation gen and the gradient
// slice it was computed from.
type gradCache struct {
	gen, at   uint64
	g         unsafe.Pointer
	sg, sgx   []float64 // per (image, channel) for GroupNorm, per channel for BatchNorm
	validSums bool
}

func (c *gradCache) valid(gen uint64, g []float32) bool {
	return c.validSums && c.at == gen && c.g == unsafe.Pointer(unsafe.SliceData(g))
}

func (c *gradCache) set(gen uint64, g []float32) {
	c.validSums, c.at, c.g = true, gen, unsafe.Pointer(unsafe.SliceData(g))
}

// ---- group normalisation ----------------------------------------------

// groupNormKern: x (N,C,H,W), scale, shift (1,C,1,1) -> act(GN(x));
// statistics per (image, group) in float64; biased variance; eps inside
// the sqrt.
type groupNormKern struct {
	groups     int
	eps        float64
	act        normAct
	mean, rstd []float64
	gen        uint64
	cache      gradCache
}

func (g *groupNormKern) id() string {
	return fmt.Sprintf("GroupNorm{%d,%g%s}", g.groups, g.eps, g.act)
}
func (g *groupNormKern) outShape(inS []tensor.Shape) (tensor.Shape, error) {
	if len(inS) != 3 || inS[0].Dims() != 4 {
		return nil, fmt.Errorf("expected x (N,C,H,W), scale, shift; got %v", inS)
	}
	if inS[0][1]%g.groups != 0 {
		return nil, fmt.Errorf("%d channels not divisible by %d groups", inS[0][1], g.groups)
	}
	if inS[1].TotalSize() != inS[0][1] || inS[2].TotalSize() != inS[0][1] {
		return nil, fmt.Errorf("scale %v / shift %v do not fit %d channels", inS[1], inS[2], inS[0][1])
	}
	return inS[0].Clone(), nil
}
func (g *groupNormKern) fwd(in [][]float32, inS []tensor.Shape, out []float32) {
	n, c, hw := inS[0][0], inS[0][1], inS[0][2]*inS[0][3]
	cg := c / g.groups
	x, sc, sh := in[0], in[1], in[2]
	if len(g.mean) != n*g.groups {
		g.mean = make([]float64, n*g.groups)
		g.rstd = make([]float64, n*g.groups)
	}
	g.gen++
	parallelFor(n*g.groups, func(ig int) {
		i, gi := ig/g.groups, ig%g.groups
		seg := x[(i*c+gi*cg)*hw : (i*c+(gi+1)*cg)*hw]
		m := sum64(seg) / float64(len(seg))
		rs := 1 / math.Sqrt(sqDev64(seg, m)/float64(len(seg))+g.eps)
		g.mean[ig], g.rstd[ig] = m, rs
		for cc := 0; cc < cg; cc++ {
			ch := gi*cg + cc
			mhi, mlo := split32(m)
			g.act.apply(x[(i*c+ch)*hw:(i*c+ch+1)*hw], out[(i*c+ch)*hw:], mhi, mlo, float32(float64(sc[ch])*rs), sh[ch])
		}
	})
}
func (g *groupNormKern) diff(int) []bool { return []bool{true, true, true} }

// sums fills the cache with Σ g' and Σ g'·x̂ per (image, channel).
func (g *groupNormKern) sums(in [][]float32, inS []tensor.Shape, out, gout []float32) {
	if g.cache.valid(g.gen, gout) {
		return
	}
	n, c, hw := inS[0][0], inS[0][1], inS[0][2]*inS[0][3]
	cg := c / g.groups
	if len(g.cache.sg) != n*c {
		g.cache.sg, g.cache.sgx = make([]float64, n*c), make([]float64, n*c)
	}
	x := in[0]
	parallelFor(n*c, func(ic int) {
		gi := (ic % c) / cg
		st := (ic/c)*g.groups + gi
		b := ic * hw
		sg, sgx := g.act.gradSums(gout[b:b+hw], x[b:b+hw], out[b:b+hw], g.mean[st])
		g.cache.sg[ic], g.cache.sgx[ic] = sg, sgx*g.rstd[st]
	})
	g.cache.set(g.gen, gout)
}

func (g *groupNormKern) bwd(idx int, in [][]float32, inS []tensor.Shape, out, gout, gin []float32) {
	n, c, hw := inS[0][0], inS[0][1], inS[0][2]*inS[0][3]
	cg := c / g.groups
	x, sc := in[0], in[1]
	g.sums(in, inS, out, gout)
	switch idx {
	case 0:
		// dx = rs·(g'·scale - mean(g'·scale) - x̂·mean(g'·scale·x̂))
		parallelFor(n*g.groups, func(ig int) {
			i, gi := ig/g.groups, ig%g.groups
			m, rs := g.mean[ig], g.rstd[ig]
			var s1, s2 float64
			for cc := 0; cc < cg; cc++ {
				ch := gi*cg + cc
				s1 += float64(sc[ch]) * g.cache.sg[i*c+ch]
				s2 += float64(sc[ch]) * g.cache.sgx[i*c+ch]
			}
			cnt := float64(cg * hw)
			s1 /= cnt
			s2 /= cnt
			for cc := 0; cc < cg; cc++ {
				ch := gi*cg + cc
				b := (i*c + ch) * hw
				g.act.inputGrad(gin[b:b+hw], gout[b:], x[b:], out[b:], float32(m),
					float32(rs*float64(sc[ch])), float32(-rs*rs*s2), float32(-rs*s1))
			}
		})
	case 1, 2:
		src := g.cache.sgx
		if idx == 2 {
			src = g.cache.sg
		}
		for ch := 0; ch < c; ch++ {
			var s float64
			for i := 0; i < n; i++ {
				s += src[i*c+ch]
			}
			gin[ch] = float32(s)
		}
	}
}

// ---- batch normalisation ----------------------------------------------

// batchNormKern: per-channel normalisation of x (N,C,H,W), then the fused
// activation. In training it uses the batch statistics (biased variance)
// and updates the running averages rm, rv (unbiased variance) with the
// momentum once per forward pass; at inference it uses rm, rv. rm and rv
// alias the model's buffers. Channels are independent and run in
// parallel.
type batchNormKern struct {
	eps, momentum float64
	train         bool
	act           normAct
	rm, rv        []float32
	mean, rstd    []float64
	gen           uint64
	cache         gradCache
}

func (k *batchNormKern) id() string {
	return fmt.Sprintf("BatchNorm{%g,%g,train=%v%s}", k.eps, k.momentum, k.train, k.act)
}
func (k *batchNormKern) outShape(inS []tensor.Shape) (tensor.Shape, error) {
	if len(inS) != 3 || inS[0].Dims() != 4 {
		return nil, fmt.Errorf("expected x (N,C,H,W), scale, shift; got %v", inS)
	}
	if inS[1].TotalSize() != inS[0][1] || inS[2].TotalSize() != inS[0][1] || len(k.rm) != inS[0][1] {
		return nil, fmt.Errorf("scale %v / shift %v / statistics do not fit %d channels", inS[1], inS[2], inS[0][1])
	}
	return inS[0].Clone(), nil
}
func (k *batchNormKern) diff(int) []bool { return []bool{true, true, true} }
func (k *batchNormKern) fwd(in [][]float32, inS []tensor.Shape, out []float32) {
	n, c, hw := inS[0][0], inS[0][1], inS[0][2]*inS[0][3]
	x, sc, sh := in[0], in[1], in[2]
	if len(k.mean) != c {
		k.mean, k.rstd = make([]float64, c), make([]float64, c)
	}
	k.gen++
	cnt := float64(n * hw)
	parallelFor(c, func(ch int) {
		var m, v float64
		if k.train {
			var s float64
			for i := 0; i < n; i++ {
				s += sum64(x[(i*c+ch)*hw : (i*c+ch+1)*hw])
			}
			m = s / cnt
			var q float64
			for i := 0; i < n; i++ {
				q += sqDev64(x[(i*c+ch)*hw:(i*c+ch+1)*hw], m)
			}
			v = q / cnt
			unb := v
			if cnt > 1 {
				unb = q / (cnt - 1)
			}
			k.rm[ch] = float32((1-k.momentum)*float64(k.rm[ch]) + k.momentum*m)
			k.rv[ch] = float32((1-k.momentum)*float64(k.rv[ch]) + k.momentum*unb)
		} else {
			m, v = float64(k.rm[ch]), float64(k.rv[ch])
		}
		rs := 1 / math.Sqrt(v+k.eps)
		k.mean[ch], k.rstd[ch] = m, rs
		a := float32(float64(sc[ch]) * rs)
		mhi, mlo := split32(m)
		for i := 0; i < n; i++ {
			k.act.apply(x[(i*c+ch)*hw:(i*c+ch+1)*hw], out[(i*c+ch)*hw:], mhi, mlo, a, sh[ch])
		}
	})
}

// sums fills the cache with Σ g' and Σ g'·x̂ per channel.
func (k *batchNormKern) sums(in [][]float32, inS []tensor.Shape, out, gout []float32) {
	if k.cache.valid(k.gen, gout) {
		return
	}
	n, c, hw := inS[0][0], inS[0][1], inS[0][2]*inS[0][3]
	if len(k.cache.sg) != c {
		k.cache.sg, k.cache.sgx = make([]float64, c), make([]float64, c)
	}
	x := in[0]
	parallelFor(c, func(ch int) {
		var sg, sgx float64
		for i := 0; i < n; i++ {
			b := (i*c + ch) * hw
			a, q := k.act.gradSums(gout[b:b+hw], x[b:b+hw], out[b:b+hw], k.mean[ch])
			sg += a
			sgx += q
		}
		k.cache.sg[ch], k.cache.sgx[ch] = sg, sgx*k.rstd[ch]
	})
	k.cache.set(k.gen, gout)
}

func (k *batchNormKern) bwd(idx int, in [][]float32, inS []tensor.Shape, out, gout, gin []float32) {
	n, c, hw := inS[0][0], inS[0][1], inS[0][2]*inS[0][3]
	x, sc := in[0], in[1]
	k.sums(in, inS, out, gout)
	switch idx {
	case 1:
		for ch := range c {
			gin[ch] = float32(k.cache.sgx[ch])
		}
	case 2:
		for ch := range c {
			gin[ch] = float32(k.cache.sg[ch])
		}
	case 0:
		cnt := float64(n * hw)
		parallelFor(c, func(ch int) {
			m, rs := k.mean[ch], k.rstd[ch]
			mul := float64(sc[ch]) * rs
			// training: dx = scale·rs·(g' - Σg'/cnt - x̂·Σg'x̂/cnt);
			// inference: the statistics are constants, dx = scale·rs·g'
			var c1, c0 float64
			if k.train {
				c1 = -mul * rs * k.cache.sgx[ch] / cnt
				c0 = -mul * k.cache.sg[ch] / cnt
			}
			for i := 0; i < n; i++ {
				b := (i*c + ch) * hw
				k.act.inputGrad(gin[b:b+hw], gout[b:], x[b:], out[b:], float32(m), float32(mul), float32(c1), float32(c0))
			}
		})
	}
}
