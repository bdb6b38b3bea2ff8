package nn

import "unsafe"

// Convolution as implicit GEMM: the im2col matrix is never materialised
// whole. Each image is processed in blocks of output pixels and kernel
// taps; a block of the im2col matrix (taps × pixels) is built in a small
// buffer that stays in cache and fed straight to the 6×16 micro-kernel.
//
//   - forward:        Y (O×HW) = W (O×CKK) · col (CKK×HW) + b
//   - input gradient: for stride 1, dX is the forward convolution of dY
//     with the spatially flipped, transposed kernel (W'[c][o][ky][kx] =
//     W[o][c][k-1-ky][k-1-kx]) and padding d·(k-1) - pad; no col2im.
//   - weight gradient: dWᵀ (CKK×O) = col (CKK×HW) · dYᵀ (HW×O), reduced
//     over pixel blocks in order.
//
// Every output element is one sum over the reduction dimension taken in a
// fixed order (blocks in order, each block in order), and images are
// independent, so results do not depend on the number of threads.

// Block sizes (variables so that tests can shrink them to exercise every
// block edge on small inputs).
var (
	convKC = 256 // forward: taps per block (reduction)
	convNC = 256 // forward: output pixels per block (a multiple of 16)
	convKP = 256 // weight gradient: pixels per block (reduction)
	convTB = 48  // weight gradient: taps per tile (a multiple of 6)
)

// kernelFn is a GEMM micro-kernel: C (rows×16, leading dimension ldc) =
// (add ? C : 0) + A·B with A(i,p) = a[i·rsA + p·csA] and
// B(p,j) = b[p·rsB + j].
type kernelFn func(k int, a *float32, rsA, csA int, b *float32, rsB int, c *float32, ldc int, add int)

// microKernel (6 rows) and microKernel4 (4 rows, for the last panel when
// the row count leaves 4 over, e.g. 16 or 64 channels) are the assembly
// kernels where available, else the portable Go versions.
var microKernel, microKernel4 = func() (kernelFn, kernelFn) {
	if useAsmGemm {
		return sgemmKernel6x16, sgemmKernel4x16
	}
	return kernel6x16Go, kernel4x16Go
}()

// convGeom is the geometry of one convolution: input C×H×W, O output
// channels, k×k kernel, stride, padding, dilation, output Ho×Wo.
type convGeom struct {
	c, h, w, o, k, s, p, d, ho, wo int
}

// im2colBlock writes rows [t0, t0+nt) (taps, in (c, ky, kx) order) and
// columns [j0, j0+nj) (output pixels, row-major) of the im2col matrix of
// image x into dst, row-major with leading dimension ld; columns nj..ld-1
// of each row are zeroed. The pixel range is cut once into output-row
// segments; per tap, each segment is a shifted copy of one input row with
// zeros where the tap falls into the padding.
func (g *convGeom) im2colBlock(x []float32, t0, nt, j0, nj int, dst []float32, ld int) {
	var segBuf [64]im2colSeg
	segs := g.blockSegs(j0, nj, segBuf[:])
	kk := g.k * g.k
	for t := 0; t < nt; t++ {
		tap := t0 + t
		ci, r := tap/kk, tap%kk
		dy, dx := (r/g.k)*g.d, (r%g.k)*g.d
		xc := x[ci*g.h*g.w : (ci+1)*g.h*g.w]
		row := dst[t*ld : t*ld+ld]
		clear(row[nj:])
		// output columns whose input column ox·s - p + dx lies in [0, w)
		loX, hiX := g.validCols(dx)
		for _, sg := range segs {
			seg := row[sg.at : sg.at+sg.ox1-sg.ox0]
			iy := sg.oy*g.s - g.p + dy
			lo, hi := max(sg.ox0, loX), min(sg.ox1, hiX)
			if iy < 0 || iy >= g.h || lo >= hi {
				clear(seg)
				continue
			}
			for q := sg.ox0; q < lo; q++ {
				seg[q-sg.ox0] = 0
			}
			for q := hi; q < sg.ox1; q++ {
				seg[q-sg.ox0] = 0
			}
			ix := lo*g.s - g.p + dx
			d := seg[lo-sg.ox0 : hi-sg.ox0]
			if g.s != 1 {
				for q := range d {
					d[q] = xc[iy*g.w+ix+q*g.s]
				}
				continue
			}
			src := xc[iy*g.w+ix : iy*g.w+ix+len(d)]
			if len(d) >= 48 {
				copy(d, src)
				continue
			}
			for q, v := range src { // short rows: a loop beats a memmove call
				d[q] = v
			}
		}
	}
}

// validCols is the range [lo, hi) of output columns ox whose input column
// ox·s - p + off (off: the tap's dilated column offset) lies in [0, W).
func (g *convGeom) validCols(off int) (lo, hi int) {
	if g.p > off {
		lo = (g.p - off + g.s - 1) / g.s
	}
	if last := g.w - 1 + g.p - off; last >= 0 {
		hi = last/g.s + 1
	}
	return lo, hi
}

// im2colSeg is the part of a pixel block on one output row: row oy,
// columns [ox0, ox1), at offset at in the block.
type im2colSeg struct{ oy, ox0, ox1, at int }

// blockSegs cuts the pixel range [j0, j0+nj) into output-row segments.
func (g *convGeom) blockSegs(j0, nj int, buf []im2colSeg) []im2colSeg {
	segs := buf[:0]
	for j := j0; j < j0+nj; {
		oy, ox0 := j/g.wo, j%g.wo
		ox1 := min(g.wo, ox0+(j0+nj-j))
		segs = append(segs, im2colSeg{oy: oy, ox0: ox0, ox1: ox1, at: j - j0})
		j += ox1 - ox0
	}
	return segs
}

// padded reports whether the stride-1 path applies: im2col rows are read
// from a zero-padded copy of the image (padImage), so that every segment
// is one plain copy with no border handling.
func (g *convGeom) padded() bool { return g.s == 1 }

// padDims are the padded image's width and plane size.
func (g *convGeom) padDims() (wp, plane int) {
	wp = g.w + 2*g.p
	return wp, (g.h + 2*g.p) * wp
}

// padLen is the scratch length padImage needs (0 when none).
func (g *convGeom) padLen() int {
	if !g.padded() || g.p == 0 {
		return 0
	}
	_, plane := g.padDims()
	return g.c * plane
}

// source is the image the im2col blocks read: the padded copy (in xp)
// for stride 1, else x.
func (g *convGeom) source(x, xp []float32) []float32 {
	if !g.padded() {
		return x
	}
	return g.padImage(x, xp)
}

// im2col builds an im2col block from x (any stride) or, for stride 1,
// from its padded copy src.
func (g *convGeom) im2col(x, src []float32, t0, nt, j0, nj int, dst []float32, ld int) {
	if g.padded() {
		g.im2colPadded(src, t0, nt, j0, nj, dst, ld)
		return
	}
	g.im2colBlock(x, t0, nt, j0, nj, dst, ld)
}

// padImage writes x (C×H×W) with a zero border of width p into xp (C
// planes of (H+2p)×(W+2p)); with p = 0 it returns x itself.
func (g *convGeom) padImage(x, xp []float32) []float32 {
	if g.p == 0 {
		return x
	}
	_, plane := g.padDims()
	xp = xp[:g.c*plane]
	g.padInto(x, xp)
	return xp
}

// im2colPadded is im2colBlock for stride 1, reading the padded image xp
// (padImage): tap (c, ky, kx) of output (oy, ox) is xp[c·plane +
// (oy + ky·d)·Wp + ox + kx·d].
func (g *convGeom) im2colPadded(xp []float32, t0, nt, j0, nj int, dst []float32, ld int) {
	var segBuf [64]im2colSeg
	segs := g.blockSegs(j0, nj, segBuf[:])
	wp, plane := g.padDims()
	if g.p == 0 {
		wp, plane = g.w, g.h*g.w
	}
	kk := g.k * g.k
	for t := 0; t < nt; t++ {
		tap := t0 + t
		ci, r := tap/kk, tap%kk
		base := ci*plane + (r/g.k)*g.d*wp + (r%g.k)*g.d
		row := dst[t*ld : t*ld+ld]
		clear(row[nj:])
		for _, sg := range segs {
			n := sg.ox1 - sg.ox0
			src := xp[base+sg.oy*wp+sg.ox0 : base+sg.oy*wp+sg.ox0+n]
			d := row[sg.at : sg.at+n]
			switch {
			case n >= 48:
				copy(d, src)
			case n%8 == 0:
				// 32-byte array moves compile to register moves; larger
				// arrays and short copies would call memmove
				for q := 0; q < n; q += 8 {
					*(*[8]float32)(d[q:]) = *(*[8]float32)(src[q:])
				}
			default:
				for q, v := range src {
					d[q] = v
				}
			}
		}
	}
}

// packA packs the rows of A (m×kk, row-major, leading dimension lda) into
// panels of 6 rows for each block of convKC columns: block kb, panel pi
// holds A(6·pi + i, kb·KC + p) at offset kb·mPad·KC + pi·6·kl + p·6 + i,
// where kl is the block's length; rows past m are zero. dst holds
// mPad·kk floats (mPad = m rounded up to 6).
func packA(a []float32, m, kk, lda int, dst []float32) {
	mPad := (m + gemmMR - 1) / gemmMR * gemmMR
	for k0 := 0; k0 < kk; k0 += convKC {
		kl := min(convKC, kk-k0)
		blk := dst[k0*mPad : k0*mPad+mPad*kl]
		for pi := 0; pi < mPad/gemmMR; pi++ {
			pan := blk[pi*gemmMR*kl : (pi+1)*gemmMR*kl]
			for i := 0; i < gemmMR; i++ {
				r := pi*gemmMR + i
				if r >= m {
					for p := 0; p < kl; p++ {
						pan[p*gemmMR+i] = 0
					}
					continue
				}
				src := a[r*lda+k0 : r*lda+k0+kl]
				for p, v := range src {
					pan[p*gemmMR+i] = v
				}
			}
		}
	}
}

// fwdImage computes one image's output y (O×Ho·Wo) from x (C×H×W),
// the packed weights ap (packA of the O×CKK weight matrix) and the bias
// (nil: none). tile, tmp and xp are scratch buffers of at least
// convKC·convNC, 6·16 and padLen() floats.
func (g *convGeom) fwdImage(x, ap, bias, y, tile, tmp, xp []float32) {
	src := g.source(x, xp)
	hw := g.ho * g.wo
	kk := g.c * g.k * g.k
	m := g.o
	mPad := (m + gemmMR - 1) / gemmMR * gemmMR
	direct := g.k == 1 && g.s == 1 && g.p == 0
	for j0 := 0; j0 < hw; j0 += convNC {
		nj := min(convNC, hw-j0)
		ld := (nj + gemmNR - 1) / gemmNR * gemmNR
		for k0 := 0; k0 < kk; k0 += convKC {
			kl := min(convKC, kk-k0)
			var b []float32
			ldb := ld
			if direct && nj == ld {
				// a 1×1 convolution reads the input rows in place
				b, ldb = x[k0*hw+j0:], hw
			} else {
				b = tile[:kl*ld]
				g.im2col(x, src, k0, kl, j0, nj, b, ld)
			}
			blk := ap[k0*mPad:]
			// the first block stores, later ones add; the bias is added
			// to each 6×16 block after its last tap block, while it is
			// still in L1 (no separate sweep over the output)
			add, last := 1, k0+kl == kk
			if k0 == 0 {
				add = 0
			}
			for jc := 0; jc < nj; jc += gemmNR {
				nr := min(gemmNR, nj-jc)
				for i0 := 0; i0 < mPad; i0 += gemmMR {
					a := &blk[i0*kl]
					rows := min(gemmMR, m-i0)
					kern := microKernel
					if rows <= 4 {
						kern = microKernel4
					}
					if nr == gemmNR && (rows == gemmMR || rows == 4) {
						kern(kl, a, 1, gemmMR, &b[jc], ldb, &y[i0*hw+j0+jc], hw, add)
					} else {
						kern(kl, a, 1, gemmMR, &b[jc], ldb, &tmp[0], gemmNR, 0)
						putBlock(y, hw, i0, j0+jc, rows, nr, tmp, add == 1)
					}
					if last && bias != nil {
						for i := i0; i < i0+rows; i++ {
							v := bias[i]
							r := y[i*hw+j0+jc : i*hw+j0+jc+nr]
							for j := range r {
								r[j] += v
							}
						}
					}
				}
			}
		}
	}
}

// flipWeights writes the kernel of the input-gradient convolution:
// wf[c][o][ky][kx] = w[o][c][k-1-ky][k-1-kx] (C×O×k×k).
func (g *convGeom) flipWeights(w, wf []float32) {
	kk := g.k * g.k
	for o := 0; o < g.o; o++ {
		for c := 0; c < g.c; c++ {
			src := w[(o*g.c+c)*kk : (o*g.c+c+1)*kk]
			dst := wf[(c*g.o+o)*kk : (c*g.o+o+1)*kk]
			for t := range src {
				dst[kk-1-t] = src[t]
			}
		}
	}
}

// dataGradGeom is the geometry of the input-gradient convolution (stride
// 1 only): dY (O×Ho×Wo) convolved with the flipped kernel, padding
// d·(k-1) - p, gives dX (C×H×W). ok is false when that padding would be
// negative (pad larger than the dilated kernel's reach).
func (g *convGeom) dataGradGeom() (convGeom, bool) {
	p := g.d*(g.k-1) - g.p
	if g.s != 1 || p < 0 {
		return convGeom{}, false
	}
	return convGeom{c: g.o, h: g.ho, w: g.wo, o: g.c, k: g.k, s: 1, p: p, d: g.d, ho: g.h, wo: g.w}, true
}

// wGradImage overwrites dwt (kkPad×oPad, row-major,
// kkPad = CKK rounded up to 6, oPad = O rounded up to 16) with
// col(x) · dYᵀ for one image. tile holds convTB·convKP floats, bp
// oPad·convKP.
func (g *convGeom) wGradImage(x, gy, dwt, tile, bp, xp []float32) {
	src := g.source(x, xp)
	hw := g.ho * g.wo
	kk := g.c * g.k * g.k
	kkPad := (kk + gemmMR - 1) / gemmMR * gemmMR
	oPad := (g.o + gemmNR - 1) / gemmNR * gemmNR
	direct := g.k == 1 && g.s == 1 && g.p == 0
	for p0 := 0; p0 < hw; p0 += convKP {
		np := min(convKP, hw-p0)
		// B = dYᵀ block, in strips of 16 channels: bp[s·np·16 + p·16 + j]
		for s := 0; s < oPad/gemmNR; s++ {
			strip := bp[s*np*gemmNR : (s+1)*np*gemmNR]
			nc := min(gemmNR, g.o-s*gemmNR)
			if nc < gemmNR {
				clear(strip)
			}
			// each channel row of dY is read in order and scattered into
			// the strip (16 KB, in L1); gathering across channels instead
			// reads 16 streams 4·H·W bytes apart, which share one L1 set
			for j := 0; j < nc; j++ {
				src := gy[(s*gemmNR+j)*hw+p0 : (s*gemmNR+j)*hw+p0+np]
				for p, v := range src {
					strip[p*gemmNR+j] = v
				}
			}
		}
		add := 1
		if p0 == 0 {
			add = 0
		}
		for t0 := 0; t0 < kkPad; t0 += convTB {
			nt := min(convTB, kkPad-t0)
			var a []float32
			lda := np
			if direct {
				if t0+nt > kk {
					// rows past CKK: use the zeroed tile instead
					a = tile[:nt*np]
					clear(a)
					copyRows(a, np, x, hw, t0, kk-t0, p0, np)
				} else {
					a, lda = x[t0*hw+p0:], hw
				}
			} else {
				a = tile[:nt*np]
				real := min(nt, kk-t0)
				g.im2col(x, src, t0, real, p0, np, a, np)
				clear(a[real*np:])
			}
			for i := 0; i < nt; i += gemmMR {
				for s := 0; s < oPad/gemmNR; s++ {
					microKernel(np, &a[i*lda], lda, 1, &bp[s*np*gemmNR], gemmNR, &dwt[(t0+i)*oPad+s*gemmNR], oPad, add)
				}
			}
		}
	}
}

// copyRows copies rows [r0, r0+n) columns [c0, c0+nc) of src (leading
// dimension lds) to the first n rows of dst (leading dimension ldd).
func copyRows(dst []float32, ldd int, src []float32, lds, r0, n, c0, nc int) {
	for r := 0; r < n; r++ {
		copy(dst[r*ldd:r*ldd+nc], src[(r0+r)*lds+c0:(r0+r)*lds+c0+nc])
	}
}

// kernel6x16Go and kernel4x16Go are the portable micro-kernels: the same
// contract and summation order (p ascending) as the assembly kernels;
// whether a multiply-add is fused is the compiler's choice per
// architecture, so their last bits may differ from the assembly's.
func kernel6x16Go(k int, a *float32, rsA, csA int, b *float32, rsB int, c *float32, ldc int, add int) {
	kernelGo(gemmMR, k, a, rsA, csA, b, rsB, c, ldc, add)
}

func kernel4x16Go(k int, a *float32, rsA, csA int, b *float32, rsB int, c *float32, ldc int, add int) {
	kernelGo(4, k, a, rsA, csA, b, rsB, c, ldc, add)
}

func kernelGo(rows, k int, a *float32, rsA, csA int, b *float32, rsB int, c *float32, ldc int, add int) {
	var acc [gemmMR][gemmNR]float32
	as := unsafe.Slice(a, (rows-1)*rsA+(k-1)*csA+1)
	bs := unsafe.Slice(b, (k-1)*rsB+gemmNR)
	for p := 0; p < k; p++ {
		br := bs[p*rsB : p*rsB+gemmNR]
		for i := 0; i < rows; i++ {
			av := as[i*rsA+p*csA]
			r := &acc[i]
			for j, bv := range br {
				r[j] += av * bv
			}
		}
	}
	storeAcc(rows, &acc, c, ldc, add)
}

// storeAcc writes (add = 0) or adds the first rows of acc to the block at c.
func storeAcc(rows int, acc *[gemmMR][gemmNR]float32, c *float32, ldc int, add int) {
	cs := unsafe.Slice(c, (rows-1)*ldc+gemmNR)
	for i := 0; i < rows; i++ {
		row := cs[i*ldc : i*ldc+gemmNR]
		if add != 0 {
			for j := range row {
				row[j] += acc[i][j]
			}
		} else {
			copy(row, acc[i][:])
		}
	}
}

// col2imBlock adds the block col (im2col rows [t0, t0+nt), output pixels
// [j0, j0+nj), leading dimension ld) into dx (C×H×W): the adjoint of
// im2colBlock. Every dx element receives its contributions in a fixed
// order (taps in order, then pixels in order).
func (g *convGeom) col2imBlock(col []float32, t0, nt, j0, nj, ld int, dx []float32) {
	var segBuf [64]im2colSeg
	segs := g.blockSegs(j0, nj, segBuf[:])
	kk := g.k * g.k
	for t := 0; t < nt; t++ {
		tap := t0 + t
		ci, r := tap/kk, tap%kk
		dy, dxo := (r/g.k)*g.d, (r%g.k)*g.d
		xc := dx[ci*g.h*g.w : (ci+1)*g.h*g.w]
		row := col[t*ld : t*ld+nj]
		loX, hiX := g.validCols(dxo)
		for _, sg := range segs {
			iy := sg.oy*g.s - g.p + dy
			lo, hi := max(sg.ox0, loX), min(sg.ox1, hiX)
			if iy < 0 || iy >= g.h || lo >= hi {
				continue
			}
			src := row[sg.at+lo-sg.ox0 : sg.at+hi-sg.ox0]
			ix := lo*g.s - g.p + dxo
			xr := xc[iy*g.w : (iy+1)*g.w]
			for q, v := range src {
				xr[ix+q*g.s] += v
			}
		}
	}
}

// dataGradImage writes dX (C×H×W) of one image for any stride: per block
// of output pixels, the im2col block of the gradient, Wᵀ·dY (micro-kernel,
// with wtp = packA of Wᵀ), is added into dX by col2imBlock. ytile holds
// O·(convNC) floats, ctile kkPad·convNC (kkPad = C·k·k rounded up to 6).
func (g *convGeom) dataGradImage(gy, wtp, dx, ytile, ctile []float32) {
	hw := g.ho * g.wo
	kk := g.c * g.k * g.k
	kkPad := (kk + gemmMR - 1) / gemmMR * gemmMR
	clear(dx)
	for j0 := 0; j0 < hw; j0 += convNC {
		nj := min(convNC, hw-j0)
		ld := (nj + gemmNR - 1) / gemmNR * gemmNR
		// dY block, copied: its rows H·W floats apart would crowd L1 sets
		for oc := 0; oc < g.o; oc++ {
			r := ytile[oc*ld : (oc+1)*ld]
			copy(r, gy[oc*hw+j0:oc*hw+j0+nj])
			clear(r[nj:])
		}
		for k0 := 0; k0 < g.o; k0 += convKC {
			kl := min(convKC, g.o-k0)
			blk := wtp[k0*kkPad:]
			add := 1
			if k0 == 0 {
				add = 0
			}
			for jc := 0; jc < nj; jc += gemmNR {
				for i0 := 0; i0 < kkPad; i0 += gemmMR {
					microKernel(kl, &blk[i0*kl], 1, gemmMR, &ytile[k0*ld+jc], ld, &ctile[i0*ld+jc], ld, add)
				}
			}
		}
		g.col2imBlock(ctile, 0, kk, j0, nj, ld, dx)
	}
}
