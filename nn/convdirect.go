package nn

import "unsafe"

// Direct path for stride-1 convolutions of small images: no im2col copy.
//
// With the zero-padded image (width Wp = W + 2·pad, plane Hp·Wp), the
// im2col row of tap (c, ky, kx) is a shifted view of it: output (oy, ox),
// at position q = oy·Wp + ox, reads padded element
// c·Hp·Wp + ky·d·Wp + kx·d + q. The GEMM runs over q (the Wp - Wo columns
// past each output row are computed and dropped):
//   - forward: the micro-kernel finds B's rows through a table of those
//     offsets (sgemmKernel6x16Off);
//   - weight gradient: A's rows are 6 channels of one tap, a constant
//     stride Hp·Wp apart, read in place; dY is packed with zeros on the
//     dropped columns.
//
// It reads B rows scattered over the padded image, which is fast while
// the image stays in L2 and the plane stride does not alias L1 sets, and
// slow on large planes (measured at 256²: 36 against 53 GFLOP/s for the
// im2col path, single thread), hence the size limit.

// convDirectMaxBytes is the largest padded image (bytes) that uses the
// direct path (a variable so tests can force either path).
var convDirectMaxBytes = 512 << 10

// direct reports whether the direct path applies to this geometry.
func (g *convGeom) direct() bool {
	if g.s != 1 {
		return false
	}
	_, plane := g.padDims()
	cPad := (max(g.c, g.o) + gemmMR - 1) / gemmMR * gemmMR
	return cPad*plane*4 <= convDirectMaxBytes
}

// offKernelFn is a micro-kernel with B(p,j) = b[off[p] + j].
type offKernelFn func(k int, a *float32, rsA, csA int, b *float32, off *int, c *float32, ldc int, add int)

// offKernel (6 rows) and offKernel4 (4 rows): assembly where available,
// else portable Go.
var offKernel, offKernel4 = func() (offKernelFn, offKernelFn) {
	if useAsmGemm {
		return sgemmKernel6x16Off, sgemmKernel4x16Off
	}
	return kernel6x16OffGo, kernel4x16OffGo
}()

func kernel6x16OffGo(k int, a *float32, rsA, csA int, b *float32, off *int, c *float32, ldc int, add int) {
	kernelOffGo(gemmMR, k, a, rsA, csA, b, off, c, ldc, add)
}

func kernel4x16OffGo(k int, a *float32, rsA, csA int, b *float32, off *int, c *float32, ldc int, add int) {
	kernelOffGo(4, k, a, rsA, csA, b, off, c, ldc, add)
}

func kernelOffGo(rows, k int, a *float32, rsA, csA int, b *float32, off *int, c *float32, ldc int, add int) {
	var acc [gemmMR][gemmNR]float32
	as := unsafe.Slice(a, (rows-1)*rsA+(k-1)*csA+1)
	offs := unsafe.Slice(off, k)
	for p := 0; p < k; p++ {
		br := (*[gemmNR]float32)(unsafe.Add(unsafe.Pointer(b), offs[p]*4))
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

// directPadLen is the length of the padded buffer for planes channel
// planes, with the slack read past the last plane by dropped columns.
func (g *convGeom) directPadLen(planes int) int {
	_, plane := g.padDims()
	return planes*plane + (g.k-1)*g.d + 2*gemmNR
}

// padInto writes x (C×H×W) zero-padded into xp (planes of Hp×Wp); all of
// xp past the data (extra planes, slack) is zeroed.
func (g *convGeom) padInto(x, xp []float32) {
	wp, plane := g.padDims()
	for c := 0; c < g.c; c++ {
		pl := xp[c*plane : (c+1)*plane]
		clear(pl[:g.p*wp])
		clear(pl[(g.p+g.h)*wp:])
		for y := 0; y < g.h; y++ {
			r := pl[(g.p+y)*wp : (g.p+y+1)*wp]
			clear(r[:g.p])
			copy(r[g.p:g.p+g.w], x[(c*g.h+y)*g.w:(c*g.h+y+1)*g.w])
			clear(r[g.p+g.w:])
		}
	}
	clear(xp[g.c*plane:])
}

// directOffsets are the offsets (floats) of the padded-image view of every
// im2col row, in (c, ky, kx) order.
func (g *convGeom) directOffsets() []int {
	wp, plane := g.padDims()
	kk := g.k * g.k
	off := make([]int, g.c*kk)
	for r := range off {
		c, t := r/kk, r%kk
		off[r] = c*plane + (t/g.k)*g.d*wp + (t%g.k)*g.d
	}
	return off
}

// fwdImageDirect is fwdImage on the direct path: xp is scratch of
// directPadLen(C) floats, ytmp of mPad·convNC (convNC is a multiple of
// 16, so a block's rounded-up width never exceeds it).
func (g *convGeom) fwdImageDirect(x, ap []float32, off []int, bias, y, xp, ytmp []float32) {
	wp, _ := g.padDims()
	g.padInto(x, xp)
	hw := g.ho * g.wo
	kk := g.c * g.k * g.k
	m := g.o
	mPad := (m + gemmMR - 1) / gemmMR * gemmMR
	qn := g.ho * wp
	for q0 := 0; q0 < qn; q0 += convNC {
		nq := min(convNC, qn-q0)
		ld := (nq + gemmNR - 1) / gemmNR * gemmNR
		for k0 := 0; k0 < kk; k0 += convKC {
			kl := min(convKC, kk-k0)
			blk := ap[k0*mPad:]
			add := 1
			if k0 == 0 {
				add = 0
			}
			for jc := 0; jc < nq; jc += gemmNR {
				for i0 := 0; i0 < mPad; i0 += gemmMR {
					kern := offKernel
					if m-i0 <= 4 {
						kern = offKernel4
					}
					kern(kl, &blk[i0*kl], 1, gemmMR, &xp[q0+jc], &off[k0], &ytmp[i0*ld+jc], ld, add)
				}
			}
		}
		// keep the columns ox < Wo of each output row in the block
		for q := q0; q < q0+nq; {
			oy, ox := q/wp, q%wp
			end := min(q0+nq, (oy+1)*wp)
			if ox < g.wo {
				n := min(end, oy*wp+g.wo) - q
				for oc := 0; oc < m; oc++ {
					src := ytmp[oc*ld+q-q0 : oc*ld+q-q0+n]
					dst := y[oc*hw+oy*g.wo+ox : oc*hw+oy*g.wo+ox+n]
					if bias == nil {
						copy(dst, src)
						continue
					}
					v := bias[oc]
					for j, s := range src {
						dst[j] = s + v
					}
				}
			}
			q = end
		}
	}
}

// wGradImageDirect is wGradImage on the direct path: it overwrites dwt
// (k·k·cPad × oPad, rows in (ky, kx, c) order, cPad = C rounded up to 6)
// with col(x)·dYᵀ over the padded-width positions (dY taken as 0 on the
// dropped columns; the caller uses it only when x is finite, since the
// dropped columns' inputs are multiplied by 0). xp is scratch of
// directPadLen(cPad) floats, bp of oPad·convKP.
func (g *convGeom) wGradImageDirect(x, gy, dwt, xp, bp []float32) {
	wp, plane := g.padDims()
	g.padInto(x, xp)
	hw := g.ho * g.wo
	cPad := (g.c + gemmMR - 1) / gemmMR * gemmMR
	oPad := (g.o + gemmNR - 1) / gemmNR * gemmNR
	qn := g.ho * wp
	for q0 := 0; q0 < qn; q0 += convKP {
		np := min(convKP, qn-q0)
		// B = dYᵀ over positions q0..q0+np, strips of 16 channels
		for s := 0; s < oPad/gemmNR; s++ {
			strip := bp[s*np*gemmNR : (s+1)*np*gemmNR]
			nc := min(gemmNR, g.o-s*gemmNR)
			clear(strip)
			for q := q0; q < q0+np; {
				oy, ox := q/wp, q%wp
				end := min(q0+np, (oy+1)*wp)
				if ox < g.wo {
					n := min(end, oy*wp+g.wo) - q
					for j := 0; j < nc; j++ {
						src := gy[(s*gemmNR+j)*hw+oy*g.wo+ox : (s*gemmNR+j)*hw+oy*g.wo+ox+n]
						d := strip[(q-q0)*gemmNR+j:]
						for p, v := range src {
							d[p*gemmNR] = v
						}
					}
				}
				q = end
			}
		}
		add := 1
		if q0 == 0 {
			add = 0
		}
		for t := 0; t < g.k*g.k; t++ {
			toff := (t/g.k)*g.d*wp + (t%g.k)*g.d + q0
			for c0 := 0; c0 < cPad; c0 += gemmMR {
				a := &xp[c0*plane+toff]
				for s := 0; s < oPad/gemmNR; s++ {
					microKernel(np, a, plane, 1, &bp[s*np*gemmNR], gemmNR, &dwt[(t*cPad+c0)*oPad+s*gemmNR], oPad, add)
				}
			}
		}
	}
}
